// URLs: the registry's endpoint rule (registry::ValidateEndpoint, which every provider and
// subscriber URL passes before the upstream client sees it) and the Boost.URL parsers the
// upstream client and the registry use, with the accessors they read.
//
// Only what the bus uses: Boost.URL 1.81 (Debian 12) reads out of bounds iterating params()
// of "?#" (boostorg/url#864, fixed after 1.81) and iterating segments() of a URL that
// normalize() made from "https:/.//r/t///"; both inputs are kept in regressions/url/. The bus
// calls neither params(), segments() nor normalize(): do not start without a newer Boost.

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <string>

#include "fuzz_common.h"
#include "registry/validation.h"

using govesb::fuzz::AsText;

namespace {

size_t Read(const boost::urls::url_view& u) {
  size_t n = u.scheme().size() + u.encoded_host().size() + u.encoded_path().size();
  if (u.has_port()) n += u.port().size() + u.port_number();
  if (u.has_query()) n += u.encoded_query().size();
  if (u.has_fragment()) n += u.encoded_fragment().size();
  if (u.has_userinfo()) n += u.encoded_userinfo().size();
  n += u.host().size() + u.path().size();
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);

  govesb::Status endpoint = govesb::registry::ValidateEndpoint(text);
  auto absolute = boost::urls::parse_absolute_uri(text);
  if (endpoint.ok()) {
    // What the registry accepts, the upstream client can parse: http(s) with a host.
    GOVESB_FUZZ_CHECK(absolute.has_value());
    GOVESB_FUZZ_CHECK(absolute->scheme_id() == boost::urls::scheme::http ||
                      absolute->scheme_id() == boost::urls::scheme::https);
    GOVESB_FUZZ_CHECK(!absolute->encoded_host().empty());
  }
  if (absolute) {
    Read(*absolute);
    boost::urls::url copy(*absolute);  // what the registry keeps is the text; a copy reads alike
    GOVESB_FUZZ_CHECK(Read(copy) == Read(*absolute));
  }
  if (auto reference = boost::urls::parse_uri_reference(text)) Read(*reference);
  if (auto origin = boost::urls::parse_origin_form(text)) Read(*origin);
  return 0;
}
