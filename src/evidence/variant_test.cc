// Known answers: the canonical text, its hash and the compact (stored) form of records made
// before records named their signature variant. Records already in logs, archives and proofs
// must keep hashing and decoding to exactly these bytes.

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "base/encoding.h"
#include "evidence/archive.h"
#include "evidence/log.h"
#include "evidence/proof.h"
#include "evidence/query.h"
#include "evidence/records.h"
#include "evidence/test_log_fixture.h"

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

TEST(EvidenceKnownAnswerTest, AVariantIsPartOfTheRecordAndOnlyWhenSet) {
  Record r = Signed();
  r.signature_variant = "latin1";
  const std::string text = CanonicalRecord(42, r);
  // Right after the signature's SHA-256; the rest as before.
  const std::string before(kSignedText);
  const size_t at = before.find(",\"bodyEncrypted\"");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(text, before.substr(0, at) + ",\"signatureVariant\":\"latin1\"" + before.substr(at));
  EXPECT_NE(HashHex(crypto::Sha256(text)), kSignedHash);
  // The stored form carries it and gives the same text back.
  auto decoded = DecodeCompactRow(Compact(r), r.request_id);
  ASSERT_TRUE(decoded.has_value());
  ASSERT_EQ(decoded->size(), 1u);
  EXPECT_EQ(decoded->front().signature_variant, "latin1");
  EXPECT_EQ(CanonicalRecord(42, decoded->front()), text);
  // Also with a signature SHA-256 that is stored rather than derived, and from a view.
  Record f = Failed();
  f.signature_variant = "compact-ascii-escaped";
  r.request_id = f.request_id;  // one row, one exchange
  decoded = DecodeCompactRow(Compact(f) + Compact(r).substr(1), f.request_id);
  ASSERT_TRUE(decoded.has_value());
  ASSERT_EQ(decoded->size(), 2u);
  EXPECT_EQ(CanonicalRecord(1, (*decoded)[0]), CanonicalRecord(1, f));
  EXPECT_EQ(CanonicalRecord(2, (*decoded)[1]), CanonicalRecord(2, r));
  PreparedRecords p;
  p.Add(ViewOf(f));
  EXPECT_EQ("{\"seq\":1" + std::string(p.records()[0].tail), CanonicalRecord(1, f));
  // An empty variant written with its tag is not a form the encoder makes: refused.
  std::string odd = Compact(Failed());
  const size_t sig = odd.find("sig");
  ASSERT_NE(sig, std::string::npos);
  odd.insert(sig + 3, std::string("\4\0", 2));
  EXPECT_FALSE(DecodeCompactRow(odd, "x").has_value());
}

TEST(EvidenceKnownAnswerTest, ATraceparentIsPartOfTheRecordAndOnlyWhenSet) {
  constexpr std::string_view kTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  Record r = Signed();
  r.signature_variant = "latin1";
  r.traceparent = std::string(kTrace);
  const std::string text = CanonicalRecord(42, r);
  // After the variant, before the body; the rest as before.
  const std::string before(kSignedText);
  const size_t at = before.find(",\"bodyEncrypted\"");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(text, before.substr(0, at) + ",\"signatureVariant\":\"latin1\",\"traceparent\":\"" +
                      std::string(kTrace) + "\"" + before.substr(at));
  // Stored as 26 bytes (not 55 characters) and given back exactly.
  Record without = r;
  without.traceparent.clear();
  EXPECT_EQ(Compact(r).size(), Compact(without).size() + 1 + 26);
  auto decoded = DecodeCompactRow(Compact(r), r.request_id);
  ASSERT_TRUE(decoded.has_value());
  ASSERT_EQ(decoded->size(), 1u);
  EXPECT_EQ(decoded->front().traceparent, kTrace);
  EXPECT_EQ(decoded->front().signature_variant, "latin1");
  EXPECT_EQ(CanonicalRecord(42, decoded->front()), text);
  // Search reads the trace id without decoding the record.
  std::string seen;
  EXPECT_TRUE(ScanCompactRow(Compact(r), [&](const CompactFields& f) { seen = f.trace_id; }));
  EXPECT_EQ(seen, "0af7651916cd43dd8448eb211c80319c");
  // A value not in the bus's own form (uppercase here) is kept as text, exactly.
  Record odd = Failed();
  odd.traceparent = "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01";
  decoded = DecodeCompactRow(Compact(odd), odd.request_id);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->front().traceparent, odd.traceparent);
  EXPECT_EQ(CanonicalRecord(7, decoded->front()), CanonicalRecord(7, odd));
  // From a view, the same text.
  PreparedRecords p;
  p.Add(ViewOf(r));
  EXPECT_EQ("{\"seq\":42" + std::string(p.records()[0].tail), text);
  // A traceparent before the variant is not a form the encoder makes: refused.
  const std::string compact = Compact(r);
  const std::string variant_member = std::string("\4\6") + "latin1";
  const size_t v = compact.find(variant_member);
  ASSERT_NE(v, std::string::npos);
  ASSERT_EQ(compact[v + variant_member.size()], '\5');
  const std::string trace_member = compact.substr(v + variant_member.size(), 27);
  const std::string swapped = compact.substr(0, v) + trace_member + variant_member +
                              compact.substr(v + variant_member.size() + 27);
  EXPECT_FALSE(DecodeCompactRow(swapped, r.request_id).has_value());
  // Cut short inside the 26 bytes: refused.
  EXPECT_FALSE(DecodeCompactRow(compact.substr(0, v + variant_member.size() + 10), r.request_id)
                   .has_value());
}

