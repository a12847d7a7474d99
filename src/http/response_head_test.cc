#include "http/response_head.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <sstream>

namespace govesb::http::internal {
namespace {

namespace bhttp = boost::beast::http;

// What the server wrote before, through Beast's serializer: the reference.
std::string BeastBytes(const HttpResponse& r, bool keep_alive, bool head_only) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), 11};
  res.set(bhttp::field::server, "govesb");
  res.set(bhttp::field::content_type, r.ContentType());
  for (const auto& [name, value] : r.headers) res.set(name, value);
  res.body() = r.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  std::ostringstream os;
  if (head_only) {
    os << res.base();
  } else {
    os << res;
  }
  return os.str();
}

HttpResponse Response(int status, std::string body, std::string content_type = "application/json",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  r.headers = std::move(headers);
  return r;
}

TEST(ResponseHeadTest, TheBytesAreThoseOfBeastsSerializer) {
  const std::vector<HttpResponse> responses = {
      Response(200, R"({"data":{"success":true},"signature":"MEUCIQ"})"),
      Response(200, ""),
      Response(200, "{}", ""),  // no type set: application/json
      Response(200, std::string(70'000, 'x'), "application/xml"),
      Response(400, R"({"error":"invalid_request"})"),
      Response(401, "{}", "application/json", {{"WWW-Authenticate", "Bearer"}}),
      Response(404, "not found", "text/plain"),
      Response(405, "{}", "application/json", {{"Allow", "POST"}}),
      Response(413, "{}"),
      Response(429, "{}", "application/json", {{"Retry-After", "3"}}),
      Response(500, "{}"),
      Response(502, "{}"),
      Response(503, "{}", "application/json",
               {{"Retry-After", "1"}, {"Cache-Control", "no-store"}}),
      Response(599, "{}"),  // a status Beast has no reason phrase for
      // A handler's header replaces the one set before it, whatever its case, and goes last.
      Response(200, "<p>", "application/json", {{"Content-Type", "text/html; charset=utf-8"}}),
      Response(200, "x", "text/plain", {{"server", "other"}, {"X-A", "1"}, {"x-a", "2"}}),
      Response(302, "", "text/plain", {{"Location", "/portal/"}, {"Set-Cookie", "s=1; HttpOnly"}}),
  };
  for (const HttpResponse& r : responses) {
    for (bool keep_alive : {true, false}) {
      std::string head;
      ASSERT_TRUE(FormatResponseHead(r, 11, keep_alive, head)) << r.status;
      EXPECT_EQ(head + r.body, BeastBytes(r, keep_alive, false))
          << r.status << " keep-alive " << keep_alive;
      EXPECT_EQ(head, BeastBytes(r, keep_alive, true)) << r.status << " (HEAD)";
    }
  }
}

TEST(ResponseHeadTest, AnAnswerWithNoContentTypeSetIsJson) {
  std::string head;
  ASSERT_TRUE(FormatResponseHead(Response(200, "{}", ""), 11, true, head));
  EXPECT_NE(head.find("\r\nContent-Type: application/json\r\n"), std::string::npos) << head;
  EXPECT_EQ(HttpResponse().ContentType(), "application/json");
  EXPECT_EQ(Response(200, "", "text/plain").ContentType(), "text/plain");
}

TEST(ResponseHeadTest, WhatItDoesNotFormatIsLeftToBeast) {
  std::string head;
  EXPECT_FALSE(FormatResponseHead(Response(200, "{}"), 10, true, head));  // HTTP/1.0
  EXPECT_FALSE(FormatResponseHead(Response(204, ""), 11, true, head));
  EXPECT_FALSE(FormatResponseHead(Response(304, ""), 11, true, head));
  EXPECT_FALSE(FormatResponseHead(Response(101, ""), 11, true, head));
  EXPECT_FALSE(FormatResponseHead(
      Response(200, "{}", "application/json", {{"Connection", "close"}}), 11, true, head));
  EXPECT_FALSE(FormatResponseHead(
      Response(200, "{}", "application/json", {{"content-length", "2"}}), 11, true, head));
  EXPECT_FALSE(FormatResponseHead(
      Response(200, "{}", "application/json", {{"X-A", "1\r\nX-Injected: 1"}}), 11, true, head));
  EXPECT_FALSE(FormatResponseHead(Response(200, "{}", "text/plain\r\nX: 1"), 11, true, head));
}

// A loopback connection on `io`: the end the bus writes to (`sender`) and the peer's end.
struct Loopback {
  explicit Loopback(boost::asio::io_context& io) : sender(io), receiver(io) {
    using boost::asio::ip::tcp;
    tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    sender.socket().connect(acceptor.local_endpoint());
    receiver = acceptor.accept();
  }
  boost::beast::tcp_stream sender;
  boost::asio::ip::tcp::socket receiver;
};

// A write started while other handlers wait on its thread leaves after them (other exchanges'
// stages), and the writes of one round leave together once those handlers have run.
TEST(ResponseHeadTest, AWriteLeavesAfterTheHandlersAlreadyQueued) {
  namespace asio = boost::asio;
  asio::io_context io(1);
  std::deque<Loopback> connections;
  for (int i = 0; i < 2; ++i) connections.emplace_back(io);
  std::vector<std::string> heads(2, std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"));
  const size_t message = heads[0].size() + 2;
  std::vector<boost::system::error_code> results(2, asio::error::would_block);
  std::vector<size_t> seen_before(2, 0);  // on each connection, by the handler queued before
  std::vector<size_t> seen_after;         // on both, by a handler queued after both writes
  for (int i = 0; i < 2; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          asio::post(io, [&, i] {
            seen_before[i] = connections[i].receiver.available();
            if (i == 1) {
              asio::post(io, [&] {
                seen_after.push_back(connections[0].receiver.available() +
                                     connections[1].receiver.available());
              });
            }
          });
          results[i] = co_await WriteAfterQueuedHandlers(connections[i].sender, heads[i], "{}");
        },
        asio::detached);
  }
  io.run();
  for (const auto& ec : results) EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(seen_before, (std::vector<size_t>{0, 0}))
      << "a write left before a handler queued before it";
  EXPECT_EQ(seen_after, (std::vector<size_t>{2 * message}))
      << "the writes did not leave before the handlers queued after them";
  for (Loopback& c : connections) {
    EXPECT_EQ(c.receiver.available(), message);
    std::string got(message, '\0');
    asio::read(c.receiver, asio::buffer(got));
    EXPECT_EQ(got, heads[0] + "{}");
  }
}

// The first send does not wait: what a full socket does not take goes on asynchronously, in
// order, and the whole message arrives; a small message is written without a pass of the loop.
TEST(ResponseHeadTest, AWriteLargerThanTheSocketTakesGoesOnAsynchronously) {
  namespace asio = boost::asio;
  asio::io_context io(1);
  Loopback connection(io);
  auto& [sender, receiver] = connection;
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\n\r\n";
  const std::string expected_head = head;
  std::string body(8 << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 23);
  boost::system::error_code write_result = asio::error::would_block;
  bool small_written_inline = false;
  std::string small_head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
  std::string got;
  bool posted_ran = false;  // outlives the coroutine, which may end before the handler runs
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        write_result = co_await WriteHeadAndBody(sender, head, body);
        // The receiver has drained the large one by now; a small one fits at once. A handler
        // posted before it must not have run when it returns: it went through no queue.
        asio::post(io, [&] { posted_ran = true; });
        const auto ec = co_await WriteHeadAndBody(sender, small_head, "{}");
        small_written_inline = !ec && !posted_ran;
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::array<char, 65536> chunk;
        const size_t total = expected_head.size() + body.size() + small_head.size() + 2;
        while (got.size() < total) {
          auto [ec, n] = co_await receiver.async_read_some(asio::buffer(chunk),
                                                           asio::as_tuple(asio::use_awaitable));
          if (ec) break;
          got.append(chunk.data(), n);
        }
      },
      asio::detached);
  io.run();
  EXPECT_FALSE(write_result) << write_result.message();
  EXPECT_TRUE(small_written_inline);
  EXPECT_EQ(requests_in_flight, 0);
  ASSERT_EQ(got.size(), expected_head.size() + body.size() + small_head.size() + 2);
  EXPECT_TRUE(got == expected_head + body + small_head + "{}") << "the bytes arrived changed";
}

// A busy thread's write goes through the loop's queue: the handler posted before it runs first.
TEST(ResponseHeadTest, ABusyThreadsWriteGoesThroughTheQueue) {
  namespace asio = boost::asio;
  asio::io_context io(1);
  Loopback connection(io);
  auto& [sender, receiver] = connection;
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
  bool posted_ran_first = false;
  bool posted_ran = false;
  boost::system::error_code result = asio::error::would_block;
  {
    std::array<InFlightRequest, kQuietThreadRequests + 1> busy;
    EXPECT_FALSE(QuietThread());
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          asio::post(io, [&] { posted_ran = true; });
          result = co_await WriteHeadAndBody(sender, head, "{}");
          posted_ran_first = posted_ran;
        },
        asio::detached);
    io.run();
  }
  EXPECT_TRUE(QuietThread());
  EXPECT_FALSE(result) << result.message();
  EXPECT_TRUE(posted_ran_first);
  std::string got(head.size() + 2, '\0');
  asio::read(receiver, asio::buffer(got));
  EXPECT_EQ(got, head + "{}");
}

}  // namespace
}  // namespace govesb::http::internal
