// `govesb bench setup|run|drain|crypto|floor|idle|token-attack|evidence-search|free-port` and
// `govesb bench-provider`: the benchmark harness (the work is in src/bench/; see its README). Every
// bench leaf prints a table, or one JSON object with --json; failures print "error: <reason>" on
// stderr and exit 1.
#include <pthread.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/local_services.h"
#include "bench/crypto_rates.h"
#include "bench/drain.h"
#include "bench/evidence_search.h"
#include "bench/floor_model.h"
#include "bench/idle.h"
#include "bench/provider_stub.h"
#include "bench/run.h"
#include "bench/setup.h"
#include "bench/token_attack.h"
#include "commands.h"
#include "crypto/keys.h"
#include "server/bus_server.h"

namespace govesb::apps {
namespace {

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  throw CLI::RuntimeError(kExitFailure);
}

std::string ReadFileOrFail(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void Print(const std::string& text, bool json) {
  std::fputs(text.c_str(), stdout);
  if (json) std::fputc('\n', stdout);
  std::fflush(stdout);
}

CLI::Validator CurveValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        Result<crypto::Curve> curve = crypto::ParseCurveName(value);
        return curve.ok() ? std::string() : curve.status().message();
      },
      "CURVE");
}

// ---- bench setup ----

struct SetupArgs {
  std::string data_dir;
  std::string provider_url = "http://127.0.0.1:9400/";
  std::string curve = "secp256k1";
  std::vector<std::string> subscriber_urls;
};

void RunSetup(const SetupArgs& a, bool json) {
  bench::SetupOptions options;
  options.data_dir = a.data_dir;
  options.provider_url = a.provider_url;
  options.subscriber_urls = a.subscriber_urls;
  options.curve = *crypto::ParseCurveName(a.curve);
  auto result = bench::SetupBench(options);
  if (!result.ok()) Fail(result.status().message());
  Print(json ? bench::SetupResultJson(*result) : bench::SetupResultTable(*result), json);
}

// ---- bench run ----

struct RunArgs {
  bench::BenchRunOptions options;
  std::string mode = "request";
  int timeout_ms = 30000;
  int presign_ms = 3000;
};

// Each connection is a file descriptor: allow as many as the hard limit does.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

void RunRun(RunArgs& a, bool json) {
  RaiseOpenFileLimit();
  bench::BenchRunOptions& options = a.options;
  options.mode = a.mode == "push" ? bench::Mode::kPush : bench::Mode::kRequest;
  options.timeout = std::chrono::milliseconds(a.timeout_ms);
  options.presign_budget = std::chrono::milliseconds(a.presign_ms);
  options.on_note = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  if (!json && isatty(fileno(stderr))) {
    options.on_progress = [](const bench::Progress& p) {
      std::fprintf(stderr, "\r%s\033[K", bench::ProgressLine(p).c_str());
      std::fflush(stderr);
    };
  } else if (!json) {
    options.on_progress = [](const bench::Progress& p) {
      std::fprintf(stderr, "%s\n", bench::ProgressLine(p).c_str());
    };
  }
  auto report = bench::RunBench(options);
  if (!json) std::fputc('\n', stderr);
  if (!report.ok()) Fail(report.status().message());
  Print(json ? bench::LoadReportJson(*report) : bench::LoadReportTable(*report), json);
}

// ---- bench drain ----

struct DrainArgs {
  bench::DrainOptions options;
  int interval_ms = 20;
  int timeout_s = 600;
};

void RunDrain(DrainArgs& a, bool json) {
  bench::DrainOptions& options = a.options;
  options.interval = std::chrono::milliseconds(a.interval_ms);
  options.timeout = std::chrono::seconds(a.timeout_s);
  // On stderr, so that a script can wait for it before it starts the recipients.
  options.on_first_sample = [](const bench::DeliverySample& s) {
    std::fprintf(stderr, "bench-drain: watching, %lld deliveries pending\n",
                 static_cast<long long>(s.queue_depth));
    std::fflush(stderr);
  };
  options.on_progress = [](const bench::DeliverySample& s) {
    std::fprintf(stderr, "bench-drain: %.1f s: %lld pending, %lld delivered\n", s.t_s,
                 static_cast<long long>(s.queue_depth), static_cast<long long>(s.delivered));
  };
  auto report = bench::WatchDrain(options);
  if (!report.ok()) Fail(report.status().message());
  Print(json ? bench::DrainReportJson(*report) : bench::DrainReportTable(*report), json);
}

