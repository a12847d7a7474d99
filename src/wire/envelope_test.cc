#include "wire/envelope.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "wire/json.h"

namespace govesb::wire {
namespace {

// True when `view` lies inside `owner`'s bytes.
bool PointsInto(std::string_view view, const std::string& owner) {
  return view.data() >= owner.data() && view.data() + view.size() <= owner.data() + owner.size();
}

std::string DecodedMember(const IncomingEnvelope& env, std::string_view key) {
  const JsonMember* member = env.Find(key);
  if (member == nullptr) return "<missing>";
  auto decoded = DecodeString(member->raw);
  return decoded.ok() ? *decoded : "<not a string>";
}

// ---------------------------------------------------------------------------------------------
// ParseEnvelope: the shapes known clients send.

TEST(ParseEnvelopeTest, NodeHelperShape) {
  // JSON.stringify({data, signature}): compact, data first.
  auto env = ParseEnvelope(
      R"({"data":{"apiCode":"ABC12","esbBody":{"name":"Juma","tags":["a/b"]}},"signature":"MEUCIQ=="})");
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(env->data_raw, R"({"apiCode":"ABC12","esbBody":{"name":"Juma","tags":["a/b"]}})");
  EXPECT_EQ(env->data_raw_original, env->data_raw);
  EXPECT_EQ(env->signature, "MEUCIQ==");
  EXPECT_TRUE(env->utf8_body.empty());
  EXPECT_FALSE(env->is_xml);
  ASSERT_EQ(env->data.size(), 2u);
  EXPECT_EQ(DecodedMember(*env, "apiCode"), "ABC12");
  ASSERT_NE(env->Find("esbBody"), nullptr);
  EXPECT_EQ(env->Find("esbBody")->raw, R"({"name":"Juma","tags":["a/b"]})");
  EXPECT_TRUE(PointsInto(env->data_raw, env->body));
  EXPECT_TRUE(PointsInto(env->Find("esbBody")->raw, env->body));
}

TEST(ParseEnvelopeTest, JavaConnectorShapeWithOtherMemberOrder) {
  // Java 0.1.5: esbBody first, authorization inside data, signature first in the envelope.
  auto env = ParseEnvelope(
      R"({"signature":"c2ln","data":{"esbBody":{"b":2,"a":1},"apiCode":"XYZ99","authorization":"Bearer t"}})");
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(env->signature, "c2ln");
  EXPECT_EQ(DecodedMember(*env, "apiCode"), "XYZ99");
  EXPECT_EQ(DecodedMember(*env, "authorization"), "Bearer t");
  EXPECT_EQ(env->Find("esbBody")->raw, R"({"b":2,"a":1})");
}

TEST(ParseEnvelopeTest, PhpAndPythonShapes) {
  // PHP json_encode escapes "/" and non-ASCII; Python json.dumps puts spaces after separators.
  auto php = ParseEnvelope(
      R"({"data":{"pushCode":"PUSH1","esbBody":{"url":"http:\/\/x","name":"caf\u00e9"}},"signature":"AA=="})");
  ASSERT_TRUE(php.ok()) << php.status().message();
  EXPECT_EQ(DecodedMember(*php, "pushCode"), "PUSH1");
  EXPECT_EQ(php->data_raw,
            R"({"pushCode":"PUSH1","esbBody":{"url":"http:\/\/x","name":"caf\u00e9"}})");

  auto python = ParseEnvelope(
      "{\"data\": {\"apiCode\": \"NID01\", \"userId\": \"u-1\", \"esbBody\": {\"Payload\": "
      "{\"nin\": \"1990\"}}},\n \"signature\": \"AA==\"}\n");
  ASSERT_TRUE(python.ok()) << python.status().message();
  EXPECT_EQ(python->data_raw,
            R"({"apiCode": "NID01", "userId": "u-1", "esbBody": {"Payload": {"nin": "1990"}}})");
  EXPECT_EQ(DecodedMember(*python, "userId"), "u-1");
  EXPECT_EQ(python->Find("esbBody")->raw, R"({"Payload": {"nin": "1990"}})");
}

TEST(ParseEnvelopeTest, DataWithWhitespaceKeepsExactText) {
  const std::string data = "{\n  \"apiCode\" : \"ABC12\",\n  \"esbBody\" : { }\n}";
  auto env = ParseEnvelope("  {\n \"data\" : " + data + " ,\n \"signature\" : \"QQ==\" }  ");
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(env->data_raw, data);
  EXPECT_EQ(env->Find("esbBody")->raw, "{ }");
}

TEST(ParseEnvelopeTest, Iso88591BodyIsTranscoded) {
  // Java connector 0.1.5: the body goes out as ISO-8859-1 ("é" is the single byte 0xE9).
  const std::string body =
      "{\"data\":{\"apiCode\":\"ABC12\",\"esbBody\":{\"name\":\"Caf\xE9\"}},\"signature\":\"AA=="
      "\"}";
  auto env = ParseEnvelope(body);
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(env->body, body);
  EXPECT_FALSE(env->utf8_body.empty());
  EXPECT_EQ(env->data_raw, "{\"apiCode\":\"ABC12\",\"esbBody\":{\"name\":\"Caf\xC3\xA9\"}}");
  EXPECT_EQ(env->data_raw_original, "{\"apiCode\":\"ABC12\",\"esbBody\":{\"name\":\"Caf\xE9\"}}");
  EXPECT_TRUE(PointsInto(env->data_raw, env->utf8_body));
  EXPECT_TRUE(PointsInto(env->data_raw_original, env->body));
  EXPECT_EQ(env->Find("esbBody")->raw, "{\"name\":\"Caf\xC3\xA9\"}");
}

TEST(ParseEnvelopeTest, Iso88591BeforeAndInsideData) {
  const std::string body =
      "{\"n\xE9\":\"\xE9\xE9\",\"data\":{\"a\":\"\xFC\"},\"signature\":\"AA==\",\"x\":\"\xE9\"}";
  auto env = ParseEnvelope(body);
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(env->data_raw_original, "{\"a\":\"\xFC\"}");
  EXPECT_EQ(env->data_raw, "{\"a\":\"\xC3\xBC\"}");
}

TEST(ParseEnvelopeTest, ByteOrderMarkIgnored) {
  auto env = ParseEnvelope("\xEF\xBB\xBF{\"data\":{},\"signature\":\"AA==\"}");
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(env->data_raw, "{}");
}

TEST(ParseEnvelopeTest, DuplicateMembersUseTheLastOne) {
  auto env = ParseEnvelope(R"({"data":{"a":1},"data":{"a":2},"signature":"AA=="})");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->data_raw, R"({"a":2})");
}

TEST(ParseEnvelopeTest, SignatureEscapesAreDecoded) {
  auto env = ParseEnvelope(R"({"data":{},"signature":"ab\/cd\u003d"})");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->signature, "ab/cd=");
}

