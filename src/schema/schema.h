#pragma once

// API contracts: a JSON Schema (draft 2020-12) compiled once into a validator (README.md lists
// the keywords, the limits and the regular-expression dialect). The registry compiles each
// API's request and response schemas when it builds a snapshot; the engine validates bodies
// against them on every exchange.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "schema/json_tree.h"

namespace govesb::schema {

// What a schema may cost, checked when it is compiled (publish time) and when a body is
// validated. The defaults are the bus's documented limits.
struct Limits {
  size_t max_text_bytes = 256 * 1024;  // the schema's JSON text
  int max_depth = 64;                  // JSON nesting of the schema document
  size_t max_subschemas = 5000;        // schema objects (and booleans) compiled
  size_t max_pattern_bytes = 1000;     // each `pattern` and `patternProperties` name
  // Validation: nesting of the body, and subschema applications per body (anyOf and $ref can
  // make a small schema check a value many times; beyond this the body is not judged).
  int max_instance_depth = 200;
  uint64_t max_steps = 1'000'000;
};

// Why a value does not match: where in the value (a JSON pointer, "" for the value itself),
// which keyword of the schema (a URI fragment, "#/properties/age/minimum") and the rule in words.
struct Violation {
  std::string instance_path = std::string();
  std::string keyword_path = std::string();
  std::string rule = std::string();

  // "/age: must be at least 0"; the value itself is "(root)".
  std::string ToString() const;
};

// A compiled schema. Immutable; Validate is thread-safe. Shared as shared_ptr<const Schema>.
class Schema {
 public:
  // Compiles `text`. kInvalidArgument naming the place in the schema ("#/properties/age/minimum:
  // must be a number"), or kResourceExhausted when a limit is exceeded (naming the limit).
  static Result<std::shared_ptr<const Schema>> Compile(std::string_view text,
                                                       const Limits& limits = {});

  // nullopt when `instance` (one JSON value) matches; otherwise the first violation found.
  // An error when it cannot be judged: not JSON or nested deeper than the limit (the value's
  // fault: kInvalidArgument), or too costly to check (the schema's: kResourceExhausted).
  Result<std::optional<Violation>> Validate(std::string_view instance) const;
  // The same over a value already parsed (the node `index` of `tree`).
  Result<std::optional<Violation>> Validate(const JsonTree& tree, uint32_t index = 0) const;

  // The text it was compiled from.
  const std::string& text() const;
  size_t subschema_count() const;
  const Limits& limits() const;

  ~Schema();
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

  struct Compiled;
  explicit Schema(std::unique_ptr<Compiled> compiled);

 private:
  std::unique_ptr<Compiled> compiled_;
};

// The dialect this bus accepts as `$schema` (optional; no other is accepted).
inline constexpr std::string_view kDialect = "https://json-schema.org/draft/2020-12/schema";

}  // namespace govesb::schema
