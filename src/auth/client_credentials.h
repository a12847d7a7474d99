#pragma once

#include <array>
#include <atomic>
#include <chrono>
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

  // The answer to wrong credentials, whatever was wrong (unknown id or wrong secret).
  static Status Refusal();
  // How long a full check of a known client id takes here (a moving average of the checks
  // made, about 80 ms before the first): the token endpoint answers an unknown client id after
  // this long without hashing anything, so that unknown ids cost no CPU and are not told apart
  // from known ones by the time of their answer.
  std::chrono::microseconds TypicalCheckTime() const {
    return std::chrono::microseconds(typical_check_us_.load(std::memory_order_relaxed));
  }

 private:
  using Mac = std::array<uint8_t, 32>;
  Mac KeyedMac(std::string_view client_id, std::string_view secret) const;

  std::string cache_key_;  // random per process
  std::atomic<int64_t> typical_check_us_{80'000};
  std::mutex mu_;
  struct Entry {
    int64_t credential_version;
    Mac mac;
  };
  std::unordered_map<std::string, Entry> verified_;
};

}  // namespace govesb::auth
