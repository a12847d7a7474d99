#pragma once

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
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

// Requests being served on the calling thread: read, and not yet answered. Each I/O thread
// runs its own io_context and serves its connections alone, so a thread_local counts them.
inline thread_local int requests_in_flight = 0;

// Counts one request in flight on this thread for its lifetime.
class InFlightRequest {
 public:
  InFlightRequest() { ++requests_in_flight; }
  ~InFlightRequest() { --requests_in_flight; }
  InFlightRequest(const InFlightRequest&) = delete;
  InFlightRequest& operator=(const InFlightRequest&) = delete;
};

// A thread with few requests in flight: its event loop's queue holds little, so a pass of it
// costs an epoll_wait of its own. Half the bench's maximum rate keeps about 3 in flight,
// saturation with 64 connections 64.
inline constexpr int kQuietThreadRequests = 8;
inline bool QuietThread() { return requests_in_flight <= kQuietThreadRequests; }

// Sends `head` then `body`: on plain TCP in one gather write, tried at once on a quiet thread;
// over TLS as one contiguous buffer (`body` appended to `head`), for a two-buffer write of a
// body over 16 KB stalled on Beast's ssl_stream, and the copy is small beside the encryption.
// Empty `body`: the head alone.
template <class Stream>
boost::asio::awaitable<boost::system::error_code> WriteHeadAndBody(Stream& stream,
                                                                   std::string& head,
                                                                   std::string_view body) {
  namespace asio = boost::asio;
  constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
  if constexpr (std::is_same_v<Stream, boost::beast::tcp_stream>) {
    const std::array<asio::const_buffer, 2> parts{asio::buffer(head), asio::buffer(body)};
    // On a quiet thread, first a send that does not wait: a socket with room takes the whole
    // message at once, and the write is done without a pass of the event loop's queue (Asio
    // posts the completion of a write that finished at once, and a pass with handlers waiting
    // costs an epoll_wait). What the socket does not take goes the usual way. On a busy thread
    // the pass is cheap (many handlers share an epoll_wait) and worth its delay: the read that
    // follows the write then starts late enough to find the peer's next message there, where
    // right after the send it would find nothing (a failed recvmsg, about 0.9 per write when
    // saturated). The user-facing non-blocking mode affects synchronous calls only; Asio's
    // asynchronous operations on the socket behave as before.
    auto& socket = stream.socket();
    boost::system::error_code ec = asio::error::would_block;  // unless the send below is made
    size_t sent = 0;
    if (QuietThread()) {
      boost::system::error_code mode;
      if (!socket.non_blocking()) socket.non_blocking(true, mode);
      if (!mode) sent = socket.write_some(parts, ec);
    }
    if (!ec && sent == head.size() + body.size()) co_return ec;
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) co_return ec;
    boost::beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(parts);
    rest.consume(sent);
    auto [wec, n] = co_await asio::async_write(stream, rest, kNoThrow);
    co_return wec;
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
