// Validation: walks the value's tape and the compiled nodes together, stopping at the first
// violation. Inside anyOf, oneOf, not, if and contains, subschemas are tried without recording
// anything (no message is built for a branch that is allowed to fail).
#include <algorithm>
#include <cmath>
#include <utility>

#include "schema/formats.h"
#include "schema/node.h"

namespace govesb::schema {

using internal::Format;
using internal::Node;

namespace {

struct Segment {
  std::string_view key = {};
  uint32_t index = 0;
  bool is_index = false;
};

struct Ctx {
  const JsonTree& schema;
  const JsonTree& value;
  const Limits& limits;
  std::optional<Violation>* out = nullptr;  // null: trying a branch, nothing recorded
  std::vector<Segment> path = {};
  uint64_t steps = 0;
  int depth = 0;
  Status hard = Status::Ok();  // the value cannot be judged (too deep, too costly)
};

std::string Pointer(const std::vector<Segment>& path) {
  std::string out;
  for (const Segment& s : path) {
    out += '/';
    if (s.is_index) {
      out += std::to_string(s.index);
      continue;
    }
    for (char c : s.key) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out += c;
      }
    }
  }
  return out;
}

template <typename Rule>
bool Fail(Ctx& c, const Node& s, std::string_view keyword, Rule rule) {
  if (c.out != nullptr && !c.out->has_value()) {
    Violation v;
    v.instance_path = Pointer(c.path);
    v.keyword_path = keyword.empty() ? s.location : s.location + "/" + std::string(keyword);
    v.rule = rule();
    *c.out = std::move(v);
  }
  return false;
}

// A short text of a schema value for messages (numbers, const, enum), cut when long.
std::string Shown(const JsonTree& t, uint32_t index) {
  const JsonNode& n = t.at(index);
  std::string out;
  if (n.type == JsonType::kNumber) return std::string(n.text);
  if (n.type == JsonType::kString) {
    const std::string_view text = t.String(n);
    out.reserve(text.size() + 2);
    out += '"';
    out += text;
    out += '"';
  } else if (n.type == JsonType::kTrue || n.type == JsonType::kFalse || n.type == JsonType::kNull) {
    return std::string(n.text);
  } else {
    out = n.type == JsonType::kObject ? "an object" : "an array";
  }
  if (out.size() > 60) out = out.substr(0, 57) + "...";
  return out;
}

bool IsInteger(const JsonNode& n) {
  return std::isinf(n.number) || n.number == std::trunc(n.number);
}

std::string_view KindOf(const JsonNode& n) {
  switch (n.type) {
    case JsonType::kObject:
      return "object";
    case JsonType::kArray:
      return "array";
    case JsonType::kString:
      return "string";
    case JsonType::kNumber:
      return IsInteger(n) ? "integer" : "number";
    case JsonType::kTrue:
    case JsonType::kFalse:
      return "boolean";
    case JsonType::kNull:
      return "null";
  }
  return "value";
}

bool TypeMatches(uint8_t types, const JsonNode& n) {
  switch (n.type) {
    case JsonType::kNull:
      return types & internal::kTypeNull;
    case JsonType::kTrue:
    case JsonType::kFalse:
      return types & internal::kTypeBoolean;
    case JsonType::kObject:
      return types & internal::kTypeObject;
    case JsonType::kArray:
      return types & internal::kTypeArray;
    case JsonType::kString:
      return types & internal::kTypeString;
    case JsonType::kNumber:
      return (types & internal::kTypeNumber) || ((types & internal::kTypeInteger) && IsInteger(n));
  }
  return false;
}

std::string TypeNames(uint8_t types) {
  static constexpr std::pair<uint8_t, std::string_view> kNames[] = {
      {internal::kTypeObject, "object"}, {internal::kTypeArray, "array"},
      {internal::kTypeString, "string"}, {internal::kTypeInteger, "integer"},
      {internal::kTypeNumber, "number"}, {internal::kTypeBoolean, "boolean"},
      {internal::kTypeNull, "null"}};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if (!(types & bit)) continue;
    if (!out.empty()) out += " or ";
    out += name;
  }
  return out;
}

__extension__ typedef unsigned __int128 Uint128;  // GCC and clang; exact decimal arithmetic

// A decimal number as digits * 10^exponent (at most 36 significant digits), for multipleOf.
struct Decimal {
  Uint128 digits = 0;
  long long exponent = 0;
};

