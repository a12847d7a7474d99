#include "minimise/field_allow_list.h"

#include <algorithm>
#include <functional>

#include "schema/json_tree.h"
#include "wire/json.h"

namespace govesb::minimise {

namespace {

using schema::JsonNode;
using schema::JsonTree;
using wire::JsonType;

Status BadPath(std::string_view path, std::string_view why) {
  std::string shown(path.substr(0, 80));
  if (!wire::IsValidUtf8(shown)) shown = "(not UTF-8)";
  return InvalidArgument("the field path \"" + shown + (path.size() > 80 ? "...\"" : "\"") +
                         " is not usable: " + std::string(why));
}

void AppendPointerName(std::string_view name, std::string& out) {
  out.push_back('/');
  for (char c : name) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
}

bool IsContainer(JsonType type) { return type == JsonType::kObject || type == JsonType::kArray; }

// Appends the raw text of the value at `index` (strings with their quotes).
void AppendRaw(const JsonTree& tree, uint32_t index, std::string& out) {
  const JsonNode& node = tree.at(index);
  if (node.type == JsonType::kString && !node.escaped) {
    out.push_back('"');
    out += node.text;
    out.push_back('"');
  } else {
    out += node.text;
  }
}

class Walk {
 public:
  Walk(const JsonTree& tree, std::string& out, Withheld& withheld)
      : tree_(tree), out_(out), withheld_(withheld) {}

  // The value at `index`, somewhere `node` (which does not keep it whole) applies.
  void Value(const FieldAllowList::Node& node, uint32_t index) {
    const JsonNode& value = tree_.at(index);
    if (value.type == JsonType::kObject) {
      Object(node, index);
    } else {
      Array(node, index);
    }
  }

  void Withhold() {
    std::string_view path = path_;
    if (path.size() > kMaxWithheldPathBytes) {
      path = path.substr(0, kMaxWithheldPathBytes);
      // Not in the middle of a UTF-8 sequence.
      while (!path.empty() && (static_cast<unsigned char>(path.back()) & 0xC0) == 0x80) {
        path.remove_suffix(1);
      }
      if (!path.empty() && static_cast<unsigned char>(path.back()) >= 0xC0) path.remove_suffix(1);
    }
    auto& paths = withheld_.paths;
    if (std::find(paths.begin(), paths.end(), path) != paths.end()) return;
    if (paths.size() >= kMaxWithheldRecorded) {
      withheld_.more = true;
      return;
    }
    paths.emplace_back(path);
  }

 private:
  void Object(const FieldAllowList::Node& node, uint32_t index) {
    out_.push_back('{');
    bool first = true;
    for (schema::MemberCursor m(tree_, index); m; m.Next()) {
      const size_t mark = path_.size();
      AppendPointerName(m.key(), path_);
      auto child = node.children.find(m.key());
      const JsonType type = tree_.at(m.value()).type;
      if (child == node.children.end() || (!child->second.whole && !IsContainer(type))) {
        Withhold();
      } else {
        if (!first) out_.push_back(',');
        first = false;
        AppendRaw(tree_, m.key_index(), out_);
        out_.push_back(':');
        if (child->second.whole) {
          AppendRaw(tree_, m.value(), out_);
        } else {
          Value(child->second, m.value());
        }
      }
      path_.resize(mark);
    }
    out_.push_back('}');
  }

  void Array(const FieldAllowList::Node& node, uint32_t index) {
    out_.push_back('[');
    const size_t mark = path_.size();
    path_ += "/*";
    bool first = true;
    const JsonNode& array = tree_.at(index);
    uint32_t item = index + 1;
    for (uint32_t i = 0; i < array.count; ++i, item = tree_.at(item).end) {
      if (!IsContainer(tree_.at(item).type)) {
        Withhold();
        continue;
      }
      if (!first) out_.push_back(',');
      first = false;
      Value(node, item);
    }
    path_.resize(mark);
    out_.push_back(']');
  }

