#pragma once

// The signed document of a subject access report (subject_report.h) read back: its parts, the
// body's JSON value and its parsing. Used by SignSubjectReport, CheckSubjectReport and the
// HTML page (subject_report_html.h). Pure functions, thread-safe.

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "base/result.h"
#include "evidence/subject_report.h"

namespace govesb::evidence {

// A report document as read, before its signature is checked.
struct SubjectReportDocument {
  SubjectReport report;
  std::string algorithm = std::string();
  std::string key_id = std::string();
  std::string public_key = std::string();  // base64 SPKI, as the signature names it
  std::string signature = std::string();   // base64 DER
  std::string body = std::string();        // the canonical text of the "report" member: signed
  std::string canonical = std::string();   // the canonical text of the whole document
};

// Parses a document (JSON text): an object with exactly the members "report" and "signature",
// the latter with exactly "algorithm", "keyId", "publicKey" and "value" as strings, the former
// a body ParseSubjectReport accepts. kInvalidArgument naming what is wrong.
Result<SubjectReportDocument> ReadSubjectReportDocument(std::string_view json_text);

namespace internal {

inline constexpr std::string_view kSignatureAlgorithm = "ECDSA-SHA256";

// The body's JSON value (strings made valid UTF-8, names unknown to the registry as null).
boost::json::value BodyValue(const SubjectReport& report);

}  // namespace internal

}  // namespace govesb::evidence
