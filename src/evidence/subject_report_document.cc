#include "evidence/subject_report_document.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/string.hpp>
#include <initializer_list>
#include <optional>
#include <utility>

#include "evidence/canonical_json.h"
#include "evidence/subject_report_html.h"

namespace govesb::evidence {

namespace {

namespace json = boost::json;

json::value Text(std::string_view s) { return json::string(ValidUtf8(s)); }
json::value TextOrNull(std::string_view s) { return s.empty() ? json::value(nullptr) : Text(s); }

json::value PartyValue(const ReportParty& p) {
  json::object o;
  o["clientId"] = Text(p.client_id);
  o["system"] = TextOrNull(p.system);
  o["institutionCode"] = TextOrNull(p.institution_code);
  o["institution"] = TextOrNull(p.institution);
  return o;
}

json::value ExchangeValue(const SubjectExchange& x) {
  json::object o;
  o["requestId"] = Text(x.request_id);
  o["at"] = IsoUtcMillis(x.at_ms);
  o["atMs"] = x.at_ms;
  o["consumer"] = PartyValue(x.consumer);
  json::object api;
  api["code"] = Text(x.api_code);
  api["name"] = TextOrNull(x.api_name);
  o["api"] = std::move(api);
  o["purpose"] = x.purpose ? Text(*x.purpose) : json::value(nullptr);
  o["provider"] = x.provider ? PartyValue(*x.provider) : json::value(nullptr);
  o["outcome"] = Text(x.outcome);
  o["answered"] = x.answered;
  json::array records;
  for (const ReportRecordRef& r : x.records) {
    json::object ref;
    if (!r.node.empty()) ref["node"] = Text(r.node);
    ref["seq"] = r.seq;
    ref["kind"] = Text(r.kind);
    ref["sha256"] = Text(r.sha256);
    records.push_back(std::move(ref));
  }
  o["records"] = std::move(records);
  return o;
}

// ---- reading, strictly: every member the format names, of its type ----

class Reader {
 public:
  Reader(const json::object& o, std::string where) : o_(o), where_(std::move(where)) {}

  Result<const json::value*> Member(std::string_view name) const {
    const json::value* v = o_.if_contains(name);
    if (v == nullptr) return Missing(name, "is missing");
    return v;
  }
  Result<std::string> Str(std::string_view name) const {
    GOVESB_ASSIGN_OR_RETURN(const json::value* v, Member(name));
    if (!v->is_string()) return Missing(name, "is not a string");
    return std::string(v->get_string());
  }
  // A string or null ("" for null).
  Result<std::string> StrOrNull(std::string_view name) const {
    GOVESB_ASSIGN_OR_RETURN(const json::value* v, Member(name));
    if (v->is_null()) return std::string();
    if (!v->is_string()) return Missing(name, "is neither a string nor null");
    if (v->get_string().empty()) return Missing(name, "is an empty string (null stands for none)");
    return std::string(v->get_string());
  }
  Result<int64_t> Int(std::string_view name) const {
    GOVESB_ASSIGN_OR_RETURN(const json::value* v, Member(name));
    if (!v->is_int64()) return Missing(name, "is not an integer");
    return v->get_int64();
  }
  Result<std::optional<int64_t>> IntOrNull(std::string_view name) const {
    GOVESB_ASSIGN_OR_RETURN(const json::value* v, Member(name));
    if (v->is_null()) return std::optional<int64_t>();
    if (!v->is_int64()) return Missing(name, "is neither an integer nor null");
    return std::optional<int64_t>(v->get_int64());
  }
  Result<bool> Bool(std::string_view name) const {
    GOVESB_ASSIGN_OR_RETURN(const json::value* v, Member(name));
    if (!v->is_bool()) return Missing(name, "is not true or false");
    return v->get_bool();
  }
  Result<const json::object*> Object(std::string_view name) const {
    GOVESB_ASSIGN_OR_RETURN(const json::value* v, Member(name));
    if (!v->is_object()) return Missing(name, "is not an object");
    return &v->get_object();
  }
  Result<const json::array*> Array(std::string_view name) const {
    GOVESB_ASSIGN_OR_RETURN(const json::value* v, Member(name));
    if (!v->is_array()) return Missing(name, "is not an array");
    return &v->get_array();
  }
  // No member but these.
  Status Only(std::initializer_list<std::string_view> names) const {
    for (const json::key_value_pair& m : o_) {
      bool known = false;
      for (std::string_view n : names) known = known || m.key() == n;
      if (!known) return Missing(m.key(), "is not a member of this format");
    }
    return Status::Ok();
  }
  std::string Path(std::string_view name) const { return where_ + "." + std::string(name); }

