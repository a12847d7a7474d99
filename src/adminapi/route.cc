// The parsers every route handler shares (route.h).
#include "adminapi/route.h"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstdint>

#include "base/log_safe.h"

namespace govesb::adminapi::internal {

namespace json = boost::json;

Result<accounts::Accounts*> AccountsOf(Context& c) {
  if (c.accounts == nullptr) return FailedPrecondition("accounts are not available here");
  return c.accounts;
}

Result<std::string> Str(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || v->is_null()) {
    return InvalidArgument("'" + std::string(name) + "' is required");
  }
  if (!v->is_string()) return InvalidArgument("'" + std::string(name) + "' must be a string");
  return std::string(v->get_string());
}

Result<std::optional<std::string>> OptStr(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return InvalidArgument("'" + std::string(name) + "' must be a string");
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<bool> Bool(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || !v->is_bool()) {
    return InvalidArgument("'" + std::string(name) + "' is required: true or false");
  }
  return v->get_bool();
}

Result<std::optional<bool>> OptBool(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) return InvalidArgument("'" + std::string(name) + "' must be true or false");
  return std::optional<bool>(v->get_bool());
}

Result<std::optional<int64_t>> OptInt(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->get_int64());
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return std::optional<int64_t>(static_cast<int64_t>(v->get_uint64()));
  }
  return InvalidArgument("'" + std::string(name) + "' must be a whole number");
}

Result<std::optional<std::string>> OptJsonText(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (v->is_string()) return std::optional<std::string>(std::string(v->get_string()));
  return std::optional<std::string>(json::serialize(*v));
}

Result<int64_t> QueryInt(const Context& c, std::string_view name, int64_t fallback) {
  std::string text = c.Query(name);
  if (text.empty()) return fallback;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return InvalidArgument("the query parameter '" + std::string(name) +
                           "' must be a whole number");
  }
  return value;
}

Result<int64_t> PathInt(const Context& c, std::string_view name) {
  const std::string& text = c.Path(name);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) {
    return NotFound("no " + std::string(name) + " '" + LogSafe(text) + "'");
  }
  return value;
}

}  // namespace govesb::adminapi::internal
