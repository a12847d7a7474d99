#include "auth/token.h"

#include <charconv>
#include <vector>

#include "base/encoding.h"
#include "crypto/primitives.h"

namespace govesb::auth {
namespace {

constexpr std::string_view kVersion = "v1";

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  for (;;) {
    size_t next = s.find(sep, pos);
    parts.push_back(s.substr(pos, next == std::string_view::npos ? next : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return parts;
}

bool ParseInt(std::string_view s, int64_t& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::string Mac(std::string_view secret, std::string_view payload) {
  auto mac = crypto::HmacSha256(secret, payload);
  return Base64UrlEncode(std::span<const uint8_t>(mac.data(), mac.size()));
}

}  // namespace

TokenService::TokenService(std::string mac_secret, const Clock& clock, std::chrono::seconds ttl)
    : mac_secret_(std::move(mac_secret)), clock_(clock), ttl_(ttl) {
  GOVESB_CHECK(mac_secret_.size() >= 32);
}

TokenService::Issued TokenService::Issue(const registry::System& system) const {
  int64_t now = clock_.NowSeconds();
  int64_t expires = now + ttl_.count();
  std::string payload;
  payload.reserve(96);
  payload += kVersion;
  payload += '|';
  payload += system.client_id;
  payload += '|';
  payload += std::to_string(system.credential_version);
  payload += '|';
  payload += std::to_string(now);
  payload += '|';
  payload += std::to_string(expires);
  payload += '|';
  payload += HexEncode(crypto::RandomBytes(8));
  std::string encoded = Base64UrlEncode(payload);
  std::string token = encoded + "." + Mac(mac_secret_, encoded);
  return Issued{std::move(token), ttl_.count()};
}

Result<TokenService::Claims> TokenService::Decode(std::string_view token) const {
  if (token.size() > 512) return Unauthenticated("access token is malformed");
  size_t dot = token.find('.');
  if (dot == std::string_view::npos) return Unauthenticated("access token is malformed");
  std::string_view encoded = token.substr(0, dot);
  std::string_view mac = token.substr(dot + 1);
  if (!crypto::ConstantTimeEquals(mac, Mac(mac_secret_, encoded))) {
    return Unauthenticated("access token is not valid: it was not issued by this bus");
  }
  auto payload = Base64UrlDecode(encoded);
  if (!payload) return Unauthenticated("access token is malformed");
  auto parts = Split(*payload, '|');
  Claims claims;
  int64_t issued = 0;
  if (parts.size() != 6 || parts[0] != kVersion || !ParseInt(parts[2], claims.credential_version) ||
      !ParseInt(parts[3], issued) || !ParseInt(parts[4], claims.expires_at)) {
    return Unauthenticated("access token is malformed");
  }
  claims.client_id = std::string(parts[1]);
  return claims;
}

Result<const registry::System*> TokenService::Authenticate(
    std::string_view token, const registry::Snapshot& snapshot) const {
  if (token.empty()) return Unauthenticated("no access token: get one from the token endpoint");
  const auto check = [&](const Claims& claims) -> Result<const registry::System*> {
    if (clock_.NowSeconds() >= claims.expires_at) {
      return Unauthenticated("access token has expired: get a new one from the token endpoint");
    }
    const registry::System* system = snapshot.FindSystem(claims.client_id);
    if (system == nullptr) return Unauthenticated("access token names an unknown system");
    if (!system->enabled) return Unauthenticated("system " + system->client_id + " is disabled");
    if (system->credential_version != claims.credential_version) {
      return Unauthenticated(
          "access token was revoked: the system's credentials changed; get a new token");
    }
    return system;
  };
  {
    // A remembered token's claims are checked where they are, under the lock (a lookup in the
    // snapshot), not copied out: no allocation.
    std::lock_guard lock(verified_mu_);
    if (auto it = verified_.find(token); it != verified_.end()) return check(it->second);
  }
  GOVESB_ASSIGN_OR_RETURN(Claims claims, Decode(token));
  {
    std::lock_guard lock(verified_mu_);
    if (verified_.size() >= 65'536) verified_.clear();  // bounded; refills as tokens are used
    verified_.emplace(std::string(token), claims);
  }
  return check(claims);
}

std::string_view TokenFromAuthorization(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.remove_suffix(1);
  if (v.size() >= 7) {
    std::string_view scheme = v.substr(0, 7);
    if ((scheme[0] == 'B' || scheme[0] == 'b') && scheme.substr(1) == "earer ") {
      v.remove_prefix(7);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return v;
    }
  }
  if (v.find(' ') != std::string_view::npos) return {};  // some other scheme (Basic ...)
  return v;
}

}  // namespace govesb::auth