bool ParseDecimal(std::string_view text, Decimal& d) {
  size_t i = 0;
  if (i < text.size() && text[i] == '-') ++i;
  int significant = 0;
  long long fraction_digits = 0;
  bool in_fraction = false;
  for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
    if (text[i] == '.') {
      in_fraction = true;
      continue;
    }
    if (in_fraction) ++fraction_digits;
    if (d.digits == 0 && text[i] == '0') continue;
    if (++significant > 36) return false;
    d.digits = d.digits * 10 + static_cast<unsigned>(text[i] - '0');
  }
  long long exponent = 0;
  if (i < text.size()) {
    ++i;
    bool negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
    for (; i < text.size(); ++i) {
      if (exponent > 100000) return false;
      exponent = exponent * 10 + (text[i] - '0');
    }
    if (negative) exponent = -exponent;
  }
  d.exponent = exponent - fraction_digits;
  while (d.digits != 0 && d.digits % 10 == 0) {
    d.digits /= 10;
    ++d.exponent;
  }
  return true;
}

// Whether x / m is an integer: exactly in decimal where the texts allow, else in doubles (an
// infinite quotient is not an integer).
bool IsMultipleOf(const JsonNode& x, const JsonNode& m) {
  Decimal a, b;
  if (ParseDecimal(x.text, a) && ParseDecimal(m.text, b) && b.digits != 0) {
    if (a.digits == 0) return true;
    const long long e = a.exponent - b.exponent;
    if (e >= 0 && e <= 100000) {
      Uint128 r = a.digits % b.digits;
      for (long long k = 0; k < e && r != 0; ++k) r = (r * 10) % b.digits;
      return r == 0;
    }
    if (e < 0) {
      Uint128 divisor = b.digits;
      for (long long k = 0; k < -e; ++k) {
        if (divisor > a.digits) return false;
        divisor *= 10;
      }
      return a.digits % divisor == 0;
    }
  }
  const double q = x.number / m.number;
  return std::isfinite(q) && q == std::floor(q);
}

uint64_t Count(const JsonTree& t, uint32_t index) {
  const double v = t.at(index).number;
  return v >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(v);
}

bool Check(const Node& s, uint32_t i, Ctx& c);

// Tries `s` on value `i` without recording: for anyOf, oneOf, not, if and contains.
bool Try(const Node& s, uint32_t i, Ctx& c) {
  std::optional<Violation>* out = c.out;
  c.out = nullptr;
  const bool ok = Check(s, i, c);
  c.out = out;
  return ok;
}

bool CheckNumber(const Node& s, const JsonNode& n, Ctx& c) {
  const JsonTree& t = c.schema;
  if (s.minimum != 0 && !(n.number >= t.at(s.minimum).number)) {
    return Fail(c, s, "minimum", [&] { return "must be at least " + Shown(t, s.minimum); });
  }
  if (s.maximum != 0 && !(n.number <= t.at(s.maximum).number)) {
    return Fail(c, s, "maximum", [&] { return "must be at most " + Shown(t, s.maximum); });
  }
  if (s.exclusive_minimum != 0 && !(n.number > t.at(s.exclusive_minimum).number)) {
    return Fail(c, s, "exclusiveMinimum",
                [&] { return "must be greater than " + Shown(t, s.exclusive_minimum); });
  }
  if (s.exclusive_maximum != 0 && !(n.number < t.at(s.exclusive_maximum).number)) {
    return Fail(c, s, "exclusiveMaximum",
                [&] { return "must be less than " + Shown(t, s.exclusive_maximum); });
  }
  if (s.multiple_of != 0 && !IsMultipleOf(n, t.at(s.multiple_of))) {
    return Fail(c, s, "multipleOf",
                [&] { return "must be a multiple of " + Shown(t, s.multiple_of); });
  }
  return true;
}

