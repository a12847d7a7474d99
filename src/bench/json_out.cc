#include "bench/json_out.h"

#include <cmath>
#include <cstdio>

#include "wire/json.h"

namespace govesb::bench {

std::string FormatDecimal(double value, int decimals) {
  if (!std::isfinite(value)) return "0";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  std::string out(buffer);
  if (out.find('.') != std::string::npos) {
    while (out.back() == '0') out.pop_back();
    if (out.back() == '.') out.pop_back();
  }
  if (out == "-0") out = "0";
  return out;
}

void JsonObjectWriter::Key(std::string_view key) {
  if (text_.size() > 1) text_ += ',';
  wire::WriteString(key, text_);
  text_ += ':';
}

JsonObjectWriter& JsonObjectWriter::Number(std::string_view key, double value, int decimals) {
  Key(key);
  text_ += FormatDecimal(value, decimals);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Integer(std::string_view key, uint64_t value) {
  Key(key);
  text_ += std::to_string(value);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::String(std::string_view key, std::string_view value) {
  Key(key);
  wire::WriteString(value, text_);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Raw(std::string_view key, std::string_view json) {
  Key(key);
  text_ += json;
  return *this;
}

}  // namespace govesb::bench
