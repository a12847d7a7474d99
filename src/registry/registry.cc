#include "registry/registry.h"

#include <array>
#include <string>
#include <utility>

#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "registry/queries.h"
#include "registry/schema_postgres.h"
#include "registry/validation.h"

namespace govesb::registry {
namespace {

constexpr size_t kClientSecretLength = 32;

// Migration 1: the registry proper. Later migrations (push topics, subscriptions ...) are
// appended to kMigrations; never edit a released one.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE institutions (
  id          INTEGER PRIMARY KEY,
  code        TEXT    NOT NULL UNIQUE,
  name        TEXT    NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE TABLE systems (
  id                 INTEGER PRIMARY KEY,
  client_id          TEXT    NOT NULL UNIQUE,
  institution_id     INTEGER NOT NULL REFERENCES institutions(id),
  name               TEXT    NOT NULL,
  public_key         TEXT    NOT NULL,
  key_curve          TEXT    NOT NULL,
  endpoint           TEXT    NOT NULL,
  secret_hash        TEXT    NOT NULL,
  enabled            INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  credential_version INTEGER NOT NULL DEFAULT 1,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL
);
CREATE INDEX systems_by_institution ON systems(institution_id);
CREATE TABLE apis (
  id                 INTEGER PRIMARY KEY,
  code               TEXT    NOT NULL UNIQUE,
  provider_system_id INTEGER NOT NULL REFERENCES systems(id),
  endpoint           TEXT,
  timeout_ms         INTEGER NOT NULL CHECK (timeout_ms BETWEEN 100 AND 300000),
  created_at         INTEGER NOT NULL
);
CREATE INDEX apis_by_provider ON apis(provider_system_id);
CREATE TABLE grants (
  id                 INTEGER PRIMARY KEY,
  consumer_system_id INTEGER NOT NULL REFERENCES systems(id),
  api_id             INTEGER NOT NULL REFERENCES apis(id),
  state              TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'revoked')),
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  UNIQUE (consumer_system_id, api_id)
);
CREATE INDEX grants_by_api ON grants(api_id);
)sql";

// Migration 2: push topics (pushCode → publisher) and their subscriptions.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE topics (
  id                  INTEGER PRIMARY KEY,
  code                TEXT    NOT NULL UNIQUE,
  publisher_system_id INTEGER NOT NULL REFERENCES systems(id),
  created_at          INTEGER NOT NULL
);
CREATE INDEX topics_by_publisher ON topics(publisher_system_id);
CREATE TABLE subscriptions (
  id                   INTEGER PRIMARY KEY,
  subscriber_system_id INTEGER NOT NULL REFERENCES systems(id),
  topic_id             INTEGER NOT NULL REFERENCES topics(id),
  endpoint             TEXT,
  state                TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'revoked')),
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  UNIQUE (subscriber_system_id, topic_id)
);
CREATE INDEX subscriptions_by_topic ON subscriptions(topic_id);
)sql";

// Migration 3: asynchronous APIs. An async API's provider acknowledges a delivery at once and
// answers later on /engine/esb/async; the answer goes to callback_endpoint (NULL: the
// consumer system's endpoint).
constexpr std::string_view kSchemaV3 = R"sql(
ALTER TABLE apis ADD COLUMN mode TEXT NOT NULL DEFAULT 'sync' CHECK (mode IN ('sync', 'async'));
ALTER TABLE apis ADD COLUMN callback_endpoint TEXT;
)sql";

// Migration 4: per-API storage of request and reply bodies in the evidence log (encrypted with
// the bus's evidence key). Off for every existing API.
constexpr std::string_view kSchemaV4 = R"sql(
ALTER TABLE apis ADD COLUMN store_bodies INTEGER NOT NULL DEFAULT 0 CHECK (store_bodies IN (0, 1));
)sql";

// Migration 5: hardening settings. Rate limits per system and per API (per consumer): REAL
// requests per second and burst, 0 = the bus's default, -1 = unlimited (rates only); whether a
// system's signatures may verify over the fallback texts of data; what a repeated signed pull
// of an API gets; and how often each system's signatures verified with each variant.
// signature_usage is not part of the Snapshot: the bus writes it, operators read it.
constexpr std::string_view kSchemaV5 = R"sql(
ALTER TABLE systems ADD COLUMN rate_per_second REAL NOT NULL DEFAULT 0.0
  CHECK (rate_per_second IN (0, -1) OR rate_per_second BETWEEN 0.001 AND 1000000);
