#pragma once

// GovESB envelopes: {"data":<DATA>,"signature":"<base64 DER ECDSA over the bytes of DATA>"}
// (wire contract sections 4, 5 and 7).
//
// Incoming envelopes are parsed once into spans over the received bytes, so that signatures are
// checked against the exact text that was signed. Outgoing envelopes are built byte for byte
// in the one form every known client can verify. All functions are pure and thread-safe.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "wire/json.h"

namespace govesb::wire {

// A consumer's or provider's envelope as received.
//
// Ownership: the envelope owns the received bytes (`body`), their UTF-8 transcoding
// (`utf8_body`) and, for XML, the JSON equivalent of <data> (`xml_data_json`); every
// string_view member, including JsonMember::raw in `data`, points into those owned strings.
// Copying or moving an envelope re-points the views into the new object's strings, so an
// envelope can be returned by value, stored in containers and moved freely. Do not assign the
// owned strings directly afterwards: that would leave the views pointing at the old bytes.
// A const envelope is safe to read from any thread.
struct IncomingEnvelope {
  // The received body bytes.
  std::string body;
  // Empty when `body` is valid UTF-8; otherwise `body` transcoded from ISO-8859-1 (Java
  // connector 0.1.5 sends ISO-8859-1 while signing UTF-8). Parsing happens on this text then.
  std::string utf8_body;
  // Exact text of the `data` value inside the UTF-8 text that was parsed (`utf8_body` when it is
  // set, else `body`). For XML: the exact text "<data>…</data>".
  std::string_view data_raw;
  // Exact text of `data` in the original `body` bytes (same as data_raw without transcoding).
  std::string_view data_raw_original;
  // The `signature` member, decoded from its JSON string (or XML element): still base64 text.
  // A view into the parsed text when the JSON string has no escapes (base64 needs none), else
  // (escapes, or an XML envelope's decoded character data) into `signature_text`.
  std::string_view signature;
  std::string signature_text;
  // Members of `data` (it is always an object). For XML they point into `xml_data_json`.
  std::vector<JsonMember> data;
  // For XML envelopes: the JSON equivalent of the <data> element (see ParseXmlEnvelope).
  std::string xml_data_json;
  bool is_xml = false;

  // The last member of `data` named `key`, or nullptr.
  const JsonMember* Find(std::string_view key) const { return FindMember(data, key); }

