#include "transport.h"

#include <openssl/ssl.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <exception>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "connect.h"
#include "internal.h"

namespace govesb::sdk::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

// One keep-alive connection with its own io_context. The SDK's calls are synchronous: the
// calling thread starts an asynchronous operation (so that Beast's timeouts apply) and runs the
// context until it completes. A connection is used by one thread at a time (it is either in the
// pool, under the pool's mutex, or owned by the call that took it).
struct Connection {
  asio::io_context ioc{1};
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  SteadyClock::time_point idle_since;

  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

// Starts one asynchronous operation with `start(handler)` and runs the connection's context
// until it has completed; returns the operation's error code.
template <class Start>
beast::error_code RunOne(asio::io_context& ioc, Start&& start) {
  beast::error_code result = asio::error::would_block;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

bool IsTimeout(const beast::error_code& ec) { return ec == beast::error::timeout; }

struct Attempt {
  bool ok = false;
  HttpReply reply;
  bool keep_alive = false;
  bool answer_started = false;  // some byte of an answer arrived
  bool timed_out = false;
  std::string error;
};

template <class Stream>
Attempt Exchange(Connection& c, Stream& stream, const bhttp::request<bhttp::string_body>& req,
                 size_t max_response_bytes) {
  Attempt a;
  beast::error_code ec =
      RunOne(c.ioc, [&](auto handler) { bhttp::async_write(stream, req, std::move(handler)); });
  if (ec) {
    a.timed_out = IsTimeout(ec);
    a.error = "sending the request failed: " + ec.message();
    return a;
  }
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(max_response_bytes);
  ec = RunOne(c.ioc, [&](auto handler) {
    bhttp::async_read(stream, c.buffer, parser, std::move(handler));
  });
  a.answer_started = parser.got_some() || c.buffer.size() != 0;
  if (ec) {
    a.timed_out = IsTimeout(ec);
    a.error = "reading the answer failed: " + ec.message();
    return a;
  }
  a.ok = true;
  a.reply.status = static_cast<int>(parser.get().result_int());
  a.keep_alive = parser.get().keep_alive() && c.buffer.size() == 0;
  a.reply.body = std::move(parser.get().body());
  return a;
}

}  // namespace

Endpoint Endpoint::WithPathSuffix(std::string_view suffix) const {
  Endpoint e = *this;
  std::string query;
  if (auto q = e.target.find('?'); q != std::string::npos) {
    query = e.target.substr(q);
    e.target.resize(q);
  }
  while (!e.target.empty() && e.target.back() == '/') e.target.pop_back();
  e.target += suffix;
  if (e.target.empty()) e.target = "/";
  e.target += query;
  return e;
}

Result<Endpoint> ParseUrl(std::string_view url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "not an absolute URL: '" + std::string(url) + "'");
  }
  Endpoint e;
  if (u->scheme_id() == boost::urls::scheme::https) {
    e.tls = true;
  } else if (u->scheme_id() != boost::urls::scheme::http) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "URL must start with http:// or https://: '" + std::string(url) + "'");
  }
  e.host = u->host_address();
  if (e.host.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "URL has no host: '" + std::string(url) + "'");
  }
  e.port = u->has_port() ? std::string(u->port()) : (e.tls ? "443" : "80");
  uint16_t port_number = 0;
  auto [end, ec] = std::from_chars(e.port.data(), e.port.data() + e.port.size(), port_number);
  if (ec != std::errc() || end != e.port.data() + e.port.size() || port_number == 0) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "URL has an invalid port: '" + std::string(url) + "'");
  }
  e.host_header = std::string(u->encoded_host());
  if (u->has_port()) e.host_header += ":" + e.port;
  e.target = std::string(u->encoded_path());
  if (e.target.empty()) e.target = "/";
  if (u->has_query()) e.target += "?" + std::string(u->encoded_query());
  e.pool_key =
      std::string(e.tls ? "https://" : "http://") + std::string(u->encoded_host()) + ":" + e.port;
  return e;
}

struct HttpTransport::Impl {
  TransportOptions options;
  std::unique_ptr<ssl::context> tls;
  std::mutex mu;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle;  // guarded

  std::unique_ptr<Connection> TakeIdle(const std::string& key) {
    std::vector<std::unique_ptr<Connection>> expired;  // destroyed outside the lock
    std::unique_ptr<Connection> found;
    {
      std::lock_guard lock(mu);
      auto it = idle.find(key);
      if (it == idle.end()) return nullptr;
      auto& list = it->second;
      auto now = SteadyClock::now();
      while (!list.empty()) {
        std::unique_ptr<Connection> c = std::move(list.back());
        list.pop_back();
        if (now - c->idle_since < options.idle_ttl) {
          found = std::move(c);
          break;
        }
        expired.push_back(std::move(c));
      }
    }
    return found;
  }

  void GiveBack(const std::string& key, std::unique_ptr<Connection> c) {
    c->tcp().expires_never();
    c->idle_since = SteadyClock::now();
    std::lock_guard lock(mu);
    auto& list = idle[key];
    if (list.size() < options.max_idle_per_origin) list.push_back(std::move(c));
  }

  // After a stale connection: the others idle for the same origin most likely are too.
  void DropIdle(const std::string& key) {
    std::vector<std::unique_ptr<Connection>> dropped;
    std::lock_guard lock(mu);
    if (auto it = idle.find(key); it != idle.end()) dropped.swap(it->second);
  }

