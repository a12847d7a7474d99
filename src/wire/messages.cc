#include "wire/messages.h"

#include "wire/json.h"

namespace govesb::wire {
namespace {

bool IsJsonWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Appends esbBody's value: the compact form of `raw`, or {} when there is none.
void AppendBody(std::string_view raw, std::string& out, JsonStyle style) {
  while (!raw.empty() && IsJsonWhitespace(raw.front())) raw.remove_prefix(1);
  const bool written = !raw.empty() && (style == JsonStyle::kEcmaScript
                                            ? WriteEcmaScriptCompact(raw, out).ok()
                                            : WriteCompact(raw, out, Escaping::kJackson).ok());
  if (!written) out += "{}";
}

}  // namespace

std::string ResponseData(bool success, std::string_view request_id, std::string_view message,
                         std::string_view esb_body_raw, JsonStyle style) {
  std::string out;
  out.reserve(esb_body_raw.size() + message.size() + request_id.size() + 64);
  out += success ? "{\"success\":true" : "{\"success\":false";
  out += ",\"requestId\":";
  WriteString(request_id, out);
  out += ",\"message\":";
  if (style == JsonStyle::kEcmaScript) {
    WriteEcmaScriptString(message, out);
  } else {
    WriteString(message, out);
  }
  out += ",\"esbBody\":";
  AppendBody(esb_body_raw, out, style);
  out.push_back('}');
  return out;
}

std::string DeliveryData(std::string_view esb_body_raw, std::string_view request_id,
                         std::string_view code_member, std::string_view code, JsonStyle style,
                         std::string_view purpose) {
  std::string out;
  out.reserve(esb_body_raw.size() + request_id.size() + code.size() + 48);
  out += "{\"esbBody\":";
  AppendBody(esb_body_raw, out, style);
  out += ",\"requestId\":";
  WriteString(request_id, out);
  out.push_back(',');
  WriteString(code_member, out);
  out.push_back(':');
  WriteString(code, out);
  if (!purpose.empty()) {
    out += ",\"purpose\":";
    WriteString(purpose, out);
  }
  out.push_back('}');
  return out;
}

std::string RestyleData(std::string_view data, JsonStyle style) {
  std::string out;
  const Status written = style == JsonStyle::kEcmaScript
                             ? WriteEcmaScriptCompact(data, out)
                             : WriteCompact(data, out, Escaping::kJackson);
  return written.ok() ? out : std::string(data);
}

Result<ProviderReply> ReadProviderReply(const IncomingEnvelope& reply) {
  ProviderReply result;
  const JsonMember* success = reply.Find("success");
  if (success == nullptr) return BadGateway("provider reply has no success member");
  switch (success->type) {
    case JsonType::kTrue:
      result.success = true;
      break;
    case JsonType::kFalse:
      result.success = false;
      break;
    case JsonType::kString: {
      GOVESB_ASSIGN_OR_RETURN(const std::string text, DecodeString(success->raw));
      if (text != "true" && text != "false") {
        return BadGateway("provider reply success must be a boolean");
      }
      result.success = text == "true";
      break;
    }
    default:
      return BadGateway("provider reply success must be a boolean");
  }
  if (const JsonMember* message = reply.Find("message"); message != nullptr) {
    if (message->type == JsonType::kString) {
      GOVESB_ASSIGN_OR_RETURN(result.message, DecodeString(message->raw));
    } else if (message->type != JsonType::kNull) {
      result.message.assign(message->raw);
    }
  }
  if (const JsonMember* body = reply.Find("esbBody"); body != nullptr) {
    result.esb_body_raw.assign(body->raw);
  }
  return result;
}

}  // namespace govesb::wire
