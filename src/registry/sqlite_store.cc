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

Result<int64_t> SqliteRegistryStore::ChangeVersion() { return db().DataVersion(); }

Result<std::shared_ptr<const Snapshot>> Snapshot::Load(store::Database& db,
                                                       const Snapshot* previous) {
  SqliteRegistryStore store(db);
  return Load(store, previous);
}

}  // namespace govesb::registry
