// End to end: a backup taken while a real bus (in process, on port 0) accepts pushes and
// delivers them to a subscriber, restored and served again; and a data directory of the
// previous release's format migrated, one of a future format refused; the bus key rotated while
// pushes flow.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "backup/backup.h"
#include "crypto/key_ring.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "delivery/sqlite_queue.h"
#include "evidence/chain.h"
#include "evidence/log.h"
#include "evidence/query.h"
#include "evidence/record.h"
#include "govesb/client.h"
#include "registry/registry.h"
#include "server/bus_server.h"
#include "store/data_dir.h"
#include "store/data_dir_format.h"
#include "support/test_http_client.h"
#include "support/test_receiver.h"

namespace govesb {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using testing::TestReceiver;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Party {
  std::optional<crypto::PrivateKey> key;
  std::string client_id;
  std::string secret;
};

class DataDirLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("govesb-backup-" + crypto::NewRequestId());
    fs::create_directories(root_);
    data_ = (root_ / "data").string();
    auto dir = store::DataDir::Open({.path = data_});
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    bus_key_.emplace(dir->bus_key().public_key());
    auto db = dir->OpenDatabase();
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    ASSERT_TRUE(registry::Registry::Migrate(*db_).ok());
    registry::RegistryOptions ropts;
    ropts.hash_secret = [](std::string_view s) { return crypto::HashSecretForTest(s); };
    registry_.emplace(*db_, ropts);
    ASSERT_TRUE(registry_->AddInstitution("RITA", "Registration Agency").ok());
    ASSERT_TRUE(registry_->AddInstitution("MOH", "Ministry of Health").ok());
    publisher_ = Register("RITA", "Birth registry");
    subscriber_ = Register("MOH", "Health records");
    rx_ = std::make_unique<TestReceiver>(*subscriber_.key, *bus_key_);
    ASSERT_TRUE(registry_->AddTopic(publisher_.client_id, "BIRTHS").ok());
    ASSERT_TRUE(registry_->AddSubscription(subscriber_.client_id, "BIRTHS", rx_->url()).ok());
    registry_.reset();
    db_.reset();
  }

  void TearDown() override {
    bus_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  Party Register(const std::string& institution, const std::string& name) {
    auto key = crypto::PrivateKey::Generate(crypto::Curve::kP256);
    GOVESB_CHECK(key.ok());
    auto added = registry_->AddSystem(institution, name, key->public_key().SpkiBase64(),
                                      "http://127.0.0.1:9/unused");
    GOVESB_CHECK(added.ok());
    return Party{std::move(*key), added->system.client_id, added->client_secret};
  }

  Status StartBus(const std::string& data_dir) {
    server::ServeOptions o;
    o.data_dir = data_dir;
    o.listen = "127.0.0.1:0";
    o.plain_http = true;
    o.io_threads = 2;
    o.delivery.retry_base = milliseconds(100);
    o.delivery.retry_max = milliseconds(400);
    o.delivery.poll_interval = milliseconds(50);
    o.checkpoint_interval = std::chrono::seconds(1);
    if (system_rate_) o.guards.system_rate = *system_rate_;
    bus_ = std::make_unique<server::BusServer>(o);
    return bus_->Start();
  }

  std::unique_ptr<sdk::Client> Publisher() {
    sdk::ClientOptions o;
    o.bus_url = bus_->base_url();
    o.client_id = publisher_.client_id;
    o.client_secret = publisher_.secret;
    o.private_key = publisher_.key->Pkcs8Base64();
    o.bus_public_key = bus_->bus_public_key();
    auto client = sdk::Client::Create(o);
    GOVESB_CHECK(client.ok());
    return std::move(client).value();
  }

  // What a restored (or migrated) directory must show: its evidence intact, as `audit verify`
  // checks it, and each of `request_ids` a stored push with its deliveries and evidence.
  void ExpectHolds(const std::string& data_dir, const std::vector<std::string>& request_ids) {
    auto db = store::Database::Open(data_dir + "/govesb.db", {.create = false});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto report = evidence::Verify(**db, *bus_key_, data_dir + "/evidence-archive");
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->intact) << report->problem;
    EXPECT_GE(report->records, static_cast<int64_t>(2 * request_ids.size()));
    auto stored = (*db)->Prepare(
        "SELECT count(*), min(d.state) FROM delivery_messages m"
        " JOIN deliveries d ON d.message_id = m.id WHERE m.request_id = ?");
    ASSERT_TRUE(stored.ok());
    for (const std::string& id : request_ids) {
      ASSERT_TRUE(stored->Reset().ok());
      ASSERT_TRUE(stored->Bind(1, id).ok());
      ASSERT_TRUE(*stored->Step());
      EXPECT_EQ(stored->ColumnInt64(0), 1) << id << " is not in the delivery queue";
      const std::string state = stored->ColumnText(1);
      EXPECT_TRUE(state == "pending" || state == "delivered") << id << ": " << state;
      evidence::QueryFilter filter;
      filter.request_id = id;
      auto records = evidence::QueryRecords(**db, filter, data_dir + "/evidence-archive");
      ASSERT_TRUE(records.ok());
      ASSERT_FALSE(records->empty()) << id << " has no evidence";
      EXPECT_EQ(evidence::CanonicalMember(records->front(), "kind"), "push") << id;
    }
  }

  fs::path root_;
  std::string data_;
  std::optional<crypto::PublicKey> bus_key_;
  std::unique_ptr<store::Database> db_;
  std::optional<registry::Registry> registry_;
  Party publisher_;
  Party subscriber_;
  std::unique_ptr<TestReceiver> rx_;
  std::unique_ptr<server::BusServer> bus_;
  // A load that runs for seconds needs more than a system's default rate (set before StartBus).
  std::optional<limits::Rate> system_rate_;
};

