#include "registry/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>
#include <vector>

#include "crypto/primitives.h"
#include "registry/registry_testing.h"
#include "registry/snapshot.h"

namespace govesb::registry {
namespace {

using testing::DumpTables;
using testing::NewPublicKey;
using testing::RegistryOnBoth;
using testing::RegistryTest;

// Takes a database back to before migration 5 (as released with migration 4).
// Takes a database back from migration 7 to 6 (run before kUndoMigrationSix).
constexpr char kUndoMigrationSeven[] = "ALTER TABLE topics DROP COLUMN enabled;";
// Takes a database back from migration 13 to 12 (run before kUndoMigrationTwelve).
constexpr char kUndoMigrationThirteen[] =
    "DROP TRIGGER institutions_bump_version_insert; DROP TRIGGER institutions_bump_version_update;"
    " DROP TRIGGER institutions_bump_version_delete;"
    "DROP TRIGGER systems_bump_version_insert; DROP TRIGGER systems_bump_version_update;"
    " DROP TRIGGER systems_bump_version_delete;"
    "DROP TRIGGER apis_bump_version_insert; DROP TRIGGER apis_bump_version_update;"
    " DROP TRIGGER apis_bump_version_delete;"
    "DROP TRIGGER grants_bump_version_insert; DROP TRIGGER grants_bump_version_update;"
    " DROP TRIGGER grants_bump_version_delete;"
    "DROP TRIGGER topics_bump_version_insert; DROP TRIGGER topics_bump_version_update;"
    " DROP TRIGGER topics_bump_version_delete;"
    "DROP TRIGGER subscriptions_bump_version_insert; DROP TRIGGER "
    "subscriptions_bump_version_update;"
    " DROP TRIGGER subscriptions_bump_version_delete;"
    "DROP TABLE registry_version;";
// Takes a database back from migration 12 to 11 (run before kUndoMigrationEleven).
constexpr char kUndoMigrationTwelve[] =
    "ALTER TABLE systems DROP COLUMN key_changed_at;"
    "ALTER TABLE systems DROP COLUMN secret_changed_at;"
    "DROP TABLE compliance_settings;";
// Takes a database back from migration 11 to 10 (run before kUndoMigrationTen).
constexpr char kUndoMigrationEleven[] = "ALTER TABLE grants DROP COLUMN fields;";
// Takes a database back from migration 10 to 9 (run before kUndoMigrationNine).
constexpr char kUndoMigrationTen[] =
    "ALTER TABLE apis DROP COLUMN request_schema; ALTER TABLE apis DROP COLUMN response_schema;";
constexpr char kUndoMigrationNine[] =
    "ALTER TABLE grants DROP COLUMN purpose_required;"
    "ALTER TABLE grants DROP COLUMN purposes;";
constexpr char kUndoMigrationEight[] =
    "ALTER TABLE systems DROP COLUMN serialisation_learned;"
    "ALTER TABLE systems DROP COLUMN serialisation;";
// Takes a database back from migration 6 to 5 (run before kUndoMigrationFive).
constexpr char kUndoMigrationSix[] =
    "DROP TABLE membership_applications;"
    " ALTER TABLE institutions DROP COLUMN suspended;"
    " ALTER TABLE institutions DROP COLUMN updated_at;"
    " ALTER TABLE apis DROP COLUMN enabled;"
    " ALTER TABLE apis DROP COLUMN title;"
    " ALTER TABLE apis DROP COLUMN description;"
    " ALTER TABLE apis DROP COLUMN request_example;"
    " ALTER TABLE apis DROP COLUMN response_example;"
    " ALTER TABLE apis DROP COLUMN openapi;"
    " ALTER TABLE topics DROP COLUMN title;"
    " ALTER TABLE topics DROP COLUMN description;"
    " ALTER TABLE topics DROP COLUMN message_example;"
    " CREATE TABLE grants_v5 (id INTEGER PRIMARY KEY,"
    "   consumer_system_id INTEGER NOT NULL REFERENCES systems(id),"
    "   api_id INTEGER NOT NULL REFERENCES apis(id),"
    "   state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'revoked')),"
    "   created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "   UNIQUE (consumer_system_id, api_id));"
    " INSERT INTO grants_v5 SELECT id, consumer_system_id, api_id, state, created_at, updated_at"
    "   FROM grants;"
    " DROP TABLE grants; ALTER TABLE grants_v5 RENAME TO grants;"
    " CREATE INDEX grants_by_api ON grants(api_id);"
    " CREATE TABLE subscriptions_v5 (id INTEGER PRIMARY KEY,"
    "   subscriber_system_id INTEGER NOT NULL REFERENCES systems(id),"
    "   topic_id INTEGER NOT NULL REFERENCES topics(id), endpoint TEXT,"
    "   state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'revoked')),"
    "   created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "   UNIQUE (subscriber_system_id, topic_id));"
    " INSERT INTO subscriptions_v5 SELECT id, subscriber_system_id, topic_id, endpoint, state,"
    "   created_at, updated_at FROM subscriptions;"
    " DROP TABLE subscriptions; ALTER TABLE subscriptions_v5 RENAME TO subscriptions;"
    " CREATE INDEX subscriptions_by_topic ON subscriptions(topic_id);";

constexpr char kUndoMigrationFive[] =
    "DROP TABLE signature_usage;"
    " ALTER TABLE systems DROP COLUMN rate_per_second;"
    " ALTER TABLE systems DROP COLUMN rate_burst;"
    " ALTER TABLE systems DROP COLUMN signature_fallbacks;"
    " ALTER TABLE apis DROP COLUMN rate_per_second;"
    " ALTER TABLE apis DROP COLUMN rate_burst;"
    " ALTER TABLE apis DROP COLUMN replay_policy;";

constexpr char kP384Key[] =
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEHFsFHpk6EkbCVFMPb04M2vaj4qnLv3MrIr/MARHVVzQjYLVa05c/+Ts2j5T2"
    "XRK6+MQWTiRA6+dz4jWs9f0WSOr18WmZFpBkqDOGBw7zqnI6K+AX4+w6ulZJW0EBUmhM";
constexpr char kEd25519Key[] = "MCowBQYDK2VwAyEA+RYXYV8uuJqdW5sUOJe4lDPp+/ZLVxASbX5fThzQdzA=";

bool IsUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
    if (hyphen != (s[i] == '-')) return false;
    if (!hyphen && !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool IsAlnum32(const std::string& s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) != 0;
         });
}

// The one instantiation of RegistryOnBoth, for the tests of every file of this binary.
INSTANTIATE_TEST_SUITE_P(Backends, RegistryOnBoth, store::testing::BothBackends(),
                         store::testing::BackendName);

TEST_P(RegistryOnBoth, MigrateIsIdempotent) {
  EXPECT_TRUE(Registry::Migrate(*db_).ok());
  EXPECT_TRUE(Registry::Migrate(*db_).ok());
  EXPECT_EQ(*store::SchemaVersion(*db_, "registry"), 13);
}

// ---- institutions ----

TEST_P(RegistryOnBoth, AddAndListInstitutions) {
  auto added = registry_.AddInstitution("EGA", "  e-Government Authority ");
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->code, "EGA");
  EXPECT_EQ(added->name, "e-Government Authority");
  EXPECT_EQ(added->created_at, clock_.NowMillis());
  ASSERT_TRUE(registry_.AddInstitution("nida_tz-2", "NIDA").ok());
  ASSERT_TRUE(registry_.AddInstitution("ega", "lowercase is another code").ok());

  auto list = registry_.ListInstitutions();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].code, "EGA");
  EXPECT_EQ((*list)[1].code, "nida_tz-2");
  EXPECT_EQ((*list)[2].code, "ega");
}