  Result<std::unique_ptr<Connection>> Connect(const Endpoint& ep,
                                              SteadyClock::time_point deadline) {
    auto c = std::make_unique<Connection>();
    const std::string where = ep.host_header;
    std::vector<tcp::endpoint> addresses;
    beast::error_code ec;
    asio::ip::address literal = asio::ip::make_address(ep.host, ec);
    bool is_ip = !ec;
    if (is_ip) {
      uint16_t port = 0;
      std::from_chars(ep.port.data(), ep.port.data() + ep.port.size(), port);
      addresses.emplace_back(literal, port);
    } else {
      tcp::resolver resolver(c->ioc);
      auto results = resolver.resolve(ep.host, ep.port, ec);
      if (ec) {
        return MakeError(ErrorKind::kTransport, "cannot resolve " + ep.host + ": " + ec.message());
      }
      for (const auto& r : results) addresses.push_back(r.endpoint());
    }
    if (ep.tls) {
      c->secure.emplace(c->ioc, *tls);
    } else {
      c->plain.emplace(c->ioc);
    }
    ec = ConnectToAny(c->ioc, addresses, deadline, c->tcp().socket());
    c->tcp().expires_at(deadline);
    if (ec) {
      return MakeError(ErrorKind::kTransport,
                       IsTimeout(ec) ? "cannot connect to " + where + ": timed out after " +
                                           std::to_string(options.timeout.count()) + " ms"
                                     : "cannot connect to " + where + ": " + ec.message());
    }
    c->tcp().socket().set_option(tcp::no_delay(true), ec);
    if (ep.tls) {
      // SNI for host names (never for IP addresses, RFC 6066), and the peer's certificate must
      // name the host we asked for.
      if (!is_ip) {
        SSL_ctrl(c->secure->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                 TLSEXT_NAMETYPE_host_name, const_cast<char*>(ep.host.c_str()));
      }
      c->secure->set_verify_mode(ssl::verify_peer);
      c->secure->set_verify_callback(ssl::host_name_verification(ep.host));
      ec = RunOne(c->ioc, [&](auto handler) {
        c->secure->async_handshake(ssl::stream_base::client, std::move(handler));
      });
      if (ec) {
        std::string reason = IsTimeout(ec) ? "timed out" : ec.message();
        return MakeError(ErrorKind::kTransport,
                         "TLS handshake with " + where + " failed: " + reason);
      }
    }
    return c;
  }
};

HttpTransport::HttpTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpTransport::~HttpTransport() = default;

Result<std::unique_ptr<HttpTransport>> HttpTransport::Create(TransportOptions options) {
  try {
    auto impl = std::make_unique<Impl>();
    impl->tls = std::make_unique<ssl::context>(ssl::context::tls_client);
    beast::error_code ec;
    impl->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                               ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                               ssl::context::no_tlsv1_1,
                           ec);
    impl->tls->set_default_verify_paths(ec);
    if (!options.ca_file.empty()) {
      impl->tls->load_verify_file(options.ca_file, ec);
      if (ec) {
        return MakeError(ErrorKind::kInvalidArgument,
                         "cannot load CA file " + options.ca_file + ": " + ec.message());
      }
    }
    impl->tls->set_verify_mode(ssl::verify_peer, ec);
    impl->options = std::move(options);
    return std::unique_ptr<HttpTransport>(new HttpTransport(std::move(impl)));
  } catch (const std::exception& e) {
    return MakeError(ErrorKind::kInvalidArgument, std::string("cannot set up TLS: ") + e.what());
  }
}

Result<HttpReply> HttpTransport::Post(const Endpoint& ep, std::string_view content_type,
                                      std::string_view authorization, std::string body) {
  try {
    const auto deadline = SteadyClock::now() + impl_->options.timeout;
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, ep.target, 11};
    req.set(bhttp::field::host, ep.host_header);
    req.set(bhttp::field::user_agent, "govesb-sdk-cpp");
    req.set(bhttp::field::accept, "application/json");
    req.set(bhttp::field::content_type, content_type);
    if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
    req.keep_alive(true);
    req.body() = std::move(body);
    req.prepare_payload();

    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<Connection> c = attempt == 0 ? impl_->TakeIdle(ep.pool_key) : nullptr;
      const bool reused = c != nullptr;
      if (!c) {
        auto made = impl_->Connect(ep, deadline);
        if (!made.ok()) return made.error();
        c = std::move(made).value();
        connections_opened_.fetch_add(1);
      }
      c->tcp().expires_at(deadline);
      Attempt a = c->secure ? Exchange(*c, *c->secure, req, impl_->options.max_response_bytes)
                            : Exchange(*c, *c->plain, req, impl_->options.max_response_bytes);
      if (a.ok) {
        if (a.keep_alive) impl_->GiveBack(ep.pool_key, std::move(c));
        return std::move(a.reply);
      }
      if (reused && attempt == 0 && !a.answer_started && !a.timed_out) {
        // The server closed the idle connection before our request reached it: retry once.
        impl_->DropIdle(ep.pool_key);
        continue;
      }
      if (a.timed_out) {
        return MakeError(ErrorKind::kTransport, "no answer from " + ep.host_header + " within " +
                                                    std::to_string(impl_->options.timeout.count()) +
                                                    " ms");
      }
      return MakeError(ErrorKind::kTransport, ep.host_header + ": " + a.error);
    }
  } catch (const std::exception& e) {
    // Beast refuses some header values by throwing; nothing may escape the SDK's API.
    return MakeError(ErrorKind::kTransport, std::string("HTTP request failed: ") + e.what());
  }
}

}  // namespace govesb::sdk::internal
