#include "evidence/pg_chain.h"

#include <array>
#include <charconv>
#include <string_view>

#include "crypto/primitives.h"

namespace govesb::evidence {

namespace {

// Migration 1 of component "evidence" on PostgreSQL. Never edit a released migration; append.
constexpr std::string_view kPgSchemaV1 = R"sql(
CREATE TABLE evidence_records (
  node        TEXT   NOT NULL,
  seq         BIGINT NOT NULL,
  pos         BIGINT GENERATED ALWAYS AS IDENTITY,
  at_ms       BIGINT NOT NULL,
  request_id  TEXT   NOT NULL,
  kind        TEXT   NOT NULL,
  sender      TEXT   NOT NULL,
  receiver    TEXT   NOT NULL,
  code        TEXT   NOT NULL,
  user_id     TEXT   NOT NULL,
  outcome     TEXT   NOT NULL,
  record      TEXT   NOT NULL,
  record_hash BYTEA  NOT NULL,
  chain       BYTEA  NOT NULL,
  PRIMARY KEY (node, seq),
  CHECK (seq > 0)
);
CREATE UNIQUE INDEX evidence_records_by_pos ON evidence_records(pos);
CREATE INDEX evidence_records_by_request ON evidence_records(request_id);
CREATE INDEX evidence_records_by_user ON evidence_records(user_id) WHERE user_id <> '';
CREATE INDEX evidence_records_by_time ON evidence_records(at_ms);
CREATE TABLE evidence_checkpoints (
  node      TEXT   NOT NULL,
  id        BIGINT NOT NULL,
  first_seq BIGINT NOT NULL,
  last_seq  BIGINT NOT NULL,
  body      TEXT   NOT NULL,
  signature TEXT   NOT NULL,
  PRIMARY KEY (node, id)
);
)sql";
constexpr std::array<std::string_view, 1> kPgMigrations = {kPgSchemaV1};

constexpr std::string_view kTip =
    "SELECT seq, chain FROM evidence_records WHERE node = ? ORDER BY seq DESC LIMIT 1";

// Rows per INSERT statement: one round trip for an exchange's records, and for up to this many
// of a gathered job's.
constexpr size_t kRowsPerInsert = 64;
constexpr int kColumns = 13;

// The INSERT of n rows (1 <= n <= kRowsPerInsert), made once: WriteContext::Prepared keys its
// cache by the text's address, which these keep for the life of the process.
std::string_view InsertOf(size_t n) {
  static const std::array<std::string, kRowsPerInsert + 1> kTexts = [] {
    std::array<std::string, kRowsPerInsert + 1> texts;
    for (size_t rows = 1; rows <= kRowsPerInsert; ++rows) {
      std::string& sql = texts[rows];
      sql =
          "INSERT INTO evidence_records(node, seq, at_ms, request_id, kind, sender, receiver,"
          " code, user_id, outcome, record, record_hash, chain) VALUES ";
      for (size_t r = 0; r < rows; ++r) {
        sql += r == 0 ? "(" : ",(";
        for (int c = 0; c < kColumns; ++c) sql += c == 0 ? "?" : ",?";
        sql += ")";
      }
    }
    return texts;
  }();
  return kTexts[n];
}

std::string_view Bytes(const Hash& h) {
  return std::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}

}  // namespace

Status MigratePgEvidenceStore(store::Database& db) {
  if (db.backend() != store::Backend::kPostgres) {
    return FailedPrecondition("the PostgreSQL evidence schema needs a PostgreSQL connection");
  }
  return store::Migrate(db, "evidence", kPgMigrations);
}

void PgChain::BeginBatch(bool) { marks_.clear(); }

uint64_t PgChain::Mark() {
  marks_.push_back(tip_);
  return marks_.size() - 1;
}

void PgChain::RollbackTo(uint64_t mark) {
  if (mark < marks_.size()) tip_ = marks_[mark];
}

void PgChain::Committed() {
  if (tip_.known) committed_seq_.store(tip_.seq, std::memory_order_release);
}

