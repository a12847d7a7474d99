// govesb_test_postgres start|stop DIR: the PostgreSQL server that a ctest run shares (a ctest
// fixture starts it before the tests that use it and stops it after them). `start` writes the
// server's conninfo (database left out) to DIR/conninfo; test_server.h finds it through the
// environment variable GOVESB_TEST_POSTGRES_DIR. A server that cannot start is not an error
// here: each test binary then starts its own and reports why that fails.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "postgres/local_server.h"

int main(int argc, char** argv) {
  namespace pg = govesb::postgres;
  if (argc != 3) {
    std::fprintf(stderr, "usage: govesb_test_postgres start|stop DIR\n");
    return 2;
  }
  const std::string command = argv[1];
  const std::string dir = argv[2];
  if (command == "stop") {
    if (!std::filesystem::exists(dir + "/conninfo")) return 0;
    govesb::Status stopped = pg::LocalServer::StopAt(dir);
    if (!stopped.ok()) std::fprintf(stderr, "%s\n", stopped.ToString().c_str());
    return 0;
  }
  if (command != "start") return 2;
  if (std::filesystem::exists(dir + "/conninfo")) (void)pg::LocalServer::StopAt(dir);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  auto server = pg::LocalServer::Start({.dir = dir});
  if (!server.ok()) {
    std::fprintf(stderr, "no shared PostgreSQL server for the tests: %s\n",
                 server.status().ToString().c_str());
    return 0;
  }
  (*server)->Detach();
  const std::string base = "host=127.0.0.1 port=" + std::to_string((*server)->port()) +
                           " user=govesb connect_timeout=10";
  std::ofstream(dir + "/conninfo.tmp") << base << "\n";
  std::filesystem::rename(dir + "/conninfo.tmp", dir + "/conninfo", ec);
  std::printf("PostgreSQL for the tests: %s\n", base.c_str());
  return 0;
}
