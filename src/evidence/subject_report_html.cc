#include "evidence/subject_report_html.h"

#include <string_view>

namespace govesb::evidence {

namespace {

constexpr std::string_view kScriptOpen = "<script type=\"application/json\" id=\"govesb-report\">";
constexpr std::string_view kScriptClose = "</script>";

// The page's style: readable on paper and on a phone, no external resources.
constexpr std::string_view kStyle =
    "body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:#1b1b1b;"
    "margin:0;line-height:1.45}"
    "main{max-width:72rem;margin:0 auto;padding:1.5rem}"
    "h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin-top:2rem}"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}"
    "dt{font-weight:600}dd{margin:0}"
    "table{border-collapse:collapse;width:100%;margin-top:1rem;font-size:.95rem}"
    "caption{text-align:left;font-weight:600;padding:.5rem 0}"
    "th,td{border:1px solid #bbb;padding:.4rem .5rem;text-align:left;vertical-align:top}"
    "thead th{background:#eef2f5}"
    ".minor{color:#555;font-size:.85rem}code{font-size:.85rem;word-break:break-all}"
    ".no{color:#8a1c1c;font-weight:600}.yes{color:#14532d;font-weight:600}"
    "time{white-space:nowrap}@media print{main{max-width:none}}";

void AppendEscaped(std::string_view text, std::string& out) {
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
}

std::string Esc(std::string_view text) {
  std::string out;
  AppendEscaped(text, out);
  return out;
}

// The canonical document as the content of a <script> element: `<`, `>` and `&` (which occur
// only inside strings) as JSON escapes, so that no "</script>" or "<!--" can end it early, and
// U+2028/U+2029 too.
void AppendScriptJson(std::string_view json, std::string& out) {
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xE2' && i + 2 < json.size() && json[i + 1] == '\x80' &&
               (json[i + 2] == '\xA8' || json[i + 2] == '\xA9')) {
      out += json[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
}

std::string Time(int64_t ms) {
  const std::string iso = IsoUtcMillis(ms);
  return "<time datetime=\"" + iso + "\">" + iso + "</time>";
}

// An institution and its system in words, with the client_id for the record.
std::string Party(const ReportParty& p) {
  std::string out;
  if (!p.institution.empty()) {
    out += Esc(p.institution);
    if (!p.institution_code.empty()) out += " (" + Esc(p.institution_code) + ")";
  } else if (!p.institution_code.empty()) {
    out += Esc(p.institution_code);
  } else {
    out += "A system the registry does not know";
  }
  out += "<br><span class=\"minor\">System: ";
  out += p.system.empty() ? std::string("-") : Esc(p.system);
  out += "<br>client_id <code>" + Esc(p.client_id) + "</code></span>";
  return out;
}

// What an outcome means for the person, in words.
std::string_view OutcomeWords(std::string_view outcome) {
  if (outcome == "PERMISSION_DENIED") return "refused: the asking system has no access to it";
  if (outcome == "UNAUTHENTICATED") return "refused: the asking system was not signed in";
  if (outcome == "BAD_SIGNATURE") return "refused: the request's signature did not verify";
  if (outcome == "INVALID_ARGUMENT") return "refused: the request was malformed";
  if (outcome == "NOT_FOUND") return "refused: no such service";
  if (outcome == "RESOURCE_EXHAUSTED") return "refused: too many requests";
  if (outcome == "FAILED_PRECONDITION") return "the provider answered that it could not";
  if (outcome == "DEADLINE_EXCEEDED") return "the provider did not answer in time";
  if (outcome == "UNAVAILABLE") return "the provider could not be reached";
  if (outcome == "BAD_GATEWAY") return "the provider's answer was unusable and withheld";
  if (outcome == "unknown") return "no answer is recorded";
  return "not answered";
}

std::string Row(size_t n, const SubjectExchange& x) {
  std::string out = "<tr><td>" + std::to_string(n) + "</td><td>" + Time(x.at_ms) + "</td><td>";
  out += Party(x.consumer);
  out += "</td><td>";
  out += x.api_name.empty() ? Esc(x.api_code) : Esc(x.api_name) + " (" + Esc(x.api_code) + ")";
  out += "</td><td>";
  out += x.purpose ? Esc(*x.purpose) : std::string("-");
  out += "</td><td>";
  out += x.provider ? Party(*x.provider) : std::string("Not passed on: the bus refused it");
  out += "</td><td>";
  if (x.answered) {
    out += "<span class=\"yes\">Yes</span>";
  } else {
    out += "<span class=\"no\">No</span>: ";
    out += Esc(OutcomeWords(x.outcome));
    out += " <span class=\"minor\">(" + Esc(x.outcome) + ")</span>";
  }
  out +=
      "</td><td><span class=\"minor\">requestId <code>" + Esc(x.request_id) + "</code><br>records ";
  for (size_t i = 0; i < x.records.size(); ++i) {
    if (i > 0) out += ", ";
    if (!x.records[i].node.empty()) out += Esc(x.records[i].node) + ":";
    out += std::to_string(x.records[i].seq);
  }
  out += "</span></td></tr>\n";
  return out;
}

std::string Period(const SubjectReport& r) {
  if (!r.from_ms && !r.to_ms) return "Everything the evidence log holds";
  std::string out;
  if (r.from_ms) out += "From " + Time(*r.from_ms);
  if (r.to_ms) out += std::string(r.from_ms ? " until " : "Until ") + Time(*r.to_ms);
  return out + " (the end excluded)";
}

}  // namespace

std::string RenderSubjectReportHtml(const SubjectReportDocument& document) {
  const SubjectReport& r = document.report;
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>Access report for " +
      Esc(r.user_id) + "</title>\n<style>" + std::string(kStyle) +
      "</style>\n</head>\n<body>\n<main>\n"
      "<h1>Who asked for data about this person</h1>\n"
      "<p>Personal identifier <strong>" +
      Esc(r.user_id) +
      "</strong></p>\n"
      "<dl class=\"facts\">\n<dt>Period</dt><dd>" +
      Period(r) + "</dd>\n<dt>Exchanges found</dt><dd>" + std::to_string(r.exchanges.size()) +
      "</dd>\n<dt>Report made</dt><dd>" + Time(r.generated_at_ms) +
      "</dd>\n<dt>Made and signed by</dt><dd>The Government Enterprise Service Bus (GovESB), "
      "key <code>" +
      Esc(r.bus_key_id) +
      "</code></dd>\n</dl>\n"
      "<p>This report lists every exchange through the Government Enterprise Service Bus that "
      "carried this identifier in the period, as its evidence log recorded it: when, which "
      "institution and which of its systems asked, for which service and declared purpose, to "
      "which institution's system the request was passed, and whether it was answered. It does "
      "not contain the data that was exchanged. Times are in UTC (ISO 8601; East Africa Time is "
      "three hours ahead). Names are those the bus's registry holds as the report is made.</p>\n";
  if (r.exchanges.empty()) {
    out +=
        "<p><strong>No exchange through the bus carried this identifier in this "
        "period.</strong></p>\n";
  } else {
    out +=
        "<table>\n<caption>Exchanges, oldest first</caption>\n<thead><tr><th scope=\"col\">#</th>"
        "<th scope=\"col\">When (UTC)</th><th scope=\"col\">Asked by</th>"
        "<th scope=\"col\">Service</th><th scope=\"col\">Purpose</th>"
        "<th scope=\"col\">Passed to</th><th scope=\"col\">Answered</th>"
        "<th scope=\"col\">Evidence</th></tr></thead>\n<tbody>\n";
    for (size_t i = 0; i < r.exchanges.size(); ++i) out += Row(i + 1, r.exchanges[i]);
    out += "</tbody>\n</table>\n";
  }
  out +=
      "<h2>How to check this report</h2>\n"
      "<p>The bus signed this report, which is embedded in this page. Anyone can check that "
      "neither the report nor this page was changed since, and that the bus signed it, with "
      "the bus's published public key: <code>govesb audit check-report THIS-FILE "
      "--esb-public-key KEY</code>. Each row names the evidence records it stands on, which the "
      "bus's operator can prove with <code>govesb audit prove REQUEST-ID</code>.</p>\n"
      "<dl class=\"facts\">\n<dt>Signature</dt><dd>" +
      Esc(document.algorithm) + "</dd>\n<dt>Key id</dt><dd><code>" + Esc(document.key_id) +
      "</code></dd>\n<dt>Public key</dt><dd><code>" + Esc(document.public_key) +
      "</code></dd>\n</dl>\n</main>\n" + std::string(kScriptOpen);
  AppendScriptJson(document.canonical, out);
  out += std::string(kScriptClose) + "\n</body>\n</html>\n";
  return out;
}

Result<std::string> RenderSubjectReportHtml(std::string_view document_json) {
  GOVESB_ASSIGN_OR_RETURN(SubjectReportDocument document, ReadSubjectReportDocument(document_json));
  return RenderSubjectReportHtml(document);
}

bool LooksLikeHtml(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && text[first] == '<';
}

std::optional<std::string> EmbeddedSubjectReport(std::string_view html) {
  const size_t open = html.find(kScriptOpen);
  if (open == std::string_view::npos) return std::nullopt;
  const size_t start = open + kScriptOpen.size();
  const size_t close = html.find(kScriptClose, start);
  if (close == std::string_view::npos) return std::nullopt;
  return std::string(html.substr(start, close - start));
}

}  // namespace govesb::evidence
