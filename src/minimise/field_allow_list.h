#pragma once

// Data minimisation per grant (docs/data-minimisation.md): a grant may name the fields of an
// API's answer (its esbBody) that its consumer may receive, and the bus removes every other
// field before it signs the answer for that consumer.
//
// A field is named by a path of member names, written as a JSON Pointer ("/mother/name",
// RFC 6901: "~1" for "/" and "~0" for "~" inside a name) or with dots ("mother.name"). Arrays
// are transparent: a path that meets an array applies to every element of it, so
// "children.name" keeps the name of every child. A path keeps everything under the member it
// names. On the way down, a value that is not an object or an array where a path expects
// members is withheld whole (it could hold anything), and so is a scalar answer body.
//
// Compiled once per registry snapshot (immutable afterwards, safe to share between threads);
// Filter is one parse of the body and one pass over it, copying kept values byte for byte.

#include <cstddef>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/status.h"

namespace govesb::minimise {

inline constexpr size_t kMaxFieldPaths = 100;       // per grant
inline constexpr size_t kMaxFieldPathBytes = 256;   // per path, as written
inline constexpr size_t kMaxFieldPathDepth = 16;    // member names per path
inline constexpr size_t kMaxWithheldRecorded = 32;  // distinct withheld paths kept per answer
inline constexpr size_t kMaxWithheldPathBytes = 200;

// The member names of one path. kInvalidArgument, naming the problem, for an empty path or
// name, more than kMaxFieldPathBytes or kMaxFieldPathDepth, control characters or invalid
// UTF-8, a bad "~" escape, or an array index notation ("*", "[]": arrays need none).
Result<std::vector<std::string>> ParseFieldPath(std::string_view path);

// The JSON Pointer of `names` ("/a/b~1c").
std::string FieldPointer(std::span<const std::string> names);

// What an answer lost: the JSON Pointers of withheld members, each once, in the order met, at
// most kMaxWithheldRecorded ("*" stands for every element of an array; "" is the whole body).
struct Withheld {
  std::vector<std::string> paths = {};
  bool more = false;  // more distinct paths were withheld than are listed
  bool empty() const { return paths.empty(); }
  // JSON text: ["/a/b","/c/*/d"], with the string "+more" last when `more`; "" when empty.
  std::string ToJson() const;
};

class FieldAllowList {
 public:
  // From the paths a grant stores (duplicates and paths under another allowed path are
  // merged). kInvalidArgument for a bad path (naming it) or more than kMaxFieldPaths; an empty
  // list is an error too (a grant without an allow-list has no FieldAllowList at all).
  static Result<std::shared_ptr<const FieldAllowList>> Compile(std::span<const std::string> paths);

  // Appends the JSON value `esb_body` with every member off the allowed paths removed (or
  // `null` for a scalar body), and adds what was removed to `withheld`. kInvalidArgument when
  // `esb_body` is not valid JSON; `out` is then as it was.
  Status Filter(std::string_view esb_body, std::string& out, Withheld& withheld) const;

  // The paths as JSON Pointers, sorted (what `grant show` lists).
  std::vector<std::string> Pointers() const;

  struct Node {
    std::map<std::string, Node, std::less<>> children;
    bool whole = false;  // everything under this member is kept
  };

 private:
  Node root_;
};

// Replaces the esbBody member of a signed data text (a response: success, requestId, message,
// esbBody) with its filtered form; the other members are kept byte for byte. kInvalidArgument
// when `data` is not a JSON object or has no esbBody.
Result<std::string> FilterResponseData(std::string_view data, const FieldAllowList& allow,
                                       Withheld& withheld);

}  // namespace govesb::minimise
