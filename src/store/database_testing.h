#pragma once

// For tests that run the same cases on both backends (SQLite and PostgreSQL), as
// database_test.cc's DatabaseOnBoth does: a parameter value per backend, its name for gtest, a
// fresh database per test and more connections to it. Header-only, for test targets (gtest).

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "base/result.h"
#include "base/temp_dir.h"
#include "postgres/test_server.h"
#include "store/database.h"

namespace govesb::store::testing {

// "Sqlite" / "Postgres", for INSTANTIATE_TEST_SUITE_P(..., BackendName).
inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

inline auto BothBackends() { return ::testing::Values(Backend::kSqlite, Backend::kPostgres); }

// Where a new, empty database of this test lives: a file in `dir` (SQLite) or the conninfo of a
// new database on the run's PostgreSQL server. Aborts when PostgreSQL cannot give one (the test
// has failed already).
inline std::string NewDatabase(Backend backend, const TempDir& dir,
                               const std::string& file = "govesb.db") {
  if (backend == Backend::kSqlite) return dir.path() + "/" + file;
  std::string conninfo = postgres::testing::FreshDatabase();
  GOVESB_CHECK(!conninfo.empty());
  return conninfo;
}

// A connection (of its own) to the database at `location` (from NewDatabase).
inline std::unique_ptr<Database> Connect(Backend backend, const std::string& location) {
  auto db =
      backend == Backend::kSqlite ? Database::Open(location) : Database::OpenPostgres(location);
  GOVESB_CHECK(db.ok());
  return std::move(db).value();
}

}  // namespace govesb::store::testing
