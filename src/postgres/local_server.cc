#include "postgres/local_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "base/local_services.h"
#include "postgres/connection.h"

namespace govesb::postgres {
namespace {

namespace fs = std::filesystem;

std::string FindBinDir() {
  std::error_code ec;
  std::string best;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path initdb = entry.path() / "bin" / "initdb";
    if (fs::exists(initdb, ec) && (best.empty() || entry.path().string() > best)) {
      best = entry.path().string();
    }
  }
  return best.empty() ? std::string() : best + "/bin";
}

}  // namespace

Status LocalServer::RunAs(const std::vector<std::string>& argv, std::string_view what) {
  std::vector<std::string> full;
  if (as_postgres_user_) full = {"runuser", "-u", "postgres", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::string log = dir_ + "/commands.log";
  pid_t pid = ::fork();
  if (pid < 0) return Internal("fork failed running " + std::string(what));
  if (pid == 0) {
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    std::vector<char*> args;
    for (std::string& a : full) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Unavailable(std::string(what) + " failed:\n" + FileTail(log));
  }
  return Status::Ok();
}

Result<std::unique_ptr<LocalServer>> LocalServer::Start(LocalServerOptions options) {
  std::unique_ptr<LocalServer> s(new LocalServer());
  s->bin_ = FindBinDir();
  if (s->bin_.empty()) {
    return FailedPrecondition(
        "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: install the package "
        "postgresql (scripts/setup does)");
  }
  s->fsync_ = options.fsync;
  s->as_postgres_user_ = ::geteuid() == 0;
  if (options.dir.empty()) {
    const fs::path parent =
        options.temp_parent.empty() ? fs::temp_directory_path() : fs::path(options.temp_parent);
    std::string tmpl = (parent / "govesb-pg-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return Internal("cannot make a temporary directory in " + parent.string() + ": " +
                      std::strerror(errno));
    }
    s->dir_ = tmpl;
    s->remove_dir_ = true;
  } else {
    s->dir_ = options.dir;
    std::error_code ec;
    fs::create_directories(s->dir_, ec);
  }
  if (s->as_postgres_user_) {
    const passwd* pg = ::getpwnam("postgres");
    if (pg == nullptr) {
      return FailedPrecondition(
          "running as root needs the `postgres` system user (package "
          "postgresql) to run the server as");
    }
    if (::chown(s->dir_.c_str(), pg->pw_uid, pg->pw_gid) != 0) {
      return Internal("cannot hand " + s->dir_ + " to the postgres user");
    }
  }
  std::error_code ec;
  if (!fs::exists(s->dir_ + "/data/PG_VERSION", ec)) {
    GOVESB_RETURN_IF_ERROR(
        s->RunAs({s->bin_ + "/initdb", "-D", s->dir_ + "/data", "-U", "govesb", "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"},
                 "initdb"));
  }
  GOVESB_ASSIGN_OR_RETURN(s->port_, FreeLoopbackPort());
  GOVESB_RETURN_IF_ERROR(s->StartAgain());
  return s;
}

Status LocalServer::StartAgain() {
  std::string settings = "-p " + std::to_string(port_) + " -k " + dir_ +
                         " -c listen_addresses=127.0.0.1 -c max_connections=200";
  if (!fsync_) settings += " -c fsync=off -c full_page_writes=off";
  GOVESB_RETURN_IF_ERROR(RunAs({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log",
                                "-w", "-t", "60", "-o", settings, "start"},
                               "starting PostgreSQL (pg_ctl start)"));
  running_ = true;
  return Status::Ok();
}

Status LocalServer::Stop() {
  if (!running_) return Status::Ok();
  running_ = false;
  return RunAs({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "-t", "60", "stop"},
               "stopping PostgreSQL (pg_ctl stop)");
}

Status LocalServer::StopAt(const std::string& dir) {
  std::unique_ptr<LocalServer> s(new LocalServer());
  s->bin_ = FindBinDir();
  if (s->bin_.empty()) return FailedPrecondition("no PostgreSQL server binaries");
  s->dir_ = dir;
  s->remove_dir_ = true;
  s->as_postgres_user_ = ::geteuid() == 0;
  s->running_ = true;
  return s->Stop();  // the destructor removes the directory
}

Status LocalServer::Restart() {
  GOVESB_RETURN_IF_ERROR(Stop());
  return StartAgain();
}

LocalServer::~LocalServer() {
  (void)Stop();
  if (remove_dir_) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string LocalServer::conninfo(std::string_view database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) +
         " user=govesb dbname=" + std::string(database) + " connect_timeout=10";
}

Status LocalServer::CreateDatabase(std::string_view name) {
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
      return InvalidArgument("a database name of letters, digits and _ only");
    }
  }
  GOVESB_ASSIGN_OR_RETURN(auto conn, Connection::Open(conninfo()));
  return conn->Exec("CREATE DATABASE " + std::string(name)).status();
}

}  // namespace govesb::postgres
