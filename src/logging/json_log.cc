#include "logging/json_log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "base/log_safe.h"

namespace govesb {
namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};

// The largest message a line carries (the text formatter has no limit, but a JSON line that
// a collector cannot take is lost whole).
constexpr size_t kMaxMessageBytes = 16 * 1024;

class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line;
    line.reserve(msg.payload.size() + 80);
    line += "{\"time\":\"";
    AppendTime(msg.time, line);
    line += "\",\"level\":\"";
    const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    line.append(level.data(), level.size());
    line += '"';
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (!payload.empty() && payload.front() == kJsonLogEventMark) {
      line.append(payload.substr(1));  // ,"msg":...,"member":... made by JsonLogEvent
    } else {
      line += ",\"msg\":\"";
      AppendJsonLogSafe(line, payload, kMaxMessageBytes);
      line += '"';
    }
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLogFormatter>();
  }

 private:
  // RFC 3339 in UTC with milliseconds, as the text lines have it.
  static void AppendTime(spdlog::log_clock::time_point at, std::string& out) {
    const auto since = at.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since - seconds).count();
    const std::time_t t = static_cast<std::time_t>(seconds.count());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                                tm.tm_sec, static_cast<int>(millis));
    out.append(buf, n > 0 ? static_cast<size_t>(n) : 0);
  }
};

void Name(std::string& out, std::string_view name) {
  out += ",\"";
  out += name;  // names are the bus's own constants
  out += "\":";
}

}  // namespace

void SetLogFormat(LogFormat format) { g_format.store(format, std::memory_order_relaxed); }

LogFormat CurrentLogFormat() { return g_format.load(std::memory_order_relaxed); }

std::unique_ptr<spdlog::formatter> MakeJsonLogFormatter() {
  return std::make_unique<JsonLogFormatter>();
}

JsonLogEvent::JsonLogEvent(std::string_view msg) {
  text_.reserve(512);
  text_ += kJsonLogEventMark;
  Str("msg", msg);
}

JsonLogEvent& JsonLogEvent::Str(std::string_view name, std::string_view value, size_t max_bytes) {
  Name(text_, name);
  text_ += '"';
  AppendJsonLogSafe(text_, value, max_bytes);
  text_ += '"';
  return *this;
}

JsonLogEvent& JsonLogEvent::Int(std::string_view name, int64_t value) {
  Name(text_, name);
  text_ += std::to_string(value);
  return *this;
}

JsonLogEvent& JsonLogEvent::Millis(std::string_view name, double value) {
  Name(text_, name);
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%.3f", value);
  text_.append(buf, n > 0 ? static_cast<size_t>(n) : 0);
  return *this;
}

}  // namespace govesb