TEST(ParseEnvelopeTest, ClearErrors) {
  struct Case {
    std::string body;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "body is not valid JSON: unexpected end of input at byte 0"},
      {"{\"data\":{},",
       "body is not valid JSON: unexpected end of input (expected a member name) at byte 11"},
      {"[1,2]", "envelope must be a JSON object with members data and signature"},
      {"\"text\"", "envelope must be a JSON object with members data and signature"},
      {"not json", "body is not valid JSON: unexpected character 'n' (expected a value) at byte 0"},
      {R"({"signature":"AA=="})", "envelope must be a JSON object with members data and signature"},
      {R"({"data":"x","signature":"AA=="})", "data must be a JSON object"},
      {R"({"data":[1],"signature":"AA=="})", "data must be a JSON object"},
      {R"({"data":{}})", "envelope has no signature"},
      {R"({"data":{},"signature":null})", "signature must be a string"},
      {R"({"data":{},"signature":["AA=="]})", "signature must be a string"},
      {R"({"data":{"a":01},"signature":"AA=="})",
       "body is not valid JSON: unexpected character '1' (expected ',' or '}') at byte 14"},
  };
  for (const Case& c : cases) {
    auto env = ParseEnvelope(c.body);
    ASSERT_FALSE(env.ok()) << c.body;
    EXPECT_EQ(env.status().code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_EQ(env.status().message(), c.message) << c.body;
  }
}

