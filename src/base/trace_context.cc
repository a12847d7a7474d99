#include "base/trace_context.h"

#include <algorithm>
#include <cstdint>
#include <random>

namespace govesb {
namespace {

constexpr char kHex[] = "0123456789abcdef";

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

int HexValue(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

bool AllLowerHex(std::string_view s) { return std::all_of(s.begin(), s.end(), IsLowerHex); }

bool AllZero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

// Trace and span ids need to be unique, not secret: a per-thread generator seeded from the
// system's entropy (one random_device read per thread), not a system call per exchange.
uint64_t RandomWord() {
  thread_local std::mt19937_64 generator = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return generator();
}

// `n` random lowercase hex digits at `out`, never all zero (the spec forbids it).
void RandomHex(char* out, size_t n) {
  do {
    for (size_t i = 0; i < n; i += 16) {
      uint64_t word = RandomWord();
      for (size_t k = i; k < std::min(n, i + 16); ++k, word >>= 4) out[k] = kHex[word & 0xF];
    }
  } while (AllZero(std::string_view(out, n)));
}

}  // namespace

std::optional<TraceContext> TraceContext::Parse(std::string_view text) {
  if (text.size() < 55) return std::nullopt;
  const std::string_view version = text.substr(0, 2);
  if (!AllLowerHex(version) || version == "ff") return std::nullopt;
  if (version == "00" ? text.size() != 55 : (text.size() > 55 && text[55] != '-')) {
    return std::nullopt;
  }
  if (text[2] != '-' || text[35] != '-' || text[52] != '-') return std::nullopt;
  const std::string_view trace = text.substr(3, 32);
  const std::string_view span = text.substr(36, 16);
  const std::string_view flags = text.substr(53, 2);
  if (!AllLowerHex(trace) || !AllLowerHex(span) || !AllLowerHex(flags)) return std::nullopt;
  if (AllZero(trace) || AllZero(span)) return std::nullopt;
  TraceContext t;
  // What the bus sends on is version 00, whatever version it understood, with the one flag
  // version 00 defines (sampled); flags it does not know are cleared, as the spec asks.
  std::copy_n(text.data(), 55, t.text_.data());
  t.text_[0] = '0';
  t.text_[1] = '0';
  t.text_[53] = '0';
  t.text_[54] = (HexValue(flags[1]) & 1) != 0 ? '1' : '0';
  return t;
}

TraceContext TraceContext::Start() {
  TraceContext t;
  constexpr std::string_view kShape = "00-00000000000000000000000000000000-0000000000000000-01";
  std::copy(kShape.begin(), kShape.end(), t.text_.begin());
  RandomHex(t.text_.data() + 3, 32);
  RandomHex(t.text_.data() + 36, 16);
  return t;
}

TraceContext TraceContext::Child() const {
  TraceContext t = *this;
  RandomHex(t.text_.data() + 36, 16);
  return t;
}

TraceContext TraceContext::Continue(std::string_view incoming) {
  if (incoming.empty()) return Start();
  std::optional<TraceContext> parsed = Parse(incoming);
  return parsed.has_value() ? parsed->Child() : Start();
}

bool TraceContext::sampled() const { return (HexValue(text_[54]) & 1) != 0; }

std::string_view PassableTracestate(std::string_view tracestate) {
  if (tracestate.size() > 512) return {};
  for (char c : tracestate) {
    if (c < 0x20 || c > 0x7E) return {};
  }
  return tracestate;
}

}  // namespace govesb
