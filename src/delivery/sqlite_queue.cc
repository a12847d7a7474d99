#include "delivery/sqlite_queue.h"

#include <array>
#include <functional>

#include "evidence/log.h"  // EvidenceLog::AppendInJob: a message and its evidence in one job

namespace govesb::delivery {

std::string_view MessageKindName(MessageKind kind) {
  return kind == MessageKind::kPush ? "push" : "async";
}

std::string_view DeliveryStateName(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending:
      return "pending";
    case DeliveryState::kDelivered:
      return "delivered";
    case DeliveryState::kDead:
      return "dead";
  }
  return "?";
}

std::optional<DeliveryState> ParseDeliveryState(std::string_view name) {
  if (name == "pending") return DeliveryState::kPending;
  if (name == "delivered") return DeliveryState::kDelivered;
  if (name == "dead") return DeliveryState::kDead;
  return std::nullopt;
}

namespace {

// Migration 1 of component "delivery". Never edit a released migration; append.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE delivery_messages (
  id               INTEGER PRIMARY KEY,
  request_id       TEXT    NOT NULL UNIQUE,
  kind             TEXT    NOT NULL CHECK (kind IN ('push', 'async')),
  code             TEXT    NOT NULL,
  source_system_id INTEGER NOT NULL,
  envelope         BLOB    NOT NULL,
  created_at       INTEGER NOT NULL
);
CREATE TABLE deliveries (
  id               INTEGER PRIMARY KEY,
  message_id       INTEGER NOT NULL REFERENCES delivery_messages(id),
  lane             TEXT    NOT NULL,
  subscription_id  INTEGER NOT NULL DEFAULT 0,
  target_system_id INTEGER NOT NULL,
  state            TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL,
  last_error       TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX deliveries_open ON deliveries(state, id) WHERE state <> 'delivered';
CREATE INDEX deliveries_by_message ON deliveries(message_id);
CREATE TABLE delivery_attempts (
  delivery_id INTEGER NOT NULL,
  attempt     INTEGER NOT NULL,
  at          INTEGER NOT NULL,
  outcome     TEXT    NOT NULL,
  http_status INTEGER NOT NULL,
  latency_us  INTEGER NOT NULL,
  error       TEXT,
  PRIMARY KEY (delivery_id, attempt)
) WITHOUT ROWID;
CREATE TABLE awaited_answers (
  request_id         TEXT    PRIMARY KEY,
  api_code           TEXT    NOT NULL,
  consumer_system_id INTEGER NOT NULL,
  provider_system_id INTEGER NOT NULL,
  state              TEXT    NOT NULL CHECK (state IN ('awaiting', 'answered', 'cancelled')),
  created_at         INTEGER NOT NULL,
  expires_at         INTEGER NOT NULL,
  answered_at        INTEGER
) WITHOUT ROWID;
CREATE TABLE delivery_control (
  key   TEXT    PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO delivery_control(key, value) VALUES ('redeliver_generation', 0);
)sql";

constexpr std::array<std::string_view, 1> kMigrations = {kSchemaV1};

constexpr std::string_view kInsertMessage =
    "INSERT INTO delivery_messages(request_id, kind, code, source_system_id, envelope,"
    " created_at) VALUES(?, ?, ?, ?, ?, ?)";
constexpr std::string_view kInsertDelivery =
    "INSERT INTO deliveries(message_id, lane, subscription_id, target_system_id, state,"
    " attempts, next_attempt_at, created_at, updated_at) VALUES(?, ?, ?, ?, 'pending', 0, ?, ?, ?)";
constexpr std::string_view kFindAwaited =
    "SELECT api_code, consumer_system_id, provider_system_id, state, expires_at"
    " FROM awaited_answers WHERE request_id = ?";
constexpr std::string_view kMarkAnswered =
    "UPDATE awaited_answers SET state = 'answered', answered_at = ? WHERE request_id = ?";
constexpr std::string_view kInsertAwaited =
    "INSERT INTO awaited_answers(request_id, api_code, consumer_system_id, provider_system_id,"
    " state, created_at, expires_at) VALUES(?, ?, ?, ?, 'awaiting', ?, ?)";
constexpr std::string_view kCancelAwaited =
    "UPDATE awaited_answers SET state = 'cancelled' WHERE request_id = ? AND state = 'awaiting'";
constexpr std::string_view kSettle =
    "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?,"
    " last_error = ?, updated_at = ? WHERE id = ? AND state = 'pending'";
constexpr std::string_view kInsertAttempt =
    "INSERT INTO delivery_attempts(delivery_id, attempt, at, outcome, http_status,"
    " latency_us, error) VALUES(?, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM delivery_attempts"
    " WHERE delivery_id = ?), ?, ?, ?, ?, ?)";

std::string LaneForCallback(int64_t consumer_system_id) {
  return "cb:" + std::to_string(consumer_system_id);
}

Status BindOptionalText(store::Statement& s, int index, std::string_view text) {
  return text.empty() ? s.BindNull(index) : s.Bind(index, text);
}

// Inside the writer's transaction: checks the claim and marks the request answered; fills the
// recipient (the consumer) and the api code.
Status ClaimAnswer(store::WriteContext& ctx, NewMessage& m) {
  const AnswerClaim& claim = *m.claim;
  GOVESB_ASSIGN_OR_RETURN(store::Statement * find, ctx.Prepared(kFindAwaited));
  GOVESB_RETURN_IF_ERROR(find->Bind(1, claim.request_id));
  GOVESB_ASSIGN_OR_RETURN(bool found, find->Step());
  if (!found || find->ColumnInt64(2) != claim.provider_system_id) {
    return NotFound("no request with requestId " + claim.request_id +
                    " was delivered to this system for an asynchronous answer");
  }
  std::string api_code = find->ColumnText(0);
  int64_t consumer = find->ColumnInt64(1);
  std::string state = find->ColumnText(3);
  int64_t expires_at = find->ColumnInt64(4);
  GOVESB_RETURN_IF_ERROR(find->Reset());
  if (state == "answered") {
    return FailedPrecondition("request " + claim.request_id +
                              " has already been answered; a second answer is not accepted");
  }
  if (state == "cancelled") {
    return FailedPrecondition("request " + claim.request_id +
                              " failed when it was delivered, so no answer is expected");
  }
  if (claim.now_ms > expires_at) {
    return FailedPrecondition("the answer to request " + claim.request_id +
                              " comes too late: the window for answering it has closed");
  }
  GOVESB_ASSIGN_OR_RETURN(store::Statement * mark, ctx.Prepared(kMarkAnswered));
  GOVESB_RETURN_IF_ERROR(mark->Bind(1, claim.now_ms));
  GOVESB_RETURN_IF_ERROR(mark->Bind(2, claim.request_id));
  GOVESB_RETURN_IF_ERROR(mark->Run());
  m.code = std::move(api_code);
  m.recipients.clear();
  m.recipients.push_back(Recipient{LaneForCallback(consumer), 0, consumer});
  return Status::Ok();
}

Status WriteMessage(store::WriteContext& ctx, NewMessage& m, std::vector<PendingDelivery>& out) {
  if (m.claim.has_value()) GOVESB_RETURN_IF_ERROR(ClaimAnswer(ctx, m));
  GOVESB_ASSIGN_OR_RETURN(store::Statement * msg, ctx.Prepared(kInsertMessage));
  GOVESB_RETURN_IF_ERROR(msg->Bind(1, m.request_id));
  GOVESB_RETURN_IF_ERROR(msg->Bind(2, MessageKindName(m.kind)));
  GOVESB_RETURN_IF_ERROR(msg->Bind(3, m.code));
  GOVESB_RETURN_IF_ERROR(msg->Bind(4, m.source_system_id));
  GOVESB_RETURN_IF_ERROR(msg->Bind(5, m.envelope));
  GOVESB_RETURN_IF_ERROR(msg->Bind(6, m.created_at_ms));
  GOVESB_RETURN_IF_ERROR(msg->Run());
  int64_t message_id = ctx.db().LastInsertRowId();
  if (!m.evidence.empty()) {
    GOVESB_RETURN_IF_ERROR(evidence::EvidenceLog::AppendInJob(ctx, m.evidence));
  }
  auto envelope = std::make_shared<const std::string>(std::move(m.envelope));
  GOVESB_ASSIGN_OR_RETURN(store::Statement * del, ctx.Prepared(kInsertDelivery));
  out.clear();
  out.reserve(m.recipients.size());
  for (const Recipient& r : m.recipients) {
    GOVESB_RETURN_IF_ERROR(del->Reset());
    GOVESB_RETURN_IF_ERROR(del->Bind(1, message_id));
    GOVESB_RETURN_IF_ERROR(del->Bind(2, r.lane));
    GOVESB_RETURN_IF_ERROR(del->Bind(3, r.subscription_id));
    GOVESB_RETURN_IF_ERROR(del->Bind(4, r.target_system_id));
    GOVESB_RETURN_IF_ERROR(del->Bind(5, m.created_at_ms));
    GOVESB_RETURN_IF_ERROR(del->Bind(6, m.created_at_ms));
    GOVESB_RETURN_IF_ERROR(del->Bind(7, m.created_at_ms));
    GOVESB_RETURN_IF_ERROR(del->Run());
    PendingDelivery d;
    d.id = ctx.db().LastInsertRowId();
    d.message_id = message_id;
    d.kind = m.kind;
    d.request_id = m.request_id;
    d.code = m.code;
    d.lane = r.lane;
    d.subscription_id = r.subscription_id;
    d.target_system_id = r.target_system_id;
    d.next_attempt_at_ms = m.created_at_ms;
    d.created_at_ms = m.created_at_ms;
    d.envelope = envelope;
    out.push_back(std::move(d));
  }
  return Status::Ok();
}

void LogIfFailed(const Status& s) {
  (void)s;  // the writer logs failed commits; a lost outcome only means one more delivery
}

Status BumpGeneration(store::Database& db) {
  return db.Exec(
      "UPDATE delivery_control SET value = value + 1 WHERE key = 'redeliver_generation'");
}

}  // namespace

