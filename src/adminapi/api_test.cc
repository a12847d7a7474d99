#include "adminapi/api.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <memory>
#include <set>
#include <string>
#include <tuple>

#include "adminapi/session_auth.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "evidence/subject_report.h"
#include "store/database.h"

namespace govesb::adminapi {
namespace {

namespace json = boost::json;

const admin::Actor kOperator{.account = "op@ega.go.tz", .role = admin::Role::kOperator};
const admin::Actor kRitaAdmin{
    .account = "admin@rita.go.tz", .role = admin::Role::kInstitutionAdmin, .institution = "RITA"};
const admin::Actor kMohAdmin{
    .account = "admin@moh.go.tz", .role = admin::Role::kInstitutionAdmin, .institution = "MOH"};
const admin::Actor kAuditor{.account = "audit@nao.go.tz", .role = admin::Role::kAuditor};
// The admin of an institution that joins during a test (the onboarding workflow).
const admin::Actor kNidaAdmin{
    .account = "admin@nida.go.tz", .role = admin::Role::kInstitutionAdmin, .institution = "NIDA"};

// Credentials for the tests: `Authorization: Bearer <name>` for API tokens, and
// `Cookie: session=<name>` with `X-CSRF-Token: csrf-<name>` for browser sessions. The real
// accounts (their hashing, expiry and throttling) are tested in the accounts module; here the
// routes' policy, parsing and answers are.
class TestAuthenticator : public Authenticator {
 public:
  Result<std::optional<Caller>> Authenticate(const http::HttpRequest& r) override {
    std::string name;
    bool session = false;
    if (r.authorization.rfind("Bearer ", 0) == 0) {
      name = r.authorization.substr(7);
    } else if (std::string cookie(r.Header("cookie")); cookie.rfind("session=", 0) == 0) {
      name = cookie.substr(8);
      session = true;
    } else {
      return std::optional<Caller>();
    }
    const admin::Actor* actor = name == "operator"  ? &kOperator
                                : name == "rita"    ? &kRitaAdmin
                                : name == "moh"     ? &kMohAdmin
                                : name == "auditor" ? &kAuditor
                                : name == "nida"    ? &kNidaAdmin
                                                    : nullptr;
    if (actor == nullptr) return Unauthenticated("that token is not valid (revoked or expired)");
    Caller c;
    c.actor = *actor;
    c.actor.address = r.remote_address;
    c.actor.via = session ? "portal" : "api";
    c.by_session = session;
    return std::optional<Caller>(c);
  }
  Status CheckCsrf(const http::HttpRequest& r, const Caller& c) override {
    const std::string expected = "csrf-" + c.actor.account;
    if (r.Header("x-csrf-token") != expected) {
      return PermissionDenied("the form is stale or was not sent by the portal: reload the page");
    }
    return Status::Ok();
  }
};

std::string NewKey() {
  return crypto::PrivateKey::Generate(crypto::Curve::kP256)->public_key().SpkiBase64();
}

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::move(store::Database::Open(":memory:")).value();
    ASSERT_TRUE(accounts::MigrateAccountsStore(*db_).ok());  // and every other schema
    service_ = std::make_unique<admin::AdminService>(
        *db_, admin::ServiceOptions{
                  .clock = &clock_,
                  .hash_secret = [](std::string_view s) { return crypto::HashSecretForTest(s); },
                  .bus_key = bus_key_.public_key(),
                  .signer = &signer_});
    accounts_ = std::make_unique<accounts::Accounts>(
        *db_, accounts::AccountsOptions{.clock = &clock_, .hash_password = [](std::string_view s) {
                                          return crypto::HashSecretForTest(s);
                                        }});
    api_ = std::make_unique<AdminApi>(*service_, accounts_.get(), auth_, &clock_, db_.get());
    ASSERT_TRUE(service_->AddInstitution(kOperator, "RITA", "Registration Agency").ok());
    ASSERT_TRUE(service_->AddInstitution(kOperator, "MOH", "Ministry of Health").ok());
    rita_ = service_->AddSystem(kOperator, "RITA", "Births", NewKey(), "https://rita/api")
                ->system.client_id;
    moh_ = service_->AddSystem(kOperator, "MOH", "Records", NewKey(), "https://moh/api")
               ->system.client_id;
    ASSERT_TRUE(service_->AddApi(kOperator, rita_, "BRTH01", {}).ok());
    ASSERT_TRUE(service_->AddApi(kOperator, rita_, "BRTH02", {}).ok());
    ASSERT_TRUE(service_->AddTopic(kOperator, rita_, "BIRTHS").ok());
    ASSERT_TRUE(service_->AddTopic(kOperator, rita_, "BIRTH2").ok());
    ASSERT_TRUE(service_->ApproveGrant(kOperator, moh_, "BRTH01").ok());
    ASSERT_TRUE(service_->ApproveSubscription(kOperator, moh_, "BIRTHS").ok());
    // Pending: MOH's requests for BRTH03 and BIRTH3, and NIDA's membership application (id 1).
    ASSERT_TRUE(service_->AddApi(kOperator, rita_, "BRTH03", {}).ok());
    ASSERT_TRUE(service_->AddTopic(kOperator, rita_, "BIRTH3").ok());
    ASSERT_TRUE(service_->RequestAccess(kMohAdmin, moh_, "BRTH03", "clinic records").ok());
    ASSERT_TRUE(
        service_->RequestSubscription(kMohAdmin, moh_, "BIRTH3", "clinic notices", "").ok());
    ASSERT_TRUE(service_
                    ->ApplyForMembership(admin::Actor::Applicant("admin@nida.go.tz", "10.1.1.1"),
                                         NidaApplication())
                    .ok());
    ASSERT_TRUE(
        service_
            ->UpdateApiDescription(
                kOperator, "BRTH01",
                {.openapi = R"({"openapi":"3.0.3","info":{"title":"Births","version":"1"}})"})
            .ok());
    // The accounts of the callers, and one more to manage.
    for (auto [actor, role, institution] :
         {std::tuple{&kOperator, admin::Role::kOperator, ""},
          std::tuple{&kRitaAdmin, admin::Role::kInstitutionAdmin, "RITA"},
          std::tuple{&kMohAdmin, admin::Role::kInstitutionAdmin, "MOH"},
          std::tuple{&kAuditor, admin::Role::kAuditor, ""}}) {
      auto user = accounts_->CreateUser(kOperator, {.email = actor->account,
                                                    .display_name = {},
                                                    .role = role,
                                                    .institution = institution,
                                                    .password = "correct horse battery"});
      ASSERT_TRUE(user.ok()) << user.status().ToString();
    }
    ASSERT_TRUE(accounts_
                    ->CreateUser(kOperator, {.email = "clerk@moh.go.tz",
                                             .display_name = {},
                                             .role = admin::Role::kAuditor,
                                             .institution = {},
                                             .password = {}})
                    .ok());
  }

