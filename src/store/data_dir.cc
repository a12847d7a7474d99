#include "store/data_dir.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "base/encoding.h"
#include "crypto/primitives.h"
#include "store/data_dir_format.h"
#include "store/key_ring_file.h"
#include "store/small_files.h"

namespace govesb::store {
namespace {

constexpr char kTokenSecretFile[] = "token-secret";
constexpr size_t kTokenSecretBytes = 32;
constexpr char kEvidenceKeyFile[] = "evidence-body-key";
constexpr size_t kEvidenceKeyBytes = 32;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ErrnoText(int error) { return std::generic_category().message(error); }

std::string_view TrimWhitespace(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

// Makes `dir` exist as a directory. A directory we create gets mode 0700 (parents get the
// default mode); an existing one is left alone.
Status EnsureDirectory(const std::string& dir, bool create) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return FailedPrecondition(dir + " exists and is not a directory");
    return Status::Ok();
  }
  if (errno != ENOENT) return FailedPrecondition("cannot access " + dir + ": " + ErrnoText(errno));
  if (!create) return NotFound("directory " + dir + " does not exist");
  std::filesystem::path parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return FailedPrecondition("cannot create " + parent.string() + ": " + ec.message());
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return SmallFileError("cannot create directory " + dir, dir, errno);
  }
  // mkdir honours the umask, which may have removed owner bits.
  if (::chmod(dir.c_str(), 0700) != 0) {
    return FailedPrecondition("cannot chmod " + dir + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

// Reads `dir/name`; when it does not exist and `create` is set, writes `generate()` there
// first. Returns the file's content (whoever wrote it).
Result<std::string> LoadOrCreate(const std::string& dir, const std::string& name, bool create,
                                 const std::function<Result<std::string>()>& generate) {
  const std::string path = dir + "/" + name;
  GOVESB_ASSIGN_OR_RETURN(std::optional<std::string> existing, ReadSmallFile(path));
  if (existing.has_value()) return std::move(*existing);
  if (!create) return NotFound(path + " does not exist");
  GOVESB_ASSIGN_OR_RETURN(std::string fresh, generate());
  Status written = WriteNewFileAtomically(dir, name, fresh);
  if (written.code() == StatusCode::kAlreadyExists) {
    // Lost a race with another process opening the same fresh directory: use its file.
    GOVESB_ASSIGN_OR_RETURN(existing, ReadSmallFile(path));
    if (!existing.has_value()) return FailedPrecondition(path + " vanished while being created");
    return std::move(*existing);
  }
  GOVESB_RETURN_IF_ERROR(written);
  return fresh;
}

std::string StripTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

Result<std::string> LoadOrCreateSecretFile(const std::string& path, bool create,
                                           const std::function<Result<std::string>()>& generate) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty()) return InvalidArgument("a file name is needed, not the directory " + path);
  return LoadOrCreate(dir.empty() ? "/" : dir, name, create, generate);
}

Result<DataDir> DataDir::Open(const DataDirOptions& options) {
  if (options.path.empty()) return InvalidArgument("the data directory path is empty");
  std::string path = StripTrailingSlashes(options.path);
  GOVESB_RETURN_IF_ERROR(EnsureDirectory(path, options.create));
  const std::string keys_dir = path + "/keys";
  // Without `create`, a directory that holds no bus keys is not a bus's directory (say, the
  // working directory given by mistake): refused before anything, even a format file, is
  // written into it.
  if (!options.create) GOVESB_RETURN_IF_ERROR(EnsureDirectory(keys_dir, false));
  // Before anything else is read or made in it: a directory of a newer format is refused
  // untouched, an older one brought to this release's format (data_dir_format.h).
  GOVESB_RETURN_IF_ERROR(UpgradeDataDir(path, options.create).status());
  GOVESB_RETURN_IF_ERROR(EnsureDirectory(keys_dir, options.create));
  if (options.create) GOVESB_RETURN_IF_ERROR(EnsureDirectory(path + "/tls", true));

  const crypto::Curve curve = options.key_curve;
  GOVESB_ASSIGN_OR_RETURN(
      std::string ring_text,
      LoadOrCreate(keys_dir, kKeyRingFile, options.create, [curve]() -> Result<std::string> {
        GOVESB_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::Generate(curve));
        const int64_t now = NowMs();
        return KeyRingText(crypto::KeyRing::Single(std::move(key), now, now));
      }));
  GOVESB_ASSIGN_OR_RETURN(crypto::KeyRing ring,
                          ParseKeyRingText(ring_text, keys_dir + "/" + kKeyRingFile));
  crypto::PrivateKey bus_key = ring.Signing(NowMs()).private_key();

  GOVESB_ASSIGN_OR_RETURN(
      std::string secret_text,
      LoadOrCreate(keys_dir, kTokenSecretFile, options.create, []() -> Result<std::string> {
        return Base64Encode(crypto::RandomBytes(kTokenSecretBytes)) + "\n";
      }));
  std::optional<std::string> token_secret = Base64Decode(TrimWhitespace(secret_text));
  if (!token_secret.has_value() || token_secret->size() < kTokenSecretBytes) {
    return FailedPrecondition("the token secret file " + keys_dir + "/" + kTokenSecretFile +
                              " is corrupt (expected base64 of at least " +
                              std::to_string(kTokenSecretBytes) + " bytes)");
  }
  // The evidence body key came later than the others: a data directory opened without
  // `create` may not have it.
  Result<std::string> body_key_text =
      LoadOrCreate(keys_dir, kEvidenceKeyFile, options.create, []() -> Result<std::string> {
        return Base64Encode(crypto::RandomBytes(kEvidenceKeyBytes)) + "\n";
      });
  std::string evidence_key;
  if (body_key_text.ok()) {
    std::optional<std::string> decoded = Base64Decode(TrimWhitespace(*body_key_text));
    if (!decoded.has_value() || decoded->size() != kEvidenceKeyBytes) {
      return FailedPrecondition("the evidence body key file " + keys_dir + "/" + kEvidenceKeyFile +
                                " is corrupt (expected base64 of " +
                                std::to_string(kEvidenceKeyBytes) +
                                " bytes); restore it from a backup");
    }
    evidence_key = std::move(*decoded);
  } else if (body_key_text.status().code() != StatusCode::kNotFound) {
    return body_key_text.status();
  }
  return DataDir(std::move(path), std::move(ring), std::move(bus_key), std::move(*token_secret),
                 std::move(evidence_key));
}

std::string DataDir::key_ring_path() const { return keys_dir() + "/" + kKeyRingFile; }

Result<crypto::KeyRing> DataDir::ReadKeyRing() const {
  GOVESB_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadSmallFile(key_ring_path()));
  if (!text.has_value()) return FailedPrecondition(key_ring_path() + " is missing");
  return ParseKeyRingText(*text, key_ring_path());
}

Result<crypto::KeyRing> DataDir::UpdateKeyRing(
    const std::function<Result<crypto::KeyRing>(const crypto::KeyRing&)>& change) const {
  GOVESB_ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Take(keys_dir()));
  GOVESB_ASSIGN_OR_RETURN(crypto::KeyRing ring, ReadKeyRing());
  GOVESB_ASSIGN_OR_RETURN(crypto::KeyRing changed, change(ring));
  GOVESB_RETURN_IF_ERROR(ReplaceFileAtomically(keys_dir(), kKeyRingFile, KeyRingText(changed)));
  return changed;
}

Result<std::unique_ptr<Database>> DataDir::OpenDatabase(const DatabaseOptions& options) const {
  return Database::Open(database_path(), options);
}

}  // namespace govesb::store