Status MigrateDeliveryStore(store::Database& db) {
  return store::Migrate(db, "delivery", kMigrations);
}

Result<std::unique_ptr<SqliteDeliveryQueue>> SqliteDeliveryQueue::Open(
    const std::string& path, store::GroupCommitWriter& writer) {
  store::DatabaseOptions options;
  options.create = false;
  GOVESB_ASSIGN_OR_RETURN(auto reader, store::Database::Open(path, options));
  return std::unique_ptr<SqliteDeliveryQueue>(new SqliteDeliveryQueue(std::move(reader), writer));
}

void SqliteDeliveryQueue::Enqueue(NewMessage message, EnqueueDone done) {
  struct State {
    NewMessage message;
    std::vector<PendingDelivery> created;
  };
  auto state = std::make_shared<State>(State{std::move(message), {}});
  writer_.Submit(
      [state](store::WriteContext& ctx) {
        return WriteMessage(ctx, state->message, state->created);
      },
      [state, done = std::move(done)](const Status& s) {
        if (!s.ok()) state->created.clear();
        done(s, std::move(state->created));
      });
}

void SqliteDeliveryQueue::Await(AwaitedAnswer a, std::function<void(Status)> done) {
  writer_.Submit(
      [a = std::move(a)](store::WriteContext& ctx) -> Status {
        GOVESB_ASSIGN_OR_RETURN(store::Statement * s, ctx.Prepared(kInsertAwaited));
        GOVESB_RETURN_IF_ERROR(s->Bind(1, a.request_id));
        GOVESB_RETURN_IF_ERROR(s->Bind(2, a.api_code));
        GOVESB_RETURN_IF_ERROR(s->Bind(3, a.consumer_system_id));
        GOVESB_RETURN_IF_ERROR(s->Bind(4, a.provider_system_id));
        GOVESB_RETURN_IF_ERROR(s->Bind(5, a.created_at_ms));
        GOVESB_RETURN_IF_ERROR(s->Bind(6, a.expires_at_ms));
        return s->Run();
      },
      [done = std::move(done)](const Status& s) { done(s); });
}

