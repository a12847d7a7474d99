// The JSON forms of registry and delivery rows, shared by the admin CLI and the admin API.
#include "admin/render.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "base/encoding.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"

namespace govesb::admin {
namespace {
namespace json = boost::json;

// "" as null: a text not given.
json::value TextOrNull(const std::string& text) {
  return text.empty() ? json::value(nullptr) : json::value(text);
}

json::value TimeOrNull(int64_t millis) {
  return millis == 0 ? json::value(nullptr) : json::value(IsoTime(millis));
}

// Who asked for access and why, who decided and why (null when not recorded).
void AddTrail(json::object& out, const registry::AccessTrail& trail) {
  out["requested_by"] = TextOrNull(trail.requested_by);
  out["purpose"] = TextOrNull(trail.purpose);
  out["requested_at"] = TimeOrNull(trail.requested_at);
  out["decided_by"] = TextOrNull(trail.decided_by);
  out["reason"] = TextOrNull(trail.reason);
  out["decided_at"] = TimeOrNull(trail.decided_at);
}

}  // namespace

std::string IsoTime(int64_t millis) {
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

// A rate or burst as shown: "default" (0), "unlimited" (-1), else the number (an integer when it
// is one). The CLI accepts the same words.
json::value RateJson(double value) {
  if (value == registry::kRateDefault) return "default";
  if (value == registry::kRateUnlimited) return "unlimited";
  if (std::trunc(value) == value && std::abs(value) < 1e15) return static_cast<int64_t>(value);
  return value;
}

json::object ToJson(const registry::Institution& institution) {
  json::object out;
  out["code"] = institution.code;
  out["name"] = institution.name;
  out["created_at"] = IsoTime(institution.created_at);
  out["suspended"] = institution.suspended;
  out["updated_at"] = TimeOrNull(institution.updated_at);
  return out;
}

// Never includes the secret hash.
json::object ToJson(const registry::System& system,
                    const std::optional<std::string>& client_secret) {
  json::object out;
  out["client_id"] = system.client_id;
  if (client_secret.has_value()) out["client_secret"] = *client_secret;
  out["institution"] = system.institution_code;
  out["name"] = system.name;
  out["public_key"] = system.public_key_b64;
  out["curve"] = crypto::CurveName(system.curve);
  out["endpoint"] = system.endpoint;
  out["enabled"] = system.enabled;
  out["institution_suspended"] = system.institution_suspended;
  out["credential_version"] = system.credential_version;
  out["rate_per_second"] = RateJson(system.rate_per_second);
  out["rate_burst"] = RateJson(system.rate_burst);
  out["signature_fallbacks"] = system.signature_fallbacks;
  out["serialisation"] = system.serialisation;
  out["serialisation_learned"] = system.serialisation_learned;
  out["serialisation_effective"] =
      registry::EffectiveSerialisation(system.serialisation, system.serialisation_learned);
  out["created_at"] = IsoTime(system.created_at);
  out["updated_at"] = IsoTime(system.updated_at);
  // When its key and its secret last changed (the compliance rules' key and secret ages).
  out["key_changed_at"] = IsoTime(system.key_changed_at);
  out["secret_changed_at"] = IsoTime(system.secret_changed_at);
  return out;
}

// Adds a system's signature variant usage: "signature_variants" (an array with --json, else
// one line such as "raw 1200 (last …), latin1 3 (last …)") and "fallback_verifications" (how
// many signatures verified only with a fallback variant: the system still needs fallbacks).
void AddSignatureUsage(json::object& out, const std::vector<registry::SignatureUsage>& usage,
                       bool as_json) {
  int64_t fallbacks = 0;
  json::array variants;
  std::string line;
  // The most used first.
  std::vector<registry::SignatureUsage> sorted = usage;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.count > b.count; });
  for (const registry::SignatureUsage& u : sorted) {
    // Serialisation forms seen are listed with the variants but are not fallbacks.
    if (u.variant != registry::kSignatureVariantRaw &&
        !u.variant.starts_with(registry::kSerialisationUsagePrefix)) {
      fallbacks += u.count;
    }
    json::object v;
    v["variant"] = u.variant;
    v["count"] = u.count;
    v["first_at"] = IsoTime(u.first_at);
    v["last_at"] = IsoTime(u.last_at);
    variants.push_back(std::move(v));
    if (!line.empty()) line += ", ";
    line += u.variant + " " + std::to_string(u.count) + " (last " + IsoTime(u.last_at) + ")";
  }
  if (as_json) {
    out["signature_variants"] = std::move(variants);
  } else {
    out["signature_variants"] = line.empty() ? "none recorded" : line;
  }
  out["fallback_verifications"] = fallbacks;
}

