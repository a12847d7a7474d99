#include "traffic/query.h"

#include <algorithm>
#include <map>
#include <unordered_set>

#include "traffic/persistence.h"

namespace govesb::traffic {

namespace {

constexpr int64_t kMinuteMs = 60'000;

int64_t FloorMinute(int64_t ms) {
  return ms >= 0 ? ms / kMinuteMs : -((-ms + kMinuteMs - 1) / kMinuteMs);
}

// Figures being summed: the counts and the merged latency histogram.
struct Sum {
  Counts counts;

  void Add(const Counts& c) {
    for (int i = 0; i < kOutcomeCount; ++i) counts.by_outcome[i] += c.by_outcome[i];
    counts.request_bytes += c.request_bytes;
    counts.response_bytes += c.response_bytes;
    counts.latency.Merge(c.latency);
  }
  Figures Make() const {
    Figures f;
    f.by_outcome = counts.by_outcome;
    f.requests = counts.requests();
    f.errors = counts.errors();
    f.p50_us = counts.latency.Quantile(0.50);
    f.p99_us = counts.latency.Quantile(0.99);
    f.request_bytes = counts.request_bytes;
    f.response_bytes = counts.response_bytes;
    return f;
  }
};

struct Range {
  int64_t first_minute;
  int64_t end_minute;  // exclusive
};

Result<Range> Check(const SeriesFilter& f, bool series) {
  if (f.to_ms <= f.from_ms)
    return InvalidArgument("the end of a traffic range must be after its start");
  if (series && (f.step_minutes < 1 || f.step_minutes > 1440)) {
    return InvalidArgument("a traffic step must be from 1 to 1440 minutes");
  }
  if (f.code.size() > kMaxCodeLength) return InvalidArgument("a code is at most 128 characters");
  if (f.systems.size() > kMaxSystems) {
    return InvalidArgument("a traffic filter names at most 1000 systems");
  }
  Range r{FloorMinute(f.from_ms), FloorMinute(f.to_ms - 1) + 1};
  if (series &&
      (r.end_minute - r.first_minute + f.step_minutes - 1) / f.step_minutes > kMaxPoints) {
    return InvalidArgument("a traffic series has at most " + std::to_string(kMaxPoints) +
                           " points; choose a shorter range or a longer step");
  }
  return r;
}

// Calls `each` for every stored row in the range that matches the filter.
template <class Each>
Status ForEachRow(store::Database& db, const SeriesFilter& f, const Range& range, Each each) {
  std::string sql = "SELECT " + std::string(internal::kSelectColumns) +
                    " FROM traffic_minutes WHERE minute >= ? AND minute < ?";
  if (!f.code.empty()) sql += " AND code = ?";
  if (f.kind) sql += " AND kind = ?";
  GOVESB_ASSIGN_OR_RETURN(auto select, db.Prepare(sql));
  int i = 1;
  GOVESB_RETURN_IF_ERROR(select.Bind(i++, range.first_minute));
  GOVESB_RETURN_IF_ERROR(select.Bind(i++, range.end_minute));
  if (!f.code.empty()) GOVESB_RETURN_IF_ERROR(select.Bind(i++, f.code));
  if (f.kind) GOVESB_RETURN_IF_ERROR(select.Bind(i++, static_cast<int64_t>(*f.kind)));
  std::unordered_set<std::string_view> systems(f.systems.begin(), f.systems.end());
  while (true) {
    GOVESB_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    if (!systems.empty()) {
      // Cheap test before decoding the row.
      const bool consumer = systems.contains(select.ColumnView(3));
      const bool provider = systems.contains(select.ColumnView(4));
      const bool match = f.role == Role::kConsumer   ? consumer
                         : f.role == Role::kProvider ? provider
                                                     : consumer || provider;
      if (!match) continue;
    }
    GOVESB_ASSIGN_OR_RETURN(MinuteRow r, internal::ReadRow(select, false));
    each(r, systems);
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Point>> Series(store::Database& db, const SeriesFilter& filter) {
  GOVESB_ASSIGN_OR_RETURN(Range range, Check(filter, true));
  const int64_t step = filter.step_minutes;
  const size_t n = static_cast<size_t>((range.end_minute - range.first_minute + step - 1) / step);
  std::vector<Sum> sums(n);
  GOVESB_RETURN_IF_ERROR(ForEachRow(db, filter, range, [&](const MinuteRow& r, const auto&) {
    sums[static_cast<size_t>((r.minute - range.first_minute) / step)].Add(r.counts);
  }));
  std::vector<Point> points(n);
  for (size_t i = 0; i < n; ++i) {
    points[i].start_ms = (range.first_minute + static_cast<int64_t>(i) * step) * kMinuteMs;
    points[i].figures = sums[i].Make();
  }
  return points;
}

Result<std::vector<TotalsRow>> Totals(store::Database& db, const SeriesFilter& filter, GroupBy by,
                                      size_t limit) {
  if (limit < 1 || limit > 1000) return InvalidArgument("a totals limit is from 1 to 1000");
  GOVESB_ASSIGN_OR_RETURN(Range range, Check(filter, false));
  std::map<std::string, Sum, std::less<>> sums;
  auto add = [&](const std::string& key, const Counts& c) {
    auto it = sums.find(key);
    if (it == sums.end()) it = sums.emplace(key, Sum{}).first;
    it->second.Add(c);
  };
  GOVESB_RETURN_IF_ERROR(
      ForEachRow(db, filter, range,
                 [&](const MinuteRow& r, const std::unordered_set<std::string_view>& systems) {
                   if (by == GroupBy::kCode) {
                     if (!r.code.empty()) add(r.code, r.counts);
                     return;
                   }
                   auto counts_for = [&](const std::string& id, Role side) {
                     if (id.empty()) return false;
                     if (!systems.empty() && !systems.contains(id)) return false;
                     return filter.role == Role::kEither || filter.role == side;
                   };
                   if (counts_for(r.consumer, Role::kConsumer)) add(r.consumer, r.counts);
                   if (r.provider != r.consumer && counts_for(r.provider, Role::kProvider)) {
                     add(r.provider, r.counts);
                   }
                 }));
  std::vector<TotalsRow> rows;
  rows.reserve(sums.size());
  for (auto& [key, sum] : sums) rows.push_back(TotalsRow{key, sum.Make()});
  std::stable_sort(rows.begin(), rows.end(), [](const TotalsRow& a, const TotalsRow& b) {
    return a.figures.requests > b.figures.requests;
  });
  if (rows.size() > limit) rows.resize(limit);
  return rows;
}

}  // namespace govesb::traffic