void SqliteDeliveryQueue::CancelAwait(std::string request_id) {
  writer_.Submit(
      [id = std::move(request_id)](store::WriteContext& ctx) -> Status {
        GOVESB_ASSIGN_OR_RETURN(store::Statement * s, ctx.Prepared(kCancelAwaited));
        GOVESB_RETURN_IF_ERROR(s->Bind(1, id));
        return s->Run();
      },
      LogIfFailed);
}

Result<std::vector<PendingDelivery>> SqliteDeliveryQueue::LoadPending(int64_t after_id,
                                                                      size_t limit) {
  std::lock_guard lock(reader_mutex_);
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      reader_->Prepare("SELECT d.id, d.message_id, m.kind, m.request_id, m.code, d.lane,"
                       " d.subscription_id, d.target_system_id, d.attempts, d.next_attempt_at,"
                       " d.created_at FROM deliveries d JOIN delivery_messages m"
                       " ON m.id = d.message_id"
                       " WHERE d.state = 'pending' AND d.id > ? ORDER BY d.id LIMIT ?"));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, after_id));
  GOVESB_RETURN_IF_ERROR(s.Bind(2, static_cast<int64_t>(limit)));
  std::vector<PendingDelivery> out;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    PendingDelivery d;
    d.id = s.ColumnInt64(0);
    d.message_id = s.ColumnInt64(1);
    d.kind = s.ColumnText(2) == "push" ? MessageKind::kPush : MessageKind::kAsyncAnswer;
    d.request_id = s.ColumnText(3);
    d.code = s.ColumnText(4);
    d.lane = s.ColumnText(5);
    d.subscription_id = s.ColumnInt64(6);
    d.target_system_id = s.ColumnInt64(7);
    d.attempts = static_cast<int>(s.ColumnInt64(8));
    d.next_attempt_at_ms = s.ColumnInt64(9);
    d.created_at_ms = s.ColumnInt64(10);
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::string> SqliteDeliveryQueue::LoadEnvelope(int64_t message_id) {
  std::lock_guard lock(reader_mutex_);
  GOVESB_ASSIGN_OR_RETURN(store::Statement s,
                          reader_->Prepare("SELECT envelope FROM delivery_messages WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, message_id));
  GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return NotFound("message " + std::to_string(message_id) + " is not in the store");
  return s.ColumnText(0);
}

void SqliteDeliveryQueue::Settle(int64_t delivery_id, Attempt attempt, std::string_view state,
                                 int64_t next_attempt_at_ms) {
  writer_.Submit(
      [delivery_id, attempt = std::move(attempt), state,
       next_attempt_at_ms](store::WriteContext& ctx) -> Status {
        GOVESB_ASSIGN_OR_RETURN(store::Statement * u, ctx.Prepared(kSettle));
        GOVESB_RETURN_IF_ERROR(u->Bind(1, state));
        GOVESB_RETURN_IF_ERROR(u->Bind(2, next_attempt_at_ms));
        GOVESB_RETURN_IF_ERROR(BindOptionalText(*u, 3, attempt.error));
        GOVESB_RETURN_IF_ERROR(u->Bind(4, attempt.at_ms));
        GOVESB_RETURN_IF_ERROR(u->Bind(5, delivery_id));
        GOVESB_RETURN_IF_ERROR(u->Run());
        // No change: redelivered or settled meanwhile; the attempt row goes with the state.
        if (ctx.db().Changes() > 0) {
          GOVESB_ASSIGN_OR_RETURN(store::Statement * a, ctx.Prepared(kInsertAttempt));
          GOVESB_RETURN_IF_ERROR(a->Bind(1, delivery_id));
          GOVESB_RETURN_IF_ERROR(a->Bind(2, delivery_id));
          GOVESB_RETURN_IF_ERROR(a->Bind(3, attempt.at_ms));
          GOVESB_RETURN_IF_ERROR(a->Bind(4, attempt.outcome));
          GOVESB_RETURN_IF_ERROR(a->Bind(5, attempt.http_status));
          GOVESB_RETURN_IF_ERROR(a->Bind(6, attempt.latency_us));
          GOVESB_RETURN_IF_ERROR(BindOptionalText(*a, 7, attempt.error));
          GOVESB_RETURN_IF_ERROR(a->Run());
        }
        // The attempt happened either way: its evidence is kept.
        if (attempt.evidence.empty()) return Status::Ok();
        return evidence::EvidenceLog::AppendInJob(ctx, attempt.evidence);
      },
      LogIfFailed);
}

void SqliteDeliveryQueue::Ack(int64_t delivery_id, Attempt attempt) {
  int64_t at = attempt.at_ms;
  Settle(delivery_id, std::move(attempt), "delivered", at);
}

void SqliteDeliveryQueue::Nack(int64_t delivery_id, Attempt attempt, int64_t next_attempt_at_ms) {
  Settle(delivery_id, std::move(attempt), "pending", next_attempt_at_ms);
}

void SqliteDeliveryQueue::DeadLetter(int64_t delivery_id, Attempt attempt) {
  int64_t at = attempt.at_ms;
  Settle(delivery_id, std::move(attempt), "dead", at);
}

Result<int64_t> SqliteDeliveryQueue::RedeliverGeneration() {
  std::lock_guard lock(reader_mutex_);
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      reader_->Prepare("SELECT value FROM delivery_control WHERE key = 'redeliver_generation'"));
  GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.ColumnInt64(0) : 0;
}

void SqliteDeliveryQueue::Prune(int64_t before_ms) {
  static constexpr std::string_view kPruneAttempts =
      "DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries"
      " WHERE state = 'delivered' AND updated_at < ? ORDER BY id LIMIT 5000)";
  static constexpr std::string_view kPruneDeliveries =
      "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries"
      " WHERE state = 'delivered' AND updated_at < ? ORDER BY id LIMIT 5000)";
  static constexpr std::string_view kPruneMessages =
      "DELETE FROM delivery_messages WHERE id IN (SELECT m.id FROM delivery_messages m"
      " WHERE m.created_at < ? AND NOT EXISTS (SELECT 1 FROM deliveries d"
      " WHERE d.message_id = m.id) ORDER BY m.id LIMIT 5000)";
  static constexpr std::string_view kPruneAwaited =
      "DELETE FROM awaited_answers WHERE request_id IN (SELECT request_id FROM awaited_answers"
      " WHERE (state <> 'awaiting' OR expires_at < ?1) AND created_at < ?1 LIMIT 5000)";
  writer_.Submit(
      [before_ms](store::WriteContext& ctx) -> Status {
        for (std::string_view sql : {kPruneAttempts, kPruneDeliveries, kPruneMessages}) {
          GOVESB_ASSIGN_OR_RETURN(store::Statement * s, ctx.Prepared(sql));
          GOVESB_RETURN_IF_ERROR(s->Bind(1, before_ms));
          GOVESB_RETURN_IF_ERROR(s->Run());
        }
        GOVESB_ASSIGN_OR_RETURN(store::Statement * s, ctx.Prepared(kPruneAwaited));
        GOVESB_RETURN_IF_ERROR(s->Bind(1, before_ms));
        return s->Run();
      },
      LogIfFailed);
}

void SqliteDeliveryQueue::Sync(std::function<void(Status)> done) {
  // Jobs commit in the order they were submitted: this empty one commits after all of them.
  writer_.Submit([](store::WriteContext&) { return Status::Ok(); },
                 [done = std::move(done)](const Status& s) { done(s); });
}

// ---- operations ----

Result<std::vector<DeliveryInfo>> SqliteDeliveryOperations::List(const DeliveryFilter& filter) {
  store::Database& db = db_;
  std::string sql =
      "SELECT d.id, m.request_id, m.kind, m.code, d.target_system_id,"
      " COALESCE((SELECT client_id FROM systems WHERE id = d.target_system_id), ''),"
      " d.subscription_id, d.state, d.attempts, d.next_attempt_at, COALESCE(d.last_error, ''),"
      " d.created_at, d.updated_at"
      " FROM deliveries d JOIN delivery_messages m ON m.id = d.message_id WHERE 1 = 1";
  // Parameters numbered in the order they appear, none skipped (PostgreSQL cannot type a
  // parameter the text does not use).
  std::vector<std::function<Status(store::Statement&, int)>> binds;
  auto where = [&](std::string_view clause, std::function<Status(store::Statement&, int)> bind) {
    sql += clause;
    binds.push_back(std::move(bind));
  };
  if (filter.state.has_value()) {
    where(" AND d.state = ?", [&](store::Statement& st, int i) {
      return st.Bind(i, DeliveryStateName(*filter.state));
    });
  }
  if (!filter.code.empty()) {
    where(" AND m.code = ?", [&](store::Statement& st, int i) { return st.Bind(i, filter.code); });
  }
  if (filter.id != 0) {
    where(" AND d.id = ?", [&](store::Statement& st, int i) { return st.Bind(i, filter.id); });
  }
  if (!filter.recipient_institution.empty()) {
    where(
        " AND d.target_system_id IN (SELECT s.id FROM systems s JOIN institutions i"
        " ON i.id = s.institution_id WHERE i.code = ?)",
        [&](store::Statement& st, int i) { return st.Bind(i, filter.recipient_institution); });
  }
  where(" ORDER BY d.id LIMIT ?", [&](store::Statement& st, int i) {
    return st.Bind(i, static_cast<int64_t>(filter.limit));
  });
  GOVESB_ASSIGN_OR_RETURN(store::Statement s, db.Prepare(sql));
  for (size_t i = 0; i < binds.size(); ++i) {
    GOVESB_RETURN_IF_ERROR(binds[i](s, static_cast<int>(i + 1)));
  }
  std::vector<DeliveryInfo> out;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    DeliveryInfo d;
    d.id = s.ColumnInt64(0);
    d.request_id = s.ColumnText(1);
    d.kind = s.ColumnText(2) == "push" ? MessageKind::kPush : MessageKind::kAsyncAnswer;
    d.code = s.ColumnText(3);
    d.target_system_id = s.ColumnInt64(4);
    d.target_client_id = s.ColumnText(5);
    d.subscription_id = s.ColumnInt64(6);
    d.state = ParseDeliveryState(s.ColumnText(7)).value_or(DeliveryState::kPending);
    d.attempts = static_cast<int>(s.ColumnInt64(8));
    d.next_attempt_at_ms = s.ColumnInt64(9);
    d.last_error = s.ColumnText(10);
    d.created_at_ms = s.ColumnInt64(11);
    d.updated_at_ms = s.ColumnInt64(12);
    out.push_back(std::move(d));
  }
  return out;
}

