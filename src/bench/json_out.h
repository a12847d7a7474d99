#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace govesb::bench {

// Builds one JSON object for the reports: members in the order they are added (the order the
// README documents) and numbers in plain decimal notation (1234.5, not 1.2345E3), so the output
// reads well and any JSON tool parses it.
class JsonObjectWriter {
 public:
  JsonObjectWriter& Number(std::string_view key, double value, int decimals = 3);
  JsonObjectWriter& Integer(std::string_view key, uint64_t value);
  JsonObjectWriter& String(std::string_view key, std::string_view value);
  // `json` is inserted verbatim: another object's Finish(), for instance.
  JsonObjectWriter& Raw(std::string_view key, std::string_view json);
  std::string Finish() const { return text_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string text_ = "{";
};

// `value` with `decimals` digits after the point, trailing zeros removed ("12.5", "3").
std::string FormatDecimal(double value, int decimals);

}  // namespace govesb::bench
