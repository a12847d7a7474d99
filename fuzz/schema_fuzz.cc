// API contracts (src/schema): the body's tree parser (JsonTree), the schema compiler and the
// validator, fed outside bytes both as a body and as a schema.
#include <memory>
#include <string>

#include "fuzz_common.h"
#include "schema/json_tree.h"
#include "schema/schema.h"
#include "wire/json.h"

namespace schema = govesb::schema;
using govesb::fuzz::AsText;

namespace {

// A contract with every kind of keyword, compiled once.
const schema::Schema& Contract() {
  static const std::shared_ptr<const schema::Schema> contract = [] {
    auto s = schema::Schema::Compile(R"({
      "$defs": {"nin": {"type": "string", "pattern": "^[0-9]{8}-[0-9]{5}$"},
                "node": {"type": "object", "properties": {"kids": {"items": {"$ref": "#/$defs/node"}}}}},
      "type": ["object", "array", "string", "number"],
      "properties": {"nin": {"$ref": "#/$defs/nin"}, "born": {"format": "date-time"},
                     "n": {"multipleOf": 0.01, "exclusiveMaximum": 1e9},
                     "tree": {"$ref": "#/$defs/node"}, "e": {"enum": [1, "a", null, [1], {"x": 2}]}},
      "patternProperties": {"^x-": {"minLength": 1, "maxLength": 5}},
      "additionalProperties": {"not": {"type": "null"}},
      "propertyNames": {"maxLength": 40},
      "dependentRequired": {"a": ["b"]},
      "prefixItems": [{"const": 1}], "items": {"uniqueItems": true},
      "contains": {"type": "string"}, "minContains": 0,
      "anyOf": [{"type": "object"}, {"minItems": 0}, {"format": "date"}, {"minimum": 0}],
      "oneOf": [{"type": "object"}, {"not": {"type": "object"}}],
      "if": {"required": ["a"]}, "then": {"minProperties": 2}
    })");
    GOVESB_FUZZ_CHECK(s.ok());
    return *s;
  }();
  return *contract;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = AsText(data, size);

  // One grammar: the tree accepts exactly what the wire layer accepts.
  auto tree = schema::JsonTree::Parse(text);
  GOVESB_FUZZ_CHECK(tree.ok() == govesb::wire::ValidateJson(text).ok());
  if (tree.ok()) {
    GOVESB_FUZZ_CHECK(tree->at(0).end == tree->size());
    GOVESB_FUZZ_CHECK(schema::JsonEqual(*tree, 0, *tree, 0));
    for (const schema::JsonNode& n : tree->nodes()) {
      if (n.type == schema::JsonType::kString) {
        GOVESB_FUZZ_CHECK(govesb::wire::IsValidUtf8(tree->String(n)));
      }
    }
    // As a body: judged (or too costly), never a crash; a violation names a place.
    auto verdict = Contract().Validate(*tree);
    if (verdict.ok() && verdict->has_value()) GOVESB_FUZZ_CHECK(!(*verdict)->rule.empty());
  }

  // As a schema: refused with a reason, or compiled and usable on bodies, within a small budget.
  schema::Limits limits;
  limits.max_steps = 20000;
  auto compiled = schema::Schema::Compile(text, limits);
  if (!compiled.ok()) {
    GOVESB_FUZZ_CHECK(!compiled.status().message().empty());
    return 0;
  }
  GOVESB_FUZZ_CHECK(tree.ok());
  for (std::string_view body :
       {std::string_view("{}"), std::string_view("[1,\"a\",{\"b\":[]}]"),
        std::string_view("\"2024-02-29\""), std::string_view("-1.5e3"), text}) {
    (void)(*compiled)->Validate(body);
  }
  return 0;
}
