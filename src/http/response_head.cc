#include "http/response_head.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/container/small_vector.hpp>
#include <charconv>
#include <string_view>
#include <utility>

namespace govesb::http::internal {

namespace bhttp = boost::beast::http;

bool FitsInHead(std::string_view v) {
  return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool FormatResponseHead(const HttpResponse& r, unsigned version, bool keep_alive,
                        std::string& out) {
  if (version != 11 || r.status < 200 || r.status > 999 || r.status == 204 || r.status == 304) {
    return false;
  }
  // As Beast's fields: a set replaces every earlier field of that name (any case) and goes last.
  boost::container::small_vector<std::pair<std::string_view, std::string_view>, 8> fields;
  auto set = [&](std::string_view name, std::string_view value) {
    fields.erase(
        std::remove_if(fields.begin(), fields.end(),
                       [&](const auto& f) { return boost::beast::iequals(f.first, name); }),
        fields.end());
    fields.emplace_back(name, value);
  };
  set("Server", "govesb");
  set("Content-Type", r.ContentType());
  for (const auto& [name, value] : r.headers) {
    if (boost::beast::iequals(name, "connection") ||
        boost::beast::iequals(name, "content-length") ||
        boost::beast::iequals(name, "transfer-encoding") || name.empty() || !FitsInHead(name) ||
        !FitsInHead(value)) {
      return false;
    }
    set(name, value);
  }
  if (!FitsInHead(r.content_type)) return false;
  if (!keep_alive) set("Connection", "close");
  char length[24];
  const auto [length_end, ec] = std::to_chars(length, length + sizeof(length), r.body.size());
  set("Content-Length", std::string_view(length, static_cast<size_t>(length_end - length)));

  out.clear();
  out.append("HTTP/1.1 ");
  char code[4];
  std::to_chars(code, code + sizeof(code), r.status);
  out.append(code, 3).append(" ");
  out.append(bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(r.status))));
  out.append("\r\n");
  for (const auto& [name, value] : fields) {
    out.append(name).append(": ").append(value).append("\r\n");
  }
  out.append("\r\n");
  return true;
}

}  // namespace govesb::http::internal
