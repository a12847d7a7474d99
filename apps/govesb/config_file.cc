#include "config_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>

namespace govesb::apps {
namespace {

constexpr std::string_view kBlank = " \t";

std::string_view Trim(std::string_view s) {
  size_t begin = s.find_first_not_of(kBlank);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kBlank);
  return s.substr(begin, end - begin + 1);
}

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

std::string Where(std::string_view source, int line) {
  return std::string(source) + ":" + std::to_string(line) + ": ";
}

// The value after `=` (blanks before it already removed): a double-quoted string with \" and
// \\ escapes, a single-quoted string taken literally, or bare text that ends at a `#` after a
// blank (a comment) or at the end of the line. Returns false with `error` set when malformed.
bool ParseValue(std::string_view rest, std::string& value, std::string& error) {
  value.clear();
  if (!rest.empty() && (rest.front() == '"' || rest.front() == '\'')) {
    const char quote = rest.front();
    size_t i = 1;
    bool closed = false;
    for (; i < rest.size(); ++i) {
      char c = rest[i];
      if (c == quote) {
        closed = true;
        ++i;
        break;
      }
      if (quote == '"' && c == '\\') {
        if (i + 1 < rest.size() && (rest[i + 1] == '"' || rest[i + 1] == '\\')) {
          value.push_back(rest[++i]);
          continue;
        }
        error =
            "only \\\" and \\\\ may follow a backslash inside double quotes (single quotes "
            "take the text as it is)";
        return false;
      }
      value.push_back(c);
    }
    if (!closed) {
      error = std::string("the value has no closing ") + quote;
      return false;
    }
    std::string_view after = Trim(rest.substr(i));
    if (!after.empty() && after.front() != '#') {
      error = "text after the closing quote (a comment starts with #)";
      return false;
    }
    return true;
  }
  size_t end = rest.size();
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '#' && (i == 0 || rest[i - 1] == ' ' || rest[i - 1] == '\t')) {
      end = i;
      break;
    }
  }
  value = std::string(Trim(rest.substr(0, end)));
  if (value.empty()) {
    error = "no value (write \"\" for an empty one)";
    return false;
  }
  return true;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean 'listen'?)" for a key within two edits of a known one, else "".
std::string Suggestion(std::string_view key, const std::map<std::string, CLI::Option*>& known) {
  std::string best;
  size_t best_distance = 3;
  for (const auto& [name, option] : known) {
    size_t d = EditDistance(key, name);
    if (d < best_distance) {
      best_distance = d;
      best = name;
    }
  }
  return best.empty() ? std::string() : " (did you mean '" + best + "'?)";
}

// CLI11's message without its leading "--name: ", which the caller replaces by the key.
std::string OptionMessage(const CLI::Error& e, const CLI::Option& option) {
  std::string message = e.what();
  std::string prefix = option.get_name() + ": ";
  if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
  return message;
}

// "an integer" for CLI11's "INT" (validators append ":..." to the type name).
std::string TypeText(const CLI::Option& option) {
  std::string type = option.get_type_name();
  type = type.substr(0, type.find(':'));
  if (type == "INT") return "an integer";
  if (type == "UINT") return "a whole number (0 or more)";
  if (type == "FLOAT") return "a number";
  return "a valid " + type;
}

using Fail = std::function<void(int line, const std::string& why)>;

// The entries of each option, options in the order of their first line. Unknown keys, keys of
// options a file may not set, and a second line for an option that takes one value are
// reported and left out.
std::vector<std::pair<CLI::Option*, std::vector<const ConfigEntry*>>> GroupByOption(
    CLI::App& command, const std::vector<ConfigEntry>& entries, const Fail& fail) {
  std::map<std::string, CLI::Option*> known;
  for (CLI::Option* option : ConfigurableOptions(command)) {
    for (const std::string& name : option->get_lnames()) known.emplace(name, option);
  }
  std::vector<std::pair<CLI::Option*, std::vector<const ConfigEntry*>>> settings;
  for (const ConfigEntry& entry : entries) {
    auto found = known.find(entry.key);
    if (found == known.end()) {
      const CLI::Option* other = command.get_option_no_throw("--" + entry.key);
      fail(entry.line, other != nullptr
                           ? "'" + entry.key + "' cannot be set in a configuration file"
                           : "unknown key '" + entry.key + "'" + Suggestion(entry.key, known));
      continue;
    }
    CLI::Option* option = found->second;
    auto same = std::find_if(settings.begin(), settings.end(),
                             [option](const auto& s) { return s.first == option; });
    if (same == settings.end()) {
      settings.push_back({option, {&entry}});
    } else if (option->get_expected_max() > 1) {
      same->second.push_back(&entry);  // a repeatable option: one value per line
    } else {
      fail(entry.line, "'" + entry.key + "' is set again (first on line " +
                           std::to_string(same->second.front()->line) + ")");
    }
  }
  return settings;
}

