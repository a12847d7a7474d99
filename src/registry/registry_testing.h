#pragma once

// Test fixtures for the registry module's tests (not part of the library).

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/temp_dir.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "registry/registry.h"
#include "store/database.h"
#include "store/database_testing.h"

namespace govesb::registry::testing {

using ::govesb::TempDir;

inline std::unique_ptr<store::Database> OpenMigrated(const std::string& path) {
  auto db = store::Database::Open(path);
  GOVESB_CHECK(db.ok());
  GOVESB_CHECK(Registry::Migrate(**db).ok());
  return std::move(db).value();
}

// A connection to the database at `location` (store::testing::NewDatabase), migrated.
inline std::unique_ptr<store::Database> OpenMigrated(store::Backend backend,
                                                     const std::string& location) {
  std::unique_ptr<store::Database> db = store::testing::Connect(backend, location);
  GOVESB_CHECK(Registry::Migrate(*db).ok());
  return db;
}

inline RegistryOptions TestOptions(const Clock& clock) {
  return RegistryOptions{
      .clock = &clock,
      .hash_secret = [](std::string_view s) { return crypto::HashSecretForTest(s); },
  };
}

inline std::string NewPublicKey(crypto::Curve curve = crypto::Curve::kSecp256k1) {
  auto key = crypto::PrivateKey::Generate(curve);
  GOVESB_CHECK(key.ok());
  return key->public_key().SpkiBase64();
}

// Every row of every registry table as text, to prove that a failed operation changed nothing.
inline std::string DumpTables(store::Database& db) {
  std::string out;
  for (const char* table :
       {"institutions", "systems", "apis", "grants", "topics", "subscriptions", "signature_usage",
        "schema_versions", "membership_applications", "compliance_settings", "registry_version"}) {
    auto stmt = db.Prepare(std::string("SELECT * FROM ") + table + " ORDER BY 1");
    GOVESB_CHECK(stmt.ok());
    out += table;
    out += ":\n";
    while (true) {
      auto row = stmt->Step();
      GOVESB_CHECK(row.ok());
      if (!*row) break;
      for (int i = 0; i < stmt->ColumnCount(); ++i) {
        out += stmt->ColumnIsNull(i) ? "NULL" : stmt->ColumnText(i);
        out += '|';
      }
      out += '\n';
    }
  }
  return out;
}

// In a RegistryTest: runs `op`, expects it to fail with `code` and a message containing `needle`,
// and checks that the database content did not change.
#define EXPECT_REJECTED(op, code_, needle)                                    \
  do {                                                                        \
    const std::string before = DumpTables(*db_);                              \
    auto result = (op);                                                       \
    ASSERT_FALSE(result.ok()) << #op << " " << (needle);                      \
    EXPECT_EQ(result.status().code(), (code_)) << result.status().ToString(); \
    EXPECT_NE(result.status().message().find(needle), std::string::npos)      \
        << "message: " << result.status().message();                          \
    EXPECT_EQ(DumpTables(*db_), before) << #op << " changed the database";    \
  } while (0)

// A migrated database (a file in a temp dir, or a PostgreSQL database of its own), a simulated
// clock and a Registry with cheap hashing.
class RegistryFixture {
 protected:
  explicit RegistryFixture(store::Backend backend)
      : backend_(backend),
        location_(store::testing::NewDatabase(backend, dir_)),
        db_(OpenMigrated(backend_, location_)),
        registry_(*db_, TestOptions(clock_)) {}

  // Another connection to the same database.
  std::unique_ptr<store::Database> Connect() const {
    return store::testing::Connect(backend_, location_);
  }

  // Adds institution EGA, a provider and a consumer system, API "GETUSR" of the provider.
  void AddFixtures() {
    ASSERT_TRUE(registry_.AddInstitution("EGA", "e-Government Authority").ok());
    auto provider = registry_.AddSystem("EGA", "Provider", NewPublicKey(),
                                        "https://provider.example.go.tz/esb");
    ASSERT_TRUE(provider.ok()) << provider.status().ToString();
    provider_ = provider->system;
    auto consumer = registry_.AddSystem("EGA", "Consumer", NewPublicKey(crypto::Curve::kP256),
                                        "http://consumer.example:8080/cb");
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
    consumer_ = consumer->system;
    auto api = registry_.AddApi(provider_.client_id, "GETUSR");
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    api_ = *api;
  }

  TempDir dir_;
  SimulatedClock clock_;
  store::Backend backend_;
  std::string location_;  // the SQLite file or the PostgreSQL conninfo
  std::unique_ptr<store::Database> db_;
  Registry registry_;
  System provider_;
  System consumer_;
  Api api_;
};

// On SQLite (the tests of SQLite-only behaviour: downgrade scripts, rowids, files).
class RegistryTest : public ::testing::Test, public RegistryFixture {
 protected:
  RegistryTest() : RegistryFixture(store::Backend::kSqlite) {}
};

// On both backends: TEST_P(RegistryOnBoth, ...), instantiated once per test file with
// INSTANTIATE_TEST_SUITE_P(Backends, RegistryOnBoth, store::testing::BothBackends(),
//                          store::testing::BackendName).
class RegistryOnBoth : public ::testing::TestWithParam<store::Backend>, public RegistryFixture {
 protected:
  RegistryOnBoth() : RegistryFixture(GetParam()) {}
};

}  // namespace govesb::registry::testing
