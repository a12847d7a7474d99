#pragma once

// Compliance with the e-Government standards (docs/compliance.md): every system rated against
// a fixed rule set with operator-tunable thresholds, institutions rolled up from their systems,
// and the figures the operator reports for the whole bus (or one institution).
//
// The pure part is here: the thresholds (names, defaults, ranges, parsing and checking), the
// facts a rating is made from (SystemFacts), RateSystem and the roll-up. AdminService gathers
// the facts (registry, signature usage, delivery store, a bounded read of the evidence log:
// ScanEvidence) and applies the role policy (AdminService::Compliance). Values, no I/O, no
// state: any thread.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/result.h"
#include "evidence/store.h"

namespace govesb::admin {

// ---- thresholds ----

enum class Setting : int {
  kWindowDays = 0,
  kMaxRecords,
  kMinExchanges,
  kKeyAgeWarnDays,
  kKeyAgeFailDays,
  kSecretAgeWarnDays,
  kSecretAgeFailDays,
  kFallbackShareWarn,
  kFallbackShareFail,
  kNoContractShareWarn,
  kNoContractShareFail,
  kProviderErrorRateWarn,
  kProviderErrorRateFail,
  kProviderTimeoutRateWarn,
  kProviderTimeoutRateFail,
  kConsumerRefusalRateWarn,
  kConsumerRefusalRateFail,
  kDeadLettersWarn,
  kDeadLettersFail,
};
inline constexpr size_t kSettingCount = 19;

struct SettingInfo {
  Setting setting = Setting::kWindowDays;
  std::string_view name;  // as stored and as the CLI and API take it: "key_age_warn_days"
  double default_value = 0;
  double min = 0;
  double max = 0;
  bool integer = false;
  std::string_view unit;     // "days", "share" (0..1), "records", "exchanges", "deliveries"
  std::string_view meaning;  // one line for people
};
// Every setting, in Setting order.
const std::array<SettingInfo, kSettingCount>& SettingInfos();
inline const SettingInfo& InfoOf(Setting s) { return SettingInfos()[static_cast<size_t>(s)]; }
// kInvalidArgument naming the known settings for an unknown name.
Result<Setting> FindSetting(std::string_view name);
// A value as the operator writes it ("0.05", "365"): a finite number in the setting's range,
// whole where the setting counts something. kInvalidArgument saying what is wrong.
Result<double> ParseSettingValue(Setting setting, std::string_view text);

// The thresholds in force: the defaults, with the operator's stored values over them.
struct ComplianceThresholds {
  std::array<double, kSettingCount> values{};
  std::array<bool, kSettingCount> stored{};  // set by the operator (not the default)

