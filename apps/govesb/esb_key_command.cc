// `govesb admin esb-key`: the bus's signing keys (docs/key-rotation.md). Lists them; `rotate`
// stages a new key (published by GET /esb-key, not signing yet), `activate` makes it sign (now
// or at a set time) and starts the overlap of the key it replaces, `discard` drops a staged key
// that never signed, `erase-retired` erases the private part of the retired keys (what they
// signed still verifies; nobody who later reads the ring can sign as them). The key ring (a
// data directory's file, or a cluster's sealed row) is rewritten atomically; a running bus
// (every node of a cluster) reads it again within a second.
// Each change is recorded as an admin action (and so reaches the evidence log).
#include "esb_key_command.h"

#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <chrono>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "admin/bus.h"
#include "admin_render.h"
#include "commands.h"
#include "crypto/key_ring.h"

namespace govesb::apps {
namespace {

namespace json = boost::json;

constexpr int64_t kDayMs = 86'400'000;
constexpr char kDefaultOverlap[] = "30d";

[[noreturn]] void Fail(const Status& status) {
  std::cerr << "error: " << status.message() << "\n";
  throw CLI::RuntimeError(kExitFailure);
}

template <typename T>
T Unwrap(Result<T> result) {
  if (!result.ok()) Fail(result.status());
  return std::move(result).value();
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "30d", "12h", "90m", "45s", "0": milliseconds.
int64_t ParseOverlap(const std::string& text) {
  int64_t n = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, n);
  const std::string_view unit(ptr, static_cast<size_t>(end - ptr));
  int64_t per = -1;
  if (unit == "d") per = kDayMs;
  if (unit == "h") per = 3'600'000;
  if (unit == "m") per = 60'000;
  if (unit == "s") per = 1000;
  if (unit.empty() && n == 0) per = 0;
  if (ec != std::errc() || n < 0 || per < 0 || n > 3650 * kDayMs / std::max<int64_t>(per, 1)) {
    Fail(InvalidArgument("--overlap takes a duration such as 30d, 12h, 90m or 45s (or 0), not '" +
                         text + "'"));
  }
  return n * per;
}

// "now", a UTC time like 2026-12-01T00:00:00Z, a date (midnight UTC), or ms since 1970.
int64_t ParseAt(const std::string& text, int64_t now) {
  if (text == "now") return now;
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    int64_t ms = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec == std::errc() && end == text.data() + text.size()) return ms;
  }
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) {
    tm = std::tm{};
    end = strptime(text.c_str(), "%Y-%m-%d", &tm);
  }
  if (end == nullptr || (*end != '\0' && std::string_view(end) != "Z")) {
    Fail(InvalidArgument(
        "--at takes now, a UTC time like 2026-12-01T00:00:00Z, a date like 2026-12-01, or "
        "milliseconds since 1970"));
  }
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

json::array KeysJson(const crypto::KeyRing& ring, int64_t now, bool all) {
  json::array keys;
  for (const admin::BusKeyInfo& k : admin::DescribeKeys(ring, now, all)) {
    keys.push_back(admin::ToJson(k));
  }
  return keys;
}

// The human form of the keys: a table, the ids shortened (--json has them whole).
void PrintKeyTable(const json::array& keys) {
  json::array rows;
  for (const json::value& k : keys) {
    json::object row = k.as_object();
    row["key_id"] = std::string(row["key_id"].as_string()).substr(0, 16);
    rows.push_back(std::move(row));
  }
  PrintList(
      rows,
      {"key_id", "status", "curve", "created_at", "valid_from", "not_after", "private_key_erased"},
      false);
}

json::object KeyJson(const crypto::KeyRing& ring, const std::string& id, int64_t now) {
  for (const admin::BusKeyInfo& k : admin::DescribeKeys(ring, now, true)) {
    if (k.key_id == id) return admin::ToJson(k);
  }
  return {};
}

// Records a change of the ring as an admin action. The ring is already stored: a failure here
// is reported, not undone.
void RecordKeyAction(const EsbKeyWhere& where, std::string_view action, const std::string& id,
                     json::value before, json::value after) {
  const std::string object = "esb-key:" + id;
  Status recorded = where.record(admin::Change{.action = action,
                                               .object = object,
                                               .object_institution = "",
                                               .before = std::move(before),
                                               .after = std::move(after)});
  if (!recorded.ok()) {
    std::cerr << "warning: the key ring was changed, but the admin action was not recorded: "
              << recorded.message() << "\n";
  }
}

// What rotate, activate and discard print: the key they changed and the keys now.
void PrintChange(const EsbKeyWhere& where, const crypto::KeyRing& ring, const std::string& id,
                 int64_t now, const std::string& note) {
  json::object out;
  out["key"] = KeyJson(ring, id, now);
  out["keys"] = KeysJson(ring, now, false);
  if (where.json) {
    std::cout << json::serialize(out) << "\n";
  } else {
    PrintObject(out["key"].as_object(), false);
    std::cout << "\n";
    PrintKeyTable(out["keys"].as_array());
  }
  std::cerr << "note: " << note << "\n";
}

