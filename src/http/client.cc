#include "http/client.h"

#include <openssl/ssl.h>
#include <poll.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <deque>
#include <optional>
#include <unordered_map>

#include "http/connect.h"
#include "http/parse_buffered.h"
#include "http/response_head.h"
#include "http/tls.h"

namespace govesb::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
using Clock = std::chrono::steady_clock;

namespace {

struct Endpoint {
  bool tls = false;
  std::string host;  // IPv6 literals bare
  std::string port;
  std::string host_header;  // the URL's authority (RFC 9112 3.2): host, and its port if given
  std::string target;       // path + query
  std::string key;          // "https://host:port"
};

Result<Endpoint> ParseEndpoint(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return InvalidArgument("not an absolute URL: " + std::string(url));
  Endpoint e;
  auto scheme = parsed->scheme_id();
  if (scheme == boost::urls::scheme::https) {
    e.tls = true;
  } else if (scheme != boost::urls::scheme::http) {
    return InvalidArgument("unsupported URL scheme in " + std::string(url));
  }
  e.host = std::string(parsed->encoded_host());
  // IPv6 literals come bracketed in the URL; the resolver wants them bare.
  if (e.host.size() > 2 && e.host.front() == '[') e.host = e.host.substr(1, e.host.size() - 2);
  if (e.host.empty()) return InvalidArgument("URL has no host: " + std::string(url));
  e.port = parsed->has_port() ? std::string(parsed->port()) : (e.tls ? "443" : "80");
  e.host_header = std::string(parsed->encoded_host_and_port());
  e.target = std::string(parsed->encoded_path());
  if (e.target.empty()) e.target = "/";
  if (parsed->has_query()) {
    e.target += '?';
    e.target += std::string(parsed->encoded_query());
  }
  e.key = (e.tls ? "https://" : "http://") + e.host + ":" + e.port;
  return e;
}

struct Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  std::string head;  // the request line and header fields being sent (its capacity reused)
  Clock::time_point idle_since;

  beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*secure); }
};

struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using Session = std::unique_ptr<SSL_SESSION, SessionFree>;

struct ThreadPool {
  std::unordered_map<std::string, std::deque<std::unique_ptr<Connection>>> idle;
  // The last resumable TLS session with each https provider, offered when the next connection
  // to it opens: a resumed handshake skips the certificate chain's verification (RFC 8446
  // 2.2). Cleared with `endpoints`.
  std::unordered_map<std::string, Session> sessions;
  // Provider URLs already parsed (a handful per bus; cleared if it ever grows large).
  std::unordered_map<std::string, std::shared_ptr<const Endpoint>> endpoints;
};

constexpr size_t kMaxCachedEndpoints = 4096;

// Interim (1xx) answers passed over before the final one, at most.
constexpr int kMaxInterimAnswers = 8;

// Headers of a provider's answer beyond this are refused (kBadGateway).
constexpr size_t kMaxAnswerHeaderBytes = 64 * 1024;

// The request line and header fields of a POST of `request` to `ep` (HTTP/1.1, kept alive),
// into `out`: what Beast's serializer wrote, formatted in one pass, so that the head and the
// body leave in one gather write. False when a value would break the head (a line break or
// NUL: never in the bus's own values, refused rather than sent).
bool FormatRequestHead(const Endpoint& ep, const UpstreamRequest& request, std::string& out) {
  if (!internal::FitsInHead(ep.target) || !internal::FitsInHead(ep.host_header) ||
      !internal::FitsInHead(request.content_type) || !internal::FitsInHead(request.traceparent) ||
      !internal::FitsInHead(request.tracestate)) {
    return false;
  }
  char length[24];
  const auto [end, ec] = std::to_chars(length, length + sizeof(length), request.body.size());
  out.clear();
  out.append("POST ").append(ep.target).append(" HTTP/1.1\r\nHost: ").append(ep.host_header);
  out.append("\r\nUser-Agent: govesb\r\nContent-Type: ")
      .append(ContentTypeOrJson(request.content_type));
  out.append("\r\nAccept: application/json, application/xml;q=0.9, */*;q=0.1\r\n");
  if (!request.traceparent.empty())
    out.append("traceparent: ").append(request.traceparent).append("\r\n");
  if (!request.tracestate.empty())
    out.append("tracestate: ").append(request.tracestate).append("\r\n");
  out.append("Content-Length: ").append(length, end).append("\r\n\r\n");
  return true;
}

bool IsTimeout(const boost::system::error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::timed_out;
}

}  // namespace

bool IdleConnectionUnusable(int native_socket, bool tls) {
  pollfd p{native_socket, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0) return true;
  return !tls && (p.revents & POLLIN) != 0;
}

