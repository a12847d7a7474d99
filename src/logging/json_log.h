#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class formatter;
}

namespace govesb {

// How the process writes its log lines (`serve --log-format`): text ("TIME LEVEL message") or
// one JSON object per line (docs/monitoring.md, "Logs"). Process-wide, like the logger itself;
// set once at start, before the lines that depend on it are written.
enum class LogFormat { kText, kJson };
void SetLogFormat(LogFormat format);
LogFormat CurrentLogFormat();
inline bool JsonLogs() { return CurrentLogFormat() == LogFormat::kJson; }

// The formatter of --log-format json: every line is
//   {"time":"2026-12-02T10:00:00.123Z","level":"info","msg":"..."}
// and a line made with JsonLogEvent carries that event's own members after "level" instead.
std::unique_ptr<spdlog::formatter> MakeJsonLogFormatter();

// A structured log line (an exchange, say): its members are written as they are added, every
// string through AppendJsonLogSafe, so that nothing a peer sent can break the line or add a
// member. Log it with spdlog::info("{}", event.text()) while --log-format is json: the
// formatter recognises it by a first byte no escaped text can hold.
class JsonLogEvent {
 public:
  explicit JsonLogEvent(std::string_view msg);
  JsonLogEvent& Str(std::string_view name, std::string_view value, size_t max_bytes = 256);
  JsonLogEvent& Int(std::string_view name, int64_t value);
  // With three decimals (milliseconds as 1.234).
  JsonLogEvent& Millis(std::string_view name, double value);
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// The byte that starts a JsonLogEvent's text (the record separator, which AppendLogSafe and
// AppendJsonLogSafe always escape).
inline constexpr char kJsonLogEventMark = '\x1e';

}  // namespace govesb
