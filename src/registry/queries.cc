#include "registry/queries.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <string>
#include <utility>

namespace govesb::registry::internal {
namespace {

// Runs `stmt` to completion, turning each row into a T with `read` (a Result<T>(Statement&)).
template <typename T, typename Reader>
Result<std::vector<T>> Collect(store::Statement& stmt, Reader read) {
  std::vector<T> rows;
  while (true) {
    GOVESB_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
    if (!has_row) return rows;
    GOVESB_ASSIGN_OR_RETURN(T row, read(stmt));
    rows.push_back(std::move(row));
  }
}

template <typename T>
Result<std::optional<T>> First(Result<std::vector<T>> rows) {
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<T>();
  return std::optional<T>(std::move(rows->front()));
}

// ---- institutions ----

constexpr std::string_view kInstitutionSelect =
    "SELECT id, code, name, created_at, suspended, updated_at FROM institutions";

Result<Institution> ReadInstitution(store::Statement& s) {
  Institution row;
  row.id = s.ColumnInt64(0);
  row.code = s.ColumnText(1);
  row.name = s.ColumnText(2);
  row.created_at = s.ColumnInt64(3);
  row.suspended = s.ColumnInt64(4) != 0;
  row.updated_at = s.ColumnInt64(5);
  return row;
}

// ---- systems ----

constexpr std::string_view kSystemSelect =
    "SELECT s.id, s.client_id, s.institution_id, i.code, i.name, s.name, s.public_key,"
    " s.key_curve, s.endpoint, s.secret_hash, s.enabled, s.credential_version, s.created_at,"
    " s.updated_at, s.rate_per_second, s.rate_burst, s.signature_fallbacks, i.suspended,"
    " s.serialisation, s.serialisation_learned, s.key_changed_at, s.secret_changed_at"
    " FROM systems s JOIN institutions i ON i.id = s.institution_id";

Result<System> ReadSystem(store::Statement& s) {
  System row;
  row.id = s.ColumnInt64(0);
  row.client_id = s.ColumnText(1);
  row.institution_id = s.ColumnInt64(2);
  row.institution_code = s.ColumnText(3);
  row.institution_name = s.ColumnText(4);
  row.name = s.ColumnText(5);
  row.public_key_b64 = s.ColumnText(6);
  std::string curve = s.ColumnText(7);
  Result<crypto::Curve> parsed = crypto::ParseCurveName(curve);
  if (!parsed.ok()) {
    return Internal("registry row for system " + row.client_id + " has an unknown key curve '" +
                    curve + "'");
  }
  row.curve = *parsed;
  row.endpoint = s.ColumnText(8);
  row.secret_hash = s.ColumnText(9);
  row.enabled = s.ColumnInt64(10) != 0;
  row.credential_version = s.ColumnInt64(11);
  row.created_at = s.ColumnInt64(12);
  row.updated_at = s.ColumnInt64(13);
  GOVESB_ASSIGN_OR_RETURN(row.rate_per_second, ReadReal(s, 14));
  GOVESB_ASSIGN_OR_RETURN(row.rate_burst, ReadReal(s, 15));
  row.signature_fallbacks = s.ColumnInt64(16) != 0;
  row.institution_suspended = s.ColumnInt64(17) != 0;
  row.serialisation = s.ColumnText(18);
  row.serialisation_learned = s.ColumnText(19);
  row.key_changed_at = s.ColumnInt64(20);
  row.secret_changed_at = s.ColumnInt64(21);
  return row;
}

// ---- apis ----

// The catalogue's texts (columns 19-23) are read only as far as `detail` asks: the request
// path's snapshot leaves them out, lists leave out the OpenAPI document.
std::string ApiSelect(ApiDetail detail) {
  std::string sql =
      "SELECT a.id, a.code, a.provider_system_id, s.client_id, a.endpoint, s.endpoint,"
      " a.timeout_ms, a.created_at, a.mode, a.callback_endpoint, a.store_bodies,"
      " a.rate_per_second, a.rate_burst, a.replay_policy, a.enabled, s.name, i.code, i.name,"
      " CASE WHEN a.openapi <> '' THEN 1 ELSE 0 END, ";
  sql += detail == ApiDetail::kRequestPath
             ? "'', '', '', '', ''"
             : "a.title, a.description, a.request_example, a.response_example, ";
  if (detail == ApiDetail::kCatalogue) sql += "''";
  if (detail == ApiDetail::kFull) sql += "a.openapi";
  // The contract: the request path compiles it, the catalogue shows it.
  sql += ", a.request_schema, a.response_schema";
  sql +=
      " FROM apis a JOIN systems s ON s.id = a.provider_system_id"
      " JOIN institutions i ON i.id = s.institution_id";
  return sql;
}

Result<Api> ReadApi(store::Statement& s) {
  Api row;
  row.id = s.ColumnInt64(0);
  row.code = s.ColumnText(1);
  row.provider_system_id = s.ColumnInt64(2);
  row.provider_client_id = s.ColumnText(3);
  row.endpoint_override = s.ColumnText(4);  // "" for NULL
  row.endpoint = row.endpoint_override.empty() ? s.ColumnText(5) : row.endpoint_override;
  row.timeout_ms = static_cast<int>(s.ColumnInt64(6));
  row.created_at = s.ColumnInt64(7);
  row.async = s.ColumnText(8) == "async";
  row.callback_endpoint = s.ColumnText(9);
  row.store_bodies = s.ColumnInt64(10) != 0;
  GOVESB_ASSIGN_OR_RETURN(row.rate_per_second, ReadReal(s, 11));
  GOVESB_ASSIGN_OR_RETURN(row.rate_burst, ReadReal(s, 12));
  std::string replay = s.ColumnText(13);
  std::optional<ReplayPolicy> policy = ParseReplayPolicy(replay);
  if (!policy.has_value()) {
    return Internal("registry row for API " + row.code + " has an unknown replay policy '" +
                    replay + "'");
  }
  row.replay_policy = *policy;
  row.enabled = s.ColumnInt64(14) != 0;
  row.provider_name = s.ColumnText(15);
  row.provider_institution_code = s.ColumnText(16);
  row.provider_institution_name = s.ColumnText(17);
  row.has_openapi = s.ColumnInt64(18) != 0;
  row.title = s.ColumnText(19);
  row.description = s.ColumnText(20);
  row.request_example = s.ColumnText(21);
  row.response_example = s.ColumnText(22);
  row.openapi = s.ColumnText(23);
  row.request_schema = s.ColumnText(24);
  row.response_schema = s.ColumnText(25);
  return row;
}

// The access trail of grants and subscriptions: six columns of table `alias`.
std::string TrailColumns(std::string_view alias) {
  std::string a(alias);
  return a + ".requested_by, " + a + ".purpose, " + a + ".requested_at, " + a + ".decided_by, " +
         a + ".reason, " + a + ".decided_at";
}

AccessTrail ReadTrail(store::Statement& s, int first) {
  AccessTrail trail;
  trail.requested_by = s.ColumnText(first);
  trail.purpose = s.ColumnText(first + 1);
  trail.requested_at = s.ColumnInt64(first + 2);
  trail.decided_by = s.ColumnText(first + 3);
  trail.reason = s.ColumnText(first + 4);
  trail.decided_at = s.ColumnInt64(first + 5);
  return trail;
}

// ---- grants ----

const std::string kGrantSelect =
    "SELECT g.id, g.consumer_system_id, s.client_id, g.api_id, a.code, g.state, g.created_at,"
    " g.updated_at, " +
    TrailColumns("g") +
    ", g.purposes, g.purpose_required, g.fields"
    " FROM grants g JOIN systems s ON s.id = g.consumer_system_id"
    " JOIN apis a ON a.id = g.api_id";

Result<Grant> ReadGrant(store::Statement& s) {
  Grant row;
  row.id = s.ColumnInt64(0);
  row.consumer_system_id = s.ColumnInt64(1);
  row.consumer_client_id = s.ColumnText(2);
  row.api_id = s.ColumnInt64(3);
  row.api_code = s.ColumnText(4);
  row.state = s.ColumnText(5);
  row.created_at = s.ColumnInt64(6);
  row.updated_at = s.ColumnInt64(7);
  row.trail = ReadTrail(s, 8);
  row.purposes = ParsePurposes(s.ColumnText(14));
  row.purpose_required = s.ColumnInt64(15) != 0;
  row.fields = ParseFieldLines(s.ColumnText(16));
  return row;
}

// ---- topics ----

constexpr std::string_view kTopicSelect =
    "SELECT t.id, t.code, t.publisher_system_id, s.client_id, t.created_at, t.title,"
    " t.description, t.message_example, t.enabled"
    " FROM topics t JOIN systems s ON s.id = t.publisher_system_id";

Result<Topic> ReadTopic(store::Statement& s) {
  Topic row;
  row.id = s.ColumnInt64(0);
  row.code = s.ColumnText(1);
  row.publisher_system_id = s.ColumnInt64(2);
  row.publisher_client_id = s.ColumnText(3);
  row.created_at = s.ColumnInt64(4);
  row.title = s.ColumnText(5);
  row.description = s.ColumnText(6);
  row.message_example = s.ColumnText(7);
  row.enabled = s.ColumnInt64(8) != 0;
  return row;
}

// ---- subscriptions ----

const std::string kSubscriptionSelect =
    "SELECT b.id, b.subscriber_system_id, s.client_id, b.topic_id, t.code, b.endpoint,"
    " s.endpoint, b.state, b.created_at, b.updated_at, " +
    TrailColumns("b") +
    " FROM subscriptions b JOIN systems s ON s.id = b.subscriber_system_id"
    " JOIN topics t ON t.id = b.topic_id";

Result<Subscription> ReadSubscription(store::Statement& s) {
  Subscription row;
  row.id = s.ColumnInt64(0);
  row.subscriber_system_id = s.ColumnInt64(1);
  row.subscriber_client_id = s.ColumnText(2);
  row.topic_id = s.ColumnInt64(3);
  row.topic_code = s.ColumnText(4);
  row.endpoint_override = s.ColumnText(5);  // "" for NULL
  row.endpoint = row.endpoint_override.empty() ? s.ColumnText(6) : row.endpoint_override;
  row.state = s.ColumnText(7);
  row.created_at = s.ColumnInt64(8);
  row.updated_at = s.ColumnInt64(9);
  row.trail = ReadTrail(s, 10);
  return row;
}

// ---- membership applications ----

constexpr std::string_view kApplicationSelect =
    "SELECT id, institution_code, institution_name, details, contact_name, contact_email,"
    " contact_phone, planned_systems, state, submitted_at, decided_by, reason, decided_at"
    " FROM membership_applications";

Result<MembershipApplication> ReadApplication(store::Statement& s) {
  MembershipApplication row;
  row.id = s.ColumnInt64(0);
  row.institution_code = s.ColumnText(1);
  row.institution_name = s.ColumnText(2);
  row.details = s.ColumnText(3);
  row.contact_name = s.ColumnText(4);
  row.contact_email = s.ColumnText(5);
  row.contact_phone = s.ColumnText(6);
  GOVESB_ASSIGN_OR_RETURN(row.planned_systems, ParsePlannedSystems(s.ColumnText(7)));
  row.state = s.ColumnText(8);
  row.submitted_at = s.ColumnInt64(9);
  row.decided_by = s.ColumnText(10);
  row.reason = s.ColumnText(11);
  row.decided_at = s.ColumnInt64(12);
  return row;
}

// ---- signature usage ----

constexpr std::string_view kSignatureUsageSelect =
    "SELECT u.system_id, s.client_id, u.variant, u.count, u.first_at, u.last_at"
    " FROM signature_usage u JOIN systems s ON s.id = u.system_id";

Result<SignatureUsage> ReadSignatureUsage(store::Statement& s) {
  SignatureUsage row;
  row.system_id = s.ColumnInt64(0);
  row.client_id = s.ColumnText(1);
  row.variant = s.ColumnText(2);
  row.count = s.ColumnInt64(3);
  row.first_at = s.ColumnInt64(4);
  row.last_at = s.ColumnInt64(5);
  return row;
}

std::string Sql(std::string_view select, std::string_view rest) {
  std::string sql(select);
  sql += ' ';
  sql += rest;
  return sql;
}

}  // namespace

std::string RealText(double value) {
  char buffer[64];
  // Plain decimals for the values the schema allows (|value| <= 1e6).
  auto [end, ec] = std::abs(value) < 1e15 ? std::to_chars(buffer, buffer + sizeof(buffer), value,
                                                          std::chars_format::fixed)
                                          : std::to_chars(buffer, buffer + sizeof(buffer), value);
  return ec == std::errc() ? std::string(buffer, end) : std::string();
}

Result<double> ReadReal(const store::Statement& stmt, int column) {
  const std::string text = stmt.ColumnText(column);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return Internal("registry column " + std::to_string(column) + " of '" +
                    std::string(stmt.sql().substr(0, 60)) + "...' is not a number: '" + text + "'");
  }
  return value;
}

