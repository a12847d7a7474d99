#include "registry/database_store.h"

#include <optional>
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

Result<int64_t> ReadRegistryVersion(store::Database& db) {
  auto read = [&db]() -> Result<std::optional<int64_t>> {
    GOVESB_ASSIGN_OR_RETURN(store::Statement stmt,
                            db.Prepare("SELECT version FROM registry_version WHERE id = 1"));
    GOVESB_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<int64_t>();
    return std::optional<int64_t>(stmt.ColumnInt64(0));
  };
  Result<std::optional<int64_t>> version = read();
  if (!version.ok()) {
    // Most likely "no such table": a database this bus's migrations never ran on.
    return Status(version.status().code(),
                  "cannot read the registry's change counter (registry_version): " +
                      version.status().message());
  }
  if (!version->has_value()) {
    return FailedPrecondition(
        "the registry's change counter (registry_version) has no row: the database was not "
        "migrated by this bus");
  }
  return **version;
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
