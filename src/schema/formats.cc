#include "schema/formats.h"

namespace govesb::schema {
namespace {

// `n` ASCII digits at `pos` as a number, or -1.
int Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

bool IsLeap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysIn(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

// YYYY-MM-DD at the start of `s` (exactly 10 characters).
bool FullDate(std::string_view s) {
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return false;
  const int year = Digits(s, 0, 4), month = Digits(s, 5, 2), day = Digits(s, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1) return false;
  return day <= DaysIn(year, month);
}

}  // namespace

bool IsRfc3339Date(std::string_view text) { return text.size() == 10 && FullDate(text); }

bool IsRfc3339DateTime(std::string_view text) {
  // full-date "T" HH:MM:SS [.frac] offset
  if (text.size() < 20 || !FullDate(text) || (text[10] != 'T' && text[10] != 't')) return false;
  const std::string_view t = text.substr(11);
  if (t[2] != ':' || t[5] != ':') return false;
  const int hour = Digits(t, 0, 2), minute = Digits(t, 3, 2), second = Digits(t, 6, 2);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
    return false;
  }
  size_t pos = 8;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    const size_t first = pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') ++pos;
    if (pos == first) return false;
  }
  if (pos >= t.size()) return false;
  int offset_minutes = 0;
  if (t[pos] == 'Z' || t[pos] == 'z') {
    if (pos + 1 != t.size()) return false;
  } else if (t[pos] == '+' || t[pos] == '-') {
    if (pos + 6 != t.size() || t[pos + 3] != ':') return false;
    const int oh = Digits(t, pos + 1, 2), om = Digits(t, pos + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return false;
    offset_minutes = (oh * 60 + om) * (t[pos] == '+' ? 1 : -1);
  } else {
    return false;
  }
  if (second == 60) {
    // A leap second is inserted at 23:59:60 UTC only.
    int utc = (hour * 60 + minute - offset_minutes) % (24 * 60);
    if (utc < 0) utc += 24 * 60;
    if (utc != 23 * 60 + 59) return false;
  }
  return true;
}

}  // namespace govesb::schema
