#include "schema/json_tree.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <system_error>

namespace govesb::schema {
namespace {

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

class Parser {
 public:
  Parser(std::string_view text, std::vector<JsonNode>& nodes, std::vector<std::string>& decoded)
      : text_(text), nodes_(nodes), decoded_(decoded) {}

  Status Run(int max_depth);

 private:
  Status Error(std::string_view what) const {
    return InvalidArgument("not valid JSON: " + std::string(what) + " at byte " +
                           std::to_string(pos_));
  }
  void SkipWs() {
    while (pos_ < text_.size() && IsWs(text_[pos_])) ++pos_;
  }
  uint32_t Add(JsonType type) {
    nodes_.push_back(JsonNode{.type = type});
    return static_cast<uint32_t>(nodes_.size() - 1);
  }
  // A container's text runs from its opening bracket to the one just passed.
  void Close(uint32_t index) {
    const char* start = nodes_[index].text.data();
    nodes_[index].text = std::string_view(start, static_cast<size_t>(text_.data() + pos_ - start));
  }
  Status String();
  Status Number();
  Status Literal(std::string_view word, JsonType type);

  std::string_view text_;
  size_t pos_ = 0;
  std::vector<JsonNode>& nodes_;
  std::vector<std::string>& decoded_;
};

// Whether any of the 8 bytes of `w` is a quote, a backslash, a control character or not ASCII:
// then the scan looks at them one by one (the usual bytes of a string are skipped 8 at a time).
inline bool Special(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHigh;
  return ((w & kHigh) | below_space | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\'))) !=
         0;
}

Status Parser::String() {
  // At the opening quote.
  const size_t start = pos_;
  bool escaped = false;
  bool ascii = true;
  size_t j = pos_ + 1;
  for (;;) {
    while (j + 8 <= text_.size()) {
      uint64_t w;
      std::memcpy(&w, text_.data() + j, 8);
      if (Special(w)) break;
      j += 8;
    }
    if (j >= text_.size()) return Error("unterminated string");
    const unsigned char c = static_cast<unsigned char>(text_[j]);
    if (c == '"') break;
    if (c == '\\') {
      escaped = true;
      j += 2;  // the escaped character (its validity is DecodeString's to check)
      continue;
    }
    if (c < 0x20) {
      pos_ = j;
      return Error("control character in a string");
    }
    if (c >= 0x80) ascii = false;
    ++j;
  }
  const uint32_t index = Add(JsonType::kString);
  JsonNode& node = nodes_[index];
  node.end = index + 1;
  if (escaped) {
    std::string_view token = text_.substr(start, j + 1 - start);
    Result<std::string> value = wire::DecodeString(token);
    if (!value.ok()) return Error("invalid string (" + value.status().message() + ")");
    node.escaped = true;
    node.text = token;
    node.str = static_cast<uint32_t>(decoded_.size());
    decoded_.push_back(std::move(value).value());
  } else {
    node.text = text_.substr(start + 1, j - start - 1);
    // The 8-byte skips saw ASCII only; the bytes looked at one by one say the rest.
    if (!ascii && !wire::IsValidUtf8(node.text)) return Error("invalid UTF-8 in a string");
  }
  pos_ = j + 1;
  return Status::Ok();
}

Status Parser::Number() {
  const size_t start = pos_;
  size_t j = pos_;
  if (text_[j] == '-') ++j;
  if (j >= text_.size() || !IsDigit(text_[j])) return Error("invalid number");
  const bool int_zero = text_[j] == '0';
  if (int_zero) {
    ++j;
  } else {
    while (j < text_.size() && IsDigit(text_[j])) ++j;
  }
  const size_t int_digits = j - start - (text_[start] == '-' ? 1 : 0);
  bool integer_literal = true;
  size_t fraction_zeros = 0;
  if (j < text_.size() && text_[j] == '.') {
    integer_literal = false;
    ++j;
    if (j >= text_.size() || !IsDigit(text_[j])) return Error("invalid number");
    bool leading = true;
    while (j < text_.size() && IsDigit(text_[j])) {
      if (leading && text_[j] == '0') ++fraction_zeros;
      if (text_[j] != '0') leading = false;
      ++j;
    }
  }
  long long exponent = 0;
  if (j < text_.size() && (text_[j] == 'e' || text_[j] == 'E')) {
    integer_literal = false;
    ++j;
    bool negative = false;
    if (j < text_.size() && (text_[j] == '+' || text_[j] == '-')) negative = text_[j++] == '-';
    if (j >= text_.size() || !IsDigit(text_[j])) return Error("invalid number");
    while (j < text_.size() && IsDigit(text_[j])) {
      if (exponent < 1'000'000'000) exponent = exponent * 10 + (text_[j] - '0');
      ++j;
    }
    if (negative) exponent = -exponent;
  }
  const uint32_t index = Add(JsonType::kNumber);
  JsonNode& node = nodes_[index];
  node.end = index + 1;
  node.text = text_.substr(start, j - start);
  node.integer_literal = integer_literal;
  double value = 0;
  auto [end, ec] = std::from_chars(node.text.data(), node.text.data() + node.text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    // Beyond a double: infinite when its magnitude is large, zero when it is tiny.
    const long long magnitude = int_zero ? exponent - static_cast<long long>(fraction_zeros)
                                         : static_cast<long long>(int_digits) + exponent;
    value = magnitude > 0 ? HUGE_VAL : 0.0;
    if (text_[start] == '-') value = -value;
  } else if (ec != std::errc() || end != node.text.data() + node.text.size()) {
    return Error("invalid number");
  }
  node.number = value;
  pos_ = j;
  return Status::Ok();
}

Status Parser::Literal(std::string_view word, JsonType type) {
  if (text_.substr(pos_, word.size()) != word) return Error("unexpected character");
  const uint32_t index = Add(type);
  nodes_[index].end = index + 1;
  nodes_[index].text = text_.substr(pos_, word.size());
  pos_ += word.size();
  return Status::Ok();
}

Status Parser::Run(int max_depth) {
  // The open containers, innermost last.
  std::vector<uint32_t> open;
  open.reserve(16);
  bool need_value = true;  // otherwise: a value just ended
  while (true) {
    SkipWs();
    if (need_value) {
      if (pos_ >= text_.size()) return Error("unexpected end of text");
      const char c = text_[pos_];
      if (c == '{' || c == '[') {
        if (static_cast<int>(open.size()) >= max_depth) {
          return Error("nesting deeper than " + std::to_string(max_depth) + " levels");
        }
        const uint32_t index = Add(c == '{' ? JsonType::kObject : JsonType::kArray);
        nodes_[index].text = text_.substr(pos_, 1);  // completed when it closes
        open.push_back(index);
        ++pos_;
        SkipWs();
        const char close = c == '{' ? '}' : ']';
        if (pos_ < text_.size() && text_[pos_] == close) {
          ++pos_;
          nodes_[index].end = index + 1;
          Close(index);
          open.pop_back();
          need_value = false;
          continue;
        }
        ++nodes_[index].count;
        if (c == '[') continue;  // its first item
        // An object's first key.
        if (pos_ >= text_.size() || text_[pos_] != '"') return Error("expected a member name");
        GOVESB_RETURN_IF_ERROR(String());
        SkipWs();
        if (pos_ >= text_.size() || text_[pos_] != ':') return Error("expected ':'");
        ++pos_;
        continue;
      }
      if (c == '"') {
        GOVESB_RETURN_IF_ERROR(String());
      } else if (c == '-' || IsDigit(c)) {
        GOVESB_RETURN_IF_ERROR(Number());
      } else if (c == 't') {
        GOVESB_RETURN_IF_ERROR(Literal("true", JsonType::kTrue));
      } else if (c == 'f') {
        GOVESB_RETURN_IF_ERROR(Literal("false", JsonType::kFalse));
      } else if (c == 'n') {
        GOVESB_RETURN_IF_ERROR(Literal("null", JsonType::kNull));
      } else {
        return Error("unexpected character");
      }
      need_value = false;
      continue;
    }
    // After a value: the end of the text, or a separator of the innermost container.
    if (open.empty()) {
      if (pos_ != text_.size()) return Error("text after the value");
      return Status::Ok();
    }
    if (pos_ >= text_.size()) return Error("unexpected end of text");
    const uint32_t top = open.back();
    const bool object = nodes_[top].type == JsonType::kObject;
    const char c = text_[pos_++];
    if (c == (object ? '}' : ']')) {
      nodes_[top].end = static_cast<uint32_t>(nodes_.size());
      Close(top);
      open.pop_back();
      continue;
    }
    if (c != ',') {
      --pos_;
      return Error(object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    ++nodes_[top].count;
    need_value = true;
    if (!object) continue;
    SkipWs();
    if (pos_ >= text_.size() || text_[pos_] != '"') return Error("expected a member name");
    GOVESB_RETURN_IF_ERROR(String());
    SkipWs();
    if (pos_ >= text_.size() || text_[pos_] != ':') return Error("expected ':'");
    ++pos_;
  }
}

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

uint32_t DistinctKeys(const JsonTree& t, uint32_t object) {
  uint32_t n = 0;
  for (MemberCursor m(t, object); m; m.Next()) {
    if (t.Member(object, m.key()) == m.value()) ++n;
  }
  return n;
}

}  // namespace

Result<JsonTree> JsonTree::Parse(std::string_view text, int max_depth) {
  JsonTree tree;
  tree.nodes_.reserve(text.size() / 8 + 4);
  Parser parser(text, tree.nodes_, tree.decoded_);
  GOVESB_RETURN_IF_ERROR(parser.Run(max_depth));
  if (tree.nodes_.size() > UINT32_MAX / 2) return InvalidArgument("JSON text too large");
  return tree;
}

uint32_t JsonTree::Member(uint32_t object, std::string_view key) const {
  uint32_t found = 0;
  for (MemberCursor m(*this, object); m; m.Next()) {
    if (m.key() == key) found = m.value();
  }
  return found;
}

bool JsonEqual(const JsonTree& a, uint32_t ia, const JsonTree& b, uint32_t ib) {
  const JsonNode& x = a.at(ia);
  const JsonNode& y = b.at(ib);
  if (x.type != y.type) return false;
  switch (x.type) {
    case JsonType::kNull:
    case JsonType::kTrue:
    case JsonType::kFalse:
      return true;
    case JsonType::kNumber:
      if (x.integer_literal && y.integer_literal) {
        // Exact, whatever the length ("-0" is 0).
        auto digits = [](std::string_view s) { return s == "-0" ? std::string_view("0") : s; };
        return digits(x.text) == digits(y.text);
      }
      return x.number == y.number;
    case JsonType::kString:
      return a.String(x) == b.String(y);
    case JsonType::kArray: {
      if (x.count != y.count) return false;
      uint32_t i = ia + 1, j = ib + 1;
      for (uint32_t k = 0; k < x.count; ++k) {
        if (!JsonEqual(a, i, b, j)) return false;
        i = a.at(i).end;
        j = b.at(j).end;
      }
      return true;
    }
    case JsonType::kObject: {
      if (DistinctKeys(a, ia) != DistinctKeys(b, ib)) return false;
      for (MemberCursor m(a, ia); m; m.Next()) {
        if (a.Member(ia, m.key()) != m.value()) continue;  // a duplicate, not the last
        const uint32_t other = b.Member(ib, m.key());
        if (other == 0 || !JsonEqual(a, m.value(), b, other)) return false;
      }
      return true;
    }
  }
  return false;
}

uint64_t JsonHash(const JsonTree& tree, uint32_t index) {
  const JsonNode& n = tree.at(index);
  uint64_t h = static_cast<uint64_t>(n.type) + 1;
  switch (n.type) {
    case JsonType::kNull:
    case JsonType::kTrue:
    case JsonType::kFalse:
      return h;
    case JsonType::kNumber: {
      const double v = n.number == 0 ? 0.0 : n.number;  // -0 == 0
      return Mix(h, std::bit_cast<uint64_t>(v));
    }
    case JsonType::kString:
      return Mix(h, std::hash<std::string_view>{}(tree.String(n)));
    case JsonType::kArray: {
      uint32_t i = index + 1;
      for (uint32_t k = 0; k < n.count; ++k) {
        h = Mix(h, JsonHash(tree, i));
        i = tree.at(i).end;
      }
      return h;
    }
    case JsonType::kObject: {
      // Order-independent (a sum); duplicates are skipped as JsonEqual skips them, which costs
      // a quadratic scan, so large objects hash by their kind alone (still consistent).
      if (n.count > 64) return h;
      uint64_t sum = 0;
      for (MemberCursor m(tree, index); m; m.Next()) {
        if (tree.Member(index, m.key()) != m.value()) continue;
        sum += Mix(std::hash<std::string_view>{}(m.key()), JsonHash(tree, m.value()));
      }
      return Mix(h, sum);
    }
  }
  return h;
}

size_t CodePoints(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace govesb::schema
