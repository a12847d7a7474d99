#include "store/data_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "base/file_size_limit.h"
#include "base/temp_dir.h"

namespace govesb::store {
namespace {

using ::govesb::TempDir;

unsigned Mode(const std::string& path) {
  struct stat st {};
  GOVESB_CHECK(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

TEST(DataDir, CreatesLayoutWithPrivateModes) {
  TempDir tmp;
  const std::string path = tmp.path() + "/nested/data";
  auto dir = DataDir::Open({.path = path});
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(dir->path(), path);
  EXPECT_EQ(dir->database_path(), path + "/govesb.db");
  EXPECT_EQ(dir->tls_dir(), path + "/tls");
  EXPECT_EQ(Mode(path), 0700u);
  EXPECT_EQ(Mode(path + "/keys"), 0700u);
  EXPECT_EQ(Mode(path + "/tls"), 0700u);
  EXPECT_EQ(Mode(path + "/keys/esb-keys.json"), 0600u);
  EXPECT_EQ(Mode(path + "/keys/token-secret"), 0600u);
  EXPECT_EQ(Mode(path + "/keys/evidence-body-key"), 0600u);
  EXPECT_EQ(dir->bus_key().curve(), crypto::Curve::kSecp256k1);
  EXPECT_EQ(dir->token_secret().size(), 32u);
  EXPECT_EQ(dir->evidence_key().size(), 32u);
  EXPECT_NE(dir->evidence_key(), dir->token_secret());
  // Only the final files remain: no temporaries.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path + "/keys")) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 3);

  // Opened again: the same keys.
  auto again = DataDir::Open({.path = path, .create = false});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->evidence_key(), dir->evidence_key());

  auto db = dir->OpenDatabase();
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(path + "/govesb.db"));
}

TEST(DataDir, ADirectoryFromBeforeTheEvidenceKeyOpensWithoutOne) {
  TempDir tmp;
  const std::string path = tmp.path() + "/d";
  ASSERT_TRUE(DataDir::Open({.path = path}).ok());
  std::filesystem::remove(path + "/keys/evidence-body-key");
  auto read_only = DataDir::Open({.path = path, .create = false});
  ASSERT_TRUE(read_only.ok()) << read_only.status().ToString();
  EXPECT_TRUE(read_only->evidence_key().empty()) << "not made without create";
  auto served = DataDir::Open({.path = path});
  ASSERT_TRUE(served.ok());
  EXPECT_EQ(served->evidence_key().size(), 32u) << "made when the bus starts";
}

TEST(DataDir, ANewDirectoryHasARingOfOneSigningKey) {
  TempDir tmp;
  auto dir = DataDir::Open({.path = tmp.path() + "/d"});
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  ASSERT_EQ(dir->key_ring().keys().size(), 1u);
  const crypto::RingKey& only = dir->key_ring().keys()[0];
  EXPECT_EQ(only.private_key().Pkcs8Base64(), dir->bus_key().Pkcs8Base64());
  EXPECT_TRUE(only.valid_from_ms.has_value());
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/d/keys/esb-private-key.b64"));
  auto read = dir->ReadKeyRing();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->keys()[0].id(), only.id());
}

TEST(DataDir, UpdateKeyRingWritesTheChangeAndNothingOnFailure) {
  TempDir tmp;
  auto dir = DataDir::Open({.path = tmp.path() + "/d"});
  ASSERT_TRUE(dir.ok());
  const int64_t now = *dir->key_ring().keys()[0].valid_from_ms + 1000;
  crypto::PrivateKey next = *crypto::PrivateKey::Generate(crypto::Curve::kP256);
  auto staged =
      dir->UpdateKeyRing([&](const crypto::KeyRing& ring) { return ring.Stage(next, now, 1000); });
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  EXPECT_EQ(dir->ReadKeyRing()->keys().size(), 2u);
  auto refused = dir->UpdateKeyRing([&](const crypto::KeyRing& ring) {
    return ring.Stage(*crypto::PrivateKey::Generate(crypto::Curve::kP256), now, 0);
  });
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(dir->ReadKeyRing()->keys().size(), 2u);
  // Opened again, the staged key is in the ring and the bus key is still the first one.
  auto again = DataDir::Open({.path = tmp.path() + "/d", .create = false});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->key_ring().keys().size(), 2u);
  EXPECT_EQ(again->bus_key().Pkcs8Base64(), dir->bus_key().Pkcs8Base64());
}

