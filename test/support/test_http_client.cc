#include "support/test_http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

namespace govesb::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

template <class Stream>
Result<TestResponse> Exchange(Stream& stream, const std::string& method, const std::string& host,
                              const std::string& target, const std::string& body,
                              const std::vector<std::pair<std::string, std::string>>& headers) {
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, host);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();
  boost::system::error_code ec;
  bhttp::write(stream, req, ec);
  if (ec) return Unavailable("write: " + ec.message());
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  // An answer to HEAD has no body, whatever its Content-Length says.
  if (method == "HEAD") parser.skip(true);
  bhttp::read(stream, buffer, parser, ec);
  if (ec) return Unavailable("read: " + ec.message());
  TestResponse out;
  out.status = static_cast<int>(parser.get().result_int());
  out.content_type = std::string(parser.get()[bhttp::field::content_type]);
  out.body = parser.get().body();
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  return out;
}

}  // namespace

std::string TestResponse::Header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return "";
}

Result<TestResponse> HttpPost(const std::string& url, const std::string& body,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              const std::string& ca_file) {
  return HttpCall("POST", url, body, headers, ca_file);
}

Result<TestResponse> HttpCall(const std::string& method, const std::string& url,
                              const std::string& body,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              const std::string& ca_file) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return InvalidArgument("bad url " + url);
  bool tls = u->scheme() == "https";
  std::string host(u->encoded_host());
  std::string port = u->has_port() ? std::string(u->port()) : (tls ? "443" : "80");
  std::string target(u->encoded_path());
  if (target.empty()) target = "/";
  if (u->has_query()) target += "?" + std::string(u->encoded_query());
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  auto results = resolver.resolve(host, port, ec);
  if (ec) return Unavailable("resolve: " + ec.message());
  if (!tls) {
    beast::tcp_stream stream(ioc);
    stream.connect(results, ec);
    if (ec) return Unavailable("connect: " + ec.message());
    return Exchange(stream, method, host, target, body, headers);
  }
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  if (!ca_file.empty()) ctx.load_verify_file(ca_file, ec);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  beast::get_lowest_layer(stream).connect(results, ec);
  if (ec) return Unavailable("connect: " + ec.message());
  stream.set_verify_callback(asio::ssl::host_name_verification(host));
  stream.handshake(asio::ssl::stream_base::client, ec);
  if (ec) return Unavailable("handshake: " + ec.message());
  return Exchange(stream, method, host, target, body, headers);
}

}  // namespace govesb::testing
