// The compliance rule set (docs/compliance.md): thresholds, one system's rating, the roll-up of
// institutions. Pure functions of their arguments.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <string>
#include <utility>

#include "admin/compliance.h"

namespace govesb::admin {
namespace {

constexpr double kDayMs = 24.0 * 3600 * 1000;
constexpr double kBig = 1e12;

// The warn and fail setting of each threshold pair.
constexpr std::array<std::pair<Setting, Setting>, 7> kPairs = {{
    {Setting::kKeyAgeWarnDays, Setting::kKeyAgeFailDays},
    {Setting::kSecretAgeWarnDays, Setting::kSecretAgeFailDays},
    {Setting::kFallbackShareWarn, Setting::kFallbackShareFail},
    {Setting::kNoContractShareWarn, Setting::kNoContractShareFail},
    {Setting::kProviderErrorRateWarn, Setting::kProviderErrorRateFail},
    {Setting::kProviderTimeoutRateWarn, Setting::kProviderTimeoutRateFail},
    {Setting::kConsumerRefusalRateWarn, Setting::kConsumerRefusalRateFail},
}};

std::string Number(double v) {
  char buffer[64];
  // Shortest text that reads back as the same double (no exponent for ordinary values).
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  return ec == std::errc() ? std::string(buffer, end) : std::to_string(v);
}

std::string Percent(double share) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f%%", share * 100);
  return buffer;
}

std::string Joined(const std::vector<std::string>& items, size_t at_most = 3) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < at_most; ++i) {
    if (i > 0) out += ", ";
    out += items[i];
  }
  if (items.size() > at_most) out += ", … (" + std::to_string(items.size()) + " in all)";
  return out;
}

// A measured number against a (warn, fail) pair: worse than fail fails, worse than warn warns.
RuleResult Compare(Rule rule, double measured, std::string value, const ComplianceThresholds& t,
                   Setting warn, Setting fail) {
  RuleResult r;
  r.rule = rule;
  r.measured = measured;
  r.value = std::move(value);
  r.warn_above = t.Get(warn);
  r.fail_above = t.Get(fail);
  if (measured > *r.fail_above) {
    r.status = RuleStatus::kFail;
  } else if (measured > *r.warn_above) {
    r.status = RuleStatus::kWarn;
  }
  return r;
}

RuleResult NotApplicable(Rule rule, std::string value) {
  RuleResult r;
  r.rule = rule;
  r.applies = false;
  r.value = std::move(value);
  return r;
}

RuleResult Https(const SystemFacts& f) {
  RuleResult r;
  r.rule = Rule::kHttpsEndpoint;
  r.measured = static_cast<double>(f.plain_endpoints.size());
  if (f.plain_endpoints.empty()) {
    r.value = "all " + std::to_string(f.endpoints) + " delivery addresses use https";
  } else {
    r.status = RuleStatus::kFail;
    r.value = std::to_string(f.plain_endpoints.size()) + " of " + std::to_string(f.endpoints) +
              " delivery addresses are plain http: " + Joined(f.plain_endpoints);
  }
  return r;
}

RuleResult Signature(const SystemFacts& f, const ComplianceThresholds& t) {
  const int64_t total = f.raw_verifications + f.fallback_verifications;
  if (total == 0) {
    return NotApplicable(Rule::kSignatureVariant, "no signature verified in the window");
  }
  const double share = static_cast<double>(f.fallback_verifications) / static_cast<double>(total);
  std::string value = f.fallback_verifications == 0
                          ? "every signature verified over the exact bytes (raw)"
                          : Percent(share) + " of signatures needed a fallback (" +
                                Joined(f.fallback_variants) + ")";
  return Compare(Rule::kSignatureVariant, share, std::move(value), t, Setting::kFallbackShareWarn,
                 Setting::kFallbackShareFail);
}

RuleResult Curve(const SystemFacts& f) {
  RuleResult r;
  r.rule = Rule::kKeyCurve;
  if (!f.key_parses) {
    r.status = RuleStatus::kFail;
    r.value = "the stored public key is not a usable " + f.curve + " key";
    return r;
  }
  // Every curve the bus accepts (secp256k1, P-256, P-521) is an accepted e-Government curve.
  r.value = f.curve;
  return r;
}

