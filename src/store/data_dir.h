#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/result.h"
#include "crypto/key_ring.h"
#include "crypto/keys.h"
#include "store/database.h"

namespace govesb::store {

struct DataDirOptions {
  std::string path = "./govesb-data";
  // Curve of the bus signing key when it is generated. An existing key keeps its own curve.
  crypto::Curve key_curve = crypto::Curve::kSecp256k1;
  // false: the directory and its key files must already exist; nothing is created.
  bool create = true;
};

// The bus's data directory and the secrets kept in it:
//
//   DIR/                     0700
//     format                 the layout's version (data_dir_format.h)
//     govesb.db              SQLite database (registry, later queues and evidence) + -wal/-shm
//     keys/                  0700
//       esb-keys.json        the bus's signing keys (key_ring_file.h): the one it signs with,
//                            a staged one, earlier ones; 0600 (before format 2: the one key
//                            in esb-private-key.b64)
//       token-secret         32 random bytes as base64, the access-token MAC key, 0600
//     tls/                   0700, TLS material (owned by the server module)
//
// Open() first checks the directory's format version (a newer one is refused and left as it
// is, an older one migrated: UpgradeDataDir), then creates what is missing (with `create`) and
// loads the keys; files are written
// atomically (temporary file, fsync, link into place), so a crash never leaves half a key and
// two processes opening a fresh directory at once end up with the same key. Keys are never
// logged. A DataDir is an immutable value once opened: thread-safe, cheap to copy.
class DataDir {
 public:
  static Result<DataDir> Open(const DataDirOptions& options);

  const std::string& path() const { return path_; }
  std::string database_path() const { return path_ + "/govesb.db"; }
  std::string keys_dir() const { return path_ + "/keys"; }
  std::string tls_dir() const { return path_ + "/tls"; }

  // Opens a connection to govesb.db (creating the file if needed). Schemas are the business
  // of the modules that own them (registry::Registry::Migrate ...).
  Result<std::unique_ptr<Database>> OpenDatabase(const DatabaseOptions& options = {}) const;

  // The key the bus signed with when the directory was opened (the key ring's signing key then).
  const crypto::PrivateKey& bus_key() const { return bus_key_; }
  // The key ring as it was when the directory was opened.
  const crypto::KeyRing& key_ring() const { return key_ring_; }
  std::string key_ring_path() const;
  // The key ring as it is on disk now (a running bus reads it again after a rotation).
  Result<crypto::KeyRing> ReadKeyRing() const;
  // Reads the key ring, gives it to `change` and writes what it returns, atomically, under an
  // exclusive lock on keys/ (two rotations at once are one after the other). Returns the ring
  // written; nothing is written when `change` fails.
  Result<crypto::KeyRing> UpdateKeyRing(
      const std::function<Result<crypto::KeyRing>(const crypto::KeyRing&)>& change) const;
  // Raw bytes (not base64). Secret: never log it.
  const std::string& token_secret() const { return token_secret_; }
  // The AES-256 key (32 raw bytes) that encrypts the bodies the evidence log keeps (APIs with
  // store_bodies). "" when the directory was opened without `create` and has none yet (a
  // data directory from before the key existed, not served since). Secret: never log it.
  const std::string& evidence_key() const { return evidence_key_; }

 private:
  DataDir(std::string path, crypto::KeyRing key_ring, crypto::PrivateKey bus_key,
          std::string token_secret, std::string evidence_key)
      : path_(std::move(path)),
        key_ring_(std::move(key_ring)),
        bus_key_(std::move(bus_key)),
        token_secret_(std::move(token_secret)),
        evidence_key_(std::move(evidence_key)) {}

  std::string path_;
  crypto::KeyRing key_ring_;
  crypto::PrivateKey bus_key_;
  std::string token_secret_;
  std::string evidence_key_;
};

// Reads the small secret file at `path`; when it does not exist and `create` is set, first
// writes `generate()` there (mode 0600, atomically: a crash never leaves half of it, and of two
// processes creating it at once both end up with the same content). kNotFound when missing and
// not `create`. The content is returned, never logged.
Result<std::string> LoadOrCreateSecretFile(const std::string& path, bool create,
                                           const std::function<Result<std::string>()>& generate);

}  // namespace govesb::store
