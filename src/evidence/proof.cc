#include "evidence/proof.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>

#include "evidence/chain.h"
#include "evidence/log.h"
#include "evidence/merkle.h"
#include "evidence/records.h"

namespace govesb::evidence {

namespace json = boost::json;

namespace {

constexpr std::string_view kFormat = "govesb-evidence-proof/1";

}  // namespace

Result<std::string> BuildProof(store::Database& db, std::string_view request_id,
                               const crypto::KeySet& bus_keys, const std::string& archive_dir,
                               std::optional<int64_t> committed_through) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction read,
                          store::Transaction::Begin(db, store::TransactionMode::kDeferred));
  GOVESB_ASSIGN_OR_RETURN(int64_t through, ReadLimit(db, committed_through));
  // The exchange's records: in the live log by its index, in archives by reading them.
  std::vector<std::pair<int64_t, std::string>> found;
  GOVESB_ASSIGN_OR_RETURN(std::vector<ArchiveInfo> archives, ListArchives(db));
  for (const ArchiveInfo& a : archives) {
    GOVESB_RETURN_IF_ERROR(ForEachArchiveRecord(
        archive_dir + "/" + a.file, nullptr, [&](const StoredRecord& r) -> Result<bool> {
          if (r.text.find(request_id) != std::string_view::npos &&
              CanonicalMember(r.text, "requestId") == std::optional<std::string>(request_id)) {
            found.emplace_back(r.seq, std::string(r.text));
          }
          return true;
        }));
  }
  {
    GOVESB_ASSIGN_OR_RETURN(auto entries, FindLiveExchange(db, request_id, through));
    for (const auto& [first, last] : entries) {
      GOVESB_RETURN_IF_ERROR(ForEachLiveRecord(db, first, last, [&](const StoredRecord& r) {
        if (CanonicalMember(r.text, "requestId") == std::optional<std::string>(request_id)) {
          found.emplace_back(r.seq, std::string(r.text));
        }
        return true;
      }));
    }
  }
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement covering,
      db.Prepare("SELECT id, first_seq, last_seq, body, signature FROM evidence_checkpoints"
                 " WHERE first_seq <= ?1 AND last_seq >= ?1"));

  std::vector<ProofRecord> out_records;
  std::map<int64_t, ProofCheckpoint> checkpoints;
  std::map<int64_t, std::vector<Hash>> tree_of;  // checkpoint id -> record hashes
  for (const auto& [seq, text] : found) {
    GOVESB_RETURN_IF_ERROR(covering.Reset());
    GOVESB_RETURN_IF_ERROR(covering.Bind(1, seq));
    GOVESB_ASSIGN_OR_RETURN(bool sealed, covering.Step());
    if (!sealed) {
      return FailedPrecondition("record " + std::to_string(seq) + " of exchange " +
                                std::string(request_id) +
                                " is not sealed by a checkpoint yet; try again after the next "
                                "one (govesb serve --checkpoint-interval)");
    }
    int64_t id = covering.ColumnInt64(0);
    int64_t first = covering.ColumnInt64(1);
    int64_t last = covering.ColumnInt64(2);
    if (!tree_of.contains(id)) {
      std::vector<Hash> tree;
      GOVESB_RETURN_IF_ERROR(
          ForEachRecord(db, archive_dir, first, last, [&](const StoredRecord& r) {
            tree.push_back(crypto::Sha256(r.text));
            return true;
          }));
      tree_of[id] = std::move(tree);
      checkpoints[id] = ProofCheckpoint{"", id, covering.ColumnText(3), covering.ColumnText(4)};
    }
    GOVESB_ASSIGN_OR_RETURN(std::vector<Hash> path,
                            InclusionProof(tree_of[id], static_cast<uint64_t>(seq - first)));
    out_records.push_back(ProofRecord{"", seq, text, id, seq - first, std::move(path)});
  }
  if (out_records.empty()) {
    return NotFound("the evidence log has no record of exchange " + std::string(request_id));
  }
  std::vector<ProofCheckpoint> cps;
  for (auto& [id, c] : checkpoints) cps.push_back(std::move(c));
  return WriteProof(request_id, bus_keys, out_records, cps);
}