RuleResult Age(Rule rule, int64_t changed_at_ms, int64_t now_ms, const ComplianceThresholds& t,
               Setting warn, Setting fail) {
  const double days = std::max(0.0, static_cast<double>(now_ms - changed_at_ms) / kDayMs);
  const double whole = std::floor(days);
  return Compare(rule, whole, Number(whole) + " days", t, warn, fail);
}

RuleResult Contracts(const SystemFacts& f, const ComplianceThresholds& t) {
  if (f.apis == 0) return NotApplicable(Rule::kApiContracts, "provides no API");
  const auto missing = static_cast<double>(f.apis_without_contract.size());
  const double share = missing / static_cast<double>(f.apis);
  std::string value =
      f.apis_without_contract.empty()
          ? "all " + std::to_string(f.apis) + " APIs have a published request contract"
          : std::to_string(f.apis_without_contract.size()) + " of " + std::to_string(f.apis) +
                " APIs have no published request contract: " + Joined(f.apis_without_contract);
  return Compare(Rule::kApiContracts, share, std::move(value), t, Setting::kNoContractShareWarn,
                 Setting::kNoContractShareFail);
}

RuleResult Rate(Rule rule, int64_t part, int64_t whole, std::string_view what,
                std::string_view of_what, const ComplianceThresholds& t, Setting warn,
                Setting fail) {
  const auto minimum = static_cast<int64_t>(t.Get(Setting::kMinExchanges));
  if (whole == 0 || whole < minimum) {
    RuleResult r = NotApplicable(rule, std::to_string(whole) + " " + std::string(of_what) +
                                           " in the window (fewer than " + std::to_string(minimum) +
                                           " are not rated)");
    return r;
  }
  const double share = static_cast<double>(part) / static_cast<double>(whole);
  return Compare(rule, share,
                 Percent(share) + " " + std::string(what) + " (" + std::to_string(part) + " of " +
                     std::to_string(whole) + " " + std::string(of_what) + ")",
                 t, warn, fail);
}

}  // namespace

const std::array<SettingInfo, kSettingCount>& SettingInfos() {
  static const std::array<SettingInfo, kSettingCount> infos = {{
      {Setting::kWindowDays, "window_days", 30, 1, 366, true, "days",
       "how far back the evidence log is read for rates and exchanges"},
      {Setting::kMaxRecords, "max_records", 2'000'000, 1000, 100'000'000, true, "records",
       "the most evidence records one report reads (newest first)"},
      {Setting::kMinExchanges, "min_exchanges", 20, 0, 1e9, true, "exchanges",
       "rates over fewer exchanges than this are not rated"},
      {Setting::kKeyAgeWarnDays, "key_age_warn_days", 365, 0, 36500, true, "days",
       "warn when the public key is older"},
      {Setting::kKeyAgeFailDays, "key_age_fail_days", 730, 0, 36500, true, "days",
       "fail when the public key is older"},
      {Setting::kSecretAgeWarnDays, "secret_age_warn_days", 180, 0, 36500, true, "days",
       "warn when the client secret is older"},
      {Setting::kSecretAgeFailDays, "secret_age_fail_days", 365, 0, 36500, true, "days",
       "fail when the client secret is older"},
      {Setting::kFallbackShareWarn, "fallback_share_warn", 0, 0, 1, false, "share",
       "warn when more of its signatures need a fallback variant"},
      {Setting::kFallbackShareFail, "fallback_share_fail", 0.5, 0, 1, false, "share",
       "fail when more of its signatures need a fallback variant"},
      {Setting::kNoContractShareWarn, "no_contract_share_warn", 0, 0, 1, false, "share",
       "warn when more of its APIs have no published contract"},
      {Setting::kNoContractShareFail, "no_contract_share_fail", 0.5, 0, 1, false, "share",
       "fail when more of its APIs have no published contract"},
      {Setting::kProviderErrorRateWarn, "provider_error_rate_warn", 0.01, 0, 1, false, "share",
       "warn when more of its answers as a provider fail"},
      {Setting::kProviderErrorRateFail, "provider_error_rate_fail", 0.05, 0, 1, false, "share",
       "fail when more of its answers as a provider fail"},
      {Setting::kProviderTimeoutRateWarn, "provider_timeout_rate_warn", 0.005, 0, 1, false, "share",
       "warn when more of its answers as a provider time out"},
      {Setting::kProviderTimeoutRateFail, "provider_timeout_rate_fail", 0.02, 0, 1, false, "share",
       "fail when more of its answers as a provider time out"},
      {Setting::kConsumerRefusalRateWarn, "consumer_refusal_rate_warn", 0.02, 0, 1, false, "share",
       "warn when more of the messages it sends are refused"},
      {Setting::kConsumerRefusalRateFail, "consumer_refusal_rate_fail", 0.10, 0, 1, false, "share",
       "fail when more of the messages it sends are refused"},
      {Setting::kDeadLettersWarn, "dead_letters_warn", 0, 0, 1e9, true, "deliveries",
       "warn when more deliveries to it are dead"},
      {Setting::kDeadLettersFail, "dead_letters_fail", 100, 0, 1e9, true, "deliveries",
       "fail when more deliveries to it are dead"},
  }};
  return infos;
}

