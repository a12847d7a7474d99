#pragma once

// Test-only: records of made-up exchanges, for the module's tests (search_test.cc and the
// store contract suite).

#include <cstdint>
#include <string>

#include "evidence/record.h"

namespace govesb::evidence {

// One step of an exchange, signed with a text derived from its request id.
inline Record Step(int64_t at, std::string request_id, std::string kind, std::string from,
                   std::string to, std::string code, std::string user_id, std::string outcome) {
  Record r;
  r.at_ms = at;
  r.request_id = std::move(request_id);
  r.kind = std::move(kind);
  r.from = std::move(from);
  r.to = std::move(to);
  r.code = std::move(code);
  r.user_id = std::move(user_id);
  r.outcome = std::move(outcome);
  r.error = r.outcome == "ok" ? "" : "refused";
  r.latency_us = 17;
  r.size = 321;
  AttachSigned(r, "data of " + r.request_id, "sig-" + r.request_id);
  return r;
}

}  // namespace govesb::evidence
