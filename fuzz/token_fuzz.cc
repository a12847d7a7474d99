// Bearer tokens (src/auth/token.h) against a small registry snapshot: one enabled system and
// one disabled one.
//
// Each input is tried twice: as a token as received (a forged MAC: it must never pass), and
// as a token payload given a valid MAC with the fuzz secret, so that the payload's parser and
// the expiry, system and credential checks behind the MAC are reached. In the payload,
// "{client}" and "{disabled}" stand for the two systems' client ids (make_seeds writes them).

#include <memory>
#include <string>

#include "auth/token.h"
#include "base/encoding.h"
#include "crypto/primitives.h"
#include "fuzz_common.h"
#include "registry/registry.h"
#include "registry/registry_testing.h"
#include "registry/snapshot.h"

namespace auth = govesb::auth;
namespace registry = govesb::registry;
using govesb::fuzz::AsText;

namespace {

struct World {
  govesb::TempDir dir{"govesb-fuzz"};
  govesb::SimulatedClock clock{govesb::fuzz::kTokenNowSeconds * 1000};
  std::unique_ptr<govesb::store::Database> db;
  std::shared_ptr<const registry::Snapshot> snapshot;
  std::string client;
  std::string disabled;
  std::unique_ptr<auth::TokenService> tokens;

  World() {
    db = registry::testing::OpenMigrated(dir.path() + "/govesb.db");
    registry::Registry reg(*db, registry::testing::TestOptions(clock));
    GOVESB_CHECK(reg.AddInstitution("EGA", "e-Government Authority").ok());
    auto a = reg.AddSystem("EGA", "Portal", registry::testing::NewPublicKey(),
                           "https://portal.example/esb");
    auto b =
        reg.AddSystem("EGA", "Old", registry::testing::NewPublicKey(), "https://old.example/esb");
    GOVESB_CHECK(a.ok() && b.ok());
    client = a->system.client_id;
    disabled = b->system.client_id;
    GOVESB_CHECK(reg.DisableSystem(disabled).ok());
    snapshot = *registry::Snapshot::Load(*db);
    tokens = std::make_unique<auth::TokenService>(std::string(govesb::fuzz::kTokenSecret), clock,
                                                  std::chrono::seconds(3600));
  }
};

World& TheWorld() {
  static World* world = new World();  // never destroyed: fuzzers exit without cleanup
  return *world;
}

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = TheWorld();
  std::string_view text = AsText(data, size);

  // As received: nobody without the secret makes a token that passes.
  GOVESB_FUZZ_CHECK(!w.tokens->Authenticate(text, *w.snapshot).ok());

  // From an Authorization header: the token is a part of the header.
  std::string_view from_header = auth::TokenFromAuthorization(text);
  GOVESB_FUZZ_CHECK(from_header.empty() ||
                    (from_header.data() >= text.data() &&
                     from_header.data() + from_header.size() <= text.data() + text.size()));

  // As a payload with a valid MAC.
  std::string payload(text);
  ReplaceAll(payload, "{client}", w.client);
  ReplaceAll(payload, "{disabled}", w.disabled);
  std::string encoded = govesb::Base64UrlEncode(payload);
  auto mac = govesb::crypto::HmacSha256(govesb::fuzz::kTokenSecret, encoded);
  std::string token =
      encoded + "." + govesb::Base64UrlEncode(std::span<const uint8_t>(mac.data(), mac.size()));
  for (int round = 0; round < 2; ++round) {  // the second time from the verified-MAC cache
    auto who = w.tokens->Authenticate(token, *w.snapshot);
    if (who.ok()) {
      // Only the enabled system, with its credential version, before expiry.
      GOVESB_FUZZ_CHECK((*who)->client_id == w.client);
      GOVESB_FUZZ_CHECK((*who)->enabled);
      GOVESB_FUZZ_CHECK(payload.starts_with("v1|" + w.client + "|"));
    }
  }
  return 0;
}