Result<Setting> FindSetting(std::string_view name) {
  for (const SettingInfo& info : SettingInfos()) {
    if (info.name == name) return info.setting;
  }
  std::string known;
  for (const SettingInfo& info : SettingInfos()) {
    if (!known.empty()) known += ", ";
    known += info.name;
  }
  std::string shown(name.substr(0, 64));
  return InvalidArgument("unknown compliance setting '" + shown + "'; the settings are: " + known);
}

Result<double> ParseSettingValue(Setting setting, std::string_view text) {
  const SettingInfo& info = InfoOf(setting);
  const std::string shown(text.substr(0, 64));
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return InvalidArgument(std::string(info.name) + " must be a number, not '" + shown + "'");
  }
  if (value < info.min || value > info.max) {
    return InvalidArgument(std::string(info.name) + " must be from " + Number(info.min) + " to " +
                           Number(info.max) + " (" + std::string(info.unit) + "), not " + shown);
  }
  if (info.integer && value != std::floor(value)) {
    return InvalidArgument(std::string(info.name) + " must be a whole number of " +
                           std::string(info.unit) + ", not " + shown);
  }
  return value;
}

ComplianceThresholds ComplianceThresholds::Defaults() {
  ComplianceThresholds t;
  for (const SettingInfo& info : SettingInfos()) {
    t.values[static_cast<size_t>(info.setting)] = info.default_value;
  }
  return t;
}

Status ComplianceThresholds::Set(Setting s, double value) {
  ComplianceThresholds next = *this;
  next.values[static_cast<size_t>(s)] = value;
  next.stored[static_cast<size_t>(s)] = true;
  for (auto [warn, fail] : kPairs) {
    if (next.Get(warn) > next.Get(fail)) {
      return InvalidArgument(std::string(InfoOf(warn).name) + " (" + Number(next.Get(warn)) +
                             ") must not be above " + std::string(InfoOf(fail).name) + " (" +
                             Number(next.Get(fail)) + ")");
    }
  }
  *this = next;
  return Status::Ok();
}

void ComplianceThresholds::Reset(Setting s) {
  values[static_cast<size_t>(s)] = InfoOf(s).default_value;
  stored[static_cast<size_t>(s)] = false;
}

Result<ComplianceThresholds> ThresholdsFrom(
    const std::vector<std::pair<std::string, std::string>>& stored) {
  ComplianceThresholds t = ComplianceThresholds::Defaults();
  for (const auto& [name, text] : stored) {
    Result<Setting> setting = FindSetting(name);
    if (!setting.ok()) continue;  // a newer bus's setting
    Result<double> value = ParseSettingValue(*setting, text);
    if (!value.ok()) {
      return FailedPrecondition("the stored compliance setting is not valid: " +
                                value.status().message());
    }
    t.values[static_cast<size_t>(*setting)] = *value;
    t.stored[static_cast<size_t>(*setting)] = true;
  }
  for (auto [warn, fail] : kPairs) {
    if (t.Get(warn) > t.Get(fail)) {
      return FailedPrecondition(
          "the stored compliance settings are not valid: " + std::string(InfoOf(warn).name) +
          " is above " + std::string(InfoOf(fail).name));
    }
  }
  return t;
}

std::string_view RuleStatusName(RuleStatus s) {
  switch (s) {
    case RuleStatus::kPass:
      return "pass";
    case RuleStatus::kWarn:
      return "warn";
    case RuleStatus::kFail:
      return "fail";
  }
  return "fail";
}