TEST_P(RegistryOnBoth, InstitutionBadInputChangesNothing) {
  ASSERT_TRUE(registry_.AddInstitution("EGA", "e-Government Authority").ok());
  EXPECT_REJECTED(registry_.AddInstitution("EGA", "again"), StatusCode::kAlreadyExists, "'EGA'");
  EXPECT_REJECTED(registry_.AddInstitution("E", "x"), StatusCode::kInvalidArgument, "'E'");
  EXPECT_REJECTED(registry_.AddInstitution(std::string(33, 'A'), "x"), StatusCode::kInvalidArgument,
                  "institution code");
  EXPECT_REJECTED(registry_.AddInstitution("E GA", "x"), StatusCode::kInvalidArgument, "E GA");
  EXPECT_REJECTED(registry_.AddInstitution("E.GA", "x"), StatusCode::kInvalidArgument, "E.GA");
  EXPECT_REJECTED(registry_.AddInstitution("", "x"), StatusCode::kInvalidArgument, "code");
  EXPECT_REJECTED(registry_.AddInstitution("MOF", "   "), StatusCode::kInvalidArgument,
                  "institution name is empty");
  EXPECT_REJECTED(registry_.AddInstitution("MOF", "a\nb"), StatusCode::kInvalidArgument, "control");
  EXPECT_TRUE(registry_.AddInstitution(std::string(32, 'A'), "longest code").ok());
}

// ---- systems ----

TEST_P(RegistryOnBoth, AddSystemIssuesCredentials) {
  ASSERT_TRUE(registry_.AddInstitution("EGA", "e-Government Authority").ok());
  const std::string key = NewPublicKey();
  auto added = registry_.AddSystem("EGA", "Payments", key, "https://pay.example.go.tz/esb");
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  const System& s = added->system;
  EXPECT_TRUE(IsUuid(s.client_id)) << s.client_id;
  EXPECT_TRUE(IsAlnum32(added->client_secret)) << added->client_secret;
  EXPECT_TRUE(crypto::VerifySecret(added->client_secret, s.secret_hash));
  EXPECT_EQ(s.secret_hash.find(added->client_secret), std::string::npos);
  EXPECT_EQ(s.institution_code, "EGA");
  EXPECT_EQ(s.institution_name, "e-Government Authority");
  EXPECT_EQ(s.name, "Payments");
  EXPECT_EQ(s.public_key_b64, key);
  EXPECT_EQ(s.curve, crypto::Curve::kSecp256k1);
  EXPECT_EQ(s.endpoint, "https://pay.example.go.tz/esb");
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.credential_version, 1);
  EXPECT_EQ(s.created_at, clock_.NowMillis());
  EXPECT_EQ(s.updated_at, clock_.NowMillis());

  auto fetched = registry_.GetSystem(s.client_id);
  ASSERT_TRUE(fetched.ok());
  EXPECT_EQ(fetched->secret_hash, s.secret_hash);

  auto second = registry_.AddSystem("EGA", "Payments", key, "http://10.0.0.1:8080/");
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->system.client_id, s.client_id);
  EXPECT_NE(second->client_secret, added->client_secret);
  auto list = registry_.ListSystems();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
}

TEST_P(RegistryOnBoth, AddSystemAcceptsEveryCurveAndPem) {
  ASSERT_TRUE(registry_.AddInstitution("EGA", "e-Government Authority").ok());
  for (crypto::Curve curve :
       {crypto::Curve::kSecp256k1, crypto::Curve::kP256, crypto::Curve::kP521}) {
    const std::string key = NewPublicKey(curve);
    // PEM with line breaks, as operators paste it; stored as one base64 line.
    std::string pem = "-----BEGIN PUBLIC KEY-----\n";
    for (size_t i = 0; i < key.size(); i += 64) pem += key.substr(i, 64) + "\n";
    pem += "-----END PUBLIC KEY-----\n";
    auto added = registry_.AddSystem("EGA", "S", pem, "https://s.example");
    ASSERT_TRUE(added.ok()) << crypto::CurveName(curve) << ": " << added.status().ToString();
    EXPECT_EQ(added->system.curve, curve);
    EXPECT_EQ(added->system.public_key_b64, key);
  }
}

TEST_P(RegistryOnBoth, AddSystemBadInputChangesNothing) {
  ASSERT_TRUE(registry_.AddInstitution("EGA", "e-Government Authority").ok());
  const std::string key = NewPublicKey();
  const std::string url = "https://s.example/esb";
  EXPECT_REJECTED(registry_.AddSystem("NOPE", "S", key, url), StatusCode::kNotFound,
                  "institution 'NOPE' not found");
  EXPECT_REJECTED(registry_.AddSystem("EGA", "", key, url), StatusCode::kInvalidArgument,
                  "system name");
  EXPECT_REJECTED(registry_.AddSystem("EGA", "S", "not a key", url), StatusCode::kInvalidArgument,
                  "invalid public key");
  EXPECT_REJECTED(registry_.AddSystem("EGA", "S", key.substr(0, 40), url),
                  StatusCode::kInvalidArgument, "invalid public key");
  EXPECT_REJECTED(registry_.AddSystem("EGA", "S", "", url), StatusCode::kInvalidArgument,
                  "invalid public key");
  EXPECT_REJECTED(registry_.AddSystem("EGA", "S", kP384Key, url), StatusCode::kInvalidArgument,
                  "invalid public key");
  EXPECT_REJECTED(registry_.AddSystem("EGA", "S", kEd25519Key, url), StatusCode::kInvalidArgument,
                  "invalid public key");
  for (const char* bad_url :
       {"", "s.example/esb", "ftp://s.example/", "https://", "http:///path", "/esb",
        "https://s.example:99999/", "https://s .example/", "mailto:a@b.c"}) {
    SCOPED_TRACE(bad_url);
    EXPECT_REJECTED(registry_.AddSystem("EGA", "S", key, bad_url), StatusCode::kInvalidArgument,
                    "invalid endpoint");
  }
}

TEST_P(RegistryOnBoth, UnknownSystemIsNotFound) {
  EXPECT_REJECTED(registry_.GetSystem("f00"), StatusCode::kNotFound, "system 'f00' not found");
  EXPECT_REJECTED(registry_.DisableSystem("f00"), StatusCode::kNotFound, "'f00'");
  EXPECT_REJECTED(registry_.EnableSystem("f00"), StatusCode::kNotFound, "'f00'");
  EXPECT_REJECTED(registry_.RotateSecret("f00"), StatusCode::kNotFound, "'f00'");
  EXPECT_REJECTED(registry_.UpdateSystem("f00", {.endpoint = "https://x.example"}),
                  StatusCode::kNotFound, "'f00'");
}

