#include "registry/database_store.h"

#include <utility>

#include "registry/queries.h"

namespace govesb::registry::internal {
namespace {

RegistryOptions UsageOptions(const Clock* clock) {
  RegistryOptions options;
  options.clock = clock;
  return options;
}

}  // namespace

Result<RegistryRows> ReadRegistryRows(store::Database& db) {
  RegistryRows rows;
  // One read transaction: all tables as of the same commit.
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn,
                          store::Transaction::Begin(db, store::TransactionMode::kDeferred));
  GOVESB_ASSIGN_OR_RETURN(rows.institutions, SelectInstitutions(db));
  GOVESB_ASSIGN_OR_RETURN(rows.systems, SelectSystems(db));
  GOVESB_ASSIGN_OR_RETURN(rows.apis, SelectApis(db, ApiDetail::kRequestPath));
  GOVESB_ASSIGN_OR_RETURN(rows.grants, SelectGrants(db));
  GOVESB_ASSIGN_OR_RETURN(rows.topics, SelectTopics(db));
  GOVESB_ASSIGN_OR_RETURN(rows.subscriptions, SelectSubscriptions(db));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return rows;
}

DatabaseRegistryStore::DatabaseRegistryStore(std::unique_ptr<store::Database> owned,
                                             store::Database* borrowed, const Clock* clock)
    : owned_(std::move(owned)),
      db_(owned_ != nullptr ? *owned_ : *borrowed),
      registry_(db_, UsageOptions(clock)) {}

Result<RegistryRows> DatabaseRegistryStore::ReadSnapshotRows() { return ReadRegistryRows(db_); }

Status DatabaseRegistryStore::RecordSignatureUsage(const std::vector<SignatureUsage>& increments) {
  return registry_.RecordSignatureUsage(increments);
}

}  // namespace govesb::registry::internal
