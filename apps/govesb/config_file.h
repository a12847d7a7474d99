#pragma once

// The configuration file of `govesb serve` (docs/configuration.md): `key = value` lines, `#`
// comments and blank lines, where the keys are the long options of a CLI11 command without
// their leading `--`. Nothing here knows the serve command's options: the keys are read from
// whatever command is given, so an option added to the command is a key at once.
//
// Plain functions on values; CLI::App objects passed in belong to the caller. Not thread-safe
// (CLI11 objects are not).

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace govesb::apps {

// One `key = value` line: the value with its quotes removed and escapes resolved.
struct ConfigEntry {
  std::string key;
  std::string value;
  int line = 0;
};

// What is wrong with one line: `message` is "SOURCE:LINE: KEY: why" (or without KEY when the
// line has none).
struct ConfigLineError {
  int line = 0;
  std::string message;
};

// A file's entries in order, and an error for each line that is not a comment, a blank line
// or a well-formed `key = value`.
struct ParsedConfig {
  std::vector<ConfigEntry> entries;
  std::vector<ConfigLineError> errors;
};

// Splits the text into entries; knows only the syntax, not which keys exist. `source` names
// the text in errors (a file name).
ParsedConfig ParseConfigText(std::string_view text, std::string_view source);

// The options of `command` that a file may set: those with a long name, except the help flag
// and options marked `->configurable(false)` (such as --config itself). The key of an option
// is its first long name without `--`; further long names are accepted as aliases.
std::vector<CLI::Option*> ConfigurableOptions(CLI::App& command);
std::vector<std::string> ConfigKeys(CLI::App& command);

// Gives each option of `command` that its command line left unset (count() == 0) the value of
// its entry, through the option's own conversion and validators, exactly as if it had been on
// the command line: flags given there win over the file. Returns one error per unknown key,
// repeated key, malformed flag value or value the option refuses, each naming the key and
// the line. Options set by the command line are still checked for unknown keys.
std::vector<ConfigLineError> ApplyConfig(CLI::App& command, const std::vector<ConfigEntry>& entries,
                                         std::string_view source);

// Reads, parses and applies the file at `path`: ok, or InvalidArgument with every error in
// file order, one per line of the message (a missing or unreadable file is one error naming
// it). Syntax errors do not stop the other lines from being checked.
Status ApplyConfigFile(CLI::App& command, const std::string& path);

}  // namespace govesb::apps
