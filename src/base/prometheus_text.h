#pragma once

// Writing the Prometheus text exposition format (version 0.0.4): a family's HELP and TYPE
// lines, samples with labels (values escaped), histograms. Each module that exposes metrics
// writes its own families with these; the server puts the pieces together for /metrics.

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace govesb::prometheus {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

struct Label {
  std::string_view name;
  std::string_view value;
};

// "# HELP name help" and "# TYPE name type" (counter, gauge, histogram).
void Family(std::string& out, std::string_view name, std::string_view type, std::string_view help);

// name{a="x",b="y"} value: label values escaped (backslash, double quote, newline).
void Sample(std::string& out, std::string_view name, std::initializer_list<Label> labels,
            uint64_t value);
void Sample(std::string& out, std::string_view name, std::initializer_list<Label> labels,
            int64_t value);
void Sample(std::string& out, std::string_view name, std::initializer_list<Label> labels,
            double value);
inline void Sample(std::string& out, std::string_view name, uint64_t value) {
  Sample(out, name, {}, value);
}
inline void Sample(std::string& out, std::string_view name, int64_t value) {
  Sample(out, name, {}, value);
}
inline void Sample(std::string& out, std::string_view name, double value) {
  Sample(out, name, {}, value);
}

// One histogram's samples: name_bucket{labels...,le="b"} with the cumulative count for each of
// `bounds` (ascending) and "+Inf", then name_sum and name_count. `counts` holds the count of
// each bucket alone (not cumulative): one per bound, then one for the values above the last.
void Histogram(std::string& out, std::string_view name, std::span<const Label> labels,
               std::span<const double> bounds, std::span<const uint64_t> counts, double sum);

// A number as the format writes it: the shortest text that reads back the same.
std::string FormatValue(double value);

}  // namespace govesb::prometheus