std::string WriteProof(std::string_view request_id, const crypto::KeySet& bus_keys,
                       const std::vector<ProofRecord>& records,
                       const std::vector<ProofCheckpoint>& checkpoints) {
  json::array out_records;
  for (const ProofRecord& pr : records) {
    json::array hex_path;
    for (const Hash& h : pr.path) hex_path.emplace_back(HashHex(h));
    json::object r;
    r["seq"] = pr.seq;
    r["record"] = pr.text;
    r["checkpoint"] = pr.checkpoint;
    r["index"] = pr.index;
    r["path"] = std::move(hex_path);
    if (!pr.node.empty()) r["node"] = pr.node;
    out_records.push_back(std::move(r));
  }
  json::array cps;
  for (const ProofCheckpoint& pc : checkpoints) {
    json::object c;
    c["id"] = pc.id;
    c["body"] = pc.body;
    c["signature"] = pc.signature;
    if (!pc.node.empty()) c["node"] = pc.node;
    cps.push_back(std::move(c));
  }
  // The keys that signed its checkpoints (after a key rotation, a proof may span two).
  std::vector<std::string> signed_by;
  for (const ProofCheckpoint& pc : checkpoints) {
    const crypto::PublicKey* key =
        bus_keys.VerifyBase64(pc.body, pc.signature, CheckpointKeyId(pc.body));
    const std::string spki = (key != nullptr ? *key : bus_keys.first()).SpkiBase64();
    if (std::find(signed_by.begin(), signed_by.end(), spki) == signed_by.end()) {
      signed_by.push_back(spki);
    }
  }
  if (signed_by.empty()) signed_by.push_back(bus_keys.first().SpkiBase64());
  json::object proof;
  proof["format"] = kFormat;
  proof["requestId"] = std::string(request_id);
  proof["busPublicKey"] = signed_by.front();
  if (signed_by.size() > 1) {
    json::array all;
    for (const std::string& k : signed_by) all.emplace_back(k);
    proof["busPublicKeys"] = std::move(all);
  }
  proof["records"] = std::move(out_records);
  proof["checkpoints"] = std::move(cps);
  return json::serialize(proof);
}

Result<ProofReport> CheckProof(std::string_view proof_json, const crypto::PublicKey& expected_key) {
  return CheckProof(proof_json, std::optional<crypto::KeySet>(expected_key));
}

