// govesb_test_postgres start|start-shared|stop DIR: a private PostgreSQL server for tests.
// `start` puts the server's cluster in DIR (test/cluster restarts it there with pg_ctl);
// `start-shared` is the one a ctest run shares (the fixture `postgres` starts it before the tests
// that use it and stops it after them): its cluster goes under the temporary directory. Both
// write the server's conninfo (database left out) to DIR/conninfo; test_server.h finds it
// through the environment variable GOVESB_TEST_POSTGRES_DIR. A server that cannot start is not
// an error here: each test binary then starts its own and reports why that fails.
//
// The shared server's cluster goes to /dev/shm when that is a tmpfs with room for it: a ctest
// run makes about 180 databases there (2.2 GB, some 50,000 files), and on a virtual disk
// removing them alone took 16 s at the end of every run, after copying them in as each test
// made its database.

#include <linux/magic.h>
#include <sys/statfs.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "postgres/local_server.h"

namespace {

// Stops the server started with `start DIR` or `start-shared DIR`, and removes its files.
void Stop(const std::string& dir) {
  std::string server_dir = dir;
  if (std::ifstream named(dir + "/server_dir"); named) std::getline(named, server_dir);
  govesb::Status stopped = govesb::postgres::LocalServer::StopAt(server_dir);
  if (!stopped.ok()) std::fprintf(stderr, "%s\n", stopped.ToString().c_str());
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// "/dev/shm" when that is a tmpfs with at least 6 GiB free, else "" (the system's temporary
// directory): where the shared server's temporary directory is made.
std::string SharedParent() {
  constexpr uint64_t kRoom = uint64_t{6} << 30;
  struct statfs fs {};
  if (::statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC) return "";
  if (static_cast<uint64_t>(fs.f_bavail) * static_cast<uint64_t>(fs.f_bsize) < kRoom) return "";
  return "/dev/shm";
}

}  // namespace

int main(int argc, char** argv) {
  namespace pg = govesb::postgres;
  if (argc != 3) {
    std::fprintf(stderr, "usage: govesb_test_postgres start|start-shared|stop DIR\n");
    return 2;
  }
  const std::string command = argv[1];
  const std::string dir = argv[2];
  if (command == "stop") {
    if (std::filesystem::exists(dir + "/conninfo")) Stop(dir);
    return 0;
  }
  // start: the server's cluster in DIR. start-shared (the ctest fixture): in a new directory
  // under /dev/shm or the system's temporary directory (SharedParent), named in DIR/server_dir,
  // so that the server (which runs as the `postgres` user when we are root) can reach it
  // wherever the build tree is.
  if (command != "start" && command != "start-shared") return 2;
  if (std::filesystem::exists(dir + "/conninfo")) Stop(dir);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  const bool shared = command == "start-shared";
  if (shared) std::filesystem::create_directories(dir, ec);
  // Shared: a new temporary directory, which the server removes itself if it cannot start.
  auto server = shared ? pg::LocalServer::Start({.temp_parent = SharedParent()})
                       : pg::LocalServer::Start({.dir = dir});
  if (!server.ok()) {
    std::fprintf(stderr, "no shared PostgreSQL server for the tests: %s\n",
                 server.status().ToString().c_str());
    return 0;
  }
  (*server)->Detach();
  if (shared) std::ofstream(dir + "/server_dir") << (*server)->dir() << "\n";
  const std::string base = "host=127.0.0.1 port=" + std::to_string((*server)->port()) +
                           " user=govesb connect_timeout=10";
  std::ofstream(dir + "/conninfo.tmp") << base << "\n";
  std::filesystem::rename(dir + "/conninfo.tmp", dir + "/conninfo", ec);
  std::printf("PostgreSQL for the tests: %s\n", base.c_str());
  return 0;
}
