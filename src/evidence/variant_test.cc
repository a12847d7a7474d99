// Known answers: the canonical text, its hash and the compact (stored) form of records made
// before records named their signature variant. Records already in logs, archives and proofs
// must keep hashing and decoding to exactly these bytes.

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "evidence/log.h"

namespace govesb::evidence {
namespace {

// A step with every member set, its signature's SHA-256 derived from the signature.
Record Signed() {
  Record r;
  r.at_ms = 1'700'000'000'123;
  r.request_id = "c0ffee-req-1";
  r.kind = "request";
  r.from = "moh-his";
  r.to = "bus";
  r.code = "BRTHCRT";
  r.user_id = "19900101-12345-00001-12";
  r.outcome = "ok";
  r.latency_us = 812;
  r.size = 2048;
  AttachSigned(r, R"({"apiCode":"BRTHCRT","esbBody":{"id":"\u00e9"}})",
               "MEUCIQDx+signature/base64==");
  r.body_encrypted = "c2VhbGVkIGJvZHk=";
  return r;
}

// A failed step: no body, a signature SHA-256 that is not derived, an error.
Record Failed() {
  Record r;
  r.at_ms = 1'700'000'000'999;
  r.request_id = "c0ffee-req-2";
  r.kind = "response";
  r.from = "bus";
  r.to = "moh-his";
  r.code = "";
  r.outcome = "PERMISSION_DENIED";
  r.error = "no grant for \"BRTHCRT\"\n";
  r.latency_us = 3;
  r.size = 0;
  r.signature = "sig";
  r.signature_sha256 = std::string(64, 'b');
  return r;
}

std::string Compact(const Record& r) {
  std::string out(1, kCompactRowMarker);
  EncodeCompact(r, out);
  return out;
}

constexpr std::string_view kSignedText =
    "{\"seq\":42,\"at\":1700000000123,\"requestId\":\"c0ffee-req-1\",\"kind\":\"request\",\"from\":"
    "\"moh-his\",\"to\":\"bus\",\"code\":\"BRTHCRT\",\"userId\":\"19900101-12345-00001-12\","
    "\"outcome\":\"ok\",\"error\":\"\",\"latencyUs\":812,\"size\":2048,\"bodySha256\":"
    "\"cb3abb539834f68c4374b40e2f50ef7f64157facb34f3876ef4901edd6a1d7f9\",\"signature\":\"MEUCIQDx+"
    "signature/"
    "base64==\",\"signatureSha256\":"
    "\"cc434fcf206bcc17c643ce938aa6759cb7cf75b2e8c6238891146a72dfaf473c\",\"bodyEncrypted\":"
    "\"c2VhbGVkIGJvZHk=\"}";
constexpr std::string_view kSignedHash =
    "4842f672993e4963fcf0c60a9c355ed9c89aac448d062365291868c854b17488";
constexpr std::string_view kSignedCompactHex =
    "01f6a1abfef9620772657175657374076d6f682d6869730362757307425254484352541731393930303130312d3132"
    "3334352d30303030312d3132026f6b00d80c802001cb3abb539834f68c4374b40e2f50ef7f64157facb34f3876ef49"
    "01edd6a1d7f91b4d455543495144782b7369676e61747572652f6261736536343d3d0310633256686247566b49474a"
    "765a486b3d";
constexpr std::string_view kFailedText =
    "{\"seq\":42,\"at\":1700000000999,\"requestId\":\"c0ffee-req-2\",\"kind\":\"response\","
    "\"from\":\"bus\",\"to\":\"moh-his\",\"code\":\"\",\"userId\":\"\",\"outcome\":\"PERMISSION_"
    "DENIED\",\"error\":\"no grant for "
    "\\\"BRTHCRT\\\"\\n\",\"latencyUs\":3,\"size\":0,\"bodySha256\":\"\",\"signature\":\"sig\","
    "\"signatureSha256\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}";
constexpr std::string_view kFailedHash =
    "7ca2eaa98456af5f93a89b9922ff25767c7ffc84bc5877f6eac31ea17fcfb3d8";
constexpr std::string_view kFailedCompactHex =
    "01ceafabfef96208726573706f6e736503627573076d6f682d6869730000115045524d495353494f4e5f44454e4945"
    "44176e6f206772616e7420666f72202242525448435254220a0600000373696701bbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb00";

TEST(EvidenceKnownAnswerTest, ARecordWithoutAVariantHashesAndEncodesAsBefore) {
  for (const auto& [record, text, hash, compact_hex] :
       {std::tuple{Signed(), kSignedText, kSignedHash, kSignedCompactHex},
        std::tuple{Failed(), kFailedText, kFailedHash, kFailedCompactHex}}) {
    const std::string canonical = CanonicalRecord(42, record);
    EXPECT_EQ(canonical, text);
    EXPECT_EQ(HashHex(crypto::Sha256(canonical)), hash);
    EXPECT_EQ(HexEncode(Compact(record)), compact_hex);
    // The stored bytes of an existing log decode to the same text.
    auto decoded = DecodeCompactRow(HexDecode(compact_hex).value_or(""), record.request_id);
    EXPECT_TRUE(decoded.has_value() && decoded->size() == 1);
    if (decoded.has_value() && decoded->size() == 1) {
      EXPECT_EQ(CanonicalRecord(42, decoded->front()), text);
    }
  }
}

}  // namespace
}  // namespace govesb::evidence
