#include "evidence/subject_report.h"

#include <algorithm>
#include <ctime>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

#include "base/encoding.h"
#include "crypto/primitives.h"
#include "evidence/canonical_json.h"
#include "evidence/merkle.h"
#include "evidence/subject_report_document.h"

namespace govesb::evidence {

namespace {

namespace json = boost::json;

// How long after its request an exchange's last record may be made (a provider's timeout is
// at most minutes): a range's end is searched this much further, so that the records of an
// exchange whose request is in the range are all found.
constexpr int64_t kExchangeSpanMs = 24 * 3600 * 1000;

// The kinds of the record that opens an exchange: what a system sent to the bus.
bool IsOpening(const Record& r) {
  return r.kind == "request" || r.kind == "nida-request" || r.kind == "push" || r.kind == "async";
}

SubjectExchange ExchangeOf(const std::vector<FoundRecord>& records, const FoundRecord& opening) {
  SubjectExchange x;
  x.request_id = opening.record.request_id;
  x.at_ms = opening.record.at_ms;
  x.consumer.client_id = opening.record.from;
  x.api_code = opening.record.code;
  const FoundRecord* response = nullptr;
  for (const FoundRecord& f : records) {
    const std::string text = CanonicalRecord(f.seq, f.record);
    x.records.push_back(ReportRecordRef{.node = f.node,
                                        .seq = f.seq,
                                        .kind = f.record.kind,
                                        .sha256 = HashHex(crypto::Sha256(text))});
    if (!x.purpose.has_value()) x.purpose = RecordPurpose(text);
    if (f.record.kind == "delivery" && !x.provider.has_value()) {
      x.provider = ReportParty{.client_id = f.record.to};
    }
    if (f.record.kind == "response") response = &f;
  }
  if (response != nullptr) {
    x.outcome = response->record.outcome;
  } else {
    x.outcome = opening.record.outcome == "ok" ? "unknown" : opening.record.outcome;
  }
  x.answered = x.outcome == "ok";
  return x;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

}  // namespace

std::optional<std::string> RecordPurpose(std::string_view canonical_record) {
  return CanonicalMember(canonical_record, "purpose");
}

Status CheckSubjectQuery(const SubjectQuery& q) {
  if (q.user_id.empty()) {
    return InvalidArgument("the person's identifier (userId) is empty");
  }
  if (q.user_id.size() > kMaxSubjectIdBytes) {
    return InvalidArgument("the person's identifier is " + std::to_string(q.user_id.size()) +
                           " bytes long; at most " + std::to_string(kMaxSubjectIdBytes) +
                           " are accepted");
  }
  if (!IsValidUtf8(q.user_id)) {
    return InvalidArgument("the person's identifier is not UTF-8 text");
  }
  for (char c : q.user_id) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return InvalidArgument("the person's identifier holds a control character");
    }
  }
  if (q.from_ms && *q.from_ms < 0) return InvalidArgument("the range starts before 1970");
  if (q.from_ms && q.to_ms && *q.to_ms <= *q.from_ms) {
    return InvalidArgument("the range ends (" + IsoUtcMillis(*q.to_ms) + ") before it starts (" +
                           IsoUtcMillis(*q.from_ms) + ")");
  }
  return Status::Ok();
}

Result<std::vector<SubjectExchange>> FindSubjectExchanges(EvidenceStore& store,
                                                          const SubjectQuery& query) {
  GOVESB_RETURN_IF_ERROR(CheckSubjectQuery(query));
  SearchFilter f;
  f.user_id = query.user_id;
  f.from_ms = query.from_ms.value_or(0);
  if (query.to_ms) f.to_ms = SaturatingAdd(*query.to_ms, kExchangeSpanMs);
  f.page_size = kMaxSearchPageSize;
  // The records of each exchange (by chain and request id: request ids are the bus's own, unique
  // per exchange).
  std::map<std::pair<std::string, std::string>, std::vector<FoundRecord>> exchanges;
  size_t found = 0;
  const auto too_many = [] {
    return ResourceExhausted("more than " + std::to_string(kMaxSubjectExchanges) +
                             " exchanges carried this identifier in the range: ask for a shorter "
                             "range (--from, --to)");
  };
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(SearchPage page, store.Search(f));
    for (FoundRecord& r : page.records) {
      if (r.record.user_id != query.user_id) continue;
      if (++found > kMaxSubjectExchanges * 8) return too_many();
      exchanges[{r.node, r.record.request_id}].push_back(std::move(r));
    }
    if (page.next_cursor.empty()) break;
    f.cursor = std::move(page.next_cursor);
  }
  std::vector<SubjectExchange> out;
  for (auto& [key, records] : exchanges) {
    std::sort(records.begin(), records.end(),
              [](const FoundRecord& a, const FoundRecord& b) { return a.seq < b.seq; });
    auto opening = std::find_if(records.begin(), records.end(),
                                [](const FoundRecord& r) { return IsOpening(r.record); });
    // No request among them: it was made before the range (its later records are in it).
    if (opening == records.end()) continue;
    const int64_t at = opening->record.at_ms;
    if (query.from_ms && at < *query.from_ms) continue;
    if (query.to_ms && at >= *query.to_ms) continue;
    if (out.size() == kMaxSubjectExchanges) return too_many();
    out.push_back(ExchangeOf(records, *opening));
  }
  std::sort(out.begin(), out.end(), [](const SubjectExchange& a, const SubjectExchange& b) {
    const ReportRecordRef& ra = a.records.front();
    const ReportRecordRef& rb = b.records.front();
    return std::tie(a.at_ms, ra.node, ra.seq) < std::tie(b.at_ms, rb.node, rb.seq);
  });
  return out;
}