struct ListArgs {
  bool all = false;
  bool current = false;
  bool staged = false;
};

void RunList(const EsbKeyWhere& where, const ListArgs& args) {
  const int64_t now = NowMs();
  const crypto::KeyRing ring = where.read();
  const crypto::PublicKey key = ring.Signing(now).public_key();
  if (args.current) {
    std::cout << key.SpkiBase64() << "\n";
    return;
  }
  if (args.staged) {
    const crypto::RingKey* staged = ring.Staged(now);
    if (staged == nullptr) Fail(NotFound("no key is staged (esb-key rotate stages one)"));
    std::cout << staged->public_key().SpkiBase64() << "\n";
    return;
  }
  json::object out;
  out["public_key"] = key.SpkiBase64();
  out["esb_public_key"] = key.SpkiBase64();  // the name profiles and the SDK use
  out["curve"] = crypto::CurveName(key.curve());
  out["key_id"] = crypto::KeyId(key);
  json::array keys = KeysJson(ring, now, args.all);
  if (where.json) {
    out["keys"] = std::move(keys);
    std::cout << json::serialize(out) << "\n";
    return;
  }
  PrintObject(out, false);
  std::cout << "\n";
  PrintKeyTable(keys);
}

struct RotateArgs {
  std::string curve;  // "": the current key's
  std::string overlap = kDefaultOverlap;
  bool now = false;
  std::string at;
};

void RunRotate(const EsbKeyWhere& where, const RotateArgs& args) {
  if (args.now && !args.at.empty()) Fail(InvalidArgument("give --now or --at, not both"));
  const int64_t overlap = ParseOverlap(args.overlap);
  const int64_t now = NowMs();
  const std::optional<int64_t> at =
      args.now ? std::optional<int64_t>(now)
               : (args.at.empty() ? std::nullopt : std::optional<int64_t>(ParseAt(args.at, now)));
  std::optional<crypto::Curve> curve;
  if (!args.curve.empty()) curve = Unwrap(crypto::ParseCurveName(args.curve));
  std::string id;
  crypto::KeyRing ring =
      where.update([&](const crypto::KeyRing& before) -> Result<crypto::KeyRing> {
        const crypto::Curve c = curve.value_or(before.Signing(now).public_key().curve());
        GOVESB_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::Generate(c));
        id = crypto::KeyId(key.public_key());
        GOVESB_ASSIGN_OR_RETURN(crypto::KeyRing staged, before.Stage(std::move(key), now, overlap));
        if (!at.has_value()) return staged;
        return staged.Activate(now, *at);
      });
  RecordKeyAction(where, "esb-key.rotate", id, nullptr, KeyJson(ring, id, now));
  std::string note;
  if (!at.has_value()) {
    note =
        "the new key is staged: published (GET /esb-key, esb-key --staged) but not signing. "
        "Give it to the connected systems, then run `govesb admin esb-key activate [--at TIME]`";
  } else if (*at <= now) {
    note = "the new key signs from now on (" + where.picked_up_by +
           "); the previous key stays published until " + IsoTime(now + overlap);
  } else {
    note = "the new key signs from " + IsoTime(*at) + "; until then the current key does";
  }
  PrintChange(where, ring, id, now, note);
}

struct ActivateArgs {
  std::string at = "now";
  std::string overlap;  // "": the one given to rotate
};

void RunActivate(const EsbKeyWhere& where, const ActivateArgs& args) {
  const int64_t now = NowMs();
  const int64_t at = ParseAt(args.at, now);
  std::optional<int64_t> overlap;
  if (!args.overlap.empty()) overlap = ParseOverlap(args.overlap);
  std::string id;
  crypto::KeyRing ring = where.update([&](const crypto::KeyRing& before) {
    if (const crypto::RingKey* staged = before.Staged(now)) id = staged->id();
    return before.Activate(now, at, overlap);
  });
  RecordKeyAction(where, "esb-key.activate", id, nullptr, KeyJson(ring, id, now));
  const crypto::RingKey& activated = *ring.Find(id);
  const std::string until = IsoTime(*ring.keys()[ring.keys().size() - 2].not_after_ms);
  const std::string when = *activated.valid_from_ms <= now
                               ? " signs from now on (" + where.picked_up_by + ")"
                               : " signs from " + IsoTime(*activated.valid_from_ms);
  PrintChange(
      where, ring, id, now,
      "key " + id.substr(0, 16) + when + "; the key it replaces stays published until " + until);
}

