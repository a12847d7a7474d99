#include "evidence/log.h"

#include <array>
#include <charconv>

#include "base/encoding.h"
#include "wire/json.h"

namespace govesb::evidence {

namespace {

// Migration 1 of component "evidence". Never edit a released migration; append.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE evidence_records (
  seq         INTEGER PRIMARY KEY,
  request_id  TEXT    NOT NULL,
  record      TEXT    NOT NULL,
  record_hash TEXT    NOT NULL,
  chain       TEXT    NOT NULL
);
CREATE INDEX evidence_by_request ON evidence_records(request_id);
CREATE TABLE evidence_checkpoints (
  id         INTEGER PRIMARY KEY,
  first_seq  INTEGER NOT NULL,
  last_seq   INTEGER NOT NULL,
  body       TEXT    NOT NULL,
  signature  TEXT    NOT NULL
);
)sql";
constexpr std::array<std::string_view, 1> kMigrations = {kSchemaV1};

constexpr std::string_view kInsertRecord =
    "INSERT INTO evidence_records(seq, request_id, record, record_hash, chain)"
    " VALUES(?, ?, ?, ?, ?)";
constexpr std::string_view kTip =
    "SELECT seq, chain FROM evidence_records ORDER BY seq DESC LIMIT 1";
constexpr std::string_view kLastCheckpoint =
    "SELECT id, last_seq, body FROM evidence_checkpoints ORDER BY id DESC LIMIT 1";
constexpr std::string_view kHashesAfter =
    "SELECT seq, record_hash, chain FROM evidence_records WHERE seq > ? ORDER BY seq";
constexpr std::string_view kInsertCheckpoint =
    "INSERT INTO evidence_checkpoints(id, first_seq, last_seq, body, signature)"
    " VALUES(?, ?, ?, ?, ?)";

std::string_view Bytes(const Hash& h) {
  return std::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}

Hash Link(const Hash& previous, const Hash& record_hash) {
  std::string buffer(Bytes(previous));
  buffer.append(Bytes(record_hash));
  return crypto::Sha256(buffer);
}

void Member(std::string& out, std::string_view name, std::string_view value) {
  out += ",\"";
  out += name;
  out += "\":";
  wire::WriteString(value, out);
}

void Member(std::string& out, std::string_view name, int64_t value) {
  out += ",\"";
  out += name;
  out += "\":";
  out += std::to_string(value);
}

// The signed text of a checkpoint.
std::string CheckpointBody(int64_t id, int64_t first_seq, int64_t last_seq, int64_t at_ms,
                           const Hash& root, const Hash& chain, std::string_view previous_hash) {
  std::string out = "{\"checkpoint\":" + std::to_string(id);
  Member(out, "firstSeq", first_seq);
  Member(out, "lastSeq", last_seq);
  Member(out, "at", at_ms);
  Member(out, "root", HashHex(root));
  Member(out, "chain", HashHex(chain));
  Member(out, "previous", previous_hash);
  out += '}';
  return out;
}

}  // namespace

void AttachSigned(Record& r, std::string_view data, std::string_view signature) {
  auto hex_sha256 = [](std::string_view text) {
    return text.empty() ? std::string() : HashHex(crypto::Sha256(text));
  };
  r.body_sha256 = hex_sha256(data);
  r.signature = std::string(signature);
  r.signature_sha256 = hex_sha256(signature);
}

std::optional<std::string> CanonicalMember(std::string_view text, std::string_view name) {
  auto members = wire::ScanObject(text);
  if (!members.ok()) return std::nullopt;
  const wire::JsonMember* m = wire::FindMember(*members, name);
  if (m == nullptr || m->type != wire::JsonType::kString) return std::nullopt;
  auto decoded = wire::DecodeString(m->raw);
  return decoded.ok() ? std::optional<std::string>(std::move(*decoded)) : std::nullopt;
}

std::optional<int64_t> CanonicalInt(std::string_view text, std::string_view name) {
  auto members = wire::ScanObject(text);
  if (!members.ok()) return std::nullopt;
  const wire::JsonMember* m = wire::FindMember(*members, name);
  if (m == nullptr || m->type != wire::JsonType::kNumber) return std::nullopt;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(m->raw.data(), m->raw.data() + m->raw.size(), n);
  if (ec != std::errc() || end != m->raw.data() + m->raw.size()) return std::nullopt;
  return n;
}

std::string CanonicalRecord(int64_t seq, const Record& r) {
  std::string out = "{\"seq\":" + std::to_string(seq);
  Member(out, "at", r.at_ms);
  Member(out, "requestId", r.request_id);
  Member(out, "kind", r.kind);
  Member(out, "from", r.from);
  Member(out, "to", r.to);
  Member(out, "code", r.code);
  Member(out, "userId", r.user_id);
  Member(out, "outcome", r.outcome);
  Member(out, "error", r.error);
  Member(out, "latencyUs", r.latency_us);
  Member(out, "size", r.size);
  Member(out, "bodySha256", r.body_sha256);
  Member(out, "signature", r.signature);
  Member(out, "signatureSha256", r.signature_sha256);
  out += '}';
  return out;
}