std::string_view RuleName(Rule r) {
  static constexpr std::array<std::string_view, kRuleCount> kNames = {
      "https-endpoint",    "signature-variant", "key-curve",       "key-age",
      "secret-age",        "api-contracts",     "provider-errors", "provider-timeouts",
      "consumer-refusals", "dead-letters"};
  return kNames[static_cast<size_t>(r)];
}

SystemRating RateSystem(SystemFacts facts, const ComplianceThresholds& t, int64_t now_ms) {
  SystemRating rating;
  const SystemFacts& f = facts;
  const ExchangeCounts& x = f.exchanges;
  rating.rules = {
      Https(f),
      Signature(f, t),
      Curve(f),
      Age(Rule::kKeyAge, f.key_changed_at_ms, now_ms, t, Setting::kKeyAgeWarnDays,
          Setting::kKeyAgeFailDays),
      Age(Rule::kSecretAge, f.secret_changed_at_ms, now_ms, t, Setting::kSecretAgeWarnDays,
          Setting::kSecretAgeFailDays),
      Contracts(f, t),
      Rate(Rule::kProviderErrors, x.provider_errors, x.provider_calls, "failed",
           "calls as provider", t, Setting::kProviderErrorRateWarn,
           Setting::kProviderErrorRateFail),
      Rate(Rule::kProviderTimeouts, x.provider_timeouts, x.provider_calls, "timed out",
           "calls as provider", t, Setting::kProviderTimeoutRateWarn,
           Setting::kProviderTimeoutRateFail),
      Rate(Rule::kConsumerRefusals, x.refused, x.sent, "refused", "messages sent", t,
           Setting::kConsumerRefusalRateWarn, Setting::kConsumerRefusalRateFail),
      Compare(Rule::kDeadLetters, static_cast<double>(f.dead_letters),
              std::to_string(f.dead_letters) + " dead deliveries", t, Setting::kDeadLettersWarn,
              Setting::kDeadLettersFail),
  };
  for (const RuleResult& r : rating.rules) rating.rating = std::max(rating.rating, r.status);
  rating.facts = std::move(facts);
  return rating;
}

std::vector<InstitutionRating> RollUp(
    const std::vector<SystemRating>& systems,
    const std::vector<std::pair<std::string, std::pair<std::string, bool>>>& institutions) {
  std::map<std::string, InstitutionRating> by_code;
  for (const auto& [code, name_and_suspended] : institutions) {
    InstitutionRating& i = by_code[code];
    i.code = code;
    i.name = name_and_suspended.first;
    i.suspended = name_and_suspended.second;
  }
  // Which rules any system of an institution failed or warned on.
  std::map<std::string, std::array<std::array<bool, kRuleCount>, 2>> marks;
  for (const SystemRating& s : systems) {
    InstitutionRating& i = by_code[s.facts.institution_code];
    i.code = s.facts.institution_code;
    i.name = s.facts.institution_name;
    i.suspended = s.facts.institution_suspended;
    ++i.systems;
    switch (s.rating) {
      case RuleStatus::kPass:
        ++i.pass;
        break;
      case RuleStatus::kWarn:
        ++i.warn;
        break;
      case RuleStatus::kFail:
        ++i.fail;
        break;
    }
    i.rating = std::max(i.rating.value_or(RuleStatus::kPass), s.rating);
    auto& mark = marks[i.code];
    for (size_t r = 0; r < s.rules.size() && r < kRuleCount; ++r) {
      if (s.rules[r].status == RuleStatus::kFail) mark[0][r] = true;
      if (s.rules[r].status == RuleStatus::kWarn) mark[1][r] = true;
    }
  }
  std::vector<InstitutionRating> out;
  for (auto& [code, i] : by_code) {
    if (auto it = marks.find(code); it != marks.end()) {
      for (size_t r = 0; r < kRuleCount; ++r) {
        if (it->second[0][r]) i.failed_rules.emplace_back(RuleName(static_cast<Rule>(r)));
        if (it->second[1][r]) i.warned_rules.emplace_back(RuleName(static_cast<Rule>(r)));
      }
    }
    out.push_back(std::move(i));
  }
  return out;
}

}  // namespace govesb::admin