TEST_P(RegistryOnBoth, DisableAndEnableBumpCredentialVersion) {
  AddFixtures();
  clock_.Advance(std::chrono::seconds(5));
  auto disabled = registry_.DisableSystem(consumer_.client_id);
  ASSERT_TRUE(disabled.ok()) << disabled.status().ToString();
  EXPECT_FALSE(disabled->enabled);
  EXPECT_EQ(disabled->credential_version, 2);
  EXPECT_EQ(disabled->updated_at, clock_.NowMillis());
  EXPECT_EQ(disabled->created_at, consumer_.created_at);

  EXPECT_REJECTED(registry_.DisableSystem(consumer_.client_id), StatusCode::kFailedPrecondition,
                  "already disabled");

  auto enabled = registry_.EnableSystem(consumer_.client_id);
  ASSERT_TRUE(enabled.ok());
  EXPECT_TRUE(enabled->enabled);
  EXPECT_EQ(enabled->credential_version, 3);
  EXPECT_REJECTED(registry_.EnableSystem(consumer_.client_id), StatusCode::kFailedPrecondition,
                  "already enabled");
  // The other system is untouched.
  EXPECT_EQ(registry_.GetSystem(provider_.client_id)->credential_version, 1);
}

TEST_P(RegistryOnBoth, RotateSecretReplacesTheSecretAndBumpsVersion) {
  ASSERT_TRUE(registry_.AddInstitution("EGA", "e-Government Authority").ok());
  auto added = registry_.AddSystem("EGA", "S", NewPublicKey(), "https://s.example");
  ASSERT_TRUE(added.ok());
  const std::string& client_id = added->system.client_id;

  auto secret = registry_.RotateSecret(client_id);
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();
  EXPECT_TRUE(IsAlnum32(*secret));
  EXPECT_NE(*secret, added->client_secret);
  auto after = registry_.GetSystem(client_id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->credential_version, 2);
  EXPECT_TRUE(crypto::VerifySecret(*secret, after->secret_hash));
  EXPECT_FALSE(crypto::VerifySecret(added->client_secret, after->secret_hash));

  ASSERT_TRUE(registry_.RotateSecret(client_id).ok());
  EXPECT_EQ(registry_.GetSystem(client_id)->credential_version, 3);
}

TEST_P(RegistryOnBoth, UpdateSystem) {
  AddFixtures();
  const std::string p521 = NewPublicKey(crypto::Curve::kP521);
  auto updated = registry_.UpdateSystem(
      provider_.client_id, {.public_key = p521, .endpoint = "https://new.example/esb"});
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->public_key_b64, p521);
  EXPECT_EQ(updated->curve, crypto::Curve::kP521);
  EXPECT_EQ(updated->endpoint, "https://new.example/esb");
  EXPECT_EQ(updated->name, provider_.name);
  EXPECT_EQ(updated->credential_version, 1);  // credentials untouched
  EXPECT_EQ(updated->secret_hash, provider_.secret_hash);

  // The API follows its provider's endpoint.
  auto apis = registry_.ListApis();
  ASSERT_TRUE(apis.ok());
  ASSERT_EQ(apis->size(), 1u);
  EXPECT_EQ((*apis)[0].endpoint, "https://new.example/esb");

  auto renamed = registry_.UpdateSystem(provider_.client_id, {.name = "Renamed"});
  ASSERT_TRUE(renamed.ok());
  EXPECT_EQ(renamed->name, "Renamed");
  EXPECT_EQ(renamed->public_key_b64, p521);

  EXPECT_REJECTED(registry_.UpdateSystem(provider_.client_id, {}), StatusCode::kInvalidArgument,
                  "nothing to update");
  EXPECT_REJECTED(registry_.UpdateSystem(provider_.client_id,
                                         {.public_key = NewPublicKey(), .endpoint = "nope"}),
                  StatusCode::kInvalidArgument, "invalid endpoint");
  EXPECT_REJECTED(registry_.UpdateSystem(provider_.client_id, {.public_key = kP384Key}),
                  StatusCode::kInvalidArgument, "invalid public key");
}

// ---- APIs ----

TEST_P(RegistryOnBoth, AddApi) {
  AddFixtures();
  EXPECT_EQ(api_.code, "GETUSR");
  EXPECT_EQ(api_.provider_system_id, provider_.id);
  EXPECT_EQ(api_.provider_client_id, provider_.client_id);
  EXPECT_EQ(api_.endpoint, provider_.endpoint);
  EXPECT_EQ(api_.endpoint_override, "");
  EXPECT_EQ(api_.timeout_ms, kDefaultApiTimeoutMs);
  EXPECT_FALSE(api_.store_bodies) << "bodies are not stored by default";

  auto custom = registry_.AddApi(provider_.client_id, "getusr", 100, "https://other.example/x");
  ASSERT_TRUE(custom.ok()) << custom.status().ToString();  // codes are case-sensitive
  EXPECT_EQ(custom->endpoint, "https://other.example/x");
  EXPECT_EQ(custom->endpoint_override, "https://other.example/x");
  EXPECT_EQ(custom->timeout_ms, 100);
  ASSERT_TRUE(registry_.AddApi(provider_.client_id, "A1234567", 300000).ok());

  auto list = registry_.ListApis();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[1].code, "getusr");
}

TEST_P(RegistryOnBoth, AddApiBadInputChangesNothing) {
  AddFixtures();
  const std::string& p = provider_.client_id;
  EXPECT_REJECTED(registry_.AddApi(p, "GETUSR"), StatusCode::kAlreadyExists,
                  "API code 'GETUSR' already exists");
  EXPECT_REJECTED(registry_.AddApi("nobody", "NEWAPI"), StatusCode::kNotFound,
                  "provider system 'nobody' not found");
  for (const char* code : {"ABCD", "ABCDEFGHI", "AB-CD", "AB CDE", "ABCD_", "ÄBCDE", ""}) {
    EXPECT_REJECTED(registry_.AddApi(p, code), StatusCode::kInvalidArgument, "invalid API code");
  }
  EXPECT_REJECTED(registry_.AddApi(p, "NEWAPI", 99), StatusCode::kInvalidArgument, "99 ms");
  EXPECT_REJECTED(registry_.AddApi(p, "NEWAPI", 300001), StatusCode::kInvalidArgument,
                  "out of range");
  EXPECT_REJECTED(registry_.AddApi(p, "NEWAPI", -1), StatusCode::kInvalidArgument, "out of range");
  EXPECT_REJECTED(registry_.AddApi(p, "NEWAPI", 30000, "ftp://x.example"),
                  StatusCode::kInvalidArgument, "invalid endpoint");
}

TEST_P(RegistryOnBoth, AddApiThatStoresBodies) {
  AddFixtures();
  ApiSettings settings;
  settings.store_bodies = true;
  auto added = registry_.AddApi(provider_.client_id, "BIRTHS", settings);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_TRUE(added->store_bodies);
  auto list = registry_.ListApis();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_FALSE((*list)[0].store_bodies);  // GETUSR
  EXPECT_TRUE((*list)[1].store_bodies);   // BIRTHS
}

