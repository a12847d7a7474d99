// `govesb demo-provider`: the provider system of the `make run` demo. A civil registration
// agency's birth-certificate lookup, answering from a small built-in data set, written on the
// SDK's Provider (verify the bus's delivery, sign the reply) behind a plain HTTP listener.
#include <spdlog/spdlog.h>

#include <boost/asio/awaitable.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "govesb/client.h"
#include "http/io_threads.h"
#include "http/server.h"
#include "server/bus_server.h"
#include "wire/json.h"

namespace govesb::apps {
namespace {

struct BirthRecord {
  const char* certificate_no;
  const char* json;
};

// Fictional people: a demo data set, not real citizens.
constexpr BirthRecord kRecords[] = {
    {"B-2024-000117",
     R"({"certificateNo":"B-2024-000117","name":"Amani Juma Mwakyusa","sex":"M",)"
     R"("dateOfBirth":"2024-01-15","placeOfBirth":"Dodoma Regional Referral Hospital",)"
     R"("mother":"Neema Juma","father":"Juma Mwakyusa","registeredAt":"Dodoma"})"},
    {"B-2023-004211",
     R"({"certificateNo":"B-2023-004211","name":"Zawadi Ali Hassan","sex":"F",)"
     R"("dateOfBirth":"2023-08-02","placeOfBirth":"Mnazi Mmoja Hospital, Zanzibar",)"
     R"("mother":"Mwanaisha Said","father":"Ali Hassan","registeredAt":"Zanzibar"})"},
    {"B-2022-010980",
     R"({"certificateNo":"B-2022-010980","name":"Baraka Elia Mushi","sex":"M",)"
     R"("dateOfBirth":"2022-11-30","placeOfBirth":"KCMC, Moshi",)"
     R"("mother":"Upendo Mushi","father":"Elia Mushi","registeredAt":"Kilimanjaro"})"},
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The reply to one delivery: the record for {"certificateNo": "..."}, or a failure.
std::string Answer(const sdk::Provider& provider, const sdk::Delivery& delivery) {
  auto members = wire::ScanObject(delivery.esb_body);
  // Identity (NIDA-style) requests wrap the body as {"Payload": body}.
  if (members.ok()) {
    const wire::JsonMember* payload = wire::FindMember(*members, "Payload");
    if (payload != nullptr && payload->type == wire::JsonType::kObject) {
      members = wire::ScanObject(payload->raw);
    }
  }
  const wire::JsonMember* no = members.ok() ? wire::FindMember(*members, "certificateNo") : nullptr;
  if (no == nullptr || no->type != wire::JsonType::kString) {
    return provider.Failure("send {\"certificateNo\":\"B-YYYY-NNNNNN\"}");
  }
  auto wanted = wire::DecodeString(no->raw);
  for (const auto& r : kRecords) {
    if (wanted.ok() && *wanted == r.certificate_no) return provider.Success(r.json);
  }
  return provider.Failure("no birth certificate " + (wanted.ok() ? *wanted : std::string()));
}

struct DemoArgs {
  std::string listen = "127.0.0.1:9301";
  std::string key_file;
  std::string esb_key;
};

void RunDemoProvider(DemoArgs& a) {
  std::string esb_key =
      !a.esb_key.empty() && a.esb_key.front() == '@' ? ReadFile(a.esb_key.substr(1)) : a.esb_key;
  auto provider = sdk::Provider::Create(ReadFile(a.key_file), esb_key);
  if (!provider.ok()) {
    std::fprintf(stderr, "error: %s\n", provider.error().message.c_str());
    throw CLI::RuntimeError(kExitFailure);
  }
  size_t colon = a.listen.rfind(':');
  http::ServerOptions options;
  options.host = a.listen.substr(0, colon);
  options.port = static_cast<uint16_t>(std::stoi(a.listen.substr(colon + 1)));
  server::BlockTerminationSignals();
  http::IoThreads io(1);
  const sdk::Provider& p = *provider;
  http::HttpServer server(
      io, options, [&p](http::HttpRequest& req) -> boost::asio::awaitable<http::HttpResponse> {
        http::HttpResponse r;
        auto delivery = p.Verify(req.body);
        if (!delivery.ok()) {
          spdlog::warn("demo-provider: refused a delivery: {}", delivery.error().message);
          r.status = 400;
          r.body = p.Failure(delivery.error().message);
          co_return r;
        }
        spdlog::info("demo-provider: requestId={} {}={}", delivery->request_id,
                     delivery->code_member, delivery->code);
        r.body = Answer(p, *delivery);
        co_return r;
      });
  Status listening = server.Listen();
  if (!listening.ok()) {
    std::fprintf(stderr, "error: %s\n", listening.message().c_str());
    throw CLI::RuntimeError(kExitFailure);
  }
  server.Start();
  io.Start();
  std::printf("demo-provider: birth-certificate lookup listening on http://%s:%u\n",
              options.host.c_str(), server.port());
  std::fflush(stdout);
  server::WaitForTerminationSignal();
  server.Shutdown();
  io.Stop();
}

}  // namespace

void AddDemoProviderCommand(CLI::App& app) {
  auto a = std::make_shared<DemoArgs>();
  auto* cmd = app.add_subcommand("demo-provider",
                                 "Serve the demo birth-certificate API as a provider system");
  cmd->add_option("--listen", a->listen, "HOST:PORT")->capture_default_str();
  cmd->add_option("--key-file", a->key_file, "File with this system's private key")->required();
  cmd->add_option("--esb-public-key,--esb-key", a->esb_key,
                  "The bus's (the ESB's) public key (base64, or @file)")
      ->required();
  cmd->callback([a] { RunDemoProvider(*a); });
}

}  // namespace govesb::apps
