#pragma once

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/fields.hpp>
#include <cstddef>
#include <memory_resource>
#include <string>
#include <string_view>
#include <type_traits>

#include "http/types.h"

// Writing the heads the bus sends (its answers, its requests upstream) without Beast's
// serializer.
namespace govesb::http::internal {

// The header fields of a message the bus parses (a request, a provider's answer) live in an arena
// of that one message, given back in one piece once the message is done: Beast's fields
// otherwise allocate each field (and the target, and the reason) on its own, about ten
// allocations per exchange. The arena's first block holds a usual head; a larger one (bounded
// by the header limit) takes more blocks.
using ArenaAllocator = std::pmr::polymorphic_allocator<char>;
using ArenaFields = boost::beast::http::basic_fields<ArenaAllocator>;
inline constexpr size_t kHeadArenaBytes = 2048;

// Whether `v` may stand in a head as a name or value: no line break, no NUL.
bool FitsInHead(std::string_view v);

// Sends `head` then `body`: on plain TCP in one gather write; over TLS as one contiguous buffer
// (`body` appended to `head`), for a two-buffer write of a body over 16 KB stalled on Beast's
// ssl_stream, and the copy is small beside the encryption. Empty `body`: the head alone.
template <class Stream>
boost::asio::awaitable<boost::system::error_code> WriteHeadAndBody(Stream& stream,
                                                                   std::string& head,
                                                                   std::string_view body) {
  namespace asio = boost::asio;
  constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
  if constexpr (std::is_same_v<Stream, boost::beast::tcp_stream>) {
    if (!body.empty()) {
      const std::array<asio::const_buffer, 2> parts{asio::buffer(head), asio::buffer(body)};
      auto [ec, n] = co_await asio::async_write(stream, parts, kNoThrow);
      co_return ec;
    }
  } else {
    head.append(body);
  }
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(head), kNoThrow);
  co_return ec;
}

// WriteHeadAndBody once the handlers already queued on this thread have run (a post to the
// coroutine's own executor), so that the messages made ready in one round of the event loop
// leave together at its end. The bus's requests upstream go this way: each is made ready after
// its exchange's verification and signing, so they used to leave one every 50 µs or so, and a
// provider that sleeps between requests was woken for each. The sender pays for every such
// wake-up in its send (an inter-processor interrupt, on a VM an exit to the hypervisor: about
// 4 µs here; docs/performance.md, "Requests upstream leave together"); now a sleeping peer is
// woken once per round. The wait is the rest of the round: next to nothing when the thread has
// nothing else to do. The bus's answers need no such wait: those a commit of the evidence log
// releases already leave one right after another.
template <class Stream>
boost::asio::awaitable<boost::system::error_code> WriteAfterQueuedHandlers(Stream& stream,
                                                                           std::string& head,
                                                                           std::string_view body) {
  namespace asio = boost::asio;
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  co_return co_await WriteHeadAndBody(stream, head, body);
}

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
