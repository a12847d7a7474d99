#pragma once

// For tests that need PostgreSQL: each test gets an empty database of its own, on the server the
// whole ctest run shares (started by the ctest fixture `postgres`, govesb_test_postgres, and
// named by GOVESB_TEST_POSTGRES_DIR), or else on a private server of the test binary, started by
// the first test that asks for one (tests that never ask do not pay for it) and stopped when the
// binary ends. Header-only, for test targets (gtest).

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "postgres/connection.h"
#include "postgres/local_server.h"

namespace govesb::postgres::testing {

namespace internal {
inline std::unique_ptr<LocalServer>& SharedServerSlot() {
  static std::unique_ptr<LocalServer> server;
  return server;
}
class StopSharedServer : public ::testing::Environment {
 public:
  void TearDown() override { SharedServerSlot().reset(); }
};
}  // namespace internal

// The binary's server, started on first use; nullptr (and a test failure) when it cannot start.
inline LocalServer* SharedServer() {
  auto& server = internal::SharedServerSlot();
  if (server == nullptr) {
    static const bool registered =
        (::testing::AddGlobalTestEnvironment(new internal::StopSharedServer), true);
    (void)registered;
    auto started = LocalServer::Start();
    if (!started.ok()) {
      ADD_FAILURE() << "cannot start a private PostgreSQL server: " << started.status().ToString();
      return nullptr;
    }
    server = std::move(started).value();
  }
  return server.get();
}

// The conninfo (without dbname) of the run's shared server, "" when there is none.
inline std::string SharedRunServer() {
  const char* dir = std::getenv("GOVESB_TEST_POSTGRES_DIR");
  if (dir == nullptr || *dir == '\0') return "";
  std::ifstream in(std::string(dir) + "/conninfo");
  std::string base;
  std::getline(in, base);
  return base;
}

// The conninfo of a new, empty database; "" (and a test failure) when it cannot be made.
inline std::string FreshDatabase() {
  static int n = 0;
  const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(n++);
  if (std::string base = SharedRunServer(); !base.empty()) {
    auto conn = Connection::Open(base + " dbname=postgres");
    Status made = conn.ok() ? (*conn)->Exec("CREATE DATABASE " + name).status() : conn.status();
    if (made.ok()) return base + " dbname=" + name;
    ADD_FAILURE() << "cannot create database " << name
                  << " on the run's server: " << made.ToString();
    return "";
  }
  LocalServer* server = SharedServer();
  if (server == nullptr) return "";
  Status made = server->CreateDatabase(name);
  if (!made.ok()) {
    ADD_FAILURE() << "cannot create database " << name << ": " << made.ToString();
    return "";
  }
  return server->conninfo(name);
}

}  // namespace govesb::postgres::testing
