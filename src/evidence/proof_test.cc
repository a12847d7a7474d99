#include "evidence/proof.h"

#include <gtest/gtest.h>

#include <future>

#include "base/temp_dir.h"
#include "evidence/log.h"
#include "evidence/test_log_fixture.h"

namespace govesb::evidence {
namespace {

class ProofTest : public EvidenceLogFixture {
 protected:
  void SetUp() override {
    Open(crypto::Curve::kP256);
    // 7 exchanges of 4 steps, sealed in two checkpoints; then one more, unsealed.
    for (int e = 0; e < 7; ++e) {
      ASSERT_TRUE(Append(e).ok());
      if (e == 3) {
        ASSERT_TRUE(Seal().ok());
      }
    }
    ASSERT_TRUE(Seal().ok());
    ASSERT_TRUE(Append(7).ok());
  }

  Status Append(int exchange) {
    std::vector<Record> steps;
    for (const char* kind : {"request", "delivery", "reply", "response"}) {
      Record r;
      r.at_ms = 1'700'000'000'000 + exchange;
      r.request_id = "exchange" + std::to_string(exchange);
      r.kind = kind;
      r.from = "a";
      r.to = "b";
      r.code = "BRTHCRT";
      r.outcome = "ok";
      r.signature = "MEUCIQ" + std::to_string(exchange);
      steps.push_back(r);
    }
    return AppendRecords(std::move(steps));
  }

  std::string Prove(const std::string& request_id) {
    auto proof = BuildProof(*db_, request_id, signer_->public_key(), "", log().durable_seq());
    GOVESB_CHECK(proof.ok());
    return *proof;
  }

  static std::string Replace(std::string text, const std::string& from, const std::string& to) {
    size_t at = text.find(from);
    GOVESB_CHECK(at != std::string::npos);
    return text.replace(at, from.size(), to);
  }
};

TEST_F(ProofTest, AnyAlteredFieldFailsTheProof) {
  std::string proof = Prove("exchange2");
  ASSERT_TRUE(CheckProof(proof, std::nullopt).ok());
  std::vector<std::pair<std::string, std::string>> edits = {
      {R"(\"outcome\":\"ok\")", R"(\"outcome\":\"no\")"},            // a record's content
      {R"(\"kind\":\"reply\")", R"(\"kind\":\"replY\")"},            // another one
      {R"("requestId":"exchange2")", R"("requestId":"exchange3")"},  // whose exchange
      {R"("index":9,)", R"("index":10,)"},                           // its position
      {R"("seq":10,)", R"("seq":11,)"},                              // its number
      {R"(\"root\":\")", R"(\"root\":\"0)"},                         // the checkpoint body
  };
  for (const auto& [from, to] : edits) {
    EXPECT_FALSE(CheckProof(Replace(proof, from, to), std::nullopt).ok()) << from;
  }
  // A path element flipped.
  size_t path = proof.find("\"path\":[\"") + 9;
  std::string flipped = proof;
  flipped[path] = flipped[path] == '0' ? '1' : '0';
  EXPECT_FALSE(CheckProof(flipped, std::nullopt).ok());
  // Another key: neither the auditor's nor a swapped one in the proof passes.
  auto other = crypto::PrivateKey::Generate(crypto::Curve::kP256).value();
  EXPECT_FALSE(CheckProof(proof, other.public_key()).ok());
  EXPECT_FALSE(CheckProof(Replace(proof, signer_->public_key().SpkiBase64(),
                                  other.public_key().SpkiBase64()),
                          std::nullopt)
                   .ok());
  EXPECT_FALSE(CheckProof("{}", std::nullopt).ok());
  EXPECT_FALSE(CheckProof("not json", std::nullopt).ok());
}

}  // namespace
}  // namespace govesb::evidence
