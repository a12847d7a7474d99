#pragma once

// The people the admin tests act as: the bus operator, an auditor and the admins of two
// institutions (RITA, MOH). For tests only.

#include "admin/actor.h"

namespace govesb::admin::testing {

inline const Actor kOperator{
    .account = "op@ega.go.tz", .role = Role::kOperator, .address = "local", .via = "cli"};
inline const Actor kRitaAdmin{.account = "admin@rita.go.tz",
                              .role = Role::kInstitutionAdmin,
                              .institution = "RITA",
                              .address = "10.1.1.1",
                              .via = "api"};
inline const Actor kMohAdmin{.account = "admin@moh.go.tz",
                             .role = Role::kInstitutionAdmin,
                             .institution = "MOH",
                             .address = "10.2.2.2",
                             .via = "api"};
inline const Actor kAuditor{
    .account = "audit@nao.go.tz", .role = Role::kAuditor, .address = "10.3.3.3", .via = "api"};

}  // namespace govesb::admin::testing
