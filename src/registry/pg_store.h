#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/result.h"
#include "registry/database_store.h"
#include "registry/store.h"
#include "store/database.h"

namespace govesb::registry {

// The cluster adapter of RegistryStore: the registry tables of a PostgreSQL database (created by
// Registry::Migrate, which picks the PostgreSQL schema there: schema_postgres.h). The same code
// as SqliteRegistryStore (internal::DatabaseRegistryStore) over a PostgreSQL store::Database:
//
// - ReadSnapshotRows: one REPEATABLE READ transaction (store's kDeferred) over the six tables.
// - ChangeVersion: `SELECT version FROM registry_version`, the counter that statement-level
//   triggers on those six tables bump inside every writer's transaction. It moves with every
//   committed statement that wrote one of them (also one that matched no row), from any
//   connection or node, this store's own included; never for other tables. Committed values only
//   grow, so one store never sees it go back.
// - RecordSignatureUsage: Registry::RecordSignatureUsage on this connection (signature_usage has
//   no trigger: it does not move ChangeVersion).
//
// Like its Database: one thread at a time. A lost connection is re-opened at the next call (each
// runs in a store::Transaction, whose Begin reconnects).
class PgRegistryStore final : public internal::DatabaseRegistryStore {
 public:
  // Opens a connection of its own (a libpq connection string or postgresql:// URI). Whether the
  // database is migrated shows at the first read. `clock` (not owned; the system clock when
  // null) must outlive the store.
  static Result<std::unique_ptr<PgRegistryStore>> Open(const std::string& conninfo,
                                                       const Clock* clock = nullptr);
  // Over a PostgreSQL connection the caller owns and keeps open for as long as the store lives
  // (aborts on a SQLite one: a programming error).
  explicit PgRegistryStore(store::Database& db, const Clock* clock = nullptr);

  Result<int64_t> ChangeVersion() override;

 private:
  PgRegistryStore(std::unique_ptr<store::Database> owned, const Clock* clock);
};

}  // namespace govesb::registry