ALTER TABLE systems ADD COLUMN rate_burst REAL NOT NULL DEFAULT 0.0
  CHECK (rate_burst = 0 OR rate_burst BETWEEN 1 AND 1000000);
ALTER TABLE systems ADD COLUMN signature_fallbacks INTEGER NOT NULL DEFAULT 1
  CHECK (signature_fallbacks IN (0, 1));
ALTER TABLE apis ADD COLUMN rate_per_second REAL NOT NULL DEFAULT 0.0
  CHECK (rate_per_second IN (0, -1) OR rate_per_second BETWEEN 0.001 AND 1000000);
ALTER TABLE apis ADD COLUMN rate_burst REAL NOT NULL DEFAULT 0.0
  CHECK (rate_burst = 0 OR rate_burst BETWEEN 1 AND 1000000);
ALTER TABLE apis ADD COLUMN replay_policy TEXT NOT NULL DEFAULT 'record'
  CHECK (replay_policy IN ('record', 'refuse'));
CREATE TABLE signature_usage (
  id         INTEGER PRIMARY KEY,
  system_id  INTEGER NOT NULL REFERENCES systems(id),
  variant    TEXT    NOT NULL,
  count      INTEGER NOT NULL CHECK (count >= 0),
  first_at   INTEGER NOT NULL,
  last_at    INTEGER NOT NULL,
  UNIQUE (system_id, variant)
);
)sql";

// Migration 6: onboarding. Institutions may be suspended (all their systems refused) and
// renamed; APIs and topics gain their catalogue entry (title, description, JSON examples, an
// API's OpenAPI document) and APIs an enabled flag; grants and subscriptions become access
// requests: who asked and why, who decided and why, and a "refused" state. SQLite cannot change
// a CHECK constraint in place, so grants and subscriptions are rebuilt, keeping their ids
// (deliveries name subscriptions by id). Membership applications of institutions not yet on the
// bus get a table of their own.
constexpr std::string_view kSchemaV6 = R"sql(
ALTER TABLE institutions ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0
  CHECK (suspended IN (0, 1));
ALTER TABLE institutions ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apis ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1));
ALTER TABLE apis ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE apis ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE apis ADD COLUMN request_example TEXT NOT NULL DEFAULT '';
ALTER TABLE apis ADD COLUMN response_example TEXT NOT NULL DEFAULT '';
ALTER TABLE apis ADD COLUMN openapi TEXT NOT NULL DEFAULT '';
ALTER TABLE topics ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE topics ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE topics ADD COLUMN message_example TEXT NOT NULL DEFAULT '';
CREATE TABLE grants_v6 (
  id                 INTEGER PRIMARY KEY,
  consumer_system_id INTEGER NOT NULL REFERENCES systems(id),
  api_id             INTEGER NOT NULL REFERENCES apis(id),
  state              TEXT    NOT NULL
                     CHECK (state IN ('pending', 'approved', 'refused', 'revoked')),
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  requested_by       TEXT    NOT NULL DEFAULT '',
  purpose            TEXT    NOT NULL DEFAULT '',
  requested_at       INTEGER NOT NULL DEFAULT 0,
  decided_by         TEXT    NOT NULL DEFAULT '',
  reason             TEXT    NOT NULL DEFAULT '',
  decided_at         INTEGER NOT NULL DEFAULT 0,
  UNIQUE (consumer_system_id, api_id)
);
INSERT INTO grants_v6(id, consumer_system_id, api_id, state, created_at, updated_at)
  SELECT id, consumer_system_id, api_id, state, created_at, updated_at FROM grants;
