#include "http/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <future>
#include <optional>
#include <tuple>
#include <unordered_set>

#include "base/log_safe_fmt.h"
#include "http/parse_buffered.h"
#include "http/response_head.h"

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
  // Ends reading on the socket (shutdown for receiving): a read waiting for a request ends at
  // once, at end of stream, unless a request's bytes have already arrived, which are read and
  // answered first. Closing the socket instead would reset the connection on such a request:
  // sent before the shutdown, and answered by nothing.
  std::function<void()> stop_reading;
};

// Ends reading on `socket` (see Connection::stop_reading).
void StopReading(tcp::socket& socket) {
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_receive, ec);
}

struct ContextConnections {
  std::unordered_set<Connection*> live;
};

// A complete HTTP/1.1 answer for a connection refused by admission control: static text (no
// signing, no allocation per refusal beyond this string), so refusing stays cheap under attack.
std::string RefusalAnswer(int status, std::string_view reason, std::string_view message) {
  std::string body = "{\"error\":\"" + std::string(message) + "\"}";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nServer: govesb\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
         "Connection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

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
  std::unique_ptr<ConnectionAdmission> admission;
  // The answers to refused plain-HTTP connections, built once.
  std::string refused_total_answer;
  std::string refused_per_address_answer;
  // Refused plain connections still being answered (each lingers up to a second).
  std::atomic<size_t> lingering{0};
  // The memory-trim timer and the peak of open connections since the last trim; both
  // touched only on context 0 (the accept loop's).
  asio::steady_timer* trim_timer = nullptr;
  size_t peak_open = 0;

  HttpServer& self;
  explicit Impl(HttpServer& server) : self(server) {}

  // Runs on context 0; spawns each admitted connection on the next I/O thread's context.
  asio::awaitable<void> AcceptLoop();
  void Refuse(tcp::socket socket, ConnectionAdmission::Verdict verdict, asio::io_context& target);
  asio::awaitable<void> ServeAdmitted(tcp::socket s, std::string remote, asio::io_context& target);
  asio::awaitable<void> ServeTls(tcp::socket s, Connection& conn, const std::string& remote);
  void ConnectionClosed();
  // Runs on context 0 until Shutdown.
  asio::awaitable<void> TrimMemoryAfterBursts();
};