// ---- bench crypto ----

void RunCrypto(int duration_ms, size_t distinct_messages, bool json) {
  bench::CryptoRatesOptions options;
  options.duration = std::chrono::milliseconds(duration_ms);
  options.distinct_messages = distinct_messages;
  auto rates = bench::MeasureCryptoRates(options);
  Print(json ? bench::CryptoRatesJson(rates, options) : bench::CryptoRatesTable(rates, options),
        json);
}

// ---- bench floor ----

void RunFloor(const bench::FloorModelOptions& options, bool json) {
  auto result = bench::RunFloorModel(options);
  if (!result.ok()) Fail(result.status().message());
  if (json) {
    Print(bench::FloorModelJson(options, *result), true);
    return;
  }
  char text[512];
  std::snprintf(text, sizeof text,
                "floor model at %.0f/s (+%.0f us per exchange, commits %lld us apart at least): "
                "%.0f/s completed, p50 %.3f ms, "
                "p99 %.3f ms, p99.9 %.3f ms, max %.3f ms; %.1f us of CPU per exchange, %.0f "
                "commits/s, %.2f exchanges per commit\n",
                options.rate, options.extra_us,
                static_cast<long long>(options.min_commit_interval_us), result->completed_per_s,
                result->p50_ms, result->p99_ms, result->p999_ms, result->max_ms,
                result->cpu_us_per_exchange, result->commits_per_s, result->exchanges_per_commit);
  Print(text, false);
}

// ---- bench-provider ----

struct ProviderArgs {
  std::string listen = "127.0.0.1:9400";
  std::string key_file;
  std::string esb_key;
  size_t threads = 1;
  std::string reply_body = R"({"ok":true})";
  bool paused = false;
};

void RunProvider(const ProviderArgs& a) {
  auto key = crypto::PrivateKey::FromText(ReadFileOrFail(a.key_file));
  if (!key.ok()) Fail(a.key_file + ": " + key.status().message());
  // Not used to verify (the stub measures the bus), but a wrong key is a setup mistake.
  std::string esb_key = !a.esb_key.empty() && a.esb_key.front() == '@'
                            ? ReadFileOrFail(a.esb_key.substr(1))
                            : a.esb_key;
  if (auto parsed = crypto::PublicKey::FromText(esb_key); !parsed.ok()) {
    Fail("--esb-key: " + parsed.status().message());
  }
  size_t colon = a.listen.rfind(':');
  if (colon == std::string::npos) Fail("--listen wants HOST:PORT");
  bench::ProviderStubOptions options;
  options.host = a.listen.substr(0, colon);
  if (options.host.size() > 2 && options.host.front() == '[') {
    options.host = options.host.substr(1, options.host.size() - 2);
  }
  try {
    options.port = static_cast<uint16_t>(std::stoi(a.listen.substr(colon + 1)));
  } catch (const std::exception&) {
    Fail("--listen wants HOST:PORT");
  }
  options.threads = a.threads;
  options.reply_body = a.reply_body;
  options.paused = a.paused;
  // SIGUSR1 resumes a paused stub; blocked before any thread starts, like SIGINT and SIGTERM.
  server::BlockTerminationSignals();
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto stub = bench::ProviderStub::Start(*key, options);
  if (!stub.ok()) Fail(stub.status().message());
  std::string url = (*stub)->url();
  if (!url.empty() && url.back() == '/') url.pop_back();
  std::printf("bench-provider: listening on %s%s\n", url.c_str(),
              a.paused ? " (paused: holding requests until SIGUSR1)" : "");
  std::fflush(stdout);
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0 || sig != SIGUSR1) break;
    (*stub)->Resume();
    std::printf("bench-provider: resumed, %llu requests were held\n",
                static_cast<unsigned long long>((*stub)->held()));
    std::fflush(stdout);
  }
  (*stub)->Shutdown();
  std::printf("bench-provider: served %llu requests\n",
              static_cast<unsigned long long>((*stub)->served()));
}

}  // namespace

