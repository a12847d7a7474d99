#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>

namespace govesb::http::internal {

// Parses into `parser` what `buffer` already holds, the body too (the parser made eager, as
// Beast's async_read makes it), and consumes what the parser used. True when that completes
// the message: there is nothing to read. A usual message arrives in one read, head and body
// together, and the head's read leaves the body in the buffer; Beast's async_read would then
// read nothing yet post its completion through the event loop's queue, one more pass of the
// queue per message (and, with other handlers waiting, one more epoll_wait).
//
// False with `ec` clear when the message goes on past what is buffered: read the rest with
// async_read. False with `ec` set when the parser refuses what is there: the error async_read
// would have given for the same bytes.
template <bool isRequest>
bool ParseBuffered(boost::beast::http::basic_parser<isRequest>& parser,
                   boost::beast::flat_buffer& buffer, boost::system::error_code& ec) {
  ec.clear();
  parser.eager(true);
  while (!parser.is_done() && buffer.size() > 0) {
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == boost::beast::http::error::need_more) {
      ec.clear();
      return false;
    }
    if (ec) return false;
    if (used == 0) return false;  // nothing parsed: left to async_read, as Beast would
  }
  return parser.is_done();
}

}  // namespace govesb::http::internal
