#include "evidence/pg_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <future>
#include <limits>
#include <map>
#include <utility>

#include "crypto/primitives.h"
#include "evidence/chain.h"
#include "evidence/proof.h"
#include "evidence/search.h"

namespace govesb::evidence {

namespace {

constexpr std::string_view kCursorPrefix = "pg";
// Rows read per statement when a read streams a chain (libpq buffers a statement's rows).
constexpr int64_t kPage = 5000;

constexpr std::string_view kLastCheckpoint =
    "SELECT id, last_seq, body FROM evidence_checkpoints WHERE node = ? ORDER BY id DESC LIMIT 1";
constexpr std::string_view kCheckpointsOf =
    "SELECT id, first_seq, last_seq, body, signature FROM evidence_checkpoints"
    " WHERE node = ? AND last_seq > ? ORDER BY id";

bool ValidNodeId(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::optional<Hash> HashOf(std::string_view bytes) {
  Hash h{};
  if (bytes.size() != h.size()) return std::nullopt;
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(h.data()));
  return h;
}

Result<std::vector<StoredCheckpoint>> CheckpointsOf(store::Database& db, const std::string& node,
                                                    int64_t after) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement s, db.Prepare(kCheckpointsOf));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, node));
  GOVESB_RETURN_IF_ERROR(s.Bind(2, after));
  std::vector<StoredCheckpoint> out;
  while (true) {
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(StoredCheckpoint{s.ColumnInt64(0), s.ColumnInt64(1), s.ColumnInt64(2),
                                   s.ColumnText(3), s.ColumnText(4)});
  }
  return out;
}

// One node's chain checked (its records streamed a page at a time).
Result<VerifyReport> VerifyChain(store::Database& db, const std::string& node,
                                 const crypto::KeySet& bus_keys) {
  GOVESB_ASSIGN_OR_RETURN(std::vector<StoredCheckpoint> checkpoints, CheckpointsOf(db, node, 0));
  ChainChecker checker(bus_keys, std::move(checkpoints), node);
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement page,
      db.Prepare("SELECT seq, record, record_hash, chain, request_id FROM evidence_records"
                 " WHERE node = ? AND seq > ? ORDER BY seq LIMIT ?"));
  int64_t after = 0;
  while (true) {
    GOVESB_RETURN_IF_ERROR(page.Reset());
    GOVESB_RETURN_IF_ERROR(page.Bind(1, node));
    GOVESB_RETURN_IF_ERROR(page.Bind(2, after));
    GOVESB_RETURN_IF_ERROR(page.Bind(3, kPage));
    int64_t rows = 0;
    while (true) {
      GOVESB_ASSIGN_OR_RETURN(bool row, page.Step());
      if (!row) break;
      ++rows;
      StoredRecord r;
      r.seq = page.ColumnInt64(0);
      const std::string text = page.ColumnText(1);
      r.text = text;
      r.stored_hash = HashOf(page.ColumnView(2));
      r.chain_after = HashOf(page.ColumnView(3));
      if (!r.chain_after) r.chain_after = Hash{};  // unreadable: shows as a broken link
      const std::string filed = page.ColumnText(4);
      r.filed_request_id = filed;
      r.live = true;
      r.source = "the live log";
      after = r.seq;
      if (!checker.Add(r)) return *checker.failure();
    }
    if (rows < kPage) break;
  }
  return checker.Finish();
}

}  // namespace

Result<std::vector<NodeChainReport>> VerifyEachChain(store::Database& db,
                                                     const crypto::KeySet& bus_keys) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction read,
                          store::Transaction::Begin(db, store::TransactionMode::kDeferred));
  std::vector<std::string> nodes;
  {
    GOVESB_ASSIGN_OR_RETURN(
        store::Statement s,
        db.Prepare("SELECT DISTINCT node FROM evidence_records UNION"
                   " SELECT DISTINCT node FROM evidence_checkpoints ORDER BY 1"));
    while (true) {
      GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      nodes.push_back(s.ColumnText(0));
    }
  }
  std::vector<NodeChainReport> out;
  for (const std::string& node : nodes) {
    GOVESB_ASSIGN_OR_RETURN(VerifyReport one, VerifyChain(db, node, bus_keys));
    one.node = node;
    out.push_back(NodeChainReport{node, std::move(one)});
  }
  return out;
}

