// End to end: admin actions made while the bus runs (and while it is stopped) reach its
// hash-chained evidence log as records of kind "admin", each exactly once, and the log stays
// intact.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "accounts/accounts.h"
#include "admin/journal.h"
#include "admin/service.h"
#include "base/encoding.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "evidence/log.h"
#include "evidence/search.h"
#include "server/bus_server.h"
#include "store/data_dir.h"
#include "support/test_http_client.h"

namespace govesb {
namespace {

namespace fs = std::filesystem;

class AdminEvidenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("govesb-admin-" + crypto::NewRequestId());
    auto data_dir = store::DataDir::Open({.path = dir_.string()});
    ASSERT_TRUE(data_dir.ok()) << data_dir.status().ToString();
    bus_key_.emplace(data_dir->bus_key().public_key());
    db_ = std::move(data_dir->OpenDatabase()).value();
    ASSERT_TRUE(admin::MigrateAll(*db_).ok());
    service_ = std::make_unique<admin::AdminService>(
        *db_, admin::ServiceOptions{.clock = nullptr, .hash_secret = [](std::string_view s) {
                                      return crypto::HashSecretForTest(s);
                                    }});
    options_.data_dir = dir_.string();
    options_.listen = "127.0.0.1:0";
    options_.plain_http = true;
    options_.io_threads = 1;
  }
  void TearDown() override {
    bus_.reset();
    service_.reset();
    db_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void StartBus() {
    bus_ = std::make_unique<server::BusServer>(options_);
    Status s = bus_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  bool EventuallyNothingPending() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (*admin::PendingActionCount(*db_) == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::vector<evidence::FoundRecord> AdminRecords() {
    evidence::SearchFilter f;
    f.kind = "admin";
    f.page_size = 500;
    auto page = evidence::Search(*db_, f, "");
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->records : std::vector<evidence::FoundRecord>{};
  }

  fs::path dir_;
  std::optional<crypto::PublicKey> bus_key_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<admin::AdminService> service_;
  server::ServeOptions options_;
  std::unique_ptr<server::BusServer> bus_;
};

TEST_F(AdminEvidenceTest, ActionsReachTheEvidenceLogOnceWhetherTheBusRanOrNot) {
  const admin::Actor op = admin::Actor::LocalOperator();
  // Made while the bus is stopped: they wait in the registry database.
  ASSERT_TRUE(service_->AddInstitution(op, "RITA", "Registration Agency").ok());
  auto key = crypto::PrivateKey::Generate(crypto::Curve::kP256)->public_key().SpkiBase64();
  auto system = service_->AddSystem(op, "RITA", "Births", key, "https://rita/api");
  ASSERT_TRUE(system.ok());
  EXPECT_EQ(*admin::PendingActionCount(*db_), 2);

  StartBus();
  ASSERT_TRUE(EventuallyNothingPending());
  // Made while it runs.
  ASSERT_TRUE(service_->DisableSystem(op, system->system.client_id).ok());
  ASSERT_TRUE(EventuallyNothingPending());
  bus_->Shutdown();
  StartBus();  // a restart moves nothing twice
  bus_->Shutdown();

  std::vector<evidence::FoundRecord> records = AdminRecords();
  auto actions = admin::ListActions(*db_, {});
  ASSERT_TRUE(actions.ok());
  ASSERT_EQ(actions->size(), 3u);
  ASSERT_EQ(records.size(), 3u);
  for (const admin::ActionRecord& a : *actions) {
    bool found = false;
    for (const evidence::FoundRecord& r : records) {
      if (r.record.request_id != a.request_id) continue;
      found = true;
      EXPECT_EQ(r.record.kind, "admin");
      EXPECT_EQ(r.record.from, op.account);
      EXPECT_EQ(r.record.to, a.object);
      EXPECT_EQ(r.record.code, a.action);
      // The sealed hash is the hash of the row's detail: altering the row would show.
      EXPECT_EQ(r.record.body_sha256, HexEncode(crypto::Sha256(a.detail)));
    }
    EXPECT_TRUE(found) << a.action;
  }
  auto report = evidence::Verify(*db_, *bus_key_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->intact) << report->problem;
}

// The admin listener over TLS: sign-in with a real account, the session cookie's attributes,
// CSRF, the record of the change, sign-out, and an API token used and revoked.
TEST_F(AdminEvidenceTest, TheAdminListenerSignsInChangesWithCsrfAndRecordsWhoDidIt) {
  auto fast = [](std::string_view s) { return crypto::HashSecretForTest(s); };
  ASSERT_TRUE(accounts::MigrateAccountsStore(*db_).ok());
  {
    accounts::Accounts accounts(*db_, {.clock = nullptr, .hash_password = fast});
    auto user =
        accounts.CreateUser(admin::Actor::LocalOperator(), {.email = "ops@ega.go.tz",
                                                            .display_name = {},
                                                            .role = admin::Role::kOperator,
                                                            .institution = {},
                                                            .password = "a long enough password"});
    ASSERT_TRUE(user.ok()) << user.status().ToString();
  }
  options_.plain_http = false;
  options_.admin_listen = "127.0.0.1:0";
  options_.admin_password_hasher = fast;
  StartBus();
  const std::string admin = bus_->admin_base_url();
  ASSERT_EQ(admin.rfind("https://127.0.0.1:", 0), 0u) << admin;
  const std::string ca = bus_->ca_file();
  using testing::HttpCall;
  const std::vector<std::pair<std::string, std::string>> json_type = {
      {"Content-Type", "application/json"}};

  // The exchange port serves no admin route.
  auto on_exchange_port = HttpCall("GET", bus_->base_url() + "/api/v1/me", "", {}, ca);
  ASSERT_TRUE(on_exchange_port.ok());
  EXPECT_NE(on_exchange_port->status, 200);

  // The portal at / of the admin listener (never of the exchange port); /api/ stays the API.
  auto page = HttpCall("GET", admin + "/", "", {}, ca);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->Header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page->Header("content-security-policy").find("frame-ancestors 'none'"),
            std::string::npos);
  EXPECT_NE(page->body.find("/assets/app.js"), std::string::npos);
  auto script = HttpCall("GET", admin + "/assets/app.js", "", {}, ca);
  ASSERT_TRUE(script.ok());
  EXPECT_EQ(script->status, 200);
  EXPECT_EQ(script->Header("content-type"), "text/javascript; charset=utf-8");
  // HEAD: the GET's Content-Length and Content-Type, no body.
  for (const auto& [path, got] :
       {std::pair<std::string, const testing::TestResponse*>{"/", &*page},
        std::pair<std::string, const testing::TestResponse*>{"/assets/app.js", &*script}}) {
    auto head = HttpCall("HEAD", admin + path, "", {}, ca);
    ASSERT_TRUE(head.ok()) << path;
    EXPECT_EQ(head->status, 200) << path;
    EXPECT_EQ(head->Header("content-length"), std::to_string(got->body.size())) << path;
    EXPECT_EQ(head->Header("content-type"), got->Header("content-type")) << path;
    EXPECT_TRUE(head->body.empty()) << path;
  }
  auto traversal = HttpCall("GET", admin + "/assets/%2e%2e/index.html", "", {}, ca);
  ASSERT_TRUE(traversal.ok());
  EXPECT_EQ(traversal->status, 404);
  auto unknown_route = HttpCall("GET", admin + "/api/v1/no-such-thing", "", {}, ca);
  ASSERT_TRUE(unknown_route.ok());
  EXPECT_EQ(unknown_route->status, 404);
  EXPECT_EQ(unknown_route->Header("content-type"), "application/json");
  auto exchange_root = HttpCall("GET", bus_->base_url() + "/", "", {}, ca);
  ASSERT_TRUE(exchange_root.ok());
  EXPECT_EQ(exchange_root->body.find("/assets/app.js"), std::string::npos);

  auto wrong = HttpCall("POST", admin + "/api/v1/session",
                        R"({"email":"ops@ega.go.tz","password":"not it at all"})", json_type, ca);
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 401);
  auto login =
      HttpCall("POST", admin + "/api/v1/session",
               R"({"email":"ops@ega.go.tz","password":"a long enough password"})", json_type, ca);
  ASSERT_TRUE(login.ok());
  ASSERT_EQ(login->status, 200) << login->body;
  const std::string set_cookie = login->Header("set-cookie");
  for (const char* attribute : {"HttpOnly", "Secure", "SameSite=Strict", "Path=/"}) {
    EXPECT_NE(set_cookie.find(attribute), std::string::npos) << set_cookie;
  }
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  const std::string csrf(boost::json::parse(login->body).as_object().at("csrf_token").as_string());

  auto add = [&](const std::string& code, bool with_csrf) {
    std::vector<std::pair<std::string, std::string>> h = {{"Content-Type", "application/json"},
                                                          {"Cookie", cookie}};
    if (with_csrf) h.emplace_back("X-CSRF-Token", csrf);
    return HttpCall("POST", admin + "/api/v1/institutions",
                    R"({"code":")" + code + R"(","name":"Revenue Authority"})", h, ca);
  };
  auto no_csrf = add("TRA", false);
  ASSERT_TRUE(no_csrf.ok());
  EXPECT_EQ(no_csrf->status, 403) << no_csrf->body;
  auto added = add("TRA", true);
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(added->status, 201) << added->body;

  // The change is in the record, with the account, its address and "portal", and reaches the
  // evidence log.
  ASSERT_TRUE(EventuallyNothingPending());
  auto actions = admin::ListActions(*db_, {.object = "institution:TRA"});
  ASSERT_TRUE(actions.ok());
  ASSERT_EQ(actions->size(), 1u);
  EXPECT_EQ((*actions)[0].account, "ops@ega.go.tz");
  EXPECT_EQ((*actions)[0].via, "portal");
  EXPECT_EQ((*actions)[0].address, "127.0.0.1");
  EXPECT_TRUE((*actions)[0].evidenced);

  // An API token, used and revoked.
  auto token = HttpCall(
      "POST", admin + "/api/v1/tokens", R"({"name":"nightly"})",
      {{"Content-Type", "application/json"}, {"Cookie", cookie}, {"X-CSRF-Token", csrf}}, ca);
  ASSERT_TRUE(token.ok());
  ASSERT_EQ(token->status, 201) << token->body;
  boost::json::object t = boost::json::parse(token->body).as_object();
  const std::string bearer = "Bearer " + std::string(t.at("token").as_string());
  auto me = HttpCall("GET", admin + "/api/v1/me", "", {{"Authorization", bearer}}, ca);
  ASSERT_TRUE(me.ok());
  EXPECT_EQ(me->status, 200) << me->body;
  auto revoke = HttpCall(
      "POST", admin + "/api/v1/tokens/" + std::to_string(t.at("id").as_int64()) + "/revoke", "",
      {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}, ca);
  ASSERT_TRUE(revoke.ok());
  EXPECT_EQ(revoke->status, 200) << revoke->body;
  me = HttpCall("GET", admin + "/api/v1/me", "", {{"Authorization", bearer}}, ca);
  ASSERT_TRUE(me.ok());
  EXPECT_EQ(me->status, 401);

  // Sign-out ends the session.
  auto out = HttpCall("DELETE", admin + "/api/v1/session", "", {{"Cookie", cookie}}, ca);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->status, 200);
  me = HttpCall("GET", admin + "/api/v1/me", "", {{"Cookie", cookie}}, ca);
  ASSERT_TRUE(me.ok());
  EXPECT_EQ(me->status, 401);
}

// The admin address asked for must be free; the default one, when taken, only costs the admin
// listener (and says so), not the bus.
TEST_F(AdminEvidenceTest, ATakenAdminAddressFailsTheStartOnlyWhenItWasAskedFor) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  options_.admin_listen = "127.0.0.1:" + std::to_string(taken.local_endpoint().port());
  options_.admin_listen_optional = false;
  bus_ = std::make_unique<server::BusServer>(options_);
  Status refused = bus_->Start();
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("admin listener"), std::string::npos) << refused.message();
  bus_.reset();
  options_.admin_listen_optional = true;
  StartBus();
  EXPECT_EQ(bus_->admin_base_url(), "");
  auto health = testing::HttpCall("GET", bus_->base_url() + "/health", "", {});
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
}

}  // namespace
}  // namespace govesb
