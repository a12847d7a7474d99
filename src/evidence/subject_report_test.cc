#include "evidence/subject_report.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "evidence/canonical_json.h"
#include "evidence/subject_report_document.h"
#include "evidence/subject_report_html.h"
#include "evidence/test_log_fixture.h"
#include "evidence/test_records.h"

namespace govesb::evidence {
namespace {

namespace json = boost::json;

// ---- the canonical form (RFC 8785) ----

std::string Canonical(std::string_view text) {
  auto c = CanonicalJson(json::parse(text));
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? *c : "";
}

TEST(CanonicalJsonTest, SortsMembersByUtf16CodeUnits) {
  // RFC 8785 section 3.2.3: U+1F600 (a surrogate pair, D83D DE00) sorts before U+FB33,
  // unlike in code point or UTF-8 order.
  EXPECT_EQ(Canonical(R"({"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew",)"
                      R"("1":"One","\ud83d\ude00":"Emoji","\u0080":"Control","\u00f6":"o"})"),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xC2\x80\":\"Control\","
            "\"\xC3\xB6\":\"o\",\"\xE2\x82\xAC\":\"Euro Sign\",\"\xF0\x9F\x98\x80\":\"Emoji\","
            "\"\xEF\xAC\xB3\":\"Hebrew\"}");
  EXPECT_EQ(Canonical(R"( { "b" : [ 1 , { "d" : null , "c" : true } ] , "a" : false } )"),
            R"({"a":false,"b":[1,{"c":true,"d":null}]})");
}

TEST(CanonicalJsonTest, EscapesStringsAsJcsDoes) {
  // Short escapes where JSON has them, \u00xx in lowercase for the other controls, `/`, DEL
  // and everything non-ASCII as they are.
  EXPECT_EQ(Canonical(R"(["\u0000\u001F\b\t\n\f\r\"\\\/\u007f\u00e9\u20ac\ud83d\ude00"])"),
            "[\"\\u0000\\u001f\\b\\t\\n\\f\\r\\\"\\\\/\x7F\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"]");
}

TEST(CanonicalJsonTest, TakesIntegersUpTo2To53AndRefusesFractions) {
  EXPECT_EQ(Canonical("[0,-1,9007199254740991,-9007199254740991]"),
            "[0,-1,9007199254740991,-9007199254740991]");
  for (const char* text : {"[9007199254740992]", "[-9007199254740992]", "[1.5]", "[1.0]", "[1e3]",
                           "[18446744073709551615]"}) {
    EXPECT_EQ(CanonicalJson(json::parse(text)).status().code(), StatusCode::kInvalidArgument)
        << text;
  }
}

TEST(CanonicalJsonTest, ValidUtf8ReplacesWhatIsNot) {
  EXPECT_TRUE(IsValidUtf8("NIDA \xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_EQ(ValidUtf8("a\xFF"
                      "b\xE2\x82"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\xEF\xBF\xBD");
}

// ---- the query's bounds ----

TEST(SubjectQueryTest, RefusesEmptyLongControlAndBackwardRanges) {
  EXPECT_TRUE(CheckSubjectQuery({.user_id = "19900101-12345-00001-12"}).ok());
  EXPECT_TRUE(CheckSubjectQuery({.user_id = std::string(kMaxSubjectIdBytes, '7')}).ok());
  struct Case {
    SubjectQuery query;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{.user_id = ""}, "empty"},
      {{.user_id = std::string(kMaxSubjectIdBytes + 1, '7')}, "at most 128"},
      {{.user_id = "1990\n0101"}, "control character"},
      {{.user_id = "a\xFF"}, "not UTF-8"},
      {{.user_id = "1990", .from_ms = 5000, .to_ms = 5000}, "before it starts"},
      {{.user_id = "1990", .from_ms = 6000, .to_ms = 5000}, "before it starts"},
      {{.user_id = "1990", .from_ms = -1}, "before 1970"},
  };
  for (const Case& c : cases) {
    Status s = CheckSubjectQuery(c.query);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.says;
    EXPECT_NE(s.message().find(c.says), std::string::npos) << s.message();
  }
}

TEST(SubjectQueryTest, ReadsThePurposeARecordDeclaresWhenItHasOne) {
  Record r = Step(1000, "r1", "nida-request", "moh", "bus", "NIDA01", "1990", "ok");
  EXPECT_EQ(RecordPurpose(CanonicalRecord(1, r)), std::nullopt) << "records have none today";
  // A record of the later format, with the member.
  std::string text = CanonicalRecord(1, r);
  text.insert(text.size() - 1, ",\"purpose\":\"TREATMENT\"");
  EXPECT_EQ(RecordPurpose(text), std::optional<std::string>("TREATMENT"));
}

// ---- signing and checking ----

SubjectReport SampleReport() {
  SubjectReport r;
  r.user_id = "19900101-12345-00001-12";
  r.from_ms = 1'795'000'000'000;
  r.generated_at_ms = 1'795'884'281'651;
  SubjectExchange x;
  x.request_id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
  x.at_ms = 1'795'100'000'123;
  x.consumer = {.client_id = "c-moh",
                .system = "Hospital records",
                .institution_code = "MOH",
                .institution = "Ministry of Health </script><!-- & \"friends\""};
  x.api_code = "NIDA01";
  x.api_name = "Identity lookup";
  x.provider = ReportParty{.client_id = "c-nida", .system = "", .institution_code = "NIDA"};
  x.outcome = "ok";
  x.answered = true;
  x.records = {{.seq = 5, .kind = "nida-request", .sha256 = std::string(64, 'a')},
               {.seq = 8, .kind = "response", .sha256 = std::string(64, 'b')}};
  r.exchanges.push_back(x);
  x.request_id = "second";
  x.at_ms += 60'000;
  x.provider.reset();
  x.purpose = "TREATMENT";
  x.outcome = "PERMISSION_DENIED";
  x.answered = false;
  x.records = {{.seq = 9, .kind = "nida-request", .sha256 = std::string(64, 'c')}};
  r.exchanges.push_back(x);
  return r;
}

class SubjectReportSigningTest : public ::testing::Test {
 protected:
  crypto::PrivateKey bus_ = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1).value();
  crypto::LocalSigner signer_{bus_};
  crypto::PrivateKey other_ = crypto::PrivateKey::Generate(crypto::Curve::kP256).value();
  std::vector<crypto::PublicKey> trusted_ = {bus_.public_key()};

  std::string Signed(const SubjectReport& r = SampleReport()) {
    auto document = SignSubjectReport(r, signer_);
    EXPECT_TRUE(document.ok()) << document.status().message();
    return document.ok() ? *document : "";
  }
  // `text` with the first `from` replaced by `to`.
  static std::string Replace(std::string text, std::string_view from, std::string_view to) {
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
  }
  StatusCode Code(std::string_view file) {
    return CheckSubjectReport(file, trusted_).status().code();
  }
};

TEST_F(SubjectReportSigningTest, TheSignatureIsOverTheReportMemberAsWritten) {
  const std::string document = Signed();
  // The signed bytes: between {"report": and ,"signature":, verifiable with the key alone.
  ASSERT_TRUE(document.starts_with("{\"report\":"));
  const size_t end = document.rfind(",\"signature\":");
  const std::string body = document.substr(10, end - 10);
  const json::value parsed = json::parse(document);
  EXPECT_EQ(body, CanonicalJson(parsed.at("report")).value());
  EXPECT_EQ(document, CanonicalJson(parsed).value()) << "the whole document is canonical";
  const json::object& sig = parsed.at("signature").as_object();
  EXPECT_EQ(sig.at("algorithm").as_string(), "ECDSA-SHA256");
  EXPECT_EQ(sig.at("publicKey").as_string(), bus_.public_key().SpkiBase64());
  EXPECT_EQ(sig.at("keyId").as_string(),
            HexEncode(crypto::Sha256(*Base64Decode(bus_.public_key().SpkiBase64()))));
  EXPECT_TRUE(bus_.public_key().VerifyBase64(body, std::string(sig.at("value").as_string())));
  EXPECT_EQ(parsed.at("report").at("bus").at("keyId"), sig.at("keyId"));
  EXPECT_EQ(parsed.at("report").at("count").as_int64(), 2);
  EXPECT_EQ(parsed.at("report").at("format").as_string(), kSubjectReportFormat);
  EXPECT_EQ(parsed.at("report").at("exchanges").at(1).at("provider"), nullptr);
  EXPECT_EQ(parsed.at("report").at("exchanges").at(0).at("purpose"), nullptr);
  EXPECT_EQ(parsed.at("report").at("exchanges").at(0).at("at").as_string(),
            "2026-11-19T14:53:20.123Z");

  auto checked = CheckSubjectReport(document + "\n", trusted_);
  ASSERT_TRUE(checked.ok()) << checked.status().message();
  EXPECT_EQ(checked->key_id, sig.at("keyId").as_string());
  EXPECT_FALSE(checked->html);
  EXPECT_EQ(SubjectReportBodyJson(checked->report), body) << "read back as it was";
}

TEST_F(SubjectReportSigningTest, AnEmptyReportIsSignedToo) {
  SubjectReport empty = SampleReport();
  empty.exchanges.clear();
  const std::string document = Signed(empty);
  auto checked = CheckSubjectReport(document, trusted_);
  ASSERT_TRUE(checked.ok()) << checked.status().message();
  EXPECT_TRUE(checked->report.exchanges.empty());
  EXPECT_NE(document.find("\"count\":0"), std::string::npos);
}

TEST_F(SubjectReportSigningTest, RefusesAChangedReport) {
  const std::string document = Signed();
  const json::value parsed = json::parse(document);
  auto rewrite = [&](auto change) {
    json::value v = parsed;
    change(v.at("report").as_object());
    return CanonicalJson(v).value();
  };
  const std::vector<std::pair<std::string, std::string>> changed = {
      {"an outcome", Replace(document, "\"outcome\":\"ok\"", "\"outcome\":\"OK\"")},
      {"a byte of a name", Replace(document, "Hospital records", "Hospital recordz")},
      {"the subject", Replace(document, "00001-12", "00001-13")},
      {"a row removed", rewrite([](json::object& r) {
         r["exchanges"].as_array().erase(r["exchanges"].as_array().begin());
         r["count"] = 1;
       })},
      {"rows reordered", rewrite([](json::object& r) {
         json::array& a = r["exchanges"].as_array();
         std::swap(a[0], a[1]);
       })},
      {"a row added", rewrite([](json::object& r) {
         json::array& a = r["exchanges"].as_array();
         a.push_back(a[0]);
         r["count"] = 3;
       })},
      {"re-formatted", "{ " + document.substr(1)},
      {"an escape instead of a character", Replace(document, "Identity", "\\u0049dentity")},
      {"a member added outside the body",
       Replace(document, "{\"report\":", "{\"note\":1,\"report\":")},
  };
  for (const auto& [what, text] : changed) {
    auto checked = CheckSubjectReport(text, trusted_);
    EXPECT_FALSE(checked.ok()) << what;
    EXPECT_TRUE(checked.status().code() == StatusCode::kBadSignature ||
                checked.status().code() == StatusCode::kInvalidArgument)
        << what << ": " << checked.status().ToString();
  }
  EXPECT_EQ(Code(Replace(document, "\"outcome\":\"ok\"", "\"outcome\":\"OK\"")),
            StatusCode::kBadSignature);
  EXPECT_EQ(Code(document.substr(0, document.size() - 2)), StatusCode::kInvalidArgument)
      << "cut short: not JSON";
}

TEST_F(SubjectReportSigningTest, RefusesAKeyThatIsNotTrusted) {
  const std::string document = Signed();
  const std::string mine = bus_.public_key().SpkiBase64();
  const std::string theirs = other_.public_key().SpkiBase64();
  // The key swapped in the signature only: the signature no longer matches the body's key.
  EXPECT_EQ(Code(Replace(document, "\"publicKey\":\"" + mine + "\",\"value\"",
                         "\"publicKey\":\"" + theirs + "\",\"value\"")),
            StatusCode::kBadSignature);
  // Signed by another key throughout: it verifies with the key it carries, which is not trusted.
  crypto::LocalSigner forger(other_);
  auto forged = SignSubjectReport(SampleReport(), forger);
  ASSERT_TRUE(forged.ok());
  auto checked = CheckSubjectReport(*forged, trusted_);
  EXPECT_EQ(checked.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(checked.status().message().find("not a key you trust"), std::string::npos)
      << checked.status().message();
  // Trusted when that key is the one given; a rotation's two keys are both trusted.
  EXPECT_TRUE(CheckSubjectReport(*forged, {other_.public_key()}).ok());
  EXPECT_TRUE(CheckSubjectReport(document, {other_.public_key(), bus_.public_key()}).ok());
  EXPECT_EQ(CheckSubjectReport(document, {}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SubjectReportSigningTest, AnHtmlPageCarriesTheSignedReportAndIsCheckedWhole) {
  const std::string document = Signed();
  auto page = RenderSubjectReportHtml(document);
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_TRUE(LooksLikeHtml(*page));
  // Words, not bodies or signatures; a name that looks like markup stays text.
  EXPECT_NE(page->find("Ministry of Health &lt;/script&gt;&lt;!-- &amp; &quot;friends&quot; (MOH)"),
            std::string::npos);
  EXPECT_NE(page->find("<time datetime=\"2026-11-19T14:53:20.123Z\">"), std::string::npos);
  EXPECT_NE(page->find("Identity lookup (NIDA01)"), std::string::npos);
  EXPECT_NE(page->find("TREATMENT"), std::string::npos);
  EXPECT_NE(page->find("refused: the asking system has no access to it"), std::string::npos);
  const std::string signature(json::parse(document).at("signature").at("value").as_string());
  EXPECT_GT(page->find(signature), page->find("id=\"govesb-report\""))
      << "the signature appears only inside the embedded report";
  EXPECT_EQ(page->find(signature), page->rfind(signature));
  // The embedded text holds no "</script>" and is the same JSON value.
  std::optional<std::string> embedded = EmbeddedSubjectReport(*page);
  ASSERT_TRUE(embedded.has_value());
  EXPECT_EQ(embedded->find("</"), std::string::npos);
  EXPECT_EQ(CanonicalJson(json::parse(*embedded)).value(), document);

  auto checked = CheckSubjectReport(*page, trusted_);
  ASSERT_TRUE(checked.ok()) << checked.status().message();
  EXPECT_TRUE(checked->html);
  EXPECT_EQ(checked->report.exchanges.size(), 2u);

  // The visible text changed (the signed report left alone), or the embedded report changed.
  EXPECT_EQ(Code(Replace(*page, "<span class=\"yes\">Yes</span>", "<span class=\"yes\">No</span>")),
            StatusCode::kBadSignature);
  EXPECT_EQ(Code(Replace(*page, "\"outcome\":\"ok\"", "\"outcome\":\"no\"")),
            StatusCode::kBadSignature);
  EXPECT_EQ(Code(Replace(*page, "id=\"govesb-report\"", "id=\"other\"")),
            StatusCode::kInvalidArgument);
  // An untrusted key's page.
  crypto::LocalSigner forger(other_);
  auto forged = RenderSubjectReportHtml(SignSubjectReport(SampleReport(), forger).value());
  EXPECT_EQ(Code(*forged), StatusCode::kPermissionDenied);
}

// ---- finding the exchanges in the log ----

class FindSubjectExchangesTest : public EvidenceLogFixture {
 protected:
  void SetUp() override {
    Open(crypto::Curve::kSecp256k1);
    OpenStore();
  }
  // One exchange, its records in one append (one entry), remembered in seq order.
  void Exchange(std::vector<Record> records) {
    for (const Record& r : records) appended_.push_back(r);
    ASSERT_TRUE(AppendRecords(std::move(records)).ok());
  }
  // A synchronous identity request of `user` by `consumer`, answered `outcome`.
  void Identity(int64_t at, const std::string& id, const std::string& consumer,
                const std::string& user, const std::string& outcome = "ok") {
    Exchange({Step(at, id, "nida-request", consumer, "bus", "NIDA01", user, "ok"),
              Step(at + 1, id, "delivery", "bus", "nida", "NIDA01", user, "ok"),
              Step(at + 2, id, "reply", "nida", "bus", "NIDA01", user, outcome),
              Step(at + 3, id, "response", "bus", consumer, "NIDA01", user, outcome)});
  }
  std::string HashOf(int64_t seq) {
    return HashHex(crypto::Sha256(CanonicalRecord(seq, appended_.at(seq - 1))));
  }
  std::vector<std::string> Ids(const SubjectQuery& q) {
    auto found = FindSubjectExchanges(*store_, q);
    EXPECT_TRUE(found.ok()) << found.status().message();
    std::vector<std::string> ids;
    if (found.ok()) {
      for (const SubjectExchange& x : *found) ids.push_back(x.request_id);
    }
    return ids;
  }
  std::vector<Record> appended_;
};

TEST_F(FindSubjectExchangesTest, ListsExactlyTheExchangesThatCarriedTheIdentifier) {
  const std::string alice = "19900101-12345-00001-12";
  const std::string bob = "19851212-54321-00002-21";
  Identity(1'000, "a1", "moh", alice);  // seq 1-4
  Exchange({Step(2'000, "plain", "request", "moh", "bus", "BRTHCRT", "", "ok"),
            Step(2'001, "plain", "response", "bus", "moh", "BRTHCRT", "", "ok")});  // 5-6
  Identity(3'000, "b1", "tra", bob);                                                // 7-10
  // Refused before it reached the provider: no delivery.
  Exchange({Step(4'000, "a2", "nida-request", "tra", "bus", "NIDA01", alice, "PERMISSION_DENIED"),
            Step(4'001, "a2", "response", "bus", "tra", "NIDA01", alice,
                 "PERMISSION_DENIED")});                       // 11-12
  Identity(5'000, "a3", "moh", alice, "FAILED_PRECONDITION");  // 13-16

  auto found = FindSubjectExchanges(*store_, {.user_id = alice});
  ASSERT_TRUE(found.ok()) << found.status().message();
  ASSERT_EQ(found->size(), 3u);
  const SubjectExchange& first = (*found)[0];
  EXPECT_EQ(first.request_id, "a1");
  EXPECT_EQ(first.at_ms, 1'000);
  EXPECT_EQ(first.consumer.client_id, "moh");
  EXPECT_EQ(first.api_code, "NIDA01");
  ASSERT_TRUE(first.provider.has_value());
  EXPECT_EQ(first.provider->client_id, "nida");
  EXPECT_EQ(first.outcome, "ok");
  EXPECT_TRUE(first.answered);
  EXPECT_EQ(first.purpose, std::nullopt);
  ASSERT_EQ(first.records.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(first.records[i].seq, static_cast<int64_t>(i + 1));
    EXPECT_EQ(first.records[i].sha256, HashOf(static_cast<int64_t>(i + 1)));
  }
  EXPECT_EQ(first.records[0].kind, "nida-request");
  EXPECT_EQ(first.records[3].kind, "response");
  const SubjectExchange& refused = (*found)[1];
  EXPECT_EQ(refused.request_id, "a2");
  EXPECT_EQ(refused.consumer.client_id, "tra");
  EXPECT_FALSE(refused.provider.has_value()) << "never passed on";
  EXPECT_EQ(refused.outcome, "PERMISSION_DENIED");
  EXPECT_FALSE(refused.answered);
  EXPECT_EQ((*found)[2].outcome, "FAILED_PRECONDITION");
  EXPECT_FALSE((*found)[2].answered);

  EXPECT_EQ(Ids({.user_id = bob}), std::vector<std::string>{"b1"});
  EXPECT_TRUE(Ids({.user_id = "19700101-00000-00000-00"}).empty());
  EXPECT_TRUE(Ids({.user_id = alice.substr(0, 10)}).empty()) << "whole identifiers only";
}

TEST_F(FindSubjectExchangesTest, KeepsExchangesWhoseRequestIsInTheRange) {
  const std::string alice = "19900101-12345-00001-12";
  Identity(1'000, "a1", "moh", alice);
  Identity(2'000, "a2", "moh", alice);
  Identity(3'000, "a3", "moh", alice);
  EXPECT_EQ(Ids({.user_id = alice, .from_ms = 2'000, .to_ms = 3'000}),
            std::vector<std::string>{"a2"});
  EXPECT_EQ(Ids({.user_id = alice, .from_ms = 2'001}), std::vector<std::string>{"a3"})
      << "a2's later records are in the range, its request is not";
  EXPECT_EQ(Ids({.user_id = alice, .to_ms = 2'001}), (std::vector<std::string>{"a1", "a2"}))
      << "a2's records after the end are still its own";
  EXPECT_EQ(
      FindSubjectExchanges(*store_, {.user_id = alice, .from_ms = 3, .to_ms = 2}).status().code(),
      StatusCode::kInvalidArgument);
}

TEST_F(FindSubjectExchangesTest, FindsArchivedExchangesAsTheyWere) {
  const std::string alice = "19900101-12345-00001-12";
  Identity(1'000, "a1", "moh", alice);
  Identity(2'000, "b1", "moh", "someone else");
  ASSERT_TRUE(store_->Seal(10'000).ok());
  Identity(30'000, "a2", "tra", alice);
  auto before = FindSubjectExchanges(*store_, {.user_id = alice});
  ASSERT_TRUE(before.ok());
  auto archived = store_->Archive(/*cutoff_ms=*/20'000);
  ASSERT_TRUE(archived.ok()) << archived.status().message();
  ASSERT_EQ(archived->records, 8);
  auto after = FindSubjectExchanges(*store_, {.user_id = alice});
  ASSERT_TRUE(after.ok()) << after.status().message();
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].request_id, "a1");
  EXPECT_EQ((*after)[1].request_id, "a2");
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_EQ((*after)[i].records.size(), (*before)[i].records.size());
    for (size_t k = 0; k < (*after)[i].records.size(); ++k) {
      EXPECT_EQ((*after)[i].records[k].sha256, (*before)[i].records[k].sha256);
      EXPECT_EQ((*after)[i].records[k].seq, (*before)[i].records[k].seq);
    }
  }
  EXPECT_EQ((*after)[0].records[0].sha256, HashOf(1));
}

TEST_F(FindSubjectExchangesTest, AReportIsTiedBackToTheLogRecordByRecord) {
  const std::string alice = "19900101-12345-00001-12";
  Identity(1'000, "a1", "moh", alice);
  Identity(2'000, "a2", "tra", alice);
  SubjectReport report;
  report.user_id = alice;
  report.exchanges = FindSubjectExchanges(*store_, {.user_id = alice}).value();
  auto matched = MatchSubjectReportToLog(*store_, report);
  ASSERT_TRUE(matched.ok()) << matched.status().message();
  EXPECT_EQ(*matched, 8u);

  SubjectReport changed = report;
  changed.exchanges[1].records[2].sha256 = HashOf(1);
  auto differs = MatchSubjectReportToLog(*store_, changed);
  EXPECT_EQ(differs.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(differs.status().message().find("record 7 (exchange a2) has another hash"),
            std::string::npos)
      << differs.status().message();
  changed = report;
  changed.exchanges[0].records[0].seq = 5;  // a2's record, not a1's
  EXPECT_EQ(MatchSubjectReportToLog(*store_, changed).status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace govesb::evidence