Status MigrateEvidenceStore(store::Database& db) {
  return store::Migrate(db, "evidence", kMigrations);
}

Status EvidenceLog::AppendInJob(store::WriteContext& ctx, const std::vector<Record>& records) {
  // The tip is read inside the transaction (the last row, by primary key), never cached: a
  // batch or savepoint that rolls back leaves nothing to forget.
  int64_t seq = 0;
  Hash chain{};
  {
    GOVESB_ASSIGN_OR_RETURN(store::Statement * tip, ctx.Prepared(kTip));
    GOVESB_ASSIGN_OR_RETURN(bool row, tip->Step());
    if (row) {
      seq = tip->ColumnInt64(0);
      auto last = HashFromHex(tip->ColumnText(1));
      if (!last.has_value()) return Internal("the evidence chain's last link is unreadable");
      chain = *last;
    }
    GOVESB_RETURN_IF_ERROR(tip->Reset());
  }
  GOVESB_ASSIGN_OR_RETURN(store::Statement * insert, ctx.Prepared(kInsertRecord));
  for (const Record& r : records) {
    ++seq;
    std::string text = CanonicalRecord(seq, r);
    Hash record_hash = crypto::Sha256(text);
    chain = Link(chain, record_hash);
    GOVESB_RETURN_IF_ERROR(insert->Reset());
    GOVESB_RETURN_IF_ERROR(insert->Bind(1, seq));
    GOVESB_RETURN_IF_ERROR(insert->Bind(2, r.request_id));
    GOVESB_RETURN_IF_ERROR(insert->Bind(3, text));
    GOVESB_RETURN_IF_ERROR(insert->Bind(4, HashHex(record_hash)));
    GOVESB_RETURN_IF_ERROR(insert->Bind(5, HashHex(chain)));
    GOVESB_RETURN_IF_ERROR(insert->Run());
  }
  return Status::Ok();
}

void EvidenceLog::Append(std::vector<Record> records, std::function<void(Status)> done) {
  writer_.Submit([records = std::move(records)](
                     store::WriteContext& ctx) { return AppendInJob(ctx, records); },
                 [done = std::move(done)](const Status& s) {
                   if (done) done(s);
                 });
}

void EvidenceLog::Checkpoint(int64_t now_ms, std::function<void(Status)> done) {
  writer_.Submit(
      [this, now_ms](store::WriteContext& ctx) -> Status {
        int64_t id = 1;
        int64_t after = 0;
        std::string previous_hash;
        {
          GOVESB_ASSIGN_OR_RETURN(store::Statement * last, ctx.Prepared(kLastCheckpoint));
          GOVESB_ASSIGN_OR_RETURN(bool row, last->Step());
          if (row) {
            id = last->ColumnInt64(0) + 1;
            after = last->ColumnInt64(1);
            previous_hash = HashHex(crypto::Sha256(last->ColumnText(2)));
          }
          GOVESB_RETURN_IF_ERROR(last->Reset());
        }
        std::vector<Hash> hashes;
        Hash chain{};
        int64_t last_seq = after;
        {
          GOVESB_ASSIGN_OR_RETURN(store::Statement * s, ctx.Prepared(kHashesAfter));
          GOVESB_RETURN_IF_ERROR(s->Bind(1, after));
          for (;;) {
            GOVESB_ASSIGN_OR_RETURN(bool row, s->Step());
            if (!row) break;
            auto h = HashFromHex(s->ColumnText(1));
            auto c = HashFromHex(s->ColumnText(2));
            if (!h || !c) return Internal("an evidence record's hash is unreadable");
            hashes.push_back(*h);
            chain = *c;
            last_seq = s->ColumnInt64(0);
          }
          GOVESB_RETURN_IF_ERROR(s->Reset());
        }
        if (hashes.empty()) return Status::Ok();
        std::string body = CheckpointBody(id, after + 1, last_seq, now_ms, MerkleRoot(hashes),
                                          chain, previous_hash);
        GOVESB_ASSIGN_OR_RETURN(store::Statement * insert, ctx.Prepared(kInsertCheckpoint));
        GOVESB_RETURN_IF_ERROR(insert->Bind(1, id));
        GOVESB_RETURN_IF_ERROR(insert->Bind(2, after + 1));
        GOVESB_RETURN_IF_ERROR(insert->Bind(3, last_seq));
        GOVESB_RETURN_IF_ERROR(insert->Bind(4, body));
        GOVESB_RETURN_IF_ERROR(insert->Bind(5, signer_.SignBase64(body)));
        return insert->Run();
      },
      [done = std::move(done)](const Status& s) {
        if (done) done(s);
      });
}

// ---- verification ----