void AddBenchCommands(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto* bench = app.add_subcommand(
      "bench", "Benchmark the bus: register bench systems, generate load, measure crypto");
  bench->require_subcommand(1);
  bench->add_flag("--json", *json, "Print one JSON object instead of a table");
  // Leaves pass unknown options (--json) up, so it may follow them.
  bench->fallthrough();
  auto quiet_logs = [] { spdlog::set_default_logger(spdlog::stderr_color_st("govesb-bench")); };

  auto setup = std::make_shared<SetupArgs>();
  auto* setup_cmd = bench->add_subcommand(
      "setup", "Register the benchmark institution, provider, API and consumer in a data dir");
  setup_cmd->add_option("--data-dir", setup->data_dir, "The bus's data directory")->required();
  setup_cmd
      ->add_option("--provider-url", setup->provider_url,
                   "Where the bus delivers requests (a bench-provider)")
      ->capture_default_str();
  setup_cmd->add_option(
      "--subscriber-url", setup->subscriber_urls,
      "Push: register a publisher, the topic and one subscriber per --subscriber-url (where the "
      "bus delivers to it: a bench-provider with its key); repeat for more subscribers");
  setup_cmd->add_option("--curve", setup->curve, "Curve of the benchmark systems' keys")
      ->capture_default_str()
      ->check(CurveValidator());
  setup_cmd->callback([setup, json, quiet_logs] {
    quiet_logs();
    RunSetup(*setup, *json);
  });

  auto run = std::make_shared<RunArgs>();
  bench::BenchRunOptions& o = run->options;
  auto* run_cmd = bench->add_subcommand(
      "run", "Drive pre-signed requests at a bus over keep-alive connections and report");
  run_cmd->add_option("--url", o.url, "Bus base URL (default: the profile's url)");
  run_cmd->add_option("--profile", o.profile, "Consumer profile (from `bench setup`)")->required();
  run_cmd->add_option("--ca-file", o.ca_file, "CA to trust for https (e.g. DATA_DIR/tls/ca.pem)");
  run_cmd->add_option("--mode", run->mode, "request or push")
      ->capture_default_str()
      ->check(CLI::IsMember({"request", "push"}));
  run_cmd->add_option("--api", o.code,
                      "apiCode (pushCode in push mode); default: the profile's api_code, else "
                      "BNCH01");
  run_cmd->add_option("--connections", o.connections, "Keep-alive connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  run_cmd->add_option("--duration", o.duration_s, "Measured seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  run_cmd->add_option("--warmup", o.warmup_s, "Seconds before the measurement, not counted")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  run_cmd
      ->add_option("--rate", o.rate,
                   "Requests per second, open loop (latency from the scheduled time); 0: "
                   "closed loop, as fast as answers come")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  run_cmd->add_flag("--raw", o.raw,
                    "No token; POST to --url itself (the provider stub, or a proxy before it)");
  run_cmd->add_option("--body-size", o.body_size, "Bytes of each esbBody")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{8} * 1024 * 1024));
  run_cmd->add_flag("--birth-record", o.birth_record,
                    "Bodies are a 20-member birth registration (what "
                    "bench/contract/birth-request.schema.json describes), padded to --body-size");
  run_cmd->add_option("--timeout-ms", run->timeout_ms, "Per request, and the drain limit")
      ->capture_default_str()
      ->check(CLI::Range(1, 600000));
  run_cmd->add_option("--pool", o.max_pool, "Closed loop: at most this many pre-signed envelopes")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{50'000'000}));
  run_cmd
      ->add_option("--presign-ms", run->presign_ms,
                   "Closed loop: at most this long pre-signing (all cores)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3'600'000));
  run_cmd->callback([run, json, quiet_logs] {
    quiet_logs();
    RunRun(*run, *json);
  });

  auto drain = std::make_shared<DrainArgs>();
  auto* drain_cmd = bench->add_subcommand(
      "drain",
      "Watch a bus's /metrics until its delivery queue is empty; report deliveries per second");
  drain_cmd
      ->add_option("--url", drain->options.url,
                   "Base URL of the bus's metrics listener (serve --metrics-listen "
                   "HOST:PORT): http://HOST:PORT")
      ->required();
  drain_cmd->add_option("--interval-ms", drain->interval_ms, "Between two readings of /metrics")
      ->capture_default_str()
      ->check(CLI::Range(1, 60000));
  drain_cmd->add_option("--timeout-s", drain->timeout_s, "Give up after this long")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  drain_cmd->callback([drain, json, quiet_logs] {
    quiet_logs();
    RunDrain(*drain, *json);
  });

  auto duration_ms = std::make_shared<int>(1000);
  auto* crypto_cmd = bench->add_subcommand(
      "crypto", "Single-core ECDSA sign/verify rates per curve and the exchange ceiling");
  crypto_cmd->add_option("--duration-ms", *duration_ms, "Per figure")
      ->capture_default_str()
      ->check(CLI::Range(1, 600000));
  auto distinct_messages = std::make_shared<size_t>(bench::CryptoRatesOptions().distinct_messages);
  crypto_cmd
      ->add_option("--distinct-messages", *distinct_messages,
                   "Different requests signed and verified in turn (1: one, over and over)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{65536}));
  crypto_cmd->callback([duration_ms, distinct_messages, json, quiet_logs] {
    quiet_logs();
    RunCrypto(*duration_ms, *distinct_messages, *json);
  });

  auto floor = std::make_shared<bench::FloorModelOptions>();
  auto floor_duration_s = std::make_shared<double>(10);
  auto* floor_cmd = bench->add_subcommand(
      "floor",
      "The work no bus can leave out, without a bus: per arrival (open loop) the crypto of an "
      "exchange, then its evidence appended and fdatasync'd by a writer thread (group commit); "
      "latency from arrival to durable. Run it pinned like the bus, at a bus row's rate, and "
      "compare the two p99s");
  floor_cmd->add_option("--rate", floor->rate, "Arrivals per second")
      ->required()
      ->check(CLI::Range(1.0, 1e6));
  floor_cmd->add_option("--duration", *floor_duration_s, "Measured seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  floor_cmd
      ->add_option("--dir", floor->directory,
                   "Directory for the evidence file (on the bus's data disk)")
      ->required();
  floor_cmd
      ->add_option("--extra-us", floor->extra_us,
                   "Busy work per exchange besides the crypto, in µs")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100000.0));
  floor_cmd->add_option("--evidence-bytes", floor->evidence_bytes, "Evidence bytes per exchange")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  floor_cmd
      ->add_option("--commit-interval-us", floor->min_commit_interval_us,
                   "Least µs between the starts of two commits, as `serve --commit-interval-us`")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  floor_cmd->callback([floor, floor_duration_s, json, quiet_logs] {
    quiet_logs();
    floor->duration = std::chrono::milliseconds(static_cast<int64_t>(*floor_duration_s * 1000));
    RunFloor(*floor, *json);
  });

  auto search = std::make_shared<bench::EvidenceSearchOptions>();
  auto* search_cmd = bench->add_subcommand(
      "evidence-search",
      "Build an evidence log of N exchanges in a data dir (the real append path), seal and index "
      "it, then time searches by requestId and by userId");
  search_cmd->add_option("--data-dir", search->data_dir, "Where to build it (empty or new)")
      ->required();
  search_cmd->add_option("--exchanges", search->exchanges, "Exchanges (four records each)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  search_cmd->add_option("--lookups", search->lookups, "Searches timed per kind")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  search_cmd->callback([search, json, quiet_logs] {
    quiet_logs();
    auto report = bench::RunEvidenceSearchBench(*search);
    if (!report.ok()) Fail(report.status().message());
    Print(bench::RenderEvidenceSearch(*report, *json), *json);
  });

  auto* port_cmd = bench->add_subcommand(
      "free-port", "Print a TCP port of 127.0.0.1 that is free now (for scripts)");
  port_cmd->callback([json] {
    auto port = FreeLoopbackPort();  // base/local_services.h, as the test servers use
    if (!port.ok()) Fail(port.status().message());
    std::printf(*json ? "{\"port\":%u}\n" : "%u\n", static_cast<unsigned>(*port));
  });

  auto idle = std::make_shared<bench::IdleOptions>();
  auto* idle_cmd = bench->add_subcommand(
      "idle", "Hold many served keep-alive connections open and idle (memory per connection)");
  idle_cmd->add_option("--url", idle->url, "Plain-HTTP bus base URL")->required();
  idle_cmd->add_option("--connections", idle->connections, "How many")->capture_default_str();
  idle_cmd->add_flag("--tcp-only", idle->tcp_only,
                     "Open bare TCP connections and send nothing (to a TLS bus: no ClientHello); "
                     "close them with a reset");
  auto hold = std::make_shared<int64_t>(10);
  idle_cmd->add_option("--hold-seconds", *hold, "How long to hold them")->capture_default_str();
  idle_cmd
      ->add_option("--source-addresses", idle->source_addresses,
                   "Spread them over this many source addresses (127.0.1.1 onwards; a bus on "
                   "127.x.x.x), under a per-address cap")
      ->capture_default_str();
  idle_cmd->callback([idle, hold] {
    RaiseOpenFileLimit();
    idle->hold = std::chrono::seconds(*hold);
    idle->on_held = [](size_t n) {
      std::printf("bench-idle: holding %zu connections\n", n);
      std::fflush(stdout);
    };
    auto held = bench::HoldIdleConnections(*idle);
    if (!held.ok()) Fail(held.status().message());
  });

  auto attack = std::make_shared<bench::TokenAttackOptions>();
  auto attack_ms = std::make_shared<int64_t>(10'000);
  auto* attack_cmd = bench->add_subcommand(
      "token-attack",
      "Brute-force the token endpoint with wrong secrets for one client id from many connections");
  attack_cmd->add_option("--url", attack->url, "Plain-HTTP bus base URL")->required();
  attack_cmd->add_option("--client-id", attack->client_id, "The client id attacked")->required();
  attack_cmd->add_option("--connections", attack->connections, "Attacking connections")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10'000}));
  attack_cmd->add_option("--duration-ms", *attack_ms, "How long the attack lasts")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}));
  attack_cmd->callback([attack, attack_ms, json, quiet_logs] {
    quiet_logs();
    RaiseOpenFileLimit();
    attack->duration = std::chrono::milliseconds(*attack_ms);
    auto report = bench::RunTokenAttack(*attack);
    if (!report.ok()) Fail(report.status().message());
    std::string text = bench::TokenAttackJson(*report, *attack);
    Print(*json ? text : text + "\n", *json);
  });

  auto provider = std::make_shared<ProviderArgs>();
  auto* provider_cmd = app.add_subcommand(
      "bench-provider",
      "A provider stub for benchmarks: answers every delivery with one pre-signed reply");
  provider_cmd->add_option("--listen", provider->listen, "HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  provider_cmd->add_option("--key-file", provider->key_file, "The provider's private key file")
      ->required();
  provider_cmd
      ->add_option("--esb-public-key,--esb-key", provider->esb_key,
                   "The bus's (the ESB's) public key (base64, or @file)")
      ->required();
  provider_cmd->add_option("--threads", provider->threads, "I/O threads")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{256}));
  provider_cmd
      ->add_option("--reply-body", provider->reply_body,
                   "esbBody of the one reply (as a push subscriber's acknowledgement: {})")
      ->capture_default_str();
  provider_cmd->add_flag("--paused", provider->paused,
                         "Hold every request unanswered until the process gets SIGUSR1");
  provider_cmd->callback([provider, quiet_logs] {
    quiet_logs();
    RunProvider(*provider);
  });
}

}  // namespace govesb::apps
