#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"

namespace govesb::bench {

// What the generator sends: pull requests (/engine/esb/request, `apiCode`) or push
// publications (/engine/esb/push-request, `pushCode`).
enum class Mode { kRequest, kPush };

std::string_view ModeName(Mode mode);  // "request", "push"

struct WorkloadOptions {
  Mode mode = Mode::kRequest;
  std::string code = "BNCH01";  // apiCode (request mode) or pushCode (push mode)
  // Bytes of the esbBody JSON text. Bodies are {"id":"<unique>","pad":"<filler>"}; below
  // kMinBodySize the filler is empty and the body is kMinBodySize bytes.
  size_t body_size = 1024;
  // Bodies are a realistic birth registration of 20 members instead, the id first and the
  // filler last (kBirthRecordMembers between): what bench/contract/birth-request.schema.json
  // describes, for the API-contract row. At least kMinBirthRecordSize bytes.
  bool birth_record = false;
};

// The 18 members between "id" and "pad" of a birth-record body.
inline constexpr std::string_view kBirthRecordMembers =
    R"("applicationType":"NEW","registrationNo":"DSM/KIN/2024/000123","childFirstName":"Neema",)"
    R"("childMiddleName":"Asha","childSurname":"Mwakalinga","sex":"F","birthDate":"2024-03-15",)"
    R"("placeOfBirth":{"region":"Dar es Salaam","district":"Kinondoni","ward":"Mwananyamala"},)"
    R"("weightKg":3.25,"motherNin":"19900101-12345-00001-22","motherName":"Rehema Juma",)"
    R"("fatherNin":"19880505-54321-00002-11","fatherName":"Baraka Mwakalinga",)"
    R"("informantPhone":"+255712345678","registeredAt":"2024-03-20T09:15:00+03:00",)"
    R"("registrarId":1042,"copies":2,"languages":["sw","en"])";

// The pre-signed consumer envelopes of one run: envelope i is
//   {"data":{"apiCode":"<code>","esbBody":{"id":"<run>-<i, 10 digits>","pad":"…"}},
//    "signature":"<base64 DER ECDSA-SHA256 over data with the consumer's key>"}
// so every request is distinct and carries its own valid signature, and nothing in the bus can
// answer it from a cache. All signing happens in Presign, before the run; during the run the
// generator only copies bytes (AppendEnvelope). Only the signatures are stored per request (the
// rest is shared), so a few hundred thousand requests take tens of megabytes.
//
// Immutable after Presign: safe to read from any thread.
class RequestSet {
 public:
  static constexpr size_t kIdDigits = 10;
  static constexpr size_t kMinBodySize = 37;  // {"id":"xxxxxxxx-NNNNNNNNNN","pad":""}
  static constexpr size_t kMinBirthRecordSize = kMinBodySize + kBirthRecordMembers.size() + 1;

  // Signs up to `count` envelopes on `threads` threads (0: one per usable core). When `budget` is
  // positive, signing stops once it has elapsed and the set holds the envelopes signed so
  // far (always at least one).
  static RequestSet Presign(const crypto::PrivateKey& key, const WorkloadOptions& options,
                            size_t count, std::chrono::milliseconds budget = {},
                            unsigned threads = 0);

  size_t size() const { return offsets_.empty() ? 0 : offsets_.size() - 1; }
  Mode mode() const { return mode_; }
  // Random 8 hex characters identifying this set: ids are "<run_id>-<index>".
  const std::string& run_id() const { return run_id_; }
  // The signed `data` text of envelope i.
  std::string Data(size_t i) const;
  std::string_view Signature(size_t i) const;
  // Appends envelope i to `out`; EnvelopeSize(i) bytes.
  void AppendEnvelope(size_t i, std::string& out) const;
  size_t EnvelopeSize(size_t i) const;
  std::string Envelope(size_t i) const;
  // Bytes of each esbBody text.
  size_t body_size() const { return body_size_; }

 private:
  void AppendData(size_t i, std::string& out) const;

  Mode mode_ = Mode::kRequest;
  std::string run_id_;
  std::string data_head_;  // {"apiCode":"X","esbBody":{"id":"<run>-
  std::string data_tail_;  // ","pad":"…"}}
  size_t body_size_ = 0;
  std::string signatures_;         // all signatures, concatenated
  std::vector<uint32_t> offsets_;  // signature i is [offsets_[i], offsets_[i+1])
};

}  // namespace govesb::bench