VerifyReport CombineChains(const std::vector<NodeChainReport>& chains) {
  VerifyReport all;
  all.intact = true;
  for (const NodeChainReport& chain : chains) {
    const VerifyReport& one = chain.report;
    all.records += one.records;
    all.checkpoints += one.checkpoints;
    all.unsealed += one.unsealed;
    if (!one.intact && all.intact) {
      all.intact = false;
      all.first_bad_seq = one.first_bad_seq;
      all.node = chain.node;
      all.problem = "node " + chain.node + ": " + one.problem;
    }
  }
  return all;
}

Result<VerifyReport> VerifyAllChains(store::Database& db, const crypto::KeySet& bus_keys) {
  GOVESB_ASSIGN_OR_RETURN(std::vector<NodeChainReport> chains, VerifyEachChain(db, bus_keys));
  return CombineChains(chains);
}

PgEvidenceStore::~PgEvidenceStore() {
  if (writer_ != nullptr) writer_->SetParticipant(nullptr);
}

Result<std::unique_ptr<PgEvidenceStore>> PgEvidenceStore::Open(const std::string& conninfo,
                                                               store::GroupCommitWriter& writer,
                                                               const crypto::Signer& signer,
                                                               PgEvidenceOptions options) {
  if (!ValidNodeId(options.node_id)) {
    return InvalidArgument("a node id is 1 to 64 of A-Z a-z 0-9 . _ - (got \"" +
                           options.node_id.substr(0, 64) + "\")");
  }
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<PgEvidenceStore> s,
                          OpenForReading(conninfo, options.postgres));
  GOVESB_ASSIGN_OR_RETURN(s->upkeep_.db, store::Database::OpenPostgres(conninfo, options.postgres));
  s->node_id_ = options.node_id;
  s->signer_ = &signer;
  s->chain_ = std::make_unique<PgChain>(options.node_id);
  s->writer_ = &writer;
  writer.SetParticipant(s->chain_.get());
  s->RefreshProgress();
  return s;
}

Result<std::unique_ptr<PgEvidenceStore>> PgEvidenceStore::OpenForReading(
    const std::string& conninfo, store::PostgresOptions postgres) {
  std::unique_ptr<PgEvidenceStore> s(new PgEvidenceStore());
  GOVESB_ASSIGN_OR_RETURN(s->reading_.db, store::Database::OpenPostgres(conninfo, postgres));
  GOVESB_ASSIGN_OR_RETURN(int64_t version, store::SchemaVersion(*s->reading_.db, "evidence"));
  if (version == 0) {
    return FailedPrecondition("the database holds no evidence schema (not migrated)");
  }
  return s;
}

Status PgEvidenceStore::RequireChain() const {
  if (chain_ == nullptr) return FailedPrecondition("this evidence store is open for reading only");
  return Status::Ok();
}

void PgEvidenceStore::Append(PreparedRecords records, std::function<void(Status)> done) {
  if (chain_ == nullptr) {
    if (done) done(RequireChain());
    return;
  }
  if (records.empty()) {
    if (done) done(Status::Ok());
    return;
  }
  PgChain* chain = chain_.get();
  batcher_.Append(
      *writer_, std::move(records), std::move(done),
      [chain](store::WriteContext& ctx,
              const std::vector<internal::AppendBatcher::Pending>& appends) -> Status {
        // The participant must be this store's chain (not another's set on the writer since).
        if (ctx.participant() != chain) {
          return FailedPrecondition("the evidence chain is not the writer's participant");
        }
        for (const auto& p : appends) GOVESB_RETURN_IF_ERROR(chain->AppendInJob(ctx, p.prepared));
        return Status::Ok();
      });
}

Status PgEvidenceStore::Seal(int64_t now_ms) {
  Status sealed = SealChain(now_ms);
  if (chain_ != nullptr) RefreshProgress();
  return sealed;
}