  http::HttpResponse Call(const std::string& method, const std::string& target,
                          const std::string& who, const std::string& body = "",
                          bool session = false, bool csrf = true) {
    http::HttpRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.remote_address = address_;
    if (!who.empty()) {
      if (session) {
        r.headers.emplace_back("cookie", "session=" + who);
        const admin::Actor* a = who == "operator" ? &kOperator
                                : who == "rita"   ? &kRitaAdmin
                                : who == "moh"    ? &kMohAdmin
                                                  : &kAuditor;
        if (csrf) r.headers.emplace_back("x-csrf-token", "csrf-" + a->account);
      } else {
        r.authorization = "Bearer " + who;
      }
    }
    if (!body.empty()) r.content_type = "application/json";
    return api_->Handle(r);
  }

  std::string Substitute(std::string s) {
    for (auto [from, to] :
         {std::pair<std::string, std::string>{"{rita}", rita_}, {"{moh}", moh_}}) {
      for (size_t at; (at = s.find(from)) != std::string::npos;) s.replace(at, from.size(), to);
    }
    return s;
  }

  static registry::NewApplication NidaApplication(std::string code = "NIDA") {
    return {.institution_code = code,
            .institution_name = "Identification Authority",
            .details = "Issues national identity numbers",
            .contact_name = "Asha Mussa",
            .contact_email = "admin@nida.go.tz",
            .contact_phone = "",
            .planned_systems = {{.name = "Identity", .description = "looks up births"}}};
  }

  std::string address_ = "10.9.8.7";  // the caller's address in Call
  SimulatedClock clock_;
  crypto::PrivateKey bus_key_ = *crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1);
  crypto::LocalSigner signer_{bus_key_};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<admin::AdminService> service_;
  std::unique_ptr<accounts::Accounts> accounts_;
  TestAuthenticator auth_;
  std::unique_ptr<AdminApi> api_;
  std::string rita_, moh_;
};

// Every route × every caller: the operator, RITA's admin (the owner of the system, API and topic
// used), MOH's admin (another institution; the consumer), the auditor, and no one.
struct RouteCase {
  std::string method;
  std::string target;  // {rita} / {moh}: the two systems' client ids
  std::string body;
  std::array<int, 5> expect;  // operator, rita, moh, auditor, anonymous
};