Result<std::vector<Institution>> SelectInstitutions(store::Database& db) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt,
                          db.Prepare(Sql(kInstitutionSelect, "ORDER BY id")));
  return Collect<Institution>(stmt, ReadInstitution);
}

Result<std::optional<Institution>> FindInstitution(store::Database& db, std::string_view code) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt,
                          db.Prepare(Sql(kInstitutionSelect, "WHERE code = ?")));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, code));
  return First(Collect<Institution>(stmt, ReadInstitution));
}

Result<std::vector<System>> SelectSystems(store::Database& db) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt, db.Prepare(Sql(kSystemSelect, "ORDER BY s.id")));
  return Collect<System>(stmt, ReadSystem);
}

Result<std::optional<System>> FindSystem(store::Database& db, std::string_view client_id) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt,
                          db.Prepare(Sql(kSystemSelect, "WHERE s.client_id = ?")));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, client_id));
  return First(Collect<System>(stmt, ReadSystem));
}

Result<std::vector<Api>> SelectApis(store::Database& db, ApiDetail detail) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt,
                          db.Prepare(Sql(ApiSelect(detail), "ORDER BY a.id")));
  return Collect<Api>(stmt, ReadApi);
}

Result<std::optional<Api>> FindApi(store::Database& db, std::string_view code, ApiDetail detail) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt,
                          db.Prepare(Sql(ApiSelect(detail), "WHERE a.code = ?")));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, code));
  return First(Collect<Api>(stmt, ReadApi));
}