Result<ProofReport> CheckProof(std::string_view proof_json,
                               const std::optional<crypto::KeySet>& expected_keys) {
  auto bad = [](std::string why) { return InvalidArgument("the proof does not hold: " + why); };
  boost::system::error_code ec;
  json::value v = json::parse(proof_json, ec);
  if (ec || !v.is_object()) return InvalidArgument("not a proof: the file is not a JSON object");
  const json::object& proof = v.as_object();
  auto str = [](const json::object& o, std::string_view k) -> std::optional<std::string> {
    const json::value* m = o.if_contains(k);
    if (m == nullptr || !m->is_string()) return std::nullopt;
    return std::string(m->as_string());
  };
  auto num = [](const json::object& o, std::string_view k) -> std::optional<int64_t> {
    const json::value* m = o.if_contains(k);
    if (m == nullptr || !m->is_int64()) return std::nullopt;
    return m->as_int64();
  };
  if (str(proof, "format") != std::optional<std::string>(std::string(kFormat))) {
    return InvalidArgument("not a proof of this format (expected " + std::string(kFormat) + ")");
  }
  ProofReport report;
  report.request_id = str(proof, "requestId").value_or("");
  std::optional<std::string> key_text = str(proof, "busPublicKey");
  if (!key_text.has_value()) return bad("it names no bus public key");
  std::optional<crypto::KeySet> keys = expected_keys;
  if (!keys.has_value()) {
    std::vector<std::string> texts{*key_text};
    if (const json::value* more = proof.if_contains("busPublicKeys")) {
      if (!more->is_array()) return bad("its bus public keys are unreadable");
      for (const json::value& k : more->as_array()) {
        if (!k.is_string()) return bad("its bus public keys are unreadable");
        texts.emplace_back(k.as_string());
      }
    }
    std::vector<crypto::PublicKey> parsed_keys;
    for (const std::string& text : texts) {
      auto parsed = crypto::PublicKey::FromText(text);
      if (!parsed.ok()) return bad("its bus public key is unreadable");
      parsed_keys.push_back(std::move(*parsed));
    }
    keys.emplace(std::move(parsed_keys));
  }
  const std::string whose = expected_keys.has_value() ? (expected_keys->keys().size() > 1
                                                             ? " any of the bus keys you gave"
                                                             : " the bus key you gave")
                                                      : " the bus key named in the proof";

  // Checkpoints: signed by the key; their ranges and roots.
  struct Sealed {
    int64_t first = 0;
    int64_t last = 0;
    Hash root{};
  };
  std::map<std::pair<std::string, int64_t>, Sealed> sealed;  // by node and id
  const json::value* cps = proof.if_contains("checkpoints");
  if (cps == nullptr || !cps->is_array()) return bad("it has no checkpoints");
  for (const json::value& cv : cps->as_array()) {
    if (!cv.is_object()) return bad("a checkpoint is not an object");
    const json::object& c = cv.as_object();
    auto id = num(c, "id");
    auto body = str(c, "body");
    auto signature = str(c, "signature");
    if (!id || !body || !signature) return bad("a checkpoint lacks id, body or signature");
    // The node a cluster's checkpoint seals a chain of: named beside it and in its signed body.
    const std::string node = str(c, "node").value_or("");
    const crypto::PublicKey* key = keys->VerifyBase64(*body, *signature, CheckpointKeyId(*body));
    if (key == nullptr) {
      return bad("checkpoint " + std::to_string(*id) + " is not signed by" + whose);
    }
    const std::string spki = key->SpkiBase64();
    if (report.bus_public_key.empty()) report.bus_public_key = spki;
    if (std::find(report.bus_public_keys.begin(), report.bus_public_keys.end(), spki) ==
        report.bus_public_keys.end()) {
      report.bus_public_keys.push_back(spki);
    }
    auto first = CanonicalInt(*body, "firstSeq");
    auto last = CanonicalInt(*body, "lastSeq");
    auto root = CanonicalMember(*body, "root");
    auto root_hash = root ? HashFromHex(*root) : std::nullopt;
    if (CanonicalInt(*body, "checkpoint") != id || !first || !last || !root_hash ||
        *last < *first) {
      return bad("checkpoint " + std::to_string(*id) + " has an unreadable body");
    }
    if (CanonicalMember(*body, "node").value_or("") != node) {
      return bad("checkpoint " + std::to_string(*id) +
                 " is filed under another node than it seals");
    }
    sealed[{node, *id}] = Sealed{*first, *last, *root_hash};
    report.checkpoints.push_back(*id);
    report.checkpoint_nodes.push_back(node);
  }

  // Records: each belongs to the exchange and leads, by its path, to its checkpoint's root.
  const json::value* records = proof.if_contains("records");
  if (records == nullptr || !records->is_array() || records->as_array().empty()) {
    return bad("it has no records");
  }
  for (const json::value& rv : records->as_array()) {
    if (!rv.is_object()) return bad("a record is not an object");
    const json::object& r = rv.as_object();
    auto seq = num(r, "seq");
    auto text = str(r, "record");
    auto checkpoint = num(r, "checkpoint");
    const json::value* path = r.if_contains("path");
    if (!seq || !text || !checkpoint || path == nullptr || !path->is_array()) {
      return bad("a record lacks seq, record, checkpoint or path");
    }
    const std::string node = str(r, "node").value_or("");
    std::string where = "record " + std::to_string(*seq) + (node.empty() ? "" : " of node " + node);
    if (CanonicalInt(*text, "seq") != seq) return bad(where + " carries another number");
    if (CanonicalMember(*text, "requestId") != std::optional<std::string>(report.request_id)) {
      return bad(where + " belongs to another exchange");
    }
    auto it = sealed.find({node, *checkpoint});
    if (it == sealed.end()) return bad(where + " names a checkpoint the proof lacks");
    const Sealed& s = it->second;
    if (*seq < s.first || *seq > s.last) return bad(where + " is outside its checkpoint");
    if (num(r, "index") != std::optional<int64_t>(*seq - s.first)) {
      return bad(where + " has the wrong position in its checkpoint");
    }
    std::vector<Hash> hashes;
    for (const json::value& h : path->as_array()) {
      auto hash = h.is_string() ? HashFromHex(std::string(h.as_string())) : std::nullopt;
      if (!hash.has_value()) return bad(where + " has an unreadable path");
      hashes.push_back(*hash);
    }
    if (!VerifyInclusion(crypto::Sha256(*text), static_cast<uint64_t>(*seq - s.first),
                         static_cast<uint64_t>(s.last - s.first + 1), hashes, s.root)) {
      return bad(where + " is not the one checkpoint " + std::to_string(*checkpoint) +
                 " sealed: its content or its path was altered");
    }
    report.records.push_back(*text);
  }
  return report;
}

}  // namespace govesb::evidence
