#include "bench/evidence_search.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <future>
#include <random>
#include <vector>

#include "bench/json_out.h"
#include "crypto/keys.h"
#include "evidence/log.h"
#include "evidence/search.h"
#include "evidence/segments.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::bench {

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::string RequestId(int64_t i) { return "bench-" + std::to_string(1'000'000'000 + i); }
std::string UserId(int64_t person) { return "19900101-" + std::to_string(10'000'000 + person); }

// Exchange i: one in five is an identity request about person i / 5 % persons.
void AddExchange(int64_t i, int64_t persons, int64_t at_ms, const std::string& signature,
                 std::vector<evidence::Record>& out) {
  const std::string id = RequestId(i);
  const bool identity = i % 5 == 0;
  const std::string user = identity ? UserId((i / 5) % persons) : "";
  const std::string code = identity ? "NIDA01" : "BRTHCRT";
  const std::string consumer = "system-" + std::to_string(i % 40);
  auto step = [&](int64_t offset, const char* kind, const std::string& from,
                  const std::string& to) {
    evidence::Record r;
    r.at_ms = at_ms + offset;
    r.request_id = id;
    r.kind = kind;
    r.from = from;
    r.to = to;
    r.code = code;
    r.user_id = user;
    r.outcome = "ok";
    r.latency_us = 1200 + offset;
    r.size = 1024;
    evidence::AttachSigned(r, id + kind, signature);
    out.push_back(std::move(r));
  };
  step(0, identity ? "nida-request" : "request", consumer, "bus");
  step(1, "delivery", "bus", "provider-1");
  step(2, "reply", "provider-1", "bus");
  step(3, "response", "bus", consumer);
}

EvidenceSearchReport::Latency Summarise(std::vector<double>& ms, int64_t found, size_t n) {
  EvidenceSearchReport::Latency l;
  if (ms.empty()) return l;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))];
  };
  l.p50_ms = at(0.50);
  l.p99_ms = at(0.99);
  l.max_ms = ms.back();
  l.mean_records = static_cast<double>(found) / static_cast<double>(n);
  return l;
}

}  // namespace