DROP TABLE grants;
ALTER TABLE grants_v6 RENAME TO grants;
CREATE INDEX grants_by_api ON grants(api_id);
CREATE TABLE subscriptions_v6 (
  id                   INTEGER PRIMARY KEY,
  subscriber_system_id INTEGER NOT NULL REFERENCES systems(id),
  topic_id             INTEGER NOT NULL REFERENCES topics(id),
  endpoint             TEXT,
  state                TEXT    NOT NULL
                       CHECK (state IN ('pending', 'approved', 'refused', 'revoked')),
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  requested_by         TEXT    NOT NULL DEFAULT '',
  purpose              TEXT    NOT NULL DEFAULT '',
  requested_at         INTEGER NOT NULL DEFAULT 0,
  decided_by           TEXT    NOT NULL DEFAULT '',
  reason               TEXT    NOT NULL DEFAULT '',
  decided_at           INTEGER NOT NULL DEFAULT 0,
  UNIQUE (subscriber_system_id, topic_id)
);
INSERT INTO subscriptions_v6(id, subscriber_system_id, topic_id, endpoint, state, created_at,
                             updated_at)
  SELECT id, subscriber_system_id, topic_id, endpoint, state, created_at, updated_at
  FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE subscriptions_v6 RENAME TO subscriptions;
CREATE INDEX subscriptions_by_topic ON subscriptions(topic_id);
CREATE TABLE membership_applications (
  id               INTEGER PRIMARY KEY,
  institution_code TEXT    NOT NULL,
  institution_name TEXT    NOT NULL,
  details          TEXT    NOT NULL,
  contact_name     TEXT    NOT NULL,
  contact_email    TEXT    NOT NULL,
  contact_phone    TEXT    NOT NULL DEFAULT '',
  planned_systems  TEXT    NOT NULL,
  state            TEXT    NOT NULL CHECK (state IN ('pending', 'accepted', 'refused')),
  submitted_at     INTEGER NOT NULL,
  decided_by       TEXT    NOT NULL DEFAULT '',
  reason           TEXT    NOT NULL DEFAULT '',
  decided_at       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX membership_applications_by_state ON membership_applications(state, id);
)sql";

// Migration 7: push topics gain an enabled flag, as APIs did in migration 6 (every existing
// topic stays enabled).
constexpr std::string_view kSchemaV7 = R"sql(
ALTER TABLE topics ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1));
)sql";

// Migration 8: how the bus writes the data it signs for each system (System::serialisation),
// and the form it learned from the system's own signed requests.
constexpr std::string_view kSchemaV8 = R"sql(
ALTER TABLE systems ADD COLUMN serialisation TEXT NOT NULL DEFAULT 'auto'
  CHECK (serialisation IN ('auto', 'jackson', 'node'));
ALTER TABLE systems ADD COLUMN serialisation_learned TEXT NOT NULL DEFAULT ''
  CHECK (serialisation_learned IN ('', 'jackson', 'node'));
)sql";

// Migration 9: the purposes a grant allows requests to declare (lines "CODE<TAB>text"), and
// whether a request must declare one.
constexpr std::string_view kSchemaV9 = R"sql(
ALTER TABLE grants ADD COLUMN purposes TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN purpose_required INTEGER NOT NULL DEFAULT 0
  CHECK (purpose_required IN (0, 1));
)sql";

// Migration 10: API contracts. The JSON Schema (draft 2020-12) texts of an API's request and
// response bodies ('' when none), checked by the engine on every exchange (src/schema).
constexpr std::string_view kSchemaV10 = R"sql(
ALTER TABLE apis ADD COLUMN request_schema TEXT NOT NULL DEFAULT '';
ALTER TABLE apis ADD COLUMN response_schema TEXT NOT NULL DEFAULT '';
)sql";

// Migration 11: a grant's field allow-list (data minimisation): the paths of the answer's
// esbBody its consumer may receive, one per line as given; '' for every field.
constexpr std::string_view kSchemaV11 = R"sql(
ALTER TABLE grants ADD COLUMN fields TEXT NOT NULL DEFAULT '';
)sql";

// Migration 12 (compliance, docs/compliance.md): when each system's public key and secret last
// changed (existing rows: when the system was registered), and the operator's compliance
// thresholds (name -> decimal text; a missing row means the documented default).
constexpr std::string_view kSchemaV12 = R"sql(
ALTER TABLE systems ADD COLUMN key_changed_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE systems ADD COLUMN secret_changed_at INTEGER NOT NULL DEFAULT 0;
UPDATE systems SET key_changed_at = created_at, secret_changed_at = created_at;
CREATE TABLE compliance_settings (
  name        TEXT    PRIMARY KEY,
  value       TEXT    NOT NULL,
  updated_at  INTEGER NOT NULL
);
)sql";