TEST_P(RegistryOnBoth, SetApiStoreBodiesOnAndOff) {
  AddFixtures();
  ApiSettings settings;
  settings.timeout_ms = 1234;
  settings.endpoint_override = "https://other.example/x";
  settings.async = true;
  settings.callback_endpoint = "https://moh.example/answers";
  auto other = registry_.AddApi(provider_.client_id, "OTHER", settings);
  ASSERT_TRUE(other.ok()) << other.status().ToString();

  auto on = registry_.SetApiStoreBodies("GETUSR", true);
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  EXPECT_TRUE(on->store_bodies);
  auto list = registry_.ListApis();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_TRUE((*list)[0].store_bodies);
  EXPECT_FALSE((*list)[1].store_bodies) << "only the named API changes";

  // Setting the value it already has is not an error and changes nothing.
  const std::string before = DumpTables(*db_);
  auto again = registry_.SetApiStoreBodies("GETUSR", true);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->store_bodies);
  EXPECT_EQ(DumpTables(*db_), before);

  // Nothing else about the API changes.
  auto other_on = registry_.SetApiStoreBodies("OTHER", true);
  ASSERT_TRUE(other_on.ok()) << other_on.status().ToString();
  EXPECT_TRUE(other_on->store_bodies);
  EXPECT_EQ(other_on->id, other->id);
  EXPECT_EQ(other_on->provider_client_id, other->provider_client_id);
  EXPECT_EQ(other_on->endpoint_override, other->endpoint_override);
  EXPECT_EQ(other_on->timeout_ms, 1234);
  EXPECT_TRUE(other_on->async);
  EXPECT_EQ(other_on->callback_endpoint, "https://moh.example/answers");
  EXPECT_EQ(other_on->created_at, other->created_at);

  auto off = registry_.SetApiStoreBodies("GETUSR", false);
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(off->store_bodies);
  list = registry_.ListApis();
  ASSERT_TRUE(list.ok());
  EXPECT_FALSE((*list)[0].store_bodies);
  EXPECT_TRUE((*list)[1].store_bodies);
}

TEST_P(RegistryOnBoth, SetApiStoreBodiesOfAnUnknownApiIsNotFound) {
  AddFixtures();
  EXPECT_REJECTED(registry_.SetApiStoreBodies("NOAPI", true), StatusCode::kNotFound,
                  "API 'NOAPI' not found");
  EXPECT_REJECTED(registry_.SetApiStoreBodies("getusr", true), StatusCode::kNotFound,
                  "API 'getusr' not found");  // case-sensitive
}

// ---- grants ----

TEST_P(RegistryOnBoth, GrantLifecycle) {
  AddFixtures();
  auto granted = registry_.AddGrant(consumer_.client_id, "GETUSR");
  ASSERT_TRUE(granted.ok()) << granted.status().ToString();
  EXPECT_EQ(granted->state, kGrantApproved);
  EXPECT_EQ(granted->consumer_client_id, consumer_.client_id);
  EXPECT_EQ(granted->consumer_system_id, consumer_.id);
  EXPECT_EQ(granted->api_code, "GETUSR");
  EXPECT_EQ(granted->api_id, api_.id);

  EXPECT_REJECTED(registry_.AddGrant(consumer_.client_id, "GETUSR"), StatusCode::kAlreadyExists,
                  "already has an approved grant");

  clock_.Advance(std::chrono::seconds(1));
  auto revoked = registry_.RevokeGrant(consumer_.client_id, "GETUSR");
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(revoked->state, kGrantRevoked);
  EXPECT_EQ(revoked->id, granted->id);
  EXPECT_EQ(revoked->updated_at, clock_.NowMillis());
  EXPECT_REJECTED(registry_.RevokeGrant(consumer_.client_id, "GETUSR"),
                  StatusCode::kFailedPrecondition, "already revoked");

  auto again = registry_.AddGrant(consumer_.client_id, "GETUSR");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->state, kGrantApproved);
  EXPECT_EQ(again->id, granted->id);

  auto list = registry_.ListGrants();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].state, kGrantApproved);
}

TEST_P(RegistryOnBoth, DisabledSystemsCanBeGranted) {
  AddFixtures();
  ASSERT_TRUE(registry_.DisableSystem(consumer_.client_id).ok());
  EXPECT_TRUE(registry_.AddGrant(consumer_.client_id, "GETUSR").ok());
}

TEST_P(RegistryOnBoth, GrantBadInputChangesNothing) {
  AddFixtures();
  EXPECT_REJECTED(registry_.AddGrant("nobody", "GETUSR"), StatusCode::kNotFound,
                  "consumer system 'nobody' not found");
  EXPECT_REJECTED(registry_.AddGrant(consumer_.client_id, "NOAPI"), StatusCode::kNotFound,
                  "API 'NOAPI' not found");
  EXPECT_REJECTED(registry_.AddGrant(consumer_.client_id, "getusr"), StatusCode::kNotFound,
                  "API 'getusr' not found");
  EXPECT_REJECTED(registry_.RevokeGrant(consumer_.client_id, "GETUSR"), StatusCode::kNotFound,
                  "has no grant");
  EXPECT_REJECTED(registry_.RevokeGrant("nobody", "GETUSR"), StatusCode::kNotFound, "'nobody'");
}

// ---- push topics ----

TEST_P(RegistryOnBoth, AddAndListTopics) {
  AddFixtures();
  clock_.Advance(std::chrono::seconds(3));
  auto topic = registry_.AddTopic(provider_.client_id, "NEWUSR");
  ASSERT_TRUE(topic.ok()) << topic.status().ToString();
  EXPECT_GT(topic->id, 0);
  EXPECT_EQ(topic->code, "NEWUSR");
  EXPECT_EQ(topic->publisher_system_id, provider_.id);
  EXPECT_EQ(topic->publisher_client_id, provider_.client_id);
  EXPECT_EQ(topic->created_at, clock_.NowMillis());

  // Case-sensitive; separate namespace from apiCodes; any system may publish.
  ASSERT_TRUE(registry_.AddTopic(provider_.client_id, "newusr").ok());
  ASSERT_TRUE(registry_.AddTopic(consumer_.client_id, "GETUSR").ok());
  ASSERT_TRUE(registry_.AddTopic(consumer_.client_id, "A1234567").ok());

  auto list = registry_.ListTopics();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 4u);
  EXPECT_EQ((*list)[0].code, "NEWUSR");
  EXPECT_EQ((*list)[1].code, "newusr");
  EXPECT_EQ((*list)[2].code, "GETUSR");
  EXPECT_EQ((*list)[2].publisher_client_id, consumer_.client_id);
}

TEST_P(RegistryOnBoth, AddTopicBadInputChangesNothing) {
  AddFixtures();
  ASSERT_TRUE(registry_.AddTopic(provider_.client_id, "NEWUSR").ok());
  EXPECT_REJECTED(registry_.AddTopic(consumer_.client_id, "NEWUSR"), StatusCode::kAlreadyExists,
                  "topic code 'NEWUSR' already exists");
  EXPECT_REJECTED(registry_.AddTopic("nobody", "OTHER"), StatusCode::kNotFound,
                  "publisher system 'nobody' not found");
  for (const char* code : {"ABCD", "ABCDEFGHI", "AB-CD", "AB CDE", "ABCD_", "ÄBCDE", ""}) {
    EXPECT_REJECTED(registry_.AddTopic(provider_.client_id, code), StatusCode::kInvalidArgument,
                    "invalid push code");
  }
}

// ---- subscriptions ----

