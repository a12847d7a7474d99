// AdminService's compliance report (docs/compliance.md): the facts of every system in scope,
// gathered from the registry, the signature usage counts, the delivery store and a bounded read
// of the evidence log, rated by RateSystem (compliance_rules.cc); and the operator's thresholds.
#include "admin/compliance.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "admin/policy.h"
#include "admin/service.h"
#include "crypto/keys.h"

namespace govesb::admin {
namespace {

namespace json = boost::json;

constexpr int64_t kDayMs = int64_t{24} * 3600 * 1000;
constexpr double kMonthDays = 30;

bool IsOpening(std::string_view kind) {
  return kind == "request" || kind == "nida-request" || kind == "push" || kind == "async";
}

bool IsPlain(std::string_view url) { return !url.starts_with("https://"); }

// "scheme://host[:port]" of a URL, so that a report shows where, not a path that may carry more.
std::string Origin(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url.substr(0, 64));
  size_t end = url.find_first_of("/?#", scheme + 3);
  return std::string(url.substr(0, std::min(end, size_t{200})));
}

json::object SettingJson(const ComplianceThresholds& t, Setting s) {
  json::object o;
  o["name"] = InfoOf(s).name;
  o["value"] = t.Get(s);
  o["stored"] = t.stored[static_cast<size_t>(s)];
  return o;
}

}  // namespace

Result<EvidenceScan> ScanEvidence(evidence::EvidenceStore& store, int64_t from_ms, int64_t to_ms,
                                  int64_t max_records) {
  EvidenceScan scan;
  scan.covered_from_ms = from_ms;
  evidence::SearchFilter f;
  f.from_ms = from_ms;
  f.to_ms = to_ms;
  f.page_size = evidence::kMaxSearchPageSize;
  int64_t oldest_seen = to_ms;
  for (;;) {
    const int64_t left = max_records - scan.records_read;
    if (left <= 0) {
      scan.partial = true;
      scan.covered_from_ms = oldest_seen;
      break;
    }
    // The records counted are bounded here; what the store reads to find them (whole blocks of
    // its index) is at most a block more per page, and bounded per call by max_examined.
    f.page_size = static_cast<size_t>(std::min<int64_t>(left, evidence::kMaxSearchPageSize));
    GOVESB_ASSIGN_OR_RETURN(evidence::SearchPage page, store.Search(f));
    scan.records_read += static_cast<int64_t>(page.records.size());
    for (const evidence::FoundRecord& found : page.records) {
      const evidence::Record& r = found.record;
      oldest_seen = std::min(oldest_seen, r.at_ms);
      if (IsOpening(r.kind)) {
        ++scan.exchanges;
        if (r.from.empty()) continue;  // not authenticated: no system to count it against
        ExchangeCounts& c = scan.by_system[r.from];
        ++c.sent;
        if (r.outcome != "ok") ++c.refused;
      } else if (r.kind == "reply") {
        ExchangeCounts& c = scan.by_system[r.from];
        ++c.provider_calls;
        // A provider's success:false is a business answer (FAILED_PRECONDITION), not a failure.
        if (r.outcome == "DEADLINE_EXCEEDED") {
          ++c.provider_timeouts;
        } else if (r.outcome != "ok" && r.outcome != "FAILED_PRECONDITION") {
          ++c.provider_errors;
        }
      }
    }
    if (page.next_cursor.empty()) break;
    f.cursor = std::move(page.next_cursor);
  }
  return scan;
}

Result<ComplianceThresholds> AdminService::GetComplianceThresholds(const Actor& actor) {
  if (actor.applicant) return Denied(actor, "read the compliance thresholds");
  GOVESB_ASSIGN_OR_RETURN(auto stored, registry_.ListComplianceSettings());
  return ThresholdsFrom(stored);
}

