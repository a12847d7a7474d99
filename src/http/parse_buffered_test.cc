#include "http/parse_buffered.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>
#include <string_view>

namespace govesb::http::internal {
namespace {

namespace bhttp = boost::beast::http;

void Fill(boost::beast::flat_buffer& buffer, std::string_view bytes) {
  auto space = buffer.prepare(bytes.size());
  boost::asio::buffer_copy(space, boost::asio::buffer(bytes.data(), bytes.size()));
  buffer.commit(bytes.size());
}

std::string Text(const boost::beast::flat_buffer& buffer) {
  auto data = buffer.data();
  return std::string(static_cast<const char*>(data.data()), data.size());
}

// As the server reads: the head first (Beast's header read leaves the body in the buffer).
struct Reading {
  bhttp::request_parser<bhttp::string_body> parser;
  boost::beast::flat_buffer buffer;
  boost::system::error_code ec;

  explicit Reading(std::string_view head) {
    parser.body_limit(1024);
    Fill(buffer, head);
    const size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
  }
};

TEST(ParseBufferedTest, AMessageWhollyBufferedIsDoneWithoutARead) {
  Reading r("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_FALSE(r.ec) << r.ec.message();
  ASSERT_TRUE(r.parser.is_header_done());
  ASSERT_FALSE(r.parser.is_done());
  EXPECT_TRUE(ParseBuffered(r.parser, r.buffer, r.ec));
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.parser.get().body(), "hello");
  EXPECT_EQ(r.buffer.size(), 0u);
}

TEST(ParseBufferedTest, ThePipelinedNextMessageStaysInTheBuffer) {
  Reading r(
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nokGET /b HTTP/1.1\r\nHost: "
      "x\r\n\r\n");
  EXPECT_TRUE(ParseBuffered(r.parser, r.buffer, r.ec));
  EXPECT_EQ(r.parser.get().body(), "ok");
  EXPECT_EQ(Text(r.buffer), "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
}

TEST(ParseBufferedTest, AMessageWithoutABodyIsDone) {
  Reading r("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(ParseBuffered(r.parser, r.buffer, r.ec));
  EXPECT_FALSE(r.ec);
}

TEST(ParseBufferedTest, APartOfTheBodyTakesWhatIsThereAndAsksForARead) {
  Reading r("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello");
  EXPECT_FALSE(ParseBuffered(r.parser, r.buffer, r.ec));
  EXPECT_FALSE(r.ec) << "more to read is not an error";
  EXPECT_FALSE(r.parser.is_done());
  // The rest, as a read would bring it, completes the message.
  Fill(r.buffer, "world");
  EXPECT_TRUE(ParseBuffered(r.parser, r.buffer, r.ec));
  EXPECT_EQ(r.parser.get().body(), "helloworld");
}

TEST(ParseBufferedTest, AChunkedBodyBufferedWhole) {
  Reading r(
      "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_TRUE(ParseBuffered(r.parser, r.buffer, r.ec));
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.parser.get().body(), "abcde");
}

TEST(ParseBufferedTest, AChunkCutShortAsksForARead) {
  Reading r("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab");
  EXPECT_FALSE(ParseBuffered(r.parser, r.buffer, r.ec));
  EXPECT_FALSE(r.ec);
  Fill(r.buffer, "c\r\n0\r\n\r\n");
  EXPECT_TRUE(ParseBuffered(r.parser, r.buffer, r.ec));
  EXPECT_EQ(r.parser.get().body(), "abc");
}

TEST(ParseBufferedTest, ABadChunkIsTheParsersError) {
  Reading r("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n");
  EXPECT_FALSE(ParseBuffered(r.parser, r.buffer, r.ec));
  EXPECT_TRUE(r.ec);
  EXPECT_NE(r.ec, bhttp::error::need_more);
}

TEST(ParseBufferedTest, ABodyOverTheLimitIsRefused) {
  Reading r(
      "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "800\r\n" +
      std::string(2048, 'a') + "\r\n0\r\n\r\n");
  EXPECT_FALSE(ParseBuffered(r.parser, r.buffer, r.ec));
  EXPECT_EQ(r.ec, bhttp::error::body_limit);
}

TEST(ParseBufferedTest, AnEmptyBufferAsksForARead) {
  Reading r("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n");
  EXPECT_FALSE(ParseBuffered(r.parser, r.buffer, r.ec));
  EXPECT_FALSE(r.ec);
}

}  // namespace
}  // namespace govesb::http::internal