TEST(ParseEnvelopeTest, DepthBombIsAnError) {
  const std::string body = "{\"data\":{\"esbBody\":" + std::string(100000, '[') + "}";
  auto env = ParseEnvelope(body);
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.status().message().find("nesting deeper"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Copying and moving keep the views pointing into the envelope's own strings.

void ExpectSelfContained(const IncomingEnvelope& env) {
  const std::string& parsed = env.utf8_body.empty() ? env.body : env.utf8_body;
  EXPECT_TRUE(PointsInto(env.data_raw, parsed));
  EXPECT_TRUE(PointsInto(env.data_raw_original, env.body));
  for (const JsonMember& member : env.data) {
    EXPECT_TRUE(PointsInto(member.raw, env.is_xml ? env.xml_data_json : parsed)) << member.key;
  }
  EXPECT_TRUE(env.signature_text.empty() ? PointsInto(env.signature, parsed)
                                         : PointsInto(env.signature, env.signature_text));
}

TEST(IncomingEnvelopeTest, CopiesAndMovesRepointViews) {
  const std::string body =
      "{\"data\":{\"apiCode\":\"ABC12\",\"esbBody\":{\"n\":\"Caf\xE9\"}},\"signature\":\"AA==\"}";
  auto parsed = ParseEnvelope(body);
  ASSERT_TRUE(parsed.ok());
  ExpectSelfContained(*parsed);

  IncomingEnvelope copy = *parsed;
  ExpectSelfContained(copy);
  // Overwrite the original's bytes: the copy must not notice.
  std::fill(parsed->body.begin(), parsed->body.end(), 'x');
  std::fill(parsed->utf8_body.begin(), parsed->utf8_body.end(), 'x');
  EXPECT_EQ(copy.data_raw, "{\"apiCode\":\"ABC12\",\"esbBody\":{\"n\":\"Caf\xC3\xA9\"}}");
  EXPECT_EQ(copy.data_raw_original, "{\"apiCode\":\"ABC12\",\"esbBody\":{\"n\":\"Caf\xE9\"}}");
  EXPECT_EQ(DecodedMember(copy, "apiCode"), "ABC12");
  EXPECT_EQ(copy.signature, "AA==");

  std::vector<IncomingEnvelope> many;
  for (int i = 0; i < 20; ++i) many.push_back(copy);  // reallocations move the elements
  for (const IncomingEnvelope& e : many) {
    ExpectSelfContained(e);
    EXPECT_EQ(e.Find("esbBody")->raw, "{\"n\":\"Caf\xC3\xA9\"}");
  }

  IncomingEnvelope moved = std::move(many.back());
  ExpectSelfContained(moved);
  EXPECT_EQ(DecodedMember(moved, "apiCode"), "ABC12");
  EXPECT_TRUE(many.back().data.empty());  // NOLINT: moved-from state is documented as empty

  IncomingEnvelope assigned;
  assigned = moved;
  ExpectSelfContained(assigned);
  assigned = std::move(moved);
  ExpectSelfContained(assigned);
  EXPECT_EQ(assigned.data_raw_original, "{\"apiCode\":\"ABC12\",\"esbBody\":{\"n\":\"Caf\xE9\"}}");
}

TEST(IncomingEnvelopeTest, ASignatureWithEscapesIsDecodedAndSurvivesCopiesAndMoves) {
  // PHP's json_encode writes '/' as "\/": the signature is then decoded into the envelope's
  // own string; without escapes it is a view into the body (nothing copied).
  auto plain = ParseEnvelope(R"({"data":{"apiCode":"ABC12"},"signature":"MEU+ab/cd=="})");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->signature, "MEU+ab/cd==");
  EXPECT_TRUE(plain->signature_text.empty());
  ExpectSelfContained(*plain);

  auto escaped = ParseEnvelope(R"({"data":{"apiCode":"ABC12"},"signature":"MEU+ab\/cd\u003d="})");
  ASSERT_TRUE(escaped.ok());
  EXPECT_EQ(escaped->signature, "MEU+ab/cd==");
  ExpectSelfContained(*escaped);

  IncomingEnvelope copy = *escaped;
  escaped->signature_text.assign(escaped->signature_text.size(), 'x');
  EXPECT_EQ(copy.signature, "MEU+ab/cd==");
  ExpectSelfContained(copy);
  std::vector<IncomingEnvelope> many;
  for (int i = 0; i < 20; ++i) many.push_back(copy);  // reallocations move the elements
  for (const IncomingEnvelope& e : many) {
    EXPECT_EQ(e.signature, "MEU+ab/cd==");
    ExpectSelfContained(e);
  }
  IncomingEnvelope moved = std::move(many.back());
  EXPECT_EQ(moved.signature, "MEU+ab/cd==");
  ExpectSelfContained(moved);
  EXPECT_TRUE(many.back().signature.empty());  // NOLINT: moved-from state is documented as empty

  auto bad = ParseEnvelope(R"({"data":{"apiCode":"ABC12"},"signature":"MEU\q"})");
  EXPECT_FALSE(bad.ok()) << "an invalid escape is refused as before";
}

// ---------------------------------------------------------------------------------------------
// VerifyEnvelope: each variant, with a callback that accepts one exact text.

struct Recorder {
  std::string accept;
  std::vector<std::string> tried;
  std::function<bool(std::string_view)> Callback() {
    return [this](std::string_view candidate) {
      tried.emplace_back(candidate);
      return candidate == accept;
    };
  }
};

TEST(VerifyEnvelopeTest, RawVariant) {
  auto env = ParseEnvelope(R"({"data": { "apiCode" : "ABC12" }, "signature":"AA=="})");
  ASSERT_TRUE(env.ok());
  Recorder r{R"({ "apiCode" : "ABC12" })", {}};
  auto variant = VerifyEnvelope(*env, r.Callback());
  ASSERT_TRUE(variant.ok());
  EXPECT_EQ(*variant, SignatureVariant::kRaw);
  EXPECT_EQ(r.tried.size(), 1u);
}

TEST(VerifyEnvelopeTest, CompactVariant) {
  auto env = ParseEnvelope(
      R"({"data": { "apiCode" : "ABC12", "esbBody": {"amount": 1.50, "url": "a\/b"} }, "signature":"AA=="})");
  ASSERT_TRUE(env.ok());
  Recorder r{R"({"apiCode":"ABC12","esbBody":{"amount":1.5,"url":"a/b"}})", {}};
  auto variant = VerifyEnvelope(*env, r.Callback());
  ASSERT_TRUE(variant.ok());
  EXPECT_EQ(*variant, SignatureVariant::kCompact);
  EXPECT_EQ(r.tried.size(), 2u);
}

TEST(VerifyEnvelopeTest, CompactAsciiEscapedVariant) {
  auto env = ParseEnvelope(
      "{\"data\":{\"name\":\"Caf\xC3\xA9 \xF0\x9F\x98\x80\"},\"signature\":\"AA==\"}");
  ASSERT_TRUE(env.ok());
  Recorder r{R"({"name":"Caf\u00e9 \ud83d\ude00"})", {}};
  auto variant = VerifyEnvelope(*env, r.Callback());
  ASSERT_TRUE(variant.ok());
  EXPECT_EQ(*variant, SignatureVariant::kCompactAsciiEscaped);
  // raw and compact are the same text here: compact is not tried twice.
  EXPECT_EQ(r.tried.size(), 2u);
}

TEST(VerifyEnvelopeTest, Latin1VariantForIso88591Body) {
  // Sent as ISO-8859-1 with whitespace, signed as the UTF-8 of that same text.
  const std::string body = "{\"data\": {\"name\": \"Caf\xE9\"}, \"signature\": \"AA==\"}";
  auto env = ParseEnvelope(body);
  ASSERT_TRUE(env.ok());
  Recorder r{"{\"name\": \"Caf\xC3\xA9\"}", {}};
  auto variant = VerifyEnvelope(*env, r.Callback());
  ASSERT_TRUE(variant.ok());
  EXPECT_EQ(*variant, SignatureVariant::kLatin1);
  ASSERT_EQ(r.tried.size(), 4u);
  EXPECT_EQ(r.tried[0], "{\"name\": \"Caf\xE9\"}");
  EXPECT_EQ(r.tried[1], "{\"name\":\"Caf\xC3\xA9\"}");
  EXPECT_EQ(r.tried[2], "{\"name\":\"Caf\\u00e9\"}");
}

TEST(VerifyEnvelopeTest, CompactVariantForIso88591Body) {
  // Java 0.1.5 signs Jackson's compact UTF-8 text and sends it as ISO-8859-1.
  auto env = ParseEnvelope("{\"data\":{\"name\":\"Caf\xE9\"},\"signature\":\"AA==\"}");
  ASSERT_TRUE(env.ok());
  Recorder r{"{\"name\":\"Caf\xC3\xA9\"}", {}};
  auto variant = VerifyEnvelope(*env, r.Callback());
  ASSERT_TRUE(variant.ok());
  EXPECT_EQ(*variant, SignatureVariant::kCompact);
}

TEST(VerifyEnvelopeTest, Latin1VariantForUtf8Body) {
  // A client that read UTF-8 bytes as ISO-8859-1 before signing.
  auto env = ParseEnvelope("{\"data\":{\"name\":\"Caf\xC3\xA9\"},\"signature\":\"AA==\"}");
  ASSERT_TRUE(env.ok());
  Recorder r{"{\"name\":\"Caf\xC3\x83\xC2\xA9\"}", {}};
  auto variant = VerifyEnvelope(*env, r.Callback());
  ASSERT_TRUE(variant.ok());
  EXPECT_EQ(*variant, SignatureVariant::kLatin1);
}

TEST(VerifyEnvelopeTest, Latin1OverUtf8BodyIsNotThePassedOnText) {
  // Regression (issue 13, point 6): "Ã©" signed, "é" sent and passed on. The signature
  // verifies, but over other text than the bus would forward.
  auto env = ParseEnvelope("{\"data\":{\"name\":\"Caf\xC3\xA9\"},\"signature\":\"AA==\"}");
  ASSERT_TRUE(env.ok());
  EXPECT_FALSE(VerifiedTextIsPassedOn(*env, SignatureVariant::kLatin1));
  EXPECT_TRUE(VerifiedTextIsPassedOn(*env, SignatureVariant::kRaw));
  EXPECT_TRUE(VerifiedTextIsPassedOn(*env, SignatureVariant::kCompact));
}

TEST(VerifyEnvelopeTest, Latin1OverIso88591BodyIsThePassedOnText) {
  // Sent as ISO-8859-1, signed as its UTF-8 reading: the bus reads and passes on that reading.
  auto env = ParseEnvelope("{\"data\": {\"name\": \"Caf\xE9\"}, \"signature\": \"AA==\"}");
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(VerifiedTextIsPassedOn(*env, SignatureVariant::kLatin1));
}

TEST(VerifyEnvelopeTest, FallbacksOffTriesOnlyTheBytesSent) {
  auto env = ParseEnvelope("{\"data\": {\"a\": 1}, \"signature\": \"AA==\"}");
  ASSERT_TRUE(env.ok());
  Recorder compact{"{\"a\":1}", {}};
  EXPECT_TRUE(VerifyEnvelope(*env, compact.Callback()).ok());
  Recorder off{"{\"a\":1}", {}};
  auto variant = VerifyEnvelope(*env, off.Callback(), Fallbacks::kOff);
  EXPECT_FALSE(variant.ok());
  ASSERT_EQ(off.tried.size(), 1u);
  EXPECT_EQ(off.tried[0], "{\"a\": 1}");
  Recorder raw{"{\"a\": 1}", {}};
  auto exact = VerifyEnvelope(*env, raw.Callback(), Fallbacks::kOff);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(*exact, SignatureVariant::kRaw);
}

TEST(VerifyEnvelopeTest, NothingVerifies) {
  auto env = ParseEnvelope("{\"data\": {\"name\": \"Caf\xC3\xA9\"}, \"signature\": \"AA==\"}");
  ASSERT_TRUE(env.ok());
  Recorder r{"something else", {}};
  auto variant = VerifyEnvelope(*env, r.Callback());
  ASSERT_FALSE(variant.ok());
  EXPECT_EQ(variant.status().code(), StatusCode::kBadSignature);
  EXPECT_EQ(variant.status().message(),
            "signature does not verify against the registered public key");
  EXPECT_EQ(r.tried.size(), 4u);  // raw, compact, escaped, latin1: all different
}

TEST(VerifyEnvelopeTest, IdenticalCandidatesAreTriedOnce) {
  auto env = ParseEnvelope(R"({"data":{"apiCode":"ABC12"},"signature":"AA=="})");
  ASSERT_TRUE(env.ok());
  Recorder r{"nope", {}};
  EXPECT_FALSE(VerifyEnvelope(*env, r.Callback()).ok());
  EXPECT_EQ(r.tried.size(), 1u);  // compact and escaped equal the raw text; no byte >= 0x80
}

TEST(VerifyEnvelopeTest, SignatureVariantNames) {
  EXPECT_EQ(SignatureVariantName(SignatureVariant::kRaw), "raw");
  EXPECT_EQ(SignatureVariantName(SignatureVariant::kCompact), "compact");
  EXPECT_EQ(SignatureVariantName(SignatureVariant::kCompactAsciiEscaped), "compact-ascii-escaped");
  EXPECT_EQ(SignatureVariantName(SignatureVariant::kLatin1), "latin1");
}

// ---------------------------------------------------------------------------------------------
// Sealing

TEST(SealEnvelopeTest, ExactCompactForm) {
  EXPECT_EQ(SealEnvelope(R"({"success":true})", "MEQCIB+/=="),
            R"({"data":{"success":true},"signature":"MEQCIB+/=="})");
}

TEST(SealEnvelopeTest, PhpCutRecoversTheSignedText) {
  const std::string data = R"({"success":true,"esbBody":{"signature":"x","data":1}})";
  const std::string sealed = SealEnvelope(data, "AA==");
  // The PHP helper takes the text between {"data": and the LAST ,"signature".
  const size_t begin = std::string_view(R"({"data":)").size();
  const size_t end = sealed.rfind(",\"signature\"");
  EXPECT_EQ(sealed.substr(begin, end - begin), data);
  auto parsed = ParseEnvelope(sealed);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->data_raw, data);
}