const std::vector<RouteCase>& RouteCases() {
  static const std::vector<RouteCase> cases = {
      {"GET", "/api/v1/openapi.json", "", {200, 200, 200, 200, 200}},
      {"GET", "/api/v1/me", "", {200, 200, 200, 200, 401}},
      {"POST",
       "/api/v1/session",
       R"({"email":"op@ega.go.tz","password":"not the password"})",
       {401, 401, 401, 401, 401}},
      {"DELETE", "/api/v1/session", "", {200, 200, 200, 200, 200}},
      {"POST",
       "/api/v1/me/password",
       R"({"old_password":"not the password","new_password":"a new long password"})",
       {401, 401, 401, 401, 401}},
      {"GET", "/api/v1/users", "", {200, 200, 200, 200, 401}},
      {"POST",
       "/api/v1/users",
       R"({"email":"new@rita.go.tz","role":"institution-admin","institution":"RITA"})",
       {201, 403, 403, 403, 401}},
      {"PATCH",
       "/api/v1/users/clerk@moh.go.tz",
       R"({"role":"institution-admin","institution":"MOH","display_name":"Clerk"})",
       {200, 403, 403, 403, 401}},
      {"POST", "/api/v1/users/clerk@moh.go.tz/disable", "", {200, 403, 403, 403, 401}},
      {"POST", "/api/v1/users/clerk@moh.go.tz/enable", "", {200, 403, 403, 403, 401}},
      {"POST", "/api/v1/users/clerk@moh.go.tz/reset-password", "", {200, 403, 403, 403, 401}},
      {"GET", "/api/v1/tokens", "", {200, 200, 200, 200, 401}},
      {"POST", "/api/v1/tokens", R"({"name":"nightly report"})", {201, 201, 201, 201, 401}},
      {"POST",
       "/api/v1/tokens",
       R"({"name":"this month","expires_in_days":30})",
       {201, 201, 201, 201, 401}},
      {"POST", "/api/v1/tokens/999/revoke", "", {404, 404, 404, 404, 401}},
      {"GET", "/api/v1/institutions", "", {200, 200, 200, 200, 401}},
      {"POST",
       "/api/v1/institutions",
       R"({"code":"TRA","name":"Revenue"})",
       {201, 403, 403, 403, 401}},
      {"PATCH",
       "/api/v1/institutions/MOH",
       R"({"name":"Ministry of Health, CDGEC"})",
       {200, 403, 403, 403, 401}},
      {"POST", "/api/v1/institutions/MOH/suspend", "", {200, 403, 403, 403, 401}},
      {"POST", "/api/v1/institutions/MOH/resume", "", {409, 403, 403, 403, 401}},
      {"POST",
       "/api/v1/applications",
       R"({"institution_code":"TRA","institution_name":"Revenue Authority","details":"Taxes",)"
       R"("contact_name":"Juma","contact_email":"it@tra.go.tz",)"
       R"("planned_systems":[{"name":"Taxpayers","description":"checks births"}]})",
       {201, 201, 201, 201, 201}},
      {"GET", "/api/v1/applications?state=pending", "", {200, 403, 403, 200, 401}},
      {"POST", "/api/v1/applications/1/accept", "", {200, 403, 403, 403, 401}},
      {"POST",
       "/api/v1/applications/1/refuse",
       R"({"reason":"not a public body"})",
       {200, 403, 403, 403, 401}},
      {"GET", "/api/v1/systems", "", {200, 200, 200, 200, 401}},
      {"POST",
       "/api/v1/systems",
       R"({"institution":"RITA","name":"Deaths","public_key":"@KEY@","endpoint":"https://rita/d"})",
       {201, 201, 403, 403, 401}},
      {"GET", "/api/v1/systems/{rita}", "", {200, 200, 403, 200, 401}},
      {"PATCH",
       "/api/v1/systems/{rita}",
       R"({"endpoint":"https://rita/v2"})",
       {200, 200, 403, 403, 401}},
      {"POST", "/api/v1/systems/{rita}/disable", "", {200, 200, 403, 403, 401}},
      {"POST", "/api/v1/systems/{rita}/enable", "", {409, 409, 403, 403, 401}},
      {"POST", "/api/v1/systems/{rita}/rotate-secret", "", {200, 200, 403, 403, 401}},
      {"PUT",
       "/api/v1/systems/{rita}/limits",
       R"({"rate_per_second":10,"burst":20})",
       {200, 403, 403, 403, 401}},
      {"PUT",
       "/api/v1/systems/{rita}/fallbacks",
       R"({"allowed":false})",
       {200, 403, 403, 403, 401}},
      {"PUT",
       "/api/v1/systems/{rita}/serialisation",
       R"({"serialisation":"node"})",
       {200, 403, 403, 403, 401}},
      {"GET", "/api/v1/apis", "", {200, 200, 200, 200, 401}},
      {"POST",
       "/api/v1/apis",
       R"({"provider":"{rita}","code":"DETH01","timeout_ms":5000})",
       {201, 201, 403, 403, 401}},
      {"GET", "/api/v1/apis/BRTH01", "", {200, 200, 200, 200, 401}},
      {"PUT",
       "/api/v1/apis/BRTH01/limits",
       R"({"rate_per_second":"unlimited"})",
       {200, 403, 403, 403, 401}},
      {"PUT", "/api/v1/apis/BRTH01/replay", R"({"policy":"refuse"})", {200, 200, 403, 403, 401}},
      {"PUT", "/api/v1/apis/BRTH01/store-bodies", R"({"on":true})", {200, 403, 403, 403, 401}},
      {"PUT",
       "/api/v1/apis/BRTH01/description",
       R"({"title":"Birth record","request_example":{"entryNo":"B-1"}})",
       {200, 200, 403, 403, 401}},
      {"POST", "/api/v1/apis/BRTH01/disable", "", {200, 200, 403, 403, 401}},
      {"POST", "/api/v1/apis/BRTH01/enable", "", {409, 409, 403, 403, 401}},
      {"GET", "/api/v1/apis/BRTH01/openapi", "", {200, 200, 200, 200, 401}},
      {"PUT",
       "/api/v1/apis/BRTH01/contract",
       R"({"request_schema":{"type":"object","required":["entryNo"]}})",
       {200, 200, 403, 403, 401}},
      {"GET", "/api/v1/apis/BRTH01/contract", "", {200, 200, 200, 200, 401}},
      {"DELETE", "/api/v1/apis/BRTH01/contract", "", {200, 200, 403, 403, 401}},
      {"POST",
       "/api/v1/access-requests",
       R"({"consumer":"{moh}","api":"BRTH02","purpose":"clinic records"})",
       {201, 403, 201, 403, 401}},
      {"POST",
       "/api/v1/access-requests",
       R"({"subscriber":"{moh}","topic":"BIRTH2","purpose":"clinic notices"})",
       {201, 403, 201, 403, 401}},
      {"GET", "/api/v1/access-requests", "", {200, 200, 200, 200, 401}},
      {"GET", "/api/v1/grants", "", {200, 200, 200, 200, 401}},
      {"POST", "/api/v1/grants/{moh}/BRTH02/approve", "", {200, 200, 403, 403, 401}},
      {"POST", "/api/v1/grants/{moh}/BRTH03/approve", "", {200, 200, 403, 403, 401}},  // pending
      {"PUT",
       "/api/v1/grants/{moh}/BRTH01/purposes",
       R"({"purposes":[{"code":"TREATMENT","text":"Medical treatment"}],"required":true})",
       {200, 200, 403, 403, 401}},
      {"PUT",
       "/api/v1/grants/{moh}/BRTH01/fields",
       R"({"fields":["entryNo","/child/name"]})",
       {200, 200, 403, 403, 401}},
      {"POST",
       "/api/v1/grants/{moh}/BRTH03/refuse",
       R"({"reason":"no legal basis"})",
       {200, 200, 403, 403, 401}},
      {"POST",
       "/api/v1/grants/{moh}/BRTH01/revoke",
       R"({"reason":"contract ended"})",
       {200, 200, 200, 403, 401}},
      {"GET", "/api/v1/topics", "", {200, 200, 200, 200, 401}},
      {"POST",
       "/api/v1/topics",
       R"({"publisher":"{rita}","code":"DEATHS"})",
       {201, 201, 403, 403, 401}},
      {"PUT",
       "/api/v1/topics/BIRTHS/description",
       R"({"title":"Births registered","message_example":"{\"entryNo\":\"B-1\"}"})",
       {200, 200, 403, 403, 401}},
      {"POST", "/api/v1/topics/BIRTHS/disable", "", {200, 200, 403, 403, 401}},
      {"POST", "/api/v1/topics/BIRTHS/enable", "", {409, 409, 403, 403, 401}},
      {"GET", "/api/v1/subscriptions", "", {200, 200, 200, 200, 401}},
      {"POST", "/api/v1/subscriptions/{moh}/BIRTH2/approve", "", {200, 200, 403, 403, 401}},
      {"POST", "/api/v1/subscriptions/{moh}/BIRTH3/approve", "", {200, 200, 403, 403, 401}},
      {"POST",
       "/api/v1/subscriptions/{moh}/BIRTH3/refuse",
       R"({"reason":"no legal basis"})",
       {200, 200, 403, 403, 401}},
      {"POST",
       "/api/v1/subscriptions/{moh}/BIRTHS/revoke",
       R"({"reason":"contract ended"})",
       {200, 200, 200, 403, 401}},
      {"GET", "/api/v1/deliveries", "", {200, 200, 200, 200, 401}},
      {"GET", "/api/v1/deliveries/99/attempts", "", {404, 404, 404, 404, 401}},
      {"POST", "/api/v1/deliveries/99/redeliver", "", {404, 404, 404, 404, 401}},
      {"POST", "/api/v1/deliveries/redeliver-dead", "", {200, 403, 403, 403, 401}},
      {"GET", "/api/v1/deliveries/counts", "", {200, 200, 200, 200, 401}},
      {"GET", "/api/v1/actions", "", {200, 200, 200, 200, 401}},
      {"GET", "/api/v1/evidence?kind=admin&limit=10", "", {200, 200, 200, 200, 401}},
      {"GET",
       "/api/v1/evidence/0123456789abcdef0123456789abcdef/proof",
       "",
       {404, 404, 404, 404, 401}},
      {"GET", "/api/v1/evidence/verify", "", {200, 403, 403, 200, 401}},
      {"POST",
       "/api/v1/subject-reports",
       R"({"user_id":"19900101-12345-00001-12","format":"html"})",
       {200, 403, 403, 200, 401}},
      {"GET", "/api/v1/bus", "", {200, 200, 200, 200, 401}},
      {"GET", "/api/v1/compliance", "", {200, 200, 200, 200, 401}},
      {"GET", "/api/v1/compliance?institution=RITA", "", {200, 200, 403, 200, 401}},
      {"GET", "/api/v1/compliance?institution=NOSUCH", "", {404, 403, 403, 404, 401}},
      {"GET", "/api/v1/compliance/summary?institution=MOH", "", {200, 403, 200, 200, 401}},
      {"GET", "/api/v1/compliance/thresholds", "", {200, 200, 200, 200, 401}},
      {"PUT",
       "/api/v1/compliance/thresholds/key_age_warn_days",
       R"({"value":90})",
       {200, 403, 403, 403, 401}},
      {"PUT",
       "/api/v1/compliance/thresholds/key_age_warn_days",
       R"({"value":"ninety"})",
       {400, 403, 403, 403, 401}},
      {"GET", "/api/v1/traffic?step=5", "", {200, 200, 200, 200, 401}},
      {"GET",
       "/api/v1/traffic/totals?by=system&from=2023-11-14T00:00:00Z",
       "",
       {200, 200, 200, 200, 401}},
  };
  return cases;
}