TEST_P(RegistryOnBoth, SubscriptionLifecycle) {
  AddFixtures();
  auto topic = registry_.AddTopic(provider_.client_id, "NEWUSR");
  ASSERT_TRUE(topic.ok());

  clock_.Advance(std::chrono::seconds(1));
  auto added = registry_.AddSubscription(consumer_.client_id, "NEWUSR");
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->state, kSubscriptionApproved);
  EXPECT_EQ(added->subscriber_system_id, consumer_.id);
  EXPECT_EQ(added->subscriber_client_id, consumer_.client_id);
  EXPECT_EQ(added->topic_id, topic->id);
  EXPECT_EQ(added->topic_code, "NEWUSR");
  EXPECT_EQ(added->endpoint, consumer_.endpoint);
  EXPECT_EQ(added->endpoint_override, "");
  EXPECT_EQ(added->created_at, clock_.NowMillis());
  EXPECT_EQ(added->updated_at, clock_.NowMillis());

  EXPECT_REJECTED(registry_.AddSubscription(consumer_.client_id, "NEWUSR"),
                  StatusCode::kAlreadyExists, "already has an approved subscription");

  clock_.Advance(std::chrono::seconds(1));
  auto revoked = registry_.RevokeSubscription(consumer_.client_id, "NEWUSR");
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(revoked->state, kSubscriptionRevoked);
  EXPECT_EQ(revoked->id, added->id);
  EXPECT_EQ(revoked->created_at, added->created_at);
  EXPECT_EQ(revoked->updated_at, clock_.NowMillis());
  EXPECT_REJECTED(registry_.RevokeSubscription(consumer_.client_id, "NEWUSR"),
                  StatusCode::kFailedPrecondition, "already revoked");

  // Re-approval keeps the row and takes the new endpoint override.
  clock_.Advance(std::chrono::seconds(1));
  auto again =
      registry_.AddSubscription(consumer_.client_id, "NEWUSR", "https://hooks.example/push");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->state, kSubscriptionApproved);
  EXPECT_EQ(again->id, added->id);
  EXPECT_EQ(again->endpoint, "https://hooks.example/push");
  EXPECT_EQ(again->endpoint_override, "https://hooks.example/push");
  EXPECT_EQ(again->updated_at, clock_.NowMillis());

  // The publisher may subscribe to its own topic; disabled systems may be subscribed.
  ASSERT_TRUE(registry_.DisableSystem(provider_.client_id).ok());
  auto own = registry_.AddSubscription(provider_.client_id, "NEWUSR");
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(own->endpoint, provider_.endpoint);

  auto list = registry_.ListSubscriptions();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].subscriber_client_id, consumer_.client_id);
  EXPECT_EQ((*list)[0].state, kSubscriptionApproved);
  EXPECT_EQ((*list)[0].endpoint_override, "https://hooks.example/push");
  EXPECT_EQ((*list)[1].subscriber_client_id, provider_.client_id);
}

TEST_P(RegistryOnBoth, SubscriptionEndpointFollowsTheSubscriber) {
  AddFixtures();
  ASSERT_TRUE(registry_.AddTopic(provider_.client_id, "NEWUSR").ok());
  ASSERT_TRUE(registry_.AddSubscription(consumer_.client_id, "NEWUSR").ok());
  ASSERT_TRUE(
      registry_.UpdateSystem(consumer_.client_id, {.endpoint = "https://moved.example/cb"}).ok());
  auto list = registry_.ListSubscriptions();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].endpoint, "https://moved.example/cb");
  EXPECT_EQ((*list)[0].endpoint_override, "");
}

TEST_P(RegistryOnBoth, SubscriptionBadInputChangesNothing) {
  AddFixtures();
  ASSERT_TRUE(registry_.AddTopic(provider_.client_id, "NEWUSR").ok());
  EXPECT_REJECTED(registry_.AddSubscription("nobody", "NEWUSR"), StatusCode::kNotFound,
                  "subscriber system 'nobody' not found");
  EXPECT_REJECTED(registry_.AddSubscription(consumer_.client_id, "NOTOPIC"), StatusCode::kNotFound,
                  "topic 'NOTOPIC' not found");
  EXPECT_REJECTED(registry_.AddSubscription(consumer_.client_id, "newusr"), StatusCode::kNotFound,
                  "topic 'newusr' not found");
  // An apiCode is not a topic.
  EXPECT_REJECTED(registry_.AddSubscription(consumer_.client_id, "GETUSR"), StatusCode::kNotFound,
                  "topic 'GETUSR' not found");
  EXPECT_REJECTED(registry_.AddSubscription(consumer_.client_id, "NEWUSR", "ftp://x.example"),
                  StatusCode::kInvalidArgument, "invalid endpoint");
  EXPECT_REJECTED(registry_.AddSubscription(consumer_.client_id, "NEWUSR", "not a url"),
                  StatusCode::kInvalidArgument, "invalid endpoint");
  EXPECT_REJECTED(registry_.RevokeSubscription(consumer_.client_id, "NEWUSR"),
                  StatusCode::kNotFound, "has no subscription");
  EXPECT_REJECTED(registry_.RevokeSubscription("nobody", "NEWUSR"), StatusCode::kNotFound,
                  "subscriber system 'nobody' not found");
  EXPECT_REJECTED(registry_.RevokeSubscription(consumer_.client_id, "NOTOPIC"),
                  StatusCode::kNotFound, "topic 'NOTOPIC' not found");

  ASSERT_TRUE(registry_.AddSubscription(consumer_.client_id, "NEWUSR").ok());
  EXPECT_REJECTED(
      registry_.AddSubscription(consumer_.client_id, "NEWUSR", "https://other.example/"),
      StatusCode::kAlreadyExists, "already has an approved subscription");
}

TEST_F(RegistryTest, MigrationsUpgradeAVersionOneDatabase) {
  // A database created by migration 1 alone (as released) keeps its rows and gains the tables
  // and columns of the later migrations.
  AddFixtures();
  ASSERT_TRUE(db_->Exec(kUndoMigrationThirteen).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationTwelve).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationEleven).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationTen).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationNine).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationEight).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationSeven).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationSix).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationFive).ok());
  ASSERT_TRUE(db_->Exec("DROP TABLE subscriptions; DROP TABLE topics;"
                        " ALTER TABLE apis DROP COLUMN mode;"
                        " ALTER TABLE apis DROP COLUMN callback_endpoint;"
                        " ALTER TABLE apis DROP COLUMN store_bodies;"
                        " UPDATE schema_versions SET version = 1 WHERE component = 'registry'")
                  .ok());
  ASSERT_TRUE(Registry::Migrate(*db_).ok());
  EXPECT_EQ(*store::SchemaVersion(*db_, "registry"), 13);
  ApiSettings async_api;
  async_api.async = true;
  async_api.callback_endpoint = "https://moh.example/answers";
  auto added = registry_.AddApi(provider_.client_id, "LANDREG", async_api);
  ASSERT_TRUE(added.ok()) << added.status().message();
  EXPECT_TRUE(added->async);
  EXPECT_EQ(added->callback_endpoint, "https://moh.example/answers");
  EXPECT_TRUE(registry_.AddTopic(provider_.client_id, "NEWUSR").ok());
  EXPECT_TRUE(registry_.AddSubscription(consumer_.client_id, "NEWUSR").ok());
  auto apis = registry_.ListApis();
  ASSERT_TRUE(apis.ok());
  EXPECT_EQ(apis->size(), 2u);
  EXPECT_FALSE((*apis)[0].async) << "APIs from before migration 3 stay synchronous";
}