// ---------------------------------------------------------------------------------------------
// XML envelopes (contract section 7)

TEST(ParseXmlEnvelopeTest, PhpPullRequest) {
  const std::string data =
      "<data><apiCode>ABC12</apiCode><esbBody><name>Juma &amp; Co</name><age>30</age></esbBody>"
      "</data>";
  auto env =
      ParseXmlEnvelope("<esbrequest>" + data + "<signature>MEUC+/==</signature></esbrequest>");
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_TRUE(env->is_xml);
  EXPECT_EQ(env->data_raw, data);
  EXPECT_EQ(env->data_raw_original, data);
  EXPECT_EQ(env->signature, "MEUC+/==");
  EXPECT_EQ(env->xml_data_json, R"({"apiCode":"ABC12","esbBody":{"name":"Juma & Co","age":"30"}})");
  EXPECT_EQ(DecodedMember(*env, "apiCode"), "ABC12");
  EXPECT_EQ(env->Find("esbBody")->raw, R"({"name":"Juma & Co","age":"30"})");
  ExpectSelfContained(*env);
}

TEST(ParseXmlEnvelopeTest, NidaPushAndRepeatedElements) {
  auto env = ParseXmlEnvelope(
      "<?xml version=\"1.0\"?>\n<esbrequest>\n  <data><apiCode>NID01</apiCode><userId>u1</userId>"
      "<esbBody><Payload><item>1</item><x/><item>2</item></Payload></esbBody></data>\n"
      "  <signature>\n AA==\n </signature>\n</esbrequest>\n");
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(env->signature, "AA==");
  EXPECT_EQ(DecodedMember(*env, "userId"), "u1");
  EXPECT_EQ(env->Find("esbBody")->raw, R"({"Payload":{"item":["1","2"],"x":""}})");

  auto push = ParseXmlEnvelope(
      "<esbrequest><data><pushCode>PSH01</pushCode><esbBody></esbBody></data>"
      "<signature>AA==</signature></esbrequest>");
  ASSERT_TRUE(push.ok()) << push.status().message();
  EXPECT_EQ(DecodedMember(*push, "pushCode"), "PSH01");
  EXPECT_EQ(push->Find("esbBody")->raw, "\"\"");
}