void PgChain::Abandon() {
  // The batch may have committed (a COMMIT whose answer was lost): read the tip again.
  tip_ = Tip{};
}

Status PgChain::ReadTip(store::WriteContext& ctx) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement * tip, ctx.Prepared(kTip));
  GOVESB_RETURN_IF_ERROR(tip->Bind(1, node_));
  GOVESB_ASSIGN_OR_RETURN(bool row, tip->Step());
  Tip read;
  if (row) {
    read.seq = tip->ColumnInt64(0);
    const std::string_view chain = tip->ColumnView(1);
    if (chain.size() != read.chain.size()) {
      return Internal("the evidence chain of node " + node_ + " has an unreadable chain value at " +
                      "record " + std::to_string(read.seq) + "; run govesb audit verify");
    }
    std::copy(chain.begin(), chain.end(), reinterpret_cast<char*>(read.chain.data()));
  }
  GOVESB_RETURN_IF_ERROR(tip->Reset());
  read.known = true;
  tip_ = read;
  return Status::Ok();
}

Status PgChain::AppendInJob(store::WriteContext& ctx, const PreparedRecords& records) {
  if (records.empty()) return Status::Ok();
  if (!tip_.known) GOVESB_RETURN_IF_ERROR(ReadTip(ctx));
  return Insert(ctx, records);
}

Status PgChain::AppendAll(store::WriteContext& ctx,
                          const std::vector<const PreparedRecords*>& appends) {
  for (const PreparedRecords* records : appends) {
    GOVESB_RETURN_IF_ERROR(AppendInJob(ctx, *records));
  }
  return Status::Ok();
}

Status PgChain::Insert(store::WriteContext& ctx, const PreparedRecords& records) {
  const std::vector<PreparedRecord>& all = records.records();
  std::string row;  // the record's compact row, for ScanCompactRow
  std::string text;
  char number[24];
  for (size_t start = 0; start < all.size(); start += kRowsPerInsert) {
    const size_t n = std::min(kRowsPerInsert, all.size() - start);
    GOVESB_ASSIGN_OR_RETURN(store::Statement * insert, ctx.Prepared(InsertOf(n)));
    int p = 0;
    for (size_t i = start; i < start + n; ++i) {
      const PreparedRecord& r = all[i];
      const int64_t seq = tip_.seq + 1;
      char* end = std::to_chars(number, number + sizeof number, seq).ptr;
      text.assign("{\"seq\":");
      text.append(number, static_cast<size_t>(end - number));
      text.append(r.tail);
      const Hash hash = crypto::Sha256(text);
      const Hash chain = ChainLink(tip_.chain, hash);
      row.assign(1, kCompactRowMarker);
      row.append(r.compact);
      CompactFields fields;
      size_t seen = 0;
      if (!ScanCompactRow(row,
                          [&](const CompactFields& f) {
                            fields = f;
                            ++seen;
                          }) ||
          seen != 1) {
        return Internal("an evidence record could not be read back before it was stored");
      }
      GOVESB_RETURN_IF_ERROR(insert->Bind(++p, node_));
      GOVESB_RETURN_IF_ERROR(insert->Bind(++p, seq));
      GOVESB_RETURN_IF_ERROR(insert->Bind(++p, r.at_ms));
      GOVESB_RETURN_IF_ERROR(insert->Bind(++p, r.request_id));
      for (std::string_view v :
           {fields.kind, fields.from, fields.to, fields.code, fields.user_id, fields.outcome}) {
        GOVESB_RETURN_IF_ERROR(insert->Bind(++p, v));
      }
      GOVESB_RETURN_IF_ERROR(insert->Bind(++p, text));
      GOVESB_RETURN_IF_ERROR(insert->BindBlob(++p, Bytes(hash)));
      GOVESB_RETURN_IF_ERROR(insert->BindBlob(++p, Bytes(chain)));
      tip_.seq = seq;
      tip_.chain = chain;
    }
    GOVESB_RETURN_IF_ERROR(insert->Run());
  }
  return Status::Ok();
}

}  // namespace govesb::evidence
