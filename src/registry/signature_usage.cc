// Registry's signature usage counts (table signature_usage, migration 5): written by the bus in
// batches, read by operators.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "registry/queries.h"
#include "registry/registry.h"
#include "registry/validation.h"

namespace govesb::registry {
namespace {

// At most this many increments per RecordSignatureUsage call, and this much per increment.
constexpr size_t kMaxUsageIncrements = 10000;
constexpr int64_t kMaxUsageCount = int64_t{1} << 40;

}  // namespace

Status Registry::RecordSignatureUsage(const std::vector<SignatureUsage>& increments) {
  if (increments.size() > kMaxUsageIncrements) {
    return InvalidArgument("too many signature usage increments in one batch (" +
                           std::to_string(increments.size()) + ", at most " +
                           std::to_string(kMaxUsageIncrements) + ")");
  }
  const int64_t now = Now();
  for (const SignatureUsage& increment : increments) {
    GOVESB_RETURN_IF_ERROR(ValidateSignatureVariantName(increment.variant));
    if (increment.count < 1 || increment.count > kMaxUsageCount) {
      return InvalidArgument("signature usage count " + std::to_string(increment.count) +
                             " is out of range (1.." + std::to_string(kMaxUsageCount) + ")");
    }
    const int64_t first = increment.first_at != 0 ? increment.first_at : now;
    const int64_t last = increment.last_at != 0 ? increment.last_at : now;
    if (first < 0 || last < first) {
      return InvalidArgument("signature usage times are not in order (first_at " +
                             std::to_string(first) + ", last_at " + std::to_string(last) + ")");
    }
  }
  if (increments.empty()) return Status::Ok();

  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(store::Statement exists,
                          db_.Prepare("SELECT 1 FROM systems WHERE id = ?"));
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement upsert,
      db_.Prepare("INSERT INTO signature_usage(system_id, variant, count, first_at, last_at)"
                  " VALUES(?, ?, ?, ?, ?) ON CONFLICT(system_id, variant) DO UPDATE SET"
                  // Qualified names and CASE rather than 2-argument min/max: the same text runs
                  // on PostgreSQL.
                  " count = signature_usage.count + excluded.count,"
                  " first_at = CASE WHEN excluded.first_at < signature_usage.first_at"
                  " THEN excluded.first_at ELSE signature_usage.first_at END,"
                  " last_at = CASE WHEN excluded.last_at > signature_usage.last_at"
                  " THEN excluded.last_at ELSE signature_usage.last_at END"));
  for (const SignatureUsage& increment : increments) {
    GOVESB_RETURN_IF_ERROR(exists.Reset());
    GOVESB_RETURN_IF_ERROR(exists.Bind(1, increment.system_id));
    GOVESB_ASSIGN_OR_RETURN(bool found, exists.Step());
    if (!found) {
      return NotFound("system with id " + std::to_string(increment.system_id) + " not found");
    }
    GOVESB_RETURN_IF_ERROR(upsert.Reset());
    GOVESB_RETURN_IF_ERROR(upsert.Bind(1, increment.system_id));
    GOVESB_RETURN_IF_ERROR(upsert.Bind(2, increment.variant));
    GOVESB_RETURN_IF_ERROR(upsert.Bind(3, increment.count));
    GOVESB_RETURN_IF_ERROR(upsert.Bind(4, increment.first_at != 0 ? increment.first_at : now));
    GOVESB_RETURN_IF_ERROR(upsert.Bind(5, increment.last_at != 0 ? increment.last_at : now));
    GOVESB_RETURN_IF_ERROR(upsert.Run());
  }
  // What a system's telling requests were signed in: the latest form of this batch becomes the
  // form the bus learned for it (System::serialisation_learned).
  std::vector<const SignatureUsage*> latest_form;
  for (const SignatureUsage& increment : increments) {
    if (!increment.variant.starts_with(kSerialisationUsagePrefix)) continue;
    auto same = std::find_if(latest_form.begin(), latest_form.end(), [&](const SignatureUsage* u) {
      return u->system_id == increment.system_id;
    });
    if (same == latest_form.end()) {
      latest_form.push_back(&increment);
    } else if (increment.last_at >= (*same)->last_at) {
      *same = &increment;
    }
  }
  if (!latest_form.empty()) {
    GOVESB_ASSIGN_OR_RETURN(store::Statement learn,
                            db_.Prepare("UPDATE systems SET serialisation_learned = ? WHERE id = ?"
                                        " AND serialisation_learned <> ?"));
    for (const SignatureUsage* u : latest_form) {
      const std::string form = u->variant.substr(kSerialisationUsagePrefix.size());
      if (form != kSerialisationJackson && form != kSerialisationNode) continue;
      GOVESB_RETURN_IF_ERROR(learn.Reset());
      GOVESB_RETURN_IF_ERROR(learn.Bind(1, form));
      GOVESB_RETURN_IF_ERROR(learn.Bind(2, u->system_id));
      GOVESB_RETURN_IF_ERROR(learn.Bind(3, form));
      GOVESB_RETURN_IF_ERROR(learn.Run());
    }
  }
  return txn.Commit();
}

Result<std::vector<SignatureUsage>> Registry::ListSignatureUsage(std::string_view client_id) {
  if (client_id.empty()) return internal::SelectSignatureUsage(db_);
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn,
                          store::Transaction::Begin(db_, store::TransactionMode::kDeferred));
  GOVESB_ASSIGN_OR_RETURN(std::optional<System> system, internal::FindSystem(db_, client_id));
  if (!system.has_value()) return NotFound("system '" + std::string(client_id) + "' not found");
  GOVESB_ASSIGN_OR_RETURN(std::vector<SignatureUsage> usage,
                          internal::SelectSignatureUsage(db_, system->id));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return usage;
}

}  // namespace govesb::registry
