#include "http/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <future>
#include <array>
#include <list>
#include <unordered_set>

namespace govesb::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
constexpr auto kNoThrow = asio::as_tuple(use_awaitable);

namespace {

// One live connection, known to the server for graceful shutdown. Touched only from the
// thread of the connection's io_context.
struct Connection {
  bool busy = false;  // a request is being served
  std::function<void()> close;
};

struct ContextConnections {
  std::unordered_set<Connection*> live;
};

HttpResponse DefaultError(int status, std::string_view message) {
  std::string body = "{\"error\":\"";
  for (char c : message) {
    if (c == '"' || c == '\\') body.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) body.push_back(c);
  }
  body += "\"}";
  return HttpResponse::Json(status, std::move(body));
}

}  // namespace

struct HttpServer::Impl {
  std::unique_ptr<tcp::acceptor> acceptor;
  // One set per io_context, indexed like IoThreads.
  std::vector<ContextConnections> per_context;
  std::unordered_map<asio::io_context*, size_t> context_index;
};

namespace {

template <class Stream>
tcp::socket::lowest_layer_type& Lowest(Stream& s) {
  return beast::get_lowest_layer(s).socket();
}

HttpRequest ToRequest(bhttp::request<bhttp::string_body>&& req, std::string remote) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  out.remote_address = std::move(remote);
  out.headers.reserve(8);
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "content-type") out.content_type = std::string(field.value());
    if (name == "authorization") out.authorization = std::string(field.value());
    out.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  out.body = std::move(req.body());
  return out;
}

bhttp::response<bhttp::string_body> ToBeast(HttpResponse&& r, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
  res.set(bhttp::field::server, "govesb");
  res.set(bhttp::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) res.set(name, value);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

}  // namespace

HttpServer::HttpServer(IoThreads& io, ServerOptions options, Handler handler)
    : io_(io),
      options_(std::move(options)),
      handler_(std::move(handler)),
      impl_(std::make_unique<Impl>()) {
  if (!options_.error_response) options_.error_response = DefaultError;
  impl_->per_context.resize(io_.size());
  for (size_t i = 0; i < io_.size(); ++i) impl_->context_index[&io_.context(i)] = i;
}

HttpServer::~HttpServer() = default;

Status HttpServer::Listen() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return InvalidArgument("cannot listen on '" + options_.host + "': not an IP address");
  tcp::endpoint endpoint{address, options_.port};
  auto acceptor = std::make_unique<tcp::acceptor>(io_.context(0));
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                       ": " + ec.message());
  }
  port_ = acceptor->local_endpoint().port();
  impl_->acceptor = std::move(acceptor);
  return Status::Ok();
}

namespace {

// Serves requests on one connection until it closes. `Stream` is beast::tcp_stream or
// beast::ssl_stream<beast::tcp_stream>.
template <class Stream>
asio::awaitable<void> ServeConnection(Stream& stream, Connection& conn,
                                      const ServerOptions& options, const Handler& handler,
                                      const std::atomic<bool>& shutting_down,
                                      const std::string& remote) {
  beast::flat_buffer buffer;
  bool first = true;
  for (;;) {
    if (shutting_down.load()) break;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_body_bytes);
    // The first request must come promptly; a kept-alive connection may idle longer.
    beast::get_lowest_layer(stream).expires_after(first ? options.read_timeout
                                                        : options.idle_timeout);
    first = false;
    auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
    int error_status = 0;
    std::string error_message;
    if (hec) {
      if (hec == bhttp::error::body_limit) {
        error_status = 413;
        error_message = "request body is larger than the limit of " +
                        std::to_string(options.max_body_bytes) + " bytes";
      } else if (hec == bhttp::error::header_limit) {
        error_status = 431;
        error_message = "request headers are larger than the limit of " +
                        std::to_string(options.max_header_bytes) + " bytes";
      } else if (hec.category() == boost::system::error_code(bhttp::error::bad_method).category() &&
                 hec != bhttp::error::end_of_stream && hec != bhttp::error::partial_message) {
        error_status = 400;
        error_message = "malformed HTTP request: " + hec.message();
      } else {
        co_return;  // closed, timed out, reset: nothing to answer
      }
    } else {
      conn.busy = true;
      // curl and some Java clients wait for "100 Continue" before sending large bodies.
      auto& header = parser.get();
      auto expect = header[bhttp::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, header.version()};
        beast::get_lowest_layer(stream).expires_after(options.write_timeout);
        auto [cec, cn] = co_await bhttp::async_write(stream, cont, kNoThrow);
        if (cec) co_return;
      }
      beast::get_lowest_layer(stream).expires_after(options.read_timeout);
      auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
      if (bec == bhttp::error::body_limit) {
        error_status = 413;
        error_message = "request body is larger than the limit of " +
                        std::to_string(options.max_body_bytes) + " bytes";
      } else if (bec) {
        co_return;
      }
    }

