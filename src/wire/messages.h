#pragma once

// The `data` texts the bus itself signs and sends (contract sections 4.2 to 4.4), built byte for
// byte in Jackson style (compact, fixed member order), and the reading of a provider's reply.
// All functions are pure and thread-safe.

#include <string>
#include <string_view>

#include "base/result.h"
#include "wire/envelope.h"
#include "wire/json.h"

namespace govesb::wire {

// Response to a consumer (contract 4.2):
//   {"success":true|false,"requestId":"…","message":"…","esbBody":<body>}
// `esb_body_raw` is JSON text (typically JsonMember::raw of a parsed envelope) re-serialised
// in `style`: WriteCompact (kJackson) or WriteEcmaScriptCompact, the message likewise, so that
// the whole text is what the receiving client's re-serialisation gives. esbBody is always
// present: "{}" when esb_body_raw is empty or only whitespace, and also when it is not valid
// JSON (a caller bug; the response stays valid).
std::string ResponseData(bool success, std::string_view request_id, std::string_view message,
                         std::string_view esb_body_raw, JsonStyle style = JsonStyle::kJackson);

// Delivery to a provider or subscriber (contract 4.3):
//   {"esbBody":<body>,"requestId":"…","<code_member>":"<code>"}
// `code_member` is "apiCode" or "pushCode". esbBody as in ResponseData ("{}" when empty).
// With `purpose` (the code a consumer declared), the member "purpose":"<purpose>" follows:
// providers that do not know it ignore it (docs/connect-your-system.md).
std::string DeliveryData(std::string_view esb_body_raw, std::string_view request_id,
                         std::string_view code_member, std::string_view code,
                         JsonStyle style = JsonStyle::kJackson, std::string_view purpose = {});

// `data` (a text the bus made in one style) in `style`: the same text when it already is,
// else re-serialised (for a recipient that verifies in the other style).
std::string RestyleData(std::string_view data, JsonStyle style);

// A provider's (or subscriber's) reply to a delivery (contract 4.4).
struct ProviderReply {
  bool success = false;
  std::string message;       // "" when absent or null; other non-strings as their JSON text
  std::string esb_body_raw;  // exact JSON text of esbBody; "" when absent
};

// Reads `success` (a JSON boolean; the strings "true"/"false" are accepted too, as XML replies
// and some clients send them), `message` and `esbBody` from a parsed reply envelope.
// Errors (kBadGateway, a peer answered with something unusable): "provider reply has no success
// member", "provider reply success must be a boolean".
Result<ProviderReply> ReadProviderReply(const IncomingEnvelope& reply);

}  // namespace govesb::wire
