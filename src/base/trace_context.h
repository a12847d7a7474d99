#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace govesb {

// A W3C Trace Context (https://www.w3.org/TR/trace-context/) as the bus passes it on: the
// `traceparent` header "00-<trace-id>-<span-id>-<flags>" (lowercase hex, 55 characters).
//
// The bus is one hop of a trace: it continues the trace a consumer's `traceparent` names
// (Continue: the same trace id, a new span id of its own, the same flags) or, when there is
// none or it is not well formed, starts one (Start: a new trace id, sampled). What it sends on
// to providers and subscribers, logs and records in the evidence log is its own hop's value.
// A plain value: no allocation, cheap to copy.
class TraceContext {
 public:
  // The traceparent a peer sent. Version 00 must be exactly 55 characters; a later version
  // (not ff) may carry more after a '-', which is ignored (the spec's forward compatibility).
  // nullopt when malformed: uppercase or non-hex digits, an all-zero trace or span id, version
  // ff, a wrong length.
  static std::optional<TraceContext> Parse(std::string_view traceparent);
  // A new trace with a random trace id and span id, flags 01 (sampled: the bus records every
  // exchange).
  static TraceContext Start();
  // The bus's hop of `incoming` (its trace id and flags, a new random span id), or a new trace
  // when `incoming` is empty or malformed.
  static TraceContext Continue(std::string_view incoming);

  // The next hop under this one: the same trace and flags, a new span id.
  TraceContext Child() const;

  std::string_view traceparent() const { return {text_.data(), text_.size()}; }
  std::string_view trace_id() const { return traceparent().substr(3, 32); }
  std::string_view span_id() const { return traceparent().substr(36, 16); }
  bool sampled() const;

  friend bool operator==(const TraceContext&, const TraceContext&) = default;

 private:
  TraceContext() = default;
  std::array<char, 55> text_{};
};

// A `tracestate` value to pass on with a valid traceparent: the header as received when it is
// at most 512 characters of printable ASCII (the spec's limit), else empty (dropped, as the
// spec allows). Several tracestate headers are joined with ',' by the caller.
std::string_view PassableTracestate(std::string_view tracestate);

}  // namespace govesb
