#pragma once

#include <memory>
#include <optional>
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
// - ChangeVersion: the registry's own change counter, `registry_version` (migration 13), bumped
//   by triggers on the six tables in every writer's transaction, so it moves only when the
//   registry changed: the evidence log's and the delivery queue's commits to the same file do
//   not cause reloads. Reading it is one query; to spare even that at most polls, the store
//   first asks two numbers of its connection that cost no query of the tables, PRAGMA
//   data_version (moves when another connection committed anything) and the connection's
//   total changes (moves when this connection wrote anything), and reads the counter only when
//   one of them moved since its last call (and at the first). So commits through this
//   connection are seen too. Must be called outside a transaction on its connection
//   (kFailedPrecondition otherwise: a change that may still roll back must not be counted). A
//   database without the counter (not migrated to registry schema 13) is an error.
// - RecordSignatureUsage: Registry::RecordSignatureUsage on this connection ("now" from the
//   clock given); it writes signature_usage only, so it never moves ChangeVersion.
//
// Like its Database: one thread at a time, which is why each watcher has a store of its own.
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

  // What the last successful ChangeVersion saw and returned.
  struct Seen {
    int64_t data_version = 0;   // PRAGMA data_version
    int64_t total_changes = 0;  // Database::TotalChanges
    int64_t counter = 0;        // registry_version.version
    int64_t returned = 0;       // what ChangeVersion returned
  };
  std::optional<Seen> seen_;  // none before the first successful call
};

}  // namespace govesb::registry