Result<std::vector<Grant>> SelectGrants(store::Database& db) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt, db.Prepare(Sql(kGrantSelect, "ORDER BY g.id")));
  return Collect<Grant>(stmt, ReadGrant);
}

Result<std::optional<Grant>> FindGrant(store::Database& db, int64_t consumer_system_id,
                                       int64_t api_id) {
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement stmt,
      db.Prepare(Sql(kGrantSelect, "WHERE g.consumer_system_id = ? AND g.api_id = ?")));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, consumer_system_id));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(2, api_id));
  return First(Collect<Grant>(stmt, ReadGrant));
}

Result<std::vector<Topic>> SelectTopics(store::Database& db) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt, db.Prepare(Sql(kTopicSelect, "ORDER BY t.id")));
  return Collect<Topic>(stmt, ReadTopic);
}

Result<std::optional<Topic>> FindTopic(store::Database& db, std::string_view code) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt, db.Prepare(Sql(kTopicSelect, "WHERE t.code = ?")));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, code));
  return First(Collect<Topic>(stmt, ReadTopic));
}

Result<std::vector<Subscription>> SelectSubscriptions(store::Database& db) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt,
                          db.Prepare(Sql(kSubscriptionSelect, "ORDER BY b.id")));
  return Collect<Subscription>(stmt, ReadSubscription);
}

