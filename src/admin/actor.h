#pragma once

// Who asks the admin service layer for something: an account with a role, from an address,
// through the CLI, the REST API or the portal. Every action of the service layer takes one;
// what it may do follows from its role (policy.h), and every change it makes is recorded with
// it (journal.h).

#include <optional>
#include <string>
#include <string_view>

namespace govesb::admin {

enum class Role {
  kOperator,          // the bus operator: everything
  kInstitutionAdmin,  // one institution: its systems, APIs, topics, requests and approvals
  kAuditor,           // read-only: evidence, traffic, the registry without secrets
};

// "operator", "institution-admin", "auditor".
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view text);

struct Actor {
  std::string account = std::string();  // the account's e-mail, or "cli:<user>" for the CLI
  Role role = Role::kAuditor;
  std::string institution = std::string();  // the institution's code (institution-admin only)
  std::string address = std::string();      // the client's address, "local" for the CLI
  std::string via = std::string();          // "cli", "api" or "portal"
  bool applicant = false;  // no account: an institution applying to join (see Applicant())

  // The role the journal records: RoleName(role), or "applicant" for an applicant.
  std::string_view RecordedRole() const;

  // The operator at the bus's own machine (the admin CLI): the OS user running it.
  static Actor LocalOperator();
  // Someone applying for membership (AdminService::ApplyForMembership) through the portal, who
  // has no account yet: recorded as account "applicant:<contact e-mail>", role "applicant", via
  // "portal". Its policy role is the least one (auditor, no institution), but such an actor is
  // built for that one call only; never authenticate a session as it.
  static Actor Applicant(std::string_view contact_email, std::string_view address);
};

}  // namespace govesb::admin