Result<EvidenceSearchReport> RunEvidenceSearchBench(const EvidenceSearchOptions& o) {
  if (o.exchanges < 1 || o.lookups < 1 || o.exchanges_per_append < 1) {
    return InvalidArgument("exchanges, lookups and exchanges per append must be positive");
  }
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  if (ec) return InvalidArgument("cannot create " + o.data_dir + ": " + ec.message());
  const std::string db_path = o.data_dir + "/evidence-bench.db";
  GOVESB_ASSIGN_OR_RETURN(auto existing, evidence::ListSegments(evidence::SegmentDirFor(db_path)));
  if (!existing.empty()) {
    return FailedPrecondition(o.data_dir + " holds an evidence log already: give an empty one");
  }
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db, store::Database::Open(db_path));
  GOVESB_RETURN_IF_ERROR(evidence::MigrateEvidenceStore(*db));
  GOVESB_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                          crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1));
  crypto::LocalSigner signer(key);
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<store::GroupCommitWriter> writer,
                          store::GroupCommitWriter::Open(db_path));
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<evidence::EvidenceLog> log,
                          evidence::EvidenceLog::Open(*db, *writer, signer));

  EvidenceSearchReport report;
  report.exchanges = o.exchanges;
  report.records = 4 * o.exchanges;
  const int64_t persons = std::max<int64_t>(1, o.exchanges / 20);
  // A DER ECDSA signature's base64 is about 96 characters.
  const std::string signature(96, 'S');
  const int64_t start_ms = 1'700'000'000'000;

  // Appends pipelined: the next batch's texts are made here while the writer hashes and writes
  // the previous ones.
  auto started = Clock::now();
  std::deque<std::future<Status>> in_flight;
  std::vector<evidence::Record> batch;
  for (int64_t i = 0; i < o.exchanges;) {
    batch.clear();
    const int64_t end = std::min(o.exchanges, i + o.exchanges_per_append);
    for (; i < end; ++i) AddExchange(i, persons, start_ms + i, signature, batch);
    auto done = std::make_shared<std::promise<Status>>();
    in_flight.push_back(done->get_future());
    log->Append(evidence::Prepare(batch), [done](Status s) { done->set_value(std::move(s)); });
    while (in_flight.size() > 3) {
      GOVESB_RETURN_IF_ERROR(in_flight.front().get());
      in_flight.pop_front();
    }
  }
  for (auto& f : in_flight) GOVESB_RETURN_IF_ERROR(f.get());
  report.build_s = Seconds(started);

  started = Clock::now();
  GOVESB_RETURN_IF_ERROR(log->CheckpointFrom(*db, start_ms + o.exchanges + 1000));
  report.seal_s = Seconds(started);
  started = Clock::now();
  GOVESB_RETURN_IF_ERROR(log->IndexSealed(*db));
  report.index_s = Seconds(started);
  GOVESB_ASSIGN_OR_RETURN(auto files, evidence::ListSegments(evidence::SegmentDirFor(db_path)));
  for (const auto& f : files) {
    report.log_bytes += static_cast<int64_t>(std::filesystem::file_size(f.path, ec));
  }

  std::mt19937_64 random(20261114);
  auto time = [&](bool by_user, EvidenceSearchReport::Latency& out) -> Status {
    std::vector<double> ms;
    int64_t found = 0;
    for (int64_t n = 0; n < o.lookups; ++n) {
      evidence::SearchFilter f;
      if (by_user) {
        f.user_id = UserId(static_cast<int64_t>(
            random() % static_cast<uint64_t>(std::min(persons, (o.exchanges + 4) / 5))));
      } else {
        f.request_id =
            RequestId(static_cast<int64_t>(random() % static_cast<uint64_t>(o.exchanges)));
      }
      const auto t = Clock::now();
      GOVESB_ASSIGN_OR_RETURN(evidence::SearchPage page, evidence::Search(*db, f, ""));
      ms.push_back(Seconds(t) * 1000);
      if (page.records.empty()) return Internal("a lookup found nothing: the bench is wrong");
      found += static_cast<int64_t>(page.records.size());
    }
    out = Summarise(ms, found, static_cast<size_t>(o.lookups));
    return Status::Ok();
  };
  GOVESB_RETURN_IF_ERROR(time(false, report.by_request_id));
  GOVESB_RETURN_IF_ERROR(time(true, report.by_user_id));
  return report;
}

std::string RenderEvidenceSearch(const EvidenceSearchReport& r, bool json) {
  auto latency = [](const EvidenceSearchReport::Latency& l) {
    return JsonObjectWriter()
        .Number("p50_ms", l.p50_ms)
        .Number("p99_ms", l.p99_ms)
        .Number("max_ms", l.max_ms)
        .Number("records_per_lookup", l.mean_records, 1)
        .Finish();
  };
  if (json) {
    return JsonObjectWriter()
        .Integer("exchanges", static_cast<uint64_t>(r.exchanges))
        .Integer("records", static_cast<uint64_t>(r.records))
        .Integer("log_bytes", static_cast<uint64_t>(r.log_bytes))
        .Number("build_s", r.build_s, 1)
        .Number("seal_s", r.seal_s, 1)
        .Number("index_s", r.index_s, 1)
        .Raw("by_request_id", latency(r.by_request_id))
        .Raw("by_user_id", latency(r.by_user_id))
        .Number("target_ms", 50, 0)
        .Finish();
  }
  auto line = [](const char* what, const EvidenceSearchReport::Latency& l) {
    return std::string(what) + ": p50 " + FormatDecimal(l.p50_ms, 3) + " ms, p99 " +
           FormatDecimal(l.p99_ms, 3) + " ms, max " + FormatDecimal(l.max_ms, 3) + " ms (" +
           FormatDecimal(l.mean_records, 1) + " records each; target < 50 ms)\n";
  };
  return std::to_string(r.exchanges) + " exchanges (" + std::to_string(r.records) + " records, " +
         std::to_string(r.log_bytes >> 20) + " MB of segments): appended in " +
         FormatDecimal(r.build_s, 1) + " s, sealed in " + FormatDecimal(r.seal_s, 1) +
         " s, indexed in " + FormatDecimal(r.index_s, 1) + " s\n" +
         line("search by requestId", r.by_request_id) + line("search by userId", r.by_user_id);
}

}  // namespace govesb::bench