bool CheckString(const Node& s, const JsonNode& n, Ctx& c) {
  const std::string_view text = c.value.String(n);
  if (s.min_length != 0 || s.max_length != 0) {
    const uint64_t length = CodePoints(text);
    if (s.min_length != 0 && length < Count(c.schema, s.min_length)) {
      return Fail(c, s, "minLength", [&] {
        return "must be at least " + Shown(c.schema, s.min_length) + " characters long";
      });
    }
    if (s.max_length != 0 && length > Count(c.schema, s.max_length)) {
      return Fail(c, s, "maxLength", [&] {
        return "must be at most " + Shown(c.schema, s.max_length) + " characters long";
      });
    }
  }
  if (s.pattern != nullptr &&
      !RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *s.pattern)) {
    return Fail(c, s, "pattern",
                [&] { return "does not match pattern " + std::string(s.pattern_source); });
  }
  if (s.format == Format::kDate && !IsRfc3339Date(text)) {
    return Fail(c, s, "format", [] { return std::string("does not match format date"); });
  }
  if (s.format == Format::kDateTime && !IsRfc3339DateTime(text)) {
    return Fail(c, s, "format", [] { return std::string("does not match format date-time"); });
  }
  return true;
}

bool CheckArray(const Node& s, uint32_t i, const JsonNode& n, Ctx& c) {
  if (s.min_items != 0 && n.count < Count(c.schema, s.min_items)) {
    return Fail(c, s, "minItems",
                [&] { return "must have at least " + Shown(c.schema, s.min_items) + " items"; });
  }
  if (s.max_items != 0 && n.count > Count(c.schema, s.max_items)) {
    return Fail(c, s, "maxItems",
                [&] { return "must have at most " + Shown(c.schema, s.max_items) + " items"; });
  }
  uint32_t item = i + 1;
  uint64_t contained = 0;
  for (uint32_t k = 0; k < n.count; ++k) {
    const Node* applies = k < s.prefix_items.size() ? s.prefix_items[k] : s.items;
    if (applies != nullptr) {
      c.path.push_back({.index = k, .is_index = true});
      const bool ok = Check(*applies, item, c);
      c.path.pop_back();
      if (!ok) return false;
    }
    if (s.contains != nullptr) {
      if (Try(*s.contains, item, c)) ++contained;
      if (!c.hard.ok()) return false;
    }
    item = c.value.at(item).end;
  }
  if (s.contains != nullptr) {
    const uint64_t at_least = s.min_contains != 0 ? Count(c.schema, s.min_contains) : 1;
    if (contained < at_least) {
      return Fail(c, s, s.min_contains != 0 ? "minContains" : "contains", [&] {
        return at_least == 1 ? std::string("must contain an item that matches contains")
                             : "must contain at least " + std::to_string(at_least) +
                                   " items that match contains";
      });
    }
    if (s.max_contains != 0 && contained > Count(c.schema, s.max_contains)) {
      return Fail(c, s, "maxContains", [&] {
        return "must contain at most " + Shown(c.schema, s.max_contains) +
               " items that match contains";
      });
    }
  }
  if (s.unique_items && n.count > 1) {
    std::vector<std::pair<uint64_t, uint32_t>> hashes;
    hashes.reserve(n.count);
    for (uint32_t k = 0, at = i + 1; k < n.count; ++k, at = c.value.at(at).end) {
      hashes.emplace_back(JsonHash(c.value, at), at);
    }
    std::sort(hashes.begin(), hashes.end());
    for (size_t a = 0; a < hashes.size(); ++a) {
      for (size_t b = a + 1; b < hashes.size() && hashes[b].first == hashes[a].first; ++b) {
        if (JsonEqual(c.value, hashes[a].second, c.value, hashes[b].second)) {
          return Fail(c, s, "uniqueItems",
                      [] { return std::string("must not hold the same item twice"); });
        }
      }
    }
  }
  return true;
}

// The first of `s.required` (in the schema's order) that object `i` lacks, or nullptr: one pass
// over the members, each looked up in the sorted names.
const std::string_view* MissingRequired(const Node& s, uint32_t i, Ctx& c) {
  const size_t wanted = s.required.size();
  if (wanted == 0) return nullptr;
  constexpr size_t kInline = 64;
  bool inline_seen[kInline] = {};
  std::vector<bool> more_seen(wanted > kInline ? wanted : 0);
  size_t found = 0;
  for (MemberCursor m(c.value, i); m && found < wanted; m.Next()) {
    const std::string_view key = m.key();
    auto it = std::lower_bound(s.required_sorted.begin(), s.required_sorted.end(), key,
                               [](const std::pair<std::string_view, uint32_t>& a,
                                  std::string_view k) { return a.first < k; });
    if (it == s.required_sorted.end() || it->first != key) continue;
    const uint32_t k = it->second;
    const bool seen = wanted > kInline ? more_seen[k] : inline_seen[k];
    if (seen) continue;  // a duplicate member
    if (wanted > kInline) {
      more_seen[k] = true;
    } else {
      inline_seen[k] = true;
    }
    ++found;
  }
  if (found == wanted) return nullptr;
  for (size_t k = 0; k < wanted; ++k) {
    if (!(wanted > kInline ? more_seen[k] : inline_seen[k])) return &s.required[k];
  }
  return nullptr;
}

