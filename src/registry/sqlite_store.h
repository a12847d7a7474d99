#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "registry/database_store.h"
#include "registry/store.h"
#include "store/database.h"

namespace govesb::registry {

// The embedded adapter of RegistryStore: the registry tables of a SQLite database (created by
// Registry::Migrate).
//
// - ReadSnapshotRows: one deferred (read) transaction over the six tables.
// - ChangeVersion: PRAGMA data_version of this store's connection. It moves on every commit
//   made by another connection to the file (any table: spurious moves are frequent, a reload
//   per poll at most) and never on this connection's own commits, which is why each watcher
//   needs a store of its own.
// - RecordSignatureUsage: Registry::RecordSignatureUsage on this connection ("now" from the
//   clock given).
//
// Like its Database: one thread at a time.
class SqliteRegistryStore final : public internal::DatabaseRegistryStore {
 public:
  // Opens a connection of its own to the database file at `path`, which must exist (it is not
  // created). Whether it is migrated shows at the first read. `clock` (not owned; the system
  // clock when null) must outlive the store.
  static Result<std::unique_ptr<SqliteRegistryStore>> Open(const std::string& path,
                                                           const Clock* clock = nullptr);
  // Over a connection the caller owns and keeps open for as long as the store lives.
  explicit SqliteRegistryStore(store::Database& db, const Clock* clock = nullptr);

  Result<int64_t> ChangeVersion() override;

 private:
  SqliteRegistryStore(std::unique_ptr<store::Database> owned, const Clock* clock);
};

}  // namespace govesb::registry