namespace {

template <class Stream>
tcp::socket::lowest_layer_type& Lowest(Stream& s) {
  return beast::get_lowest_layer(s).socket();
}

using ArenaRequestParser = bhttp::request_parser<bhttp::string_body, internal::ArenaAllocator>;
using ArenaRequest = bhttp::request<bhttp::string_body, internal::ArenaFields>;

// `req` as the engine sees it, into `out`: the connection's previous request, whose strings
// are assigned over, so that a kept-alive connection's requests reuse their capacity (the head
// of a request is bounded by the header limit). Content-Type and Authorization go to their own
// members only (the last of each, as the bus always took them; HttpRequest::Header finds them
// there), not copied a second time into `headers`.
void ToRequest(ArenaRequest&& req, const std::string& remote, HttpRequest& out) {
  out.method.assign(req.method_string());
  out.target.assign(req.target());
  out.remote_address.assign(remote);
  out.content_type.clear();
  out.authorization.clear();
  size_t used = 0;
  for (const auto& field : req) {
    if (field.name() == bhttp::field::content_type) {
      out.content_type.assign(field.value());
      continue;
    }
    if (field.name() == bhttp::field::authorization) {
      out.authorization.assign(field.value());
      continue;
    }
    if (used == out.headers.size()) {
      if (out.headers.capacity() == 0) out.headers.reserve(8);
      out.headers.emplace_back();
    }
    auto& [name, value] = out.headers[used++];
    name.assign(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    value.assign(field.value());
  }
  out.headers.resize(used);
  out.body = std::move(req.body());
}

// The bytes `r` holds beyond its own size: what a connection keeps between requests.
size_t HeldBytes(const HttpRequest& r) {
  size_t n = r.method.capacity() + r.target.capacity() + r.content_type.capacity() +
             r.authorization.capacity() + r.body.capacity() + r.remote_address.capacity() +
             r.headers.capacity() * sizeof(r.headers[0]);
  for (const auto& [name, value] : r.headers) n += name.capacity() + value.capacity();
  return n;
}

bhttp::response<bhttp::string_body> ToBeast(HttpResponse&& r, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
  res.set(bhttp::field::server, "govesb");
  res.set(bhttp::field::content_type, r.ContentType());
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
      impl_(std::make_unique<Impl>(*this)) {
  if (!options_.error_response) options_.error_response = DefaultError;
  tls_ = options_.tls;
  impl_->per_context.resize(io_.size());
  for (size_t i = 0; i < io_.size(); ++i) impl_->context_index[&io_.context(i)] = i;
}

HttpServer::~HttpServer() = default;

void HttpServer::SetTls(std::shared_ptr<boost::asio::ssl::context> tls) {
  GOVESB_CHECK(options_.tls != nullptr && tls != nullptr);
  std::lock_guard lock(tls_mu_);
  tls_ = std::move(tls);
}

std::shared_ptr<boost::asio::ssl::context> HttpServer::CurrentTls() const {
  std::lock_guard lock(tls_mu_);
  return tls_;
}

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
  size_t file_limit = OpenFileLimit();
  size_t cap = SafeConnectionLimit(options_.max_connections, file_limit);
  if (cap < options_.max_connections) {
    spdlog::warn(
        "at most {} open connections (not {}): the open-file limit is {} and {} descriptors are "
        "kept for the database, evidence files and providers; raise the limit (ulimit -n) for "
        "more",
        cap, options_.max_connections, file_limit, ReservedFileDescriptors(file_limit));
  }
  impl_->admission =
      std::make_unique<ConnectionAdmission>(cap, options_.max_connections_per_address);
  impl_->refused_total_answer =
      RefusalAnswer(503, "Service Unavailable",
                    "the bus has reached its limit of " + std::to_string(cap) +
                        " open connections; try again shortly");
  impl_->refused_per_address_answer =
      RefusalAnswer(429, "Too Many Requests",
                    "too many open connections from your address (the limit is " +
                        std::to_string(options_.max_connections_per_address) +
                        "); reuse or close connections and try again shortly");
  return Status::Ok();
}

HttpServerStats HttpServer::stats() const {
  HttpServerStats s;
  if (impl_->admission) {
    s.open_connections = impl_->admission->open();
    s.max_connections = impl_->admission->max_total();
  }
  s.refused_total = refused_total_.load();
  s.refused_per_address = refused_per_address_.load();
  s.handshake_timeouts = handshake_timeouts_.load();
  s.accept_errors = accept_errors_.load();
  s.memory_trims = memory_trims_.load();
  return s;
}

namespace {

std::string BodyLimitMessage(const ServerOptions& options) {
  return "request body is larger than the limit of " + std::to_string(options.max_body_bytes) +
         " bytes";
}

// The buffer a connection reads into holds only what the parser has not consumed yet: the
// header, then at most one chunk-size line (with its extensions) or the trailer. Its cap
// bounds those; Beast's header_limit covers only the header.
size_t ReadBufferLimit(const ServerOptions& options) { return options.max_header_bytes + 1024; }

// The read buffer a connection keeps between requests.
constexpr size_t kKeptReadBuffer = 4096;
// The answer head kept between requests, as large as the read buffer kept: a usual head fits,
// and over TLS (the body appended to it) a usual answer too; a larger one is given back.
constexpr size_t kKeptHeadBytes = 4096;
// The strings of the last request kept for the next one on the connection: a usual request
// head fits.
constexpr size_t kKeptRequestBytes = 4096;

// What to answer when reading a request failed; status 0: nothing (the peer closed, reset or
// timed out).
std::pair<int, std::string> ReadErrorAnswer(const boost::system::error_code& ec,
                                            const ServerOptions& options, bool in_body) {
  if (ec == bhttp::error::body_limit) return {413, BodyLimitMessage(options)};
  if (ec == bhttp::error::header_limit) {
    return {431, "request headers are larger than the limit of " +
                     std::to_string(options.max_header_bytes) + " bytes"};
  }
  if (ec == bhttp::error::buffer_overflow) {
    return {400,
            "a chunk-size line (with its chunk extensions) or the trailer of the request is "
            "larger than the limit of " +
                std::to_string(options.max_header_bytes) + " bytes"};
  }
  if (ec.category() == boost::system::error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return {400,
            std::string(in_body ? "malformed HTTP request body: " : "malformed HTTP request: ") +
                ec.message()};
  }
  return {0, {}};
}

// True unless the request names a Transfer-Encoding other than exactly "chunked", once.
bool UnambiguousFraming(const ArenaRequestParser& parser) {
  const auto& header = parser.get();
  size_t count = 0;
  for (const auto& field : header) {
    if (field.name() != bhttp::field::transfer_encoding) continue;
    ++count;
    std::string_view value = field.value();
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (!beast::iequals(value, "chunked")) return false;
  }
  return count <= 1;
}

// Serves requests on one connection until it closes. `Stream` is beast::tcp_stream or
// beast::ssl_stream<beast::tcp_stream>.
template <class Stream>
asio::awaitable<void> ServeConnection(Stream& stream, Connection& conn,
                                      const ServerOptions& options, const Handler& handler,
                                      const std::atomic<bool>& shutting_down,
                                      const std::string& remote) {
  beast::flat_buffer buffer(ReadBufferLimit(options));
  // The head of each answer, its capacity kept for the next one (given back when an answer
  // over TLS, which appends its body here, grew it).
  std::string head_bytes;
  // The request being served; its strings' capacity is kept for the next one (up to
  // kKeptRequestBytes).
  HttpRequest request;
  bool first = true;
  for (;;) {
    // Shutting down since the last answer (which still offered to keep the connection): a
    // request the client sent meanwhile is answered, then the connection ends.
    if (shutting_down.load()) StopReading(beast::get_lowest_layer(stream).socket());
    // Room for a usual request (headers and a body of a few KB) in one read: Beast sizes each
    // read by the buffer's free capacity (at least 512 bytes), so an empty buffer took three
    // or four recvmsg calls per request. A buffer grown by a large request is given back.
    if (buffer.size() == 0 && buffer.capacity() > kKeptReadBuffer) buffer.shrink_to_fit();
    buffer.reserve(std::min(kKeptReadBuffer, buffer.max_size()));
    std::pmr::monotonic_buffer_resource head_arena(internal::kHeadArenaBytes);
    ArenaRequestParser parser(std::piecewise_construct, std::make_tuple(),
                              std::make_tuple(internal::ArenaAllocator(&head_arena)));
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_body_bytes);
    // The first request must come promptly; a kept-alive connection may idle longer.
    beast::get_lowest_layer(stream).expires_after(first ? options.read_timeout
                                                        : options.idle_timeout);
    first = false;
    auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
    int error_status = 0;
    std::string error_message;
    std::optional<internal::InFlightRequest> in_flight;
    if (hec) {
      std::tie(error_status, error_message) = ReadErrorAnswer(hec, options, false);
      if (error_status == 0) co_return;  // closed, timed out, reset: nothing to answer
    } else if (!UnambiguousFraming(parser)) {
      // RFC 9112 6.3: a Transfer-Encoding whose final coding is not chunked (or any coding we
      // do not decode) leaves the body's length unknown. Reading on would take the body for a
      // next request (smuggling): answer 400 and close.
      error_status = 400;
      error_message =
          "malformed HTTP request: Transfer-Encoding must be exactly \"chunked\" (once); "
          "other codings are not accepted";
    } else {
      conn.busy = true;
      in_flight.emplace();
      // curl and some Java clients wait for "100 Continue" before sending large bodies.
      auto& header = parser.get();
      auto expect = header[bhttp::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, header.version()};
        beast::get_lowest_layer(stream).expires_after(options.write_timeout);
        auto [cec, cn] = co_await bhttp::async_write(stream, cont, kNoThrow);
        if (cec) co_return;
      }
      // A larger body is read in reads as large as the buffer may grow, not 4 KB at a time.
      if (auto length = parser.content_length(); length && *length > buffer.capacity()) {
        buffer.reserve(
            static_cast<size_t>(std::min<uint64_t>(buffer.max_size(), buffer.size() + *length)));
      }
      boost::system::error_code bec;
      if (!internal::ParseBuffered(parser, buffer, bec) && !bec) {
        beast::get_lowest_layer(stream).expires_after(options.read_timeout);
        std::tie(bec, std::ignore) = co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
      }
      if (bec) {
        std::tie(error_status, error_message) = ReadErrorAnswer(bec, options, true);
        if (error_status == 0) co_return;
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
      // On the heap, not in the coroutine frame: every connection's frame would carry it.
      auto discard = std::make_unique<std::array<char, 16 * 1024>>();
      size_t drained = 0;
      while (drained < 4 * options.max_body_bytes + (1 << 20)) {
        auto [dec, dn] = co_await stream.async_read_some(asio::buffer(*discard), kNoThrow);
        if (dec) break;
        drained += dn;
      }
      co_return;
    }

    auto beast_req = parser.release();
    unsigned version = beast_req.version();
    bool keep_alive = beast_req.keep_alive();
    ToRequest(std::move(beast_req), remote, request);
    // RFC 9110 9.3.2: a HEAD answer has the header fields a GET would have (its Content-Length
    // too), and no content. Handlers answer HEAD as GET; only the header is written.
    const bool head = request.method == "HEAD";
    beast::get_lowest_layer(stream).expires_never();
    HttpResponse response;
    try {
      response = co_await handler(request);
    } catch (const std::exception& e) {
      // Last resort: a bug. The client gets a 500, the operator a log line.
      spdlog::error("unexpected exception serving {} {}: {}", Untrusted(request.method),
                    Untrusted(request.target), e.what());
      response = options.error_response(500, "internal error; the operator has been told");
      keep_alive = false;
    }
    if (shutting_down.load()) keep_alive = false;
    beast::get_lowest_layer(stream).expires_after(options.write_timeout);
    boost::system::error_code wec;
    // The head formatted in one pass and the body from the handler's string, in one gather
    // write; what that does not format (internal::FormatResponseHead) goes through Beast.
    if (internal::FormatResponseHead(response, version, keep_alive, head_bytes)) {
      wec = co_await internal::WriteHeadAndBody(stream, head_bytes,
                                                head ? std::string_view() : response.body);
      if (head_bytes.capacity() > kKeptHeadBytes) std::string().swap(head_bytes);
    } else {
      auto res = ToBeast(std::move(response), version, keep_alive);
      if (head) {
        bhttp::response_serializer<bhttp::string_body> header_only(res);
        std::tie(wec, std::ignore) =
            co_await bhttp::async_write_header(stream, header_only, kNoThrow);
      } else {
        std::tie(wec, std::ignore) = co_await bhttp::async_write(stream, res, kNoThrow);
      }
    }
    conn.busy = false;
    in_flight.reset();
    if (wec || !keep_alive) break;
    // The body was the handler's to take; what is left of it, and a request head larger than
    // usual, is not kept while the connection idles.
    request.body = std::string();
    if (HeldBytes(request) > kKeptRequestBytes) request = HttpRequest();
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

bool IsTimeout(const boost::system::error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::timed_out;
}

// Out of descriptors or kernel memory: accepting again at once would fail again.
bool IsResourceExhaustion(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory || ec.value() == ENFILE;
}

// Answers a refused plain-HTTP connection: the prepared answer, then a short lingering close
// (bounded to a second and 64 KiB) so that a request already in flight does not turn our
// close into a reset that destroys the answer before the client reads it.
asio::awaitable<void> AnswerRefused(tcp::socket socket, std::string answer) {
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(std::chrono::seconds(1));
  auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(answer), kNoThrow);
  if (wec) co_return;
  boost::system::error_code sec;
  stream.socket().shutdown(tcp::socket::shutdown_send, sec);
  auto discard = std::make_unique<std::array<char, 4096>>();
  for (size_t drained = 0; drained < 64 * 1024;) {
    auto [rec, rn] = co_await stream.async_read_some(asio::buffer(*discard), kNoThrow);
    if (rec) break;
    drained += rn;
  }
}

}  // namespace

asio::awaitable<void> HttpServer::Impl::AcceptLoop() {
  std::chrono::milliseconds backoff{0};
  for (;;) {
    asio::io_context& target = self.io_.Next();
    auto [ec, socket] = co_await acceptor->async_accept(target, kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || self.shutting_down_.load()) co_return;
      self.accept_errors_.fetch_add(1);
      if (!IsResourceExhaustion(ec)) continue;  // e.g. the client gave up meanwhile
      // Out of descriptors or buffers: retrying at once would spin. Back off exponentially
      // (10 ms doubling to 1 s) until an accept succeeds.
      backoff = std::min<std::chrono::milliseconds>(
          backoff.count() == 0 ? std::chrono::milliseconds(10) : backoff * 2,
          std::chrono::seconds(1));
      spdlog::warn("accept failed: {}; pausing accepts for {} ms", ec.message(), backoff.count());
      asio::steady_timer t(co_await asio::this_coro::executor, backoff);
      co_await t.async_wait(kNoThrow);
      continue;
    }
    backoff = std::chrono::milliseconds(0);
    if (self.shutting_down_.load()) co_return;
    std::string remote;
    {
      boost::system::error_code rec;
      auto ep = socket.remote_endpoint(rec);
      if (!rec) {
        auto address = ep.address();
        // One client over IPv4 and IPv4-mapped IPv6 is one address.
        if (address.is_v6() && address.to_v6().is_v4_mapped()) {
          address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
        }
        remote = address.to_string();
      }
    }
    auto verdict = admission->TryAdmit(remote);
    if (verdict != ConnectionAdmission::Verdict::kAdmit) {
      Refuse(std::move(socket), verdict, target);
      continue;
    }
    peak_open = std::max(peak_open, admission->open());
    boost::system::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    self.active_.fetch_add(1);
    auto serve = ServeAdmitted(std::move(socket), std::move(remote), target);
    asio::co_spawn(target, std::move(serve), asio::detached);
  }
}

void HttpServer::Impl::Refuse(tcp::socket socket, ConnectionAdmission::Verdict verdict,
                              asio::io_context& target) {
  bool total = verdict == ConnectionAdmission::Verdict::kOverTotal;
  (total ? self.refused_total_ : self.refused_per_address_).fetch_add(1);
  boost::system::error_code ec;
  // TLS: no handshake work for a refused connection; plain HTTP: a short answer, at most 64
  // of them lingering at once (beyond that, closed like TLS).
  if (self.options_.tls || lingering.load() >= 64) {
    socket.close(ec);
    return;
  }
  lingering.fetch_add(1);
  self.active_.fetch_add(1);  // so that Shutdown waits for it (a second at most)
  auto answer =
      AnswerRefused(std::move(socket), total ? refused_total_answer : refused_per_address_answer);
  asio::co_spawn(target, std::move(answer), [this](std::exception_ptr) {
    lingering.fetch_sub(1);
    ConnectionClosed();
  });
}

void HttpServer::Impl::ConnectionClosed() {
  if (self.active_.fetch_sub(1) == 1) {
    std::lock_guard lock(self.drain_mu_);
    self.drained_.notify_all();
  }
}

asio::awaitable<void> HttpServer::Impl::ServeAdmitted(tcp::socket s, std::string remote,
                                                      asio::io_context& target) {
  size_t index = context_index.at(&target);
  Connection conn;
  auto& live = per_context[index].live;
  live.insert(&conn);
  try {
    if (self.options_.tls) {
      co_await ServeTls(std::move(s), conn, remote);
    } else {
      beast::tcp_stream stream(std::move(s));
      conn.stop_reading = [&stream] { StopReading(stream.socket()); };
      co_await ServeConnection(stream, conn, self.options_, self.handler_, self.shutting_down_,
                               remote);
    }
  } catch (const std::exception& e) {
    spdlog::error("connection from {} failed unexpectedly: {}", remote, e.what());
  }
  live.erase(&conn);
  admission->Release(remote);
  ConnectionClosed();
}

asio::awaitable<void> HttpServer::Impl::ServeTls(tcp::socket s, Connection& conn,
                                                 const std::string& remote) {
  auto deadline = std::chrono::steady_clock::now() + self.options_.handshake_timeout;
  // Until the client sends its first byte the connection holds no TLS state: an SSL object
  // and its buffers cost tens of KiB, and silent connections are the cheap attack.
  beast::tcp_stream raw(std::move(s));
  conn.stop_reading = [&raw] { StopReading(raw.socket()); };
  raw.expires_at(deadline);
  unsigned char first_byte = 0;
  auto [rec, rn] = co_await raw.async_read_some(asio::buffer(&first_byte, 1), kNoThrow);
  if (rec) {
    if (IsTimeout(rec)) self.handshake_timeouts_.fetch_add(1);
    co_return;
  }
  // The context as it is now (a reload may replace it meanwhile); held while the connection
  // lives.
  const std::shared_ptr<asio::ssl::context> tls = self.CurrentTls();
  beast::ssl_stream<beast::tcp_stream> stream(std::move(raw), *tls);
  conn.stop_reading = [&stream] { StopReading(beast::get_lowest_layer(stream).socket()); };
  beast::get_lowest_layer(stream).expires_at(deadline);
  auto [hec, used] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                     asio::buffer(&first_byte, rn), kNoThrow);
  if (hec) {
    if (IsTimeout(hec)) self.handshake_timeouts_.fetch_add(1);
    co_return;
  }
  co_await ServeConnection(stream, conn, self.options_, self.handler_, self.shutting_down_, remote);
}

