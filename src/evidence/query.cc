#include "evidence/query.h"

#include <algorithm>
#include <charconv>

#include "evidence/records.h"
#include "wire/json.h"

namespace govesb::evidence {

namespace {

// Whether a record (its canonical text) passes the filter.
bool Matches(std::string_view text, const QueryFilter& f) {
  auto members = wire::ScanObject(text);
  if (!members.ok()) return false;
  auto str = [&](std::string_view name) -> std::string {
    const wire::JsonMember* m = wire::FindMember(*members, name);
    if (m == nullptr || m->type != wire::JsonType::kString) return {};
    auto decoded = wire::DecodeString(m->raw);
    return decoded.ok() ? std::move(*decoded) : std::string();
  };
  const wire::JsonMember* at_member = wire::FindMember(*members, "at");
  int64_t at = 0;
  if (at_member == nullptr || at_member->type != wire::JsonType::kNumber) return false;
  std::from_chars(at_member->raw.data(), at_member->raw.data() + at_member->raw.size(), at);
  if (at < f.from_ms || at >= f.to_ms) return false;
  if (!f.code.empty() && str("code") != f.code) return false;
  if (!f.outcome.empty() && str("outcome") != f.outcome) return false;
  if (!f.user_id.empty() && str("userId") != f.user_id) return false;
  if (!f.request_id.empty() && str("requestId") != f.request_id) return false;
  if (!f.kind.empty() && str("kind") != f.kind) return false;
  if (!f.systems.empty()) {
    const std::string from = str("from");
    const std::string to = str("to");
    if (std::none_of(f.systems.begin(), f.systems.end(),
                     [&](const std::string& s) { return s == from || s == to; })) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::vector<std::string>> QueryRecords(store::Database& db, const QueryFilter& f,
                                              const std::string& archive_dir,
                                              std::optional<int64_t> committed_through) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction read,
                          store::Transaction::Begin(db, store::TransactionMode::kDeferred));
  GOVESB_ASSIGN_OR_RETURN(int64_t through, ReadLimit(db, committed_through));
  std::vector<std::string> out;
  auto collect = [&](const StoredRecord& r) -> Result<bool> {
    if (!f.request_id.empty() && r.text.find(f.request_id) == std::string_view::npos) {
      return true;  // cheap rejection before parsing
    }
    if (Matches(r.text, f)) out.emplace_back(r.text);
    return out.size() < f.limit;
  };
  // Archives whose time span meets the range (a record's time is within its file's span).
  GOVESB_ASSIGN_OR_RETURN(std::vector<ArchiveInfo> archives, ListArchives(db));
  for (const ArchiveInfo& a : archives) {
    if (a.last_at < f.from_ms || a.first_at >= f.to_ms) continue;
    GOVESB_RETURN_IF_ERROR(ForEachArchiveRecord(archive_dir + "/" + a.file, nullptr, collect));
    if (out.size() >= f.limit) return out;
  }
  if (!f.request_id.empty()) {
    GOVESB_ASSIGN_OR_RETURN(auto entries, FindLiveExchange(db, f.request_id, through));
    for (const auto& [first, last] : entries) {
      if (out.size() >= f.limit) break;
      GOVESB_RETURN_IF_ERROR(ForEachLiveRecord(db, first, last, collect));
    }
    return out;
  }
  // The live log after the archives (a segment file may still hold archived records), up to
  // the committed point.
  const int64_t archived = archives.empty() ? 0 : archives.back().last_seq;
  if (archived >= through) return out;
  GOVESB_RETURN_IF_ERROR(ForEachLiveRecord(db, archived + 1, through, collect));
  return out;
}

}  // namespace govesb::evidence