bool CheckObject(const Node& s, uint32_t i, const JsonNode& n, Ctx& c) {
  if (const std::string_view* missing = MissingRequired(s, i, c); missing != nullptr) {
    c.path.push_back({.key = *missing});
    const bool ok = Fail(c, s, "required", [] { return std::string("is required but missing"); });
    c.path.pop_back();
    return ok;
  }
  if (s.min_properties != 0 && n.count < Count(c.schema, s.min_properties)) {
    return Fail(c, s, "minProperties", [&] {
      return "must have at least " + Shown(c.schema, s.min_properties) + " members";
    });
  }
  if (s.max_properties != 0 && n.count > Count(c.schema, s.max_properties)) {
    return Fail(c, s, "maxProperties", [&] {
      return "must have at most " + Shown(c.schema, s.max_properties) + " members";
    });
  }
  const bool members_checked = !s.properties.empty() || !s.pattern_properties.empty() ||
                               s.additional_properties != nullptr || s.property_names != nullptr;
  if (members_checked) {
    for (MemberCursor m(c.value, i); m; m.Next()) {
      const std::string_view key = m.key();
      c.path.push_back({.key = key});
      bool matched = false;
      bool ok = true;
      auto p = std::lower_bound(
          s.properties.begin(), s.properties.end(), key,
          [](const internal::NamedSchema& a, std::string_view k) { return a.name < k; });
      if (p != s.properties.end() && p->name == key) {
        matched = true;
        ok = Check(*p->schema, m.value(), c);
      }
      for (size_t k = 0; ok && k < s.pattern_properties.size(); ++k) {
        const internal::PatternSchema& pp = s.pattern_properties[k];
        if (RE2::PartialMatch(re2::StringPiece(key.data(), key.size()), *pp.re)) {
          matched = true;
          ok = Check(*pp.schema, m.value(), c);
        }
      }
      if (ok && !matched && s.additional_properties != nullptr) {
        if (s.additional_properties->always_false) {
          ok = Fail(c, s, "additionalProperties",
                    [] { return std::string("is not allowed here (additionalProperties)"); });
        } else {
          ok = Check(*s.additional_properties, m.value(), c);
        }
      }
      if (ok && s.property_names != nullptr) ok = Check(*s.property_names, m.key_index(), c);
      c.path.pop_back();
      if (!ok) return false;
    }
  }
  for (const internal::DependentRequired& d : s.dependent_required) {
    if (c.value.Member(i, d.name) == 0) continue;
    for (std::string_view name : d.required) {
      if (c.value.Member(i, name) != 0) continue;
      c.path.push_back({.key = name});
      const bool ok = Fail(c, s, "dependentRequired", [&] {
        return "is required when " + std::string(d.name) + " is present";
      });
      c.path.pop_back();
      return ok;
    }
  }
  for (const internal::NamedSchema& d : s.dependent_schemas) {
    if (c.value.Member(i, d.name) != 0 && !Check(*d.schema, i, c)) return false;
  }
  return true;
}

bool CheckApplicators(const Node& s, uint32_t i, Ctx& c) {
  for (const Node* sub : s.all_of) {
    if (!Check(*sub, i, c)) return false;
  }
  if (!s.any_of.empty()) {
    bool any = false;
    for (const Node* sub : s.any_of) {
      if (Try(*sub, i, c)) {
        any = true;
        break;
      }
      if (!c.hard.ok()) return false;
    }
    if (!any) {
      return Fail(c, s, "anyOf", [] { return std::string("matches none of the anyOf schemas"); });
    }
  }
  if (!s.one_of.empty()) {
    size_t matches = 0;
    for (const Node* sub : s.one_of) {
      if (Try(*sub, i, c)) ++matches;
      if (!c.hard.ok()) return false;
    }
    if (matches != 1) {
      return Fail(c, s, "oneOf", [&] {
        return matches == 0 ? std::string("matches none of the oneOf schemas")
                            : "matches " + std::to_string(matches) +
                                  " of the oneOf schemas (exactly one is required)";
      });
    }
  }
  if (s.not_schema != nullptr) {
    const bool matched = Try(*s.not_schema, i, c);
    if (!c.hard.ok()) return false;
    if (matched) {
      return Fail(c, s, "not", [] { return std::string("must not match the schema in not"); });
    }
  }
  if (s.if_schema != nullptr && (s.then_schema != nullptr || s.else_schema != nullptr)) {
    const bool condition = Try(*s.if_schema, i, c);
    if (!c.hard.ok()) return false;
    const Node* branch = condition ? s.then_schema : s.else_schema;
    if (branch != nullptr && !Check(*branch, i, c)) return false;
  }
  return true;
}

