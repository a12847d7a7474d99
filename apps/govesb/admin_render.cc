// The text forms of what `govesb admin` prints.
#include "admin_render.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace govesb::apps {
namespace {
namespace json = boost::json;
}  // namespace

// A JSON scalar as plain text for the human form.
std::string Plain(const json::value& value) {
  if (value.is_string()) return std::string(value.get_string());
  if (value.is_null()) return "-";
  if (value.is_double()) {
    char buffer[64];
    const double number = value.get_double();
    auto [end, ec] =
        std::abs(number) < 1e15
            ? std::to_chars(buffer, buffer + sizeof(buffer), number, std::chars_format::fixed)
            : std::to_chars(buffer, buffer + sizeof(buffer), number);
    if (ec == std::errc()) return std::string(buffer, end);
  }
  return json::serialize(value);
}

// One object: "key: value" lines, values aligned.
void PrintObject(const json::object& object, bool as_json) {
  if (as_json) {
    std::cout << json::serialize(object) << "\n";
    return;
  }
  size_t width = 0;
  for (const auto& member : object) width = std::max(width, member.key().size());
  for (const auto& member : object) {
    std::string key(member.key());
    std::cout << key << ":" << std::string(width - key.size() + 1, ' ') << Plain(member.value())
              << "\n";
  }
}

// A list: a JSON array, or an aligned table of `columns`.
void PrintList(const json::array& rows, const std::vector<std::string>& columns, bool as_json) {
  if (as_json) {
    std::cout << json::serialize(rows) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> widths;
  for (const std::string& column : columns) widths.push_back(column.size());
  for (const json::value& row : rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < columns.size(); ++i) {
      const json::value* value = row.as_object().if_contains(columns[i]);
      line.push_back(value != nullptr ? Plain(*value) : "-");
      widths[i] = std::max(widths[i], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  auto print_line = [&](const std::vector<std::string>& line) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text += std::string(widths[i] - line[i].size() + 2, ' ');
    }
    std::cout << text << "\n";
  };
  print_line(columns);
  for (const auto& line : cells) print_line(line);
}

}  // namespace govesb::apps