class RouteRoleTest : public AdminApiTest, public ::testing::WithParamInterface<size_t> {};

TEST_P(RouteRoleTest, EachCallerIsAllowedOrRefusedAsSpecified) {
  const RouteCase& c = RouteCases()[GetParam()];
  const std::array<std::string, 5> callers = {"operator", "rita", "moh", "auditor", ""};
  for (size_t i = 0; i < callers.size(); ++i) {
    SetUp();  // a fresh registry for every caller: a change by one must not decide another's
    std::string body = Substitute(c.body);
    if (size_t at = body.find("@KEY@"); at != std::string::npos) body.replace(at, 5, NewKey());
    http::HttpResponse r = Call(c.method, Substitute(c.target), callers[i], body);
    EXPECT_EQ(r.status, c.expect[i])
        << c.method << " " << c.target << " as " << (callers[i].empty() ? "anonymous" : callers[i])
        << ": " << r.body;
    boost::system::error_code ec;
    json::value parsed = json::parse(r.body, ec);
    EXPECT_FALSE(ec) << "not JSON: " << r.body;
    if (r.status >= 400 && !ec) {
      EXPECT_TRUE(parsed.is_object() && parsed.as_object().contains("error")) << r.body;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryRoute, RouteRoleTest,
                         ::testing::Range(size_t{0}, RouteCases().size()));

TEST_F(AdminApiTest, EveryRouteIsInTheTableAndInTheOpenApiDocumentAndNothingElseIs) {
  std::set<std::string> served;
  for (const RouteInfo& r : AdminApi::Routes()) served.insert(r.method + " " + r.pattern);
  // The table covers every route (a concrete target matched against each pattern).
  std::set<std::string> covered;
  for (const RouteCase& c : RouteCases()) {
    for (const RouteInfo& r : AdminApi::Routes()) {
      if (r.method != c.method) continue;
      std::string pattern = r.pattern, target = c.target.substr(0, c.target.find('?'));
      // Same number of segments and equal literal ones.
      auto split = [](const std::string& s) {
        std::vector<std::string> out;
        size_t start = 1;
        while (start <= s.size()) {
          size_t end = s.find('/', start);
          if (end == std::string::npos) end = s.size();
          out.push_back(s.substr(start, end - start));
          start = end + 1;
        }
        return out;
      };
      auto p = split(pattern), t = split(target);
      if (p.size() != t.size()) continue;
      bool same = true;
      for (size_t i = 0; i < p.size() && same; ++i) {
        same = (p[i].front() == '{') || p[i] == t[i];
      }
      if (same) covered.insert(r.method + " " + r.pattern);
    }
  }
  EXPECT_EQ(covered, served);

  json::value doc = json::parse(AdminApi::OpenApiDocument());
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc.at("openapi"), "3.1.0");
  std::set<std::string> documented;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, operation] : item.as_object()) {
      std::string m(method);
      for (char& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      documented.insert(m + " " + std::string(path));
      EXPECT_TRUE(operation.as_object().contains("operationId")) << path;
      EXPECT_TRUE(operation.as_object().contains("responses")) << path;
    }
  }
  EXPECT_EQ(documented, served);
  // Every $ref points at a schema that exists.
  const json::object& schemas = doc.at("components").at("schemas").as_object();
  std::function<void(const json::value&)> check_refs = [&](const json::value& v) {
    if (v.is_object()) {
      for (const auto& [k, member] : v.as_object()) {
        if (k == "$ref") {
          std::string ref(member.as_string());
          ASSERT_EQ(ref.rfind("#/components/schemas/", 0), 0u) << ref;
          EXPECT_TRUE(schemas.contains(ref.substr(21))) << ref;
        } else {
          check_refs(member);
        }
      }
    } else if (v.is_array()) {
      for (const json::value& e : v.as_array()) check_refs(e);
    }
  };
  check_refs(doc);
}

TEST_F(AdminApiTest, ATopicDisabledAndEnabledShowsItsStateInTheTopicList) {
  auto state_of = [&](const std::string& code) {
    json::value topics = json::parse(Call("GET", "/api/v1/topics", "moh").body);
    for (const json::value& t : topics.as_array()) {
      if (t.at("code") == code.c_str()) return t.at("enabled").as_bool();
    }
    ADD_FAILURE() << "no topic " << code;
    return true;
  };
  EXPECT_TRUE(state_of("BIRTHS"));
  http::HttpResponse disabled = Call("POST", "/api/v1/topics/BIRTHS/disable", "rita");
  ASSERT_EQ(disabled.status, 200) << disabled.body;
  EXPECT_FALSE(json::parse(disabled.body).at("enabled").as_bool());
  EXPECT_FALSE(state_of("BIRTHS"));
  EXPECT_TRUE(state_of("BIRTH2")) << "only that topic";
  http::HttpResponse again = Call("POST", "/api/v1/topics/BIRTHS/disable", "operator");
  EXPECT_EQ(again.status, 409);
  EXPECT_NE(again.body.find("already disabled"), std::string::npos) << again.body;
  EXPECT_EQ(Call("POST", "/api/v1/topics/NOSUCH/disable", "operator").status, 404);
  auto actions = service_->ListActions(kOperator, {.object = "topic:BIRTHS", .limit = 1});
  ASSERT_EQ(actions->size(), 1u);
  EXPECT_EQ((*actions)[0].action, "topic.disable");
  EXPECT_EQ((*actions)[0].account, kRitaAdmin.account);
  EXPECT_EQ((*actions)[0].via, "api");
  ASSERT_EQ(Call("POST", "/api/v1/topics/BIRTHS/enable", "operator").status, 200);
  EXPECT_TRUE(state_of("BIRTHS"));
}

