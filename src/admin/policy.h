#pragma once

// The role policy of the admin service layer, written once (see service.h), and the helper that
// records every change with it (AdminService::Mutate). Internal to the admin module: included by
// the .cc files that implement AdminService.

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "admin/actor.h"
#include "admin/journal.h"
#include "admin/service.h"
#include "base/status.h"

namespace govesb::admin {

inline bool IsOperator(const Actor& a) { return a.role == Role::kOperator; }
inline bool IsAdminOf(const Actor& a, std::string_view institution) {
  return a.role == Role::kInstitutionAdmin && !a.institution.empty() &&
         a.institution == institution;
}

inline Status Denied(const Actor& a, std::string_view what) {
  return PermissionDenied("the role " + std::string(RoleName(a.role)) + " may not " +
                          std::string(what));
}

// The operator only.
inline Status RequireOperator(const Actor& a, std::string_view what) {
  return IsOperator(a) ? Status::Ok() : Denied(a, what);
}

// The operator, or an institution-admin of `institution`.
inline Status RequireOwner(const Actor& a, std::string_view institution, std::string_view what) {
  if (IsOperator(a) || IsAdminOf(a, institution)) return Status::Ok();
  if (a.role == Role::kInstitutionAdmin) {
    return PermissionDenied(std::string(what) + ": it belongs to another institution");
  }
  return Denied(a, what);
}

// Operators and auditors see everything; an institution-admin what `institution` owns.
inline bool MaySee(const Actor& a, std::string_view institution) {
  return a.role != Role::kInstitutionAdmin || IsAdminOf(a, institution);
}

// A decision that takes something away (refusing, revoking) says why.
inline Status RequireReason(std::string_view reason, std::string_view what) {
  if (reason.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return InvalidArgument("a reason is required to " + std::string(what));
  }
  return Status::Ok();
}

template <typename T, typename Op, typename AfterJson>
Result<T> AdminService::Mutate(const Actor& actor, std::string_view action,
                               const std::string& object, const std::string& object_institution,
                               boost::json::value before, Op op, AfterJson after) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  Result<T> result = op();
  if (!result.ok()) return result.status();
  Change change{.action = action,
                .object = object,
                .object_institution = object_institution,
                .before = std::move(before),
                .after = after(*result)};
  GOVESB_RETURN_IF_ERROR(RecordAction(db_, actor, Now(), change).status());
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return result;
}

}  // namespace govesb::admin
