#pragma once

// The human form of a subject access report (subject_report.h): one self-contained HTML page
// for the person or an auditor (institutions and systems in words, times in ISO 8601 UTC, no
// bodies, no signatures in the text), with the signed document embedded as it was signed, in
// <script type="application/json" id="govesb-report">…</script> (with `<`, `>`, `&`, U+2028 and
// U+2029 inside its strings written as \uXXXX escapes, which leaves the JSON value unchanged).
//
// The page is a pure function of the signed document: CheckSubjectReport checks an HTML file by
// checking the embedded document and rendering the page again, so a change to the visible text
// is found as surely as one to the report. Pure functions, thread-safe.

#include <optional>
#include <string>
#include <string_view>

#include "evidence/subject_report_document.h"

namespace govesb::evidence {

// The page of a document (as ReadSubjectReportDocument reads it; its canonical text is what is
// embedded).
std::string RenderSubjectReportHtml(const SubjectReportDocument& document);

// The same from the document's text as SignSubjectReport writes it.
Result<std::string> RenderSubjectReportHtml(std::string_view document_json);

// Whether a file is a page rather than a JSON document (its first non-blank character is '<').
bool LooksLikeHtml(std::string_view text);

// The JSON text embedded in a page, or nullopt when the page has none.
std::optional<std::string> EmbeddedSubjectReport(std::string_view html);

}  // namespace govesb::evidence
