#include "evidence/chain.h"

#include <utility>

#include "crypto/primitives.h"
#include "evidence/record.h"

namespace govesb::evidence {

using internal::Member;

std::string CheckpointBody(int64_t id, int64_t first_seq, int64_t last_seq, int64_t at_ms,
                           const Hash& root, const Hash& chain, std::string_view previous_hash,
                           std::string_view node, std::string_view key_id) {
  std::string out = "{\"checkpoint\":" + std::to_string(id);
  if (!node.empty()) Member(out, "node", node);
  Member(out, "firstSeq", first_seq);
  Member(out, "lastSeq", last_seq);
  Member(out, "at", at_ms);
  Member(out, "root", HashHex(root));
  Member(out, "chain", HashHex(chain));
  Member(out, "previous", previous_hash);
  if (!key_id.empty()) Member(out, "keyId", key_id);
  out += '}';
  return out;
}

std::string CheckpointKeyId(std::string_view body) {
  return CanonicalMember(body, "keyId").value_or("");
}

int64_t CheckpointTime(std::string_view body) { return CanonicalInt(body, "at").value_or(0); }

ChainChecker::ChainChecker(const crypto::KeySet& bus_keys,
                           std::vector<StoredCheckpoint> checkpoints, std::string node)
    : bus_keys_(bus_keys), checkpoints_(std::move(checkpoints)), node_(std::move(node)) {}

VerifyReport ChainChecker::Fail(std::optional<int64_t> seq, std::string problem) {
  VerifyReport failed = report_;
  failed.intact = false;
  failed.first_bad_seq = seq;
  failed.problem = std::move(problem);
  failure_ = failed;
  return failed;
}

std::optional<std::string> ChainChecker::CheckCheckpoint(const StoredCheckpoint& c) const {
  const std::string where = "checkpoint " + std::to_string(c.id);
  const std::string span =
      " (records " + std::to_string(c.first) + "-" + std::to_string(c.last) + ")";
  if (c.id != static_cast<int64_t>(next_checkpoint_) + 1) {
    return "checkpoint " + std::to_string(next_checkpoint_ + 1) + " is missing";
  }
  const std::string key_id = CheckpointKeyId(c.body);
  if (!key_id.empty() && bus_keys_.Find(key_id) == nullptr) {
    return where + span + " is signed by bus key " + key_id +
           ", which is not one of the bus keys it was checked with";
  }
  if (bus_keys_.VerifyBase64(c.body, c.signature, key_id) == nullptr) {
    return where + span + " does not carry a valid signature of the bus key";
  }
  if (CanonicalInt(c.body, "checkpoint") != c.id || CanonicalInt(c.body, "firstSeq") != c.first ||
      CanonicalInt(c.body, "lastSeq") != c.last || c.first != next_first_ || c.last < c.first ||
      CanonicalMember(c.body, "node").value_or("") != node_) {
    return where + " does not cover the records it is filed under";
  }
  if (CanonicalMember(c.body, "previous") != std::optional<std::string>(previous_hash_)) {
    return where + " does not follow the checkpoint before it";
  }
  if (CanonicalMember(c.body, "root") != std::optional<std::string>(HashHex(range_.Root())) ||
      CanonicalMember(c.body, "chain") != std::optional<std::string>(HashHex(chain_))) {
    return where + span +
           " no longer matches them: a record in that range was changed, removed, inserted "
           "or reordered since it was sealed";
  }
  return std::nullopt;
}

bool ChainChecker::Add(const StoredRecord& r) {
  const int64_t seq = r.seq;
  const std::string at = r.live ? "" : " (in " + std::string(r.source) + ")";
  auto stop = [&](std::optional<int64_t> where, std::string problem) {
    Fail(where, std::move(problem));
    return false;
  };
  if (seq == 0 && !CanonicalInt(r.text, "seq").has_value()) {
    return stop(expected_, "record " + std::to_string(expected_) + " is unreadable" + at);
  }
  if (seq != expected_) {
    return stop(expected_, seq > expected_
                               ? "record " + std::to_string(expected_) +
                                     " is missing (the next record is " + std::to_string(seq) +
                                     ")" + at
                               : "record numbering is broken at " + std::to_string(seq) + at);
  }
  Hash h = crypto::Sha256(r.text);
  if (r.live && (!r.stored_hash || *r.stored_hash != h)) {
    return stop(seq, "record " + std::to_string(seq) +
                         " was changed: its content does not match its recorded hash");
  }
  if (CanonicalInt(r.text, "seq") != seq ||
      (r.live &&
       CanonicalMember(r.text, "requestId") != std::optional<std::string>(r.filed_request_id))) {
    return stop(seq, "record " + std::to_string(seq) +
                         " is out of place: its content belongs to another position or "
                         "exchange (records were swapped or moved)" +
                         at);
  }
  chain_ = ChainLink(chain_, h);
  if (r.chain_after.has_value() && *r.chain_after != chain_) {
    return stop(seq, "the hash chain breaks at record " + std::to_string(seq) + at +
                         ": a record up to here was changed, removed, inserted or reordered");
  }
  range_.Append(h);
  ++report_.records;
  ++expected_;
  while (next_checkpoint_ < checkpoints_.size() && checkpoints_[next_checkpoint_].last == seq) {
    const StoredCheckpoint& c = checkpoints_[next_checkpoint_];
    if (auto problem = CheckCheckpoint(c)) return stop(c.first, *problem);
    previous_hash_ = HashHex(crypto::Sha256(c.body));
    next_first_ = c.last + 1;
    ++next_checkpoint_;
    ++report_.checkpoints;
    range_ = MerkleRange{};
  }
  if (next_checkpoint_ < checkpoints_.size() && checkpoints_[next_checkpoint_].last < seq) {
    const StoredCheckpoint& c = checkpoints_[next_checkpoint_];
    if (auto problem = CheckCheckpoint(c)) return stop(c.first, *problem);
    return stop(c.first,
                "checkpoint " + std::to_string(c.id) + " does not end where a record ends");
  }
  return true;
}

VerifyReport ChainChecker::Finish() {
  if (failure_) return *failure_;
  if (next_checkpoint_ < checkpoints_.size()) {
    const StoredCheckpoint& c = checkpoints_[next_checkpoint_];
    if (auto problem = CheckCheckpoint(c); problem && c.last <= report_.records) {
      return Fail(c.first, *problem);
    }
    return Fail(report_.records + 1, "checkpoint " + std::to_string(c.id) +
                                         " seals records up to " + std::to_string(c.last) +
                                         " but the log ends at " + std::to_string(report_.records) +
                                         ": records were removed");
  }
  VerifyReport done = report_;
  done.unsealed = done.records - (next_first_ - 1);
  done.intact = true;
  return done;
}

}  // namespace govesb::evidence
