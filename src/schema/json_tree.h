#pragma once

// A parsed JSON value as a flat tape: every value is one Node in a vector, in document order,
// each container followed by its contents (an object's members as key, value, key, value ...).
// Built in one pass over text the tree does not own (string views point into it), with one
// allocation for the tape and one per string that holds escapes. This is what the validator
// walks: the engine parses a request's esbBody into it once (the envelope itself keeps only
// spans, wire/json.h), never a DOM per keyword.
//
// The same strict RFC 8259 rules as wire/json.h (the bus accepts nothing here that the wire
// layer refused, and the reverse): UTF-8 checked, escaped lone surrogates decode to U+FFFD,
// nesting bounded by `max_depth` (the parser is iterative).
//
// Immutable after Parse; const access from several threads is safe.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "wire/json.h"

namespace govesb::schema {

using wire::JsonType;

struct JsonNode {
  JsonType type = JsonType::kNull;
  // Strings: the text holds escapes, and the decoded value is JsonTree::decoded_[str].
  bool escaped = false;
  // Numbers: written without fraction or exponent ("-12", not "1.0" or "1e2").
  bool integer_literal = false;
  // Objects: members; arrays: items.
  uint32_t count = 0;
  // The index one past this value's subtree (the next sibling).
  uint32_t end = 0;
  uint32_t str = 0;
  // Strings without escapes: the content between the quotes; with escapes: the raw token;
  // numbers: their text; containers: their whole text, brackets included.
  std::string_view text = {};
  // Numbers: the nearest double (±infinity beyond its range).
  double number = 0;
};

class JsonTree {
 public:
  static Result<JsonTree> Parse(std::string_view text, int max_depth = wire::kDefaultMaxDepth);

  const std::vector<JsonNode>& nodes() const { return nodes_; }
  const JsonNode& at(uint32_t index) const { return nodes_[index]; }
  uint32_t size() const { return static_cast<uint32_t>(nodes_.size()); }
  // The decoded UTF-8 value of a string node.
  std::string_view String(const JsonNode& node) const {
    return node.escaped ? std::string_view(decoded_[node.str]) : node.text;
  }
  std::string_view String(uint32_t index) const { return String(nodes_[index]); }

  // The value of the LAST member named `key` of the object at `object` (JSON.parse and Jackson
  // keep the last duplicate), or 0 when there is none (0 is the root, never a member).
  uint32_t Member(uint32_t object, std::string_view key) const;

 private:
  std::vector<JsonNode> nodes_;
  std::vector<std::string> decoded_;
};

// Iterates an object's members: for (MemberCursor m(tree, obj); m; m.Next()) m.key(), m.value().
class MemberCursor {
 public:
  MemberCursor(const JsonTree& tree, uint32_t object)
      : tree_(tree), key_(object + 1), left_(tree.at(object).count) {}
  explicit operator bool() const { return left_ > 0; }
  void Next() {
    key_ = tree_.at(key_ + 1).end;
    --left_;
  }
  uint32_t key_index() const { return key_; }
  std::string_view key() const { return tree_.String(key_); }
  uint32_t value() const { return key_ + 1; }

 private:
  const JsonTree& tree_;
  uint32_t key_;
  uint32_t left_;
};

// Equality in the JSON Schema sense (const, enum, uniqueItems): numbers by value (1 == 1.0),
// strings by decoded value, arrays item by item, objects as unordered sets of members.
bool JsonEqual(const JsonTree& a, uint32_t ia, const JsonTree& b, uint32_t ib);

// A hash consistent with JsonEqual (equal values hash alike).
uint64_t JsonHash(const JsonTree& tree, uint32_t index);

// Code points in a valid UTF-8 string.
size_t CodePoints(std::string_view utf8);

}  // namespace govesb::schema