struct PooledUpstreamClient::Impl {
  IoThreads& io;
  PooledClientOptions options;
  std::unordered_map<asio::execution_context*, std::unique_ptr<ThreadPool>> pools;
  HostResolver resolver;

  Impl(IoThreads& i, PooledClientOptions o)
      : io(i), options(std::move(o)), resolver(options.resolve) {
    if (!options.tls) {
      auto ctx = MakeClientTlsContext("");
      if (ctx.ok()) options.tls = *ctx;
    }
    for (size_t k = 0; k < io.size(); ++k) {
      pools[&io.context(k)] = std::make_unique<ThreadPool>();
    }
  }

  ThreadPool* PoolFor(asio::any_io_executor ex) {
    auto& ctx = asio::query(ex, asio::execution::context);
    auto it = pools.find(&ctx);
    return it == pools.end() ? nullptr : it->second.get();
  }

  std::unique_ptr<Connection> TakeIdle(ThreadPool& pool, const std::string& key) {
    auto it = pool.idle.find(key);
    if (it == pool.idle.end()) return nullptr;
    auto& q = it->second;
    auto now = Clock::now();
    while (!q.empty()) {
      auto c = std::move(q.back());  // most recently used first: least likely closed
      q.pop_back();
      const auto idle = now - c->idle_since;
      if (idle >= options.idle_ttl) continue;
      if (idle >= options.check_after_idle &&
          IdleConnectionUnusable(c->lowest().socket().native_handle(), c->secure != nullptr)) {
        continue;
      }
      return c;
    }
    return nullptr;
  }

  void GiveBack(ThreadPool& pool, const std::string& key, std::unique_ptr<Connection> c) {
    auto& q = pool.idle[key];
    if (q.size() >= options.max_idle_per_host) return;
    c->idle_since = Clock::now();
    c->buffer.clear();
    q.push_back(std::move(c));
  }