// Migration 13: the registry's own change counter, RegistryStore::ChangeVersion on SQLite
// (sqlite_store.h). PRAGMA data_version alone moves at every commit to the file, and the
// evidence log and the delivery queue commit into it many times a second: every poll of the
// watcher would rebuild the snapshot for nothing. The counter moves only when one of the six
// tables a Snapshot is built from changes: AFTER INSERT/UPDATE/DELETE triggers on each (SQLite
// has row-level triggers only: one bump per row), in the writer's own transaction, so the bump
// commits or rolls back with the change. Not on signature_usage (the bus's usage flusher
// writes it), membership_applications or compliance_settings, which no Snapshot reads.
// PostgreSQL has had the same counter since its migration 1 (statement-level triggers).
// A later migration that rebuilds one of the six tables (CREATE, copy, DROP, RENAME) drops its
// triggers with it and must create them again.
constexpr std::string_view kSchemaV13 = R"sql(
CREATE TABLE registry_version (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  version  INTEGER NOT NULL
);
INSERT INTO registry_version(id, version) VALUES (1, 0);
CREATE TRIGGER institutions_bump_version_insert AFTER INSERT ON institutions
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER institutions_bump_version_update AFTER UPDATE ON institutions
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER institutions_bump_version_delete AFTER DELETE ON institutions
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER systems_bump_version_insert AFTER INSERT ON systems
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER systems_bump_version_update AFTER UPDATE ON systems
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER systems_bump_version_delete AFTER DELETE ON systems
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER apis_bump_version_insert AFTER INSERT ON apis
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER apis_bump_version_update AFTER UPDATE ON apis
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER apis_bump_version_delete AFTER DELETE ON apis
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER grants_bump_version_insert AFTER INSERT ON grants
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER grants_bump_version_update AFTER UPDATE ON grants
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER grants_bump_version_delete AFTER DELETE ON grants
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER topics_bump_version_insert AFTER INSERT ON topics
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER topics_bump_version_update AFTER UPDATE ON topics
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER topics_bump_version_delete AFTER DELETE ON topics
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER subscriptions_bump_version_insert AFTER INSERT ON subscriptions
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER subscriptions_bump_version_update AFTER UPDATE ON subscriptions
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER subscriptions_bump_version_delete AFTER DELETE ON subscriptions
  BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
)sql";

constexpr std::array<std::string_view, 13> kMigrations = {
    kSchemaV1, kSchemaV2, kSchemaV3,  kSchemaV4,  kSchemaV5,  kSchemaV6, kSchemaV7,
    kSchemaV8, kSchemaV9, kSchemaV10, kSchemaV11, kSchemaV12, kSchemaV13};
// A version means the same schema on both backends (schema_postgres.h): append to both lists.
static_assert(kMigrations.size() == internal::kPostgresMigrations.size());

using internal::MustFindApi;
using internal::MustFindSystem;
using internal::MustFindTopic;
using internal::Quoted;

// Parses and normalises a public key; the message says what is wrong with it.
Result<crypto::PublicKey> ParsePublicKey(std::string_view text) {
  Result<crypto::PublicKey> key = crypto::PublicKey::FromText(text);
  if (!key.ok()) return InvalidArgument("invalid public key: " + key.status().message());
  return key;
}

Status ValidateRateLimitUpdate(const RateLimitUpdate& update) {
  if (!update.rate_per_second && !update.burst) {
    return InvalidArgument("nothing to change: give a rate and/or a burst");
  }
  if (update.rate_per_second)
    GOVESB_RETURN_IF_ERROR(ValidateRatePerSecond(*update.rate_per_second));
  if (update.burst) GOVESB_RETURN_IF_ERROR(ValidateRateBurst(*update.burst));
  return Status::Ok();
}

}  // namespace

Registry::Registry(store::Database& db, RegistryOptions options)
    : db_(db),
      clock_(options.clock != nullptr ? options.clock : &DefaultClock()),
      hash_secret_(options.hash_secret
                       ? std::move(options.hash_secret)
                       : SecretHasher([](std::string_view s) { return crypto::HashSecret(s); })) {}

Status Registry::Migrate(store::Database& db) {
  if (db.backend() == store::Backend::kPostgres) {
    return store::Migrate(db, "registry", internal::kPostgresMigrations);
  }
  return store::Migrate(db, "registry", kMigrations);
}

// ---- institutions ----

