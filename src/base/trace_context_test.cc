#include "base/trace_context.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace govesb {
namespace {

constexpr std::string_view kExample = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

TEST(TraceContext, ParsesTheSpecExample) {
  auto t = TraceContext::Parse(kExample);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->traceparent(), kExample);
  EXPECT_EQ(t->trace_id(), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(t->span_id(), "b7ad6b7169203331");
  EXPECT_TRUE(t->sampled());
}

TEST(TraceContext, RefusesWhatTheSpecCallsInvalid) {
  const std::string good(kExample);
  const std::vector<std::string> bad = {
      "",
      good.substr(0, 54),                                          // short
      good + "x",                                                  // version 00 is 55 exactly
      "ff" + good.substr(2),                                       // version ff
      "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",   // uppercase
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",   // zero trace id
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",   // zero span id
      "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // separator
      "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",   // not hex
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x",   // flags
      "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",  // later version, no '-'
  };
  for (const std::string& text : bad) EXPECT_FALSE(TraceContext::Parse(text)) << text;
}

TEST(TraceContext, ALaterVersionIsReadAsVersionZeroWithOnlyTheSampledFlag) {
  auto t = TraceContext::Parse("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0b-what-else");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->traceparent(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  auto unsampled = TraceContext::Parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-fe");
  ASSERT_TRUE(unsampled.has_value());
  EXPECT_FALSE(unsampled->sampled());
  EXPECT_EQ(unsampled->traceparent().substr(53), "00");
}

TEST(TraceContext, ContinueKeepsTheTraceAndMakesANewSpan) {
  TraceContext hop = TraceContext::Continue(kExample);
  EXPECT_EQ(hop.trace_id(), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_NE(hop.span_id(), "b7ad6b7169203331");
  EXPECT_TRUE(hop.sampled());
  EXPECT_TRUE(TraceContext::Parse(hop.traceparent()).has_value());
  TraceContext next = hop.Child();
  EXPECT_EQ(next.trace_id(), hop.trace_id());
  EXPECT_NE(next.span_id(), hop.span_id());
}

TEST(TraceContext, AMissingOrBrokenTraceparentStartsANewSampledTrace) {
  for (std::string_view incoming : {std::string_view(), std::string_view("garbage")}) {
    TraceContext t = TraceContext::Continue(incoming);
    auto parsed = TraceContext::Parse(t.traceparent());
    ASSERT_TRUE(parsed.has_value()) << t.traceparent();
    EXPECT_TRUE(t.sampled());
    EXPECT_NE(t.trace_id(), "0af7651916cd43dd8448eb211c80319c");
  }
}

TEST(TraceContext, NewTracesAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    TraceContext t = TraceContext::Start();
    EXPECT_TRUE(seen.insert(std::string(t.trace_id())).second);
  }
}

TEST(TraceContext, TracestateIsPassedOnOnlyWhenBoundedAndPrintable) {
  EXPECT_EQ(PassableTracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(PassableTracestate(std::string(513, 'a')), "");
  EXPECT_EQ(PassableTracestate("a=b\x01"), "");
}

}  // namespace
}  // namespace govesb
