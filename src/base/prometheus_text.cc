#include "base/prometheus_text.h"

#include <charconv>
#include <cmath>

namespace govesb::prometheus {

namespace {

void AppendEscaped(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void AppendLabels(std::string& out, std::span<const Label> labels, const Label* extra) {
  if (labels.empty() && extra == nullptr) return;
  out += '{';
  bool first = true;
  auto one = [&](const Label& l) {
    if (!first) out += ',';
    first = false;
    out += l.name;
    out += "=\"";
    AppendEscaped(out, l.value);
    out += '"';
  };
  for (const Label& l : labels) one(l);
  if (extra != nullptr) one(*extra);
  out += '}';
}

void AppendName(std::string& out, std::string_view name, std::span<const Label> labels,
                const Label* extra = nullptr) {
  out += name;
  AppendLabels(out, labels, extra);
  out += ' ';
}

std::span<const Label> Span(std::initializer_list<Label> labels) {
  return {labels.begin(), labels.size()};
}

}  // namespace

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return ec == std::errc() ? std::string(buffer, end) : "NaN";
}

void Family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  for (char c : help) {  // HELP text escapes backslash and newline only
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void Sample(std::string& out, std::string_view name, std::initializer_list<Label> labels,
            uint64_t value) {
  AppendName(out, name, Span(labels));
  out += std::to_string(value);
  out += '\n';
}

void Sample(std::string& out, std::string_view name, std::initializer_list<Label> labels,
            int64_t value) {
  AppendName(out, name, Span(labels));
  out += std::to_string(value);
  out += '\n';
}

void Sample(std::string& out, std::string_view name, std::initializer_list<Label> labels,
            double value) {
  AppendName(out, name, Span(labels));
  out += FormatValue(value);
  out += '\n';
}

void Histogram(std::string& out, std::string_view name, std::span<const Label> labels,
               std::span<const double> bounds, std::span<const uint64_t> counts, double sum) {
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    if (i < counts.size()) cumulative += counts[i];
    const std::string le = i < bounds.size() ? FormatValue(bounds[i]) : "+Inf";
    const Label extra{"le", le};
    AppendName(out, bucket, labels, &extra);
    out += std::to_string(cumulative);
    out += '\n';
  }
  AppendName(out, std::string(name) + "_sum", labels);
  out += FormatValue(sum);
  out += '\n';
  AppendName(out, std::string(name) + "_count", labels);
  out += std::to_string(cumulative);
  out += '\n';
}

}  // namespace govesb::prometheus
