#pragma once

// The forms of a compliance report (docs/compliance.md): JSON (the admin API, `govesb admin
// compliance --json`), text (one line per system, institutions rolled up, the summary) and CSV
// (one row per system and rule). Pure functions.

#include <boost/json/object.hpp>
#include <string>

#include "admin/compliance.h"

namespace govesb::admin {

boost::json::object ToJson(const ComplianceReport& report);
boost::json::object ToJson(const ComplianceSummary& summary);
// Every setting: name, value, default, range, unit, meaning, and whether the operator set it.
boost::json::object ToJson(const ComplianceThresholds& thresholds);

// One line per system ("RATING  INSTITUTION  SYSTEM  CLIENT_ID  failed: …; warned: …"), then one
// per institution, then the summary.
std::string ComplianceText(const ComplianceReport& report);
std::string ComplianceSummaryText(const ComplianceReport& report);
std::string ThresholdsText(const ComplianceThresholds& thresholds);
// RFC 4180: a header line, then one row per system and rule: institution, client_id, system,
// enabled, rating, rule, status, applies, measured, warn_above, fail_above, value.
std::string ComplianceCsv(const ComplianceReport& report);

}  // namespace govesb::admin
