#pragma once

// What the RegistryStore adapters over a store::Database share (SqliteRegistryStore,
// PgRegistryStore): the snapshot read and the signature usage writes run the same queries
// (queries.h) and the same Registry code on either backend; both read the same change counter
// (ReadRegistryVersion), each deciding when to ask it in its ChangeVersion.
// Internal to the registry module.

#include <memory>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "registry/registry.h"
#include "registry/store.h"
#include "store/database.h"

namespace govesb::registry::internal {

// All rows a Snapshot is built from, in one kDeferred transaction: one snapshot of the
// database (SQLite: a read transaction; PostgreSQL: REPEATABLE READ).
Result<RegistryRows> ReadRegistryRows(store::Database& db);

// The registry's change counter: `registry_version`, bumped by triggers on the six tables
// ReadRegistryRows reads (registry migration 13 on SQLite, 1 on PostgreSQL). An error, never a
// number, when the table or its row is missing (a database not migrated by this bus).
Result<int64_t> ReadRegistryVersion(store::Database& db);

class DatabaseRegistryStore : public RegistryStore {
 public:
  Result<RegistryRows> ReadSnapshotRows() override;
  // Registry::RecordSignatureUsage on this store's connection ("now" from the clock given).
  Status RecordSignatureUsage(const std::vector<SignatureUsage>& increments) override;

 protected:
  // Over `owned`, or over `borrowed` (which the caller keeps open) when `owned` is null.
  // `clock` may be null (the system clock).
  DatabaseRegistryStore(std::unique_ptr<store::Database> owned, store::Database* borrowed,
                        const Clock* clock);
  store::Database& db() { return db_; }

 private:
  std::unique_ptr<store::Database> owned_;  // null when the caller owns the connection
  store::Database& db_;
  Registry registry_;  // for RecordSignatureUsage; works on db_
};

}  // namespace govesb::registry::internal
