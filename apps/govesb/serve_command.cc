#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>

#include "commands.h"
#include "logging/json_log.h"
#include "serve_options.h"
#include "server/bus_server.h"
#include "server/service_notify.h"

namespace govesb::apps {
namespace {

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.lexically_normal().string();
}

void SetUpLogging(const std::string& level, const std::string& format) {
  // Log lines go through a background thread so that I/O threads never wait on stdout.
  spdlog::init_thread_pool(16384, 1);
  auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  auto logger = std::make_shared<spdlog::async_logger>("govesb", sink, spdlog::thread_pool(),
                                                       spdlog::async_overflow_policy::block);
  if (format == "json") {
    SetLogFormat(LogFormat::kJson);
    logger->set_formatter(MakeJsonLogFormatter());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

// A service manager waiting on the bus (systemd's Type=notify) hears of it; a failure to tell
// it is logged, and the manager then acts on its own timeout.
void TellServiceManager(const std::string& state) {
  Status told = server::NotifyServiceManager(state);
  if (!told.ok()) spdlog::warn("{}", told.message());
}

void RunServe(CLI::App& cmd, ServeArgs& args) {
  Status prepared = PrepareServe(cmd, args);
  if (!prepared.ok()) {
    PrintServeErrors(prepared);
    throw CLI::RuntimeError(kExitUsage);
  }
  // Before any thread exists (the logger's is the first): every thread inherits the mask, so
  // SIGTERM, SIGINT and SIGHUP reach only WaitForTerminationSignal. A thread started before
  // would take such a signal that arrives before the main thread waits for it, and die of it,
  // unannounced (SIGHUP's default action ends the process too).
  server::BlockTerminationSignals();
  SetUpLogging(args.log_level, args.log_format);
  // (BusServer::Start raises the open-file limit to its hard limit.)
  server::BusServer bus(args.options);
  Status started = bus.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "error: %s\n", started.message().c_str());
    spdlog::shutdown();
    throw CLI::RuntimeError(kExitFailure);
  }
  // The banner: plain lines, or with --log-format json log lines like every other (stdout
  // then holds only JSON objects).
  const auto say = [](const std::string& line) {
    if (JsonLogs()) {
      spdlog::info("{}", line);
    } else {
      std::printf("%s\n", line.c_str());
    }
  };
  say("govesb: listening on " + bus.base_url());
  say("govesb: token URL   " + bus.base_url() + "/gw/govesb-uaa/oauth/token");
  say("govesb: engine URL  " + bus.base_url() + "/engine/esb");
  say("govesb: bus public key " + bus.bus_public_key());
  if (!bus.admin_base_url().empty()) {
    say("govesb: admin API   " + bus.admin_base_url() +
        "/api/v1/ (portal accounts: govesb admin user add)");
  }
  if (!bus.metrics_base_url().empty()) {
    say("govesb: metrics     " + bus.metrics_base_url() + "/metrics");
  } else if (!bus.admin_base_url().empty()) {
    say("govesb: metrics     " + bus.admin_base_url() + "/metrics");
  }
  for (const std::string& url : bus.public_urls()) say("govesb: reachable at " + url);
  if (!bus.ca_file().empty()) say("govesb: clients trust the CA in " + bus.ca_file());
  say("govesb: data directory " + AbsolutePath(args.options.data_dir) +
      " (give it to govesb admin --data-dir)");
  std::fflush(stdout);
  // Start has bound every listener: connections are accepted from here on.
  TellServiceManager("READY=1\nSTATUS=Listening on " + bus.base_url());
  int sig = server::WaitForTerminationSignal();
  // SIGHUP (systemctl reload): the TLS certificate and the bus key ring are read again.
  while (sig == SIGHUP) {
    // systemd wants the monotonic time with RELOADING=1 (sd_notify(3)).
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    TellServiceManager("RELOADING=1\nMONOTONIC_USEC=" +
                       std::to_string(int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000));
    spdlog::info("received SIGHUP: reloading the TLS certificate and the bus keys");
    if (bus.tls()) (void)bus.ReloadTls();  // a failure is logged; the old certificate serves
    bus.ReloadKeys();
    TellServiceManager("READY=1");
    sig = server::WaitForTerminationSignal();
  }
  TellServiceManager("STOPPING=1\nSTATUS=Finishing in-flight exchanges");
  spdlog::info("received signal {}, finishing in-flight exchanges", sig);
  bus.Shutdown();
  spdlog::info("stopped");
  spdlog::shutdown();
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Run the bus (embedded default: SQLite in --data-dir)");
  AddServeOptions(*cmd, *args);
  cmd->callback([cmd, args] { RunServe(*cmd, *args); });
}

}  // namespace govesb::apps
