#pragma once

// Internal to the adminapi module: the handlers of the onboarding workflows (institutions
// renamed, suspended, resumed; membership applications; the catalogue entries of APIs and
// topics, which are disabled and enabled; access requests and their decisions), listed in api.cc's
// route table. Each parses its input, asks admin::AdminService in the caller's name and renders the
// row with admin::ToJson.

#include "adminapi/route.h"
#include "limits/rate.h"

namespace govesb::adminapi::internal {

// Membership applications per client address: the one anonymous change besides signing in.
inline constexpr limits::Rate kApplicationRate{.per_second = 3.0 / 60.0, .burst = 3};

// Institutions (operator only).
Result<Reply> RenameInstitution(Context& c);
Result<Reply> SuspendInstitution(Context& c);
Result<Reply> ResumeInstitution(Context& c);

// Membership applications: anyone applies (rate-limited per address); the operator (and the
// auditor, reading) sees them; the operator accepts, also creating the first admin account,
// or refuses with a reason.
Result<Reply> SubmitApplication(Context& c);
Result<Reply> ListApplications(Context& c);
Result<Reply> AcceptApplication(Context& c);
Result<Reply> RefuseApplication(Context& c);

// The catalogue.
Result<Reply> DescribeApi(Context& c);
Result<Reply> DisableApi(Context& c);
Result<Reply> EnableApi(Context& c);
Result<Reply> GetApiOpenApi(Context& c);
// The API's contract: {"code","request_schema","response_schema"}, each the schema's JSON text
// exactly as published, or null.
Result<Reply> GetApiContract(Context& c);
Result<Reply> SetApiContract(Context& c);
Result<Reply> RemoveApiContract(Context& c);
Result<Reply> DescribeTopic(Context& c);
Result<Reply> DisableTopic(Context& c);
Result<Reply> EnableTopic(Context& c);

// Access requests and decisions, for grants and subscriptions.
Result<Reply> RequestAccess(Context& c);
Result<Reply> ListAccessRequests(Context& c);
Result<Reply> ApproveGrant(Context& c);
Result<Reply> RefuseGrant(Context& c);
Result<Reply> RevokeGrant(Context& c);
Result<Reply> ApproveSubscription(Context& c);
Result<Reply> RefuseSubscription(Context& c);
Result<Reply> RevokeSubscription(Context& c);

}  // namespace govesb::adminapi::internal