  const JsonTree& tree_;
  std::string& out_;
  Withheld& withheld_;
  std::string path_;
};

void CollectPointers(const FieldAllowList::Node& node, std::string& prefix,
                     std::vector<std::string>& out) {
  for (const auto& [name, child] : node.children) {
    const size_t mark = prefix.size();
    AppendPointerName(name, prefix);
    if (child.whole) {
      out.push_back(prefix);
    } else {
      CollectPointers(child, prefix, out);
    }
    prefix.resize(mark);
  }
}

}  // namespace

Result<std::vector<std::string>> ParseFieldPath(std::string_view path) {
  if (path.empty()) return BadPath(path, "it is empty");
  if (path.size() > kMaxFieldPathBytes) {
    return BadPath(path, "it is longer than " + std::to_string(kMaxFieldPathBytes) + " bytes");
  }
  if (!wire::IsValidUtf8(path)) return BadPath(path, "it is not valid UTF-8");
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return BadPath(path, "it holds a control character");
    }
  }
  std::vector<std::string> names;
  const bool pointer = path.front() == '/';
  std::string_view rest = pointer ? path.substr(1) : path;
  const char separator = pointer ? '/' : '.';
  for (;;) {
    const size_t end = rest.find(separator);
    std::string_view raw = rest.substr(0, end);
    std::string name;
    if (pointer) {
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '~') {
          name.push_back(raw[i]);
          continue;
        }
        if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
          name.push_back(raw[i + 1] == '0' ? '~' : '/');
          ++i;
          continue;
        }
        return BadPath(path, "\"~\" must be written \"~0\" and \"/\" inside a name \"~1\"");
      }
    } else {
      name.assign(raw);
    }
    if (name.empty()) return BadPath(path, "it names an empty member");
    if (name == "*" || name == "-" || name.find("[]") != std::string::npos ||
        (name.back() == ']' && name.find('[') != std::string::npos)) {
      return BadPath(path,
                     "arrays need no index or wildcard: a path applies to every element of an "
                     "array it meets (write children.name, not children[].name or "
                     "children.*.name)");
    }
    names.push_back(std::move(name));
    if (names.size() > kMaxFieldPathDepth) {
      return BadPath(path,
                     "it is deeper than " + std::to_string(kMaxFieldPathDepth) + " member names");
    }
    if (end == std::string_view::npos) break;
    rest = rest.substr(end + 1);
  }
  return names;
}

std::string FieldPointer(std::span<const std::string> names) {
  std::string out;
  for (const std::string& name : names) AppendPointerName(name, out);
  return out;
}

std::string Withheld::ToJson() const {
  if (paths.empty()) return std::string();
  std::string out = "[";
  for (const std::string& p : paths) {
    if (out.size() > 1) out.push_back(',');
    wire::WriteString(p, out);
  }
  if (more) out += ",\"+more\"";
  out.push_back(']');
  return out;
}

Result<std::shared_ptr<const FieldAllowList>> FieldAllowList::Compile(
    std::span<const std::string> paths) {
  if (paths.empty()) return InvalidArgument("a field allow-list names at least one field");
  if (paths.size() > kMaxFieldPaths) {
    return InvalidArgument("a field allow-list names at most " + std::to_string(kMaxFieldPaths) +
                           " fields, not " + std::to_string(paths.size()));
  }
  auto list = std::make_shared<FieldAllowList>();
  for (const std::string& path : paths) {
    GOVESB_ASSIGN_OR_RETURN(std::vector<std::string> names, ParseFieldPath(path));
    Node* node = &list->root_;
    for (std::string& name : names) {
      if (node->whole) break;  // an allowed path above keeps this one already
      node = &node->children[std::move(name)];
    }
    if (!node->whole) {
      node->whole = true;
      node->children.clear();
    }
  }
  return std::shared_ptr<const FieldAllowList>(std::move(list));
}

Status FieldAllowList::Filter(std::string_view esb_body, std::string& out,
                              Withheld& withheld) const {
  GOVESB_ASSIGN_OR_RETURN(JsonTree tree, JsonTree::Parse(esb_body));
  Walk walk(tree, out, withheld);
  const JsonType type = tree.at(0).type;
  if (type == JsonType::kNull) {
    out += "null";
  } else if (!IsContainer(type)) {
    walk.Withhold();  // the empty pointer: the whole body
    out += "null";
  } else {
    walk.Value(root_, 0);
  }
  return Status::Ok();
}

std::vector<std::string> FieldAllowList::Pointers() const {
  std::vector<std::string> out;
  std::string prefix;
  CollectPointers(root_, prefix, out);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::string> FilterResponseData(std::string_view data, const FieldAllowList& allow,
                                       Withheld& withheld) {
  GOVESB_ASSIGN_OR_RETURN(std::vector<wire::JsonMember> members, wire::ScanObject(data));
  const wire::JsonMember* body = nullptr;
  for (const wire::JsonMember& m : members) {
    if (m.key != "esbBody") continue;
    if (body != nullptr) return InvalidArgument("the data holds esbBody twice");
    body = &m;
  }
  if (body == nullptr) return InvalidArgument("the data holds no esbBody");
  const size_t start = static_cast<size_t>(body->raw.data() - data.data());
  std::string out;
  out.reserve(data.size());
  out.append(data.substr(0, start));
  GOVESB_RETURN_IF_ERROR(allow.Filter(body->raw, out, withheld));
  out.append(data.substr(start + body->raw.size()));
  return out;
}

}  // namespace govesb::minimise
