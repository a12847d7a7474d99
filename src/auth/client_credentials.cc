#include "auth/client_credentials.h"

#include "crypto/primitives.h"

namespace govesb::auth {
namespace {

constexpr size_t kMaxCacheEntries = 100'000;

Status BadCredentials() {
  return Unauthenticated("client authentication failed: unknown client_id or wrong client_secret");
}

}  // namespace

Status ClientAuthenticator::Refusal() { return BadCredentials(); }

ClientAuthenticator::ClientAuthenticator() : cache_key_(crypto::RandomBytes(32)) {}

ClientAuthenticator::Mac ClientAuthenticator::KeyedMac(std::string_view client_id,
                                                       std::string_view secret) const {
  std::string msg;
  msg.reserve(client_id.size() + secret.size() + 1);
  msg += client_id;
  msg.push_back('\0');
  msg += secret;
  return crypto::HmacSha256(cache_key_, msg);
}

std::optional<Result<const registry::System*>> ClientAuthenticator::TryCached(
    const registry::Snapshot& snapshot, std::string_view client_id, std::string_view secret) {
  if (client_id.empty() || secret.empty()) return Result<const registry::System*>(BadCredentials());
  const registry::System* system = snapshot.FindSystem(client_id);
  if (system == nullptr) return std::nullopt;  // the slow path equalises timing
  Mac mac = KeyedMac(client_id, secret);
  std::lock_guard lock(mu_);
  auto it = verified_.find(system->client_id);
  if (it == verified_.end() || it->second.credential_version != system->credential_version) {
    return std::nullopt;
  }
  std::string_view a(reinterpret_cast<const char*>(mac.data()), mac.size());
  std::string_view b(reinterpret_cast<const char*>(it->second.mac.data()), it->second.mac.size());
  if (!crypto::ConstantTimeEquals(a, b)) return std::nullopt;
  if (!system->enabled) {
    return Result<const registry::System*>(
        Unauthenticated("system " + system->client_id + " is disabled"));
  }
  return Result<const registry::System*>(system);
}

Result<const registry::System*> ClientAuthenticator::Verify(const registry::Snapshot& snapshot,
                                                            std::string_view client_id,
                                                            std::string_view secret) {
  // A fixed hash to spend the same time on unknown ids as on known ones.
  static const std::string kDummyHash = crypto::HashSecret("govesb-timing-equaliser");
  if (client_id.empty() || secret.empty() || secret.size() > 256) return BadCredentials();
  const registry::System* system = snapshot.FindSystem(client_id);
  if (system == nullptr) {
    (void)crypto::VerifySecret(secret, kDummyHash);
    return BadCredentials();
  }
  const auto started = std::chrono::steady_clock::now();
  const bool matches = crypto::VerifySecret(secret, system->secret_hash);
  const int64_t took_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
  // Moving average over about eight checks; a lost update between threads does not matter.
  const int64_t before = typical_check_us_.load(std::memory_order_relaxed);
  typical_check_us_.store(before + (took_us - before) / 8, std::memory_order_relaxed);
  if (!matches) return BadCredentials();
  if (!system->enabled) return Unauthenticated("system " + system->client_id + " is disabled");
  Mac mac = KeyedMac(client_id, secret);
  std::lock_guard lock(mu_);
  if (verified_.size() >= kMaxCacheEntries) verified_.clear();
  verified_.insert_or_assign(system->client_id, Entry{system->credential_version, mac});
  return system;
}

}  // namespace govesb::auth