TEST(EvidenceKnownAnswerTest, PurposeAndWithheldFieldsArePartOfTheRecordOnlyWhenSet) {
  constexpr std::string_view kWithheld = R"(["/nin","/children/*/nin","+more"])";
  const std::string before(kSignedText);
  const size_t at = before.find(",\"bodyEncrypted\"");
  ASSERT_NE(at, std::string::npos);
  for (const bool with_purpose : {false, true}) {
    for (const bool with_trace : {false, true}) {
      Record r = Signed();
      if (with_trace) r.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      if (with_purpose) r.purpose = "TREATMENT";
      r.withheld = std::string(kWithheld);
      const std::string text = CanonicalRecord(42, r);
      // Last of the optional members, before the body; a string holding the JSON array.
      std::string expected_members;
      if (with_trace) expected_members += ",\"traceparent\":\"" + r.traceparent + "\"";
      if (with_purpose) expected_members += ",\"purpose\":\"TREATMENT\"";
      expected_members += R"(,"withheld":"[\"/nin\",\"/children/*/nin\",\"+more\"]")";
      EXPECT_EQ(text, before.substr(0, at) + expected_members + before.substr(at));
      auto decoded = DecodeCompactRow(Compact(r), r.request_id);
      ASSERT_TRUE(decoded.has_value());
      ASSERT_EQ(decoded->size(), 1u);
      EXPECT_EQ(decoded->front().withheld, kWithheld);
      EXPECT_EQ(decoded->front().purpose, r.purpose);
      EXPECT_EQ(CanonicalRecord(42, decoded->front()), text);
      PreparedRecords p;
      p.Add(ViewOf(r));
      EXPECT_EQ("{\"seq\":42" + std::string(p.records()[0].tail), text);
      // Changing a stored byte of the names is seen: the text (and so its hash) differs.
      std::string changed = Compact(r);
      const size_t star = changed.find('*');
      ASSERT_NE(star, std::string::npos);
      changed[star] = '-';
      auto tampered = DecodeCompactRow(changed, r.request_id);
      ASSERT_TRUE(tampered.has_value());
      EXPECT_NE(CanonicalRecord(42, tampered->front()), text);
    }
  }
  // Without it, byte for byte as before.
  EXPECT_EQ(CanonicalRecord(42, Signed()), before);
  // An empty value written with its tag is not a form the encoder makes: refused.
  std::string odd = Compact(Failed());
  const size_t sig = odd.find("sig");
  ASSERT_NE(sig, std::string::npos);
  odd.insert(sig + 3, std::string("\10\0", 2));
  EXPECT_FALSE(DecodeCompactRow(odd, "x").has_value());
}

// Records naming their variant, through the live log, archives, queries and proofs.
class EvidenceVariantTest : public EvidenceLogFixture {
 protected:
  void SetUp() override {
    max_segment_bytes_ = 1;  // a file per commit, so that archiving has whole files to delete
    Open(crypto::Curve::kP256);
  }