Result<std::optional<Subscription>> FindSubscription(store::Database& db,
                                                     int64_t subscriber_system_id,
                                                     int64_t topic_id) {
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement stmt,
      db.Prepare(Sql(kSubscriptionSelect, "WHERE b.subscriber_system_id = ? AND b.topic_id = ?")));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, subscriber_system_id));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(2, topic_id));
  return First(Collect<Subscription>(stmt, ReadSubscription));
}

std::string PlannedSystemsJson(const std::vector<PlannedSystem>& systems) {
  boost::json::array out;
  for (const PlannedSystem& p : systems) {
    boost::json::object o;
    o["name"] = p.name;
    o["description"] = p.description;
    out.push_back(std::move(o));
  }
  return boost::json::serialize(out);
}

Result<std::vector<PlannedSystem>> ParsePlannedSystems(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  std::vector<PlannedSystem> out;
  if (!ec && value.is_array()) {
    for (const boost::json::value& item : value.as_array()) {
      const boost::json::object* o = item.if_object();
      const boost::json::value* name = o != nullptr ? o->if_contains("name") : nullptr;
      const boost::json::value* description =
          o != nullptr ? o->if_contains("description") : nullptr;
      if (name == nullptr || !name->is_string() || description == nullptr ||
          !description->is_string()) {
        ec = boost::json::error::syntax;
        break;
      }
      out.push_back({std::string(name->as_string()), std::string(description->as_string())});
    }
  }
  if (ec || !value.is_array()) {
    return Internal("a membership application's planned systems are not a JSON list of systems");
  }
  return out;
}