asio::awaitable<void> HttpServer::Impl::TrimMemoryAfterBursts() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  trim_timer = &timer;
  while (!self.shutting_down_.load()) {
    timer.expires_after(self.options_.trim_interval);
    auto [ec] = co_await timer.async_wait(kNoThrow);
    if (ec || self.shutting_down_.load()) break;
    size_t open = admission->open();
    if (peak_open >= open + self.options_.trim_after_closes) {
      if (ReleaseFreeMemory()) self.memory_trims_.fetch_add(1);
      peak_open = open;
    } else if (open > peak_open) {
      peak_open = open;
    }
  }
  trim_timer = nullptr;
}

void HttpServer::Start() {
  asio::co_spawn(io_.context(0), impl_->AcceptLoop(), asio::detached);
  if (options_.trim_after_closes > 0) {
    asio::co_spawn(io_.context(0), impl_->TrimMemoryAfterBursts(), asio::detached);
  }
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
      if (impl_->trim_timer != nullptr) impl_->trim_timer->cancel();
      done.set_value();
    });
    fut.wait_for(std::chrono::seconds(5));
  }
  // Idle connections stop reading: each ends at once, or after answering the request that had
  // already arrived. Busy ones close after their answer (which says Connection: close).
  for (size_t i = 0; i < io_.size(); ++i) {
    asio::post(io_.context(i), [this, i] {
      for (Connection* c : impl_->per_context[i].live) {
        if (!c->busy && c->stop_reading) c->stop_reading();
      }
    });
  }
  std::unique_lock lock(drain_mu_);
  if (!drained_.wait_for(lock, options_.drain_timeout, [this] { return active_.load() == 0; })) {
    spdlog::warn("shutdown: {} connections still open after the drain timeout", active_.load());
  }
}

}  // namespace govesb::http
