#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "base/result.h"
#include "http/io_threads.h"
#include "http/resolver.h"
#include "http/types.h"

namespace boost::asio::ssl {
class context;
}

namespace govesb::http {

struct UpstreamRequest {
  std::string url;  // absolute http:// or https:// URL
  std::string body;
  std::string content_type;                   // empty: application/json (ContentTypeOrJson)
  std::chrono::milliseconds timeout{30'000};  // the whole exchange: connect, send, answer
  // W3C Trace Context headers sent with the request when not empty.
  std::string traceparent = std::string();
  std::string tracestate = std::string();
};

struct UpstreamResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  bool reused_connection = false;
  // Sent again on a new connection: the reused one ended before any answer.
  bool sent_again = false;
  // On a new TLS connection that resumed the session of an earlier one with the same provider.
  bool resumed_tls_session = false;
};

// The seam to providers and subscribers: POST a body, get the answer. Must be called from a
// coroutine running on one of the IoThreads' contexts.
class UpstreamClient {
 public:
  virtual ~UpstreamClient() = default;
  // Errors, each with a message that says what happened: kUnavailable (cannot resolve,
  // connect, TLS failure, closed before answering), kDeadlineExceeded (no complete answer
  // within the timeout), kBadGateway (unparseable HTTP, closed in the middle of the answer),
  // kResourceExhausted ("the provider's answer is larger than the limit of N bytes", headers
  // over 64 KiB), kInvalidArgument (bad URL).
  virtual boost::asio::awaitable<Result<UpstreamResponse>> Post(UpstreamRequest request) = 0;
};

struct PooledClientOptions {
  size_t max_idle_per_host = 256;  // per I/O thread
  std::chrono::milliseconds idle_ttl{30'000};
  // A pooled connection idle this long is checked before it is reused, and left when it cannot
  // carry a request (IdleConnectionUnusable). Shorter idles are not checked (one system call
  // saved per exchange under load); a connection ended unseen is what the retry is for.
  std::chrono::milliseconds check_after_idle{20};
  // The largest answer body accepted from a provider; a larger one is kResourceExhausted.
  size_t max_response_bytes = 8 * 1024 * 1024;
  // For https:// upstreams; when null a context verifying against the system store is used.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // With several addresses for a name, the next one is tried this long after the one before
  // started, if it has not connected by then (ConnectToAny; RFC 8305 recommends 250 ms).
  std::chrono::milliseconds connect_stagger{250};
  // How the names in URLs are resolved (HostResolver): a lookup waited for until the
  // exchange's deadline at most, names looked up side by side, addresses remembered.
  ResolverOptions resolve;
};

// Whether a kept-alive connection that idled cannot carry the next request: its peer ended it
// (its end of stream arrived, with or without bytes before it, such as TLS's close_notify, or
// it was reset), or, on plain HTTP, sent bytes nobody asked for (an answer to nothing, or more
// of one than it said it had), which the next request's answer would be read from. Over TLS,
// bytes may be the protocol's own (a session ticket, a key update): only the end counts.
// Providers end connections that idle (Node.js after 5 s by default, nginx after 75 s), and
// the bus its clients' (its read and idle timeouts). One poll of `native_socket`, no waiting.
bool IdleConnectionUnusable(int native_socket, bool tls);

// Keep-alive connection pools, one per I/O thread and host, so a connection is only ever used
// by the thread that owns it (no locks on the request path). A request that fails on a reused
// connection before any answer arrived (the provider ended the connection just before) is
// retried once on a new connection.
class PooledUpstreamClient final : public UpstreamClient {
 public:
  PooledUpstreamClient(IoThreads& io, PooledClientOptions options);
  ~PooledUpstreamClient() override;

  boost::asio::awaitable<Result<UpstreamResponse>> Post(UpstreamRequest request) override;

  // Drops every idle connection, and closes the name resolver (HostResolver::Close): call from
  // the main thread after the I/O threads stopped, before their contexts are destroyed.
  void Clear();

  // The name resolver's counters (for /metrics). Thread-safe.
  HostResolver::Stats name_stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace govesb::http
