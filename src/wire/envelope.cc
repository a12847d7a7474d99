#include "wire/envelope.h"

#include <array>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>

#include "crypto/primitives.h"

namespace govesb::wire {
namespace {

// ---------------------------------------------------------------------------------------------
// Re-pointing views when an envelope is copied or moved.

struct Span {
  const char* begin;
  size_t size;
};
using Layout = std::array<Span, 4>;

Layout LayoutOf(const IncomingEnvelope& e) {
  return {Span{e.body.data(), e.body.size()}, Span{e.utf8_body.data(), e.utf8_body.size()},
          Span{e.xml_data_json.data(), e.xml_data_json.size()},
          Span{e.signature_text.data(), e.signature_text.size()}};
}

// Maps a view into one of the `from` strings to the same bytes of the `to` strings.
std::string_view Repoint(std::string_view view, const Layout& from, const Layout& to) {
  if (view.data() == nullptr) return view;
  const std::less_equal<const char*> le;
  for (size_t k = 0; k < from.size(); ++k) {
    if (le(from[k].begin, view.data()) &&
        le(view.data() + view.size(), from[k].begin + from[k].size)) {
      return std::string_view(to[k].begin + (view.data() - from[k].begin), view.size());
    }
  }
  return view;  // not ours (never produced by the parsers)
}

// `e` holds copies/moves of the strings and members of an envelope whose strings had layout
// `from`; points every view at e's own strings.
void RepointViews(IncomingEnvelope& e, const Layout& from, std::string_view data_raw,
                  std::string_view data_raw_original, std::string_view signature) {
  const Layout to = LayoutOf(e);
  e.data_raw = Repoint(data_raw, from, to);
  e.data_raw_original = Repoint(data_raw_original, from, to);
  e.signature = Repoint(signature, from, to);
  for (JsonMember& member : e.data) member.raw = Repoint(member.raw, from, to);
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the JSON and XML parsers.

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

bool HasHighBytes(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

// Sets env.utf8_body when env.body is not UTF-8; returns the text to parse.
std::string_view PrepareText(IncomingEnvelope& env) {
  if (!IsValidUtf8(env.body)) env.utf8_body = Latin1ToUtf8(env.body);
  std::string_view text = env.utf8_body.empty() ? std::string_view(env.body) : env.utf8_body;
  return text;
}

// Sets data_raw_original from data_raw: the same view without transcoding, else the original
// bytes that transcoded to data_raw (every byte >= 0x80 became two).
void SetOriginalDataView(IncomingEnvelope& env) {
  if (env.utf8_body.empty()) {
    env.data_raw_original = env.data_raw;
    return;
  }
  const size_t utf8_begin = static_cast<size_t>(env.data_raw.data() - env.utf8_body.data());
  const size_t utf8_end = utf8_begin + env.data_raw.size();
  const std::string_view original = env.body;
  size_t u = 0;
  size_t i = 0;
  auto advance_to = [&](size_t target) {
    while (u < target && i < original.size()) {
      u += static_cast<unsigned char>(original[i]) >= 0x80 ? 2 : 1;
      ++i;
    }
    return i;
  };
  const size_t begin = advance_to(utf8_begin);
  const size_t end = advance_to(utf8_end);
  env.data_raw_original = original.substr(begin, end - begin);
}

Status EnvelopeShapeError() {
  return InvalidArgument("envelope must be a JSON object with members data and signature");
}

// ---------------------------------------------------------------------------------------------
// A minimal XML reader for envelopes: elements, character data, the five predefined entities
// and character references, CDATA, comments and processing instructions. No DTD (rejected), no
// external entities, attributes skipped. Iterative, depth-bounded.

struct XmlElement {
  std::string_view name;
  size_t begin = 0;  // offset of '<' of the start tag
  size_t end = 0;    // offset just past the end tag (or "/>")
  std::vector<size_t> children;
  std::string text;  // decoded character data directly inside the element
};

Status XmlError(std::string what, size_t at) {
  return InvalidArgument("body is not well-formed XML: " + what + " at byte " + std::to_string(at));
}

bool IsXmlNameChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == ':' || c == '-' || c == '.' || u >= 0x80;
}

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Appends the code point `cp` as UTF-8; false when it is not a valid XML character.
bool AppendXmlCharRef(uint32_t cp, std::string& out) {
  if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') return false;
  AppendUtf8(cp, out);
  return true;
}

// Decodes character data t[begin, end) into out.
Status AppendXmlText(std::string_view t, size_t begin, size_t end, std::string& out) {
  size_t i = begin;
  while (i < end) {
    const size_t amp = t.find('&', i);
    const size_t run_end = amp == std::string_view::npos || amp > end ? end : amp;
    out.append(t.data() + i, run_end - i);
    i = run_end;
    if (i >= end) break;
    const size_t semi = t.find(';', i);
    if (semi == std::string_view::npos || semi >= end || semi - i > 12) {
      return XmlError("unterminated entity reference", i);
    }
    const std::string_view ref = t.substr(i + 1, semi - i - 1);
    if (ref == "amp") {
      out.push_back('&');
    } else if (ref == "lt") {
      out.push_back('<');
    } else if (ref == "gt") {
      out.push_back('>');
    } else if (ref == "quot") {
      out.push_back('"');
    } else if (ref == "apos") {
      out.push_back('\'');
    } else if (ref.size() >= 2 && ref[0] == '#') {
      const bool hex = ref[1] == 'x';
      const std::string_view digits = ref.substr(hex ? 2 : 1);
      uint32_t cp = 0;
      bool ok = !digits.empty();
      for (const char c : digits) {
        int v = -1;
        if (c >= '0' && c <= '9') v = c - '0';
        if (hex && c >= 'a' && c <= 'f') v = c - 'a' + 10;
        if (hex && c >= 'A' && c <= 'F') v = c - 'A' + 10;
        if (v < 0 || cp > 0x10ffff) {
          ok = false;
          break;
        }
        cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
      }
      if (!ok || !AppendXmlCharRef(cp, out)) return XmlError("invalid character reference", i);
    } else {
      return XmlError("unknown entity &" + std::string(ref) + ";", i);
    }
    i = semi + 1;
  }
  return Status::Ok();
}

// Skips "<!--…-->" or "<?…?>" at t[i]; false when unterminated.
bool SkipMarkup(std::string_view t, size_t& i, std::string_view close) {
  const size_t at = t.find(close, i + 2);
  if (at == std::string_view::npos) return false;
  i = at + close.size();
  return true;
}

// Parses a whole XML document into elements (index 0 is the root).
Result<std::vector<XmlElement>> ParseXmlDocument(std::string_view t, int max_depth) {
  std::vector<XmlElement> elements;
  std::vector<size_t> open;  // indices of open elements
  size_t i = t.substr(0, kUtf8Bom.size()) == kUtf8Bom ? kUtf8Bom.size() : 0;
  bool root_done = false;
  const size_t n = t.size();
  while (i < n) {
    if (t[i] != '<') {
      const size_t lt = t.find('<', i);
      const size_t end = lt == std::string_view::npos ? n : lt;
      if (open.empty()) {
        for (size_t k = i; k < end; ++k) {
          if (!IsXmlSpace(t[k])) return XmlError("text outside the root element", k);
        }
      } else {
        GOVESB_RETURN_IF_ERROR(AppendXmlText(t, i, end, elements[open.back()].text));
      }
      i = end;
      continue;
    }
    const std::string_view rest = t.substr(i);
    if (rest.starts_with("<!--")) {
      if (!SkipMarkup(t, i, "-->")) return XmlError("unterminated comment", i);
      continue;
    }
    if (rest.starts_with("<?")) {
      if (!SkipMarkup(t, i, "?>")) return XmlError("unterminated processing instruction", i);
      continue;
    }
    if (rest.starts_with("<![CDATA[")) {
      if (open.empty()) return XmlError("CDATA outside the root element", i);
      const size_t close = t.find("]]>", i + 9);
      if (close == std::string_view::npos) return XmlError("unterminated CDATA section", i);
      elements[open.back()].text.append(t.substr(i + 9, close - i - 9));
      i = close + 3;
      continue;
    }
    if (rest.starts_with("<!")) return XmlError("DOCTYPE and declarations are not allowed", i);
    if (rest.starts_with("</")) {
      size_t k = i + 2;
      while (k < n && IsXmlNameChar(t[k])) ++k;
      const std::string_view name = t.substr(i + 2, k - i - 2);
      while (k < n && IsXmlSpace(t[k])) ++k;
      if (k >= n || t[k] != '>') return XmlError("malformed end tag", i);
      if (open.empty() || elements[open.back()].name != name) {
        return XmlError("mismatched end tag </" + std::string(name) + ">", i);
      }
      elements[open.back()].end = k + 1;
      open.pop_back();
      if (open.empty()) root_done = true;
      i = k + 1;
      continue;
    }
    // A start tag.
    if (root_done) return XmlError("content after the root element", i);
    size_t k = i + 1;
    while (k < n && IsXmlNameChar(t[k])) ++k;
    const std::string_view name = t.substr(i + 1, k - i - 1);
    if (name.empty()) return XmlError("malformed start tag", i);
    // Attributes are skipped, honouring quotes.
    char quote = 0;
    while (k < n && (quote != 0 || t[k] != '>')) {
      if (quote != 0) {
        if (t[k] == quote) quote = 0;
      } else if (t[k] == '"' || t[k] == '\'') {
        quote = t[k];
      } else if (t[k] == '<') {
        return XmlError("malformed start tag", i);
      }
      ++k;
    }
    if (k >= n) return XmlError("unterminated start tag", i);
    const bool self_closing = t[k - 1] == '/';
    if (static_cast<int>(open.size()) >= max_depth) {
      return XmlError("nesting deeper than " + std::to_string(max_depth) + " levels", i);
    }
    const size_t index = elements.size();
    XmlElement& element = elements.emplace_back();
    element.name = name;
    element.begin = i;
    if (!open.empty()) elements[open.back()].children.push_back(index);
    if (self_closing) {
      element.end = k + 1;
      if (open.empty()) root_done = true;
    } else {
      open.push_back(index);
    }
    i = k + 1;
  }
  if (!open.empty()) return XmlError("unexpected end of input", n);
  if (elements.empty()) return XmlError("no root element", n);
  return elements;
}

bool IsBlank(std::string_view text) {
  for (const char c : text) {
    if (!IsXmlSpace(c)) return false;
  }
  return true;
}

std::string_view TrimXmlSpace(std::string_view text) {
  while (!text.empty() && IsXmlSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsXmlSpace(text.back())) text.remove_suffix(1);
  return text;
}

// Appends the JSON equivalent of the element's content: an object when it has child elements
// (a name repeated among siblings becomes an array, at the place of its first occurrence),
// otherwise a string of its text. Recursion is bounded by the parser's depth limit.
void AppendElementJson(const std::vector<XmlElement>& elements, size_t index, std::string& out) {
  const XmlElement& element = elements[index];
  if (element.children.empty()) {
    WriteString(element.text, out);
    return;
  }
  std::vector<std::vector<size_t>> groups;
  std::unordered_map<std::string_view, size_t> group_of;
  for (const size_t child : element.children) {
    const auto [it, inserted] = group_of.emplace(elements[child].name, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(child);
  }
  out.push_back('{');
  for (size_t g = 0; g < groups.size(); ++g) {
    if (g > 0) out.push_back(',');
    WriteString(elements[groups[g][0]].name, out);
    out.push_back(':');
    if (groups[g].size() == 1) {
      AppendElementJson(elements, groups[g][0], out);
      continue;
    }
    out.push_back('[');
    for (size_t k = 0; k < groups[g].size(); ++k) {
      if (k > 0) out.push_back(',');
      AppendElementJson(elements, groups[g][k], out);
    }
    out.push_back(']');
  }
  out.push_back('}');
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// IncomingEnvelope

IncomingEnvelope::IncomingEnvelope(const IncomingEnvelope& other)
    : body(other.body),
      utf8_body(other.utf8_body),
      signature_text(other.signature_text),
      data(other.data),
      xml_data_json(other.xml_data_json),
      is_xml(other.is_xml) {
  RepointViews(*this, LayoutOf(other), other.data_raw, other.data_raw_original, other.signature);
}

IncomingEnvelope& IncomingEnvelope::operator=(const IncomingEnvelope& other) {
  if (this != &other) *this = IncomingEnvelope(other);
  return *this;
}

IncomingEnvelope::IncomingEnvelope(IncomingEnvelope&& other) noexcept { *this = std::move(other); }

IncomingEnvelope& IncomingEnvelope::operator=(IncomingEnvelope&& other) noexcept {
  if (this == &other) return *this;
  const Layout from = LayoutOf(other);
  const std::string_view data_raw_from = other.data_raw;
  const std::string_view data_raw_original_from = other.data_raw_original;
  const std::string_view signature_from = other.signature;
  body = std::move(other.body);
  utf8_body = std::move(other.utf8_body);
  signature_text = std::move(other.signature_text);
  data = std::move(other.data);
  xml_data_json = std::move(other.xml_data_json);
  is_xml = other.is_xml;
  RepointViews(*this, from, data_raw_from, data_raw_original_from, signature_from);
  // Leave the moved-from envelope empty rather than holding views into moved strings.
  other.data_raw = {};
  other.data_raw_original = {};
  other.signature = {};
  other.data.clear();
  return *this;
}

// ---------------------------------------------------------------------------------------------
// Parsing

Result<IncomingEnvelope> ParseEnvelope(std::string body) {
  IncomingEnvelope env;
  env.body = std::move(body);
  std::string_view text = PrepareText(env);
  if (text.starts_with(kUtf8Bom)) text.remove_prefix(kUtf8Bom.size());

  size_t first = 0;
  while (first < text.size() && (text[first] == ' ' || text[first] == '\t' || text[first] == '\n' ||
                                 text[first] == '\r')) {
    ++first;
  }
  if (first >= text.size() || text[first] != '{') {
    const Status valid = ValidateJson(text);
    if (!valid.ok()) return InvalidArgument("body is not valid JSON: " + valid.message());
    return EnvelopeShapeError();
  }
  // The envelope's own members are needed only here: one vector per thread, kept.
  thread_local std::vector<JsonMember> members;
  if (const Status scanned = ScanObjectInto(text, members); !scanned.ok()) {
    return InvalidArgument("body is not valid JSON: " + scanned.message());
  }

  const JsonMember* data = FindMember(members, "data");
  if (data == nullptr) return EnvelopeShapeError();
  if (data->type != JsonType::kObject) return InvalidArgument("data must be a JSON object");
  const JsonMember* signature = FindMember(members, "signature");
  if (signature == nullptr) return InvalidArgument("envelope has no signature");
  if (signature->type != JsonType::kString) return InvalidArgument("signature must be a string");

  GOVESB_ASSIGN_OR_RETURN(env.signature, DecodeStringView(signature->raw, env.signature_text));
  env.data_raw = data->raw;
  SetOriginalDataView(env);
  GOVESB_ASSIGN_OR_RETURN(env.data, ScanObject(env.data_raw));
  return env;
}

Result<IncomingEnvelope> ParseXmlEnvelope(std::string body) {
  IncomingEnvelope env;
  env.is_xml = true;
  env.body = std::move(body);
  const std::string_view text = PrepareText(env);
  GOVESB_ASSIGN_OR_RETURN(std::vector<XmlElement> elements,
                          ParseXmlDocument(text, kDefaultMaxDepth));

  const XmlElement& root = elements[0];
  const XmlElement* data = nullptr;
  const XmlElement* signature = nullptr;
  size_t data_index = 0;
  for (const size_t child : root.children) {
    if (elements[child].name == "data" && data == nullptr) {
      data = &elements[child];
      data_index = child;
    } else if (elements[child].name == "signature" && signature == nullptr) {
      signature = &elements[child];
    }
  }
  if ((root.name != "esbrequest" && root.name != "esbresponse") || data == nullptr) {
    return InvalidArgument(
        "XML envelope must be <esbrequest> or <esbresponse> with <data> and <signature>");
  }
  if (signature == nullptr) return InvalidArgument("envelope has no signature");
  if (!signature->children.empty()) return InvalidArgument("signature must be a string");
  env.signature_text = std::string(TrimXmlSpace(signature->text));
  env.signature = env.signature_text;

  env.data_raw = text.substr(data->begin, data->end - data->begin);
  SetOriginalDataView(env);
  if (data->children.empty() && !IsBlank(data->text)) {
    return InvalidArgument("data must be an element holding child elements");
  }
  if (data->children.empty()) {
    env.xml_data_json = "{}";
  } else {
    AppendElementJson(elements, data_index, env.xml_data_json);
  }
  GOVESB_ASSIGN_OR_RETURN(env.data, ScanObject(env.xml_data_json));
  return env;
}

// ---------------------------------------------------------------------------------------------
// Verification

std::string_view SignatureVariantName(SignatureVariant variant) {
  switch (variant) {
    case SignatureVariant::kRaw:
      return "raw";
    case SignatureVariant::kCompact:
      return "compact";
    case SignatureVariant::kCompactAsciiEscaped:
      return "compact-ascii-escaped";
    case SignatureVariant::kLatin1:
      return "latin1";
  }
  return "unknown";
}

Result<SignatureVariant> VerifyEnvelope(const IncomingEnvelope& envelope,
                                        const std::function<bool(std::string_view)>& verify,
                                        Fallbacks fallbacks) {
  const std::string_view raw = envelope.data_raw_original;
  if (verify(raw)) return SignatureVariant::kRaw;
  if (fallbacks == Fallbacks::kOff) {
    return BadSignature("signature does not verify against the registered public key");
  }

  std::optional<std::string> compact;
  std::optional<std::string> ascii;
  if (!envelope.is_xml) {
    std::string text;
    if (WriteCompact(envelope.data_raw, text, Escaping::kJackson).ok()) {
      compact = std::move(text);
      if (*compact != raw && verify(*compact)) return SignatureVariant::kCompact;
    }
    text.clear();
    if (WriteCompact(envelope.data_raw, text, Escaping::kAsciiEscaped).ok()) {
      ascii = std::move(text);
      if (*ascii != raw && ascii != compact && verify(*ascii)) {
        return SignatureVariant::kCompactAsciiEscaped;
      }
    }
  }
  if (HasHighBytes(raw)) {
    const std::string latin1 = Latin1ToUtf8(raw);
    if (latin1 != raw && latin1 != compact && latin1 != ascii && verify(latin1)) {
      return SignatureVariant::kLatin1;
    }
  }
  return BadSignature("signature does not verify against the registered public key");
}

bool VerifiedTextIsPassedOn(const IncomingEnvelope& envelope, SignatureVariant variant) {
  if (variant != SignatureVariant::kLatin1) return true;
  return Latin1ToUtf8(envelope.data_raw_original) == envelope.data_raw;
}

Result<SignatureVariant> VerifyEnvelope(const IncomingEnvelope& envelope,
                                        const crypto::PublicKey& key,
                                        crypto::Sha256Digest* data_sha256, Fallbacks fallbacks) {
  const std::string_view raw = envelope.data_raw_original;
  const crypto::Sha256Digest raw_sha256 = crypto::Sha256(raw);
  if (data_sha256 != nullptr) {
    *data_sha256 = envelope.data_raw == raw ? raw_sha256 : crypto::Sha256(envelope.data_raw);
  }
  const auto verify = [&](std::string_view candidate) {
    if (candidate.data() == raw.data() && candidate.size() == raw.size()) {
      return key.VerifyDigestBase64(raw_sha256, envelope.signature);
    }
    return key.VerifyBase64(candidate, envelope.signature);
  };
  // One reference captured: small enough for std::function to hold without allocating.
  return VerifyEnvelope(
      envelope, [&verify](std::string_view candidate) { return verify(candidate); }, fallbacks);
}

// ---------------------------------------------------------------------------------------------
// Sealing

std::string SealEnvelope(std::string_view data_json, std::string_view signature_b64) {
  std::string out;
  out.reserve(data_json.size() + signature_b64.size() + 24);
  out += "{\"data\":";
  out.append(data_json);
  out += ",\"signature\":";
  WriteString(signature_b64, out);
  out.push_back('}');
  return out;
}

std::string SignAndSeal(std::string_view data_json, const crypto::Signer& signer) {
  return SealEnvelope(data_json, signer.SignBase64(data_json));
}

std::string SealXmlEnvelope(std::string_view data_xml, std::string_view signature_b64,
                            std::string_view root) {
  std::string out;
  out.reserve(data_xml.size() + signature_b64.size() + 2 * root.size() + 32);
  out.push_back('<');
  out.append(root);
  out.push_back('>');
  out.append(data_xml);
  out += "<signature>";
  out.append(signature_b64);  // base64: nothing to escape
  out += "</signature></";
  out.append(root);
  out.push_back('>');
  return out;
}

std::string SignAndSealXml(std::string_view data_xml, const crypto::Signer& signer) {
  return SealXmlEnvelope(data_xml, signer.SignBase64(data_xml));
}

Result<std::string> DataJsonToXml(std::string_view data_json, std::string_view element) {
  size_t first = 0;
  while (first < data_json.size() && (data_json[first] == ' ' || data_json[first] == '\t' ||
                                      data_json[first] == '\n' || data_json[first] == '\r')) {
    ++first;
  }
  if (first >= data_json.size() || data_json[first] != '{') {
    return InvalidArgument("data must be a JSON object");
  }
  std::string out;
  GOVESB_RETURN_IF_ERROR(WriteXml(data_json, element, out));
  return out;
}

}  // namespace govesb::wire
