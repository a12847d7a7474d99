#pragma once

// Internal to the schema module: one compiled (sub)schema. Built by compile.cc, read by
// validate.cc. Values the checks compare with (limits, const, enum) stay in the schema's
// JsonTree and are referred to by node index; index 0 (the document's root, never a keyword's
// value) means "not set".

#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schema/json_tree.h"
#include "schema/schema.h"

namespace govesb::schema::internal {

// The `type` keyword as a bit set.
enum TypeBit : uint8_t {
  kTypeNull = 1,
  kTypeBoolean = 2,
  kTypeObject = 4,
  kTypeArray = 8,
  kTypeNumber = 16,
  kTypeString = 32,
  kTypeInteger = 64,
};

enum class Format { kNone, kDate, kDateTime };

struct Node;

struct NamedSchema {
  std::string_view name = {};  // decoded, points into the schema tree
  const Node* schema = nullptr;
};

struct PatternSchema {
  std::unique_ptr<RE2> re = nullptr;
  std::string_view source = {};
  std::string location = std::string();  // of the pattern's schema
  const Node* schema = nullptr;
};

struct DependentRequired {
  std::string_view name = {};
  std::vector<std::string_view> required = {};
};

struct Node {
  // Where this schema is in the document, as a URI fragment ("#/properties/age"): the start of
  // every keyword location in violations.
  std::string location;
  bool always_false = false;  // the schema `false`

  const Node* ref = nullptr;

  uint8_t types = 0;  // TypeBit set; 0: any type
  uint32_t const_value = 0;
  bool has_enum = false;
  std::vector<uint32_t> enum_values;

  // Numbers (indexes of number nodes in the schema tree).
  uint32_t minimum = 0, maximum = 0, exclusive_minimum = 0, exclusive_maximum = 0;
  uint32_t multiple_of = 0;

  // Strings.
  uint32_t min_length = 0, max_length = 0;
  std::unique_ptr<RE2> pattern;
  std::string_view pattern_source;
  Format format = Format::kNone;
  std::string_view format_name;

  // Arrays.
  std::vector<const Node*> prefix_items;
  const Node* items = nullptr;
  const Node* contains = nullptr;
  uint32_t min_items = 0, max_items = 0, min_contains = 0, max_contains = 0;
  bool unique_items = false;

  // Objects. `properties` sorted by name for binary search.
  std::vector<NamedSchema> properties;
  std::vector<PatternSchema> pattern_properties;
  const Node* additional_properties = nullptr;
  const Node* property_names = nullptr;
  std::vector<std::string_view> required;
  // `required` sorted by name, each with its position in `required`: one pass over the members
  // finds which are present (the first missing one, in the schema's order, is reported).
  std::vector<std::pair<std::string_view, uint32_t>> required_sorted;
  std::vector<DependentRequired> dependent_required;
  std::vector<NamedSchema> dependent_schemas;
  uint32_t min_properties = 0, max_properties = 0;

  // Applied to the same value.
  std::vector<const Node*> all_of, any_of, one_of;
  const Node* not_schema = nullptr;
  const Node* if_schema = nullptr;
  const Node* then_schema = nullptr;
  const Node* else_schema = nullptr;
};

}  // namespace govesb::schema::internal

namespace govesb::schema {

// The compiled form: its own copy of the text, the tree over it (string views point into both,
// so this lives on the heap and never moves), and the nodes, the root first.
struct Schema::Compiled {
  std::string text;
  JsonTree tree;
  Limits limits;
  std::vector<std::unique_ptr<internal::Node>> nodes;
};

}  // namespace govesb::schema