TEST_F(RegistryTest, MigrationFourKeepsExistingApisWithoutStoredBodies) {
  // A database at migration 3 (as released): its APIs keep every setting, store no bodies, and
  // can be switched on afterwards.
  AddFixtures();
  ApiSettings async_api;
  async_api.async = true;
  async_api.callback_endpoint = "https://moh.example/answers";
  ASSERT_TRUE(registry_.AddApi(provider_.client_id, "LANDREG", async_api).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationThirteen).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationTwelve).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationEleven).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationTen).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationNine).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationEight).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationSeven).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationSix).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationFive).ok());
  ASSERT_TRUE(db_->Exec("ALTER TABLE apis DROP COLUMN store_bodies;"
                        " UPDATE schema_versions SET version = 3 WHERE component = 'registry'")
                  .ok());
  ASSERT_TRUE(Registry::Migrate(*db_).ok());
  EXPECT_EQ(*store::SchemaVersion(*db_, "registry"), 13);
  auto apis = registry_.ListApis();
  ASSERT_TRUE(apis.ok()) << apis.status().ToString();
  ASSERT_EQ(apis->size(), 2u);
  EXPECT_EQ((*apis)[0].code, "GETUSR");
  EXPECT_FALSE((*apis)[0].store_bodies);
  EXPECT_FALSE((*apis)[0].async);
  EXPECT_EQ((*apis)[1].code, "LANDREG");
  EXPECT_FALSE((*apis)[1].store_bodies);
  EXPECT_TRUE((*apis)[1].async);
  EXPECT_EQ((*apis)[1].callback_endpoint, "https://moh.example/answers");
  auto on = registry_.SetApiStoreBodies("LANDREG", true);
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  EXPECT_TRUE(on->store_bodies);
}

TEST_F(RegistryTest, MigrationFiveGivesExistingRowsTheDefaults) {
  // A database at migration 4 (as released): its systems and APIs keep every setting and get
  // the bus's default limits, fallbacks allowed, replays recorded; the new settings then work.
  AddFixtures();
  ASSERT_TRUE(registry_.SetApiStoreBodies("GETUSR", true).ok());
  ASSERT_TRUE(registry_.DisableSystem(consumer_.client_id).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationThirteen).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationTwelve).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationEleven).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationTen).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationNine).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationEight).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationSeven).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationSix).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationFive).ok());
  ASSERT_TRUE(
      db_->Exec("UPDATE schema_versions SET version = 4 WHERE component = 'registry'").ok());
  ASSERT_TRUE(Registry::Migrate(*db_).ok());
  EXPECT_EQ(*store::SchemaVersion(*db_, "registry"), 13);

  auto systems = registry_.ListSystems();
  ASSERT_TRUE(systems.ok()) << systems.status().ToString();
  ASSERT_EQ(systems->size(), 2u);
  for (const System& system : *systems) {
    EXPECT_EQ(system.rate_per_second, kRateDefault);
    EXPECT_EQ(system.rate_burst, kRateDefault);
    EXPECT_TRUE(system.signature_fallbacks);
  }
  EXPECT_FALSE((*systems)[1].enabled);
  EXPECT_EQ((*systems)[1].credential_version, 2);
  auto apis = registry_.ListApis();
  ASSERT_TRUE(apis.ok()) << apis.status().ToString();
  ASSERT_EQ(apis->size(), 1u);
  EXPECT_TRUE((*apis)[0].store_bodies);
  EXPECT_EQ((*apis)[0].rate_per_second, kRateDefault);
  EXPECT_EQ((*apis)[0].rate_burst, kRateDefault);
  EXPECT_EQ((*apis)[0].replay_policy, ReplayPolicy::kRecord);
  EXPECT_TRUE(registry_.ListSignatureUsage()->empty());

  EXPECT_TRUE(registry_.SetSystemRateLimit(provider_.client_id, {.rate_per_second = 5}).ok());
  EXPECT_TRUE(registry_.SetApiReplayPolicy("GETUSR", ReplayPolicy::kRefuse).ok());
  EXPECT_TRUE(
      registry_.RecordSignatureUsage({{.system_id = provider_.id, .variant = "raw", .count = 1}})
          .ok());
}

TEST_F(RegistryTest, MigrationSevenKeepsEveryTopicEnabled) {
  // A database at migration 6 (as released): its topics and subscriptions stay as they were,
  // enabled, and can be disabled afterwards.
  AddFixtures();
  ASSERT_TRUE(registry_.AddTopic(provider_.client_id, "NEWUSR").ok());
  ASSERT_TRUE(registry_.AddSubscription(consumer_.client_id, "NEWUSR").ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationThirteen).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationTwelve).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationEleven).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationTen).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationNine).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationEight).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationSeven).ok());
  ASSERT_TRUE(
      db_->Exec("UPDATE schema_versions SET version = 6 WHERE component = 'registry'").ok());
  ASSERT_TRUE(Registry::Migrate(*db_).ok());
  EXPECT_EQ(*store::SchemaVersion(*db_, "registry"), 13);
  auto topics = registry_.ListTopics();
  ASSERT_TRUE(topics.ok()) << topics.status().ToString();
  ASSERT_EQ(topics->size(), 1u);
  EXPECT_TRUE((*topics)[0].enabled);
  EXPECT_EQ(registry_.GetSubscription(consumer_.client_id, "NEWUSR")->state, kSubscriptionApproved);
  auto disabled = registry_.DisableTopic("NEWUSR");
  ASSERT_TRUE(disabled.ok()) << disabled.status().ToString();
  EXPECT_FALSE(disabled->enabled);
}

TEST_P(RegistryOnBoth, CallbackEndpointNeedsAnAsyncApi) {
  AddFixtures();
  ApiSettings settings;
  settings.callback_endpoint = "https://moh.example/answers";
  EXPECT_REJECTED(registry_.AddApi(provider_.client_id, "CBONLY", settings),
                  StatusCode::kInvalidArgument, "only applies to an asynchronous API");
  settings.async = true;
  settings.callback_endpoint = "ftp://nope";
  EXPECT_FALSE(registry_.AddApi(provider_.client_id, "CBONLY", settings).ok());
  EXPECT_EQ(registry_.ListApis()->size(), 1u);
}

TEST_P(RegistryOnBoth, RegistryChangesAreVisibleToOtherConnections) {
  AddFixtures();
  std::unique_ptr<store::Database> other = Connect();
  Registry reader(*other, testing::TestOptions(clock_));
  auto systems = reader.ListSystems();
  ASSERT_TRUE(systems.ok());
  EXPECT_EQ(systems->size(), 2u);
}

TEST_F(RegistryTest, MigrationEightGivesSystemsAutomaticSerialisation) {
  AddFixtures();
  ASSERT_TRUE(db_->Exec(kUndoMigrationThirteen).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationTwelve).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationEleven).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationTen).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationNine).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationEight).ok());
  ASSERT_TRUE(
      db_->Exec("UPDATE schema_versions SET version = 7 WHERE component = 'registry'").ok());
  ASSERT_TRUE(Registry::Migrate(*db_).ok());
  EXPECT_EQ(*store::SchemaVersion(*db_, "registry"), 13);
  auto system = registry_.GetSystem(consumer_.client_id);
  ASSERT_TRUE(system.ok());
  EXPECT_EQ(system->serialisation, "auto");
  EXPECT_EQ(system->serialisation_learned, "");
  EXPECT_EQ(EffectiveSerialisation(system->serialisation, system->serialisation_learned),
            "jackson");
}

TEST_F(RegistryTest, MigrationTwelveDatesKeysAndSecretsFromRegistration) {
  AddFixtures();
  ASSERT_TRUE(db_->Exec(kUndoMigrationThirteen).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationTwelve).ok());
  ASSERT_TRUE(db_->Exec(kUndoMigrationEleven).ok());
  ASSERT_TRUE(
      db_->Exec("UPDATE schema_versions SET version = 10 WHERE component = 'registry'").ok());
  ASSERT_TRUE(db_->Exec("UPDATE systems SET created_at = 1000 + id").ok());
  ASSERT_TRUE(Registry::Migrate(*db_).ok());
  EXPECT_EQ(*store::SchemaVersion(*db_, "registry"), 13);
  auto systems = registry_.ListSystems();
  ASSERT_TRUE(systems.ok()) << systems.status().ToString();
  ASSERT_EQ(systems->size(), 2u);
  for (const System& system : *systems) {
    EXPECT_EQ(system.key_changed_at, 1000 + system.id);
    EXPECT_EQ(system.secret_changed_at, 1000 + system.id);
  }
  EXPECT_TRUE(registry_.ListComplianceSettings()->empty());
}