Result<Institution> Registry::AddInstitution(std::string_view code, std::string_view name) {
  GOVESB_RETURN_IF_ERROR(ValidateInstitutionCode(code));
  GOVESB_ASSIGN_OR_RETURN(std::string clean_name, NormalizeName(name, "institution name"));

  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(std::optional<Institution> existing,
                          internal::FindInstitution(db_, code));
  if (existing.has_value()) {
    return AlreadyExists("institution code " + Quoted(code) + " already exists");
  }
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement insert,
      db_.Prepare("INSERT INTO institutions(code, name, created_at) VALUES(?, ?, ?)"));
  GOVESB_RETURN_IF_ERROR(insert.Bind(1, code));
  GOVESB_RETURN_IF_ERROR(insert.Bind(2, clean_name));
  GOVESB_RETURN_IF_ERROR(insert.Bind(3, Now()));
  GOVESB_RETURN_IF_ERROR(insert.Run());
  GOVESB_ASSIGN_OR_RETURN(std::optional<Institution> created, internal::FindInstitution(db_, code));
  if (!created.has_value()) return Internal("institution vanished inside its own transaction");
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return std::move(*created);
}

Result<std::vector<Institution>> Registry::ListInstitutions() {
  return internal::SelectInstitutions(db_);
}

// ---- systems ----

Result<NewSystem> Registry::AddSystem(std::string_view institution_code, std::string_view name,
                                      std::string_view public_key_text, std::string_view endpoint) {
  GOVESB_ASSIGN_OR_RETURN(std::string clean_name, NormalizeName(name, "system name"));
  GOVESB_ASSIGN_OR_RETURN(crypto::PublicKey key, ParsePublicKey(public_key_text));
  GOVESB_RETURN_IF_ERROR(ValidateEndpoint(endpoint));

  // Slow hashing happens before the write lock is taken.
  const std::string client_id = crypto::NewUuid();
  std::string secret = crypto::RandomAlphanumeric(kClientSecretLength);
  const std::string secret_hash = hash_secret_(secret);

  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(std::optional<Institution> institution,
                          internal::FindInstitution(db_, institution_code));
  if (!institution.has_value()) {
    return NotFound("institution " + Quoted(institution_code) + " not found");
  }
  const int64_t now = Now();
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement insert,
      db_.Prepare("INSERT INTO systems(client_id, institution_id, name, public_key, key_curve,"
                  " endpoint, secret_hash, enabled, credential_version, created_at, updated_at,"
                  " key_changed_at, secret_changed_at)"
                  " VALUES(?, ?, ?, ?, ?, ?, ?, 1, 1, ?, ?, ?, ?)"));
  GOVESB_RETURN_IF_ERROR(insert.Bind(1, client_id));
  GOVESB_RETURN_IF_ERROR(insert.Bind(2, institution->id));
  GOVESB_RETURN_IF_ERROR(insert.Bind(3, clean_name));
  GOVESB_RETURN_IF_ERROR(insert.Bind(4, key.SpkiBase64()));
  GOVESB_RETURN_IF_ERROR(insert.Bind(5, crypto::CurveName(key.curve())));
  GOVESB_RETURN_IF_ERROR(insert.Bind(6, endpoint));
  GOVESB_RETURN_IF_ERROR(insert.Bind(7, secret_hash));
  GOVESB_RETURN_IF_ERROR(insert.Bind(8, now));
  GOVESB_RETURN_IF_ERROR(insert.Bind(9, now));
  GOVESB_RETURN_IF_ERROR(insert.Bind(10, now));
  GOVESB_RETURN_IF_ERROR(insert.Bind(11, now));
  GOVESB_RETURN_IF_ERROR(insert.Run());
  GOVESB_ASSIGN_OR_RETURN(System system, MustFindSystem(db_, client_id));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return NewSystem{std::move(system), std::move(secret)};
}

Result<std::vector<System>> Registry::ListSystems() { return internal::SelectSystems(db_); }

Result<System> Registry::GetSystem(std::string_view client_id) {
  return MustFindSystem(db_, client_id);
}

Result<System> Registry::DisableSystem(std::string_view client_id) {
  return SetEnabled(client_id, false);
}

Result<System> Registry::EnableSystem(std::string_view client_id) {
  return SetEnabled(client_id, true);
}