// Pushes from `threads` clients until stopped, recording the request id of each accepted one
// once its acceptance has been answered.
class PushLoad {
 public:
  PushLoad(std::vector<std::unique_ptr<sdk::Client>> clients) : clients_(std::move(clients)) {
    for (size_t k = 0; k < clients_.size(); ++k) {
      threads_.emplace_back([this, k, c = clients_[k].get()] {
        for (int i = 0; !stop_; ++i) {
          // Each body its own: the bus refuses the same signed data twice (replay).
          auto r = c->Push(
              "BIRTHS", "{\"client\":" + std::to_string(k) + ",\"n\":" + std::to_string(i) + "}");
          if (!r.ok() || !r->success) {
            std::lock_guard lock(mutex_);
            if (failures_++ == 0) first_failure_ = r.ok() ? r->message : r.error().message;
            continue;
          }
          std::lock_guard lock(mutex_);
          accepted_.push_back(r->request_id);
          changed_.notify_all();
        }
      });
    }
  }
  ~PushLoad() { Stop(); }
  // Waits until `n` pushes were accepted in all; false after 20 s.
  bool WaitFor(size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(20), [&] { return accepted_.size() >= n; });
  }
  std::vector<std::string> Accepted() {
    std::lock_guard lock(mutex_);
    return accepted_;
  }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int failures() const { return failures_; }
  std::string first_failure() {
    std::lock_guard lock(mutex_);
    return first_failure_;
  }

 private:
  std::vector<std::unique_ptr<sdk::Client>> clients_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failures_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> accepted_;
  std::string first_failure_;
};

TEST_F(DataDirLifecycleTest, ABackupTakenUnderLoadRestoresEveryAcceptedPushIntact) {
  ASSERT_TRUE(StartBus(data_).ok());
  std::vector<std::unique_ptr<sdk::Client>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(Publisher());
  PushLoad load(std::move(clients));
  ASSERT_TRUE(load.WaitFor(60));
  // Every push answered before the backup begins must be in it.
  const std::vector<std::string> before = load.Accepted();
  const std::string out = (root_ / "bus.tar.gz").string();
  auto made = backup::MakeBackup({.data_dir = data_, .out = out});
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  // The load went on during the backup and after it.
  ASSERT_TRUE(load.WaitFor(load.Accepted().size() + 30));
  load.Stop();
  EXPECT_EQ(load.failures(), 0) << load.first_failure();
  bus_->Shutdown();
  bus_.reset();
  EXPECT_GT(made->manifest.evidence_live_through, static_cast<int64_t>(2 * before.size()) - 1);

  const std::string restored = (root_ / "restored").string();
  auto back = backup::RestoreBackup({.in = out, .data_dir = restored});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectHolds(restored, before);

  // A bus on the restored directory: it accepts and delivers, and its evidence stays intact.
  const size_t delivered = rx_->count();
  ASSERT_TRUE(StartBus(restored).ok());
  auto pushed = Publisher()->Push("BIRTHS", R"({"after":"restore"})");
  ASSERT_TRUE(pushed.ok());
  ASSERT_TRUE(pushed->success);
  ASSERT_TRUE(rx_->WaitFor(delivered + 1));
  bus_->Shutdown();
  bus_.reset();
  std::vector<std::string> all = before;
  all.push_back(pushed->request_id);
  ExpectHolds(restored, all);
}

