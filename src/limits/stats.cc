#include "limits/stats.h"

namespace govesb::limits {

void AppendPrometheus(std::string& out, std::span<const NamedLimiterStats> limiters) {
  struct Family {
    const char* name;
    const char* type;
    const char* help;
    uint64_t LimiterStats::*field;
  };
  static constexpr Family kFamilies[] = {
      {"govesb_rate_limit_admitted_total", "counter", "Requests a limiter let through.",
       &LimiterStats::admitted},
      {"govesb_rate_limited_total", "counter", "Requests a limiter refused (429).",
       &LimiterStats::refused},
      {"govesb_rate_limit_evictions_total", "counter",
       "Keys forgotten while holding state because the limiter was full.",
       &LimiterStats::evictions},
      {"govesb_rate_limit_keys", "gauge", "Keys a limiter tracks now.", &LimiterStats::keys},
      {"govesb_rate_limit_failures_total", "counter", "Failed attempts recorded.",
       &LimiterStats::failures},
      {"govesb_rate_limit_lockouts_total", "counter",
       "Failed attempts that locked a key or lengthened its lock.", &LimiterStats::lockouts},
  };
  for (const Family& family : kFamilies) {
    out += "# HELP ";
    out += family.name;
    out += ' ';
    out += family.help;
    out += "\n# TYPE ";
    out += family.name;
    out += ' ';
    out += family.type;
    out += '\n';
    for (const NamedLimiterStats& limiter : limiters) {
      out += family.name;
      out += "{limiter=\"";
      out += limiter.name;
      out += "\"} ";
      out += std::to_string(limiter.stats.*family.field);
      out += '\n';
    }
  }
}

}  // namespace govesb::limits
