#include "logging/json_log.h"

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <boost/json.hpp>
#include <sstream>

#include "base/log_safe.h"

namespace govesb {
namespace {

// Lines as --log-format json writes them, through a real spdlog logger.
class JsonLines : public ::testing::Test {
 protected:
  JsonLines() : sink_(std::make_shared<spdlog::sinks::ostream_sink_st>(out_)), logger_("t", sink_) {
    logger_.set_formatter(MakeJsonLogFormatter());
    logger_.set_level(spdlog::level::trace);
  }
  boost::json::object Only() {
    const std::string text = out_.str();
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(text, ec);
    EXPECT_FALSE(ec) << text;
    return v.is_object() ? v.as_object() : boost::json::object();
  }
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_st> sink_;
  spdlog::logger logger_;
};

TEST_F(JsonLines, APlainMessageIsOneObjectWithTimeLevelAndMsg) {
  logger_.warn("provider {} is slow: \"{}\"", "p1", "a\\b");
  boost::json::object o = Only();
  EXPECT_EQ(o.at("level").as_string(), "warning");
  EXPECT_EQ(o.at("msg").as_string(), "provider p1 is slow: \"a\\b\"");
  const std::string time(o.at("time").as_string());
  ASSERT_EQ(time.size(), 24u) << time;  // 2026-12-02T10:00:00.123Z
  EXPECT_EQ(time[10], 'T');
  EXPECT_EQ(time.back(), 'Z');
}

TEST_F(JsonLines, AnEventCarriesItsMembersAndNothingAPeerSentCanBreakTheLine) {
  const std::string hostile = "x\",\"outcome\":\"ok\"}\n{\"forged\":1\x1e\xff\u202e";
  JsonLogEvent event("exchange");
  event.Str("requestId", hostile).Int("http", 200).Millis("latencyMs", 1.23456);
  logger_.info("{}", event.text());
  boost::json::object o = Only();
  EXPECT_EQ(o.at("msg").as_string(), "exchange");
  EXPECT_EQ(o.at("http").as_int64(), 200);
  EXPECT_DOUBLE_EQ(o.at("latencyMs").as_double(), 1.235);
  EXPECT_EQ(o.size(), 6u);  // time, level, msg, requestId, http, latencyMs: nothing forged
  const std::string id(o.at("requestId").as_string());
  EXPECT_EQ(id.substr(0, 22), "x\",\"outcome\":\"ok\"}\n{\"f");
  EXPECT_NE(id.find("\x1e"), std::string::npos);          // a control character, kept as data
  EXPECT_NE(id.find("\xEF\xBF\xBD"), std::string::npos);  // the stray byte: U+FFFD
}

TEST_F(JsonLines, AMessageThatStartsWithTheMarkByteIsStillOnlyText) {
  // Only JsonLogEvent makes the mark; a message whose text begins with it (which escaping never
  // lets happen for peers' text) would be taken as members, so check that escaping removes it.
  std::string escaped;
  AppendLogSafe(escaped, "\x1e,\"forged\":1");
  logger_.info("{}", escaped);
  boost::json::object o = Only();
  EXPECT_EQ(o.size(), 3u);
  EXPECT_EQ(o.at("msg").as_string(), "\\x1e,\\\"forged\\\":1");
}

TEST(JsonLogSafe, CutsLongTextAndSaysHowLongItWas) {
  std::string out;
  AppendJsonLogSafe(out, std::string(1000, 'a'), 10);
  EXPECT_EQ(out, "aaaaaaaaaa\u2026(1000 bytes)");
  out.clear();
  AppendJsonLogSafe(out, "tab\there\x01", 256);
  EXPECT_EQ(out, "tab\\there\\u0001");
}

TEST(JsonLogFormat, IsProcessWideAndTextByDefault) {
  EXPECT_FALSE(JsonLogs());
  SetLogFormat(LogFormat::kJson);
  EXPECT_TRUE(JsonLogs());
  SetLogFormat(LogFormat::kText);
  EXPECT_FALSE(JsonLogs());
}

}  // namespace
}  // namespace govesb
