#include "evidence/query.h"

namespace govesb::evidence {

Result<std::vector<std::string>> QueryRecords(store::Database& db, const QueryFilter& f) {
  // SQLite's JSON functions read the canonical records; every condition is a bound parameter.
  std::string sql =
      "SELECT record FROM evidence_records WHERE json_extract(record, '$.at') >= ?1"
      " AND json_extract(record, '$.at') < ?2";
  std::vector<std::string> texts;  // parameters from ?3 on
  auto add = [&](std::string_view condition, const std::string& value) {
    texts.push_back(value);
    std::string n = "?" + std::to_string(texts.size() + 2);
    std::string c(condition);
    for (size_t at = c.find('#'); at != std::string::npos; at = c.find('#')) c.replace(at, 1, n);
    sql += " AND " + c;
  };
  if (!f.code.empty()) add("json_extract(record, '$.code') = #", f.code);
  if (!f.outcome.empty()) add("json_extract(record, '$.outcome') = #", f.outcome);
  if (!f.user_id.empty()) add("json_extract(record, '$.userId') = #", f.user_id);
  if (!f.request_id.empty()) add("request_id = #", f.request_id);
  if (!f.kind.empty()) add("json_extract(record, '$.kind') = #", f.kind);
  if (!f.systems.empty()) {
    sql += " AND (0";
    for (const std::string& system : f.systems) {
      texts.push_back(system);
      std::string n = "?" + std::to_string(texts.size() + 2);
      sql +=
          " OR json_extract(record, '$.from') = " + n + " OR json_extract(record, '$.to') = " + n;
    }
    sql += ")";
  }
  sql += " ORDER BY seq LIMIT " + std::to_string(f.limit);
  GOVESB_ASSIGN_OR_RETURN(store::Statement s, db.Prepare(sql));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, f.from_ms));
  GOVESB_RETURN_IF_ERROR(s.Bind(2, f.to_ms));
  for (size_t i = 0; i < texts.size(); ++i) {
    GOVESB_RETURN_IF_ERROR(s.Bind(static_cast<int>(i + 3), texts[i]));
  }
  std::vector<std::string> out;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(s.ColumnText(0));
  }
  return out;
}

}  // namespace govesb::evidence