// The registry's change counter (RegistryStore::ChangeVersion reads it).
int64_t RegistryVersion(store::Database& db) {
  auto stmt = db.Prepare("SELECT version FROM registry_version WHERE id = 1");
  GOVESB_CHECK(stmt.ok());
  auto row = stmt->Step();
  GOVESB_CHECK(row.ok() && *row);
  return stmt->ColumnInt64(0);
}

TEST_F(RegistryTest, MigrationThirteenStartsTheChangeCounterOfAnExistingRegistry) {
  AddFixtures();
  ASSERT_TRUE(db_->Exec(kUndoMigrationThirteen).ok());
  ASSERT_TRUE(
      db_->Exec("UPDATE schema_versions SET version = 12 WHERE component = 'registry'").ok());
  ASSERT_TRUE(Registry::Migrate(*db_).ok());
  EXPECT_EQ(*store::SchemaVersion(*db_, "registry"), 13);
  EXPECT_EQ(RegistryVersion(*db_), 0);
  ASSERT_TRUE(registry_.AddGrant(consumer_.client_id, "GETUSR").ok());
  EXPECT_EQ(RegistryVersion(*db_), 1) << "one row inserted, one bump";
  ASSERT_TRUE(registry_.SetComplianceSetting("window_days", "7").ok());
  EXPECT_EQ(RegistryVersion(*db_), 1);
  // One row: its CHECK keeps a second one out.
  EXPECT_FALSE(db_->Exec("INSERT INTO registry_version(id, version) VALUES (2, 0)").ok());
}

// Every kind of write to each of the six tables a Snapshot is built from moves the counter, on
// both backends (SQLite: row triggers, migration 13; PostgreSQL: statement triggers, migration
// 1); writes to the registry's other tables do not. A later migration that rebuilds one of the
// six tables and forgets its triggers fails here.
TEST_P(RegistryOnBoth, EveryWriteToASnapshotTableMovesTheChangeCounter) {
  const std::vector<std::string> tables = {"institutions", "systems", "apis",
                                           "grants",       "topics",  "subscriptions"};
  int64_t last = RegistryVersion(*db_);
  auto moved = [&](const std::string& what) {
    const int64_t now = RegistryVersion(*db_);
    EXPECT_GT(now, last) << what << " did not move the counter";
    last = now;
  };
  auto stayed = [&](const std::string& what) {
    EXPECT_EQ(RegistryVersion(*db_), last) << what << " moved the counter";
  };
  // INSERT, into each.
  ASSERT_TRUE(registry_.AddInstitution("EGA", "e-Government Authority").ok());
  moved("insert into institutions");
  auto system = registry_.AddSystem("EGA", "Provider", NewPublicKey(), "https://p.example/");
  ASSERT_TRUE(system.ok());
  moved("insert into systems");
  ASSERT_TRUE(registry_.AddApi(system->system.client_id, "GETUSR").ok());
  moved("insert into apis");
  ASSERT_TRUE(registry_.AddGrant(system->system.client_id, "GETUSR").ok());
  moved("insert into grants");
  ASSERT_TRUE(registry_.AddTopic(system->system.client_id, "NEWUSR").ok());
  moved("insert into topics");
  ASSERT_TRUE(registry_.AddSubscription(system->system.client_id, "NEWUSR").ok());
  moved("insert into subscriptions");
  // The other tables.
  ASSERT_TRUE(
      registry_
          .RecordSignatureUsage({{.system_id = system->system.id, .variant = "raw", .count = 1}})
          .ok());
  stayed("signature usage");
  ASSERT_TRUE(registry_.SetComplianceSetting("window_days", "7").ok());
  stayed("a compliance setting");
  ASSERT_TRUE(registry_
                  .SubmitApplication({.institution_code = "TRA",
                                      .institution_name = "Revenue Authority",
                                      .details = "Taxes",
                                      .contact_name = "Asha",
                                      .contact_email = "asha@tra.go.tz",
                                      .planned_systems = {{.name = "Tax Portal"}}})
                  .ok());
  stayed("a membership application");
  // UPDATE, of each.
  for (const std::string& table : tables) {
    ASSERT_TRUE(db_->Exec("UPDATE " + table + " SET created_at = created_at + 1").ok());
    moved("update of " + table);
  }
  // DELETE, from each (dependents first).
  ASSERT_TRUE(db_->Exec("DELETE FROM signature_usage").ok());
  stayed("a delete from signature_usage");
  for (auto table = tables.rbegin(); table != tables.rend(); ++table) {
    ASSERT_TRUE(db_->Exec("DELETE FROM " + *table).ok());
    moved("delete from " + *table);
  }
}

TEST_P(RegistryOnBoth, KeyAndSecretAgesRestartOnlyWhenTheyChange) {
  AddFixtures();
  const int64_t registered = registry_.GetSystem(consumer_.client_id)->created_at;
  EXPECT_EQ(registry_.GetSystem(consumer_.client_id)->key_changed_at, registered);
  EXPECT_EQ(registry_.GetSystem(consumer_.client_id)->secret_changed_at, registered);
  clock_.Advance(std::chrono::hours(24));
  const std::string same_key = registry_.GetSystem(consumer_.client_id)->public_key_b64;
  ASSERT_TRUE(registry_.UpdateSystem(consumer_.client_id, {.public_key = same_key}).ok());
  EXPECT_EQ(registry_.GetSystem(consumer_.client_id)->key_changed_at, registered);
  ASSERT_TRUE(registry_.RotateSecret(consumer_.client_id).ok());
  EXPECT_EQ(registry_.GetSystem(consumer_.client_id)->secret_changed_at, clock_.NowMillis());
  EXPECT_EQ(registry_.GetSystem(consumer_.client_id)->key_changed_at, registered);
  clock_.Advance(std::chrono::hours(24));
  const std::string other_key =
      crypto::PrivateKey::Generate(crypto::Curve::kP256)->public_key().SpkiBase64();
  ASSERT_TRUE(registry_.UpdateSystem(consumer_.client_id, {.public_key = other_key}).ok());
  EXPECT_EQ(registry_.GetSystem(consumer_.client_id)->key_changed_at, clock_.NowMillis());
  EXPECT_EQ(registry_.GetSystem(consumer_.client_id)->secret_changed_at,
            clock_.NowMillis() - 24 * 3600 * 1000);
  // The other system is untouched.
  EXPECT_EQ(registry_.GetSystem(provider_.client_id)->key_changed_at,
            registry_.GetSystem(provider_.client_id)->created_at);
}

