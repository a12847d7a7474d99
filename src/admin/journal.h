#pragma once

// The record of every change made through the admin service layer: who (account, role,
// institution), from where (address, via), what (action), to which object, and its state
// before and after, as one canonical JSON text (`detail`) and its SHA-256.
//
// A change and its record are written in one transaction (the service layer nests the
// registry's transaction in its own), so there is never one without the other. The bus then
// moves pending records into the hash-chained evidence log (MoveActionsIntoEvidence, a job of
// its group-commit writer: the evidence records and the "evidenced" mark are durable
// together), where each becomes a record of kind "admin": from = the account, to = the object,
// code = the action, body_sha256 = SHA-256 of `detail`. The rows stay, so actions are searched
// here by actor, object and time, and any row whose detail was altered no longer matches the
// hash sealed in the evidence log.

#include <boost/json/value.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "admin/actor.h"
#include "base/result.h"
#include "evidence/log.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::admin {

// Creates or updates the admin tables (component "admin" in schema_versions).
Status MigrateAdminStore(store::Database& db);

struct ActionRecord {
  int64_t id = 0;
  std::string request_id;  // the action's id (32 hex digits), as evidence records have
  int64_t at_ms = 0;
  std::string account;
  std::string role;
  std::string institution;
  std::string address;
  std::string via;
  std::string action;  // e.g. "system.add", "grant.approve"
  std::string object;  // e.g. "system:<client_id>", "api:<code>"
  std::string object_institution;
  std::string detail;         // canonical JSON of all of the above and "before", "after"
  std::string detail_sha256;  // hex
  bool evidenced = false;
};

// What was done. `before` and `after` are the object's state (null when it did not exist / no
// longer exists); they must hold no secret.
struct Change {
  std::string_view action = {};
  std::string_view object = {};
  std::string_view object_institution = {};  // the code of the institution owning it, or ""
  boost::json::value before = nullptr;
  boost::json::value after = nullptr;
};
// Records an action, in the caller's open transaction.
Result<ActionRecord> RecordAction(store::Database& db, const Actor& actor, int64_t at_ms,
                                  const Change& change);

struct ActionFilter {
  std::string account = std::string();
  std::string object = std::string();  // exact, or a prefix ending in ':' ("system:")
  std::string action = std::string();
  // Actions by this institution's accounts or on its objects.
  std::string institution = std::string();
  int64_t from_ms = 0;
  int64_t to_ms = std::numeric_limits<int64_t>::max();
  int64_t before_id = 0;  // paging: only actions older than this id (0: from the newest)
  size_t limit = 100;     // at most 1000
};
// Newest first.
Result<std::vector<ActionRecord>> ListActions(store::Database& db, const ActionFilter& filter);

// The evidence record of an action (kind "admin").
evidence::Record EvidenceRecordOf(const ActionRecord& action);

// For a job of the bus's group-commit writer: appends up to `limit` actions not yet in the
// evidence log to it, oldest first, and marks them evidenced, all in the job's transaction.
// The number moved.
Result<size_t> MoveActionsIntoEvidence(store::WriteContext& ctx, size_t limit = 500);

// Actions not yet in the evidence log.
Result<int64_t> PendingActionCount(store::Database& db);

}  // namespace govesb::admin
