#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/status.h"

namespace govesb::registry {

// Input rules for registry identifiers, shared by the admin operations and whoever else
// accepts such values. Each returns kInvalidArgument with a message naming the value.

// 2-32 characters of [A-Za-z0-9_-].
Status ValidateInstitutionCode(std::string_view code);
// apiCode / pushCode: 5-8 ASCII alphanumerics (GOVESB-WIRE section 8). `what` names the kind
// of code in messages ("API code").
Status ValidateServiceCode(std::string_view code, std::string_view what = "code");
// An absolute http:// or https:// URL with a host.
Status ValidateEndpoint(std::string_view url);
// 100..300000 ms.
Status ValidateTimeoutMs(int64_t timeout_ms);
// A rate limit's requests per second: kRateDefault (0), kRateUnlimited (-1) or a finite number
// in kMinRatePerSecond..kMaxRatePerSecond (model.h). `what` names it in messages ("rate").
Status ValidateRatePerSecond(double rate, std::string_view what = "rate");
// A token bucket's burst: kRateDefault (0) or a finite number in kMinRateBurst..kMaxRateBurst.
Status ValidateRateBurst(double burst, std::string_view what = "burst");
// A signature variant's name as recorded in signature_usage: 1-32 of [a-z0-9-].
Status ValidateSignatureVariantName(std::string_view variant);
// A state of grants and subscriptions to list by: "" (any), pending, approved, refused, revoked.
Status ValidateAccessState(std::string_view state);
// A display name: trimmed of surrounding whitespace, non-empty, at most 200 bytes, no control
// characters. Returns the trimmed name. `what` names the field in messages ("system name").
Result<std::string> NormalizeName(std::string_view name, std::string_view what);

// Bounds of the onboarding texts (bytes).
inline constexpr size_t kMaxDescriptionBytes = 8000;   // descriptions, details
inline constexpr size_t kMaxReasonBytes = 2000;        // purposes and reasons
inline constexpr size_t kMaxExampleBytes = 64 * 1024;  // request/response/message examples
inline constexpr size_t kMaxOpenApiBytes = 256 * 1024;

// A free text (a description, a purpose, a reason): trimmed, at most `max_bytes`, valid UTF-8,
// no control characters but line breaks and tabs. Empty is kInvalidArgument when `required`
// ("a reason is required"), else "". Returns the trimmed text.
Result<std::string> NormalizeText(std::string_view text, std::string_view what, size_t max_bytes,
                                  bool required);
// A JSON text of at most `max_bytes` (an example); "" is allowed (no example). The message says
// where it does not parse.
Status ValidateJsonText(std::string_view text, std::string_view what, size_t max_bytes);
// An OpenAPI document: a JSON object of at most kMaxOpenApiBytes with a string member
// "openapi" (the version, e.g. "3.0.3"); "" is allowed (none).
Status ValidateOpenApiDocument(std::string_view text);
// An e-mail address as people type them: local@domain, at most 254 bytes, no spaces, a dot in
// the domain. Not a full RFC 5322 parser.
Status ValidateEmail(std::string_view email, std::string_view what = "e-mail address");
// A telephone number: "" or 6-32 of 0-9 + - space ( ).
Status ValidatePhone(std::string_view phone);

// A purpose code (Purpose::code, a request's `purpose`): 1-32 of [A-Z0-9_], starting with a
// letter. kInvalidArgument naming the rule otherwise.
Status ValidatePurposeCode(std::string_view code);

}  // namespace govesb::registry