// The bus key rotated while pushes flow, with evidence on: the new key is staged (published,
// not signing), the publishers and the subscriber are given it beside the old one, then it is
// activated in the middle of the traffic. Nothing fails, every delivery carries a good bus
// signature, the checkpoints before and after name their keys, and the evidence log verifies
// with the ring's keys across the rotation (as `govesb audit verify` checks it).
TEST_F(DataDirLifecycleTest, TheBusKeyRotatesInTheMiddleOfTrafficAndEvidenceStaysIntact) {
  auto dir = store::DataDir::Open({.path = data_, .create = false});
  ASSERT_TRUE(dir.ok());
  const std::string old_key = bus_key_->SpkiBase64();
  const crypto::PrivateKey next = *crypto::PrivateKey::Generate(crypto::Curve::kP256);
  const std::string next_key = next.public_key().SpkiBase64();
  // The subscriber accepts both keys (it was given the staged key before activation).
  const uint16_t port = rx_->port();
  rx_.reset();
  rx_ = std::make_unique<TestReceiver>(*subscriber_.key,
                                       crypto::KeySet({*bus_key_, next.public_key()}), port);
  // The pushes go on for seconds (until a checkpoint, then past the switch), unthrottled.
  system_rate_ = limits::Rate{1'000'000, 1'000'000};
  ASSERT_TRUE(StartBus(data_).ok());

  auto now_ms = [] {
    return std::chrono::duration_cast<milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  auto esb_key = [&] {
    auto r = testing::HttpCall("GET", bus_->base_url() + "/esb-key", "", {});
    GOVESB_CHECK(r.ok());
    return r->body;
  };
  // Staged: published beside the current key, the bus still signs with the old one.
  ASSERT_TRUE(dir->UpdateKeyRing([&](const crypto::KeyRing& ring) {
                   return ring.Stage(next, now_ms(), 3'600'000);
                 })
                  .ok());
  auto eventually = [](auto pred) {
    for (int i = 0; i < 100; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return false;
  };
  ASSERT_TRUE(eventually([&] {
    return esb_key().find("\"status\":\"staged\"") != std::string::npos;
  })) << esb_key();
  EXPECT_NE(esb_key().find(next_key), std::string::npos);
  EXPECT_EQ(bus_->bus_public_key(), old_key);

  std::vector<std::unique_ptr<sdk::Client>> clients;
  for (int i = 0; i < 2; ++i) {
    sdk::ClientOptions o;
    o.bus_url = bus_->base_url();
    o.client_id = publisher_.client_id;
    o.client_secret = publisher_.secret;
    o.private_key = publisher_.key->Pkcs8Base64();
    o.esb_public_key = old_key;
    o.esb_extra_public_keys = {next_key};
    clients.push_back(std::move(sdk::Client::Create(o)).value());
  }
  PushLoad load(std::move(clients));
  ASSERT_TRUE(load.WaitFor(30));
  // A checkpoint by the old key while the traffic flows (every second), then the activation.
  auto watch = store::Database::Open(data_ + "/govesb.db", {.create = false});
  ASSERT_TRUE(watch.ok());
  auto checkpoints = [&] {
    auto count = (*watch)->Prepare("SELECT count(*) FROM evidence_checkpoints");
    return count.ok() && *count->Step() ? count->ColumnInt64(0) : 0;
  };
  ASSERT_TRUE(eventually([&] { return checkpoints() >= 1; }));
  ASSERT_TRUE(dir->UpdateKeyRing(
                     [&](const crypto::KeyRing& ring) { return ring.Activate(now_ms(), now_ms()); })
                  .ok());
  ASSERT_TRUE(eventually([&] { return bus_->bus_public_key() == next_key; }));
  const size_t at_rotation = load.Accepted().size();
  ASSERT_TRUE(load.WaitFor(at_rotation + 40));
  load.Stop();
  EXPECT_EQ(load.failures(), 0) << load.first_failure();
  const std::vector<std::string> accepted = load.Accepted();
  ASSERT_TRUE(rx_->WaitFor(accepted.size()));
  for (const TestReceiver::Received& r : rx_->received()) {
    EXPECT_TRUE(r.bus_signature_ok) << r.request_id;
  }
  // The old key is in its overlap, still published.
  const std::string published = esb_key();
  EXPECT_NE(published.find("\"public_key\":\"" + next_key), std::string::npos) << published;
  EXPECT_NE(published.find("\"status\":\"overlap\""), std::string::npos) << published;
  bus_->Shutdown();  // seals the rest with the new key
  bus_.reset();

  // Checkpoints by both keys, each naming its own; the log verifies with the ring's keys.
  auto ring = dir->ReadKeyRing();
  ASSERT_TRUE(ring.ok());
  auto db = store::Database::Open(data_ + "/govesb.db", {.create = false});
  ASSERT_TRUE(db.ok());
  auto bodies = (*db)->Prepare("SELECT body FROM evidence_checkpoints ORDER BY id");
  ASSERT_TRUE(bodies.ok());
  std::set<std::string> signed_by;
  while (*bodies->Step()) signed_by.insert(evidence::CheckpointKeyId(bodies->ColumnText(0)));
  EXPECT_EQ(signed_by,
            (std::set<std::string>{crypto::KeyId(*bus_key_), crypto::KeyId(next.public_key())}));
  auto report = evidence::Verify(**db, ring->VerifyingKeys(now_ms()), data_ + "/evidence-archive");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->intact) << report->problem;
  EXPECT_GE(report->records, static_cast<int64_t>(2 * accepted.size()));
  auto new_only = evidence::Verify(**db, next.public_key(), data_ + "/evidence-archive");
  ASSERT_TRUE(new_only.ok());
  EXPECT_FALSE(new_only->intact) << "the checkpoints before the rotation need the old key";
}

// Every file and directory under `dir` with its bytes, mode and modification time.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st {};
    GOVESB_CHECK(::lstat(e.path().c_str(), &st) == 0);
    std::string state = std::to_string(st.st_mtim.tv_sec) + "." +
                        std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_mode);
    if (e.is_regular_file()) state += " " + ReadFile(e.path());
    out[fs::relative(e.path(), dir).string()] = state;
  }
  return out;
}