TEST_F(AdminApiTest, ASessionsStateChangeNeedsItsCsrfTokenAndATokenDoesNot) {
  const std::string body = R"({"endpoint":"https://rita/v3"})";
  http::HttpResponse stale =
      Call("PATCH", "/api/v1/systems/" + rita_, "rita", body, /*session=*/true, /*csrf=*/false);
  EXPECT_EQ(stale.status, 403) << stale.body;
  EXPECT_NE(stale.body.find("reload the page"), std::string::npos);
  EXPECT_EQ(service_->GetSystem(kOperator, rita_)->endpoint, "https://rita/api");
  EXPECT_EQ(Call("PATCH", "/api/v1/systems/" + rita_, "rita", body, true, true).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/systems", "rita", "", true, false).status, 200);  // reads
  EXPECT_EQ(Call("PATCH", "/api/v1/systems/" + rita_, "rita", body).status, 200);  // bearer
}

TEST_F(AdminApiTest, BadInputGetsAClearErrorAndChangesNothing) {
  auto before = service_->ListActions(kOperator, {})->size();
  http::HttpResponse r = Call("POST", "/api/v1/systems", "operator", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("JSON object"), std::string::npos) << r.body;
  r = Call("POST", "/api/v1/systems", "operator", R"({"institution":"RITA"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("'name' is required"), std::string::npos) << r.body;
  r = Call("POST", "/api/v1/systems", "operator",
           R"({"institution":"RITA","name":"X","public_key":"garbage","endpoint":"https://x/"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("invalid_argument"), std::string::npos) << r.body;
  r = Call("PUT", "/api/v1/apis/BRTH01/replay", "operator", R"({"policy":"sometimes"})");
  EXPECT_EQ(r.status, 400);
  r = Call("GET", "/api/v1/deliveries?limit=abc", "operator");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/nothing-here", "operator").status, 404);
  r = Call("DELETE", "/api/v1/systems", "operator");
  EXPECT_EQ(r.status, 405);
  // The onboarding routes.
  struct Bad {
    std::string method, target, who, body, says;
  };
  const std::vector<Bad> bad = {
      {"POST", "/api/v1/applications", "",
       R"({"institution_code":"TRA","institution_name":"Revenue","details":"Taxes",)"
       R"("contact_name":"Juma","contact_email":"it@tra.go.tz"})",
       "'planned_systems' is required"},
      {"POST", "/api/v1/applications", "",
       R"({"institution_code":"TRA","institution_name":"Revenue","details":"Taxes",)"
       R"("contact_name":"Juma","contact_email":"not an address",)"
       R"("planned_systems":[{"name":"Taxpayers"}]})",
       "e-mail"},
      {"POST", "/api/v1/applications", "",
       R"({"institution_code":"TRA","institution_name":"Revenue","details":"Taxes",)"
       R"("contact_name":"Juma","contact_email":"it@tra.go.tz","planned_systems":[]})",
       "at least one system"},
      {"GET", "/api/v1/applications?state=maybe", "operator", "", "unknown state"},
      {"POST", "/api/v1/applications/1/refuse", "operator", "{}", "'reason' is required"},
      {"POST", "/api/v1/applications/1/refuse", "operator", R"({"reason":"  "})", "reason"},
      {"POST", "/api/v1/applications/1/accept", "operator", R"({"create_admin_account":"yes"})",
       "true or false"},
      {"PATCH", "/api/v1/institutions/MOH", "operator", "{}", "'name' is required"},
      {"PUT", "/api/v1/apis/BRTH01/description", "rita", "{}", "nothing to change"},
      {"PUT", "/api/v1/apis/BRTH01/description", "rita", R"({"openapi":{"swagger":"2.0"}})",
       "openapi"},
      {"PUT", "/api/v1/apis/BRTH01/description", "rita", R"({"request_example":"{oops"})",
       "example"},
      {"PUT", "/api/v1/topics/BIRTHS/description", "rita", "{}", "nothing to change"},
      {"POST", "/api/v1/access-requests", "moh",
       R"({"consumer":"{moh}","topic":"BIRTH2","purpose":"x"})", "either"},
      {"POST", "/api/v1/access-requests", "moh", R"({"consumer":"{moh}","api":"BRTH02"})",
       "'purpose' is required"},
      {"GET", "/api/v1/access-requests?state=maybe", "moh", "", "unknown state"},
      {"POST", "/api/v1/grants/{moh}/BRTH03/refuse", "rita", "{}", "'reason' is required"},
      {"POST", "/api/v1/grants/{moh}/BRTH03/refuse", "rita", R"({"reason":" "})", "reason"},
      {"POST", "/api/v1/grants/{moh}/BRTH01/revoke", "rita", "", "'reason' is required"},
      {"PUT", "/api/v1/grants/{moh}/BRTH02/purposes", "rita",
       R"({"purposes":[{"code":"treatment","text":"x"}]})", "purpose code"},
      {"PUT", "/api/v1/grants/{moh}/BRTH02/purposes", "rita", R"({"purposes":7})", "array"},
      {"PUT", "/api/v1/grants/{moh}/BRTH02/fields", "rita", R"({"fields":"name"})", "array"},
      {"PUT", "/api/v1/grants/{moh}/BRTH02/fields", "rita", R"({"fields":[1]})", "string path"},
      {"PUT", "/api/v1/grants/{moh}/BRTH02/fields", "rita", R"({"fields":["children[].nin"]})",
       "arrays need no index"},
      {"POST", "/api/v1/subscriptions/{moh}/BIRTH3/refuse", "rita", "{}", "'reason' is required"},
      {"POST", "/api/v1/subscriptions/{moh}/BIRTHS/revoke", "moh", "", "'reason' is required"},
      {"POST", "/api/v1/subscriptions/{moh}/BIRTH3/approve", "rita",
       R"({"endpoint_override":"https://moh/elsewhere"})", "requested with its endpoint"},
  };
  for (const Bad& b : bad) {
    r = Call(b.method, Substitute(b.target), b.who, Substitute(b.body));
    EXPECT_EQ(r.status, 400) << b.method << " " << b.target << ": " << r.body;
    EXPECT_NE(r.body.find(b.says), std::string::npos)
        << b.method << " " << b.target << ": " << r.body;
  }
  EXPECT_EQ(service_->ListApplications(kOperator, "pending")->size(), 1u);
  EXPECT_EQ(service_->ListAccessRequests(kOperator)->grants.size(), 1u);
  EXPECT_EQ(service_->GetApi(kOperator, "BRTH01")->title, "");
  EXPECT_EQ(service_->ListActions(kOperator, {})->size(), before);
  // An anonymous body is bounded below the listener's limit.
  r = Call("POST", "/api/v1/applications", "",
           "{\"details\":\"" + std::string(300'000, 'x') + "\"}");
  EXPECT_EQ(r.status, 413) << r.body;
  // An unknown token is 401, not anonymous.
  EXPECT_EQ(Call("GET", "/api/v1/me", "forged").status, 401);
}

TEST_F(AdminApiTest, AProviderPublishesAContractAndABadOneIsRefusedWithItsPlace) {
  const std::string url = "/api/v1/apis/BRTH01/contract";
  // The schema as JSON, or its exact text as a string.
  http::HttpResponse r = Call("PUT", url, "rita",
                              R"({"request_schema":{"type":"object","required":["entryNo"]},)"
                              R"("response_schema":"{\"type\": \"object\"}"})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value contract = json::parse(r.body);
  EXPECT_EQ(contract.at("request_schema"), R"({"type":"object","required":["entryNo"]})");
  EXPECT_EQ(contract.at("response_schema"), R"({"type": "object"})");
  EXPECT_EQ(json::parse(Call("GET", url, "moh").body), contract);  // the catalogue's

  const auto before = service_->ListActions(kOperator, {})->size();
  struct Bad {
    std::string body;
    std::string says;
  };
  for (const Bad& b : std::vector<Bad>{
           {R"({"request_schema":{"properties":{"age":{"minimum":"0"}}}})",
            "the request schema: #/properties/age/minimum: must be a number"},
           {R"({"response_schema":{"items":[{}]}})",
            "the response schema: #/items: must be a schema (draft 2020-12)"},
           {R"({"request_schema":"{\"type\":"})",
            "the request schema: the schema is not valid JSON"},
           {R"({"request_schema":""})", "must be a schema, its JSON text, or null"},
           {"{}", "nothing to change"},
       }) {
    r = Call("PUT", url, "rita", b.body);
    EXPECT_EQ(r.status, 400) << b.body << ": " << r.body;
    EXPECT_NE(r.body.find(b.says), std::string::npos) << b.body << ": " << r.body;
  }
  EXPECT_EQ(service_->ListActions(kOperator, {})->size(), before);
  EXPECT_EQ(json::parse(Call("GET", url, "rita").body), contract) << "the old contract stays";

  // null removes one; DELETE both.
  r = Call("PUT", url, "rita", R"({"response_schema":null})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(json::parse(r.body).at("response_schema").is_null());
  EXPECT_EQ(json::parse(r.body).at("request_schema"), contract.at("request_schema"));
  r = Call("DELETE", url, "rita");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(json::parse(r.body).at("request_schema").is_null());
}

TEST_F(AdminApiTest, AnOperatorChangesAUsersRoleAndBadChangesAreRefusedInWords) {
  const std::string clerk = "/api/v1/users/clerk@moh.go.tz";
  auto before = service_->ListActions(kOperator, {})->size();
  struct Bad {
    std::string target, body;
    int status;
    std::string says;
  };
  const std::vector<Bad> bad = {
      {clerk, R"({"role":"boss"})", 400, "'role' must be operator, institution-admin or auditor"},
      {clerk, R"({"role":"institution-admin"})", 400, "give its code"},
      {clerk, R"({"role":"institution-admin","institution":"NOPE"})", 404,
       "no institution with the code 'NOPE'"},
      {clerk, R"({"institution":"MOH"})", 400, "has none"},
      {clerk, R"({"display_name":7})", 400, "display_name"},
      {"/api/v1/users/op@ega.go.tz", R"({"role":"auditor"})", 409, "last enabled operator"},
      {"/api/v1/users/nobody@ega.go.tz", R"({"role":"auditor"})", 404, "no user"},
  };
  for (const Bad& b : bad) {
    http::HttpResponse r = Call("PATCH", b.target, "operator", b.body);
    EXPECT_EQ(r.status, b.status) << b.body << ": " << r.body;
    EXPECT_NE(r.body.find(b.says), std::string::npos) << b.body << ": " << r.body;
  }
  EXPECT_EQ(service_->ListActions(kOperator, {})->size(), before);
  EXPECT_EQ(accounts_->GetUser(kOperator, "clerk@moh.go.tz")->role, admin::Role::kAuditor);

  // The same values: 200, nothing recorded. A change: recorded once, answered as the user.
  EXPECT_EQ(Call("PATCH", clerk, "operator", R"({"role":"auditor"})").status, 200);
  EXPECT_EQ(service_->ListActions(kOperator, {})->size(), before);
  http::HttpResponse r =
      Call("PATCH", clerk, "operator", R"({"role":"institution-admin","institution":"MOH"})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value user = json::parse(r.body);
  EXPECT_EQ(user.at("role"), "institution-admin");
  EXPECT_EQ(user.at("institution"), "MOH");
  auto actions = *service_->ListActions(kOperator, {});
  ASSERT_EQ(actions.size(), before + 1);
  EXPECT_EQ(actions[0].action, "user.update");
  EXPECT_EQ(actions[0].account, "op@ega.go.tz");
}

TEST_F(AdminApiTest, ATokensExpiryIsCheckedAndShown) {
  http::HttpResponse r =
      Call("POST", "/api/v1/tokens", "auditor", R"({"name":"t","expires_in_days":366})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("365 days"), std::string::npos) << r.body;
  r = Call("POST", "/api/v1/tokens", "auditor", R"({"name":"t","expires_in_days":"soon"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("'expires_in_days' must be a whole number"), std::string::npos) << r.body;
  r = Call("POST", "/api/v1/tokens", "auditor", R"({"name":"t","expires_in_days":2})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json::parse(r.body).at("expires_at"), "2023-11-16T22:13:20Z");
  r = Call("POST", "/api/v1/tokens", "auditor", R"({"name":"u"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(json::parse(r.body).at("expires_at").is_null());
  json::array listed = json::parse(Call("GET", "/api/v1/tokens", "auditor").body).as_array();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].at("expires_at"), "2023-11-16T22:13:20Z");
  EXPECT_EQ(listed[0].at("state"), "active");
}

// The real authenticator (over the accounts): an expired token is refused with words.
TEST_F(AdminApiTest, AnExpiredTokenGets401SayingItExpired) {
  SessionAuthenticator real(*accounts_);
  AdminApi api(*service_, accounts_.get(), real, &clock_, db_.get());
  Result<accounts::NewSession> session = accounts_->Login(
      {.email = "audit@nao.go.tz", .password = "correct horse battery", .address = "x"});
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  const admin::Actor auditor = accounts_->Authenticate(session->token, "x")->actor;
  Result<accounts::NewApiToken> token =
      accounts_->CreateApiToken(auditor, "report", admin::Role::kAuditor, 1);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  http::HttpRequest r;
  r.method = "GET";
  r.target = "/api/v1/institutions";
  r.remote_address = "10.9.8.7";
  r.authorization = "Bearer " + token->secret;
  EXPECT_EQ(api.Handle(r).status, 200);
  clock_.Advance(std::chrono::hours(24));
  http::HttpResponse refused = api.Handle(r);
  EXPECT_EQ(refused.status, 401);
  EXPECT_NE(refused.body.find("expired"), std::string::npos) << refused.body;
}

TEST_F(AdminApiTest, ANewSystemsSecretIsShownOnceAndTheActionNamesTheCaller) {
  http::HttpResponse r = Call("POST", "/api/v1/systems", "rita",
                              R"({"institution":"RITA","name":"Deaths","public_key":")" + NewKey() +
                                  R"(","endpoint":"https://rita/deaths"})");
  ASSERT_EQ(r.status, 201) << r.body;
  json::object created = json::parse(r.body).as_object();
  EXPECT_EQ(created.at("client_secret").as_string().size(), 32u);
  std::string id(created.at("client_id").as_string());
  http::HttpResponse again = Call("GET", "/api/v1/systems/" + id, "rita");
  EXPECT_EQ(again.body.find("client_secret"), std::string::npos);
  http::HttpResponse actions = Call("GET", "/api/v1/actions?object=system:" + id, "operator");
  ASSERT_EQ(actions.status, 200);
  json::array list = json::parse(actions.body).as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("account"), "admin@rita.go.tz");
  EXPECT_EQ(list[0].at("address"), "10.9.8.7");
  EXPECT_EQ(list[0].at("via"), "api");
  EXPECT_EQ(list[0].at("action"), "system.add");
  EXPECT_EQ(r.body.find(std::string(list[0].at("detail_sha256").as_string())), std::string::npos);
}

std::string ApplicationBody(const std::string& code, const std::string& email) {
  return R"({"institution_code":")" + code + R"(","institution_name":"Applicant )" + code +
         R"(","details":"A public body","contact_name":"Asha Mussa","contact_email":")" + email +
         R"(","planned_systems":[{"name":"Identity","description":"looks up births"}]})";
}

TEST_F(AdminApiTest, MembershipApplicationsAreLimitedPerAddressWithRetryAfter) {
  address_ = "192.0.2.7";
  for (const char* code : {"TRA", "ZRA", "BOT"}) {
    http::HttpResponse r =
        Call("POST", "/api/v1/applications", "", ApplicationBody(code, "it@example.go.tz"));
    EXPECT_EQ(r.status, 201) << r.body;
  }
  http::HttpResponse refused =
      Call("POST", "/api/v1/applications", "", ApplicationBody("TPA", "it@example.go.tz"));
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_NE(refused.body.find("resource_exhausted"), std::string::npos) << refused.body;
  std::string retry_after;
  for (const auto& [name, value] : refused.headers) {
    if (name == "Retry-After") retry_after = value;
  }
  EXPECT_EQ(retry_after, "20");
  EXPECT_EQ(service_->ListApplications(kOperator, "pending")->size(), 4u);  // NIDA's and 3
  // Bad forms count too; another address is not affected; the bucket refills.
  EXPECT_EQ(Call("POST", "/api/v1/applications", "", "{}").status, 429);
  address_ = "192.0.2.8";
  EXPECT_EQ(Call("POST", "/api/v1/applications", "", ApplicationBody("TPA", "it@tpa.go.tz")).status,
            201);
  address_ = "192.0.2.7";
  clock_.Advance(std::chrono::seconds(20));
  EXPECT_EQ(
      Call("POST", "/api/v1/applications", "", ApplicationBody("TTCL", "it@ttcl.go.tz")).status,
      201);
}

TEST_F(AdminApiTest, AcceptingCreatesTheFirstAdminAccountInTheSameTransaction) {
  // The contact already has an account: nothing changes, and the answer says why and what to do.
  ASSERT_TRUE(service_
                  ->ApplyForMembership(admin::Actor::Applicant("clerk@moh.go.tz", "10.1.1.2"),
                                       {.institution_code = "ZHC",
                                        .institution_name = "Zanzibar Health",
                                        .details = "Health services",
                                        .contact_name = "Clerk",
                                        .contact_email = "clerk@moh.go.tz",
                                        .contact_phone = "",
                                        .planned_systems = {{.name = "Clinics"}}})
                  .ok());
  const size_t actions = service_->ListActions(kOperator, {})->size();
  http::HttpResponse r = Call("POST", "/api/v1/applications/2/accept", "operator");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("not accepted and nothing changed"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("create_admin_account"), std::string::npos) << r.body;
  EXPECT_EQ(service_->ListApplications(kOperator, "pending")->size(), 2u);
  auto institutions = service_->ListInstitutions(kOperator);
  ASSERT_TRUE(institutions.ok());
  for (const registry::Institution& i : *institutions) {
    EXPECT_NE(i.code, "ZHC");
  }
  EXPECT_EQ(service_->ListActions(kOperator, {})->size(), actions);
  // Without the account: accepted, and the answer says there is none.
  r = Call("POST", "/api/v1/applications/2/accept", "operator",
           R"({"create_admin_account":false})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::object accepted = json::parse(r.body).as_object();
  EXPECT_EQ(accepted.at("application").at("state"), "accepted");
  EXPECT_EQ(accepted.at("institution").at("code"), "ZHC");
  EXPECT_TRUE(accepted.at("admin_account").is_null());
  // NIDA's: the account is created with a one-time password, shown once, that signs in.
  r = Call("POST", "/api/v1/applications/1/accept", "operator");
  ASSERT_EQ(r.status, 200) << r.body;
  accepted = json::parse(r.body).as_object();
  EXPECT_TRUE(accepted.at("admin_account_error").is_null());
  const json::object& account = accepted.at("admin_account").as_object();
  EXPECT_EQ(account.at("email"), "admin@nida.go.tz");
  EXPECT_EQ(account.at("role"), "institution-admin");
  EXPECT_EQ(account.at("institution"), "NIDA");
  std::string password(account.at("one_time_password").as_string());
  EXPECT_GE(password.size(), 12u);
  r = Call("POST", "/api/v1/session", "",
           R"({"email":"admin@nida.go.tz","password":")" + password + R"("})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("must_change_password"), true);
}

TEST_F(AdminApiTest, WithoutTheSharedConnectionAFailedAccountIsReportedAndTheAcceptanceStands) {
  AdminApi separate(*service_, accounts_.get(), auth_, &clock_, /*db=*/nullptr);
  ASSERT_TRUE(accounts_
                  ->CreateUser(kOperator, {.email = "admin@nida.go.tz",
                                           .display_name = {},
                                           .role = admin::Role::kAuditor,
                                           .institution = {},
                                           .password = {}})
                  .ok());
  http::HttpRequest request;
  request.method = "POST";
  request.target = "/api/v1/applications/1/accept";
  request.authorization = "Bearer operator";
  request.remote_address = "10.9.8.7";
  http::HttpResponse r = separate.Handle(request);
  ASSERT_EQ(r.status, 200) << r.body;
  json::object accepted = json::parse(r.body).as_object();
  EXPECT_EQ(accepted.at("institution").at("code"), "NIDA");
  EXPECT_TRUE(accepted.at("admin_account").is_null());
  EXPECT_NE(std::string(accepted.at("admin_account_error").as_string()).find("POST /api/v1/users"),
            std::string::npos);
}

// The onboarding story through the HTTP layer: NIDA applies, the operator accepts, NIDA's
// admin registers a system and asks for RITA's API, RITA refuses, NIDA asks again, RITA
// approves; the record of actions names each step's account.
TEST_F(AdminApiTest, AnInstitutionAppliesIsAcceptedAndGetsAccessAfterARefusal) {
  ASSERT_TRUE(service_->RefuseApplication(kOperator, 1, "sent twice").ok());  // SetUp's
  address_ = "198.51.100.4";
  http::HttpResponse r =
      Call("POST", "/api/v1/applications", "", ApplicationBody("NIDA", "admin@nida.go.tz"));
  ASSERT_EQ(r.status, 201) << r.body;
  const int64_t id = json::parse(r.body).at("id").as_int64();
  address_ = "10.9.8.7";
  r = Call("GET", "/api/v1/applications", "operator");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body).as_array().size(), 2u);
  r = Call("POST", "/api/v1/applications/" + std::to_string(id) + "/accept", "operator");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(json::parse(r.body).at("admin_account").at("one_time_password").as_string().empty());
  ASSERT_TRUE(accounts_->GetUser(kOperator, "admin@nida.go.tz").ok());

  r = Call("POST", "/api/v1/systems", "nida",
           R"({"institution":"NIDA","name":"Identity","public_key":")" + NewKey() +
               R"(","endpoint":"https://nida/api"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string nida(json::parse(r.body).at("client_id").as_string());
  const std::string ask =
      R"({"consumer":")" + nida + R"(","api":"BRTH02","purpose":"verify births for IDs"})";
  r = Call("POST", "/api/v1/access-requests", "nida", ask);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json::parse(r.body).at("state"), "pending");
  r = Call("GET", "/api/v1/access-requests", "rita");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(nida), std::string::npos) << r.body;  // RITA sees the request to it
  const std::string grant = "/api/v1/grants/" + nida + "/BRTH02";
  r = Call("POST", grant + "/refuse", "rita", R"({"reason":"name the legal basis"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("state"), "refused");
  EXPECT_EQ(json::parse(r.body).at("reason"), "name the legal basis");
  r = Call("POST", "/api/v1/access-requests", "nida",
           R"({"consumer":")" + nida +
               R"j(","api":"BRTH02","purpose":"verify births for IDs (Registration Act s.12)"})j");
  ASSERT_EQ(r.status, 201) << r.body;
  r = Call("POST", grant + "/approve", "rita");
  ASSERT_EQ(r.status, 200) << r.body;
  json::object approved = json::parse(r.body).as_object();
  EXPECT_EQ(approved.at("state"), "approved");
  EXPECT_EQ(approved.at("requested_by"), "admin@nida.go.tz");
  EXPECT_EQ(approved.at("purpose"), "verify births for IDs (Registration Act s.12)");
  EXPECT_EQ(approved.at("decided_by"), "admin@rita.go.tz");

  r = Call("GET", "/api/v1/actions?limit=1000", "operator");
  ASSERT_EQ(r.status, 200);
  std::vector<std::pair<std::string, std::string>> steps;  // oldest first
  const std::string application = "application:" + std::to_string(id);
  const json::value actions = json::parse(r.body);
  for (const json::value& a : actions.as_array()) {
    const std::string object(a.at("object").as_string());
    if (object == application || object == "user:admin@nida.go.tz" || object == "system:" + nida ||
        object == "grant:" + nida + ":BRTH02") {
      steps.insert(steps.begin(), {std::string(a.at("action").as_string()),
                                   std::string(a.at("account").as_string())});
    }
  }
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"application.submit", "applicant:admin@nida.go.tz"},
      {"application.accept", "op@ega.go.tz"},
      {"user.add", "op@ega.go.tz"},
      {"system.add", "admin@nida.go.tz"},
      {"grant.request", "admin@nida.go.tz"},
      {"grant.refuse", "admin@rita.go.tz"},
      {"grant.request", "admin@nida.go.tz"},
      {"grant.approve-request", "admin@rita.go.tz"},
  };
  EXPECT_EQ(steps, expected) << r.body;
}

