// A person's access report as `govesb audit check-report` reads it (src/evidence/
// subject_report.h): the input as a report file (JSON, or an HTML page), checked against the
// fixed secp256k1 key; as JSON, put in canonical form (RFC 8785); and, when it reads as a
// report document, rendered as a page and read back from it.

#include <boost/json/parse.hpp>
#include <string>

#include "crypto/keys.h"
#include "evidence/canonical_json.h"
#include "evidence/subject_report.h"
#include "evidence/subject_report_document.h"
#include "evidence/subject_report_html.h"
#include "fuzz_common.h"

namespace evidence = govesb::evidence;
using govesb::fuzz::AsText;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<govesb::crypto::PublicKey> trusted = {
      govesb::crypto::PrivateKey::FromText(govesb::fuzz::kSecp256k1PrivateKey)->public_key()};
  const std::string_view input = AsText(data, size);

  // Checked: whatever passes is a report whose body reads back to the same canonical text.
  auto checked = evidence::CheckSubjectReport(input, trusted);
  if (checked.ok()) {
    const std::string body = evidence::SubjectReportBodyJson(checked->report);
    auto again = evidence::ParseSubjectReport(body);
    GOVESB_FUZZ_CHECK(again.ok());
    GOVESB_FUZZ_CHECK(evidence::SubjectReportBodyJson(*again) == body);
  }

  // The canonical form is a fixed point.
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(input, ec);
  if (!ec) {
    auto canonical = evidence::CanonicalJson(v);
    if (canonical.ok()) {
      GOVESB_FUZZ_CHECK(evidence::IsValidUtf8(*canonical));
      auto twice = evidence::CanonicalJson(boost::json::parse(*canonical));
      GOVESB_FUZZ_CHECK(twice.ok() && *twice == *canonical);
    }
  }

  // A document survives its page: the page embeds it and gives it back unchanged.
  auto document = evidence::ReadSubjectReportDocument(input);
  if (document.ok()) {
    const std::string page = evidence::RenderSubjectReportHtml(*document);
    GOVESB_FUZZ_CHECK(evidence::LooksLikeHtml(page));
    auto embedded = evidence::EmbeddedSubjectReport(page);
    GOVESB_FUZZ_CHECK(embedded.has_value());
    auto back = evidence::ReadSubjectReportDocument(*embedded);
    GOVESB_FUZZ_CHECK(back.ok() && back->canonical == document->canonical);
  }
  return 0;
}