TEST_F(DataDirLifecycleTest, ADirectoryOfThePreviousReleaseIsMigratedAndKeepsWorking) {
  ASSERT_TRUE(StartBus(data_).ok());
  std::vector<std::string> pushed;
  {
    auto client = Publisher();
    for (int i = 0; i < 3; ++i) {
      auto r = client->Push("BIRTHS", "{\"before\":" + std::to_string(i) + "}");
      ASSERT_TRUE(r.ok() && r->success);
      pushed.push_back(r->request_id);
    }
  }
  bus_->Shutdown();
  bus_.reset();
  // What the previous release leaves: no format file, and the bus key alone in
  // keys/esb-private-key.b64 (format 1).
  ASSERT_TRUE(fs::remove(data_ + "/format"));
  const std::string signing_key = bus_key_->SpkiBase64();
  {
    auto dir = store::DataDir::Open({.path = data_, .create = false});
    ASSERT_TRUE(dir.ok());
    std::ofstream(data_ + "/keys/esb-private-key.b64") << dir->bus_key().Pkcs8Base64() << "\n";
    ASSERT_TRUE(fs::remove(data_ + "/keys/esb-keys.json"));
    ASSERT_TRUE(fs::remove(data_ + "/format"));  // the open above stamped it again
  }
  auto legacy = store::ReadDataDirFormat(data_);
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(legacy->version, 1);
  EXPECT_FALSE(legacy->recorded);

  ASSERT_TRUE(StartBus(data_).ok());
  auto stamped = store::ReadDataDirFormat(data_);
  ASSERT_TRUE(stamped.ok());
  EXPECT_TRUE(stamped->recorded);
  EXPECT_EQ(stamped->version, store::kDataDirFormat);
  // The key moved into the key ring, and the bus signs with it as before.
  EXPECT_EQ(bus_->bus_public_key(), signing_key);
  EXPECT_TRUE(fs::exists(data_ + "/keys/esb-keys.json"));
  EXPECT_FALSE(fs::exists(data_ + "/keys/esb-private-key.b64"));
  auto r = Publisher()->Push("BIRTHS", R"({"after":"upgrade"})");
  ASSERT_TRUE(r.ok() && r->success);
  pushed.push_back(r->request_id);
  ASSERT_TRUE(rx_->WaitFor(pushed.size()));
  bus_->Shutdown();
  bus_.reset();
  ExpectHolds(data_, pushed);
}

TEST_F(DataDirLifecycleTest, ADirectoryOfAFutureFormatIsRefusedAndLeftAsItIs) {
  ASSERT_TRUE(StartBus(data_).ok());
  ASSERT_TRUE(Publisher()->Push("BIRTHS", "{}").ok());
  bus_->Shutdown();
  bus_.reset();
  const int64_t future = store::kDataDirFormat + 1;
  std::ofstream(data_ + "/format", std::ios::trunc)
      << "govesb-data-dir " << future << "\nwritten-by govesb 7.0.0\n";
  const auto before = Snapshot(data_);

  Status started = StartBus(data_);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.code(), StatusCode::kFailedPrecondition);
  const std::string& message = started.message();
  EXPECT_NE(message.find("format version " + std::to_string(future)), std::string::npos) << message;
  EXPECT_NE(message.find("up to version " + std::to_string(store::kDataDirFormat)),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("govesb 7.0.0"), std::string::npos) << message;
  EXPECT_NE(message.find("use a govesb at least as new"), std::string::npos) << message;
  bus_.reset();
  EXPECT_EQ(Snapshot(data_), before) << "nothing in the directory was changed";
  // Nor does a backup take it.
  auto made = backup::MakeBackup({.data_dir = data_, .out = (root_ / "b.tar").string()});
  EXPECT_EQ(made.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Snapshot(data_), before);
}

}  // namespace
}  // namespace govesb