Result<System> Registry::SetEnabled(std::string_view client_id, bool enabled) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(System system, MustFindSystem(db_, client_id));
  if (system.enabled == enabled) {
    return FailedPrecondition("system " + Quoted(client_id) + " is already " +
                              (enabled ? "enabled" : "disabled"));
  }
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement update,
      db_.Prepare("UPDATE systems SET enabled = ?, credential_version = credential_version + 1,"
                  " updated_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(update.Bind(1, int64_t{enabled ? 1 : 0}));
  GOVESB_RETURN_IF_ERROR(update.Bind(2, Now()));
  GOVESB_RETURN_IF_ERROR(update.Bind(3, system.id));
  GOVESB_RETURN_IF_ERROR(update.Run());
  GOVESB_ASSIGN_OR_RETURN(System updated, MustFindSystem(db_, client_id));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

Result<std::string> Registry::RotateSecret(std::string_view client_id) {
  std::string secret = crypto::RandomAlphanumeric(kClientSecretLength);
  const std::string secret_hash = hash_secret_(secret);

  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(System system, MustFindSystem(db_, client_id));
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement update,
      db_.Prepare("UPDATE systems SET secret_hash = ?,"
                  " credential_version = credential_version + 1, updated_at = ?,"
                  " secret_changed_at = ? WHERE id = ?"));
  const int64_t now = Now();
  GOVESB_RETURN_IF_ERROR(update.Bind(1, secret_hash));
  GOVESB_RETURN_IF_ERROR(update.Bind(2, now));
  GOVESB_RETURN_IF_ERROR(update.Bind(3, now));
  GOVESB_RETURN_IF_ERROR(update.Bind(4, system.id));
  GOVESB_RETURN_IF_ERROR(update.Run());
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return secret;
}

Result<System> Registry::UpdateSystem(std::string_view client_id, const SystemUpdate& update) {
  if (!update.name && !update.public_key && !update.endpoint) {
    return InvalidArgument("nothing to update: give a new name, public key or endpoint");
  }
  std::optional<std::string> name;
  if (update.name) {
    GOVESB_ASSIGN_OR_RETURN(name, NormalizeName(*update.name, "system name"));
  }
  std::optional<crypto::PublicKey> key;
  if (update.public_key) {
    GOVESB_ASSIGN_OR_RETURN(key, ParsePublicKey(*update.public_key));
  }
  if (update.endpoint) GOVESB_RETURN_IF_ERROR(ValidateEndpoint(*update.endpoint));

  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(System system, MustFindSystem(db_, client_id));
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement stmt,
      db_.Prepare("UPDATE systems SET name = ?, public_key = ?, key_curve = ?, endpoint = ?,"
                  " updated_at = ?, key_changed_at = ? WHERE id = ?"));
  const int64_t now = Now();
  const std::string key_b64 = key ? key->SpkiBase64() : system.public_key_b64;
  // The key's age restarts only when the key itself changes (not when the same key is given).
  const bool key_changed = key_b64 != system.public_key_b64;
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, name ? *name : system.name));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(2, key_b64));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(3, crypto::CurveName(key ? key->curve() : system.curve)));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(4, update.endpoint ? *update.endpoint : system.endpoint));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(5, now));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(6, key_changed ? now : system.key_changed_at));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(7, system.id));
  GOVESB_RETURN_IF_ERROR(stmt.Run());
  GOVESB_ASSIGN_OR_RETURN(System updated, MustFindSystem(db_, client_id));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

Result<System> Registry::SetSystemRateLimit(std::string_view client_id,
                                            const RateLimitUpdate& update) {
  GOVESB_RETURN_IF_ERROR(ValidateRateLimitUpdate(update));
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(System system, MustFindSystem(db_, client_id));
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt,
                          db_.Prepare("UPDATE systems SET rate_per_second = ?, rate_burst = ?,"
                                      " updated_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(
      stmt.Bind(1, internal::RealText(update.rate_per_second.value_or(system.rate_per_second))));
  GOVESB_RETURN_IF_ERROR(
      stmt.Bind(2, internal::RealText(update.burst.value_or(system.rate_burst))));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(3, Now()));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(4, system.id));
  GOVESB_RETURN_IF_ERROR(stmt.Run());
  GOVESB_ASSIGN_OR_RETURN(System updated, MustFindSystem(db_, client_id));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