  // A new connection to `ep`; over TLS, resuming the session last kept in `pool` (if any)
  // for it.
  asio::awaitable<Result<std::unique_ptr<Connection>>> Connect(const Endpoint& ep,
                                                               Clock::time_point deadline,
                                                               ThreadPool* pool) {
    auto ex = co_await asio::this_coro::executor;
    auto c = std::make_unique<Connection>();
    auto resolving = resolver.Resolve(ep.host, ep.port, deadline);
    auto addresses = co_await std::move(resolving);
    if (!addresses.ok()) co_return addresses.status();
    auto connecting = ConnectToAny(**addresses, deadline, ep.key, options.connect_stagger);
    auto connected = co_await std::move(connecting);
    if (!connected.ok()) co_return connected.status();
    if (connected->index > 0) {
      resolver.Prefer(ep.host, ep.port, (**addresses)[connected->index]);
    }
    auto stream = std::make_unique<beast::tcp_stream>(std::move(connected->socket));
    stream->expires_at(deadline);
    boost::system::error_code nd;
    stream->socket().set_option(tcp::no_delay(true), nd);
    if (!ep.tls) {
      c->plain = std::move(stream);
      co_return c;
    }
    if (!options.tls) co_return Unavailable("no TLS client configuration for " + ep.key);
    c->secure =
        std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), *options.tls);
    // The server name (SNI) is a DNS name: an address is not sent (RFC 6066 3), as curl and
    // OpenSSL's own client do not; the certificate is checked against it all the same.
    boost::system::error_code not_an_address;
    asio::ip::make_address(ep.host, not_an_address);
    if (not_an_address &&
        SSL_ctrl(c->secure->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                 TLSEXT_NAMETYPE_host_name, const_cast<char*>(ep.host.c_str())) != 1) {
      co_return Unavailable("cannot set TLS server name for " + ep.host);
    }
    c->secure->set_verify_callback(asio::ssl::host_name_verification(ep.host));
    if (pool != nullptr) {
      if (auto it = pool->sessions.find(ep.key); it != pool->sessions.end()) {
        SSL_set_session(c->secure->native_handle(), it->second.get());
      }
    }
    auto [hec] = co_await c->secure->async_handshake(asio::ssl::stream_base::client, kNoThrow);
    if (hec) {
      if (IsTimeout(hec)) co_return DeadlineExceeded("TLS handshake with " + ep.key + " timed out");
      co_return Unavailable("TLS handshake with " + ep.key + " failed: " + hec.message());
    }
    co_return c;
  }

  // What went wrong reading the provider's answer, said plainly.
  Status ReadError(const boost::system::error_code& rec, const Endpoint& ep,
                   const UpstreamRequest& request, bool got_some, bool& retryable) const {
    if (IsTimeout(rec)) {
      return DeadlineExceeded("no answer from " + ep.key + " within " +
                              std::to_string(request.timeout.count()) + " ms");
    }
    if (rec == bhttp::error::body_limit) {
      return ResourceExhausted("the provider's answer is larger than the limit of " +
                               std::to_string(options.max_response_bytes) + " bytes (" + ep.key +
                               ")");
    }
    if (rec == bhttp::error::header_limit) {
      return ResourceExhausted("the provider's answer headers are larger than the limit of " +
                               std::to_string(kMaxAnswerHeaderBytes) + " bytes (" + ep.key + ")");
    }
    if (rec == bhttp::error::buffer_overflow) {
      return BadGateway(
          "a chunk-size line or the trailer of the provider's answer is larger than the limit "
          "of " +
          std::to_string(kMaxAnswerHeaderBytes) + " bytes (" + ep.key + ")");
    }
    // stream_truncated: over TLS, the connection ended with no close_notify read before (none
    // was sent, or the reset that our request met lost it).
    bool closed = rec == bhttp::error::end_of_stream || rec == bhttp::error::partial_message ||
                  rec == asio::error::eof || rec == asio::error::connection_reset ||
                  rec == asio::error::broken_pipe || rec == asio::ssl::error::stream_truncated;
    if (!got_some && closed) {
      retryable = true;
      return Unavailable(ep.key + " closed the connection without answering");
    }
    if (closed) {
      return BadGateway(ep.key + " closed the connection in the middle of its answer (" +
                        rec.message() + ")");
    }
    if (rec.category() == boost::system::error_code(bhttp::error::bad_method).category()) {
      return BadGateway("the answer from " + ep.key + " is not valid HTTP: " + rec.message());
    }
    return Unavailable("reading the answer from " + ep.key + " failed: " + rec.message());
  }

  // One attempt on one connection. `retryable` is set when the failure happened before any
  // part of an answer arrived on a reused connection.
  template <class Stream>
  asio::awaitable<Result<UpstreamResponse>> Exchange(Stream& stream, Connection& c,
                                                     const Endpoint& ep,
                                                     const UpstreamRequest& request,
                                                     Clock::time_point deadline, bool& keep_alive,
                                                     bool& retryable) {
    // The head formatted here, the body sent from the caller's string (kept for a retry), not
    // copied: one gather write, with the other requests made ready in this round of the event
    // loop (internal::WriteAfterQueuedHandlers).
    if (!FormatRequestHead(ep, request, c.head)) {
      co_return InvalidArgument("a header value for " + ep.key + " holds a line break");
    }
    c.lowest().expires_at(deadline);
    const boost::system::error_code wec =
        co_await internal::WriteAfterQueuedHandlers(stream, c.head, request.body);
    if (wec) {
      retryable = true;
      if (IsTimeout(wec)) co_return DeadlineExceeded("sending to " + ep.key + " timed out");
      co_return Unavailable("sending to " + ep.key + " failed: " + wec.message());
    }
    std::pmr::monotonic_buffer_resource head_arena(internal::kHeadArenaBytes);
    using Parser = bhttp::response_parser<bhttp::string_body, internal::ArenaAllocator>;
    std::optional<Parser> parsing;
    // The read buffer holds only what the parser has not consumed: the header, or one
    // chunk-size line or trailer. Bounded, so a provider cannot make it grow without limit.
    c.buffer.max_size(kMaxAnswerHeaderBytes + 1024);
    // Room for a usual answer in one read (Beast reads as much as the buffer's free capacity),
    // and for a larger body, reads as large as the buffer may grow.
    c.buffer.reserve(std::min<size_t>(4096, c.buffer.max_size()));
    // Interim answers (1xx: "100 Continue", "103 Early Hints") come before the final one, asked
    // for or not, and are passed over (RFC 9110 15.2); a few at most.
    for (int interim = 0;; ++interim) {
      parsing.emplace(std::piecewise_construct, std::make_tuple(),
                      std::make_tuple(internal::ArenaAllocator(&head_arena)));
      parsing->body_limit(options.max_response_bytes);
      parsing->header_limit(kMaxAnswerHeaderBytes);
      auto [hec, hn] = co_await bhttp::async_read_header(stream, c.buffer, *parsing, kNoThrow);
      if (hec) co_return ReadError(hec, ep, request, parsing->got_some() || interim > 0, retryable);
      const unsigned status = parsing->get().result_int();
      if (status >= 200) break;
      if (status == 101) {
        co_return BadGateway(ep.key + " answered 101 Switching Protocols, which was not asked for");
      }
      if (interim + 1 >= kMaxInterimAnswers) {
        co_return BadGateway(ep.key + " sent more than " + std::to_string(kMaxInterimAnswers) +
                             " interim (1xx) answers");
      }
    }
    Parser& parser = *parsing;
    if (auto length = parser.content_length(); length && *length > c.buffer.capacity()) {
      c.buffer.reserve(
          static_cast<size_t>(std::min<uint64_t>(c.buffer.max_size(), c.buffer.size() + *length)));
    }
    boost::system::error_code rec;
    if (!internal::ParseBuffered(parser, c.buffer, rec) && !rec) {
      std::tie(rec, std::ignore) = co_await bhttp::async_read(stream, c.buffer, parser, kNoThrow);
    }
    if (rec) co_return ReadError(rec, ep, request, parser.got_some(), retryable);
    auto res = parser.release();
    // Bytes after the answer (more than it said it had) are not the next answer's: the
    // connection is not kept.
    keep_alive = res.keep_alive() && c.buffer.size() == 0;
    UpstreamResponse out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[bhttp::field::content_type]);
    out.body = std::move(res.body());
    co_return out;
  }
};