Result<ComplianceThresholds> AdminService::SetComplianceThreshold(const Actor& actor,
                                                                  std::string_view name,
                                                                  std::string_view value) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "change the compliance thresholds"));
  GOVESB_ASSIGN_OR_RETURN(Setting setting, FindSetting(name));
  GOVESB_ASSIGN_OR_RETURN(auto stored, registry_.ListComplianceSettings());
  GOVESB_ASSIGN_OR_RETURN(ComplianceThresholds thresholds, ThresholdsFrom(stored));
  const ComplianceThresholds before = thresholds;
  const bool to_default = value == "default";
  std::string text;
  if (to_default) {
    thresholds.Reset(setting);
    // Back to the default may still leave its pair crossed (warn above a stored fail).
    GOVESB_RETURN_IF_ERROR(thresholds.Set(setting, InfoOf(setting).default_value));
    thresholds.stored[static_cast<size_t>(setting)] = false;
  } else {
    GOVESB_ASSIGN_OR_RETURN(double parsed, ParseSettingValue(setting, value));
    GOVESB_RETURN_IF_ERROR(thresholds.Set(setting, parsed));
    text = std::string(value);
  }
  return Mutate<ComplianceThresholds>(
      actor, "compliance.threshold", "compliance:" + std::string(InfoOf(setting).name), "",
      SettingJson(before, setting),
      [&]() -> Result<ComplianceThresholds> {
        if (to_default) {
          GOVESB_RETURN_IF_ERROR(registry_.RemoveComplianceSetting(InfoOf(setting).name));
        } else {
          GOVESB_RETURN_IF_ERROR(registry_.SetComplianceSetting(InfoOf(setting).name, text));
        }
        return thresholds;
      },
      [setting](const ComplianceThresholds& after) {
        return json::value(SettingJson(after, setting));
      });
}

