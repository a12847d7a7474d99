#include "bench/idle.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/url/parse.hpp>
#include <thread>
#include <vector>

namespace govesb::bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Result<size_t> HoldIdleConnections(const IdleOptions& options) {
  auto url = boost::urls::parse_absolute_uri(options.url);
  if (!url || (url->scheme() != "http" && !(options.tcp_only && url->scheme() == "https"))) {
    return InvalidArgument(options.tcp_only ? "--url must be http(s)://HOST:PORT"
                                            : "--url must be http://HOST:PORT");
  }
  std::string host(url->encoded_host());
  std::string port =
      url->has_port() ? std::string(url->port()) : (url->scheme() == "https" ? "443" : "80");
  asio::io_context ctx;
  tcp::resolver resolver(ctx);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return Unavailable("cannot resolve " + host + ": " + ec.message());
  const std::string request = "GET /health HTTP/1.1\r\nHost: " + host + "\r\n\r\n";

  if (options.source_addresses < 1 || options.source_addresses > 254) {
    return InvalidArgument("--source-addresses must be 1 to 254");
  }
  const tcp::endpoint target = *endpoints.begin();
  if (options.source_addresses > 1 &&
      !(target.address().is_v4() && target.address().to_v4().to_bytes()[0] == 127)) {
    return InvalidArgument("--source-addresses needs a bus on a 127.x.x.x address");
  }
  std::vector<tcp::socket> sockets;
  sockets.reserve(options.connections);
  for (size_t i = 0; i < options.connections; ++i) {
    tcp::socket s(ctx);
    if (options.source_addresses > 1) {
      const auto last = static_cast<unsigned char>(1 + i % options.source_addresses);
      s.open(tcp::v4(), ec);
      if (!ec) s.bind(tcp::endpoint(asio::ip::address_v4({127, 0, 1, last}), 0), ec);
      if (!ec) s.connect(target, ec);
    } else {
      asio::connect(s, endpoints, ec);
    }
    if (ec) {
      return Unavailable("connection " + std::to_string(i + 1) + " failed: " + ec.message() +
                         " (raise ulimit -n?)");
    }
    if (options.tcp_only) {
      s.set_option(asio::socket_base::linger(true, 0), ec);
      sockets.push_back(std::move(s));
      continue;
    }
    asio::write(s, asio::buffer(request), ec);
    asio::streambuf answer;
    if (!ec) asio::read_until(s, answer, "}", ec);  // /health answers a small JSON object
    if (ec)
      return Unavailable("request on connection " + std::to_string(i + 1) +
                         " failed: " + ec.message());
    sockets.push_back(std::move(s));
  }
  if (options.on_held) options.on_held(sockets.size());
  std::this_thread::sleep_for(options.hold);
  return sockets.size();
}

}  // namespace govesb::bench
