#include "registry/sqlite_store.h"

#include <utility>

#include "registry/snapshot.h"

namespace govesb::registry {

Result<std::unique_ptr<SqliteRegistryStore>> SqliteRegistryStore::Open(const std::string& path,
                                                                       const Clock* clock) {
  store::DatabaseOptions options;
  options.create = false;
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db,
                          store::Database::Open(path, options));
  return std::unique_ptr<SqliteRegistryStore>(new SqliteRegistryStore(std::move(db), clock));
}

SqliteRegistryStore::SqliteRegistryStore(store::Database& db, const Clock* clock)
    : DatabaseRegistryStore(nullptr, &db, clock) {}

SqliteRegistryStore::SqliteRegistryStore(std::unique_ptr<store::Database> owned, const Clock* clock)
    : DatabaseRegistryStore(std::move(owned), nullptr, clock) {}

Result<int64_t> SqliteRegistryStore::ChangeVersion() {
  if (db().InTransaction()) {
    return FailedPrecondition(
        "cannot read the registry's change version inside a transaction on the store's "
        "connection: what that transaction changed may still roll back");
  }
  GOVESB_ASSIGN_OR_RETURN(const int64_t data_version, db().DataVersion());
  const int64_t total_changes = db().TotalChanges();
  if (seen_.has_value() && seen_->data_version == data_version &&
      seen_->total_changes == total_changes) {
    return seen_->returned;  // nothing committed since the last call, here or elsewhere
  }
  // A commit landing after the two numbers above and before this read is counted now, and moves
  // data_version for the next call, which then reads the same counter again: no miss, and no
  // move either.
  GOVESB_ASSIGN_OR_RETURN(const int64_t counter, internal::ReadRegistryVersion(db()));
  int64_t returned = counter;
  if (seen_.has_value()) {
    // The triggers only add to the counter; should it ever go back (edited by hand), the value
    // returned still moves, and forward: values of one store never decrease.
    returned = seen_->returned + (counter >= seen_->counter ? counter - seen_->counter : 1);
  }
  seen_ = Seen{.data_version = data_version,
               .total_changes = total_changes,
               .counter = counter,
               .returned = returned};
  return returned;
}

Result<std::shared_ptr<const Snapshot>> Snapshot::Load(store::Database& db,
                                                       const Snapshot* previous) {
  SqliteRegistryStore store(db);
  return Load(store, previous);
}

}  // namespace govesb::registry