Status SqliteDeliveryOperations::Redeliver(int64_t delivery_id, int64_t now_ms) {
  store::Database& db = db_;
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  GOVESB_ASSIGN_OR_RETURN(store::Statement find,
                          db.Prepare("SELECT state FROM deliveries WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(find.Bind(1, delivery_id));
  GOVESB_ASSIGN_OR_RETURN(bool row, find.Step());
  if (!row) return NotFound("delivery " + std::to_string(delivery_id) + " not found");
  if (find.ColumnText(0) == "pending") {
    return FailedPrecondition("delivery " + std::to_string(delivery_id) +
                              " is pending already; the bus keeps trying it");
  }
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement update,
      db.Prepare("UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?,"
                 " updated_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(update.Bind(1, now_ms));
  GOVESB_RETURN_IF_ERROR(update.Bind(2, now_ms));
  GOVESB_RETURN_IF_ERROR(update.Bind(3, delivery_id));
  GOVESB_RETURN_IF_ERROR(update.Run());
  GOVESB_RETURN_IF_ERROR(BumpGeneration(db));
  return txn.Commit();
}

Result<int64_t> SqliteDeliveryOperations::RedeliverAllDead(std::string_view code, int64_t now_ms) {
  store::Database& db = db_;
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  std::string sql =
      "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?1,"
      " updated_at = ?1 WHERE state = 'dead'";
  if (!code.empty()) {
    sql += " AND message_id IN (SELECT id FROM delivery_messages WHERE code = ?2)";
  }
  GOVESB_ASSIGN_OR_RETURN(store::Statement update, db.Prepare(sql));
  GOVESB_RETURN_IF_ERROR(update.Bind(1, now_ms));
  if (!code.empty()) GOVESB_RETURN_IF_ERROR(update.Bind(2, code));
  GOVESB_RETURN_IF_ERROR(update.Run());
  int64_t changed = db.Changes();
  GOVESB_RETURN_IF_ERROR(BumpGeneration(db));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return changed;
}

Result<std::vector<Attempt>> SqliteDeliveryOperations::Attempts(int64_t delivery_id) {
  store::Database& db = db_;
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      db.Prepare("SELECT at, outcome, http_status, latency_us, COALESCE(error, '')"
                 " FROM delivery_attempts WHERE delivery_id = ? ORDER BY attempt"));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, delivery_id));
  std::vector<Attempt> out;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    Attempt a;
    a.at_ms = s.ColumnInt64(0);
    a.outcome = s.ColumnText(1);
    a.http_status = static_cast<int>(s.ColumnInt64(2));
    a.latency_us = s.ColumnInt64(3);
    a.error = s.ColumnText(4);
    out.push_back(std::move(a));
  }
  return out;
}