 private:
  Status Missing(std::string_view name, std::string_view what) const {
    return InvalidArgument("not a GovESB subject report: " + Path(name) + " " + std::string(what));
  }
  const json::object& o_;
  std::string where_;
};

// An ISO time member that must say what its millisecond twin says.
Status SameTime(const Reader& r, std::string_view iso_name, std::optional<int64_t> ms) {
  if (!ms) {
    GOVESB_ASSIGN_OR_RETURN(std::string iso, r.StrOrNull(iso_name));
    if (iso.empty()) return Status::Ok();
  } else {
    GOVESB_ASSIGN_OR_RETURN(std::string iso, r.Str(iso_name));
    if (iso == IsoUtcMillis(*ms)) return Status::Ok();
  }
  return InvalidArgument("not a GovESB subject report: " + r.Path(iso_name) +
                         " does not match its time in milliseconds");
}

Result<ReportParty> ReadParty(const json::object& o, const std::string& where) {
  Reader r(o, where);
  ReportParty p;
  GOVESB_ASSIGN_OR_RETURN(p.client_id, r.Str("clientId"));
  GOVESB_ASSIGN_OR_RETURN(p.system, r.StrOrNull("system"));
  GOVESB_ASSIGN_OR_RETURN(p.institution_code, r.StrOrNull("institutionCode"));
  GOVESB_ASSIGN_OR_RETURN(p.institution, r.StrOrNull("institution"));
  return p;
}

Result<SubjectExchange> ReadExchange(const json::value& v, const std::string& where) {
  if (!v.is_object()) return InvalidArgument("not a GovESB subject report: " + where);
  Reader r(v.get_object(), where);
  SubjectExchange x;
  GOVESB_ASSIGN_OR_RETURN(x.request_id, r.Str("requestId"));
  GOVESB_ASSIGN_OR_RETURN(x.at_ms, r.Int("atMs"));
  GOVESB_RETURN_IF_ERROR(SameTime(r, "at", x.at_ms));
  GOVESB_ASSIGN_OR_RETURN(const json::object* consumer, r.Object("consumer"));
  GOVESB_ASSIGN_OR_RETURN(x.consumer, ReadParty(*consumer, r.Path("consumer")));
  GOVESB_ASSIGN_OR_RETURN(const json::object* api, r.Object("api"));
  Reader a(*api, r.Path("api"));
  GOVESB_ASSIGN_OR_RETURN(x.api_code, a.Str("code"));
  GOVESB_ASSIGN_OR_RETURN(x.api_name, a.StrOrNull("name"));
  GOVESB_ASSIGN_OR_RETURN(const json::value* purpose, r.Member("purpose"));
  if (purpose->is_string()) {
    x.purpose = std::string(purpose->get_string());
  } else if (!purpose->is_null()) {
    return InvalidArgument("not a GovESB subject report: " + r.Path("purpose"));
  }
  GOVESB_ASSIGN_OR_RETURN(const json::value* provider, r.Member("provider"));
  if (provider->is_object()) {
    GOVESB_ASSIGN_OR_RETURN(x.provider, ReadParty(provider->get_object(), r.Path("provider")));
  } else if (!provider->is_null()) {
    return InvalidArgument("not a GovESB subject report: " + r.Path("provider"));
  }
  GOVESB_ASSIGN_OR_RETURN(x.outcome, r.Str("outcome"));
  GOVESB_ASSIGN_OR_RETURN(x.answered, r.Bool("answered"));
  GOVESB_ASSIGN_OR_RETURN(const json::array* records, r.Array("records"));
  for (size_t i = 0; i < records->size(); ++i) {
    const std::string at = r.Path("records") + "[" + std::to_string(i) + "]";
    if (!(*records)[i].is_object()) return InvalidArgument("not a GovESB subject report: " + at);
    const json::object& o = (*records)[i].get_object();
    Reader rr(o, at);
    ReportRecordRef ref;
    if (o.contains("node")) {
      GOVESB_ASSIGN_OR_RETURN(ref.node, rr.Str("node"));
    }
    GOVESB_ASSIGN_OR_RETURN(ref.seq, rr.Int("seq"));
    GOVESB_ASSIGN_OR_RETURN(ref.kind, rr.Str("kind"));
    GOVESB_ASSIGN_OR_RETURN(ref.sha256, rr.Str("sha256"));
    x.records.push_back(std::move(ref));
  }
  if (x.records.empty()) {
    return InvalidArgument("not a GovESB subject report: " + r.Path("records") + " is empty");
  }
  return x;
}

Result<SubjectReport> ReadBody(const json::object& o) {
  Reader r(o, "report");
  SubjectReport report;
  GOVESB_ASSIGN_OR_RETURN(std::string format, r.Str("format"));
  if (format != kSubjectReportFormat) {
    return InvalidArgument("not a report this version reads: its format is '" + format + "', not " +
                           std::string(kSubjectReportFormat));
  }
  GOVESB_ASSIGN_OR_RETURN(const json::object* subject, r.Object("subject"));
  GOVESB_ASSIGN_OR_RETURN(report.user_id, Reader(*subject, r.Path("subject")).Str("userId"));
  GOVESB_ASSIGN_OR_RETURN(const json::object* range, r.Object("range"));
  Reader rr(*range, r.Path("range"));
  GOVESB_ASSIGN_OR_RETURN(report.from_ms, rr.IntOrNull("fromMs"));
  GOVESB_ASSIGN_OR_RETURN(report.to_ms, rr.IntOrNull("toMs"));
  GOVESB_RETURN_IF_ERROR(SameTime(rr, "from", report.from_ms));
  GOVESB_RETURN_IF_ERROR(SameTime(rr, "to", report.to_ms));
  GOVESB_ASSIGN_OR_RETURN(report.generated_at_ms, r.Int("generatedAtMs"));
  GOVESB_RETURN_IF_ERROR(SameTime(r, "generatedAt", report.generated_at_ms));
  GOVESB_ASSIGN_OR_RETURN(const json::object* bus, r.Object("bus"));
  Reader b(*bus, r.Path("bus"));
  GOVESB_ASSIGN_OR_RETURN(report.bus_key_id, b.Str("keyId"));
  GOVESB_ASSIGN_OR_RETURN(report.bus_public_key, b.Str("publicKey"));
  GOVESB_ASSIGN_OR_RETURN(const json::array* exchanges, r.Array("exchanges"));
  for (size_t i = 0; i < exchanges->size(); ++i) {
    GOVESB_ASSIGN_OR_RETURN(
        SubjectExchange x,
        ReadExchange((*exchanges)[i], r.Path("exchanges") + "[" + std::to_string(i) + "]"));
    report.exchanges.push_back(std::move(x));
  }
  GOVESB_ASSIGN_OR_RETURN(int64_t count, r.Int("count"));
  if (count != static_cast<int64_t>(report.exchanges.size())) {
    return InvalidArgument("not a GovESB subject report: report.count says " +
                           std::to_string(count) + " exchanges, report.exchanges holds " +
                           std::to_string(report.exchanges.size()));
  }
  return report;
}

Result<json::value> ParseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return InvalidArgument("not a GovESB subject report: not JSON (" + ec.message() + ")");
  return v;
}

// Text without the white space at its end (an editor's final newline).
std::string_view TrimEnd(std::string_view text) {
  const size_t end = text.find_last_not_of(" \t\r\n");
  return end == std::string_view::npos ? std::string_view() : text.substr(0, end + 1);
}

}  // namespace