  IncomingEnvelope() = default;
  IncomingEnvelope(const IncomingEnvelope& other);
  IncomingEnvelope& operator=(const IncomingEnvelope& other);
  IncomingEnvelope(IncomingEnvelope&& other) noexcept;
  IncomingEnvelope& operator=(IncomingEnvelope&& other) noexcept;
  ~IncomingEnvelope() = default;
};

// Parses a JSON envelope. A body that is not valid UTF-8 is read as ISO-8859-1. A leading UTF-8
// byte order mark is ignored. Errors (kInvalidArgument), worded for consumers:
//   "body is not valid JSON: <what> at byte <n>"
//   "envelope must be a JSON object with members data and signature"
//   "data must be a JSON object"
//   "envelope has no signature"
//   "signature must be a string"
Result<IncomingEnvelope> ParseEnvelope(std::string body);

// Parses an XML envelope (contract section 7): root <esbrequest> or <esbresponse> holding
// <data>…</data> and <signature>…</signature>. data_raw is the exact text "<data>…</data>" (what
// the client signed). The children of <data> become `data` members through an equivalent JSON
// text (`xml_data_json`): an element with child elements is an object (a name repeated among
// siblings becomes an array), any other element is a string of its decoded text ("" when empty).
// DOCTYPE declarations are rejected (no entity expansion); attributes are ignored.
// Errors (kInvalidArgument): "body is not well-formed XML: <what> at byte <n>", "XML envelope
// must be <esbrequest> or <esbresponse> with <data> and <signature>", "envelope has no
// signature", "signature must be a string" (it has child elements), "data must be an element
// holding child elements" (it holds only text).
Result<IncomingEnvelope> ParseXmlEnvelope(std::string body);

// Which text of `data` a signature was made over (contract section 5).
enum class SignatureVariant {
  kRaw,                  // the bytes of data exactly as received
  kCompact,              // WriteCompact(data, kJackson): whitespace removed, order kept
  kCompactAsciiEscaped,  // WriteCompact(data, kAsciiEscaped)
  kLatin1,               // the received bytes of data re-decoded as ISO-8859-1, as UTF-8
};

// "raw", "compact", "compact-ascii-escaped", "latin1".
std::string_view SignatureVariantName(SignatureVariant variant);

// Which candidates VerifyEnvelope tries.
enum class Fallbacks {
  kAllowed,  // every variant above, in order
  kOff,      // only kRaw: the exact bytes sent (a per-system setting of the registry)
};

// Tries, in order, the candidate texts of `data` for the variants above and returns the first
// one `verify` accepts. A candidate identical to an earlier one is not tried again; kLatin1 is
// tried only when the received data has bytes >= 0x80; for XML envelopes only kRaw and kLatin1
// apply. Candidates are built lazily: the common case (raw verifies) builds nothing.
// Error: kBadSignature "signature does not verify against the registered public key".
Result<SignatureVariant> VerifyEnvelope(const IncomingEnvelope& envelope,
                                        const std::function<bool(std::string_view)>& verify,
                                        Fallbacks fallbacks = Fallbacks::kAllowed);
// Same, verifying each candidate with `key` against envelope.signature. The bytes as sent are
// hashed once; `data_sha256`, when given, receives the SHA-256 of `data_raw` (the evidence log
// keeps it), made from that same hash when the two texts are the same.
Result<SignatureVariant> VerifyEnvelope(const IncomingEnvelope& envelope,
                                        const crypto::PublicKey& key,
                                        crypto::Sha256Digest* data_sha256 = nullptr,
                                        Fallbacks fallbacks = Fallbacks::kAllowed);

// Whether the text a signature verified under `variant` says what the bus reads from the
// envelope and passes on (the members of `data`, parsed from data_raw). kRaw: the same bytes;
// kCompact and kCompactAsciiEscaped: the same JSON value written another way; kLatin1: only
// when the body was not UTF-8 and was itself read as ISO-8859-1, so that the verified text is
// data_raw. A kLatin1 match over a body that is valid UTF-8 verified other text (the bytes
// "é" sent, "Ã©" signed): what was signed is not what would be passed on.
bool VerifiedTextIsPassedOn(const IncomingEnvelope& envelope, SignatureVariant variant);

// Exactly {"data":<data_json>,"signature":"<signature_b64>"}: compact, data first (the PHP
// helper cuts the text between {"data": and ,"signature"). `data_json` is inserted verbatim:
// it must be the exact text that was signed (build it with messages.h).
std::string SealEnvelope(std::string_view data_json, std::string_view signature_b64);

// Signs `data_json` with the bus's key and seals it.
std::string SignAndSeal(std::string_view data_json, const crypto::Signer& signer);

// XML responses (contract section 7): <esbresponse><data>…</data><signature>…</signature>
// </esbresponse> without declaration or whitespace. `data_xml` is the exact signed text
// "<data>…</data>" (see DataJsonToXml).
std::string SealXmlEnvelope(std::string_view data_xml, std::string_view signature_b64,
                            std::string_view root = "esbresponse");
std::string SignAndSealXml(std::string_view data_xml, const crypto::Signer& signer);

// The XML form of a `data` JSON object, as the Node and PHP helpers produce it: one element per
// member in order, nested objects as nested elements, arrays as the element repeated, null as
// nothing, strings/numbers/booleans as escaped text (& < >), empty values as <e></e>.
// `element` names the outer element ("data"). Error when data_json is not a JSON object.
Result<std::string> DataJsonToXml(std::string_view data_json, std::string_view element = "data");

}  // namespace govesb::wire
