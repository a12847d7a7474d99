#pragma once

// fmt (and so spdlog) formatting of govesb::LogSafeView. Debian's spdlog is built with
// SPDLOG_FMT_EXTERNAL and uses the system fmt (9.x), so this specialises ::fmt::formatter,
// the one spdlog's "{}" looks up. Include it only in files that link fmt (spdlog::spdlog
// brings fmt::fmt); base itself does not depend on fmt.

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "base/log_safe.h"

template <>
struct fmt::formatter<govesb::LogSafeView> {
  constexpr auto parse(format_parse_context& ctx) -> decltype(ctx.begin()) {
    auto it = ctx.begin();
    if (it != ctx.end() && *it != '}') throw format_error("no format options for Untrusted()");
    return it;
  }

  template <typename FormatContext>
  auto format(const govesb::LogSafeView& view, FormatContext& ctx) const -> decltype(ctx.out()) {
    std::string escaped;
    govesb::AppendLogSafe(escaped, view.text, view.max_bytes);
    return std::copy(escaped.begin(), escaped.end(), ctx.out());
  }
};
