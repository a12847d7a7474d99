#pragma once

// The formats the validator asserts (the others are annotations, as draft 2020-12 has it):
// RFC 3339 `full-date` and `date-time`. ASCII digits only; months and days checked against the
// calendar (29 February in leap years); a leap second (second 60) only where it falls at
// 23:59:60 UTC once the offset is applied; offsets "Z"/"z" or ±HH:MM; "T"/"t" between date and
// time; fractions of a second of any length.

#include <string_view>

namespace govesb::schema {

bool IsRfc3339Date(std::string_view text);
bool IsRfc3339DateTime(std::string_view text);

}  // namespace govesb::schema