Result<size_t> MatchSubjectReportToLog(EvidenceStore& store, const SubjectReport& report) {
  size_t checked = 0;
  for (const SubjectExchange& x : report.exchanges) {
    // The exchange's records in the log, by chain and number.
    std::map<std::pair<std::string, int64_t>, std::string> hashes;
    SearchFilter f;
    f.request_id = x.request_id;
    f.page_size = kMaxSearchPageSize;
    for (;;) {
      GOVESB_ASSIGN_OR_RETURN(SearchPage page, store.Search(f));
      for (const FoundRecord& r : page.records) {
        hashes[{r.node, r.seq}] = HashHex(crypto::Sha256(CanonicalRecord(r.seq, r.record)));
      }
      if (page.next_cursor.empty()) break;
      f.cursor = std::move(page.next_cursor);
    }
    for (const ReportRecordRef& ref : x.records) {
      const std::string name = "record " + (ref.node.empty() ? "" : ref.node + ":") +
                               std::to_string(ref.seq) + " (exchange " + x.request_id + ")";
      auto it = hashes.find({ref.node, ref.seq});
      if (it == hashes.end()) {
        return FailedPrecondition(name + " is not in this evidence log");
      }
      if (it->second != ref.sha256) {
        return FailedPrecondition(name + " has another hash in this evidence log (" + it->second +
                                  ") than in the report (" + ref.sha256 + ")");
      }
      ++checked;
    }
  }
  return checked;
}

std::string SubjectReportKeyId(const crypto::PublicKey& key) {
  const std::optional<std::string> der = Base64Decode(key.SpkiBase64());
  return HashHex(crypto::Sha256(der.value_or("")));
}

std::string IsoUtcMillis(int64_t ms) {
  const int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const auto millis = static_cast<int>(ms - seconds * 1000);
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", date, millis);
  return out;
}

Result<std::string> SignSubjectReport(SubjectReport report, const crypto::Signer& signer) {
  // A rotating signer may change keys between naming its key and signing: the signature is
  // checked with the key the report names, and made again once if it does not verify.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const crypto::PublicKey key = signer.public_key();
    report.bus_public_key = key.SpkiBase64();
    report.bus_key_id = SubjectReportKeyId(key);
    GOVESB_ASSIGN_OR_RETURN(std::string body, CanonicalJson(internal::BodyValue(report)));
    std::string signature = signer.SignBase64(body);
    if (!key.VerifyBase64(body, signature)) continue;
    std::string document = "{\"report\":" + body + ",\"signature\":{\"algorithm\":";
    AppendCanonicalString(internal::kSignatureAlgorithm, document);
    document += ",\"keyId\":";
    AppendCanonicalString(report.bus_key_id, document);
    document += ",\"publicKey\":";
    AppendCanonicalString(report.bus_public_key, document);
    document += ",\"value\":";
    AppendCanonicalString(signature, document);
    document += "}}";
    return document;
  }
  return Unavailable("the bus key changed while the report was being signed; ask again");
}

std::string SubjectReportBodyJson(const SubjectReport& report) {
  // Made of strings (UTF-8: ValidUtf8 in BodyValue), integers of the log and booleans: always
  // has a canonical form.
  return CanonicalJson(internal::BodyValue(report)).value();
}

}  // namespace govesb::evidence