json::object ToJson(const registry::Api& api) {
  json::object out;
  out["code"] = api.code;
  out["provider"] = api.provider_client_id;
  out["endpoint"] = api.endpoint;
  if (api.endpoint_override.empty()) {
    out["endpoint_override"] = nullptr;
  } else {
    out["endpoint_override"] = api.endpoint_override;
  }
  out["timeout_ms"] = api.timeout_ms;
  out["mode"] = api.async ? "async" : "sync";
  if (api.callback_endpoint.empty()) {
    out["callback_endpoint"] = nullptr;
  } else {
    out["callback_endpoint"] = api.callback_endpoint;
  }
  out["store_bodies"] = api.store_bodies;
  out["rate_per_second"] = RateJson(api.rate_per_second);  // per consumer
  out["rate_burst"] = RateJson(api.rate_burst);
  out["replay_policy"] = registry::ReplayPolicyName(api.replay_policy);
  out["created_at"] = IsoTime(api.created_at);
  // The catalogue: who provides it and what it is. The OpenAPI document itself is not here
  // (Registry::GetApi holds it); has_openapi says whether there is one.
  out["enabled"] = api.enabled;
  out["provider_name"] = api.provider_name;
  out["provider_institution"] = api.provider_institution_code;
  out["provider_institution_name"] = api.provider_institution_name;
  out["title"] = api.title;
  out["description"] = api.description;
  out["request_example"] = TextOrNull(api.request_example);
  out["response_example"] = TextOrNull(api.response_example);
  out["has_openapi"] = api.has_openapi;
  // The contract (GET /api/v1/apis/{code}/contract, `admin api schema CODE --show` show the
  // schemas): its texts' SHA-256, so that the journal records which contract was in force.
  auto digest = [](const std::string& text) -> json::value {
    if (text.empty()) return nullptr;
    return json::value(HexEncode(crypto::Sha256(text)));
  };
  out["request_schema_sha256"] = digest(api.request_schema);
  out["response_schema_sha256"] = digest(api.response_schema);
  return out;
}

json::object ToJson(const registry::Grant& grant) {
  json::object out;
  out["consumer"] = grant.consumer_client_id;
  out["api"] = grant.api_code;
  out["state"] = grant.state;
  out["created_at"] = IsoTime(grant.created_at);
  out["updated_at"] = IsoTime(grant.updated_at);
  AddTrail(out, grant.trail);
  json::array purposes;
  for (const registry::Purpose& p : grant.purposes) {
    purposes.push_back(json::object{{"code", p.code}, {"text", p.text}});
  }
  out["purposes"] = std::move(purposes);
  out["purpose_required"] = grant.purpose_required;
  // The answer fields the consumer receives; an empty list: every field.
  json::array fields;
  for (const std::string& f : grant.fields) fields.emplace_back(f);
  out["fields"] = std::move(fields);
  return out;
}

json::object ToJson(const registry::Topic& topic) {
  json::object out;
  out["code"] = topic.code;
  out["publisher"] = topic.publisher_client_id;
  out["created_at"] = IsoTime(topic.created_at);
  out["title"] = topic.title;
  out["description"] = topic.description;
  out["message_example"] = TextOrNull(topic.message_example);
  out["enabled"] = topic.enabled;
  return out;
}

json::object ToJson(const registry::Subscription& subscription) {
  json::object out;
  out["subscriber"] = subscription.subscriber_client_id;
  out["topic"] = subscription.topic_code;
  out["endpoint"] = subscription.endpoint;
  if (subscription.endpoint_override.empty()) {
    out["endpoint_override"] = nullptr;
  } else {
    out["endpoint_override"] = subscription.endpoint_override;
  }
  out["state"] = subscription.state;
  out["created_at"] = IsoTime(subscription.created_at);
  out["updated_at"] = IsoTime(subscription.updated_at);
  AddTrail(out, subscription.trail);
  return out;
}

json::object ToJson(const registry::MembershipApplication& application) {
  json::object out;
  out["id"] = application.id;
  out["institution_code"] = application.institution_code;
  out["institution_name"] = application.institution_name;
  out["details"] = application.details;
  out["contact_name"] = application.contact_name;
  out["contact_email"] = application.contact_email;
  out["contact_phone"] = TextOrNull(application.contact_phone);
  json::array planned;
  for (const registry::PlannedSystem& p : application.planned_systems) {
    json::object system;
    system["name"] = p.name;
    system["description"] = p.description;
    planned.push_back(std::move(system));
  }
  out["planned_systems"] = std::move(planned);
  out["state"] = application.state;
  out["submitted_at"] = IsoTime(application.submitted_at);
  out["decided_by"] = TextOrNull(application.decided_by);
  out["reason"] = TextOrNull(application.reason);
  out["decided_at"] = TimeOrNull(application.decided_at);
  return out;
}

