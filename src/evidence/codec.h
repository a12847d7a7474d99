#pragma once

// The evidence module's binary encoding: LEB128 varints (zigzag for signed numbers) and
// length-prefixed strings, as used by the compact record form (log.h, EncodeCompact) and the
// live log's segment files (segments.h).

#include <cstdint>
#include <string>
#include <string_view>

namespace govesb::evidence {

inline void PutVarint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline void PutSigned(int64_t v, std::string& out) {
  PutVarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63), out);
}

inline void PutString(std::string_view s, std::string& out) {
  PutVarint(s.size(), out);
  out.append(s);
}

// Reads what the Put functions wrote; each call returns false (and the reader is then of no
// further use) when the bytes end early or are malformed.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  bool done() const { return pos_ >= in_.size(); }
  size_t position() const { return pos_; }
  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      const auto b = static_cast<uint8_t>(in_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Signed(int64_t& v) {
    uint64_t u = 0;
    if (!Varint(u)) return false;
    v = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
    return true;
  }
  // A length-prefixed string, as a view into the input.
  bool View(std::string_view& s) {
    uint64_t n = 0;
    if (!Varint(n) || n > in_.size() - pos_) return false;
    s = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool String(std::string& s) {
    std::string_view v;
    if (!View(v)) return false;
    s.assign(v);
    return true;
  }
  bool Fixed(size_t n, std::string_view& s) {
    if (n > in_.size() - pos_) return false;
    s = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Byte(char& c) {
    if (pos_ >= in_.size()) return false;
    c = in_[pos_++];
    return true;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace govesb::evidence