  // Exchange `n`: a request verified by `variant`, and the bus's response (no variant).
  Status Exchange(int n, std::string variant) {
    Record request = Signed();
    request.request_id = "x" + std::to_string(n);
    request.signature_variant = std::move(variant);
    Record response = Failed();
    response.request_id = request.request_id;
    return AppendRecords({request, response});
  }

  std::string ArchiveDir() const { return dir_.path() + "/archive"; }

  VerifyReport Check() {
    auto report = Verify(*db_, signer_->public_key(), ArchiveDir());
    GOVESB_CHECK(report.ok());
    return *report;
  }
};

TEST_F(EvidenceVariantTest, AVariantSurvivesSegmentsArchivesQueriesAndProofs) {
  ASSERT_TRUE(Exchange(0, "latin1").ok());
  ASSERT_TRUE(Exchange(1, "").ok());  // as records were before variants
  ASSERT_TRUE(Seal().ok());
  ASSERT_TRUE(Exchange(2, "compact").ok());
  ASSERT_TRUE(Seal().ok());
  EXPECT_TRUE(Check().intact);

  auto variant_of = [&](const std::string& request_id) {
    QueryFilter f;
    f.request_id = request_id;
    f.kind = "request";
    auto found = QueryRecords(*db_, f, ArchiveDir(), log().durable_seq());
    GOVESB_CHECK(found.ok() && found->size() == 1);
    return CanonicalMember(found->front(), "signatureVariant");
  };
  EXPECT_EQ(variant_of("x0"), "latin1");
  EXPECT_EQ(variant_of("x1"), std::nullopt) << "no member when there is no variant";
  EXPECT_EQ(variant_of("x2"), "compact");

  // The first checkpoint's records move into an archive: still there, still verifiable.
  ArchiveOptions o;
  o.archive_dir = ArchiveDir();
  o.cutoff_ms = 1'800'000'000'001;
  auto archived = ArchiveSealed(*db_, o);
  ASSERT_TRUE(archived.ok()) << archived.status().message();
  EXPECT_EQ(archived->records, 6);
  EXPECT_EQ(variant_of("x0"), "latin1");
  VerifyReport r = Check();
  EXPECT_TRUE(r.intact) << r.problem;
  EXPECT_EQ(r.records, 6);

  for (const char* id : {"x0", "x2"}) {
    auto proof = BuildProof(*db_, id, signer_->public_key(), ArchiveDir(), log().durable_seq());
    ASSERT_TRUE(proof.ok()) << proof.status().message();
    EXPECT_NE(proof->find("signatureVariant"), std::string::npos);
    auto checked = CheckProof(*proof, signer_->public_key());
    ASSERT_TRUE(checked.ok()) << checked.status().message();
    EXPECT_EQ(CanonicalMember(checked->records[0], "signatureVariant"),
              id == std::string("x0") ? "latin1" : "compact");
    // A proof whose variant was changed does not verify.
    std::string forged = *proof;
    const std::string from = id == std::string("x0") ? "latin1" : "compact";
    forged.replace(forged.find("signatureVariant\\\":\\\"" + from),
                   std::string("signatureVariant\\\":\\\"").size() + from.size(),
                   "signatureVariant\\\":\\\"raw");
    EXPECT_FALSE(CheckProof(forged, signer_->public_key()).ok()) << id;
  }
}

TEST_F(EvidenceVariantTest, AChangedVariantIsFoundByVerify) {
  ASSERT_TRUE(Exchange(0, "latin1").ok());
  ASSERT_TRUE(Seal().ok());
  ASSERT_TRUE(Check().intact);
  // Rewrite the stored variant in place ("latin1" -> "raw___" would change the size: use a
  // name of the same length), as someone with write access to the segment file could.
  auto files = ListSegments(SegmentDir()).value();
  ASSERT_FALSE(files.empty());
  bool changed = false;
  for (const SegmentFile& f : files) {
    std::string bytes;
    {
      std::ifstream in(f.path, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    const size_t at = bytes.find("latin1");
    if (at == std::string::npos) continue;
    bytes.replace(at, 6, "utf-16");
    std::ofstream(f.path, std::ios::binary | std::ios::trunc) << bytes;
    changed = true;
  }
  ASSERT_TRUE(changed);
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 1) << r.problem;
}

}  // namespace
}  // namespace govesb::evidence
