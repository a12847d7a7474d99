#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace govesb::http {

// A request as the engine sees it: no Beast types leak out of this module.
struct HttpRequest {
  std::string method;         // "POST", "GET", ...
  std::string target;         // path and query as received
  std::string content_type;   // the Content-Type header's value, if any
  std::string authorization;  // the raw Authorization header value, if any
  std::string body;
  std::string remote_address;
  // The other headers, names lowercased (Content-Type and Authorization are in their members).
  std::vector<std::pair<std::string, std::string>> headers;

  // The value of a header (lowercase name; content-type and authorization included), or empty.
  std::string_view Header(std::string_view lowercase_name) const;
  // The path without the query string.
  std::string_view Path() const;
};

// A Content-Type left empty (an answer's, a request upstream's) means application/json: the
// default needs no string of its own ("application/json" is longer than a string holds inline).
inline std::string_view ContentTypeOrJson(const std::string& content_type) {
  return content_type.empty() ? std::string_view("application/json")
                              : std::string_view(content_type);
}

struct HttpResponse {
  int status = 200;
  std::string content_type;  // empty: application/json (ContentType())
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  // The Content-Type sent (ContentTypeOrJson).
  std::string_view ContentType() const { return ContentTypeOrJson(content_type); }

  static HttpResponse Json(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
};

// Serves one request. Runs on the I/O thread that owns the connection; must not block. A HEAD
// request is answered as a GET would be, body included: the server sends the header alone
// (with that body's Content-Length) and never the body.
using Handler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&)>;

}  // namespace govesb::http