TEST(ParseXmlEnvelopeTest, NodeHelperSendsTheBodyAsEscapedText) {
  auto env = ParseXmlEnvelope(
      "<esbrequest><data><apiCode>ABC12</apiCode><esbBody>&lt;root&gt;&lt;a&gt;1&lt;/a&gt;"
      "&lt;/root&gt;</esbBody></data><signature>AA==</signature></esbrequest>");
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(DecodedMember(*env, "esbBody"), "<root><a>1</a></root>");
}

TEST(ParseXmlEnvelopeTest, ResponseRootCdataAndCharacterReferences) {
  auto env = ParseXmlEnvelope(
      "<esbresponse><signature>AA==</signature><data><success>true</success>"
      "<message><![CDATA[a <b> & c]]> &#233;&#x20AC;</message></data></esbresponse>");
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(DecodedMember(*env, "message"), "a <b> & c \xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(DecodedMember(*env, "success"), "true");
}

TEST(ParseXmlEnvelopeTest, Iso88591Body) {
  auto env = ParseXmlEnvelope(
      "<esbrequest><data><name>Caf\xE9</name></data><signature>AA==</signature></esbrequest>");
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(env->data_raw, "<data><name>Caf\xC3\xA9</name></data>");
  EXPECT_EQ(env->data_raw_original, "<data><name>Caf\xE9</name></data>");
  EXPECT_EQ(DecodedMember(*env, "name"), "Caf\xC3\xA9");
  IncomingEnvelope moved = std::move(*env);
  ExpectSelfContained(moved);
  EXPECT_EQ(DecodedMember(moved, "name"), "Caf\xC3\xA9");
}

TEST(ParseXmlEnvelopeTest, Errors) {
  struct Case {
    std::string body;
    std::string message_start;
  };
  const std::vector<Case> cases = {
      {"", "body is not well-formed XML"},
      {"{\"data\":{}}", "body is not well-formed XML"},
      {"<esbrequest><data></esbrequest>", "body is not well-formed XML: mismatched end tag"},
      {"<esbrequest><data><a>x</a></data>", "body is not well-formed XML: unexpected end"},
      {"<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><esbrequest/>",
       "body is not well-formed XML: DOCTYPE"},
      {"<esbrequest><data><a>&e;</a></data><signature>A</signature></esbrequest>",
       "body is not well-formed XML: unknown entity &e;"},
      {"<esbrequest></esbrequest><x/>", "body is not well-formed XML: content after"},
      {"<other><data></data><signature>A</signature></other>",
       "XML envelope must be <esbrequest> or <esbresponse>"},
      {"<esbrequest><signature>A</signature></esbrequest>",
       "XML envelope must be <esbrequest> or <esbresponse>"},
      {"<esbrequest><data><a>1</a></data></esbrequest>", "envelope has no signature"},
      {"<esbrequest><data><a>1</b></data></esbrequest>",
       "body is not well-formed XML: mismatched end tag </b>"},
      {"<esbrequest><data><a x=\"1>\"</a></data></esbrequest>", "body is not well-formed XML"},
  };
  for (const Case& c : cases) {
    auto env = ParseXmlEnvelope(c.body);
    ASSERT_FALSE(env.ok()) << c.body;
    EXPECT_EQ(env.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(env.status().message().substr(0, c.message_start.size()), c.message_start)
        << env.status().message();
  }
}

TEST(ParseXmlEnvelopeTest, DepthBombIsAnError) {
  std::string body = "<esbrequest><data>";
  for (int i = 0; i < 100000; ++i) body += "<a>";
  auto env = ParseXmlEnvelope(body);
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.status().message().find("nesting deeper"), std::string::npos);
}

TEST(VerifyEnvelopeTest, XmlUsesRawAndLatin1Only) {
  auto env = ParseXmlEnvelope(
      "<esbrequest><data><name>Caf\xC3\xA9</name></data><signature>AA==</signature></esbrequest>");
  ASSERT_TRUE(env.ok());
  Recorder raw{"<data><name>Caf\xC3\xA9</name></data>", {}};
  auto variant = VerifyEnvelope(*env, raw.Callback());
  ASSERT_TRUE(variant.ok());
  EXPECT_EQ(*variant, SignatureVariant::kRaw);
  Recorder none{"nope", {}};
  EXPECT_FALSE(VerifyEnvelope(*env, none.Callback()).ok());
  ASSERT_EQ(none.tried.size(), 2u);
  EXPECT_EQ(none.tried[1], "<data><name>Caf\xC3\x83\xC2\xA9</name></data>");
}

TEST(XmlResponseTest, DataJsonToXmlAndSeal) {
  auto xml = DataJsonToXml(
      R"({"success":true,"requestId":"0123456789abcdef0123456789abcdef","message":"Success","esbBody":{"a":"x<y","list":[1,2]}})");
  ASSERT_TRUE(xml.ok()) << xml.status().message();
  EXPECT_EQ(*xml,
            "<data><success>true</success><requestId>0123456789abcdef0123456789abcdef</requestId>"
            "<message>Success</message><esbBody><a>x&lt;y</a><list>1</list><list>2</list>"
            "</esbBody></data>");
  const std::string sealed = SealXmlEnvelope(*xml, "AA==");
  EXPECT_EQ(sealed, "<esbresponse>" + *xml + "<signature>AA==</signature></esbresponse>");
  auto parsed = ParseXmlEnvelope(sealed);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->data_raw, *xml);
  EXPECT_FALSE(DataJsonToXml("[1]").ok());
  EXPECT_FALSE(DataJsonToXml("{").ok());
}

