#pragma once

#include <string>

#include "http/types.h"

namespace govesb::http::internal {

// The status line and header fields of `r` (HTTP/1.1; "Connection: close" unless `keep_alive`;
// Content-Length from its body), byte for byte what Beast's serializer writes for the response
// the server built before (Server, Content-Type, then the handler's extra headers, each
// replacing an earlier one of the same name), formatted in one pass into `out`, so that head
// and body leave in one gather write.
//
// False, with `out` unspecified, for what this does not format and Beast's serializer still
// writes: HTTP/1.0, a status without a body (1xx, 204, 304), extra headers that touch the
// framing (Connection, Content-Length, Transfer-Encoding), and a value or name with a line
// break or NUL.
bool FormatResponseHead(const HttpResponse& r, unsigned version, bool keep_alive, std::string& out);

}  // namespace govesb::http::internal
