#pragma once

// Row readers shared by Registry (admin listings) and Snapshot (the request-path view), so
// both see the registry tables the same way. Internal to the registry module.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "registry/model.h"
#include "store/database.h"

namespace govesb::registry::internal {

// REAL columns go through text (store::Statement binds and reads integers, text and blobs):
// RealText is the shortest text that reads back as `value`; a column with REAL affinity stores
// it as a REAL. ReadReal parses what SQLite gives back (at most 15 significant digits).
std::string RealText(double value);
Result<double> ReadReal(const store::Statement& stmt, int column);

Result<std::vector<Institution>> SelectInstitutions(store::Database& db);
Result<std::optional<Institution>> FindInstitution(store::Database& db, std::string_view code);

// Systems with their institution's code and name; public_key is left unparsed (nullopt).
Result<std::vector<System>> SelectSystems(store::Database& db);
Result<std::optional<System>> FindSystem(store::Database& db, std::string_view client_id);

// How much of an API's catalogue entry to read: none (the request path), all but the OpenAPI
// document (lists), or everything.
enum class ApiDetail { kRequestPath, kCatalogue, kFull };
Result<std::vector<Api>> SelectApis(store::Database& db, ApiDetail detail = ApiDetail::kCatalogue);
Result<std::optional<Api>> FindApi(store::Database& db, std::string_view code,
                                   ApiDetail detail = ApiDetail::kCatalogue);

Result<std::vector<Grant>> SelectGrants(store::Database& db);
// Grant::purposes as stored (lines "CODE<TAB>text") and back.
std::string FormatPurposes(const std::vector<Purpose>& purposes);
std::vector<Purpose> ParsePurposes(std::string_view text);
// Grant::fields as stored (one path per line) and back.
std::string FormatFieldLines(const std::vector<std::string>& fields);
std::vector<std::string> ParseFieldLines(std::string_view text);

Result<std::optional<Grant>> FindGrant(store::Database& db, int64_t consumer_system_id,
                                       int64_t api_id);

Result<std::vector<Topic>> SelectTopics(store::Database& db);
Result<std::optional<Topic>> FindTopic(store::Database& db, std::string_view code);

Result<std::vector<Subscription>> SelectSubscriptions(store::Database& db);
Result<std::optional<Subscription>> FindSubscription(store::Database& db,
                                                     int64_t subscriber_system_id,
                                                     int64_t topic_id);

// A membership application's planned systems, as stored (a JSON array of {name, description}).
std::string PlannedSystemsJson(const std::vector<PlannedSystem>& systems);
Result<std::vector<PlannedSystem>> ParsePlannedSystems(std::string_view text);
// Ordered by id; only those in `state` when it is not empty.
Result<std::vector<MembershipApplication>> SelectApplications(store::Database& db,
                                                              std::string_view state = {});
Result<std::optional<MembershipApplication>> FindApplication(store::Database& db, int64_t id);

// The same lookups, kNotFound naming the reference when there is none. `role` names the system
// in the message ("consumer system 'x' not found").
std::string Quoted(std::string_view s);
Result<Institution> MustFindInstitution(store::Database& db, std::string_view code);
Result<System> MustFindSystem(store::Database& db, std::string_view client_id,
                              std::string_view role = "system");
Result<Api> MustFindApi(store::Database& db, std::string_view code,
                        ApiDetail detail = ApiDetail::kCatalogue);
Result<Topic> MustFindTopic(store::Database& db, std::string_view code);

// Signature usage rows with the system's client_id, ordered by system id and variant; only
// `system_id`'s rows when it is not 0.
Result<std::vector<SignatureUsage>> SelectSignatureUsage(store::Database& db,
                                                         int64_t system_id = 0);

}  // namespace govesb::registry::internal
