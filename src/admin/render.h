#pragma once

// The JSON forms of registry and delivery rows: what the admin CLI prints with --json and what
// the admin API answers. One object per row; never a secret hash; times as UTC ISO 8601 text.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "admin/bus.h"
#include "delivery/sqlite_queue.h"
#include "registry/model.h"

namespace govesb::admin {

// UTC, "2024-01-31T12:00:00Z".
std::string IsoTime(int64_t millis);
// A rate or burst as shown: "default" (0), "unlimited" (-1), else the number (an integer when it
// is one). The CLI accepts the same words.
boost::json::value RateJson(double value);

boost::json::object ToJson(const registry::Institution& institution);
// Never includes the secret hash; includes `client_secret` when given (shown once).
boost::json::object ToJson(const registry::System& system,
                           const std::optional<std::string>& client_secret = std::nullopt);
// Adds a system's signature variant usage: "signature_variants" (an array with --json, else one
// line such as "raw 1200 (last …), latin1 3 (last …)", the most used first) and
// "fallback_verifications" (how many signatures verified only with a fallback variant: the
// system still needs fallbacks).
void AddSignatureUsage(boost::json::object& out, const std::vector<registry::SignatureUsage>& usage,
                       bool as_json);
boost::json::object ToJson(const registry::Api& api);
boost::json::object ToJson(const registry::Grant& grant);
boost::json::object ToJson(const registry::Topic& topic);
boost::json::object ToJson(const registry::Subscription& subscription);
// With the contact and the planned systems; the decision when there is one.
boost::json::object ToJson(const registry::MembershipApplication& application);
boost::json::object ToJson(const delivery::DeliveryInfo& d);
boost::json::object ToJson(const delivery::Attempt& a);
// The bus's addresses, key and certificates; `days_left` of each certificate counted from
// `now_ms`; empty paths as null.
boost::json::object ToJson(const BusKeyInfo& key);
boost::json::object ToJson(const BusDescription& bus);

template <typename T>
boost::json::array ToJsonArray(const std::vector<T>& items) {
  boost::json::array out;
  for (const T& item : items) out.push_back(ToJson(item));
  return out;
}

}  // namespace govesb::admin
