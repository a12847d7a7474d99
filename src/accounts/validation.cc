#include "accounts/validation.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "crypto/primitives.h"

namespace govesb::accounts {
namespace {

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool IsLocalChar(char c) {
  return IsAsciiAlnum(c) ||
         std::string_view("!#$%&'*+/=?^_`{|}~.-").find(c) != std::string_view::npos;
}

bool ValidLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(),
                     [](char c) { return IsAsciiAlnum(c) || c == '-'; });
}

// C0 controls, DEL, and the C1 controls as UTF-8 (C2 80 - C2 9F).
bool HasControl(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) return true;
    if (c == 0xc2 && i + 1 < text.size()) {
      const auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return true;
    }
  }
  return false;
}

// Well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool IsUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= text.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

Result<std::string> NormalizeEmail(std::string_view email) {
  const Status bad = InvalidArgument(
      "the e-mail address must look like name@example.go.tz (letters, digits and . _ + - before "
      "the @, a domain with a dot after it)");
  if (email.empty()) return InvalidArgument("the e-mail address is missing");
  if (email.size() > kMaxEmailLength) {
    return InvalidArgument("the e-mail address is longer than 254 characters");
  }
  const size_t at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) {
    return bad;
  }
  const std::string_view local = email.substr(0, at);
  const std::string_view domain = email.substr(at + 1);
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.' ||
      local.find("..") != std::string_view::npos ||
      !std::all_of(local.begin(), local.end(), IsLocalChar)) {
    return bad;
  }
  size_t labels = 0;
  for (size_t start = 0;;) {
    const size_t dot = domain.find('.', start);
    const std::string_view label =
        domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!ValidLabel(label)) return bad;
    ++labels;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (labels < 2) return bad;
  return Lower(email);
}

Result<std::string> ValidateDisplayName(std::string_view name) {
  name = Trim(name);
  if (name.size() > kMaxDisplayNameLength) {
    return InvalidArgument("the name is longer than 100 characters");
  }
  if (!IsUtf8(name) || HasControl(name)) {
    return InvalidArgument("the name must be plain text (no control characters)");
  }
  return std::string(name);
}

Status ValidatePassword(std::string_view password, std::string_view email) {
  if (password.size() < kMinPasswordLength) {
    return InvalidArgument("the password must be at least 12 characters long");
  }
  if (password.size() > kMaxPasswordLength) {
    return InvalidArgument("the password must be at most 1024 characters long");
  }
  if (!IsUtf8(password) || HasControl(password)) {
    return InvalidArgument("the password must be text without control characters");
  }
  if (Lower(password) == Lower(email)) {
    return InvalidArgument("the password must not be the e-mail address");
  }
  return Status::Ok();
}

Status ValidateTokenName(std::string_view name) {
  if (Trim(name).empty()) return InvalidArgument("give the token a name (what it is for)");
  if (name.size() > kMaxTokenNameLength) {
    return InvalidArgument("the token's name is longer than 64 characters");
  }
  if (!IsUtf8(name) || HasControl(name)) {
    return InvalidArgument("the token's name must be plain text (no control characters)");
  }
  return Status::Ok();
}

Status ValidateTokenExpiryDays(int64_t days) {
  if (days < 1 || days > kMaxTokenExpiryDays) {
    return InvalidArgument("a token's expiry must be 1 to 365 days (or none: it never expires)");
  }
  return Status::Ok();
}

Status ValidateRoleInstitution(admin::Role role, std::string_view institution) {
  const bool needs_institution = role == admin::Role::kInstitutionAdmin;
  if (needs_institution && institution.empty()) {
    return InvalidArgument("an institution-admin belongs to an institution: give its code");
  }
  if (!needs_institution && !institution.empty()) {
    return InvalidArgument("only an institution-admin belongs to an institution; the role " +
                           std::string(admin::RoleName(role)) + " has none");
  }
  return Status::Ok();
}

std::string NewOneTimePassword() {
  // 32 characters (5 bits each, so a random byte modulo 32 is uniform): 20 of them, 100 bits.
  constexpr std::string_view kAlphabet = "23456789abcdefghijkmnpqrstuvwxyz";
  static_assert(kAlphabet.size() == 32);
  std::array<uint8_t, 20> bytes{};
  crypto::RandomBytes(bytes);
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0 && i % 5 == 0) out.push_back('-');
    out.push_back(kAlphabet[bytes[i] % 32]);
  }
  return out;
}

bool ScopeWithin(admin::Role scope, admin::Role role) {
  return scope == role || (role == admin::Role::kOperator && scope == admin::Role::kAuditor);
}

}  // namespace govesb::accounts