json::object ToJson(const delivery::DeliveryInfo& d) {
  json::object out;
  out["id"] = d.id;
  out["request_id"] = d.request_id;
  out["kind"] = delivery::MessageKindName(d.kind);
  out["code"] = d.code;
  out["recipient"] = d.target_client_id;
  out["state"] = delivery::DeliveryStateName(d.state);
  out["attempts"] = d.attempts;
  if (d.state == delivery::DeliveryState::kPending) {
    out["next_attempt_at"] = IsoTime(d.next_attempt_at_ms);
  } else {
    out["next_attempt_at"] = nullptr;
  }
  if (d.last_error.empty()) {
    out["last_error"] = nullptr;
  } else {
    out["last_error"] = d.last_error;
  }
  out["created_at"] = IsoTime(d.created_at_ms);
  out["updated_at"] = IsoTime(d.updated_at_ms);
  return out;
}

json::object ToJson(const delivery::Attempt& a) {
  json::object out;
  out["at"] = IsoTime(a.at_ms);
  out["outcome"] = a.outcome;
  out["http_status"] = a.http_status;
  out["latency_us"] = a.latency_us;
  if (a.error.empty()) {
    out["error"] = nullptr;
  } else {
    out["error"] = a.error;
  }
  return out;
}

json::object ToJson(const BusKeyInfo& key) {
  json::object out;
  out["key_id"] = key.key_id;
  out["status"] = key.status;
  out["curve"] = key.curve;
  out["public_key"] = key.public_key;
  out["created_at"] = IsoTime(key.created_at_ms);
  out["valid_from"] = key.valid_from_ms ? json::value(IsoTime(*key.valid_from_ms)) : nullptr;
  out["not_after"] = key.not_after_ms ? json::value(IsoTime(*key.not_after_ms)) : nullptr;
  out["private_key_erased"] = key.private_key_erased;
  return out;
}

json::object ToJson(const BusDescription& bus) {
  json::object out;
  out["exchange_url"] = TextOrNull(bus.info.exchange_url);
  out["token_url"] = bus.info.exchange_url.empty()
                         ? json::value(nullptr)
                         : json::value(bus.info.exchange_url + "/gw/govesb-uaa/oauth/token");
  out["engine_url"] = bus.info.exchange_url.empty()
                          ? json::value(nullptr)
                          : json::value(bus.info.exchange_url + "/engine/esb");
  out["admin_url"] = TextOrNull(bus.info.admin_url);
  out["version"] = TextOrNull(bus.info.version);
  out["started_at"] = TimeOrNull(bus.info.started_at_ms);
  out["public_key"] = TextOrNull(bus.public_key);
  out["curve"] = TextOrNull(bus.curve);
  json::array keys;
  for (const BusKeyInfo& k : bus.keys) keys.push_back(ToJson(k));
  out["keys"] = std::move(keys);
  json::object tls;
  tls["mode"] = bus.info.tls;
  tls["certificate_file"] = TextOrNull(bus.info.certificate_file);
  tls["ca_file"] = TextOrNull(bus.info.ca_file);
  json::array chain;
  for (const crypto::CertificateInfo& c : bus.certificates) {
    json::object o;
    o["subject"] = c.subject;
    o["issuer"] = c.issuer;
    o["serial"] = c.serial;
    o["not_before"] = IsoTime(c.not_before_ms);
    o["not_after"] = IsoTime(c.not_after_ms);
    // Whole days until it expires (negative once it has).
    int64_t left_ms = c.not_after_ms - bus.now_ms;
    o["days_left"] = left_ms >= 0 ? left_ms / 86'400'000 : -((-left_ms + 86'399'999) / 86'400'000);
    json::array names;
    for (const std::string& n : c.names) names.emplace_back(n);
    o["names"] = std::move(names);
    o["key"] = c.key;
    o["sha256_fingerprint"] = c.sha256_fingerprint;
    o["self_signed"] = c.self_signed;
    o["is_ca"] = c.is_ca;
    chain.push_back(std::move(o));
  }
  tls["certificates"] = std::move(chain);
  tls["problem"] = TextOrNull(bus.certificate_problem);
  tls["ca_pem"] = TextOrNull(bus.ca_pem);
  out["tls"] = std::move(tls);
  out["data_dir"] = TextOrNull(bus.info.data_dir);
  return out;
}

}  // namespace govesb::admin