void PgEvidenceStore::RefreshProgress() {
  std::lock_guard lock(upkeep_.mutex);
  auto read = [&]() -> Status {
    GOVESB_ASSIGN_OR_RETURN(store::Statement last, upkeep_.db->Prepare(kLastCheckpoint));
    GOVESB_RETURN_IF_ERROR(last.Bind(1, node_id_));
    GOVESB_ASSIGN_OR_RETURN(bool row, last.Step());
    if (row) {
      sealed_seq_.store(last.ColumnInt64(1), std::memory_order_relaxed);
      last_checkpoint_ms_.store(CheckpointTime(last.ColumnText(2)), std::memory_order_relaxed);
    }
    return Status::Ok();
  };
  if (Status s = read(); !s.ok()) {
    spdlog::debug("evidence: where the chain stands was not read: {}", s.message());
  }
}

LogProgress PgEvidenceStore::Progress() const {
  LogProgress p;
  if (chain_ == nullptr) return p;
  p.sealed_seq = sealed_seq_.load(std::memory_order_relaxed);
  p.last_checkpoint_ms = last_checkpoint_ms_.load(std::memory_order_relaxed);
  // The chain learns its tip at its first append after opening: until then, what is sealed.
  p.committed_seq = std::max(chain_->committed_seq(), p.sealed_seq);
  p.indexed_seq = p.committed_seq;  // the table's own indexes
  return p;
}

Status PgEvidenceStore::SealChain(int64_t now_ms) {
  GOVESB_RETURN_IF_ERROR(RequireChain());
  std::lock_guard lock(upkeep_.mutex);
  store::Database& db = *upkeep_.db;
  // One snapshot: the node's committed records are a whole prefix of its chain (its one writer
  // commits them in order).
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn,
                          store::Transaction::Begin(db, store::TransactionMode::kDeferred));
  int64_t id = 1;
  int64_t after = 0;
  std::string previous_hash;
  {
    GOVESB_ASSIGN_OR_RETURN(store::Statement last, db.Prepare(kLastCheckpoint));
    GOVESB_RETURN_IF_ERROR(last.Bind(1, node_id_));
    GOVESB_ASSIGN_OR_RETURN(bool row, last.Step());
    if (row) {
      id = last.ColumnInt64(0) + 1;
      after = last.ColumnInt64(1);
      previous_hash = HashHex(crypto::Sha256(last.ColumnText(2)));
    }
  }
  // The stored hashes and chain values from the last sealed record on: each link must hold.
  GOVESB_ASSIGN_OR_RETURN(store::Statement page,
                          db.Prepare("SELECT seq, record_hash, chain FROM evidence_records"
                                     " WHERE node = ? AND seq >= ? ORDER BY seq LIMIT ?"));
  MerkleRange range;  // the new checkpoint's tree, built as the pages are read
  Hash chain{};
  int64_t last_seq = after;
  int64_t from = std::max<int64_t>(after, 1);
  auto damaged = [&] {
    return Internal("the evidence chain of node " + node_id_ + " is damaged after record " +
                    std::to_string(last_seq) +
                    "; run govesb audit verify (no checkpoint was made)");
  };
  while (true) {
    GOVESB_RETURN_IF_ERROR(page.Reset());
    GOVESB_RETURN_IF_ERROR(page.Bind(1, node_id_));
    GOVESB_RETURN_IF_ERROR(page.Bind(2, from));
    GOVESB_RETURN_IF_ERROR(page.Bind(3, kPage));
    int64_t rows = 0;
    while (true) {
      GOVESB_ASSIGN_OR_RETURN(bool row, page.Step());
      if (!row) break;
      ++rows;
      const int64_t seq = page.ColumnInt64(0);
      auto h = HashOf(page.ColumnView(1));
      auto c = HashOf(page.ColumnView(2));
      from = seq + 1;
      if (!h || !c) return damaged();
      if (seq == after) {  // the last sealed record: where the chain stands
        chain = *c;
        continue;
      }
      if (seq != last_seq + 1 || ChainLink(chain, *h) != *c) return damaged();
      range.Append(*h);
      chain = *c;
      last_seq = seq;
    }
    if (rows < kPage) break;
  }
  if (range.size() == 0) return Status::Ok();
  // One key names itself in the body and signs it, even if the bus switches keys meanwhile.
  const std::shared_ptr<const crypto::Signer> key = signer_->Pinned();
  StoredCheckpoint seal{id, after + 1, last_seq,
                        CheckpointBody(id, after + 1, last_seq, now_ms, range.Root(), chain,
                                       previous_hash, node_id_, crypto::KeyId(key->public_key())),
                        ""};
  seal.signature = key->SignBase64(seal.body);
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement insert,
      db.Prepare("INSERT INTO evidence_checkpoints(node, id, first_seq, last_seq, body, signature)"
                 " VALUES(?, ?, ?, ?, ?, ?)"));
  GOVESB_RETURN_IF_ERROR(insert.Bind(1, node_id_));
  GOVESB_RETURN_IF_ERROR(insert.Bind(2, seal.id));
  GOVESB_RETURN_IF_ERROR(insert.Bind(3, seal.first));
  GOVESB_RETURN_IF_ERROR(insert.Bind(4, seal.last));
  GOVESB_RETURN_IF_ERROR(insert.Bind(5, seal.body));
  GOVESB_RETURN_IF_ERROR(insert.Bind(6, seal.signature));
  GOVESB_RETURN_IF_ERROR(insert.Run());
  return txn.Commit();
}

