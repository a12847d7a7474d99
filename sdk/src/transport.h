#pragma once

// The SDK's HTTP(S) client: synchronous POSTs over pooled keep-alive connections. Private to the
// SDK; Boost.Beast stays inside transport.cc.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "govesb/result.h"

namespace govesb::sdk::internal {

// An absolute http:// or https:// URL, parsed once.
struct Endpoint {
  bool tls = false;
  std::string host;         // name or IP address (IPv6 without brackets)
  std::string port;         // always set ("80"/"443" by default)
  std::string host_header;  // what the Host header carries
  std::string target;       // path and query, "/" when empty
  std::string pool_key;     // scheme://host:port: connections are pooled per key

  // The same origin with `suffix` appended to the path.
  Endpoint WithPathSuffix(std::string_view suffix) const;
};

// kInvalidArgument when `url` is not an absolute http(s) URL with a host.
Result<Endpoint> ParseUrl(std::string_view url);

struct HttpReply {
  int status = 0;
  std::string body;
};

struct TransportOptions {
  std::string ca_file;  // trusted in addition to the system store, for https
  std::chrono::milliseconds timeout{30'000};
  size_t max_idle_per_origin = 16;
  std::chrono::milliseconds idle_ttl{20'000};  // idle connections older than this are dropped
  size_t max_response_bytes = 64 * 1024 * 1024;
};

// POSTs over HTTP/1.1 keep-alive connections. Thread-safe: each call takes its own connection
// (an idle pooled one, or a new one) and gives it back afterwards, so concurrent threads never
// share a connection. Every call is bounded by the timeout (connect, TLS, send, answer; host
// names are resolved by the system resolver, bounded by its own timeouts). A request that fails
// on a reused connection before any byte of an answer arrived (the server closed it while it
// was idle) is retried once on a new connection.
class HttpTransport {
 public:
  // kInvalidArgument when the CA file cannot be loaded.
  static Result<std::unique_ptr<HttpTransport>> Create(TransportOptions options);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Any HTTP status is a reply; kTransport for everything that prevents one.
  Result<HttpReply> Post(const Endpoint& endpoint, std::string_view content_type,
                         std::string_view authorization, std::string body);

  // Connections opened so far (for tests of reuse).
  size_t connections_opened() const { return connections_opened_.load(); }

  struct Impl;

 private:
  explicit HttpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<size_t> connections_opened_{0};
};

}  // namespace govesb::sdk::internal