Result<QueueCounts> SqliteDeliveryOperations::Count() {
  store::Database& db = db_;
  QueueCounts c;
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      db.Prepare("SELECT state, COUNT(*), MIN(created_at) FROM deliveries GROUP BY state"));
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    std::string state = s.ColumnText(0);
    int64_t n = s.ColumnInt64(1);
    if (state == "pending") {
      c.pending = n;
      c.oldest_pending_created_at_ms = s.ColumnInt64(2);
    } else if (state == "dead") {
      c.dead = n;
    } else {
      c.delivered = n;
    }
  }
  return c;
}

Result<QueueCounts> SqliteDeliveryOperations::CountOpen(std::string_view recipient_institution) {
  store::Database& db = db_;
  std::string sql =
      "SELECT state, COUNT(*), MIN(created_at) FROM deliveries WHERE state <> 'delivered'";
  if (!recipient_institution.empty()) {
    sql +=
        " AND target_system_id IN (SELECT s.id FROM systems s JOIN institutions i"
        " ON i.id = s.institution_id WHERE i.code = ?1)";
  }
  sql += " GROUP BY state";
  GOVESB_ASSIGN_OR_RETURN(store::Statement s, db.Prepare(sql));
  if (!recipient_institution.empty()) GOVESB_RETURN_IF_ERROR(s.Bind(1, recipient_institution));
  QueueCounts c;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    std::string state = s.ColumnText(0);
    if (state == "pending") {
      c.pending = s.ColumnInt64(1);
      c.oldest_pending_created_at_ms = s.ColumnInt64(2);
    } else if (state == "dead") {
      c.dead = s.ColumnInt64(1);
    }
  }
  return c;
}

}  // namespace govesb::delivery