Status PgEvidenceStore::SealAll(int64_t now_ms) {
  GOVESB_RETURN_IF_ERROR(RequireChain());
  // A barrier first: once this empty job is done, every write submitted before it (appends,
  // other modules' jobs with evidence) is committed, and the seal covers it.
  std::promise<Status> drained;
  writer_->Submit([](store::WriteContext&) { return Status::Ok(); },
                  [&drained](const Status& s) { drained.set_value(s); });
  GOVESB_RETURN_IF_ERROR(drained.get_future().get());
  return Seal(now_ms);
}

// The table's indexes serve every read from the moment a record is committed: nothing to do.
Status PgEvidenceStore::IndexCommitted() { return RequireChain(); }
Status PgEvidenceStore::IndexSealed() { return RequireChain(); }

Result<ArchiveSummary> PgEvidenceStore::Archive(int64_t) {
  return FailedPrecondition(
      "archiving is for the embedded log; PostgreSQL keeps its records (partition/retention by "
      "the operator)");
}

Result<VerifyReport> PgEvidenceStore::Verify(const crypto::KeySet& bus_keys) {
  std::lock_guard lock(reading_.mutex);
  return VerifyAllChains(*reading_.db, bus_keys);
}

Result<std::string> PgEvidenceStore::BuildProof(std::string_view request_id,
                                                const crypto::KeySet& bus_keys) {
  std::lock_guard lock(reading_.mutex);
  store::Database& db = *reading_.db;
  GOVESB_ASSIGN_OR_RETURN(store::Transaction read,
                          store::Transaction::Begin(db, store::TransactionMode::kDeferred));
  struct Found {
    std::string node;
    int64_t seq;
    std::string text;
  };
  std::vector<Found> found;
  {
    GOVESB_ASSIGN_OR_RETURN(store::Statement s,
                            db.Prepare("SELECT node, seq, record FROM evidence_records"
                                       " WHERE request_id = ? ORDER BY pos LIMIT 10000"));
    GOVESB_RETURN_IF_ERROR(s.Bind(1, request_id));
    while (true) {
      GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      std::string text = s.ColumnText(2);
      // Filed under the exchange and saying so (a changed text is not proven as its).
      if (CanonicalMember(text, "requestId") == std::optional<std::string>(request_id)) {
        found.push_back(Found{s.ColumnText(0), s.ColumnInt64(1), std::move(text)});
      }
    }
  }
  if (found.empty()) {
    return NotFound("the evidence log has no record of exchange " + std::string(request_id));
  }
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement covering,
      db.Prepare("SELECT id, first_seq, last_seq, body, signature FROM evidence_checkpoints"
                 " WHERE node = ?1 AND first_seq <= ?2 AND last_seq >= ?2"));
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement hashes,
      db.Prepare("SELECT record_hash FROM evidence_records WHERE node = ? AND seq >= ?"
                 " AND seq <= ? ORDER BY seq"));
  std::vector<ProofRecord> records;
  std::map<std::pair<std::string, int64_t>, ProofCheckpoint> checkpoints;
  std::map<std::pair<std::string, int64_t>, std::vector<Hash>> trees;
  for (Found& f : found) {
    GOVESB_RETURN_IF_ERROR(covering.Reset());
    GOVESB_RETURN_IF_ERROR(covering.Bind(1, f.node));
    GOVESB_RETURN_IF_ERROR(covering.Bind(2, f.seq));
    GOVESB_ASSIGN_OR_RETURN(bool sealed, covering.Step());
    if (!sealed) {
      return FailedPrecondition("record " + std::to_string(f.seq) + " of node " + f.node +
                                " of exchange " + std::string(request_id) +
                                " is not sealed by a checkpoint yet; try again after the next "
                                "one (govesb serve --checkpoint-interval)");
    }
    const int64_t id = covering.ColumnInt64(0);
    const int64_t first = covering.ColumnInt64(1);
    const int64_t last = covering.ColumnInt64(2);
    const std::pair<std::string, int64_t> key{f.node, id};
    if (!trees.contains(key)) {
      checkpoints[key] =
          ProofCheckpoint{f.node, id, covering.ColumnText(3), covering.ColumnText(4)};
      std::vector<Hash> tree;
      GOVESB_RETURN_IF_ERROR(hashes.Reset());
      GOVESB_RETURN_IF_ERROR(hashes.Bind(1, f.node));
      GOVESB_RETURN_IF_ERROR(hashes.Bind(2, first));
      GOVESB_RETURN_IF_ERROR(hashes.Bind(3, last));
      while (true) {
        GOVESB_ASSIGN_OR_RETURN(bool row, hashes.Step());
        if (!row) break;
        auto h = HashOf(hashes.ColumnView(0));
        if (!h) return Internal("the evidence chain of node " + f.node + " is damaged");
        tree.push_back(*h);
      }
      trees[key] = std::move(tree);
    }
    std::vector<Hash>& tree = trees[key];
    const auto index = static_cast<uint64_t>(f.seq - first);
    // The proven record as it reads now (its stored hash could differ: then the proof fails).
    if (index < tree.size()) tree[index] = crypto::Sha256(f.text);
    GOVESB_ASSIGN_OR_RETURN(std::vector<Hash> path, InclusionProof(tree, index));
    records.push_back(ProofRecord{f.node, f.seq, std::move(f.text), id, f.seq - first, path});
  }
  std::vector<ProofCheckpoint> cps;
  for (auto& [key, c] : checkpoints) cps.push_back(std::move(c));
  return WriteProof(request_id, bus_keys, records, cps);
}

