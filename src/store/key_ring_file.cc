#include "store/key_ring_file.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <optional>
#include <vector>

namespace govesb::store {
namespace {

namespace json = boost::json;

constexpr std::string_view kFormat = "govesb-esb-keys";
// Version 2: a key may have lost its private part ("private_key": null). A ring where every key
// has it is still written as version 1, which a govesb from before version 2 reads too.
constexpr int64_t kVersion = 2;

json::value OptionalTime(const std::optional<int64_t>& ms) {
  return ms.has_value() ? json::value(*ms) : json::value(nullptr);
}

}  // namespace

std::string KeyRingText(const crypto::KeyRing& ring) {
  json::array keys;
  int64_t version = 1;
  for (const crypto::RingKey& k : ring.keys()) {
    json::object o;
    o["id"] = k.id();
    o["curve"] = crypto::CurveName(k.public_key().curve());
    o["public_key"] = k.public_key().SpkiBase64();
    if (k.has_private_key()) {
      o["private_key"] = k.private_key().Pkcs8Base64();
    } else {
      o["private_key"] = nullptr;
      version = 2;
    }
    o["created_at"] = k.created_at_ms;
    o["valid_from"] = OptionalTime(k.valid_from_ms);
    o["not_after"] = OptionalTime(k.not_after_ms);
    o["overlap_ms"] = k.overlap_ms;
    keys.push_back(std::move(o));
  }
  json::object out;
  out["format"] = kFormat;
  out["version"] = version;
  out["keys"] = std::move(keys);
  return json::serialize(out) + "\n";
}

Result<crypto::KeyRing> ParseKeyRingText(std::string_view text, std::string_view where) {
  auto bad = [&](const std::string& why) {
    return FailedPrecondition(std::string(where) + " is not a readable key ring (" + why +
                              "); restore it from a backup");
  };
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return bad("not a JSON object");
  const json::object& o = v.as_object();
  const json::value* format = o.if_contains("format");
  if (format == nullptr || !format->is_string() || format->as_string() != kFormat) {
    return bad("its format is not " + std::string(kFormat));
  }
  const json::value* version = o.if_contains("version");
  if (version == nullptr || !version->is_int64()) return bad("it has no version");
  if (version->as_int64() > kVersion) {
    return FailedPrecondition(std::string(where) + " is a key ring of version " +
                              std::to_string(version->as_int64()) +
                              ", newer than this govesb knows (" + std::to_string(kVersion) +
                              "): use a govesb at least as new as the one that wrote it");
  }
  const json::value* keys = o.if_contains("keys");
  if (keys == nullptr || !keys->is_array()) return bad("it has no keys");
  std::vector<crypto::RingKey> ring;
  for (const json::value& kv : keys->as_array()) {
    const std::string n = "key " + std::to_string(ring.size() + 1);
    if (!kv.is_object()) return bad(n + " is not an object");
    const json::object& k = kv.as_object();
    auto str = [&](std::string_view name) -> std::optional<std::string> {
      const json::value* m = k.if_contains(name);
      if (m == nullptr || !m->is_string()) return std::nullopt;
      return std::string(m->as_string());
    };
    // A time: a number; `optional` ones may be null. nullopt when missing or of another kind.
    auto time = [&](std::string_view name, bool optional) -> std::optional<std::optional<int64_t>> {
      const json::value* m = k.if_contains(name);
      if (m != nullptr && m->is_int64()) return std::optional<int64_t>(m->as_int64());
      if (optional && m != nullptr && m->is_null()) return std::optional<int64_t>();
      return std::nullopt;
    };
    auto created = time("created_at", false);
    auto valid_from = time("valid_from", true);
    auto not_after = time("not_after", true);
    auto overlap = time("overlap_ms", false);
    if (!created || !valid_from || !not_after || !overlap) {
      return bad(n + " lacks created_at, valid_from, not_after or overlap_ms");
    }
    // Version 2: null where the private part was erased; the key stands on its public part.
    const json::value* private_member = k.if_contains("private_key");
    const bool erased =
        version->as_int64() >= 2 && private_member != nullptr && private_member->is_null();
    std::optional<crypto::RingKey> key;
    if (erased) {
      const std::optional<std::string> public_text = str("public_key");
      if (!public_text.has_value()) return bad(n + " has neither a private nor a public key");
      auto public_key = crypto::PublicKey::FromText(*public_text);
      if (!public_key.ok()) return bad(n + ": " + public_key.status().message());
      key.emplace(std::move(public_key).value(), **created);
    } else {
      const std::optional<std::string> private_text = str("private_key");
      if (!private_text.has_value()) return bad(n + " has no private key");
      auto private_key = crypto::PrivateKey::FromText(*private_text);
      if (!private_key.ok()) return bad(n + ": " + private_key.status().message());
      key.emplace(std::move(private_key).value(), **created);
    }
    if (str("id") != std::optional<std::string>(key->id()) ||
        str("public_key") != std::optional<std::string>(key->public_key().SpkiBase64())) {
      return bad(n + (erased ? ": its id does not belong to its public key"
                             : ": its id or public key does not belong to its private key"));
    }
    key->valid_from_ms = *valid_from;
    key->not_after_ms = *not_after;
    key->overlap_ms = **overlap;
    ring.push_back(std::move(*key));
  }
  auto parsed = crypto::KeyRing::FromKeys(std::move(ring));
  if (!parsed.ok()) return bad(parsed.status().message());
  return parsed;
}

}  // namespace govesb::store