    if (error_status != 0) {
      HttpResponse r = options.error_response(error_status, error_message);
      auto res = ToBeast(std::move(r), 11, false);
      beast::get_lowest_layer(stream).expires_after(options.write_timeout);
      co_await bhttp::async_write(stream, res, kNoThrow);
      // Lingering close: the client may still be sending the body we refused. Closing now
      // would reset the connection and could destroy our answer before the client reads it,
      // so read and discard what is in flight for a moment (bounded in bytes and time).
      if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
        boost::system::error_code sec;
        stream.socket().shutdown(tcp::socket::shutdown_send, sec);
      }
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
      std::array<char, 16 * 1024> discard;
      size_t drained = 0;
      while (drained < 4 * options.max_body_bytes + (1 << 20)) {
        auto [dec, dn] = co_await stream.async_read_some(asio::buffer(discard), kNoThrow);
        if (dec) break;
        drained += dn;
      }
      co_return;
    }

    auto beast_req = parser.release();
    unsigned version = beast_req.version();
    bool keep_alive = beast_req.keep_alive();
    HttpRequest request = ToRequest(std::move(beast_req), remote);
    beast::get_lowest_layer(stream).expires_never();
    HttpResponse response;
    try {
      response = co_await handler(request);
    } catch (const std::exception& e) {
      // Last resort: a bug. The client gets a 500, the operator a log line.
      spdlog::error("unexpected exception serving {} {}: {}", request.method, request.target,
                    e.what());
      response = options.error_response(500, "internal error; the operator has been told");
      keep_alive = false;
    }
    if (shutting_down.load()) keep_alive = false;
    auto res = ToBeast(std::move(response), version, keep_alive);
    beast::get_lowest_layer(stream).expires_after(options.write_timeout);
    auto [wec, wn] = co_await bhttp::async_write(stream, res, kNoThrow);
    conn.busy = false;
    if (wec || !keep_alive) break;
  }
  // Orderly close.
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  } else {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(kNoThrow);
  }
}

}  // namespace

void HttpServer::Start() {
  auto accept_loop = [this]() -> asio::awaitable<void> {
    for (;;) {
      asio::io_context& target = io_.Next();
      auto [ec, socket] = co_await impl_->acceptor->async_accept(target, kNoThrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || shutting_down_.load()) co_return;
        // EMFILE and the like: log, back off briefly, keep accepting.
        spdlog::warn("accept failed: {}", ec.message());
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
        co_await t.async_wait(kNoThrow);
        continue;
      }
      if (shutting_down_.load()) co_return;
      boost::system::error_code opt_ec;
      socket.set_option(tcp::no_delay(true), opt_ec);
      size_t index = impl_->context_index.at(&target);
      active_.fetch_add(1);
      asio::co_spawn(
          target,
          [this, index, s = std::move(socket)]() mutable -> asio::awaitable<void> {
            Connection conn;
            auto& live = impl_->per_context[index].live;
            live.insert(&conn);
            std::string remote;
            {
              boost::system::error_code rec;
              auto ep = s.remote_endpoint(rec);
              if (!rec) remote = ep.address().to_string();
            }
            try {
              if (options_.tls) {
                beast::ssl_stream<beast::tcp_stream> stream(std::move(s), *options_.tls);
                conn.close = [&stream] {
                  boost::system::error_code close_ec;
                  beast::get_lowest_layer(stream).socket().close(close_ec);
                };
                beast::get_lowest_layer(stream).expires_after(options_.read_timeout);
                auto [hec] =
                    co_await stream.async_handshake(asio::ssl::stream_base::server, kNoThrow);
                if (!hec) {
                  co_await ServeConnection(stream, conn, options_, handler_, shutting_down_,
                                           remote);
                }
              } else {
                beast::tcp_stream stream(std::move(s));
                conn.close = [&stream] {
                  boost::system::error_code close_ec;
                  stream.socket().close(close_ec);
                };
                co_await ServeConnection(stream, conn, options_, handler_, shutting_down_, remote);
              }
            } catch (const std::exception& e) {
              spdlog::error("connection from {} failed unexpectedly: {}", remote, e.what());
            }
            live.erase(&conn);
            if (active_.fetch_sub(1) == 1) {
              std::lock_guard lock(drain_mu_);
              drained_.notify_all();
            }
          },
          asio::detached);
    }
  };
  asio::co_spawn(io_.context(0), accept_loop, asio::detached);
}

void HttpServer::Shutdown() {
  if (shutting_down_.exchange(true)) return;
  // Stop accepting (on the acceptor's own thread).
  {
    std::promise<void> done;
    auto fut = done.get_future();
    asio::post(io_.context(0), [this, &done] {
      boost::system::error_code ec;
      if (impl_->acceptor) impl_->acceptor->close(ec);
      done.set_value();
    });
    fut.wait_for(std::chrono::seconds(5));
  }
  // Close idle connections; busy ones close after their response.
  for (size_t i = 0; i < io_.size(); ++i) {
    asio::post(io_.context(i), [this, i] {
      for (Connection* c : impl_->per_context[i].live) {
        if (!c->busy && c->close) c->close();
      }
    });
  }
  std::unique_lock lock(drain_mu_);
  if (!drained_.wait_for(lock, options_.drain_timeout, [this] { return active_.load() == 0; })) {
    spdlog::warn("shutdown: {} connections still open after the drain timeout", active_.load());
  }
}

}  // namespace govesb::http
