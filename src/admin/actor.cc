#include "admin/actor.h"

#include <pwd.h>
#include <unistd.h>

namespace govesb::admin {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kOperator:
      return "operator";
    case Role::kInstitutionAdmin:
      return "institution-admin";
    case Role::kAuditor:
      return "auditor";
  }
  return "auditor";
}

std::optional<Role> ParseRole(std::string_view text) {
  if (text == "operator") return Role::kOperator;
  if (text == "institution-admin") return Role::kInstitutionAdmin;
  if (text == "auditor") return Role::kAuditor;
  return std::nullopt;
}

Actor Actor::LocalOperator() {
  std::string user;
  if (const passwd* pw = getpwuid(geteuid()); pw != nullptr && pw->pw_name != nullptr) {
    user = pw->pw_name;
  } else {
    user = "uid" + std::to_string(geteuid());
  }
  return Actor{.account = "cli:" + user,
               .role = Role::kOperator,
               .institution = "",
               .address = "local",
               .via = "cli",
               .applicant = false};
}

Actor Actor::Applicant(std::string_view contact_email, std::string_view address) {
  return Actor{.account = "applicant:" + std::string(contact_email),
               .role = Role::kAuditor,
               .institution = "",
               .address = std::string(address),
               .via = "portal",
               .applicant = true};
}

std::string_view Actor::RecordedRole() const { return applicant ? "applicant" : RoleName(role); }

}  // namespace govesb::admin
