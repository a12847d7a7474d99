// The operator's compliance thresholds (table compliance_settings, migration 12): stored as
// name/value texts. What the names mean and which values are valid is the admin layer's
// (admin/compliance.h); the registry only keeps them.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "registry/registry.h"

namespace govesb::registry {
namespace {

constexpr size_t kMaxSettingText = 64;

Status CheckName(std::string_view name) {
  const bool ok =
      !name.empty() && name.size() <= kMaxSettingText &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string_view::npos;
  if (!ok) {
    return InvalidArgument("a compliance setting's name is 1 to 64 of a-z, 0-9 and _");
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> Registry::ListComplianceSettings() {
  GOVESB_ASSIGN_OR_RETURN(store::Statement s,
                          db_.Prepare("SELECT name, value FROM compliance_settings ORDER BY name"));
  std::vector<std::pair<std::string, std::string>> out;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.emplace_back(s.ColumnText(0), s.ColumnText(1));
  }
  return out;
}

Status Registry::SetComplianceSetting(std::string_view name, std::string_view value) {
  GOVESB_RETURN_IF_ERROR(CheckName(name));
  const bool printable =
      !value.empty() && value.size() <= kMaxSettingText &&
      std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7F; });
  if (!printable) {
    return InvalidArgument("a compliance setting's value is 1 to 64 printable ASCII characters");
  }
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      db_.Prepare("INSERT INTO compliance_settings(name, value, updated_at) VALUES(?, ?, ?)"
                  " ON CONFLICT(name) DO UPDATE SET value = excluded.value,"
                  " updated_at = excluded.updated_at"));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, name));
  GOVESB_RETURN_IF_ERROR(s.Bind(2, value));
  GOVESB_RETURN_IF_ERROR(s.Bind(3, Now()));
  return s.Run();
}

Status Registry::RemoveComplianceSetting(std::string_view name) {
  GOVESB_RETURN_IF_ERROR(CheckName(name));
  GOVESB_ASSIGN_OR_RETURN(store::Statement s,
                          db_.Prepare("DELETE FROM compliance_settings WHERE name = ?"));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, name));
  return s.Run();
}

}  // namespace govesb::registry