namespace internal {

json::value BodyValue(const SubjectReport& report) {
  json::object o;
  o["format"] = kSubjectReportFormat;
  json::object subject;
  subject["userId"] = Text(report.user_id);
  o["subject"] = std::move(subject);
  json::object range;
  range["from"] =
      report.from_ms ? json::value(IsoUtcMillis(*report.from_ms)) : json::value(nullptr);
  range["fromMs"] = report.from_ms ? json::value(*report.from_ms) : json::value(nullptr);
  range["to"] = report.to_ms ? json::value(IsoUtcMillis(*report.to_ms)) : json::value(nullptr);
  range["toMs"] = report.to_ms ? json::value(*report.to_ms) : json::value(nullptr);
  o["range"] = std::move(range);
  o["generatedAt"] = IsoUtcMillis(report.generated_at_ms);
  o["generatedAtMs"] = report.generated_at_ms;
  json::object bus;
  bus["keyId"] = Text(report.bus_key_id);
  bus["publicKey"] = Text(report.bus_public_key);
  o["bus"] = std::move(bus);
  json::array exchanges;
  for (const SubjectExchange& x : report.exchanges) exchanges.push_back(ExchangeValue(x));
  o["exchanges"] = std::move(exchanges);
  o["count"] = static_cast<int64_t>(report.exchanges.size());
  return o;
}

}  // namespace internal

Result<SubjectReport> ParseSubjectReport(std::string_view body_json) {
  GOVESB_ASSIGN_OR_RETURN(json::value v, ParseJson(body_json));
  if (!v.is_object()) return InvalidArgument("not a GovESB subject report: not a JSON object");
  return ReadBody(v.get_object());
}

