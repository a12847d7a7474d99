#include "evidence/record.h"

#include <array>
#include <charconv>
#include <cstring>

#include "base/encoding.h"
#include "crypto/aead.h"
#include "evidence/codec.h"
#include "wire/json.h"

namespace govesb::evidence {

namespace {

std::string_view Bytes(const Hash& h) {
  return std::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}

}  // namespace

Hash ChainLink(const Hash& previous, const Hash& record_hash) {
  return crypto::Sha256({Bytes(previous), Bytes(record_hash)});
}

namespace internal {

void Member(std::string& out, std::string_view name, std::string_view value) {
  out += ",\"";
  out += name;
  out += "\":";
  wire::WriteString(value, out);
}

void Member(std::string& out, std::string_view name, int64_t value) {
  out += ",\"";
  out += name;
  out += "\":";
  char number[24];
  out.append(number, std::to_chars(number, number + sizeof number, value).ptr);
}

}  // namespace internal

namespace {

using internal::Member;

}  // namespace

namespace {

// A signature's hex SHA-256 ("" for no signature), as records carry it.
std::string SignatureSha256(std::string_view signature) {
  return signature.empty() ? std::string() : HashHex(crypto::Sha256(signature));
}

void AttachSignature(Record& r, std::string_view signature) {
  r.signature = std::string(signature);
  r.signature_sha256 = SignatureSha256(signature);
  r.signature_sha256_derived = true;
}

}  // namespace

void AttachSigned(Record& r, std::string_view data, std::string_view signature) {
  r.body_sha256 = data.empty() ? std::string() : HashHex(crypto::Sha256(data));
  AttachSignature(r, signature);
}

void AttachSigned(Record& r, const crypto::Sha256Digest& data_sha256, std::string_view signature) {
  r.body_sha256 = HashHex(data_sha256);
  AttachSignature(r, signature);
}

namespace {
std::string BodyContext(std::string_view request_id, std::string_view kind) {
  std::string aad(request_id);
  aad += '|';
  aad += kind;
  return aad;
}
}  // namespace

Result<std::string> SealBody(std::string_view key, std::string_view request_id,
                             std::string_view kind, std::string_view data) {
  GOVESB_ASSIGN_OR_RETURN(std::string sealed,
                          crypto::SealWithKey(key, data, BodyContext(request_id, kind)));
  return Base64Encode(sealed);
}

Result<std::string> OpenBody(std::string_view key, std::string_view request_id,
                             std::string_view kind, std::string_view body_encrypted_base64) {
  std::optional<std::string> sealed = Base64Decode(body_encrypted_base64);
  if (!sealed.has_value()) return InvalidArgument("the stored body is not base64");
  return crypto::OpenWithKey(key, *sealed, BodyContext(request_id, kind));
}

std::optional<std::string> CanonicalMember(std::string_view text, std::string_view name) {
  auto members = wire::ScanObject(text);
  if (!members.ok()) return std::nullopt;
  const wire::JsonMember* m = wire::FindMember(*members, name);
  if (m == nullptr || m->type != wire::JsonType::kString) return std::nullopt;
  auto decoded = wire::DecodeString(m->raw);
  return decoded.ok() ? std::optional<std::string>(std::move(*decoded)) : std::nullopt;
}

std::optional<int64_t> CanonicalInt(std::string_view text, std::string_view name) {
  auto members = wire::ScanObject(text);
  if (!members.ok()) return std::nullopt;
  const wire::JsonMember* m = wire::FindMember(*members, name);
  if (m == nullptr || m->type != wire::JsonType::kNumber) return std::nullopt;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(m->raw.data(), m->raw.data() + m->raw.size(), n);
  if (ec != std::errc() || end != m->raw.data() + m->raw.size()) return std::nullopt;
  return n;
}

std::string CanonicalRecord(int64_t seq, const Record& r) {
  std::string out;
  AppendCanonicalRecord(seq, r, out);
  return out;
}

void AppendCanonicalRecord(int64_t seq, const Record& r, std::string& out) {
  out += "{\"seq\":";
  char number[24];
  out.append(number, std::to_chars(number, number + sizeof number, seq).ptr);
  AppendCanonicalTail(r, out);
}

RecordView ViewOf(const Record& r) {
  RecordView v;
  v.at_ms = r.at_ms;
  v.request_id = r.request_id;
  v.kind = r.kind;
  v.from = r.from;
  v.to = r.to;
  v.code = r.code;
  v.user_id = r.user_id;
  v.outcome = r.outcome;
  v.error = r.error;
  v.latency_us = r.latency_us;
  v.size = r.size;
  v.body_sha256 = r.body_sha256;
  v.signature = r.signature;
  v.signature_sha256 = r.signature_sha256;
  v.signature_sha256_derived = r.signature_sha256_derived;
  v.signature_variant = r.signature_variant;
  v.traceparent = r.traceparent;
  v.purpose = r.purpose;
  v.withheld = r.withheld;
  v.body_encrypted = r.body_encrypted;
  return v;
}

namespace {

// `,"name":"<hex of digest>"`, written in place.
void HexMember(std::string& out, std::string_view name, const crypto::Sha256Digest& digest) {
  out += ",\"";
  out += name;
  out += "\":\"";
  HexEncodeAppend(digest, out);
  out += '"';
}

}  // namespace

void AppendCanonicalTail(const RecordView& r, std::string& out) {
  Member(out, "at", r.at_ms);
  Member(out, "requestId", r.request_id);
  Member(out, "kind", r.kind);
  Member(out, "from", r.from);
  Member(out, "to", r.to);
  Member(out, "code", r.code);
  Member(out, "userId", r.user_id);
  Member(out, "outcome", r.outcome);
  Member(out, "error", r.error);
  Member(out, "latencyUs", r.latency_us);
  Member(out, "size", r.size);
  if (r.body_digest != nullptr) {
    HexMember(out, "bodySha256", *r.body_digest);
  } else {
    Member(out, "bodySha256", r.body_sha256);
  }
  Member(out, "signature", r.signature);
  if (r.signature_sha256_derived && r.signature_sha256.empty() && !r.signature.empty()) {
    HexMember(out, "signatureSha256", crypto::Sha256(r.signature));
  } else {
    Member(out, "signatureSha256", r.signature_sha256);
  }
  // Only when set: the texts (and hashes) of records without it stay as they always were.
  if (!r.signature_variant.empty()) Member(out, "signatureVariant", r.signature_variant);
  if (!r.traceparent.empty()) Member(out, "traceparent", r.traceparent);
  if (!r.purpose.empty()) Member(out, "purpose", r.purpose);
  if (!r.withheld.empty()) Member(out, "withheld", r.withheld);
  if (!r.body_encrypted.empty()) Member(out, "bodyEncrypted", r.body_encrypted);
  out += '}';
}

void PreparedRecords::Reserve(size_t records, size_t extra_bytes) {
  // A record's two texts take 700-900 bytes when it has a signature (an exchange's four
  // records, as made by the engine: 3.3-3.6 KB).
  buffer_.reserve(buffer_.size() + records * 1024 + extra_bytes);
  spans_.reserve(spans_.size() + records);
  records_.reserve(records_.size() + records);
}

PreparedRecord PreparedRecords::View(const Spans& x, int64_t at_ms) const {
  const std::string_view all(buffer_);
  return PreparedRecord{all.substr(x.request_id, x.request_id_size), at_ms,
                        all.substr(x.tail, x.tail_size), all.substr(x.compact, x.compact_size)};
}

void PreparedRecords::Repoint(size_t count) {
  for (size_t i = 0; i < count; ++i) records_[i] = View(spans_[i], records_[i].at_ms);
}

void PreparedRecords::Append(PreparedRecords&& other) {
  if (other.records_.empty()) return;
  if (records_.empty()) {
    *this = std::move(other);
    return;
  }
  const size_t shift = buffer_.size();
  const char* const before = buffer_.data();
  // Grown geometrically (append and push_back, not a reserve of the exact size): a round
  // appends one exchange after another, and an exact reserve would reallocate at every one.
  buffer_ += other.buffer_;
  const size_t first_new = spans_.size();
  for (size_t i = 0; i < other.spans_.size(); ++i) {
    Spans x = other.spans_[i];
    x.request_id += shift;
    x.tail += shift;
    x.compact += shift;
    spans_.push_back(x);
  }
  if (buffer_.data() != before) Repoint(first_new);
  for (size_t i = 0; i < other.records_.size(); ++i) {
    records_.push_back(View(spans_[first_new + i], other.records_[i].at_ms));
  }
  other = PreparedRecords();
}

void PreparedRecords::Add(const RecordView& r) {
  // On the heap from the start (> 15 bytes), so that moving keeps the views valid.
  if (buffer_.capacity() < 64) buffer_.reserve(1024);
  const char* const before = buffer_.data();
  Spans s{};
  if (!records_.empty() && records_.back().request_id == r.request_id) {
    s.request_id = spans_.back().request_id;  // once for the exchange's records
  } else {
    s.request_id = buffer_.size();
    buffer_ += r.request_id;
  }
  s.request_id_size = r.request_id.size();
  s.tail = buffer_.size();
  AppendCanonicalTail(r, buffer_);
  s.tail_size = buffer_.size() - s.tail;
  s.compact = buffer_.size();
  EncodeCompact(r, buffer_);
  s.compact_size = buffer_.size() - s.compact;
  spans_.push_back(s);
  // The buffer moved as it grew: point the earlier views at its new place.
  if (buffer_.data() != before) Repoint(records_.size());
  records_.push_back(View(s, r.at_ms));
}

PreparedRecords Prepare(std::span<const Record> records) {
  PreparedRecords p;
  // Room for the members' names and the values, so that the buffer grows once.
  size_t room = 64;
  for (const Record& r : records) {
    room += 2 * (r.kind.size() + r.from.size() + r.to.size() + r.code.size() + r.user_id.size() +
                 r.outcome.size() + r.error.size() + r.body_sha256.size() + r.signature.size() +
                 r.signature_variant.size() + r.traceparent.size() + r.purpose.size() +
                 r.withheld.size() + r.body_encrypted.size()) +
            r.signature_sha256.size() + r.request_id.size() + 320;
  }
  p.Reserve(0, room);
  for (const Record& r : records) p.Add(ViewOf(r));
  return p;
}

namespace {

// Before the signature's SHA-256 (tags 0-3): the signature variant follows.
constexpr char kVariantTag = '\4';
// Then the traceparent: in the bus's own form as 26 bytes, or any other text as a string.
constexpr char kTraceBytesTag = '\5';
constexpr char kTraceTextTag = '\6';
// Then the purpose.
constexpr char kPurposeTag = '\7';
// Then the fields withheld from the answer.
constexpr char kWithheldTag = '\10';

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "vv-<32 hex>-<16 hex>-ff" in lowercase as 26 bytes; false when `text` is not in that form.
bool TraceparentBytes(std::string_view text, std::string& out) {
  if (text.size() != 55 || text[2] != '-' || text[35] != '-' || text[52] != '-') return false;
  char bytes[26];
  size_t n = 0;
  for (size_t i = 0; i < 55; i += 2) {
    if (text[i] == '-') ++i;
    const int hi = HexDigit(text[i]);
    const int lo = HexDigit(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    bytes[n++] = static_cast<char>(hi * 16 + lo);
  }
  out.append(bytes, 26);
  return true;
}

// The optional members between the signature and its SHA-256, in their order: the signature
// variant (tag 4), then the traceparent (tag 5 or 6). Views into the row, or into `text` for a
// traceparent kept as bytes; not copyable (a view may point into itself).
struct OptionalMembers {
  OptionalMembers() = default;
  OptionalMembers(const OptionalMembers&) = delete;
  OptionalMembers& operator=(const OptionalMembers&) = delete;
  std::string_view variant;
  std::string_view traceparent;
  std::string_view purpose;
  std::string_view withheld;
  std::array<char, 55> text{};
};

// Reads the optional members; `in` is left at the signature's SHA-256 tag. Never an empty
// value: that is written as no tag at all (one encoding per record).
bool ReadOptionalMembers(ByteReader& in, OptionalMembers& m) {
  ByteReader peek = in;
  char tag = 0;
  if (!peek.Byte(tag)) return false;
  if (tag == kVariantTag) {
    in = peek;
    if (!in.View(m.variant) || m.variant.empty()) return false;
    peek = in;
    if (!peek.Byte(tag)) return false;
  }
  if (tag == kTraceBytesTag) {
    in = peek;
    std::string_view bytes;
    if (!in.Fixed(26, bytes)) return false;
    constexpr char kHexDigits[] = "0123456789abcdef";
    size_t pos = 0;
    for (size_t i = 0; i < 26; ++i) {
      if (i == 1 || i == 17 || i == 25) m.text[pos++] = '-';
      const auto b = static_cast<uint8_t>(bytes[i]);
      m.text[pos++] = kHexDigits[b >> 4];
      m.text[pos++] = kHexDigits[b & 0xF];
    }
    m.traceparent = std::string_view(m.text.data(), m.text.size());
  } else if (tag == kTraceTextTag) {
    in = peek;
    if (!in.View(m.traceparent) || m.traceparent.empty()) return false;
  }
  if (!m.traceparent.empty()) {
    peek = in;
    if (!peek.Byte(tag)) return false;
  }
  if (tag == kPurposeTag) {
    in = peek;
    if (!in.View(m.purpose) || m.purpose.empty()) return false;
    peek = in;
    if (!peek.Byte(tag)) return false;
  }
  if (tag == kWithheldTag) {
    in = peek;
    if (!in.View(m.withheld) || m.withheld.empty()) return false;
  }
  return true;
}

// A hex SHA-256 as written by HashHex: 0 = "", 1 = 32 bytes, 2 = another text as it is.
void PutHex(std::string_view hex, std::string& out) {
  if (hex.empty()) {
    out.push_back('\0');
    return;
  }
  auto h = HashFromHex(hex);
  // Only lowercase hex comes back exactly from the bytes.
  if (h.has_value() &&
      std::none_of(hex.begin(), hex.end(), [](char c) { return c >= 'A' && c <= 'F'; })) {
    out.push_back('\1');
    out.append(Bytes(*h));
    return;
  }
  out.push_back('\2');
  PutString(hex, out);
}

// A hex SHA-256 as PutHex wrote it.
bool ReadHex(ByteReader& in, std::string& s) {
  char tag = 0;
  if (!in.Byte(tag)) return false;
  if (tag == '\0') {
    s.clear();
    return true;
  }
  if (tag == '\1') {
    std::string_view bytes;
    if (!in.Fixed(32, bytes)) return false;
    Hash h;
    std::memcpy(h.data(), bytes.data(), 32);
    s = HashHex(h);
    return true;
  }
  return tag == '\2' && in.String(s);
}

}  // namespace

void EncodeCompact(const RecordView& r, std::string& out) {
  PutSigned(r.at_ms, out);
  PutString(r.kind, out);
  PutString(r.from, out);
  PutString(r.to, out);
  PutString(r.code, out);
  PutString(r.user_id, out);
  PutString(r.outcome, out);
  PutString(r.error, out);
  PutSigned(r.latency_us, out);
  PutSigned(r.size, out);
  if (r.body_digest != nullptr) {
    out.push_back('\1');
    out.append(Bytes(*r.body_digest));
  } else {
    PutHex(r.body_sha256, out);
  }
  PutString(r.signature, out);
  if (!r.signature_variant.empty()) {
    out.push_back(kVariantTag);
    PutString(r.signature_variant, out);
  }
  if (!r.traceparent.empty()) {
    out.push_back(kTraceBytesTag);
    if (!TraceparentBytes(r.traceparent, out)) {
      out.back() = kTraceTextTag;
      PutString(r.traceparent, out);
    }
  }
  if (!r.purpose.empty()) {
    out.push_back(kPurposeTag);
    PutString(r.purpose, out);
  }
  if (!r.withheld.empty()) {
    out.push_back(kWithheldTag);
    PutString(r.withheld, out);
  }
  if (r.signature_sha256_derived ||
      (!r.signature_sha256.empty() && r.signature_sha256 == SignatureSha256(r.signature))) {
    out.push_back('\3');  // recomputed on reading
  } else {
    PutHex(r.signature_sha256, out);
  }
  PutString(r.body_encrypted, out);
}

std::optional<std::vector<Record>> DecodeCompactRow(std::string_view row,
                                                    std::string_view request_id) {
  if (row.empty() || row[0] != kCompactRowMarker) return std::nullopt;
  ByteReader in(row.substr(1));
  std::vector<Record> out;
  while (!in.done()) {
    Record r;
    r.request_id = std::string(request_id);
    char tag = 0;
    bool ok = in.Signed(r.at_ms) && in.String(r.kind) && in.String(r.from) && in.String(r.to) &&
              in.String(r.code) && in.String(r.user_id) && in.String(r.outcome) &&
              in.String(r.error) && in.Signed(r.latency_us) && in.Signed(r.size) &&
              ReadHex(in, r.body_sha256) && in.String(r.signature);
    if (!ok) return std::nullopt;
    {
      OptionalMembers optional;
      if (!ReadOptionalMembers(in, optional)) return std::nullopt;
      r.signature_variant.assign(optional.variant);
      r.traceparent.assign(optional.traceparent);
      r.purpose.assign(optional.purpose);
      r.withheld.assign(optional.withheld);
      ByteReader peek = in;
      if (!peek.Byte(tag)) return std::nullopt;
      if (tag == '\3') {
        in = peek;
        r.signature_sha256 = SignatureSha256(r.signature);
      } else if (!ReadHex(in, r.signature_sha256)) {
        return std::nullopt;
      }
    }
    if (!in.String(r.body_encrypted)) return std::nullopt;
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

// Steps over a hex SHA-256 as PutHex wrote it.
bool SkipHex(ByteReader& in) {
  char tag = 0;
  std::string_view skipped;
  if (!in.Byte(tag)) return false;
  if (tag == '\0') return true;
  if (tag == '\1') return in.Fixed(32, skipped);
  return tag == '\2' && in.View(skipped);
}

}  // namespace

bool ScanCompactRow(std::string_view row, const std::function<void(const CompactFields&)>& visit) {
  if (row.empty() || row[0] != kCompactRowMarker) return false;
  ByteReader in(row.substr(1));
  while (!in.done()) {
    CompactFields f;
    std::string_view skipped;
    int64_t number = 0;
    if (!(in.Signed(f.at_ms) && in.View(f.kind) && in.View(f.from) && in.View(f.to) &&
          in.View(f.code) && in.View(f.user_id) && in.View(f.outcome) && in.View(skipped) &&
          in.Signed(number) && in.Signed(number) && SkipHex(in) && in.View(skipped))) {
      return false;
    }
    OptionalMembers optional;
    if (!ReadOptionalMembers(in, optional)) return false;
    if (optional.traceparent.size() >= 35) f.trace_id = optional.traceparent.substr(3, 32);
    ByteReader peek = in;
    char tag = 0;
    if (!peek.Byte(tag)) return false;
    if (tag == '\3') {
      in = peek;
    } else if (!SkipHex(in)) {
      return false;
    }
    if (!in.View(skipped)) return false;
    visit(f);
  }
  return true;
}
}  // namespace govesb::evidence
