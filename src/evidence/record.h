#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/primitives.h"
#include "evidence/merkle.h"

// The vocabulary of evidence records, shared by whoever makes them (the engine, the delivery
// dispatcher, the admin journal) and whoever stores or reads them: the record, its canonical
// (hashed) and compact (stored) texts, records prepared for appending, sealed bodies, and the
// chain link. Pure data and crypto: no storage here (see store.h for the ports).

namespace govesb::evidence {

// One step of one exchange, as recorded (see docs/evidence.md once the log is wired in).
// Bodies are not kept: their SHA-256 is, with the signatures, which are the non-repudiation
// evidence.
struct Record {
  int64_t at_ms = 0;
  std::string request_id;
  std::string kind;     // request | delivery | reply | response | push | attempt | async-answer
  std::string from;     // client_id of the sender of this step, "bus" for the bus
  std::string to;       // client_id of its receiver, "bus" for the bus
  std::string code;     // apiCode or pushCode ("" when unknown)
  std::string user_id;  // identity requests
  std::string outcome;  // "ok", or the failure's code name
  std::string error;    // "" when ok
  int64_t latency_us = 0;
  int64_t size = 0;              // bytes of the message of this step
  std::string body_sha256;       // hex SHA-256 of the signed data text ("" when none)
  std::string signature;         // base64 DER signature as sent ("" when none)
  std::string signature_sha256;  // hex SHA-256 of the signature text
  // Set by AttachSigned: signature_sha256 is the one of `signature` (then it is not stored
  // but recomputed on reading). Not part of the record.
  bool signature_sha256_derived = false;
  // APIs that store bodies: base64 of AES-256-GCM(iv || tag || ciphertext) of the signed data
  // text, under the bus's evidence key, with "<requestId>|<kind>" as associated data. "" when
  // not stored (the member is then left out of the record).
  std::string body_encrypted;
  // The form of the signed text the signature verified against (wire::SignatureVariantName:
  // "raw", "compact", "compact-ascii-escaped", "latin1"); "" when not verified or not known.
  // Part of the hashed record when set ("signatureVariant"); records made before it existed
  // have none, and their texts and hashes are unchanged (the member is left out when empty).
  std::string signature_variant;
  // The W3C traceparent of the bus's hop of the exchange (what it passed on to the provider or
  // subscribers, base/trace_context.h); "" in records made before traces were kept, whose texts
  // and hashes are unchanged (the member is left out when empty).
  std::string traceparent;
  // The purpose (legal basis) the consumer declared for the exchange, as its code (a grant's
  // Purpose::code); "" when none was declared, and then left out of the texts.
  std::string purpose;
  // The members of the answer's esbBody the bus withheld from its receiver under the grant's
  // field allow-list, as a JSON array of JSON Pointers (minimise::Withheld::ToJson), names
  // only, never values; "" when nothing was withheld, and then left out of the texts.
  std::string withheld;
};

// Fills the record's evidence of a signed message: the SHA-256 of its signed data text and
// of its signature (hex, "" when empty), and the signature itself.
void AttachSigned(Record& r, std::string_view data, std::string_view signature);
// The same for non-empty data whose SHA-256 the caller has made already (signing and
// verifying hash it too): the data is not hashed again.
void AttachSigned(Record& r, const crypto::Sha256Digest& data_sha256, std::string_view signature);

// Seals `data` for Record::body_encrypted (base64), under the 32-byte evidence key.
Result<std::string> SealBody(std::string_view key, std::string_view request_id,
                             std::string_view kind, std::string_view data);
// Opens a record's bodyEncrypted member; kBadSignature when the key or context is wrong or the
// text was altered.
Result<std::string> OpenBody(std::string_view key, std::string_view request_id,
                             std::string_view kind, std::string_view body_encrypted_base64);

// A record's fields as views, valid during the call that takes it: the texts of a record are
// made from it directly, without copying its fields into a Record first (what the engine does
// for every step of every exchange).
struct RecordView {
  int64_t at_ms = 0;
  std::string_view request_id, kind, from, to, code, user_id, outcome, error;
  int64_t latency_us = 0;
  int64_t size = 0;
  // The SHA-256 of the signed data text: as bytes (body_digest, when not null) or as hex.
  const crypto::Sha256Digest* body_digest = nullptr;
  std::string_view body_sha256;
  std::string_view signature;
  // The SHA-256 of the signature text as hex, or, with signature_sha256_derived, made here from
  // `signature` (and then not stored: it is recomputed on reading).
  std::string_view signature_sha256;
  bool signature_sha256_derived = false;
  std::string_view signature_variant;  // see Record::signature_variant
  std::string_view traceparent;        // see Record::traceparent
  std::string_view purpose;            // see Record::purpose
  std::string_view withheld;           // see Record::withheld
  std::string_view body_encrypted;
};
RecordView ViewOf(const Record& r);

// The exact text that is hashed and kept: compact JSON, members in a fixed order, `seq` first.
std::string CanonicalRecord(int64_t seq, const Record& r);
// The same, appended to `out`.
void AppendCanonicalRecord(int64_t seq, const Record& r, std::string& out);
// The text after the number: CanonicalRecord(seq, r) == "{\"seq\":" + seq + tail.
void AppendCanonicalTail(const RecordView& r, std::string& out);
inline void AppendCanonicalTail(const Record& r, std::string& out) {
  AppendCanonicalTail(ViewOf(r), out);
}

// A record with its texts made, waiting for its number (see EvidenceSink::Append): views into
// the buffer of the PreparedRecords it belongs to.
struct PreparedRecord {
  std::string_view request_id;
  int64_t at_ms = 0;
  std::string_view tail;     // AppendCanonicalTail: hashed (after its number)
  std::string_view compact;  // EncodeCompact: stored
};
// The records of one append, their texts made in one buffer (one allocation for them all,
// instead of three per record). Move-only: the views point into `buffer`'s heap storage,
// which a move keeps.
class PreparedRecords {
 public:
  PreparedRecords() = default;
  PreparedRecords(PreparedRecords&&) = default;
  PreparedRecords& operator=(PreparedRecords&&) = default;
  PreparedRecords(const PreparedRecords&) = delete;
  PreparedRecords& operator=(const PreparedRecords&) = delete;

