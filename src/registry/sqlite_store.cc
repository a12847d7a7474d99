#include "registry/sqlite_store.h"

#include <utility>

#include "registry/queries.h"
#include "registry/snapshot.h"

namespace govesb::registry {
namespace {

RegistryOptions UsageOptions(const Clock* clock) {
  RegistryOptions options;
  options.clock = clock;
  return options;
}

}  // namespace

Result<std::unique_ptr<SqliteRegistryStore>> SqliteRegistryStore::Open(const std::string& path,
                                                                       const Clock* clock) {
  store::DatabaseOptions options;
  options.create = false;
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db,
                          store::Database::Open(path, options));
  return std::unique_ptr<SqliteRegistryStore>(new SqliteRegistryStore(std::move(db), clock));
}

SqliteRegistryStore::SqliteRegistryStore(store::Database& db, const Clock* clock)
    : db_(db), registry_(db_, UsageOptions(clock)) {}

SqliteRegistryStore::SqliteRegistryStore(std::unique_ptr<store::Database> owned, const Clock* clock)
    : owned_(std::move(owned)), db_(*owned_), registry_(db_, UsageOptions(clock)) {}

Result<RegistryRows> SqliteRegistryStore::ReadSnapshotRows() {
  RegistryRows rows;
  // One read transaction: all tables as of the same commit.
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn,
                          store::Transaction::Begin(db_, store::TransactionMode::kDeferred));
  GOVESB_ASSIGN_OR_RETURN(rows.institutions, internal::SelectInstitutions(db_));
  GOVESB_ASSIGN_OR_RETURN(rows.systems, internal::SelectSystems(db_));
  GOVESB_ASSIGN_OR_RETURN(rows.apis, internal::SelectApis(db_, internal::ApiDetail::kRequestPath));
  GOVESB_ASSIGN_OR_RETURN(rows.grants, internal::SelectGrants(db_));
  GOVESB_ASSIGN_OR_RETURN(rows.topics, internal::SelectTopics(db_));
  GOVESB_ASSIGN_OR_RETURN(rows.subscriptions, internal::SelectSubscriptions(db_));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return rows;
}

Result<int64_t> SqliteRegistryStore::ChangeVersion() { return db_.DataVersion(); }

Status SqliteRegistryStore::RecordSignatureUsage(const std::vector<SignatureUsage>& increments) {
  return registry_.RecordSignatureUsage(increments);
}

Result<std::shared_ptr<const Snapshot>> Snapshot::Load(store::Database& db,
                                                       const Snapshot* previous) {
  SqliteRegistryStore store(db);
  return Load(store, previous);
}

}  // namespace govesb::registry