bool Check(const Node& s, uint32_t i, Ctx& c) {
  if (!c.hard.ok()) return false;
  if (++c.steps > c.limits.max_steps) {
    c.hard =
        ResourceExhausted("checking the value against the schema takes more than " +
                          std::to_string(c.limits.max_steps) + " steps, the limit of this bus");
    return false;
  }
  if (s.always_false) {
    return Fail(c, s, "", [] { return std::string("is not allowed here (the schema is false)"); });
  }
  struct DepthGuard {
    int& depth;
    explicit DepthGuard(int& d) : depth(++d) {}
    ~DepthGuard() { --depth; }
  } guard(c.depth);
  // Each level of the value costs a few frames here (a $ref, an allOf ...): the bound keeps the
  // stack small whatever the schema does.
  if (c.depth > 4 * c.limits.max_instance_depth + 64) {
    c.hard = InvalidArgument("the value is nested too deeply to be checked against the schema");
    return false;
  }
  if (s.ref != nullptr && !Check(*s.ref, i, c)) return false;
  const JsonNode& n = c.value.at(i);
  if (s.types != 0 && !TypeMatches(s.types, n)) {
    return Fail(c, s, "type", [&] {
      return "must be " + TypeNames(s.types) + ", not " + std::string(KindOf(n));
    });
  }
  if (s.const_value != 0 && !JsonEqual(c.value, i, c.schema, s.const_value)) {
    return Fail(c, s, "const", [&] { return "must be " + Shown(c.schema, s.const_value); });
  }
  if (s.has_enum) {
    const bool found = std::any_of(s.enum_values.begin(), s.enum_values.end(),
                                   [&](uint32_t e) { return JsonEqual(c.value, i, c.schema, e); });
    if (!found) {
      return Fail(c, s, "enum", [&] {
        std::string out = "must be one of ";
        for (size_t k = 0; k < s.enum_values.size() && k < 10; ++k) {
          if (k > 0) out += ", ";
          out += Shown(c.schema, s.enum_values[k]);
        }
        if (s.enum_values.size() > 10) out += ", ...";
        return out;
      });
    }
  }
  bool ok = true;
  switch (n.type) {
    case JsonType::kNumber:
      ok = CheckNumber(s, n, c);
      break;
    case JsonType::kString:
      ok = CheckString(s, n, c);
      break;
    case JsonType::kArray:
      ok = CheckArray(s, i, n, c);
      break;
    case JsonType::kObject:
      ok = CheckObject(s, i, n, c);
      break;
    default:
      break;
  }
  return ok && CheckApplicators(s, i, c);
}

}  // namespace

std::string Violation::ToString() const {
  return (instance_path.empty() ? std::string("(root)") : instance_path) + ": " + rule;
}

Result<std::optional<Violation>> Schema::Validate(std::string_view instance) const {
  GOVESB_ASSIGN_OR_RETURN(JsonTree tree,
                          JsonTree::Parse(instance, compiled_->limits.max_instance_depth));
  return Validate(tree, 0);
}

Result<std::optional<Violation>> Schema::Validate(const JsonTree& tree, uint32_t index) const {
  std::optional<Violation> violation;
  Ctx c{.schema = compiled_->tree, .value = tree, .limits = compiled_->limits, .out = &violation};
  c.path.reserve(8);
  const bool ok = Check(*compiled_->nodes.front(), index, c);
  if (!c.hard.ok()) return c.hard;
  if (ok) return std::optional<Violation>();
  if (!violation.has_value()) {
    // Every failure records itself; an unrecorded one would be a bug here, not in the value.
    violation = Violation{.instance_path = "", .keyword_path = "#", .rule = "does not match"};
  }
  return violation;
}

}  // namespace govesb::schema