Result<VerifyReport> Verify(store::Database& db, const crypto::PublicKey& bus_key) {
  VerifyReport report;
  auto fail = [&](std::optional<int64_t> seq, std::string problem) {
    report.intact = false;
    report.first_bad_seq = seq;
    report.problem = std::move(problem);
    return report;
  };
  GOVESB_ASSIGN_OR_RETURN(store::Transaction read,
                          store::Transaction::Begin(db, store::TransactionMode::kDeferred));

  // Records: numbering, hashes, links. Record hashes and chain values are kept for the
  // checkpoints (32 + 32 bytes per record).
  std::vector<Hash> record_hashes;
  std::vector<Hash> chains;
  {
    GOVESB_ASSIGN_OR_RETURN(
        store::Statement s,
        db.Prepare("SELECT seq, request_id, record, record_hash, chain FROM evidence_records"
                   " ORDER BY seq"));
    Hash chain{};
    int64_t expected = 1;
    for (;;) {
      GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      int64_t seq = s.ColumnInt64(0);
      std::string text = s.ColumnText(2);
      if (seq != expected) {
        return fail(expected, seq > expected
                                  ? "record " + std::to_string(expected) +
                                        " is missing (the next record is " + std::to_string(seq) +
                                        ")"
                                  : "record numbering is broken at " + std::to_string(seq));
      }
      Hash h = crypto::Sha256(text);
      auto stored = HashFromHex(s.ColumnText(3));
      if (!stored || *stored != h) {
        return fail(seq, "record " + std::to_string(seq) +
                             " was changed: its content does not match its recorded hash");
      }
      if (CanonicalInt(text, "seq") != seq ||
          CanonicalMember(text, "requestId") != std::optional<std::string>(s.ColumnText(1))) {
        return fail(seq, "record " + std::to_string(seq) +
                             " is out of place: its content belongs to another position or "
                             "exchange (records were swapped or moved)");
      }
      chain = Link(chain, h);
      auto stored_chain = HashFromHex(s.ColumnText(4));
      if (!stored_chain || *stored_chain != chain) {
        return fail(seq, "the hash chain breaks at record " + std::to_string(seq) +
                             ": a record up to here was changed, removed, inserted or "
                             "reordered");
      }
      record_hashes.push_back(h);
      chains.push_back(chain);
      ++expected;
    }
    report.records = static_cast<int64_t>(record_hashes.size());
  }

  // Checkpoints: contiguous ranges, roots, chain values, predecessors, signatures.
  {
    GOVESB_ASSIGN_OR_RETURN(
        store::Statement s,
        db.Prepare("SELECT id, first_seq, last_seq, body, signature FROM evidence_checkpoints"
                   " ORDER BY id"));
    int64_t expected_id = 1;
    int64_t next_first = 1;
    std::string previous_hash;
    for (;;) {
      GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      int64_t id = s.ColumnInt64(0);
      int64_t first = s.ColumnInt64(1);
      int64_t last = s.ColumnInt64(2);
      std::string body = s.ColumnText(3);
      std::string where = "checkpoint " + std::to_string(id);
      if (id != expected_id) {
        return fail(std::nullopt, "checkpoint " + std::to_string(expected_id) + " is missing");
      }
      if (!bus_key.VerifyBase64(body, s.ColumnText(4))) {
        return fail(first, where + " (records " + std::to_string(first) + "-" +
                               std::to_string(last) +
                               ") does not carry a valid signature of the bus key");
      }
      if (CanonicalInt(body, "checkpoint") != id || CanonicalInt(body, "firstSeq") != first ||
          CanonicalInt(body, "lastSeq") != last || first != next_first || last < first) {
        return fail(first, where + " does not cover the records it is filed under");
      }
      if (CanonicalMember(body, "previous") != std::optional<std::string>(previous_hash)) {
        return fail(first, where + " does not follow the checkpoint before it");
      }
      if (last > report.records) {
        return fail(report.records + 1, where + " seals records up to " + std::to_string(last) +
                                            " but the log ends at " +
                                            std::to_string(report.records) +
                                            ": records were removed");
      }
      std::span<const Hash> covered(record_hashes.data() + (first - 1),
                                    static_cast<size_t>(last - first + 1));
      if (CanonicalMember(body, "root") !=
              std::optional<std::string>(HashHex(MerkleRoot(covered))) ||
          CanonicalMember(body, "chain") != std::optional<std::string>(HashHex(chains[last - 1]))) {
        return fail(first, where + " (records " + std::to_string(first) + "-" +
                               std::to_string(last) +
                               ") no longer matches them: a record in that range was changed, "
                               "removed, inserted or reordered since it was sealed");
      }
      previous_hash = HashHex(crypto::Sha256(body));
      next_first = last + 1;
      ++expected_id;
      ++report.checkpoints;
    }
    report.unsealed = report.records - (next_first - 1);
  }
  report.intact = true;
  return report;
}

}  // namespace govesb::evidence