  static ComplianceThresholds Defaults();
  double Get(Setting s) const { return values[static_cast<size_t>(s)]; }
  // Sets a value (already parsed) and checks that every warn threshold is at most its fail
  // threshold; kInvalidArgument naming the pair, and then nothing changed.
  Status Set(Setting s, double value);
  void Reset(Setting s);
};
// From the registry's stored (name, value) texts: unknown names (a newer bus's) are ignored; a
// stored value that does not parse, or a warn above its fail, is kFailedPrecondition naming it.
Result<ComplianceThresholds> ThresholdsFrom(
    const std::vector<std::pair<std::string, std::string>>& stored);

// ---- rules and ratings ----

enum class RuleStatus { kPass = 0, kWarn = 1, kFail = 2 };
std::string_view RuleStatusName(RuleStatus s);  // "pass", "warn", "fail"

enum class Rule : int {
  kHttpsEndpoint = 0,
  kSignatureVariant,
  kKeyCurve,
  kKeyAge,
  kSecretAge,
  kApiContracts,
  kProviderErrors,
  kProviderTimeouts,
  kConsumerRefusals,
  kDeadLetters,
};
inline constexpr size_t kRuleCount = 10;
std::string_view RuleName(Rule r);  // "https-endpoint", "signature-variant", ...

// What a system did in the window, from the evidence log (ScanEvidence).
struct ExchangeCounts {
  int64_t sent = 0;               // requests, pushes, async answers it sent to the bus
  int64_t refused = 0;            // of those, refused by the bus (outcome not "ok")
  int64_t provider_calls = 0;     // answers (reply records) the bus waited for from it
  int64_t provider_errors = 0;    // of those, failures: unreachable, bad answer, bad signature
  int64_t provider_timeouts = 0;  // of those, no answer within the API's timeout
};

// What a rating is made from: gathered by AdminService::Compliance.
struct SystemFacts {
  std::string client_id;
  std::string name;
  std::string institution_code;
  std::string institution_name;
  bool enabled = true;
  bool institution_suspended = false;
  // Every address the bus delivers to for this system: its endpoint, its APIs' endpoints and
  // callback endpoints, its subscriptions' endpoints. Plain ones are those not https://.
  int64_t endpoints = 0;
  std::vector<std::string> plain_endpoints = {};
  std::string curve;       // "secp256k1", "P-256", "P-521"
  bool key_parses = true;  // the stored key is still a usable public key
  int64_t key_changed_at_ms = 0;
  int64_t secret_changed_at_ms = 0;
  // Signature verifications of its messages, of the variants used within the window.
  int64_t raw_verifications = 0;
  int64_t fallback_verifications = 0;
  std::vector<std::string> fallback_variants = {};  // the fallback variants used
  // The enabled APIs it provides, and those without a published request contract.
  int64_t apis = 0;
  std::vector<std::string> apis_without_contract = {};
  ExchangeCounts exchanges;
  int64_t dead_letters = 0;  // dead deliveries to it (push subscriptions, async callbacks)
};

struct RuleResult {
  Rule rule = Rule::kHttpsEndpoint;
  RuleStatus status = RuleStatus::kPass;
  // false: nothing to rate (a system that provides no API, too few exchanges): a pass.
  bool applies = true;
  std::optional<double> measured = std::nullopt;  // the number compared with the thresholds
  std::string value;                              // what was found, for people
  // The thresholds it was compared with: warn when measured > warn_above, fail when measured >
  // fail_above. None for yes/no rules.
  std::optional<double> warn_above = std::nullopt;
  std::optional<double> fail_above = std::nullopt;
};

struct SystemRating {
  SystemFacts facts;
  RuleStatus rating = RuleStatus::kPass;  // the worst of its rules
  std::vector<RuleResult> rules;          // in Rule order, every rule
  bool fully_compliant() const { return rating == RuleStatus::kPass; }
};

// Rates one system. `now_ms` is the clock the ages are counted to.
SystemRating RateSystem(SystemFacts facts, const ComplianceThresholds& thresholds, int64_t now_ms);

struct InstitutionRating {
  std::string code;
  std::string name;
  bool suspended = false;
  int64_t systems = 0;
  int64_t pass = 0, warn = 0, fail = 0;
  // The worst of its systems' ratings; none when it has no system.
  std::optional<RuleStatus> rating = std::nullopt;
  std::vector<std::string> failed_rules = {};  // failed by any of its systems, in Rule order
  std::vector<std::string> warned_rules = {};
};

// The figures the operator reports, over the report's scope.
struct ComplianceSummary {
  std::string scope;  // "national", or the institution's code
  int64_t institutions_registered = 0;
  // Not suspended, with at least one enabled system.
  int64_t institutions_connected = 0;
  int64_t systems_registered = 0;
  int64_t systems_enabled = 0;
  int64_t apis_published = 0;  // enabled APIs of the scope's systems
  // National: every message a system sent to the bus in the window (request, push, async
  // answer), answered or refused. An institution: those its systems sent plus the calls they
  // answered as providers.
  int64_t exchanges_in_window = 0;
  double exchanges_per_month = 0;  // scaled to 30 days from the span read
  // Enabled systems of institutions not suspended: how many, and how many pass every rule.
  int64_t systems_rated = 0;
  int64_t systems_fully_compliant = 0;
  std::optional<double> share_fully_compliant = std::nullopt;  // none when none is rated
};

struct ComplianceReport {
  int64_t generated_at_ms = 0;
  int64_t window_from_ms = 0;
  int64_t window_to_ms = 0;
  // How far back the evidence log was read: window_from_ms, or later when max_records records
  // were read before reaching it (partial).
  int64_t covered_from_ms = 0;
  bool partial = false;
  int64_t records_read = 0;
  ComplianceThresholds thresholds;
  std::vector<SystemRating> systems;            // by institution code, then name
  std::vector<InstitutionRating> institutions;  // by code
  ComplianceSummary summary;
};

// The institutions of `systems` (and `institutions` listed with none) rolled up, by code.
std::vector<InstitutionRating> RollUp(
    const std::vector<SystemRating>& systems,
    const std::vector<std::pair<std::string, std::pair<std::string, bool>>>& institutions);

// ---- the evidence log, read within bounds ----

struct EvidenceScan {
  std::unordered_map<std::string, ExchangeCounts> by_system;  // by client_id
  int64_t exchanges = 0;     // every opening record (request, nida-request, push, async)
  int64_t records_read = 0;  // every record read, admin records included
  bool partial = false;      // stopped at max_records before reaching from_ms
  int64_t covered_from_ms = 0;
};
// Reads the records at from_ms <= at < to_ms, newest first, at most max_records of them, and
// counts what each system sent and answered (docs/compliance.md says which outcomes count as
// what).
Result<EvidenceScan> ScanEvidence(evidence::EvidenceStore& store, int64_t from_ms, int64_t to_ms,
                                  int64_t max_records);

}  // namespace govesb::admin