namespace {

Result<int64_t> ParseCursor(std::string_view cursor) {
  if (cursor.empty()) return std::numeric_limits<int64_t>::max();
  const std::string_view digits = cursor.substr(std::min(cursor.size(), kCursorPrefix.size()));
  int64_t below = 0;
  if (!cursor.starts_with(kCursorPrefix) || digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::from_chars(digits.data(), digits.data() + digits.size(), below).ec != std::errc() ||
      below < 1) {
    return InvalidArgument("the cursor is not one a search returned");
  }
  return below;
}

std::string SystemsJson(const std::vector<std::string>& systems) {
  boost::json::array a;
  for (const std::string& s : systems) a.emplace_back(s);
  return boost::json::serialize(a);
}

// The filters every read shares, as SQL over bound values (never spliced in): ?2 … ?10.
constexpr std::string_view kFilterSql =
    " at_ms >= ?2 AND at_ms < ?3"
    " AND (?4 = '' OR code = ?4) AND (?5 = '' OR outcome = ?5) AND (?6 = '' OR kind = ?6)"
    " AND (?7 = '' OR request_id = ?7) AND (?8 = '' OR user_id = ?8)"
    " AND (?9 = '' OR sender = ?9)"
    " AND (?10 = '[]' OR sender IN (SELECT jsonb_array_elements_text(?10::jsonb))"
    " OR receiver IN (SELECT jsonb_array_elements_text(?10::jsonb)))";

struct Filter {
  int64_t from_ms, to_ms;
  std::string_view code, outcome, kind, request_id, user_id, actor;
  std::string systems;
};

Status BindFilter(store::Statement& s, const Filter& f) {
  GOVESB_RETURN_IF_ERROR(s.Bind(2, f.from_ms));
  GOVESB_RETURN_IF_ERROR(s.Bind(3, f.to_ms));
  int i = 4;
  for (std::string_view v : {f.code, f.outcome, f.kind, f.request_id, f.user_id, f.actor}) {
    GOVESB_RETURN_IF_ERROR(s.Bind(i++, v));
  }
  return s.Bind(10, f.systems);
}

}  // namespace