Result<ComplianceReport> AdminService::Compliance(const Actor& actor,
                                                  std::string_view institution) {
  if (actor.applicant) return Denied(actor, "read the compliance report");
  std::string scope(institution);
  if (actor.role == Role::kInstitutionAdmin) {
    if (scope.empty()) scope = actor.institution;
    if (!IsAdminOf(actor, scope)) {
      return PermissionDenied("the compliance of institution '" + scope.substr(0, 64) +
                              "': an institution's admin sees its own institution's only");
    }
  }
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Institution> institutions,
                          registry_.ListInstitutions());
  if (!scope.empty() &&
      std::none_of(institutions.begin(), institutions.end(),
                   [&](const registry::Institution& i) { return i.code == scope; })) {
    return NotFound("institution '" + scope.substr(0, 64) + "' not found");
  }
  GOVESB_ASSIGN_OR_RETURN(ComplianceThresholds thresholds, GetComplianceThresholds(actor));
  GOVESB_ASSIGN_OR_RETURN(evidence::EvidenceStore * store, Evidence());
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::System> systems, registry_.ListSystems());
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Api> apis, registry_.ListApis());
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Subscription> subscriptions,
                          registry_.ListSubscriptions());
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::SignatureUsage> usage,
                          registry_.ListSignatureUsage());
  GOVESB_ASSIGN_OR_RETURN(auto dead, deliveries_.CountDeadBySystem());

  ComplianceReport report;
  report.generated_at_ms = Now();
  report.thresholds = thresholds;
  report.window_to_ms = report.generated_at_ms + 1;
  report.window_from_ms =
      report.generated_at_ms - static_cast<int64_t>(thresholds.Get(Setting::kWindowDays)) * kDayMs;
  GOVESB_ASSIGN_OR_RETURN(EvidenceScan scan,
                          ScanEvidence(*store, report.window_from_ms, report.window_to_ms,
                                       static_cast<int64_t>(thresholds.Get(Setting::kMaxRecords))));
  report.records_read = scan.records_read;
  report.partial = scan.partial;
  report.covered_from_ms = scan.covered_from_ms;

  const auto in_scope = [&](std::string_view code) { return scope.empty() || code == scope; };
  std::unordered_map<int64_t, SystemFacts> facts;  // by system id
  for (const registry::System& s : systems) {
    if (!in_scope(s.institution_code)) continue;
    SystemFacts& f = facts[s.id];
    f.client_id = s.client_id;
    f.name = s.name;
    f.institution_code = s.institution_code;
    f.institution_name = s.institution_name;
    f.enabled = s.enabled;
    f.institution_suspended = s.institution_suspended;
    f.endpoints = 1;
    if (IsPlain(s.endpoint)) f.plain_endpoints.push_back(Origin(s.endpoint));
    f.curve = std::string(crypto::CurveName(s.curve));
    f.key_parses = crypto::PublicKey::FromText(s.public_key_b64).ok();
    f.key_changed_at_ms = s.key_changed_at;
    f.secret_changed_at_ms = s.secret_changed_at;
    if (auto it = scan.by_system.find(s.client_id); it != scan.by_system.end()) {
      f.exchanges = it->second;
    }
  }
  for (const registry::Api& a : apis) {
    auto it = facts.find(a.provider_system_id);
    if (it == facts.end()) continue;
    SystemFacts& f = it->second;
    if (!a.endpoint_override.empty()) {
      ++f.endpoints;
      if (IsPlain(a.endpoint_override)) f.plain_endpoints.push_back(Origin(a.endpoint_override));
    }
    if (!a.enabled) continue;
    ++f.apis;
    if (a.request_schema.empty()) f.apis_without_contract.push_back(a.code);
  }
  // An asynchronous API's callback endpoint is registered with the API (by its provider's
  // institution), so it counts among the provider's addresses.
  std::unordered_map<std::string, int64_t> id_of;
  for (const registry::System& s : systems) id_of.emplace(s.client_id, s.id);
  for (const registry::Api& a : apis) {
    if (a.callback_endpoint.empty()) continue;
    auto it = facts.find(a.provider_system_id);
    if (it == facts.end()) continue;
    ++it->second.endpoints;
    if (IsPlain(a.callback_endpoint)) {
      it->second.plain_endpoints.push_back(Origin(a.callback_endpoint));
    }
  }
  for (const registry::Subscription& sub : subscriptions) {
    if (sub.state != registry::kSubscriptionApproved || sub.endpoint_override.empty()) continue;
    auto it = facts.find(sub.subscriber_system_id);
    if (it == facts.end()) continue;
    ++it->second.endpoints;
    if (IsPlain(sub.endpoint_override)) {
      it->second.plain_endpoints.push_back(Origin(sub.endpoint_override));
    }
  }
  for (const registry::SignatureUsage& u : usage) {
    auto it = facts.find(u.system_id);
    if (it == facts.end() || u.variant.starts_with(registry::kSerialisationUsagePrefix)) continue;
    if (u.last_at < report.window_from_ms) continue;  // not used within the window
    SystemFacts& f = it->second;
    if (u.variant == registry::kSignatureVariantRaw) {
      f.raw_verifications += u.count;
    } else {
      f.fallback_verifications += u.count;
      f.fallback_variants.push_back(u.variant);
    }
  }
  for (const auto& [client_id, count] : dead) {
    auto id = id_of.find(client_id);
    if (id == id_of.end()) continue;
    if (auto it = facts.find(id->second); it != facts.end()) it->second.dead_letters = count;
  }

  ComplianceSummary& sum = report.summary;
  sum.scope = scope.empty() ? "national" : scope;
  std::unordered_set<std::string> connected;
  for (const registry::System& s : systems) {
    auto it = facts.find(s.id);
    if (it == facts.end()) continue;
    ++sum.systems_registered;
    if (s.enabled) ++sum.systems_enabled;
    if (!scope.empty())
      sum.exchanges_in_window += it->second.exchanges.sent + it->second.exchanges.provider_calls;
    SystemRating rating = RateSystem(std::move(it->second), thresholds, report.generated_at_ms);
    if (s.enabled && !s.institution_suspended) {
      connected.insert(s.institution_code);
      ++sum.systems_rated;
      if (rating.fully_compliant()) ++sum.systems_fully_compliant;
    }
    report.systems.push_back(std::move(rating));
  }
  if (scope.empty()) sum.exchanges_in_window = scan.exchanges;
  for (const registry::Api& a : apis) {
    if (a.enabled && facts.contains(a.provider_system_id)) ++sum.apis_published;
  }
  std::vector<std::pair<std::string, std::pair<std::string, bool>>> listed;
  for (const registry::Institution& i : institutions) {
    if (!in_scope(i.code)) continue;
    ++sum.institutions_registered;
    listed.push_back({i.code, {i.name, i.suspended}});
  }
  sum.institutions_connected = static_cast<int64_t>(connected.size());
  const double span_days = static_cast<double>(report.window_to_ms - report.covered_from_ms) /
                           static_cast<double>(kDayMs);
  sum.exchanges_per_month =
      span_days > 0 ? static_cast<double>(sum.exchanges_in_window) * kMonthDays / span_days : 0;
  if (sum.systems_rated > 0) {
    sum.share_fully_compliant =
        static_cast<double>(sum.systems_fully_compliant) / static_cast<double>(sum.systems_rated);
  }
  std::sort(report.systems.begin(), report.systems.end(),
            [](const SystemRating& a, const SystemRating& b) {
              return std::tie(a.facts.institution_code, a.facts.name, a.facts.client_id) <
                     std::tie(b.facts.institution_code, b.facts.name, b.facts.client_id);
            });
  report.institutions = RollUp(report.systems, listed);
  return report;
}

}  // namespace govesb::admin
