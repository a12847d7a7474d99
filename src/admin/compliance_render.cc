#include "admin/compliance_render.h"

#include <boost/json/array.hpp>
#include <cstdio>
#include <string>

#include "admin/render.h"

namespace govesb::admin {
namespace {

namespace json = boost::json;

json::value OptNumber(const std::optional<double>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::array Strings(const std::vector<std::string>& items) {
  json::array out;
  for (const std::string& s : items) out.emplace_back(s);
  return out;
}

std::string Fixed(double v, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, v);
  return buffer;
}

// A number as the CSV and text forms show it: no exponent, no trailing zeros.
std::string Plain(double v) {
  std::string s = Fixed(v, 6);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string Csv(std::string_view field) {
  // A leading = + - @ would make a spreadsheet read the field as a formula: quoted and prefixed.
  const bool formula =
      !field.empty() && (field[0] == '=' || field[0] == '+' || field[0] == '-' || field[0] == '@');
  if (!formula && field.find_first_of(",\"\r\n") == std::string_view::npos) {
    return std::string(field);
  }
  std::string out = "\"";
  if (formula) out += '\'';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string RuleList(const SystemRating& s, RuleStatus status) {
  std::string out;
  for (const RuleResult& r : s.rules) {
    if (r.status != status) continue;
    if (!out.empty()) out += ", ";
    out += RuleName(r.rule);
  }
  return out;
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

json::object ToJson(const ComplianceSummary& s) {
  json::object o;
  o["scope"] = s.scope;
  o["institutions_registered"] = s.institutions_registered;
  o["institutions_connected"] = s.institutions_connected;
  o["systems_registered"] = s.systems_registered;
  o["systems_enabled"] = s.systems_enabled;
  o["apis_published"] = s.apis_published;
  o["exchanges_in_window"] = s.exchanges_in_window;
  o["exchanges_per_month"] = s.exchanges_per_month;
  o["systems_rated"] = s.systems_rated;
  o["systems_fully_compliant"] = s.systems_fully_compliant;
  o["share_fully_compliant"] = OptNumber(s.share_fully_compliant);
  return o;
}

json::object ToJson(const ComplianceThresholds& t) {
  json::array settings;
  for (const SettingInfo& info : SettingInfos()) {
    json::object o;
    o["name"] = info.name;
    o["value"] = t.Get(info.setting);
    o["default"] = info.default_value;
    o["min"] = info.min;
    o["max"] = info.max;
    o["unit"] = info.unit;
    o["meaning"] = info.meaning;
    o["stored"] = t.stored[static_cast<size_t>(info.setting)];
    settings.push_back(std::move(o));
  }
  json::object out;
  out["settings"] = std::move(settings);
  return out;
}

json::object ToJson(const ComplianceReport& report) {
  json::object o;
  o["generated_at"] = IsoTime(report.generated_at_ms);
  json::object window;
  window["from"] = IsoTime(report.window_from_ms);
  window["to"] = IsoTime(report.window_to_ms);
  window["days"] = report.thresholds.Get(Setting::kWindowDays);
  window["covered_from"] = IsoTime(report.covered_from_ms);
  window["partial"] = report.partial;
  window["records_read"] = report.records_read;
  o["window"] = std::move(window);
  json::array systems;
  for (const SystemRating& s : report.systems) {
    json::object so;
    so["client_id"] = s.facts.client_id;
    so["name"] = s.facts.name;
    so["institution"] = s.facts.institution_code;
    so["institution_name"] = s.facts.institution_name;
    so["enabled"] = s.facts.enabled;
    so["institution_suspended"] = s.facts.institution_suspended;
    so["rating"] = RuleStatusName(s.rating);
    so["fully_compliant"] = s.fully_compliant();
    json::array rules;
    for (const RuleResult& r : s.rules) {
      json::object ro;
      ro["rule"] = RuleName(r.rule);
      ro["status"] = RuleStatusName(r.status);
      ro["applies"] = r.applies;
      ro["measured"] = OptNumber(r.measured);
      ro["value"] = r.value;
      ro["warn_above"] = OptNumber(r.warn_above);
      ro["fail_above"] = OptNumber(r.fail_above);
      rules.push_back(std::move(ro));
    }
    so["rules"] = std::move(rules);
    systems.push_back(std::move(so));
  }
  o["systems"] = std::move(systems);
  json::array institutions;
  for (const InstitutionRating& i : report.institutions) {
    json::object io;
    io["code"] = i.code;
    io["name"] = i.name;
    io["suspended"] = i.suspended;
    io["systems"] = i.systems;
    io["pass"] = i.pass;
    io["warn"] = i.warn;
    io["fail"] = i.fail;
    io["rating"] = i.rating ? json::value(RuleStatusName(*i.rating)) : json::value(nullptr);
    io["failed_rules"] = Strings(i.failed_rules);
    io["warned_rules"] = Strings(i.warned_rules);
    institutions.push_back(std::move(io));
  }
  o["institutions"] = std::move(institutions);
  o["summary"] = ToJson(report.summary);
  o["thresholds"] = ToJson(report.thresholds)["settings"];
  return o;
}

std::string ComplianceSummaryText(const ComplianceReport& report) {
  const ComplianceSummary& s = report.summary;
  std::string out = "Summary (" + s.scope + "), " + IsoTime(report.generated_at_ms) + "\n";
  out += "  institutions connected:  " + std::to_string(s.institutions_connected) + " of " +
         std::to_string(s.institutions_registered) + " registered\n";
  out += "  systems registered:      " + std::to_string(s.systems_registered) + " (" +
         std::to_string(s.systems_enabled) + " enabled)\n";
  out += "  APIs published:          " + std::to_string(s.apis_published) + "\n";
  out += "  exchanges per month:     " + Fixed(s.exchanges_per_month, 0) + " (" +
         std::to_string(s.exchanges_in_window) + " in the window since " +
         IsoTime(report.covered_from_ms) + (report.partial ? ", read in part" : "") + ")\n";
  out += "  fully compliant systems: " + std::to_string(s.systems_fully_compliant) + " of " +
         std::to_string(s.systems_rated);
  if (s.share_fully_compliant) out += " (" + Fixed(*s.share_fully_compliant * 100, 1) + "%)";
  out += "\n";
  return out;
}

std::string ComplianceText(const ComplianceReport& report) {
  std::string out = "Systems (window " + IsoTime(report.window_from_ms) + " to " +
                    IsoTime(report.generated_at_ms) + ", " + std::to_string(report.records_read) +
                    " evidence records read" + (report.partial ? ", stopped at max_records" : "") +
                    ")\n";
  if (report.systems.empty()) out += "  (none)\n";
  for (const SystemRating& s : report.systems) {
    out += "  " + std::string(RuleStatusName(s.rating)) + "  " + s.facts.institution_code + "  " +
           s.facts.name + "  " + s.facts.client_id;
    if (!s.facts.enabled) out += "  (disabled)";
    const std::string failed = RuleList(s, RuleStatus::kFail);
    const std::string warned = RuleList(s, RuleStatus::kWarn);
    if (!failed.empty()) out += "  failed: " + failed;
    if (!warned.empty()) out += (failed.empty() ? "  " : "; ") + std::string("warned: ") + warned;
    out += "\n";
  }
  out += "Institutions\n";
  for (const InstitutionRating& i : report.institutions) {
    out += "  " + std::string(i.rating ? RuleStatusName(*i.rating) : "none") + "  " + i.code +
           "  " + i.name + "  " + std::to_string(i.systems) +
           " systems: " + std::to_string(i.pass) + " pass, " + std::to_string(i.warn) + " warn, " +
           std::to_string(i.fail) + " fail";
    if (i.suspended) out += "  (suspended)";
    if (!i.failed_rules.empty()) out += "  failed: " + Joined(i.failed_rules);
    out += "\n";
  }
  out += ComplianceSummaryText(report);
  return out;
}

std::string ThresholdsText(const ComplianceThresholds& t) {
  std::string out;
  for (const SettingInfo& info : SettingInfos()) {
    std::string name(info.name);
    name.resize(28, ' ');
    out += name + Plain(t.Get(info.setting)) + " " + std::string(info.unit) +
           (t.stored[static_cast<size_t>(info.setting)] ? "" : " (default)") + "  " +
           std::string(info.meaning) + "\n";
  }
  return out;
}

std::string ComplianceCsv(const ComplianceReport& report) {
  std::string out =
      "institution,client_id,system,enabled,rating,rule,status,applies,measured,warn_above,"
      "fail_above,value\r\n";
  const auto number = [](const std::optional<double>& v) { return v ? Plain(*v) : std::string(); };
  for (const SystemRating& s : report.systems) {
    for (const RuleResult& r : s.rules) {
      out += Csv(s.facts.institution_code) + "," + Csv(s.facts.client_id) + "," +
             Csv(s.facts.name) + "," + (s.facts.enabled ? "true" : "false") + "," +
             std::string(RuleStatusName(s.rating)) + "," + std::string(RuleName(r.rule)) + "," +
             std::string(RuleStatusName(r.status)) + "," + (r.applies ? "true" : "false") + "," +
             number(r.measured) + "," + number(r.warn_above) + "," + number(r.fail_above) + "," +
             Csv(r.value) + "\r\n";
    }
  }
  return out;
}

}  // namespace govesb::admin
