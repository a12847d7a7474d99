#include "http/response_head.h"

#include <gtest/gtest.h>

#include <boost/beast/http.hpp>
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

}  // namespace
}  // namespace govesb::http::internal