PooledUpstreamClient::PooledUpstreamClient(IoThreads& io, PooledClientOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

PooledUpstreamClient::~PooledUpstreamClient() = default;

void PooledUpstreamClient::Clear() {
  for (auto& [ctx, pool] : impl_->pools) {
    pool->idle.clear();
    pool->sessions.clear();
  }
  impl_->resolver.Close();
}

HostResolver::Stats PooledUpstreamClient::name_stats() const { return impl_->resolver.stats(); }

asio::awaitable<Result<UpstreamResponse>> PooledUpstreamClient::Post(UpstreamRequest request) {
  auto ex = co_await asio::this_coro::executor;
  ThreadPool* pool = impl_->PoolFor(ex);
  // Held for the whole call: the pool's map may be cleared meanwhile by another call.
  std::shared_ptr<const Endpoint> endpoint;
  if (pool != nullptr) {
    if (auto it = pool->endpoints.find(request.url); it != pool->endpoints.end()) {
      endpoint = it->second;
    }
  }
  if (endpoint == nullptr) {
    auto made = ParseEndpoint(request.url);
    if (!made.ok()) co_return made.status();
    endpoint = std::make_shared<const Endpoint>(std::move(made).value());
    if (pool != nullptr) {
      if (pool->endpoints.size() >= kMaxCachedEndpoints) {
        pool->endpoints.clear();
        pool->sessions.clear();
      }
      pool->endpoints.emplace(request.url, endpoint);
    }
  }
  const Endpoint* ep = endpoint.get();
  auto deadline = Clock::now() + request.timeout;

  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> conn;
    bool reused = false;
    if (pool != nullptr && attempt == 0) {
      conn = impl_->TakeIdle(*pool, ep->key);
      reused = conn != nullptr;
    }
    if (!conn) {
      auto fresh = co_await impl_->Connect(*ep, deadline, pool);
      if (!fresh.ok()) co_return fresh.status();
      conn = std::move(fresh).value();
    }
    bool keep_alive = false;
    bool retryable = false;
    // (No co_await inside ?: : GCC 12 miscompiles it.)
    std::optional<Result<UpstreamResponse>> attempt_result;
    if (conn->plain) {
      attempt_result.emplace(co_await impl_->Exchange(*conn->plain, *conn, *ep, request, deadline,
                                                      keep_alive, retryable));
    } else {
      attempt_result.emplace(co_await impl_->Exchange(*conn->secure, *conn, *ep, request, deadline,
                                                      keep_alive, retryable));
    }
    Result<UpstreamResponse> result = std::move(*attempt_result);
    if (result.ok()) {
      result->reused_connection = reused;
      result->sent_again = attempt > 0;
      if (conn->secure && !reused) {
        SSL* ssl = conn->secure->native_handle();
        result->resumed_tls_session = SSL_session_reused(ssl) == 1;
        // Kept after an answer: TLS 1.3's session tickets come after the handshake. A copy:
        // OpenSSL marks the connection's own session not resumable when the connection is freed
        // without a close_notify sent, as the bus's connections to providers end (one they
        // close while idle, or dropped from the pool); the ticket the server issued stands.
        if (pool != nullptr) {
          SSL_SESSION* current = SSL_get0_session(ssl);
          if (current != nullptr && SSL_SESSION_is_resumable(current) == 1) {
            if (Session copy(SSL_SESSION_dup(current)); copy) {
              pool->sessions[ep->key] = std::move(copy);
            }
          }
        }
      }
      if (keep_alive && pool != nullptr) {
        conn->lowest().expires_never();
        impl_->GiveBack(*pool, ep->key, std::move(conn));
      }
      co_return result;
    }
    if (!(reused && retryable) || Clock::now() >= deadline) co_return result;
  }
  co_return Unavailable("unreachable");
}

}  // namespace govesb::http
