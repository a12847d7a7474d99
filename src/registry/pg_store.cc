#include "registry/pg_store.h"

#include <utility>

namespace govesb::registry {

Result<std::unique_ptr<PgRegistryStore>> PgRegistryStore::Open(const std::string& conninfo,
                                                               const Clock* clock) {
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db,
                          store::Database::OpenPostgres(conninfo));
  return std::unique_ptr<PgRegistryStore>(new PgRegistryStore(std::move(db), clock));
}

PgRegistryStore::PgRegistryStore(store::Database& db, const Clock* clock)
    : DatabaseRegistryStore(nullptr, &db, clock) {
  GOVESB_CHECK(db.backend() == store::Backend::kPostgres);
}

PgRegistryStore::PgRegistryStore(std::unique_ptr<store::Database> owned, const Clock* clock)
    : DatabaseRegistryStore(std::move(owned), nullptr, clock) {}

Result<int64_t> PgRegistryStore::ChangeVersion() {
  // In a (read) transaction although one statement would do: Begin re-opens a lost connection,
  // and the watcher polls this alone until it moves, so without it a store would stay broken.
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn,
                          store::Transaction::Begin(db(), store::TransactionMode::kDeferred));
  GOVESB_ASSIGN_OR_RETURN(const int64_t version, internal::ReadRegistryVersion(db()));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return version;
}

}  // namespace govesb::registry