TEST_P(RegistryOnBoth, ComplianceSettingsAreStoredReplacedAndRemoved) {
  EXPECT_TRUE(registry_.ListComplianceSettings()->empty());
  ASSERT_TRUE(registry_.SetComplianceSetting("key_age_warn_days", "200").ok());
  ASSERT_TRUE(registry_.SetComplianceSetting("window_days", "7").ok());
  ASSERT_TRUE(registry_.SetComplianceSetting("key_age_warn_days", "300").ok());
  auto settings = registry_.ListComplianceSettings();
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  ASSERT_EQ(settings->size(), 2u);
  EXPECT_EQ((*settings)[0], (std::pair<std::string, std::string>{"key_age_warn_days", "300"}));
  EXPECT_EQ((*settings)[1], (std::pair<std::string, std::string>{"window_days", "7"}));
  ASSERT_TRUE(registry_.RemoveComplianceSetting("window_days").ok());
  EXPECT_EQ(registry_.ListComplianceSettings()->size(), 1u);
  EXPECT_TRUE(registry_.RemoveComplianceSetting("window_days").ok()) << "already the default";
  for (auto [name, value, needle] : {std::tuple{"", "1", "name"},
                                     {"Bad Name", "1", "name"},
                                     {"window_days", "", "value"},
                                     {"window_days", "1 2", "value"}}) {
    Status refused = registry_.SetComplianceSetting(name, value);
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << name << "=" << value;
    EXPECT_NE(refused.message().find(needle), std::string::npos) << refused.message();
  }
  EXPECT_EQ(registry_.ListComplianceSettings()->size(), 1u);
}

TEST_F(RegistryTest, SerialisationIsSetOrLearnedFromTheSystemsOwnRequests) {
  AddFixtures();
  auto set = registry_.SetSerialisation(consumer_.client_id, "node");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->serialisation, "node");
  auto bad = registry_.SetSerialisation(consumer_.client_id, "xml");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_.GetSystem(consumer_.client_id)->serialisation, "node") << "unchanged";
  ASSERT_TRUE(registry_.SetSerialisation(consumer_.client_id, "auto").ok());

  // The bus records what it saw; the latest form of a batch is what it learned.
  const int64_t id = registry_.GetSystem(consumer_.client_id)->id;
  std::vector<SignatureUsage> seen(2);
  seen[0].system_id = id;
  seen[0].variant = "serialisation-jackson";
  seen[0].count = 2;
  seen[0].first_at = seen[0].last_at = 1000;
  seen[1].system_id = id;
  seen[1].variant = "serialisation-node";
  seen[1].count = 1;
  seen[1].first_at = seen[1].last_at = 2000;
  ASSERT_TRUE(registry_.RecordSignatureUsage(seen).ok());
  auto learned = registry_.GetSystem(consumer_.client_id);
  EXPECT_EQ(learned->serialisation_learned, "node");
  EXPECT_EQ(EffectiveSerialisation(learned->serialisation, learned->serialisation_learned), "node");
  // A setting wins over what was learned.
  ASSERT_TRUE(registry_.SetSerialisation(consumer_.client_id, "jackson").ok());
  learned = registry_.GetSystem(consumer_.client_id);
  EXPECT_EQ(EffectiveSerialisation(learned->serialisation, learned->serialisation_learned),
            "jackson");
}

// The terms of the approved grant of `api_code` to `consumer` in `snapshot`; nullptr without one.
const Snapshot::GrantTerms* ApprovedTerms(const Snapshot& snapshot, std::string_view consumer,
                                          std::string_view api_code) {
  const System* c = snapshot.FindSystem(consumer);
  const Api* api = snapshot.FindApi(api_code);
  if (c == nullptr || api == nullptr) return nullptr;
  return snapshot.FindApprovedGrant(c->id, api->id);
}

TEST_F(RegistryTest, AGrantsFieldAllowListIsValidatedKeptAndCompiledIntoTheSnapshot) {
  AddFixtures();
  const std::string consumer = consumer_.client_id;
  ASSERT_TRUE(registry_.AddGrant(consumer, "GETUSR").ok());
  const std::vector<std::string> fields = {"name", "/mother/name", "children.name"};
  auto set = registry_.SetGrantFields(consumer, "GETUSR", fields);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->fields, fields);
  EXPECT_EQ(registry_.GetGrant(consumer, "GETUSR")->fields, fields);

  // Bad input changes nothing, and names the path.
  auto bad = registry_.SetGrantFields(consumer, "GETUSR", {"name", "children[].nin"});
  ASSERT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("children[].nin"), std::string::npos);
  EXPECT_EQ(registry_
                .SetGrantFields(consumer, "GETUSR",
                                std::vector<std::string>(minimise::kMaxFieldPaths + 1, "a"))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_.GetGrant(consumer, "GETUSR")->fields, fields);
  EXPECT_EQ(registry_.SetGrantFields(consumer, "NOSUCH", fields).status().code(),
            StatusCode::kNotFound);

  auto snapshot = Snapshot::Load(*db_);
  ASSERT_TRUE(snapshot.ok());
  const Snapshot::GrantTerms* terms = ApprovedTerms(**snapshot, consumer, "GETUSR");
  ASSERT_NE(terms, nullptr);
  ASSERT_NE(terms->fields, nullptr);
  EXPECT_EQ(terms->fields->Pointers(),
            (std::vector<std::string>{"/children/name", "/mother/name", "/name"}));

  // An empty list gives every field back.
  ASSERT_TRUE(registry_.SetGrantFields(consumer, "GETUSR", {}).ok());
  EXPECT_TRUE(registry_.GetGrant(consumer, "GETUSR")->fields.empty());
  auto again = Snapshot::Load(*db_);
  ASSERT_TRUE(again.ok());
  const Snapshot::GrantTerms* all = ApprovedTerms(**again, consumer, "GETUSR");
  ASSERT_NE(all, nullptr);
  EXPECT_EQ(all->fields, nullptr);
}

TEST_F(RegistryTest, AGrantsPurposesAreValidatedAndKept) {
  AddFixtures();
  const std::string consumer = consumer_.client_id;
  ASSERT_TRUE(registry_.AddGrant(consumer, "GETUSR").ok());
  std::vector<Purpose> purposes = {{"TREATMENT", "Medical treatment of the patient"},
                                   {"ELIGIBILITY", "Checking eligibility for a benefit"}};
  auto set = registry_.SetGrantPurposes(consumer, "GETUSR", purposes, true);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->purposes, purposes);
  EXPECT_TRUE(set->purpose_required);
  auto read = registry_.GetGrant(consumer, "GETUSR");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->purposes, purposes);

  // Bad input changes nothing.
  const std::vector<std::vector<Purpose>> bad = {
      {{"treatment", "lower case"}},        {{"T", ""}},
      {{"TREATMENT", "two\nlines"}},        {{"A", "x"}, {"A", "y"}},
      {{std::string(33, 'A'), "too long"}},
  };
  for (const auto& b : bad) {
    EXPECT_EQ(registry_.SetGrantPurposes(consumer, "GETUSR", b, false).status().code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(registry_.SetGrantPurposes(consumer, "GETUSR", {}, true).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_.GetGrant(consumer, "GETUSR")->purposes, purposes);
  EXPECT_EQ(registry_.SetGrantPurposes(consumer, "NOSUCH", purposes, false).status().code(),
            StatusCode::kNotFound);

  // The snapshot carries the codes.
  auto snapshot = Snapshot::Load(*db_);
  ASSERT_TRUE(snapshot.ok());
  const Snapshot::GrantTerms* terms = ApprovedTerms(**snapshot, consumer, "GETUSR");
  ASSERT_NE(terms, nullptr);
  EXPECT_EQ(terms->purposes, (std::vector<std::string>{"TREATMENT", "ELIGIBILITY"}));
  EXPECT_TRUE(terms->purpose_required);
}

}  // namespace
}  // namespace govesb::registry