Result<SearchPage> PgEvidenceStore::Search(const SearchFilter& filter) {
  GOVESB_RETURN_IF_ERROR(CheckSearchFilter(filter));
  GOVESB_ASSIGN_OR_RETURN(int64_t below, ParseCursor(filter.cursor));
  static const std::string kSql =
      "SELECT node, seq, pos, record FROM evidence_records WHERE pos < ?1 AND" +
      std::string(kFilterSql) + " ORDER BY pos DESC LIMIT ?11";
  std::lock_guard lock(reading_.mutex);
  GOVESB_ASSIGN_OR_RETURN(store::Statement s, reading_.db->Prepare(kSql));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, below));
  GOVESB_RETURN_IF_ERROR(BindFilter(
      s, Filter{filter.from_ms, filter.to_ms, filter.code, filter.outcome, filter.kind,
                filter.request_id, filter.user_id, filter.actor, SystemsJson(filter.systems)}));
  GOVESB_RETURN_IF_ERROR(s.Bind(11, static_cast<int64_t>(filter.page_size) + 1));
  SearchPage page;
  int64_t last_pos = 0;
  while (true) {
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    if (page.records.size() == filter.page_size) {  // one more: there is a next page
      page.next_cursor = std::string(kCursorPrefix) + std::to_string(last_pos);
      break;
    }
    FoundRecord f;
    f.node = s.ColumnText(0);
    f.seq = s.ColumnInt64(1);
    last_pos = s.ColumnInt64(2);
    auto record = RecordFromCanonical(s.ColumnView(3));
    if (!record) {
      return Internal("record " + std::to_string(f.seq) + " of node " + f.node +
                      " is unreadable (its stored text was changed); run govesb audit verify");
    }
    f.record = std::move(*record);
    page.records.push_back(std::move(f));
  }
  page.examined = static_cast<int64_t>(page.records.size());
  return page;
}

Result<std::vector<std::string>> PgEvidenceStore::Query(const QueryFilter& filter) {
  static const std::string kSql = "SELECT pos, record FROM evidence_records WHERE pos > ?1 AND" +
                                  std::string(kFilterSql) + " ORDER BY pos LIMIT ?11";
  std::lock_guard lock(reading_.mutex);
  GOVESB_ASSIGN_OR_RETURN(
      store::Transaction read,
      store::Transaction::Begin(*reading_.db, store::TransactionMode::kDeferred));
  GOVESB_ASSIGN_OR_RETURN(store::Statement s, reading_.db->Prepare(kSql));
  const std::string systems = SystemsJson(filter.systems);
  std::vector<std::string> out;
  int64_t after = 0;
  // A page at a time (libpq holds a statement's rows), up to the limit.
  while (out.size() < filter.limit) {
    GOVESB_RETURN_IF_ERROR(s.Reset());
    GOVESB_RETURN_IF_ERROR(s.Bind(1, after));
    GOVESB_RETURN_IF_ERROR(
        BindFilter(s, Filter{filter.from_ms, filter.to_ms, filter.code, filter.outcome, filter.kind,
                             filter.request_id, filter.user_id, "", systems}));
    const int64_t want = std::min<int64_t>(kPage, static_cast<int64_t>(filter.limit - out.size()));
    GOVESB_RETURN_IF_ERROR(s.Bind(11, want));
    int64_t rows = 0;
    while (true) {
      GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ++rows;
      after = s.ColumnInt64(0);
      out.push_back(s.ColumnText(1));
    }
    if (rows < want) break;
  }
  return out;
}

Result<std::vector<StoredCheckpoint>> PgEvidenceStore::Checkpoints(int64_t after) {
  std::lock_guard lock(reading_.mutex);
  return CheckpointsOf(*reading_.db, node_id_, after);
}

}  // namespace govesb::evidence