void RunDiscard(const EsbKeyWhere& where) {
  const int64_t now = NowMs();
  std::string id;
  json::object was;
  crypto::KeyRing ring = where.update([&](const crypto::KeyRing& before) {
    if (const crypto::RingKey* staged = before.Staged(now)) {
      id = staged->id();
      was = KeyJson(before, id, now);
    }
    return before.Discard(now);
  });
  RecordKeyAction(where, "esb-key.discard", id, was, nullptr);
  json::object out;
  out["discarded"] = id;
  out["keys"] = KeysJson(ring, now, false);
  if (where.json) {
    std::cout << json::serialize(out) << "\n";
  } else {
    std::cout << "discarded: " << id << "\n\n";
    PrintKeyTable(out["keys"].as_array());
  }
}

void RunEraseRetired(const EsbKeyWhere& where) {
  const int64_t now = NowMs();
  std::vector<std::string> ids;
  std::vector<json::object> before_json;
  crypto::KeyRing ring = where.read();
  // Nothing to erase: nothing is written or recorded (a scheduled run of this is harmless).
  if (!ring.RetiredWithPrivateKeys(now).empty()) {
    ring = where.update([&](const crypto::KeyRing& before) -> Result<crypto::KeyRing> {
      ids = before.RetiredWithPrivateKeys(now);
      before_json.clear();
      for (const std::string& id : ids) before_json.push_back(KeyJson(before, id, now));
      return before.EraseRetiredPrivateKeys(now);
    });
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    RecordKeyAction(where, "esb-key.erase-private", ids[i], before_json[i],
                    KeyJson(ring, ids[i], now));
  }
  json::object out;
  json::array erased;
  for (const std::string& id : ids) erased.push_back(json::value(id));
  out["erased"] = std::move(erased);
  out["keys"] = KeysJson(ring, now, true);
  if (where.json) {
    std::cout << json::serialize(out) << "\n";
    return;
  }
  if (ids.empty()) {
    std::cout << "erased: none (no retired key holds its private part)\n\n";
  } else {
    for (const std::string& id : ids) std::cout << "erased the private part of: " << id << "\n";
    std::cout << "\n";
  }
  PrintKeyTable(out["keys"].as_array());
}

}  // namespace

void AddEsbKeyCommand(CLI::App& admin, std::function<EsbKeyWhere()> where) {
  CLI::App* cmd = admin.add_subcommand(
      "esb-key",
      "The bus's signing keys: list them (the current public key is the one to give to "
      "connected systems), rotate, activate, discard, erase-retired (docs/key-rotation.md)");
  auto list = std::make_shared<ListArgs>();
  cmd->add_flag("--all", list->all, "Also list retired keys (kept to verify old evidence)");
  cmd->add_flag("--current", list->current,
                "Print only the current public key (base64 SPKI), one line, for scripts");
  cmd->add_flag("--staged", list->staged,
                "Print only the staged key's public key, one line (to give to connected systems "
                "before it signs)");
  cmd->callback([cmd, where, list] {
    if (!cmd->get_subcommands().empty()) return;  // a subcommand ran
    RunList(where(), *list);
  });

  auto rotate = std::make_shared<RotateArgs>();
  CLI::App* r = cmd->add_subcommand(
      "rotate",
      "Make a new signing key. Staged by default: published, not signing until `activate`; "
      "--now or --at activates it at once or at a set time");
  r->add_option("--curve", rotate->curve,
                "secp256k1, prime256v1 or secp521r1 (default: the current key's)");
  r->add_option("--overlap", rotate->overlap,
                "How long the replaced key stays published once the new one signs (30d, 12h, "
                "90m, 45s, 0)")
      ->capture_default_str();
  r->add_flag("--now", rotate->now, "Sign with the new key at once (e.g. the old one leaked)");
  r->add_option("--at", rotate->at, "Sign with the new key from this UTC time");
  r->callback([where, rotate] { RunRotate(where(), *rotate); });

  auto activate = std::make_shared<ActivateArgs>();
  CLI::App* a = cmd->add_subcommand(
      "activate", "The staged key signs from now (or --at a UTC time still to come)");
  a->add_option("--at", activate->at, "now, or a UTC time like 2026-12-01T00:00:00Z")
      ->capture_default_str();
  a->add_option("--overlap", activate->overlap,
                "How long the replaced key stays published (default: as given to rotate)");
  a->callback([where, activate] { RunActivate(where(), *activate); });

  CLI::App* d = cmd->add_subcommand("discard", "Drop the staged key (it never signed anything)");
  d->callback([where] { RunDiscard(where()); });

  CLI::App* e = cmd->add_subcommand(
      "erase-retired",
      "Erase the private part of every retired key: what it signed still verifies, and nobody "
      "who later reads the key ring (a backup, a stolen disk) can sign as it. Cannot be undone");
  e->callback([where] { RunEraseRetired(where()); });
}

}  // namespace govesb::apps
