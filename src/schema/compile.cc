// Compiling a schema document: every subschema becomes a Node once, keyword values are checked
// (a keyword this validator implements with a value of the wrong kind is refused, naming where),
// $ref is resolved within the document, and what could make a check endless or too costly is
// refused before the schema is ever used.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "schema/node.h"

namespace govesb::schema {

using internal::Format;
using internal::Node;

namespace {

constexpr std::string_view kDialectWithHash = "https://json-schema.org/draft/2020-12/schema#";

// Keywords of other drafts or of 2020-12 that this validator does not implement: refused, so
// that a provider never believes a rule is enforced when it is not.
std::string_view Unsupported(std::string_view keyword) {
  if (keyword == "$anchor" || keyword == "$dynamicRef" || keyword == "$dynamicAnchor" ||
      keyword == "$recursiveRef" || keyword == "$recursiveAnchor" || keyword == "$vocabulary") {
    return "is not supported: references are JSON pointers within the document (\"#/$defs/...\")";
  }
  if (keyword == "unevaluatedProperties" || keyword == "unevaluatedItems") {
    return "is not supported: use additionalProperties / items";
  }
  if (keyword == "dependencies") {
    return "is not a draft 2020-12 keyword: use dependentRequired or dependentSchemas";
  }
  if (keyword == "additionalItems") {
    return "is not a draft 2020-12 keyword: use prefixItems and items";
  }
  return {};
}

// "~" and "/" escaped for a JSON pointer token.
std::string PointerToken(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Compiler {
 public:
  Compiler(Schema::Compiled& out) : c_(out), tree_(out.tree), limits_(out.limits) {}

  Status Run() {
    GOVESB_ASSIGN_OR_RETURN(Node * root, CompileAt(0, "#"));
    (void)root;
    // References may point at places compiled only because of them, which may hold references.
    while (!pending_.empty()) {
      PendingRef ref = std::move(pending_.back());
      pending_.pop_back();
      GOVESB_RETURN_IF_ERROR(Resolve(ref));
    }
    return CheckLoops();
  }

 private:
  struct PendingRef {
    Node* node = nullptr;
    std::string_view target = {};          // the $ref text (decoded)
    std::string location = std::string();  // of the $ref keyword
  };

  static Status Refuse(const std::string& location, std::string_view what) {
    return InvalidArgument(location + ": " + std::string(what));
  }

  std::string_view TypeName(uint32_t index) const {
    return wire::JsonTypeName(tree_.at(index).type);
  }

  Result<Node*> CompileAt(uint32_t index, std::string location);
  Status Keyword(Node& node, std::string_view key, uint32_t value, const std::string& location,
                 bool root);
  Result<const Node*> Sub(uint32_t value, const std::string& location) {
    GOVESB_ASSIGN_OR_RETURN(Node * node, CompileAt(value, location));
    return node;
  }
  Status SchemaArray(uint32_t value, const std::string& location, std::vector<const Node*>& out);
  Status SchemaMap(uint32_t value, const std::string& location,
                   std::vector<internal::NamedSchema>& out);
  Result<uint32_t> NumberValue(uint32_t value, const std::string& location) const;
  Result<uint32_t> CountValue(uint32_t value, const std::string& location) const;
  Result<std::vector<std::string_view>> StringArray(uint32_t value,
                                                    const std::string& location) const;
  Result<std::unique_ptr<RE2>> Regex(std::string_view source, const std::string& location) const;
  Status Resolve(const PendingRef& ref);
  Status CheckLoops();

  Schema::Compiled& c_;
  const JsonTree& tree_;
  const Limits& limits_;
  std::unordered_map<uint32_t, Node*> by_index_;
  std::vector<PendingRef> pending_;
};

Result<Node*> Compiler::CompileAt(uint32_t index, std::string location) {
  if (auto it = by_index_.find(index); it != by_index_.end()) return it->second;
  const JsonNode& value = tree_.at(index);
  if (value.type != JsonType::kObject && value.type != JsonType::kTrue &&
      value.type != JsonType::kFalse) {
    return Refuse(location,
                  "a schema must be an object or a boolean, not " + std::string(TypeName(index)));
  }
  if (c_.nodes.size() >= limits_.max_subschemas) {
    return ResourceExhausted(location + ": the schema has more than " +
                             std::to_string(limits_.max_subschemas) +
                             " subschemas, the limit of this bus");
  }
  c_.nodes.push_back(std::make_unique<Node>());
  Node* node = c_.nodes.back().get();
  node->location = location;
  by_index_.emplace(index, node);
  if (value.type == JsonType::kFalse) node->always_false = true;
  if (value.type != JsonType::kObject) return node;
  for (MemberCursor m(tree_, index); m; m.Next()) {
    if (tree_.Member(index, m.key()) != m.value()) continue;  // duplicates: the last one counts
    GOVESB_RETURN_IF_ERROR(
        Keyword(*node, m.key(), m.value(), location + "/" + PointerToken(m.key()), index == 0));
  }
  if (node->properties.size() > 1) {
    std::sort(node->properties.begin(), node->properties.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
  }
  return node;
}

Status Compiler::SchemaArray(uint32_t value, const std::string& location,
                             std::vector<const Node*>& out) {
  const JsonNode& v = tree_.at(value);
  if (v.type != JsonType::kArray || v.count == 0) {
    return Refuse(location, "must be a non-empty array of schemas");
  }
  uint32_t item = value + 1;
  for (uint32_t k = 0; k < v.count; ++k) {
    GOVESB_ASSIGN_OR_RETURN(const Node* sub, Sub(item, location + "/" + std::to_string(k)));
    out.push_back(sub);
    item = tree_.at(item).end;
  }
  return Status::Ok();
}

Status Compiler::SchemaMap(uint32_t value, const std::string& location,
                           std::vector<internal::NamedSchema>& out) {
  if (tree_.at(value).type != JsonType::kObject) {
    return Refuse(location, "must be an object whose members are schemas");
  }
  for (MemberCursor m(tree_, value); m; m.Next()) {
    if (tree_.Member(value, m.key()) != m.value()) continue;
    GOVESB_ASSIGN_OR_RETURN(const Node* sub,
                            Sub(m.value(), location + "/" + PointerToken(m.key())));
    out.push_back({m.key(), sub});
  }
  return Status::Ok();
}

Result<uint32_t> Compiler::NumberValue(uint32_t value, const std::string& location) const {
  if (tree_.at(value).type != JsonType::kNumber) return Refuse(location, "must be a number");
  return value;
}

Result<uint32_t> Compiler::CountValue(uint32_t value, const std::string& location) const {
  const JsonNode& v = tree_.at(value);
  if (v.type != JsonType::kNumber || v.number < 0 || std::isinf(v.number) ||
      v.number != std::trunc(v.number)) {
    return Refuse(location, "must be a non-negative integer");
  }
  return value;
}

Result<std::vector<std::string_view>> Compiler::StringArray(uint32_t value,
                                                            const std::string& location) const {
  const JsonNode& v = tree_.at(value);
  if (v.type != JsonType::kArray) return Refuse(location, "must be an array of strings");
  std::vector<std::string_view> out;
  uint32_t item = value + 1;
  for (uint32_t k = 0; k < v.count; ++k) {
    if (tree_.at(item).type != JsonType::kString) {
      return Refuse(location + "/" + std::to_string(k), "must be a string");
    }
    std::string_view name = tree_.String(item);
    if (std::find(out.begin(), out.end(), name) != out.end()) {
      return Refuse(location + "/" + std::to_string(k), "repeats \"" + std::string(name) + "\"");
    }
    out.push_back(name);
    item = tree_.at(item).end;
  }
  return out;
}

Result<std::unique_ptr<RE2>> Compiler::Regex(std::string_view source,
                                             const std::string& location) const {
  if (source.size() > limits_.max_pattern_bytes) {
    return ResourceExhausted(location + ": the pattern is longer than " +
                             std::to_string(limits_.max_pattern_bytes) +
                             " bytes, the limit of this bus");
  }
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingUTF8);
  options.set_log_errors(false);
  options.set_max_mem(1 << 20);
  auto re = std::make_unique<RE2>(re2::StringPiece(source.data(), source.size()), options);
  if (!re->ok()) {
    return Refuse(location,
                  "is not a regular expression this bus supports (RE2 syntax: no lookaround, "
                  "no backreferences): " +
                      re->error());
  }
  return re;
}

Status Compiler::Keyword(Node& node, std::string_view key, uint32_t value,
                         const std::string& location, bool root) {
  const JsonNode& v = tree_.at(value);
  if (std::string_view why = Unsupported(key); !why.empty()) return Refuse(location, why);
  if (key == "$schema") {
    if (!root) return Refuse(location, "is allowed only at the top of the schema");
    if (v.type != JsonType::kString ||
        (tree_.String(value) != kDialect && tree_.String(value) != kDialectWithHash)) {
      return Refuse(location, "this bus validates JSON Schema draft 2020-12 only (\"$schema\": \"" +
                                  std::string(kDialect) + "\", or no $schema)");
    }
    return Status::Ok();
  }
  if (key == "$id") {
    if (!root) {
      return Refuse(location,
                    "is not supported inside a schema (references are resolved within the "
                    "document, from its top)");
    }
    if (v.type != JsonType::kString) return Refuse(location, "must be a string");
    return Status::Ok();
  }
  if (key == "$ref") {
    if (v.type != JsonType::kString) return Refuse(location, "must be a string");
    pending_.push_back({&node, tree_.String(value), location});
    return Status::Ok();
  }
  if (key == "$defs" || key == "definitions") {
    // Compiled whether referenced or not: a mistake in them is refused now, not when used.
    std::vector<internal::NamedSchema> defs;
    return SchemaMap(value, location, defs);
  }
  if (key == "type") {
    auto bit = [](std::string_view name) -> uint8_t {
      if (name == "null") return internal::kTypeNull;
      if (name == "boolean") return internal::kTypeBoolean;
      if (name == "object") return internal::kTypeObject;
      if (name == "array") return internal::kTypeArray;
      if (name == "number") return internal::kTypeNumber;
      if (name == "string") return internal::kTypeString;
      if (name == "integer") return internal::kTypeInteger;
      return 0;
    };
    if (v.type == JsonType::kString) {
      node.types = bit(tree_.String(value));
      if (node.types == 0) {
        return Refuse(location, "unknown type \"" + std::string(tree_.String(value)) +
                                    "\" (null, boolean, object, array, number, string, integer)");
      }
      return Status::Ok();
    }
    if (v.type != JsonType::kArray || v.count == 0) {
      return Refuse(location, "must be a type name or a non-empty array of type names");
    }
    GOVESB_ASSIGN_OR_RETURN(std::vector<std::string_view> names, StringArray(value, location));
    for (size_t k = 0; k < names.size(); ++k) {
      const uint8_t b = bit(names[k]);
      if (b == 0) {
        return Refuse(location + "/" + std::to_string(k),
                      "unknown type \"" + std::string(names[k]) + "\"");
      }
      node.types |= b;
    }
    return Status::Ok();
  }
  if (key == "const") {
    node.const_value = value;
    return Status::Ok();
  }
  if (key == "enum") {
    if (v.type != JsonType::kArray) return Refuse(location, "must be an array");
    node.has_enum = true;
    uint32_t item = value + 1;
    for (uint32_t k = 0; k < v.count; ++k) {
      node.enum_values.push_back(item);
      item = tree_.at(item).end;
    }
    return Status::Ok();
  }
  if (key == "minimum" || key == "maximum" || key == "exclusiveMinimum" ||
      key == "exclusiveMaximum" || key == "multipleOf") {
    GOVESB_RETURN_IF_ERROR(NumberValue(value, location).status());
    if (key == "minimum") node.minimum = value;
    if (key == "maximum") node.maximum = value;
    if (key == "exclusiveMinimum") node.exclusive_minimum = value;
    if (key == "exclusiveMaximum") node.exclusive_maximum = value;
    if (key == "multipleOf") {
      if (!(v.number > 0)) return Refuse(location, "must be a number greater than 0");
      node.multiple_of = value;
    }
    return Status::Ok();
  }
  if (key == "minLength" || key == "maxLength" || key == "minItems" || key == "maxItems" ||
      key == "minContains" || key == "maxContains" || key == "minProperties" ||
      key == "maxProperties") {
    GOVESB_ASSIGN_OR_RETURN(uint32_t count, CountValue(value, location));
    if (key == "minLength") node.min_length = count;
    if (key == "maxLength") node.max_length = count;
    if (key == "minItems") node.min_items = count;
    if (key == "maxItems") node.max_items = count;
    if (key == "minContains") node.min_contains = count;
    if (key == "maxContains") node.max_contains = count;
    if (key == "minProperties") node.min_properties = count;
    if (key == "maxProperties") node.max_properties = count;
    return Status::Ok();
  }
  if (key == "pattern") {
    if (v.type != JsonType::kString) return Refuse(location, "must be a string");
    node.pattern_source = tree_.String(value);
    GOVESB_ASSIGN_OR_RETURN(node.pattern, Regex(node.pattern_source, location));
    return Status::Ok();
  }
  if (key == "format") {
    if (v.type != JsonType::kString) return Refuse(location, "must be a string");
    // Asserted: date and date-time; any other format is an annotation (draft 2020-12).
    node.format_name = tree_.String(value);
    if (node.format_name == "date") node.format = Format::kDate;
    if (node.format_name == "date-time") node.format = Format::kDateTime;
    return Status::Ok();
  }
  if (key == "uniqueItems") {
    if (v.type != JsonType::kTrue && v.type != JsonType::kFalse) {
      return Refuse(location, "must be true or false");
    }
    node.unique_items = v.type == JsonType::kTrue;
    return Status::Ok();
  }
  if (key == "items") {
    if (v.type == JsonType::kArray) {
      return Refuse(location,
                    "must be a schema (draft 2020-12); for a schema per position use prefixItems");
    }
    GOVESB_ASSIGN_OR_RETURN(node.items, Sub(value, location));
    return Status::Ok();
  }
  if (key == "prefixItems") return SchemaArray(value, location, node.prefix_items);
  if (key == "contains") {
    GOVESB_ASSIGN_OR_RETURN(node.contains, Sub(value, location));
    return Status::Ok();
  }
  if (key == "properties") return SchemaMap(value, location, node.properties);
  if (key == "patternProperties") {
    if (v.type != JsonType::kObject) {
      return Refuse(location, "must be an object whose members are schemas");
    }
    for (MemberCursor m(tree_, value); m; m.Next()) {
      if (tree_.Member(value, m.key()) != m.value()) continue;
      const std::string at = location + "/" + PointerToken(m.key());
      internal::PatternSchema p;
      p.source = m.key();
      p.location = at;
      GOVESB_ASSIGN_OR_RETURN(p.re, Regex(m.key(), at));
      GOVESB_ASSIGN_OR_RETURN(p.schema, Sub(m.value(), at));
      node.pattern_properties.push_back(std::move(p));
    }
    return Status::Ok();
  }
  if (key == "additionalProperties") {
    GOVESB_ASSIGN_OR_RETURN(node.additional_properties, Sub(value, location));
    return Status::Ok();
  }
  if (key == "propertyNames") {
    GOVESB_ASSIGN_OR_RETURN(node.property_names, Sub(value, location));
    return Status::Ok();
  }
  if (key == "required") {
    GOVESB_ASSIGN_OR_RETURN(node.required, StringArray(value, location));
    node.required_sorted.clear();
    for (size_t k = 0; k < node.required.size(); ++k) {
      node.required_sorted.emplace_back(node.required[k], static_cast<uint32_t>(k));
    }
    std::sort(node.required_sorted.begin(), node.required_sorted.end());
    return Status::Ok();
  }
  if (key == "dependentRequired") {
    if (v.type != JsonType::kObject) {
      return Refuse(location, "must be an object whose members are arrays of strings");
    }
    for (MemberCursor m(tree_, value); m; m.Next()) {
      if (tree_.Member(value, m.key()) != m.value()) continue;
      GOVESB_ASSIGN_OR_RETURN(std::vector<std::string_view> names,
                              StringArray(m.value(), location + "/" + PointerToken(m.key())));
      node.dependent_required.push_back({m.key(), std::move(names)});
    }
    return Status::Ok();
  }
  if (key == "dependentSchemas") return SchemaMap(value, location, node.dependent_schemas);
  if (key == "allOf") return SchemaArray(value, location, node.all_of);
  if (key == "anyOf") return SchemaArray(value, location, node.any_of);
  if (key == "oneOf") return SchemaArray(value, location, node.one_of);
  if (key == "not" || key == "if" || key == "then" || key == "else") {
    GOVESB_ASSIGN_OR_RETURN(const Node* sub, Sub(value, location));
    if (key == "not") node.not_schema = sub;
    if (key == "if") node.if_schema = sub;
    if (key == "then") node.then_schema = sub;
    if (key == "else") node.else_schema = sub;
    return Status::Ok();
  }
  // Annotations (title, description, default, examples, $comment, deprecated, readOnly,
  // writeOnly, contentMediaType ...) and unknown keywords: ignored, as the specification says.
  return Status::Ok();
}

Status Compiler::Resolve(const PendingRef& ref) {
  std::string_view target = ref.target;
  if (target.empty() || target[0] != '#' || (target.size() > 1 && target[1] != '/')) {
    return Refuse(ref.location,
                  "only references within the document are supported (\"#\" or a JSON pointer "
                  "such as \"#/$defs/name\"), not \"" +
                      std::string(target) + "\"");
  }
  // The fragment is percent-encoded (URI), then a JSON pointer (~0, ~1).
  std::string fragment;
  for (size_t i = 1; i < target.size(); ++i) {
    if (target[i] == '%' && i + 2 < target.size() && HexValue(target[i + 1]) >= 0 &&
        HexValue(target[i + 2]) >= 0) {
      fragment += static_cast<char>(HexValue(target[i + 1]) * 16 + HexValue(target[i + 2]));
      i += 2;
    } else {
      fragment += target[i];
    }
  }
  uint32_t at = 0;
  size_t pos = 0;
  while (pos < fragment.size()) {
    // fragment[pos] == '/'
    size_t next = fragment.find('/', pos + 1);
    if (next == std::string::npos) next = fragment.size();
    std::string token;
    for (size_t i = pos + 1; i < next; ++i) {
      if (fragment[i] == '~' && i + 1 < next &&
          (fragment[i + 1] == '0' || fragment[i + 1] == '1')) {
        token += fragment[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        token += fragment[i];
      }
    }
    const JsonNode& here = tree_.at(at);
    uint32_t found = 0;
    if (here.type == JsonType::kObject) {
      found = tree_.Member(at, token);
    } else if (here.type == JsonType::kArray && !token.empty() &&
               token.find_first_not_of("0123456789") == std::string::npos && token.size() < 10) {
      const uint32_t k = static_cast<uint32_t>(std::stoul(token));
      if (k < here.count) {
        found = at + 1;
        for (uint32_t n = 0; n < k; ++n) found = tree_.at(found).end;
      }
    }
    if (found == 0) {
      return Refuse(ref.location,
                    "\"" + std::string(target) + "\" points at nothing in this schema");
    }
    at = found;
    pos = next;
  }
  GOVESB_ASSIGN_OR_RETURN(Node * resolved, CompileAt(at, "#" + fragment));
  ref.node->ref = resolved;
  return Status::Ok();
}

// A loop of subschemas applied to the same value ($ref to an enclosing schema through allOf,
// anyOf, oneOf, not, if/then/else, dependentSchemas) would never end: refused. Loops that go
// into the value (a tree's children) end with the value.
Status Compiler::CheckLoops() {
  enum Color : uint8_t { kWhite, kGrey, kBlack };
  std::unordered_map<const Node*, Color> color;
  struct Frame {
    const Node* node;
    std::vector<const Node*> next;
    size_t i = 0;
  };
  auto in_place = [](const Node* n) {
    std::vector<const Node*> out;
    if (n->ref != nullptr) out.push_back(n->ref);
    out.insert(out.end(), n->all_of.begin(), n->all_of.end());
    out.insert(out.end(), n->any_of.begin(), n->any_of.end());
    out.insert(out.end(), n->one_of.begin(), n->one_of.end());
    for (const Node* s : {n->not_schema, n->if_schema, n->then_schema, n->else_schema}) {
      if (s != nullptr) out.push_back(s);
    }
    for (const auto& d : n->dependent_schemas) out.push_back(d.schema);
    return out;
  };
  for (const auto& start : c_.nodes) {
    if (color[start.get()] != kWhite) continue;
    std::vector<Frame> stack;
    stack.push_back({start.get(), in_place(start.get())});
    color[start.get()] = kGrey;
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.i == f.next.size()) {
        color[f.node] = kBlack;
        stack.pop_back();
        continue;
      }
      const Node* n = f.next[f.i++];
      if (color[n] == kGrey) {
        return Refuse(f.node->location,
                      "refers back to " + n->location +
                          " without going into the value (the check would never end)");
      }
      if (color[n] == kWhite) {
        color[n] = kGrey;
        stack.push_back({n, in_place(n)});
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<const Schema>> Schema::Compile(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_text_bytes) {
    return ResourceExhausted("the schema is larger than " +
                             std::to_string(limits.max_text_bytes / 1024) +
                             " KB, the limit of this bus");
  }
  auto compiled = std::make_unique<Compiled>();
  compiled->text = std::string(text);
  compiled->limits = limits;
  Result<JsonTree> tree = JsonTree::Parse(compiled->text, limits.max_depth);
  if (!tree.ok()) {
    if (tree.status().message().find("nesting deeper") != std::string::npos) {
      return ResourceExhausted("the schema is nested deeper than " +
                               std::to_string(limits.max_depth) +
                               " levels, the limit of this bus (" + tree.status().message() + ")");
    }
    return InvalidArgument("the schema is " + tree.status().message());
  }
  compiled->tree = std::move(tree).value();
  GOVESB_RETURN_IF_ERROR(Compiler(*compiled).Run());
  return std::make_shared<const Schema>(std::move(compiled));
}

Schema::Schema(std::unique_ptr<Compiled> compiled) : compiled_(std::move(compiled)) {}
Schema::~Schema() = default;

const std::string& Schema::text() const { return compiled_->text; }
size_t Schema::subschema_count() const { return compiled_->nodes.size(); }
const Limits& Schema::limits() const { return compiled_->limits; }

}  // namespace govesb::schema
