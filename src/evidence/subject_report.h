#pragma once

// A person's access report (docs/subject-report.md): every exchange that carried their
// identifier (`userId`, the identity requests), found in the evidence log, named, and signed by
// the bus so that anyone can check it later without the bus.
//
// This header holds the report's values, how they are found in the log (FindSubjectExchanges),
// and the signed document (SignSubjectReport, CheckSubjectReport). Names of institutions,
// systems and APIs come from the registry, which this module does not read: the admin layer
// fills them in (admin/subject_report.cc) between finding and signing.
//
// The document, one JSON object in canonical form (canonical_json.h, RFC 8785):
//   {"report":{…the body…},
//    "signature":{"algorithm":"ECDSA-SHA256","keyId":"<hex>","publicKey":"<base64 SPKI>",
//                 "value":"<base64 DER>"}}
// The signature is ECDSA with SHA-256, by the bus key, over the UTF-8 bytes of the canonical
// form of the "report" member's value: exactly the bytes between `{"report":` and
// `,"signature":` of the document as written. keyId is the SHA-256 of the key's
// SubjectPublicKeyInfo DER, lowercase hex. The body names the same key in "bus".
//
// Pure functions over the given store and values; thread-safe as the store is.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/keys.h"
#include "evidence/store.h"

namespace govesb::evidence {

// The longest identifier a report is made for (bytes of UTF-8). NIDA numbers have 20 digits
// (23 characters with their dashes); the bound leaves room for other schemes.
inline constexpr size_t kMaxSubjectIdBytes = 128;
// The most exchanges one report lists: a person with more is asked for a shorter range.
inline constexpr size_t kMaxSubjectExchanges = 20'000;
// The "format" member of a report's body.
inline constexpr std::string_view kSubjectReportFormat = "govesb-subject-report/1";

// Whose exchanges, and when (an exchange is in the range when its request is).
struct SubjectQuery {
  std::string user_id;
  std::optional<int64_t> from_ms = std::nullopt;  // at >= from (milliseconds since 1970, UTC)
  std::optional<int64_t> to_ms = std::nullopt;    // at < to
};

// kInvalidArgument, saying what is wrong, for an empty identifier, one longer than
// kMaxSubjectIdBytes, one that is not UTF-8 or holds control characters, or a range that ends
// before it starts (or is empty).
Status CheckSubjectQuery(const SubjectQuery& query);

// A system as the report names it: its client_id, and from the registry its name and its
// institution's code and name ("" when the registry does not know it).
struct ReportParty {
  std::string client_id = std::string();
  std::string system = std::string();
  std::string institution_code = std::string();
  std::string institution = std::string();
};

// A record of the evidence log a row stands on: its number (and chain, in a cluster), its kind,
// and the SHA-256 of its canonical text (the record hash of the log's chain).
struct ReportRecordRef {
  std::string node = std::string();  // "" for the embedded log
  int64_t seq = 0;
  std::string kind = std::string();
  std::string sha256 = std::string();  // lowercase hex
};

// One exchange that carried the identifier.
struct SubjectExchange {
  std::string request_id = std::string();
  int64_t at_ms = 0;     // when the bus received the request
  ReportParty consumer;  // who asked
  std::string api_code = std::string();
  std::string api_name = std::string();  // the API's title in the catalogue ("" when none)
  // The purpose the request declared (a record's "purpose" member), when it declared one.
  std::optional<std::string> purpose = std::nullopt;
  // The system the bus passed the request on to; nullopt when it was refused before that.
  std::optional<ReportParty> provider = std::nullopt;
  // The outcome of what the consumer was sent (its response record): "ok", or the failure's
  // code name (PERMISSION_DENIED, FAILED_PRECONDITION for a provider's success:false, …).
  std::string outcome = std::string();
  bool answered = false;  // outcome == "ok"
  // The exchange's records that carry the identifier, in the log's order.
  std::vector<ReportRecordRef> records = {};
};

// The body of a report (what is signed).
struct SubjectReport {
  std::string user_id = std::string();
  std::optional<int64_t> from_ms = std::nullopt;
  std::optional<int64_t> to_ms = std::nullopt;
  int64_t generated_at_ms = 0;
  // The key that signs it (filled by SignSubjectReport).
  std::string bus_key_id = std::string();
  std::string bus_public_key = std::string();   // base64 SPKI
  std::vector<SubjectExchange> exchanges = {};  // oldest first
};

// The exchanges in the log that carried `query.user_id`, oldest first (by request time, then
// chain and number), with their record numbers and hashes; the parties by client_id only (names
// are the caller's to fill). Reads through `store.Search` by user id (the index, the unindexed
// tail, and archives whose time span meets the range), committed records only. An exchange's
// request is its first record sent to the bus; an exchange whose request lies outside the range
// is left out. kInvalidArgument for a query CheckSubjectQuery refuses; kResourceExhausted when
// more than kMaxSubjectExchanges match (a shorter range is needed).
Result<std::vector<SubjectExchange>> FindSubjectExchanges(EvidenceStore& store,
                                                          const SubjectQuery& query);

// The purpose a record declares: its "purpose" member, a string, when its canonical text has one
// (records made before requests carried a purpose have none).
std::optional<std::string> RecordPurpose(std::string_view canonical_record);

// Ties a report back to a log: every record a row names must be in `store` under its number (and
// chain), with the hash the row gives, and belong to the row's exchange. The number of records
// checked; kFailedPrecondition naming the first record that is missing or differs (the log is
// not the one the report was made from, or one of them was changed).
Result<size_t> MatchSubjectReportToLog(EvidenceStore& store, const SubjectReport& report);

// The key id the report carries: SHA-256 of the SubjectPublicKeyInfo DER, lowercase hex.
std::string SubjectReportKeyId(const crypto::PublicKey& key);

// The body as its JSON value, and the canonical text of the whole signed document (see above),
// with bus_key_id and bus_public_key set to `signer`'s key. kInvalidArgument when a value
// cannot be put in canonical form (it cannot happen for values made by FindSubjectExchanges).
Result<std::string> SignSubjectReport(SubjectReport report, const crypto::Signer& signer);

// A report whose signature verified with a trusted key.
struct CheckedSubjectReport {
  SubjectReport report;
  std::string key_id;      // the key that signed it (one of the trusted ones)
  std::string public_key;  // its base64 SPKI
  bool html = false;       // read from an HTML page (subject_report_html.h)
};

// Checks a report as written by SignSubjectReport (JSON), or an HTML page made of one by
// RenderSubjectReportHtml. Refused, with the reason:
// - kInvalidArgument: not a report (not JSON, not the structure above, an unknown format);
// - kBadSignature: changed after signing: the JSON is not exactly the canonical text written
//   (an added, removed or altered byte, reordered rows or members), the signature does not
//   verify over the body with the key the report names, the signature's key and the body's
//   differ, or (HTML) the page is not exactly the one the signed report renders to;
// - kPermissionDenied: it verifies with the key it names, but that key is none of `trusted`.
// `trusted` must not be empty.
Result<CheckedSubjectReport> CheckSubjectReport(std::string_view file_text,
                                                const std::vector<crypto::PublicKey>& trusted);

// The body's JSON value and back (CheckSubjectReport uses the latter after the signature
// verified). ParseSubjectReport: kInvalidArgument naming the first member that is missing or of
// the wrong type.
std::string SubjectReportBodyJson(const SubjectReport& report);  // canonical text
Result<SubjectReport> ParseSubjectReport(std::string_view body_json);

// Milliseconds since 1970 as ISO 8601 in UTC with milliseconds: "2026-11-28T14:00:00.123Z".
std::string IsoUtcMillis(int64_t ms);

}  // namespace govesb::evidence