// Gives `option` the values of its lines and runs its validators and conversion, as CLI11
// does for a command line; a refusal is reported at the option's first line.
void SetFromFile(CLI::Option& option, const std::vector<const ConfigEntry*>& lines,
                 const Fail& fail) {
  const ConfigEntry& first = *lines.front();
  const bool flag = option.get_expected_min() == 0;
  for (const ConfigEntry* entry : lines) {
    if (flag && entry->value != "true" && entry->value != "false") {
      fail(entry->line, entry->key + ": '" + entry->value + "' is not true or false");
      return;
    }
    option.add_result(flag ? option.get_flag_value(entry->key, entry->value) : entry->value);
  }
  try {
    option.run_callback();
  } catch (const CLI::ConversionError&) {
    std::string values;
    for (const ConfigEntry* entry : lines) {
      values += (values.empty() ? "'" : ", '") + entry->value + "'";
    }
    fail(first.line, first.key + ": " + values + " is not " + TypeText(option));
  } catch (const CLI::Error& e) {
    fail(first.line, first.key + ": " + OptionMessage(e, option));
  }
}

}  // namespace

ParsedConfig ParseConfigText(std::string_view text, std::string_view source) {
  ParsedConfig parsed;
  int number = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t newline = std::min(text.find('\n', pos), text.size());
    std::string_view raw = text.substr(pos, newline - pos);
    pos = newline + 1;
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') continue;
    auto fail = [&](const std::string& why) {
      parsed.errors.push_back({.line = number, .message = Where(source, number) + why});
    };
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      fail("expected `key = value`, found '" + std::string(line) + "'");
      continue;
    }
    std::string key(Trim(line.substr(0, eq)));
    if (key.empty()) {
      fail("no key before '='");
    } else if (key.rfind("--", 0) == 0) {
      fail("write the key without the leading '--' ('" + key.substr(2) + "')");
    } else if (!std::all_of(key.begin(), key.end(), IsKeyChar)) {
      fail("'" + key + "' is not a key (letters, digits and - only)");
    } else {
      std::string value;
      std::string error;
      if (ParseValue(Trim(line.substr(eq + 1)), value, error)) {
        parsed.entries.push_back({.key = key, .value = std::move(value), .line = number});
      } else {
        fail(key + ": " + error);
      }
    }
  }
  return parsed;
}

std::vector<CLI::Option*> ConfigurableOptions(CLI::App& command) {
  const CLI::Option* help = command.get_help_ptr();
  return command.get_options([help](CLI::Option* option) {
    return option != help && option->get_configurable() && !option->get_lnames().empty();
  });
}

std::vector<std::string> ConfigKeys(CLI::App& command) {
  std::vector<std::string> keys;
  for (CLI::Option* option : ConfigurableOptions(command)) keys.push_back(option->get_lnames()[0]);
  return keys;
}

std::vector<ConfigLineError> ApplyConfig(CLI::App& command, const std::vector<ConfigEntry>& entries,
                                         std::string_view source) {
  std::vector<ConfigLineError> errors;
  auto fail = [&](int line, const std::string& why) {
    errors.push_back({.line = line, .message = Where(source, line) + why});
  };
  for (auto& [option, lines] : GroupByOption(command, entries, fail)) {
    if (option->count() > 0) continue;  // given on the command line, which wins
    SetFromFile(*option, lines, fail);
  }
  std::stable_sort(errors.begin(), errors.end(),
                   [](const auto& a, const auto& b) { return a.line < b.line; });
  return errors;
}

Status ApplyConfigFile(CLI::App& command, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return InvalidArgument("cannot read the configuration file " + path + ": it is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return InvalidArgument("cannot read the configuration file " + path + ": " +
                           std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return InvalidArgument("cannot read the configuration file " + path);
  ParsedConfig parsed = ParseConfigText(text.str(), path);
  std::vector<ConfigLineError> applied = ApplyConfig(command, parsed.entries, path);
  std::vector<ConfigLineError> errors;
  std::merge(parsed.errors.begin(), parsed.errors.end(), applied.begin(), applied.end(),
             std::back_inserter(errors),
             [](const auto& a, const auto& b) { return a.line < b.line; });
  if (errors.empty()) return Status::Ok();
  std::string message;
  for (const ConfigLineError& e : errors) message += (message.empty() ? "" : "\n") + e.message;
  return InvalidArgument(message);
}

}  // namespace govesb::apps
