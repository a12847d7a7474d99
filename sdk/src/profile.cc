#include <fstream>
#include <sstream>

#include "govesb/client.h"
#include "internal.h"
#include "wire/json.h"

namespace govesb::sdk {

Result<Profile> LoadProfile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{ErrorKind::kInvalidArgument, "cannot read the profile " + path, 0, {}};
  std::ostringstream text;
  text << in.rdbuf();
  const std::string body = text.str();
  auto members = wire::ScanObject(body);
  if (!members.ok()) {
    return Error{ErrorKind::kInvalidArgument,
                 "profile " + path + " is not a JSON object: " + members.status().message(),
                 0,
                 {}};
  }
  auto take = [&](std::string_view name, std::string& field) {
    const wire::JsonMember* m = wire::FindMember(*members, name);
    if (m == nullptr || m->type != wire::JsonType::kString) return;
    auto value = wire::DecodeString(m->raw);
    if (value.ok()) field = std::move(value).value();
  };
  Profile p;
  take("url", p.options.bus_url);
  take("client_id", p.options.client_id);
  take("client_secret", p.options.client_secret);
  take("private_key", p.options.private_key);
  take("esb_public_key", p.options.esb_public_key);
  if (p.options.esb_public_key.empty()) take("bus_public_key", p.options.esb_public_key);
  take("ca_file", p.options.ca_file);
  take("api_code", p.api_code);
  return p;
}

}  // namespace govesb::sdk
