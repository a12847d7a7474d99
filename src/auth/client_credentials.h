#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/result.h"
#include "registry/snapshot.h"

namespace govesb::auth {

// Checks client_id/client_secret against the registry's scrypt hashes. The slow hash costs
// tens of milliseconds, and some GovESB clients fetch a token before every call, so a
// successful check is remembered in memory (a keyed MAC of the secret, never the secret,
// tied to the system's credential_version) and repeated requests are answered by TryCached
// without the KDF. Thread-safe.
class ClientAuthenticator {
 public:
  ClientAuthenticator();

  // The answer when it can be given without the slow hash; nullopt otherwise.
  std::optional<Result<const registry::System*>> TryCached(const registry::Snapshot& snapshot,
                                                           std::string_view client_id,
                                                           std::string_view secret);
  // The full check (slow: run it off the I/O threads). Remembers a success.
  Result<const registry::System*> Verify(const registry::Snapshot& snapshot,
                                         std::string_view client_id, std::string_view secret);

 private:
  using Mac = std::array<uint8_t, 32>;
  Mac KeyedMac(std::string_view client_id, std::string_view secret) const;

  std::string cache_key_;  // random per process
  std::mutex mu_;
  struct Entry {
    int64_t credential_version;
    Mac mac;
  };
  std::unordered_map<std::string, Entry> verified_;
};

}  // namespace govesb::auth
