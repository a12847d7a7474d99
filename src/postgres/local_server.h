#pragma once

// A private PostgreSQL server on this machine, for tests and for trying cluster mode: initdb in
// a directory of its own, started with pg_ctl on a free loopback port (and a Unix socket in the
// same directory), stopped and removed on destruction. Debian's server binaries are found in
// /usr/lib/postgresql/<version>/bin (package postgresql). PostgreSQL refuses to run as root: as
// root, the server runs as the `postgres` system user, which the package creates.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace govesb::postgres {

struct LocalServerOptions {
  // Where the cluster lives; "" for a new temporary directory (removed on destruction).
  std::string dir = std::string();
  // Where that temporary directory is made; "" for the system's temporary directory.
  std::string temp_parent = std::string();
  // fsync off: for tests, where the machine does not crash (a server restart loses nothing).
  bool fsync = false;
};

class LocalServer {
 public:
  static Result<std::unique_ptr<LocalServer>> Start(LocalServerOptions options = {});
  ~LocalServer();
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  // A libpq connection string for `database` as the server's superuser (trust auth, loopback).
  std::string conninfo(std::string_view database = "postgres") const;
  uint16_t port() const { return port_; }
  // Where the server's cluster lives.
  const std::string& dir() const { return dir_; }
  // A new, empty database (a test's own).
  Status CreateDatabase(std::string_view name);
  // Fast shutdown and start again on the same port (a fault: connections are cut).
  Status Restart();
  Status Stop();
  Status StartAgain();

  // Leaves the server running when this object goes (a test run's shared server, stopped later
  // with StopAt).
  void Detach() {
    running_ = false;
    remove_dir_ = false;
  }
  // Stops the server whose cluster is in `dir` (made by Start with that dir) and removes `dir`.
  static Status StopAt(const std::string& dir);

 private:
  LocalServer() = default;
  Status RunAs(const std::vector<std::string>& argv, std::string_view what);

  std::string dir_;
  bool remove_dir_ = false;
  std::string bin_;
  uint16_t port_ = 0;
  bool fsync_ = false;
  bool running_ = false;
  bool as_postgres_user_ = false;
};

}  // namespace govesb::postgres
