#include "backup/manifest.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstdio>
#include <optional>

namespace govesb::backup {
namespace {

namespace json = boost::json;

std::string Octal(mode_t mode) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%04o", static_cast<unsigned>(mode & 07777));
  return buffer;
}

std::optional<mode_t> ParseOctal(std::string_view text) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
  if (ec != std::errc() || ptr != text.data() + text.size() || value > 07777) return std::nullopt;
  return static_cast<mode_t>(value);
}

// Reads members of one JSON object, remembering the first thing missing or of the wrong type.
class Members {
 public:
  Members(const json::object& o, std::string where) : o_(o), where_(std::move(where)) {}
  std::string String(std::string_view key) {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr || !v->is_string()) {
      Missing(key, "a string");
      return "";
    }
    return std::string(v->as_string());
  }
  int64_t Int(std::string_view key) {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr || !(v->is_int64() || v->is_uint64())) {
      Missing(key, "a whole number");
      return 0;
    }
    return v->is_int64() ? v->as_int64() : static_cast<int64_t>(v->as_uint64());
  }
  bool Bool(std::string_view key) {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr || !v->is_bool()) {
      Missing(key, "true or false");
      return false;
    }
    return v->as_bool();
  }
  const json::value* Value(std::string_view key) { return o_.if_contains(key); }
  mode_t Mode(std::string_view key) {
    const std::string text = String(key);
    std::optional<mode_t> mode = ParseOctal(text);
    if (!mode.has_value() && problem_.empty()) Missing(key, "an octal mode such as \"0600\"");
    return mode.value_or(0);
  }
  const std::string& problem() const { return problem_; }
  void Missing(std::string_view key, std::string_view what) {
    if (problem_.empty())
      problem_ = where_ + "." + std::string(key) + " is not " + std::string(what);
  }

 private:
  const json::object& o_;
  std::string where_;
  std::string problem_;
};

}  // namespace

std::string Manifest::ToJson() const {
  json::object o;
  o["format"] = kFormatName;
  o["format_version"] = format_version;
  o["govesb_version"] = govesb_version;
  o["data_dir_format"] = data_dir_format;
  o["data_dir_format_recorded"] = data_dir_format_recorded;
  o["created_at"] = created_at;
  o["source"] = source;
  json::object schema;
  for (const auto& [component, version] : database_schema) schema[component] = version;
  o["database_schema"] = std::move(schema);
  json::object evidence;
  evidence["committed_through"] = evidence_committed_through;
  evidence["archived_through"] = evidence_archived_through;
  evidence["live_through"] = evidence_live_through;
  o["evidence"] = std::move(evidence);
  json::array dirs;
  for (const Directory& d : directories) {
    dirs.push_back(json::object{{"path", d.path}, {"mode", Octal(d.mode)}});
  }
  o["directories"] = std::move(dirs);
  json::array list;
  for (const File& f : files) {
    list.push_back(json::object{{"path", f.path},
                                {"kind", f.kind},
                                {"mode", Octal(f.mode)},
                                {"size", f.size},
                                {"sha256", f.sha256}});
  }
  o["files"] = std::move(list);
  return json::serialize(o) + "\n";
}

Result<Manifest> Manifest::FromJson(std::string_view text) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) {
    return FailedPrecondition("its manifest is not a JSON object");
  }
  const json::object& o = parsed.as_object();
  Members m(o, "manifest");
  if (m.String("format") != kFormatName) {
    return FailedPrecondition("it is not a govesb backup (its manifest's format is not \"" +
                              std::string(kFormatName) + "\")");
  }
  Manifest out;
  out.format_version = m.Int("format_version");
  out.govesb_version = m.String("govesb_version");
  out.data_dir_format = m.Int("data_dir_format");
  out.data_dir_format_recorded = m.Bool("data_dir_format_recorded");
  out.created_at = m.String("created_at");
  out.source = m.String("source");
  if (const json::value* schema = m.Value("database_schema"); schema && schema->is_object()) {
    for (const auto& [component, version] : schema->as_object()) {
      if (!version.is_int64()) return FailedPrecondition("manifest.database_schema is malformed");
      out.database_schema[std::string(component)] = version.as_int64();
    }
  } else {
    m.Missing("database_schema", "an object");
  }
  if (const json::value* evidence = m.Value("evidence"); evidence && evidence->is_object()) {
    Members e(evidence->as_object(), "manifest.evidence");
    out.evidence_committed_through = e.Int("committed_through");
    out.evidence_archived_through = e.Int("archived_through");
    out.evidence_live_through = e.Int("live_through");
    if (!e.problem().empty()) return FailedPrecondition(e.problem());
  } else {
    m.Missing("evidence", "an object");
  }
  const json::value* dirs = m.Value("directories");
  const json::value* files = m.Value("files");
  if (dirs == nullptr || !dirs->is_array()) m.Missing("directories", "an array");
  if (files == nullptr || !files->is_array()) m.Missing("files", "an array");
  if (!m.problem().empty()) return FailedPrecondition(m.problem());
  for (const json::value& d : dirs->as_array()) {
    if (!d.is_object()) return FailedPrecondition("manifest.directories holds a non-object");
    Members dm(d.as_object(), "manifest.directories[]");
    Directory dir{dm.String("path"), dm.Mode("mode")};
    if (!dm.problem().empty()) return FailedPrecondition(dm.problem());
    out.directories.push_back(std::move(dir));
  }
  for (const json::value& f : files->as_array()) {
    if (!f.is_object()) return FailedPrecondition("manifest.files holds a non-object");
    Members fm(f.as_object(), "manifest.files[]");
    File file;
    file.path = fm.String("path");
    file.kind = fm.String("kind");
    file.mode = fm.Mode("mode");
    file.size = static_cast<uint64_t>(fm.Int("size"));
    file.sha256 = fm.String("sha256");
    if (!fm.problem().empty()) return FailedPrecondition(fm.problem());
    out.files.push_back(std::move(file));
  }
  return out;
}

}  // namespace govesb::backup