Result<std::vector<MembershipApplication>> SelectApplications(store::Database& db,
                                                              std::string_view state) {
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement stmt,
      db.Prepare(
          Sql(kApplicationSelect, state.empty() ? "ORDER BY id" : "WHERE state = ? ORDER BY id")));
  if (!state.empty()) GOVESB_RETURN_IF_ERROR(stmt.Bind(1, state));
  return Collect<MembershipApplication>(stmt, ReadApplication);
}

Result<std::optional<MembershipApplication>> FindApplication(store::Database& db, int64_t id) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt,
                          db.Prepare(Sql(kApplicationSelect, "WHERE id = ?")));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, id));
  return First(Collect<MembershipApplication>(stmt, ReadApplication));
}

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

Result<Institution> MustFindInstitution(store::Database& db, std::string_view code) {
  GOVESB_ASSIGN_OR_RETURN(std::optional<Institution> found, FindInstitution(db, code));
  if (!found.has_value()) return NotFound("institution " + Quoted(code) + " not found");
  return std::move(*found);
}

Result<System> MustFindSystem(store::Database& db, std::string_view client_id,
                              std::string_view role) {
  GOVESB_ASSIGN_OR_RETURN(std::optional<System> system, FindSystem(db, client_id));
  if (!system.has_value()) {
    return NotFound(std::string(role) + " " + Quoted(client_id) + " not found");
  }
  return std::move(*system);
}

Result<Api> MustFindApi(store::Database& db, std::string_view code, ApiDetail detail) {
  GOVESB_ASSIGN_OR_RETURN(std::optional<Api> api, FindApi(db, code, detail));
  if (!api.has_value()) return NotFound("API " + Quoted(code) + " not found");
  return std::move(*api);
}

Result<Topic> MustFindTopic(store::Database& db, std::string_view code) {
  GOVESB_ASSIGN_OR_RETURN(std::optional<Topic> topic, FindTopic(db, code));
  if (!topic.has_value()) return NotFound("topic " + Quoted(code) + " not found");
  return std::move(*topic);
}

Result<std::vector<SignatureUsage>> SelectSignatureUsage(store::Database& db, int64_t system_id) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt,
                          db.Prepare(Sql(kSignatureUsageSelect,
                                         system_id != 0 ? "WHERE u.system_id = ? ORDER BY u.variant"
                                                        : "ORDER BY u.system_id, u.variant")));
  if (system_id != 0) GOVESB_RETURN_IF_ERROR(stmt.Bind(1, system_id));
  return Collect<SignatureUsage>(stmt, ReadSignatureUsage);
}

std::string FormatPurposes(const std::vector<Purpose>& purposes) {
  std::string out;
  for (const Purpose& p : purposes) {
    out += p.code;
    out += '\t';
    out += p.text;
    out += '\n';
  }
  return out;
}

std::string FormatFieldLines(const std::vector<std::string>& fields) {
  std::string out;
  for (const std::string& f : fields) {
    out += f;
    out += '\n';
  }
  return out;
}

std::vector<std::string> ParseFieldLines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    if (end != 0) out.emplace_back(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  return out;
}

std::vector<Purpose> ParsePurposes(std::string_view text) {
  std::vector<Purpose> out;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    const size_t tab = line.find('\t');
    if (tab != std::string_view::npos) {
      out.push_back(Purpose{std::string(line.substr(0, tab)), std::string(line.substr(tab + 1))});
    }
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  return out;
}

}  // namespace govesb::registry::internal
