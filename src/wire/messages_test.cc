#include "wire/messages.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "wire/envelope.h"
#include "wire/json.h"

namespace govesb::wire {
namespace {

constexpr std::string_view kRequestId = "0123456789abcdef0123456789abcdef";

// True when the JSON text has whitespace outside its strings.
bool HasStructuralWhitespace(std::string_view json) {
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      return true;
    }
  }
  return false;
}

TEST(ResponseDataTest, ExactBytes) {
  EXPECT_EQ(
      ResponseData(true, kRequestId, "Success", R"({ "name" : "x", "amount" : 1.50 })"),
      R"({"success":true,"requestId":"0123456789abcdef0123456789abcdef","message":"Success","esbBody":{"name":"x","amount":1.5}})");
  EXPECT_EQ(
      ResponseData(false, kRequestId, "Unknown apiCode \"ZZZ99\"", ""),
      R"({"success":false,"requestId":"0123456789abcdef0123456789abcdef","message":"Unknown apiCode \"ZZZ99\"","esbBody":{}})");
  EXPECT_EQ(
      ResponseData(true, kRequestId, "Success", " \n "),
      R"({"success":true,"requestId":"0123456789abcdef0123456789abcdef","message":"Success","esbBody":{}})");
  EXPECT_EQ(
      ResponseData(true, kRequestId, "Success", "[1, \"a\\/b\", null]"),
      R"({"success":true,"requestId":"0123456789abcdef0123456789abcdef","message":"Success","esbBody":[1,"a/b",null]})");
  EXPECT_EQ(
      ResponseData(true, kRequestId, "Success", "\"plain text\""),
      R"({"success":true,"requestId":"0123456789abcdef0123456789abcdef","message":"Success","esbBody":"plain text"})");
}

TEST(ResponseDataTest, InvalidBodyStillGivesValidJson) {
  const std::string data = ResponseData(false, kRequestId, "Provider answered garbage", "{oops");
  EXPECT_EQ(
      data,
      R"({"success":false,"requestId":"0123456789abcdef0123456789abcdef","message":"Provider answered garbage","esbBody":{}})");
  EXPECT_TRUE(ValidateJson(data).ok());
}

TEST(ResponseDataTest, MessageIsEscapedJacksonStyle) {
  EXPECT_EQ(ResponseData(false, kRequestId, "line1\nline2\x01 caf\xC3\xA9 a/b", "{}"),
            "{\"success\":false,\"requestId\":\"0123456789abcdef0123456789abcdef\",\"message\":"
            "\"line1\\nline2\\u0001 caf\xC3\xA9 a/b\",\"esbBody\":{}}");
}

TEST(ResponseDataTest, NodeBodyRoundTrip) {
  // A body as Node's JSON.stringify produced it. Node's JSON.stringify(JSON.parse(x).data) of
  // our envelope must give back exactly our data text; the expected string below is what Node 20
  // prints for that expression.
  const std::string node_body =
      "{\"name\":\"Jina la Kwanza\",\"list\":[1,2.5,\"a/b\",true,null],\"nested\":{\"x\":null,"
      "\"\xC3\xA9\":\"\xC3\xBC\xE2\x82\xAC\"},\"emoji\":\"\xF0\x9F\x98\x80\",\"big\":"
      "12345678901234567000,\"q\":\"say \\\"hi\\\"\\\\n\"}";
  const std::string data = ResponseData(true, kRequestId, "Success", node_body);
  EXPECT_FALSE(HasStructuralWhitespace(data));
  EXPECT_EQ(data,
            "{\"success\":true,\"requestId\":\"0123456789abcdef0123456789abcdef\",\"message\":"
            "\"Success\",\"esbBody\":{\"name\":\"Jina la Kwanza\",\"list\":[1,2.5,\"a/b\",true,"
            "null],\"nested\":{\"x\":null,\"\xC3\xA9\":\"\xC3\xBC\xE2\x82\xAC\"},\"emoji\":"
            "\"\xF0\x9F\x98\x80\",\"big\":12345678901234567000,\"q\":\"say \\\"hi\\\"\\\\n\"}}");
  // The body of a pretty-printed copy gives the same text.
  const std::string pretty =
      "{\n  \"name\": \"Jina la Kwanza\",\n  \"list\": [ 1, 2.5, \"a\\/b\", true, null ],\n"
      "  \"nested\": { \"x\": null, \"\\u00e9\": \"\\u00fc\\u20ac\" },\n  \"emoji\": "
      "\"\\ud83d\\ude00\",\n  \"big\": 12345678901234567000,\n  \"q\": \"say \\\"hi\\\"\\\\n\"\n}";
  EXPECT_EQ(ResponseData(true, kRequestId, "Success", pretty), data);
}

TEST(ResponseDataTest, SealedResponseParsesBack) {
  const std::string data = ResponseData(true, kRequestId, "Success", R"({"a":1})");
  auto env = ParseEnvelope(SealEnvelope(data, "AA=="));
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(env->data_raw, data);
  ASSERT_EQ(env->data.size(), 4u);
  EXPECT_EQ(env->data[0].key, "success");
  EXPECT_EQ(env->data[1].key, "requestId");
  EXPECT_EQ(env->data[2].key, "message");
  EXPECT_EQ(env->data[3].key, "esbBody");
}

