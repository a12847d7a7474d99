#include "bench/workload.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "schema/schema.h"
#include "wire/envelope.h"
#include "wire/json.h"

namespace govesb::bench {
namespace {

TEST(RequestSetTest, EveryEnvelopeIsDistinctAndCarriesItsOwnValidSignature) {
  auto key = crypto::PrivateKey::Generate(crypto::Curve::kP256);
  ASSERT_TRUE(key.ok());
  WorkloadOptions options;
  options.code = "BNCH01";
  options.body_size = 300;
  RequestSet set = RequestSet::Presign(*key, options, 600, {}, 2);
  ASSERT_EQ(set.size(), 600u);
  std::set<std::string> ids;
  for (size_t i = 0; i < set.size(); ++i) {
    std::string envelope = set.Envelope(i);
    EXPECT_EQ(envelope.size(), set.EnvelopeSize(i));
    auto parsed = wire::ParseEnvelope(envelope);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->data_raw, set.Data(i));
    ASSERT_TRUE(wire::VerifyEnvelope(*parsed, key->public_key()).ok()) << i;
    const wire::JsonMember* code = parsed->Find("apiCode");
    ASSERT_NE(code, nullptr);
    EXPECT_EQ(code->raw, "\"BNCH01\"");
    const wire::JsonMember* body = parsed->Find("esbBody");
    ASSERT_NE(body, nullptr);
    EXPECT_EQ(body->raw.size(), 300u);
    auto members = wire::ScanObject(body->raw);
    ASSERT_TRUE(members.ok());
    const wire::JsonMember* id = wire::FindMember(*members, "id");
    ASSERT_NE(id, nullptr);
    ids.insert(std::string(id->raw));
  }
  EXPECT_EQ(ids.size(), 600u);
}

TEST(RequestSetTest, PushModeAndTinyBodies) {
  auto key = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1);
  ASSERT_TRUE(key.ok());
  RequestSet set = RequestSet::Presign(*key, {Mode::kPush, "BNCHPUSH", 1}, 3);
  ASSERT_EQ(set.size(), 3u);
  EXPECT_EQ(set.body_size(), RequestSet::kMinBodySize);
  auto parsed = wire::ParseEnvelope(set.Envelope(2));
  ASSERT_TRUE(parsed.ok());
  ASSERT_NE(parsed->Find("pushCode"), nullptr);
  EXPECT_EQ(parsed->Find("esbBody")->raw.size(), RequestSet::kMinBodySize);
}

// The contract row's bodies match the contract it publishes (bench/contract): the row measures
// checking, not refusing.
TEST(RequestSetTest, BirthRecordBodiesMatchTheBenchContract) {
  std::ifstream in(GOVESB_BENCH_CONTRACT, std::ios::binary);
  ASSERT_TRUE(in) << GOVESB_BENCH_CONTRACT;
  std::stringstream text;
  text << in.rdbuf();
  auto contract = schema::Schema::Compile(text.str());
  ASSERT_TRUE(contract.ok()) << contract.status().ToString();
  auto key = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1);
  ASSERT_TRUE(key.ok());
  WorkloadOptions options;
  options.birth_record = true;
  RequestSet set = RequestSet::Presign(*key, options, 3);
  EXPECT_EQ(set.body_size(), 1024u);
  for (size_t i = 0; i < set.size(); ++i) {
    auto parsed = wire::ParseEnvelope(set.Envelope(i));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    const wire::JsonMember* body = parsed->Find("esbBody");
    ASSERT_NE(body, nullptr);
    EXPECT_EQ(body->raw.size(), 1024u);
    auto verdict = (*contract)->Validate(body->raw);
    ASSERT_TRUE(verdict.ok());
    EXPECT_FALSE(verdict->has_value()) << (*verdict)->ToString();
  }
  // Smaller than its members: the minimum size.
  options.body_size = 10;
  EXPECT_EQ(RequestSet::Presign(*key, options, 1).body_size(), RequestSet::kMinBirthRecordSize);
}

TEST(RequestSetTest, TimeBudgetStopsSigningEarly) {
  auto key = crypto::PrivateKey::Generate(crypto::Curve::kP521);
  ASSERT_TRUE(key.ok());
  RequestSet set = RequestSet::Presign(*key, {}, 10'000'000, std::chrono::milliseconds(50), 1);
  EXPECT_GE(set.size(), 1u);
  EXPECT_LT(set.size(), 10'000'000u);
  EXPECT_TRUE(
      key->public_key().VerifyBase64(set.Data(set.size() - 1), set.Signature(set.size() - 1)));
}

}  // namespace
}  // namespace govesb::bench