  // Room for about `records` records of the usual size, so that the buffer grows once.
  void Reserve(size_t records, size_t extra_bytes = 0);
  // Makes the texts of one more record (its request id is kept once for consecutive records
  // of one exchange).
  void Add(const RecordView& r);
  // Moves `other`'s records after these, in their order (one append made of several
  // exchanges' records: each exchange's records stay together).
  void Append(PreparedRecords&& other);
  const std::vector<PreparedRecord>& records() const { return records_; }
  bool empty() const { return records_.empty(); }

 private:
  struct Spans {
    size_t request_id, request_id_size, tail, tail_size, compact, compact_size;
  };
  PreparedRecord View(const Spans& x, int64_t at_ms) const;
  // Points the first `count` records at the buffer's current storage (after it moved as it
  // grew).
  void Repoint(size_t count);
  std::string buffer_;
  std::vector<Spans> spans_;
  std::vector<PreparedRecord> records_;
};
PreparedRecords Prepare(std::span<const Record> records);

// The stored form of a record: its fields without member names, hashes as bytes, the
// signature's SHA-256 left out when it is the one of the signature (it is recomputed), and
// the requestId left to its row. A signature variant, when set, is written as the tag byte 4
// and a string just before the signature's SHA-256 (whose tags are 0-3), then a traceparent,
// when set, as the tag byte 5 and its 26 bytes (version, trace id, span id, flags) or, when it
// is not in the bus's own form, the tag byte 6 and a string, then a purpose, when set, as the
// tag byte 7 and a string, then the withheld fields, when set, as the tag byte 8 and a string: a
// record without them is encoded exactly as before they existed. The canonical text is made again
// from it on reading (CanonicalRecord of the decoded record), exactly: the stored hashes are of
// those texts, so any change of the stored bytes shows. About a third of the canonical text's size.
void EncodeCompact(const RecordView& r, std::string& out);
inline void EncodeCompact(const Record& r, std::string& out) { EncodeCompact(ViewOf(r), out); }
// Decodes the records of one row (a marker byte, then EncodeCompact of each), in order.
// nullopt when the bytes are not a well-formed row.
std::optional<std::vector<Record>> DecodeCompactRow(std::string_view row,
                                                    std::string_view request_id);
inline constexpr char kCompactRowMarker = '\x01';
// The fields of a record that search filters on, as views into its compact row.
struct CompactFields {
  int64_t at_ms = 0;
  std::string_view kind, from, to, code, user_id, outcome;
  // The trace id (32 lowercase hex) of the record's traceparent, "" when it has none.
  std::string_view trace_id;
};
// Calls `visit` with each record of a compact row, in order, without decoding the rest of it
// (no copies: what indexing and search do for every record they pass). False when the row is
// not well formed (DecodeCompactRow reads the same rows).
bool ScanCompactRow(std::string_view row, const std::function<void(const CompactFields&)>& visit);

// Reading the log's own canonical texts (records, checkpoint bodies): a string member,
// decoded, or an integer member. nullopt when the text is not a JSON object, lacks the
// member, or the member has another type.
std::optional<std::string> CanonicalMember(std::string_view text, std::string_view name);
std::optional<int64_t> CanonicalInt(std::string_view text, std::string_view name);

// One link of the hash chain: SHA-256(previous || record_hash).
Hash ChainLink(const Hash& previous, const Hash& record_hash);

namespace internal {
// `,"name":value` appended to a JSON object being written (the canonical record and checkpoint
// texts): the value as a JSON string, or as an integer.
void Member(std::string& out, std::string_view name, std::string_view value);
void Member(std::string& out, std::string_view name, int64_t value);
}  // namespace internal

}  // namespace govesb::evidence