TEST_F(AdminApiTest, APersonsAccessReportIsTheSignedFileToSave) {
  // No exchange carried the identifier here: an empty report, signed all the same.
  http::HttpResponse r =
      Call("POST", "/api/v1/subject-reports", "auditor",
           R"({"user_id":"19900101-12345-00001-12","from":"2023-11-01T00:00:00Z",)"
           R"("to":1800000000000})",
           /*session=*/true);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = json::parse(r.body);
  EXPECT_EQ(v.at("format"), "json");
  EXPECT_EQ(v.at("content_type"), "application/json");
  EXPECT_EQ(v.at("exchanges").as_int64(), 0);
  EXPECT_EQ(v.at("file_name"), "access-report-19900101-12345-00001-12-2023-11-14.json");
  const std::string content(v.at("content").as_string());
  auto checked = evidence::CheckSubjectReport(content, {bus_key_.public_key()});
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_EQ(checked->report.from_ms, 1'698'796'800'000);
  EXPECT_EQ(checked->report.to_ms, 1'800'000'000'000);
  EXPECT_EQ(checked->key_id, v.at("key_id").as_string());

  r = Call("POST", "/api/v1/subject-reports", "operator",
           R"({"user_id":"19900101-12345-00001-12","format":"html"})");
  ASSERT_EQ(r.status, 200) << r.body;
  v = json::parse(r.body);
  EXPECT_EQ(v.at("content_type"), "text/html; charset=utf-8");
  auto page = evidence::CheckSubjectReport(std::string(v.at("content").as_string()),
                                           {bus_key_.public_key()});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->html);

  for (const char* bad :
       {R"({"user_id":""})", R"({"format":"json"})", R"({"user_id":"1990","format":"pdf"})",
        R"({"user_id":"1990","from":2000,"to":1000})",
        R"({"user_id":"1990","from":"yesterday"})"}) {
    r = Call("POST", "/api/v1/subject-reports", "auditor", bad);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
  }
  r = Call("POST", "/api/v1/subject-reports", "auditor",
           R"({"user_id":")" + std::string(129, '7') + R"("})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("at most 128"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace govesb::adminapi
