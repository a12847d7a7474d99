// Admission control, TLS handshake timeout and clear answers to malformed chunked bodies,
// against a real HttpServer on a loopback port, with plain POSIX sockets as the clients.
#include "http/admission.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "http/server.h"
#include "http/tls.h"

namespace govesb::http {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

asio::awaitable<HttpResponse> Echo(HttpRequest& req) {
  HttpResponse r;
  r.body = "got " + std::to_string(req.body.size());
  co_return r;
}

// A blocking loopback client. Reads give up after 5 s, so a test that would hang without the
// behaviour under test fails instead.
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawClient() { Close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Everything until the peer closes; `closed` tells whether it did (false: timed out).
  std::string ReadToEnd(bool* closed) {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      *closed = n == 0 || errno == ECONNRESET;
      return out;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// Polls `condition` for up to 5 s (the server's state changes on its own threads).
template <class F>
bool Eventually(F condition) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

std::string Get(const std::string& path = "/") {
  return "GET " + path + " HTTP/1.1\r\nHost: bus\r\nConnection: close\r\n\r\n";
}

class AdmissionTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options) {
    server_ = std::make_unique<HttpServer>(io_, std::move(options), Echo);
    ASSERT_TRUE(server_->Listen().ok());
    server_->Start();
    io_.Start();
  }
  void StartTlsServer(ServerOptions options) {
    dir_ = std::filesystem::temp_directory_path() /
           ("govesb-admission-" + std::to_string(::getpid()) + "-" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    auto files = EnsureSelfSignedCertificate(dir_.string(), {});
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    auto ctx = MakeServerTlsContext(files->files.cert, files->files.key);
    ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
    options.tls = *ctx;
    StartServer(std::move(options));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    io_.Stop();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  uint16_t port() const { return server_->port(); }

  IoThreads io_{2};
  std::unique_ptr<HttpServer> server_;
  std::filesystem::path dir_;
};

TEST(ConnectionAdmission, CountsTotalAndPerAddress) {
  ConnectionAdmission a(3, 2);
  using V = ConnectionAdmission::Verdict;
  EXPECT_EQ(a.TryAdmit("10.0.0.1"), V::kAdmit);
  EXPECT_EQ(a.TryAdmit("10.0.0.1"), V::kAdmit);
  EXPECT_EQ(a.TryAdmit("10.0.0.1"), V::kOverAddress);
  EXPECT_EQ(a.TryAdmit("10.0.0.2"), V::kAdmit);
  EXPECT_EQ(a.TryAdmit("10.0.0.3"), V::kOverTotal);
  EXPECT_EQ(a.open(), 3u);
  a.Release("10.0.0.1");
  EXPECT_EQ(a.open_from("10.0.0.1"), 1u);
  EXPECT_EQ(a.TryAdmit("10.0.0.3"), V::kAdmit);
  a.Release("10.0.0.2");
  EXPECT_EQ(a.open_from("10.0.0.2"), 0u);
}

TEST(ConnectionAdmission, CapStaysBelowTheOpenFileLimit) {
  EXPECT_EQ(SafeConnectionLimit(10'000, 1'048'576), 10'000u);
  EXPECT_EQ(SafeConnectionLimit(10'000, 20'000), 10'000u);
  EXPECT_EQ(SafeConnectionLimit(50'000, 20'000), 16'000u);  // a fifth kept
  EXPECT_EQ(SafeConnectionLimit(10'000, 1024), 512u);       // at least 512 kept
  EXPECT_EQ(SafeConnectionLimit(10'000, 300), 1u);
  EXPECT_EQ(SafeConnectionLimit(10, 0), 10u);  // unknown limit
  EXPECT_GE(RaiseOpenFileLimit(), OpenFileLimit() > 0 ? 1u : 0u);
}

TEST(ConnectionAdmission, PrometheusText) {
  HttpServerStats s;
  s.open_connections = 7;
  s.refused_total = 3;
  s.refused_per_address = 2;
  s.handshake_timeouts = 5;
  s.accept_errors = 1;
  std::string text = PrometheusText(s);
  EXPECT_NE(text.find("govesb_http_connections_open 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find("govesb_http_connections_refused_total{reason=\"total\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("govesb_http_connections_refused_total{reason=\"per_address\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("govesb_http_tls_handshake_timeouts_total 5\n"), std::string::npos);
  EXPECT_NE(text.find("govesb_http_accept_errors_total 1\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE govesb_http_connections_refused_total counter\n"), std::string::npos);
}

TEST_F(AdmissionTest, OverTheTotalCapPlainHttpGets503AndIsServedAgainLater) {
  ServerOptions o;
  o.max_connections = 2;
  StartServer(o);
  RawClient a(port()), b(port());
  ASSERT_TRUE(a.connected() && b.connected());
  ASSERT_TRUE(Eventually([&] { return server_->stats().open_connections == 2; }));

  RawClient refused(port());
  ASSERT_TRUE(refused.Send(Get()));
  bool closed = false;
  std::string answer = refused.ReadToEnd(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(answer.rfind("HTTP/1.1 503 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("Retry-After: 1\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("limit of 2 open connections"), std::string::npos) << answer;
  EXPECT_EQ(server_->stats().refused_total, 1u);

  // Once one of the others goes away, a new connection is served.
  a.Close();
  ASSERT_TRUE(Eventually([&] { return server_->stats().open_connections == 1; }));
  RawClient later(port());
  ASSERT_TRUE(later.Send(Get()));
  answer = later.ReadToEnd(&closed);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 ", 0), 0u) << answer;
  EXPECT_EQ(server_->stats().refused_total, 1u);
}

TEST_F(AdmissionTest, OverThePerAddressCapPlainHttpGets429) {
  ServerOptions o;
  o.max_connections_per_address = 1;
  StartServer(o);
  RawClient held(port());
  ASSERT_TRUE(Eventually([&] { return server_->stats().open_connections == 1; }));
  RawClient second(port());
  ASSERT_TRUE(second.Send(Get()));
  bool closed = false;
  std::string answer = second.ReadToEnd(&closed);
  EXPECT_EQ(answer.rfind("HTTP/1.1 429 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("Retry-After: 1\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("too many open connections from your address"), std::string::npos);
  auto stats = server_->stats();
  EXPECT_EQ(stats.refused_per_address, 1u);
  EXPECT_EQ(stats.refused_total, 0u);
}

TEST_F(AdmissionTest, OverTheCapTlsIsClosedAtOnce) {
  ServerOptions o;
  o.max_connections = 1;
  StartTlsServer(o);
  RawClient held(port());  // silent: admitted, waiting for its first byte
  ASSERT_TRUE(Eventually([&] { return server_->stats().open_connections == 1; }));
  RawClient refused(port());
  bool closed = false;
  std::string answer = refused.ReadToEnd(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(answer, "");
  EXPECT_EQ(server_->stats().refused_total, 1u);
}

TEST_F(AdmissionTest, SilentTlsConnectionIsClosedAfterTheHandshakeTimeout) {
  ServerOptions o;
  o.handshake_timeout = milliseconds(200);
  o.read_timeout = std::chrono::seconds(60);  // not the one that applies
  StartTlsServer(o);
  RawClient silent(port());
  RawClient partial(port());
  // The start of a TLS record (handshake, TLS 1.0 record version) and nothing more.
  ASSERT_TRUE(partial.Send(std::string("\x16\x03\x01", 3)));
  bool closed = false;
  silent.ReadToEnd(&closed);
  EXPECT_TRUE(closed) << "a silent connection must be closed by the handshake timeout";
  closed = false;
  partial.ReadToEnd(&closed);
  EXPECT_TRUE(closed) << "a stalled handshake must be closed by the handshake timeout";
  ASSERT_TRUE(Eventually([&] { return server_->stats().handshake_timeouts == 2; }));
  EXPECT_TRUE(Eventually([&] { return server_->stats().open_connections == 0; }));
}

const char kChunkedHeader[] =
    "POST /x HTTP/1.1\r\nHost: bus\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

TEST_F(AdmissionTest, HugeChunkExtensionGetsAClear400) {
  StartServer({});
  RawClient c(port());
  std::string request =
      kChunkedHeader + ("5;ext=" + std::string(100'000, 'a')) + "\r\nhello\r\n0\r\n\r\n";
  c.Send(request);
  bool closed = false;
  std::string answer = c.ReadToEnd(&closed);
  EXPECT_EQ(answer.rfind("HTTP/1.1 400 ", 0), 0u) << answer.substr(0, 300);
  EXPECT_NE(answer.find("chunk extensions"), std::string::npos) << answer;
  EXPECT_NE(answer.find("larger than the limit of 16384 bytes"), std::string::npos) << answer;
}

TEST_F(AdmissionTest, MalformedChunkGetsAClear400) {
  StartServer({});
  RawClient c(port());
  c.Send(std::string(kChunkedHeader) + "zz\r\nhello\r\n0\r\n\r\n");
  bool closed = false;
  std::string answer = c.ReadToEnd(&closed);
  EXPECT_EQ(answer.rfind("HTTP/1.1 400 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("malformed HTTP request body"), std::string::npos) << answer;
}

TEST_F(AdmissionTest, ChunkedBodyOverTheLimitGets413) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  StartServer(o);
  RawClient c(port());
  c.Send(std::string(kChunkedHeader) + "800\r\n" + std::string(0x800, 'x') + "\r\n0\r\n\r\n");
  bool closed = false;
  std::string answer = c.ReadToEnd(&closed);
  EXPECT_EQ(answer.rfind("HTTP/1.1 413 ", 0), 0u) << answer;
}

TEST_F(AdmissionTest, TransferEncodingNotEndingInChunkedIsRefusedAndClosed) {
  // Regression (attack suite): "chunked, identity" was read as a request without a body, and
  // the bytes after the headers were then served as a second request (request smuggling).
  StartServer({});
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: bus\r\n\r\n";
  for (const char* te : {"chunked, identity", "gzip, chunked", "identity",
                         "chunked\r\nTransfer-Encoding: chunked"}) {
    RawClient c(port());
    c.Send(std::string("POST /x HTTP/1.1\r\nHost: bus\r\nTransfer-Encoding: ") + te +
           "\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + smuggled);
    bool closed = false;
    std::string answer = c.ReadToEnd(&closed);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400 ", 0), 0u) << te << ": " << answer;
    EXPECT_NE(answer.find("Transfer-Encoding"), std::string::npos) << answer;
    EXPECT_EQ(answer.find("HTTP/1.1", 5), std::string::npos)
        << te << ": a second answer means the body was served as a request: " << answer;
    EXPECT_TRUE(closed) << te;
  }
}

// Regression: a HEAD answer said Content-Length: 0 (its handler had dropped the body), or,
// answered as GET, carried the body, which a client takes for the start of the next answer on a
// kept-alive connection. It must have the GET's Content-Length and no body.
TEST_F(AdmissionTest, HeadHasTheContentLengthOfGetAndNoBodySoTheConnectionStaysFramed) {
  StartServer({});
  RawClient c(port());
  c.Send(
      "HEAD /page HTTP/1.1\r\nHost: bus\r\n\r\n"
      "GET /page HTTP/1.1\r\nHost: bus\r\nConnection: close\r\n\r\n");
  bool closed = false;
  const std::string answers = c.ReadToEnd(&closed);
  EXPECT_TRUE(closed);
  const size_t head_end = answers.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << answers;
  const std::string head = answers.substr(0, head_end + 2);
  EXPECT_EQ(head.rfind("HTTP/1.1 200 ", 0), 0u) << head;
  // Echo answers "got 0": 5 bytes.
  EXPECT_NE(head.find("Content-Length: 5\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: application/json\r\n"), std::string::npos) << head;
  const std::string rest = answers.substr(head_end + 4);
  EXPECT_EQ(rest.rfind("HTTP/1.1 200 ", 0), 0u)
      << "the bytes after the HEAD answer's header are not the next answer: " << rest;
  EXPECT_NE(rest.find("Content-Length: 5\r\n"), std::string::npos) << rest;
  EXPECT_EQ(rest.substr(rest.size() - 5), "got 0") << "the GET has its body";
}

}  // namespace
}  // namespace govesb::http