TEST(DeliveryDataTest, ExactBytes) {
  EXPECT_EQ(
      DeliveryData(R"({ "nin" : "19900101" })", kRequestId, "apiCode", "ABC12"),
      R"({"esbBody":{"nin":"19900101"},"requestId":"0123456789abcdef0123456789abcdef","apiCode":"ABC12"})");
  EXPECT_EQ(
      DeliveryData("[1.0, 2]", kRequestId, "pushCode", "PSH01"),
      R"({"esbBody":[1.0,2],"requestId":"0123456789abcdef0123456789abcdef","pushCode":"PSH01"})");
  EXPECT_EQ(DeliveryData("", kRequestId, "apiCode", "ABC12"),
            R"({"esbBody":{},"requestId":"0123456789abcdef0123456789abcdef","apiCode":"ABC12"})");
}

Result<ProviderReply> Reply(std::string_view data) {
  auto env = ParseEnvelope("{\"data\":" + std::string(data) + ",\"signature\":\"AA==\"}");
  EXPECT_TRUE(env.ok()) << env.status().message();
  if (!env.ok()) return env.status();
  return ReadProviderReply(*env);
}

TEST(ReadProviderReplyTest, NewerHelperShapes) {
  auto ok = Reply(R"({"success":true,"esbBody":{"a": [1, 2]}})");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_TRUE(ok->success);
  EXPECT_EQ(ok->message, "");
  EXPECT_EQ(ok->esb_body_raw, R"({"a": [1, 2]})");

  auto failed = Reply(R"({"success":false,"message":"No record \u00e9"})");
  ASSERT_TRUE(failed.ok());
  EXPECT_FALSE(failed->success);
  EXPECT_EQ(failed->message, "No record \xC3\xA9");
  EXPECT_EQ(failed->esb_body_raw, "");
}

TEST(ReadProviderReplyTest, JavaConnectorShape) {
  auto reply = Reply(R"({"esbBody":"text body","success":true,"message":null})");
  ASSERT_TRUE(reply.ok());
  EXPECT_TRUE(reply->success);
  EXPECT_EQ(reply->message, "");
  EXPECT_EQ(reply->esb_body_raw, "\"text body\"");
}

TEST(ReadProviderReplyTest, LenientAboutStringsNotAboutMissingSuccess) {
  auto quoted = Reply(R"({"success":"false","message":42})");
  ASSERT_TRUE(quoted.ok());
  EXPECT_FALSE(quoted->success);
  EXPECT_EQ(quoted->message, "42");

  auto missing = Reply(R"({"esbBody":{}})");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kBadGateway);
  EXPECT_EQ(missing.status().message(), "provider reply has no success member");

  auto wrong = Reply(R"({"success":1})");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(), "provider reply success must be a boolean");
  EXPECT_FALSE(Reply(R"({"success":"yes"})").ok());
}

TEST(ReadProviderReplyTest, XmlReply) {
  auto env = ParseXmlEnvelope(
      "<esbresponse><data><success>true</success><esbBody><a>1</a></esbBody></data>"
      "<signature>AA==</signature></esbresponse>");
  ASSERT_TRUE(env.ok()) << env.status().message();
  auto reply = ReadProviderReply(*env);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_TRUE(reply->success);
  EXPECT_EQ(reply->esb_body_raw, R"({"a":"1"})");
}

TEST(MessagesStyle, EachStyleIsWhatItsClientsReSerialisationGives) {
  const std::string body = R"({"a":1.0,"b":1.0E-4,"c":"x\u0001\u001Fy","d":[100.0,-0.0]})";
  // Jackson (Java clients): doubles as Double.toString, uppercase hex escapes.
  EXPECT_EQ(ResponseData(true, "r1", "Success", body),
            R"({"success":true,"requestId":"r1","message":"Success",)"
            R"("esbBody":{"a":1.0,"b":1.0E-4,"c":"x\u0001\u001Fy","d":[100.0,-0.0]}})");
  // Node: JSON.stringify(JSON.parse(data)), computed with Node.js.
  EXPECT_EQ(ResponseData(true, "r1", "ok\x1f", body, JsonStyle::kEcmaScript),
            R"({"success":true,"requestId":"r1","message":"ok\u001f",)"
            R"("esbBody":{"a":1,"b":0.0001,"c":"x\u0001\u001fy","d":[100,0]}})");
  EXPECT_EQ(DeliveryData(body, "r2", "apiCode", "API01", JsonStyle::kEcmaScript),
            R"({"esbBody":{"a":1,"b":0.0001,"c":"x\u0001\u001fy","d":[100,0]},)"
            R"("requestId":"r2","apiCode":"API01"})");
  // Restyling what the bus made in one style gives the other style's text.
  const std::string jackson = DeliveryData(body, "r2", "pushCode", "P1");
  EXPECT_EQ(RestyleData(jackson, JsonStyle::kEcmaScript),
            DeliveryData(body, "r2", "pushCode", "P1", JsonStyle::kEcmaScript));
  EXPECT_EQ(RestyleData(jackson, JsonStyle::kJackson), jackson);
}

}  // namespace
}  // namespace govesb::wire