Result<SubjectReportDocument> ReadSubjectReportDocument(std::string_view json_text) {
  GOVESB_ASSIGN_OR_RETURN(json::value v, ParseJson(json_text));
  if (!v.is_object()) return InvalidArgument("not a GovESB subject report: not a JSON object");
  Reader top(v.get_object(), "$");
  GOVESB_RETURN_IF_ERROR(top.Only({"report", "signature"}));
  SubjectReportDocument doc;
  GOVESB_ASSIGN_OR_RETURN(const json::object* body, top.Object("report"));
  GOVESB_ASSIGN_OR_RETURN(doc.report, ReadBody(*body));
  GOVESB_ASSIGN_OR_RETURN(const json::object* signature, top.Object("signature"));
  Reader s(*signature, "signature");
  GOVESB_RETURN_IF_ERROR(s.Only({"algorithm", "keyId", "publicKey", "value"}));
  GOVESB_ASSIGN_OR_RETURN(doc.algorithm, s.Str("algorithm"));
  GOVESB_ASSIGN_OR_RETURN(doc.key_id, s.Str("keyId"));
  GOVESB_ASSIGN_OR_RETURN(doc.public_key, s.Str("publicKey"));
  GOVESB_ASSIGN_OR_RETURN(doc.signature, s.Str("value"));
  GOVESB_ASSIGN_OR_RETURN(doc.body, CanonicalJson(v.get_object().at("report")));
  GOVESB_ASSIGN_OR_RETURN(doc.canonical, CanonicalJson(v));
  return doc;
}

Result<CheckedSubjectReport> CheckSubjectReport(std::string_view file_text,
                                                const std::vector<crypto::PublicKey>& trusted) {
  if (trusted.empty()) return InvalidArgument("no trusted bus key to check the report with");
  const bool html = LooksLikeHtml(file_text);
  std::string json_text(file_text);
  if (html) {
    std::optional<std::string> embedded = EmbeddedSubjectReport(file_text);
    if (!embedded) {
      return InvalidArgument(
          "an HTML page without a GovESB subject report in it (a <script "
          "type=\"application/json\" id=\"govesb-report\"> element)");
    }
    json_text = std::move(*embedded);
  }
  GOVESB_ASSIGN_OR_RETURN(SubjectReportDocument doc, ReadSubjectReportDocument(json_text));
  if (!html && TrimEnd(file_text) != doc.canonical) {
    return BadSignature(
        "the report is not exactly as the bus wrote it: bytes were added, removed, changed or "
        "moved (the bus writes it in canonical form, and signs its body in that form)");
  }
  if (doc.algorithm != internal::kSignatureAlgorithm) {
    return InvalidArgument("the report is signed with '" + doc.algorithm + "', not " +
                           std::string(internal::kSignatureAlgorithm));
  }
  auto key = crypto::PublicKey::FromText(doc.public_key);
  if (!key.ok()) {
    return InvalidArgument("the report's signature.publicKey is not a public key: " +
                           key.status().message());
  }
  if (SubjectReportKeyId(*key) != doc.key_id) {
    return BadSignature("the report's signature.keyId is not the id of its signature.publicKey");
  }
  if (doc.report.bus_public_key != doc.public_key || doc.report.bus_key_id != doc.key_id) {
    return BadSignature(
        "the key in the report's signature is not the bus key its body names (report.bus)");
  }
  if (!key->VerifyBase64(doc.body, doc.signature)) {
    return BadSignature(
        "the signature does not verify over the report's body: the report was changed after it "
        "was signed");
  }
  if (html) {
    const std::string page = RenderSubjectReportHtml(doc);
    if (TrimEnd(page) != TrimEnd(file_text)) {
      return BadSignature(
          "the HTML page is not the one its signed report renders to: its text was changed "
          "after it was made (the signed report inside it is intact)");
    }
  }
  const std::string spki = key->SpkiBase64();
  bool is_trusted = false;
  std::string trusted_ids;
  for (const crypto::PublicKey& t : trusted) {
    is_trusted = is_trusted || t.SpkiBase64() == spki;
    trusted_ids += (trusted_ids.empty() ? "" : ", ") + SubjectReportKeyId(t);
  }
  if (!is_trusted) {
    return PermissionDenied("the report is signed by key " + doc.key_id +
                            ", which is not a key you trust (" + trusted_ids +
                            "): its signature verifies only with the key it carries itself");
  }
  return CheckedSubjectReport{
      .report = std::move(doc.report), .key_id = doc.key_id, .public_key = spki, .html = html};
}

}  // namespace govesb::evidence