TEST(DataDir, ReopenKeepsKeysAndTheirCurve) {
  TempDir tmp;
  const std::string path = tmp.path() + "/d";
  auto first = DataDir::Open({.path = path, .key_curve = crypto::Curve::kP256});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->bus_key().curve(), crypto::Curve::kP256);

  // A different requested curve does not replace an existing key.
  auto second = DataDir::Open({.path = path + "/", .key_curve = crypto::Curve::kSecp256k1});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->path(), path);
  EXPECT_EQ(second->bus_key().curve(), crypto::Curve::kP256);
  EXPECT_EQ(second->bus_key().Pkcs8Base64(), first->bus_key().Pkcs8Base64());
  EXPECT_EQ(second->token_secret(), first->token_secret());
}

TEST(DataDir, DifferentDirectoriesGetDifferentKeys) {
  TempDir tmp;
  auto a = DataDir::Open({.path = tmp.path() + "/a"});
  auto b = DataDir::Open({.path = tmp.path() + "/b"});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->bus_key().Pkcs8Base64(), b->bus_key().Pkcs8Base64());
  EXPECT_NE(a->token_secret(), b->token_secret());
}

TEST(DataDir, CorruptKeyFileIsAClearError) {
  TempDir tmp;
  const std::string path = tmp.path() + "/d";
  ASSERT_TRUE(DataDir::Open({.path = path}).ok());
  WriteFile(path + "/keys/esb-keys.json", "{\"format\":\"govesb-esb-keys\",\"version\":1}\n");
  auto dir = DataDir::Open({.path = path});
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(dir.status().message().find("esb-keys.json is not a readable key ring"),
            std::string::npos)
      << dir.status().message();

  WriteFile(path + "/keys/esb-keys.json", "");
  EXPECT_FALSE(DataDir::Open({.path = path}).ok());
}

TEST(DataDir, CorruptTokenSecretIsAClearError) {
  TempDir tmp;
  const std::string path = tmp.path() + "/d";
  ASSERT_TRUE(DataDir::Open({.path = path}).ok());
  WriteFile(path + "/keys/token-secret", "c2hvcnQ=\n");  // "short"
  auto dir = DataDir::Open({.path = path});
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("token-secret is corrupt"), std::string::npos)
      << dir.status().message();
}

TEST(DataDir, WithoutCreateNothingIsCreated) {
  TempDir tmp;
  const std::string path = tmp.path() + "/missing";
  auto dir = DataDir::Open({.path = path, .create = false});
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(path));

  ASSERT_TRUE(DataDir::Open({.path = path}).ok());
  EXPECT_TRUE(DataDir::Open({.path = path, .create = false}).ok());
  std::filesystem::remove(path + "/keys/token-secret");
  auto no_secret = DataDir::Open({.path = path, .create = false});
  ASSERT_FALSE(no_secret.ok());
  EXPECT_EQ(no_secret.status().code(), StatusCode::kNotFound);
}

TEST(DataDir, WithoutCreateSomeOtherDirectoryIsRefusedUntouched) {
  // `govesb admin` pointed by mistake at a directory that is not a bus's (a home directory
  // with files in it): refused, and not even a format file is written there.
  TempDir tmp;
  const std::string path = tmp.path() + "/home";
  std::filesystem::create_directories(path);
  WriteFile(path + "/notes.txt", "x");
  auto dir = DataDir::Open({.path = path, .create = false});
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), StatusCode::kNotFound);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"notes.txt"});
}

TEST(DataDir, PathThatIsAFileIsAnError) {
  TempDir tmp;
  const std::string path = tmp.path() + "/file";
  WriteFile(path, "x");
  auto dir = DataDir::Open({.path = path});
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("not a directory"), std::string::npos);
}

TEST(DataDir, AFullDiskOnFirstStartSaysSo) {
  TempDir tmp;
  const std::string path = tmp.path() + "/data";
  std::optional<Result<DataDir>> opened;
  {
    FileSizeLimit full(0);  // no file can grow: as on a full disk
    opened.emplace(DataDir::Open({.path = path}));
  }
  ASSERT_FALSE(opened->ok());
  const Status& status = opened->status();
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << status.message();
  // The first file written is the format file (data_dir_format.h), named in the message.
  EXPECT_NE(status.message().find("the disk holding " + path + "/format is full"),
            std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("is full; free some space and try again"), std::string::npos)
      << status.message();
  EXPECT_TRUE(DataDir::Open({.path = path}).ok()) << "with room again it opens";
}

}  // namespace
}  // namespace govesb::store