Result<System> Registry::SetSerialisation(std::string_view client_id, std::string_view setting) {
  if (setting != kSerialisationAuto && setting != kSerialisationJackson &&
      setting != kSerialisationNode) {
    return InvalidArgument("serialisation must be auto, jackson or node, not '" +
                           std::string(setting.substr(0, 32)) + "'");
  }
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(System system, MustFindSystem(db_, client_id));
  if (system.serialisation == setting) return system;
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement stmt,
      db_.Prepare("UPDATE systems SET serialisation = ?, updated_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, setting));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(2, Now()));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(3, system.id));
  GOVESB_RETURN_IF_ERROR(stmt.Run());
  GOVESB_ASSIGN_OR_RETURN(System updated, MustFindSystem(db_, client_id));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

Result<System> Registry::SetSignatureFallbacks(std::string_view client_id, bool allowed) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(System system, MustFindSystem(db_, client_id));
  if (system.signature_fallbacks == allowed) return system;
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement stmt,
      db_.Prepare("UPDATE systems SET signature_fallbacks = ?, updated_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, int64_t{allowed ? 1 : 0}));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(2, Now()));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(3, system.id));
  GOVESB_RETURN_IF_ERROR(stmt.Run());
  GOVESB_ASSIGN_OR_RETURN(System updated, MustFindSystem(db_, client_id));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

// ---- APIs ----

Result<Api> Registry::AddApi(std::string_view provider_client_id, std::string_view code,
                             int64_t timeout_ms, std::string_view endpoint_override) {
  ApiSettings settings;
  settings.timeout_ms = timeout_ms;
  settings.endpoint_override = std::string(endpoint_override);
  return AddApi(provider_client_id, code, settings);
}

Result<Api> Registry::AddApi(std::string_view provider_client_id, std::string_view code,
                             const ApiSettings& settings) {
  const std::string& endpoint_override = settings.endpoint_override;
  const int64_t timeout_ms = settings.timeout_ms;
  GOVESB_RETURN_IF_ERROR(ValidateServiceCode(code, "API code"));
  GOVESB_RETURN_IF_ERROR(ValidateTimeoutMs(timeout_ms));
  if (!endpoint_override.empty()) GOVESB_RETURN_IF_ERROR(ValidateEndpoint(endpoint_override));
  if (!settings.callback_endpoint.empty()) {
    if (!settings.async) {
      return InvalidArgument("a callback endpoint only applies to an asynchronous API (--async)");
    }
    GOVESB_RETURN_IF_ERROR(ValidateEndpoint(settings.callback_endpoint));
  }
  GOVESB_RETURN_IF_ERROR(ValidateRatePerSecond(settings.rate_per_second));
  GOVESB_RETURN_IF_ERROR(ValidateRateBurst(settings.rate_burst));

  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(System provider,
                          MustFindSystem(db_, provider_client_id, "provider system"));
  GOVESB_ASSIGN_OR_RETURN(std::optional<Api> existing, internal::FindApi(db_, code));
  if (existing.has_value()) return AlreadyExists("API code " + Quoted(code) + " already exists");
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement insert,
      db_.Prepare(
          "INSERT INTO apis(code, provider_system_id, endpoint, timeout_ms, created_at,"
          " mode, callback_endpoint, store_bodies, rate_per_second, rate_burst, replay_policy)"
          " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  GOVESB_RETURN_IF_ERROR(insert.Bind(1, code));
  GOVESB_RETURN_IF_ERROR(insert.Bind(2, provider.id));
  if (endpoint_override.empty()) {
    GOVESB_RETURN_IF_ERROR(insert.BindNull(3));
  } else {
    GOVESB_RETURN_IF_ERROR(insert.Bind(3, endpoint_override));
  }
  GOVESB_RETURN_IF_ERROR(insert.Bind(4, timeout_ms));
  GOVESB_RETURN_IF_ERROR(insert.Bind(5, Now()));
  GOVESB_RETURN_IF_ERROR(insert.Bind(6, settings.async ? "async" : "sync"));
  if (settings.callback_endpoint.empty()) {
    GOVESB_RETURN_IF_ERROR(insert.BindNull(7));
  } else {
    GOVESB_RETURN_IF_ERROR(insert.Bind(7, settings.callback_endpoint));
  }
  GOVESB_RETURN_IF_ERROR(insert.Bind(8, int64_t{settings.store_bodies ? 1 : 0}));
  GOVESB_RETURN_IF_ERROR(insert.Bind(9, internal::RealText(settings.rate_per_second)));
  GOVESB_RETURN_IF_ERROR(insert.Bind(10, internal::RealText(settings.rate_burst)));
  GOVESB_RETURN_IF_ERROR(insert.Bind(11, ReplayPolicyName(settings.replay_policy)));
  GOVESB_RETURN_IF_ERROR(insert.Run());
  if (!settings.description.empty()) {
    // Validated there; a bad field rolls the whole API back with this transaction.
    GOVESB_RETURN_IF_ERROR(DescribeApi(code, settings.description).status());
  }
  GOVESB_ASSIGN_OR_RETURN(Api api, MustFindApi(db_, code));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return api;
}

Result<std::vector<Api>> Registry::ListApis() { return internal::SelectApis(db_); }

Result<Api> Registry::GetApi(std::string_view code) {
  return MustFindApi(db_, code, internal::ApiDetail::kFull);
}

Result<Api> Registry::SetApiStoreBodies(std::string_view api_code, bool on) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(Api api, MustFindApi(db_, api_code));
  if (api.store_bodies == on) return api;
  GOVESB_ASSIGN_OR_RETURN(store::Statement update,
                          db_.Prepare("UPDATE apis SET store_bodies = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(update.Bind(1, int64_t{on ? 1 : 0}));
  GOVESB_RETURN_IF_ERROR(update.Bind(2, api.id));
  GOVESB_RETURN_IF_ERROR(update.Run());
  GOVESB_ASSIGN_OR_RETURN(Api updated, MustFindApi(db_, api_code));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

Result<Api> Registry::SetApiRateLimit(std::string_view api_code, const RateLimitUpdate& update) {
  GOVESB_RETURN_IF_ERROR(ValidateRateLimitUpdate(update));
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(Api api, MustFindApi(db_, api_code));
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement stmt,
      db_.Prepare("UPDATE apis SET rate_per_second = ?, rate_burst = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(
      stmt.Bind(1, internal::RealText(update.rate_per_second.value_or(api.rate_per_second))));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(2, internal::RealText(update.burst.value_or(api.rate_burst))));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(3, api.id));
  GOVESB_RETURN_IF_ERROR(stmt.Run());
  GOVESB_ASSIGN_OR_RETURN(Api updated, MustFindApi(db_, api_code));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

Result<Api> Registry::SetApiReplayPolicy(std::string_view api_code, ReplayPolicy policy) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(Api api, MustFindApi(db_, api_code));
  if (api.replay_policy == policy) return api;
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt,
                          db_.Prepare("UPDATE apis SET replay_policy = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, ReplayPolicyName(policy)));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(2, api.id));
  GOVESB_RETURN_IF_ERROR(stmt.Run());
  GOVESB_ASSIGN_OR_RETURN(Api updated, MustFindApi(db_, api_code));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

// ---- push topics ----

Result<Topic> Registry::AddTopic(std::string_view publisher_client_id, std::string_view code) {
  GOVESB_RETURN_IF_ERROR(ValidateServiceCode(code, "push code"));

  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(System publisher,
                          MustFindSystem(db_, publisher_client_id, "publisher system"));
  GOVESB_ASSIGN_OR_RETURN(std::optional<Topic> existing, internal::FindTopic(db_, code));
  if (existing.has_value()) {
    return AlreadyExists("topic code " + Quoted(code) + " already exists");
  }
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement insert,
      db_.Prepare("INSERT INTO topics(code, publisher_system_id, created_at) VALUES(?, ?, ?)"));
  GOVESB_RETURN_IF_ERROR(insert.Bind(1, code));
  GOVESB_RETURN_IF_ERROR(insert.Bind(2, publisher.id));
  GOVESB_RETURN_IF_ERROR(insert.Bind(3, Now()));
  GOVESB_RETURN_IF_ERROR(insert.Run());
  GOVESB_ASSIGN_OR_RETURN(Topic topic, MustFindTopic(db_, code));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return topic;
}

Result<Topic> Registry::GetTopic(std::string_view code) { return MustFindTopic(db_, code); }

Result<std::vector<Topic>> Registry::ListTopics() { return internal::SelectTopics(db_); }

}  // namespace govesb::registry
