// End to end: admin actions made while the bus runs (and while it is stopped) reach its
// hash-chained evidence log as records of kind "admin", each exactly once, and the log stays
// intact.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "admin/journal.h"
#include "admin/service.h"
#include "base/encoding.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "evidence/log.h"
#include "evidence/search.h"
#include "server/bus_server.h"
#include "store/data_dir.h"

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

}  // namespace
}  // namespace govesb
