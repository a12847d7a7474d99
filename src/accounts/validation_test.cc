#include "accounts/validation.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace govesb::accounts {
namespace {

TEST(NormalizeEmail, AcceptsAddressesAndLowersThem) {
  EXPECT_EQ(*NormalizeEmail("Juma.Hamisi@EGA.go.tz"), "juma.hamisi@ega.go.tz");
  EXPECT_EQ(*NormalizeEmail("a+b_c-d@x-y.example"), "a+b_c-d@x-y.example");
}

TEST(NormalizeEmail, RefusesWhatIsNotAnAddress) {
  for (const std::string& bad : std::vector<std::string>{"",
                                                         "juma",
                                                         "juma@",
                                                         "@ega.go.tz",
                                                         "juma@ega",
                                                         "ju ma@ega.go.tz",
                                                         "juma@@ega.go.tz",
                                                         "a@b@ega.go.tz",
                                                         ".juma@ega.go.tz",
                                                         "juma.@ega.go.tz",
                                                         "ju..ma@ega.go.tz",
                                                         "juma@-ega.go.tz",
                                                         "juma@ega-.go.tz",
                                                         "juma@ega..go.tz",
                                                         "juma@ega.go.tz.",
                                                         "juma@ega_x.go.tz",
                                                         "juma\n@ega.go.tz",
                                                         "jüma@ega.go.tz",
                                                         std::string(65, 'a') + "@e.tz",
                                                         "a@" + std::string(64, 'b') + ".tz",
                                                         "a@" + std::string(250, 'b') + ".tz"}) {
    Result<std::string> r = NormalizeEmail(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(ValidatePassword, Policy) {
  EXPECT_TRUE(ValidatePassword("twelve chars", "a@b.tz").ok());
  EXPECT_TRUE(ValidatePassword("maneno ya siri ya kiswahili ✓", "a@b.tz").ok());
  EXPECT_EQ(ValidatePassword("eleven char", "a@b.tz").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidatePassword(std::string(1025, 'x'), "a@b.tz").code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidatePassword(std::string(1024, 'x'), "a@b.tz").ok());
  EXPECT_EQ(ValidatePassword("Juma@EGA.go.tz", "juma@ega.go.tz").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidatePassword("twelve\tchars", "a@b.tz").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidatePassword("twelve chars\xff", "a@b.tz").code(), StatusCode::kInvalidArgument);
}

TEST(ValidateDisplayName, TrimsAndRefusesControls) {
  EXPECT_EQ(*ValidateDisplayName("  Juma Hamisi "), "Juma Hamisi");
  EXPECT_FALSE(ValidateDisplayName("Juma\x1b[31m").ok());
  EXPECT_FALSE(ValidateDisplayName(std::string(101, 'x')).ok());
}

TEST(OneTimePassword, ReadableLongAndDifferentEachTime) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string p = NewOneTimePassword();
    ASSERT_EQ(p.size(), 23u) << p;
    for (size_t k = 0; k < p.size(); ++k) {
      if (k % 6 == 5) {
        EXPECT_EQ(p[k], '-') << p;
      } else {
        EXPECT_NE(std::string_view("23456789abcdefghijkmnpqrstuvwxyz").find(p[k]),
                  std::string_view::npos)
            << p;
      }
    }
    EXPECT_TRUE(ValidatePassword(p, "someone@ega.go.tz").ok());
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(ScopeWithin, NeverAboveTheRole) {
  using admin::Role;
  EXPECT_TRUE(ScopeWithin(Role::kOperator, Role::kOperator));
  EXPECT_TRUE(ScopeWithin(Role::kAuditor, Role::kOperator));
  EXPECT_FALSE(ScopeWithin(Role::kInstitutionAdmin, Role::kOperator));  // needs an institution
  EXPECT_TRUE(ScopeWithin(Role::kInstitutionAdmin, Role::kInstitutionAdmin));
  EXPECT_FALSE(ScopeWithin(Role::kOperator, Role::kInstitutionAdmin));
  EXPECT_FALSE(ScopeWithin(Role::kAuditor, Role::kInstitutionAdmin));  // auditors see all
  EXPECT_FALSE(ScopeWithin(Role::kOperator, Role::kAuditor));
  EXPECT_FALSE(ScopeWithin(Role::kInstitutionAdmin, Role::kAuditor));
}

}  // namespace
}  // namespace govesb::accounts
