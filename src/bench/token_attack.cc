#include "bench/token_attack.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "bench/json_out.h"

namespace govesb::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

struct AttackerTally {
  uint64_t attempts = 0, transport_errors = 0, connects = 0, with_retry_after = 0;
  std::map<int, uint64_t> by_status;
};

// One attacker: a blocking keep-alive connection, reopened when the bus closes it.
void Attack(const tcp::resolver::results_type& endpoints, const std::string& host,
            const std::string& client_id, size_t index,
            std::chrono::steady_clock::time_point deadline, std::chrono::milliseconds timeout,
            AttackerTally& tally) {
  asio::io_context ctx;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  for (uint64_t k = 0; std::chrono::steady_clock::now() < deadline; ++k) {
    beast::error_code ec;
    if (!stream) {
      stream.emplace(ctx);
      stream->expires_after(timeout);
      stream->connect(endpoints, ec);
      if (ec) {
        ++tally.transport_errors;
        stream.reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      ++tally.connects;
      buffer.clear();
    }
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/gw/govesb-uaa/oauth/token", 11};
    req.set(bhttp::field::host, host);
    req.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
    req.body() = "grant_type=client_credentials&client_id=" + client_id + "&client_secret=wrong" +
                 std::to_string(index) + "x" + std::to_string(k) + "000000000000000000000000";
    req.prepare_payload();
    bhttp::response<bhttp::string_body> res;
    stream->expires_after(timeout);
    bhttp::write(*stream, req, ec);
    if (!ec) bhttp::read(*stream, buffer, res, ec);
    if (ec) {
      ++tally.transport_errors;
      stream.reset();
      continue;
    }
    ++tally.attempts;
    ++tally.by_status[static_cast<int>(res.result_int())];
    if (res.find(bhttp::field::retry_after) != res.end()) ++tally.with_retry_after;
    if (!res.keep_alive()) stream.reset();
  }
}

}  // namespace

Result<TokenAttackReport> RunTokenAttack(const TokenAttackOptions& options) {
  auto url = boost::urls::parse_absolute_uri(options.url);
  if (!url || url->scheme() != "http") return InvalidArgument("--url must be http://HOST:PORT");
  if (options.connections == 0 || options.connections > 10'000) {
    return InvalidArgument("--connections must be 1..10000");
  }
  std::string host(url->encoded_host());
  std::string port = url->has_port() ? std::string(url->port()) : "80";
  asio::io_context ctx;
  tcp::resolver resolver(ctx);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return Unavailable("cannot resolve " + host + ": " + ec.message());

  std::vector<AttackerTally> tallies(options.connections);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + options.duration;
  {
    std::vector<std::jthread> attackers;
    attackers.reserve(options.connections);
    for (size_t i = 0; i < options.connections; ++i) {
      attackers.emplace_back([&, i] {
        Attack(endpoints, host, options.client_id, i, deadline, options.request_timeout,
               tallies[i]);
      });
    }
  }
  TokenAttackReport report;
  report.elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const AttackerTally& t : tallies) {
    report.attempts += t.attempts;
    report.transport_errors += t.transport_errors;
    report.connects += t.connects;
    report.with_retry_after += t.with_retry_after;
    for (const auto& [status, n] : t.by_status) report.by_status[status] += n;
  }
  return report;
}

std::string TokenAttackJson(const TokenAttackReport& report, const TokenAttackOptions& options) {
  JsonObjectWriter by_status;
  for (const auto& [status, n] : report.by_status) by_status.Integer(std::to_string(status), n);
  JsonObjectWriter out;
  out.Integer("attempts", report.attempts)
      .Number("attempts_per_s", report.elapsed_s > 0 ? report.attempts / report.elapsed_s : 0.0, 1)
      .Raw("by_status", by_status.Finish())
      .Integer("with_retry_after", report.with_retry_after)
      .Integer("transport_errors", report.transport_errors)
      .Integer("connects", report.connects)
      .Integer("connections", options.connections)
      .Number("elapsed_s", report.elapsed_s);
  return out.Finish();
}

}  // namespace govesb::bench
