#include "http/types.h"

#include <algorithm>
#include <cctype>

namespace govesb::http {

std::string_view HttpRequest::Header(std::string_view lowercase_name) const {
  if (lowercase_name == "content-type") return content_type;
  if (lowercase_name == "authorization") return authorization;
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return {};
}

std::string_view HttpRequest::Path() const {
  std::string_view t = target;
  size_t q = t.find('?');
  return q == std::string_view::npos ? t : t.substr(0, q);
}

}  // namespace govesb::http
