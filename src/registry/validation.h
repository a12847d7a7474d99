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
// A display name: trimmed of surrounding whitespace, non-empty, at most 200 bytes, no control
// characters. Returns the trimmed name. `what` names the field in messages ("system name").
Result<std::string> NormalizeName(std::string_view name, std::string_view what);

}  // namespace govesb::registry