// ---------------------------------------------------------------------------------------------
// With real keys

TEST(SignAndSealTest, VerifiesWithEveryCurve) {
  for (const crypto::Curve curve :
       {crypto::Curve::kSecp256k1, crypto::Curve::kP256, crypto::Curve::kP521}) {
    auto key = crypto::PrivateKey::Generate(curve);
    ASSERT_TRUE(key.ok()) << key.status().message();
    const crypto::LocalSigner signer(*key);
    const std::string data =
        R"({"success":true,"requestId":"0123456789abcdef0123456789abcdef","message":"Success","esbBody":{"name":"Caf)"
        "\xC3\xA9\"}}";
    const std::string sealed = SignAndSeal(data, signer);
    auto env = ParseEnvelope(sealed);
    ASSERT_TRUE(env.ok()) << env.status().message();
    auto variant = VerifyEnvelope(*env, signer.public_key());
    ASSERT_TRUE(variant.ok()) << variant.status().message();
    EXPECT_EQ(*variant, SignatureVariant::kRaw);

    // Re-sent with whitespace: verifies through the compact variant.
    auto spaced = ParseEnvelope(
        "{ \"data\" : { \"success\" : true, \"requestId\" : "
        "\"0123456789abcdef0123456789abcdef\", \"message\" : \"Success\", "
        "\"esbBody\" : { \"name\" : \"Caf\\u00e9\" } }, \"signature\" : \"" +
        std::string(env->signature) + "\" }");
    ASSERT_TRUE(spaced.ok());
    auto spaced_variant = VerifyEnvelope(*spaced, signer.public_key());
    ASSERT_TRUE(spaced_variant.ok());
    EXPECT_EQ(*spaced_variant, SignatureVariant::kCompact);

    // Tampered data fails.
    auto tampered = ParseEnvelope(SealEnvelope(
        R"({"success":false,"requestId":"0123456789abcdef0123456789abcdef","message":"Success","esbBody":{}})",
        env->signature));
    ASSERT_TRUE(tampered.ok());
    auto bad = VerifyEnvelope(*tampered, signer.public_key());
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kBadSignature);
  }
}

TEST(SignAndSealTest, XmlVerifies) {
  auto key = crypto::PrivateKey::Generate(crypto::Curve::kP256);
  ASSERT_TRUE(key.ok());
  const crypto::LocalSigner signer(*key);
  auto xml = DataJsonToXml(R"({"success":true,"esbBody":{"a":"1"}})");
  ASSERT_TRUE(xml.ok());
  auto env = ParseXmlEnvelope(SignAndSealXml(*xml, signer));
  ASSERT_TRUE(env.ok()) << env.status().message();
  auto variant = VerifyEnvelope(*env, signer.public_key());
  ASSERT_TRUE(variant.ok());
  EXPECT_EQ(*variant, SignatureVariant::kRaw);
}

}  // namespace
}  // namespace govesb::wire
