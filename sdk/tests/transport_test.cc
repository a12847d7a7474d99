// The SDK's HTTP transport against scripted servers: connection reuse, the retry on a pooled
// connection the server closed, and real timeouts.
#include "transport.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>

namespace govesb::sdk::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// A blocking HTTP/1.1 server on its own thread, one connection at a time. It answers every
// request with 200 and the request's body. In kCloseAfterAnswer mode it closes each connection
// right after answering without saying so (no "Connection: close"), as a server whose idle
// timeout fires does.
class ScriptedServer {
 public:
  enum class Mode { kKeepAlive, kCloseAfterAnswer };

  explicit ScriptedServer(Mode mode)
      : mode_(mode), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    beast::error_code ec;
    tcp::socket wake(ioc_);
    wake.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/engine";
  }
  int accepted() const { return accepted_.load(); }
  int answered() const { return answered_.load(); }

 private:
  void Run() {
    while (true) {
      tcp::socket socket(ioc_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (stop_) return;
      if (ec) continue;
      ++accepted_;
      beast::flat_buffer buffer;
      while (true) {
        bhttp::request<bhttp::string_body> req;
        bhttp::read(socket, buffer, req, ec);
        if (ec) break;
        bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
        res.set(bhttp::field::content_type, "application/json");
        res.body() = std::string(req.target()) == "/engine/echo" ? req.body() : "{}";
        res.keep_alive(true);
        res.prepare_payload();
        // Counted before the answer goes out: once the client has it, the test may read the
        // count at once, before this thread would get past the write.
        ++answered_;
        bhttp::write(socket, res, ec);
        if (ec || mode_ == Mode::kCloseAfterAnswer) break;
      }
      socket.close(ec);
    }
  }

  const Mode mode_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

std::unique_ptr<HttpTransport> MakeTransport(std::chrono::milliseconds timeout) {
  TransportOptions o;
  o.timeout = timeout;
  auto t = HttpTransport::Create(o);
  EXPECT_TRUE(t.ok());
  return std::move(t).value();
}

TEST(ParseUrlTest, SplitsWhatTheTransportNeeds) {
  auto e = ParseUrl("https://esb.example.go.tz/engine/esb");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->tls);
  EXPECT_EQ(e->host, "esb.example.go.tz");
  EXPECT_EQ(e->port, "443");
  EXPECT_EQ(e->host_header, "esb.example.go.tz");
  EXPECT_EQ(e->target, "/engine/esb");
  EXPECT_EQ(e->WithPathSuffix("/request").target, "/engine/esb/request");

  auto local = ParseUrl("http://127.0.0.1:8443");
  ASSERT_TRUE(local.ok());
  EXPECT_FALSE(local->tls);
  EXPECT_EQ(local->port, "8443");
  EXPECT_EQ(local->host_header, "127.0.0.1:8443");
  EXPECT_EQ(local->target, "/");
  EXPECT_EQ(local->WithPathSuffix("/request").target, "/request");

  auto v6 = ParseUrl("http://[::1]:9000/x/?a=1");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->host_header, "[::1]:9000");
  EXPECT_EQ(v6->WithPathSuffix("/y").target, "/x/y?a=1");

  for (const char* bad : {"", "esb.example.go.tz/engine", "ftp://host/x", "http://host:0/",
                          "http://host:99999/", "http:///path"}) {
    auto r = ParseUrl(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidArgument) << bad;
  }
}

TEST(HttpTransportTest, ReusesKeepAliveConnections) {
  ScriptedServer server(ScriptedServer::Mode::kKeepAlive);
  auto transport = MakeTransport(std::chrono::seconds(5));
  auto ep = ParseUrl(server.url() + "/echo");
  ASSERT_TRUE(ep.ok());
  for (int i = 0; i < 5; ++i) {
    auto r =
        transport->Post(*ep, "application/json", "Bearer t", "{\"i\":" + std::to_string(i) + "}");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "{\"i\":" + std::to_string(i) + "}");
  }
  EXPECT_EQ(transport->connections_opened(), 1u);
  transport.reset();  // closes the pooled connection so that the server can stop
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpTransportTest, RetriesOnceWhenAPooledConnectionWasClosed) {
  ScriptedServer server(ScriptedServer::Mode::kCloseAfterAnswer);
  auto transport = MakeTransport(std::chrono::seconds(5));
  auto ep = ParseUrl(server.url() + "/echo");
  ASSERT_TRUE(ep.ok());
  for (int i = 0; i < 4; ++i) {
    auto r = transport->Post(*ep, "application/json", "", "[" + std::to_string(i) + "]");
    ASSERT_TRUE(r.ok()) << "call " << i << ": " << r.error().message;
    EXPECT_EQ(r->body, "[" + std::to_string(i) + "]");
  }
  // Every call found its pooled connection closed by the server and went again on a new one;
  // no request was answered twice.
  EXPECT_EQ(transport->connections_opened(), 4u);
  EXPECT_EQ(server.answered(), 4);
}

TEST(HttpTransportTest, TimeoutIsReal) {
  // A listening socket nobody accepts from: the kernel completes the connection, nothing
  // ever answers.
  asio::io_context ioc;
  tcp::acceptor silent(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  auto ep = ParseUrl("http://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/x");
  ASSERT_TRUE(ep.ok());
  auto transport = MakeTransport(std::chrono::milliseconds(300));
  auto started = std::chrono::steady_clock::now();
  auto r = transport->Post(*ep, "application/json", "", "{}");
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kTransport);
  EXPECT_NE(r.error().message.find("within 300 ms"), std::string::npos) << r.error().message;
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(HttpTransportTest, ConnectionRefusedIsTransport) {
  asio::io_context ioc;
  tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  auto ep = ParseUrl("http://127.0.0.1:" + std::to_string(a.local_endpoint().port()) + "/x");
  a.close();
  auto transport = MakeTransport(std::chrono::seconds(5));
  auto r = transport->Post(*ep, "application/json", "", "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kTransport);
  EXPECT_NE(r.error().message.find("cannot connect"), std::string::npos) << r.error().message;
}

TEST(HttpTransportTest, MissingCaFileIsInvalidArgument) {
  TransportOptions o;
  o.ca_file = "/nonexistent/ca.pem";
  auto t = HttpTransport::Create(o);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().kind, ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace govesb::sdk::internal
