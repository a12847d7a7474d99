#pragma once

// The text forms of what `govesb admin` prints: one object per row (registry and delivery rows,
// in the JSON forms of admin/render.h), printed as one JSON value with --json, else as
// "key: value" lines or an aligned table. Used by admin_command.cc only; functions, no state.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "admin/render.h"

namespace govesb::apps {

using admin::AddSignatureUsage;
using admin::IsoTime;
using admin::RateJson;
using admin::ToJson;
using admin::ToJsonArray;

// A JSON scalar as plain text for the human form ("-" for null).
std::string Plain(const boost::json::value& value);
// One object: one JSON line, or "key: value" lines with the values aligned.
void PrintObject(const boost::json::object& object, bool as_json);
// A list: a JSON array, or an aligned table of `columns` (keys of the rows).
void PrintList(const boost::json::array& rows, const std::vector<std::string>& columns,
               bool as_json);

}  // namespace govesb::apps
