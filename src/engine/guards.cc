#include "engine/guards.h"

#include <algorithm>

#include "base/prometheus_text.h"
#include "limits/stats.h"

namespace govesb::engine {

namespace {

constexpr std::array<wire::SignatureVariant, 4> kVariants = {
    wire::SignatureVariant::kRaw, wire::SignatureVariant::kCompact,
    wire::SignatureVariant::kCompactAsciiEscaped, wire::SignatureVariant::kLatin1};

size_t VariantIndex(wire::SignatureVariant v) { return static_cast<size_t>(v); }

// A registry setting over a default: 0 is the default, < 0 unlimited.
limits::Rate Effective(double per_second, double burst, const limits::Rate& fallback) {
  if (per_second < 0) return limits::Rate{0, 0};
  if (per_second == 0) {
    if (burst > 0 && !fallback.unlimited()) return limits::Rate{fallback.per_second, burst};
    return fallback;
  }
  return limits::Rate{per_second, burst > 0 ? burst : 0};
}

}  // namespace

void SignatureUsageCounter::Count(int64_t system_id, wire::SignatureVariant variant) {
  const size_t i = VariantIndex(variant);
  totals_[i].fetch_add(1, std::memory_order_relaxed);
  const int64_t now = clock_.NowMillis();
  std::lock_guard lock(mu_);
  Counts& c = pending_[system_id];
  if (c.count[i]++ == 0) c.first_at[i] = now;
  c.last_at[i] = now;
  ++by_system_[system_id][i];
}

std::vector<std::pair<int64_t, std::array<uint64_t, 4>>> SignatureUsageCounter::TotalsBySystem()
    const {
  std::vector<std::pair<int64_t, std::array<uint64_t, 4>>> out;
  {
    std::lock_guard lock(mu_);
    out.assign(by_system_.begin(), by_system_.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string_view TokenCounter::Name(Outcome o) {
  switch (o) {
    case Outcome::kIssued:
      return "issued";
    case Outcome::kRefusedInvalid:
      return "refused_invalid";
    case Outcome::kRefusedCredentials:
      return "refused_credentials";
    case Outcome::kRefusedLimit:
      return "refused_limit";
    case Outcome::kUnavailable:
      return "unavailable";
  }
  return "?";
}

void TokenCounter::Count(std::string_view client_id, Outcome outcome) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(client_id);
  if (it == counts_.end())
    it = counts_.emplace(std::string(client_id), std::array<uint64_t, kOutcomes>{}).first;
  ++it->second[static_cast<size_t>(outcome)];
}

void TokenCounter::AppendPrometheus(std::string& out) const {
  std::map<std::string, std::array<uint64_t, kOutcomes>, std::less<>> counts;
  {
    std::lock_guard lock(mu_);
    counts = counts_;
  }
  prometheus::Family(out, "govesb_tokens_total", "counter",
                     "Access token requests, by consumer system (\"\" for a client id the "
                     "registry does not know, or none) and outcome.");
  for (const auto& [client_id, by_outcome] : counts) {
    for (int i = 0; i < kOutcomes; ++i) {
      if (by_outcome[static_cast<size_t>(i)] == 0) continue;
      prometheus::Sample(out, "govesb_tokens_total",
                         {{"consumer", client_id}, {"outcome", Name(static_cast<Outcome>(i))}},
                         by_outcome[static_cast<size_t>(i)]);
    }
  }
}

void SignatureUsageCounter::CountStyle(int64_t system_id, wire::JsonStyle style) {
  const size_t i = style == wire::JsonStyle::kEcmaScript ? 1 : 0;
  const int64_t now = clock_.NowMillis();
  std::lock_guard lock(mu_);
  StyleCounts& c = pending_styles_[system_id];
  if (c.count[i]++ == 0) c.first_at[i] = now;
  c.last_at[i] = now;
}

std::vector<registry::SignatureUsage> SignatureUsageCounter::Take() {
  std::unordered_map<int64_t, Counts> taken;
  std::unordered_map<int64_t, StyleCounts> taken_styles;
  {
    std::lock_guard lock(mu_);
    taken.swap(pending_);
    taken_styles.swap(pending_styles_);
  }
  std::vector<registry::SignatureUsage> out;
  for (const auto& [system_id, c] : taken) {
    for (size_t i = 0; i < kVariants.size(); ++i) {
      if (c.count[i] == 0) continue;
      registry::SignatureUsage u;
      u.system_id = system_id;
      u.variant = std::string(wire::SignatureVariantName(kVariants[i]));
      u.count = c.count[i];
      u.first_at = c.first_at[i];
      u.last_at = c.last_at[i];
      out.push_back(std::move(u));
    }
  }
  for (const auto& [system_id, c] : taken_styles) {
    for (size_t i = 0; i < 2; ++i) {
      if (c.count[i] == 0) continue;
      registry::SignatureUsage u;
      u.system_id = system_id;
      u.variant = std::string(registry::kSerialisationUsagePrefix) +
                  std::string(wire::JsonStyleName(i == 1 ? wire::JsonStyle::kEcmaScript
                                                         : wire::JsonStyle::kJackson));
      u.count = c.count[i];
      u.first_at = c.first_at[i];
      u.last_at = c.last_at[i];
      out.push_back(std::move(u));
    }
  }
  return out;
}

std::array<uint64_t, 4> SignatureUsageCounter::Totals() const {
  std::array<uint64_t, 4> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = totals_[i].load(std::memory_order_relaxed);
  return out;
}

Guards::Guards(const Clock& clock, GuardOptions options)
    : options_(std::move(options)),
      system_rates_(clock),
      api_rates_(clock),
      token_clients_(clock, options_.token_client),
      token_addresses_(clock, options_.token_address),
      replay_(clock, options_.replay),
      usage_(clock) {}

namespace {
// This node's share of a cluster-wide rate.
limits::Rate Share(limits::Rate rate, int64_t nodes) {
  if (nodes <= 1 || rate.unlimited()) return rate;
  const double n = static_cast<double>(nodes);
  return limits::Rate{rate.per_second / n, std::max(1.0, rate.effective_burst() / n)};
}
}  // namespace

limits::Rate Guards::SystemRate(const registry::System& system) const {
  return Share(Effective(system.rate_per_second, system.rate_burst, options_.system_rate),
               cluster_share());
}

limits::Rate Guards::ApiRate(const registry::Api& api) const {
  return Share(Effective(api.rate_per_second, api.rate_burst, options_.api_rate), cluster_share());
}

void Guards::AppendPrometheus(const registry::Snapshot& snapshot, std::string& out) const {
  const std::array<limits::NamedLimiterStats, 4> named = {{
      {"system", system_rates_.Stats()},
      {"system_api", api_rates_.Stats()},
      {"token_client", token_clients_.Stats()},
      {"token_address", token_addresses_.Stats()},
  }};
  limits::AppendPrometheus(out, named);
  const replay::ReplayStats r = replay_.Stats();
  out +=
      "# HELP govesb_replays_total Signed messages seen again within the replay window, by "
      "what the bus did.\n";
  out += "# TYPE govesb_replays_total counter\n";
  out +=
      "govesb_replays_total{action=\"refused\"} " + std::to_string(replays_refused.load()) + "\n";
  out +=
      "govesb_replays_total{action=\"recorded\"} " + std::to_string(replays_recorded.load()) + "\n";
  out += "# HELP govesb_replay_window_entries Signed messages remembered by the replay window.\n";
  out += "# TYPE govesb_replay_window_entries gauge\n";
  out += "govesb_replay_window_entries " + std::to_string(r.entries) + "\n";
  out +=
      "# HELP govesb_replay_evictions_total Entries dropped from a full replay window before "
      "their time (each shortens the effective window).\n";
  out += "# TYPE govesb_replay_evictions_total counter\n";
  out += "govesb_replay_evictions_total " + std::to_string(r.evictions) + "\n";
  out += "# HELP govesb_replay_effective_window_seconds How far back replays are recognised now.\n";
  out += "# TYPE govesb_replay_effective_window_seconds gauge\n";
  out += "govesb_replay_effective_window_seconds " +
         std::to_string(options_.replay_enabled ? replay_.EffectiveWindow().count() / 1000 : 0) +
         "\n";
  out +=
      "# HELP govesb_signature_verifications_total Signatures verified (consumers' requests, "
      "providers' replies), by system and by the variant of the text that matched.\n";
  out += "# TYPE govesb_signature_verifications_total counter\n";
  for (const auto& [system_id, counts] : usage_.TotalsBySystem()) {
    const registry::System* system = snapshot.FindSystemById(system_id);
    if (system == nullptr) continue;
    for (size_t i = 0; i < kVariants.size(); ++i) {
      if (counts[i] == 0) continue;
      prometheus::Sample(
          out, "govesb_signature_verifications_total",
          {{"system", system->client_id}, {"variant", wire::SignatureVariantName(kVariants[i])}},
          counts[i]);
    }
  }
  tokens_.AppendPrometheus(out);
}

}  // namespace govesb::engine
