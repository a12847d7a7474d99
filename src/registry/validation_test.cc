#include "registry/validation.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "registry/model.h"

namespace govesb::registry {
namespace {

TEST(Validation, InstitutionCodes) {
  EXPECT_TRUE(ValidateInstitutionCode("EG").ok());
  EXPECT_TRUE(ValidateInstitutionCode("tz-NIDA_01").ok());
  EXPECT_TRUE(ValidateInstitutionCode(std::string(32, 'x')).ok());
  EXPECT_FALSE(ValidateInstitutionCode("E").ok());
  EXPECT_FALSE(ValidateInstitutionCode(std::string(33, 'x')).ok());
  EXPECT_FALSE(ValidateInstitutionCode("EG A").ok());
  EXPECT_FALSE(ValidateInstitutionCode("EGA/1").ok());
}

TEST(Validation, ServiceCodesAreFiveToEightAlphanumerics) {
  EXPECT_TRUE(ValidateServiceCode("ABCDE").ok());
  EXPECT_TRUE(ValidateServiceCode("abc12345").ok());
  EXPECT_FALSE(ValidateServiceCode("ABCD").ok());
  EXPECT_FALSE(ValidateServiceCode("ABCDEFGHI").ok());
  EXPECT_FALSE(ValidateServiceCode("ABC_E").ok());
  EXPECT_FALSE(ValidateServiceCode("ABC-E").ok());
  EXPECT_FALSE(ValidateServiceCode("AB\xC3\x84"
                                   "DE")
                   .ok());
}

TEST(Validation, Endpoints) {
  for (const char* good : {"http://a.example", "https://a.example/", "HTTPS://A.example:8443/x?y=1",
                           "http://10.1.2.3:80/esb", "http://[::1]:8080/", "http://localhost/p"}) {
    EXPECT_TRUE(ValidateEndpoint(good).ok()) << good;
  }
  for (const char* bad : {"", "a.example", "//a.example/", "ftp://a.example/", "https://",
                          "http:///x", "https://a.example:65536/", "https://a.example:99999/",
                          "http://a:0/", "https://a b/", "file:///etc", "http://a.example/ x"}) {
    Status status = ValidateEndpoint(bad);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ValidateEndpoint("https://a.example/" + std::string(3000, 'x')).ok());
}

TEST(Validation, AnEndpointWithCredentialsInItIsRefused) {
  for (const char* url : {"https://user:secret@a.example/", "http://user@a.example:8080/x",
                          "https://:secret@10.1.2.3/"}) {
    Status status = ValidateEndpoint(url);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << url;
    EXPECT_NE(status.message().find("a user name or password in the URL is not supported"),
              std::string::npos)
        << status.message();
    EXPECT_EQ(status.message().find("secret"), std::string::npos) << "not repeated";
  }
}

// Found by fuzz/url_fuzz.cc (fuzz/regressions/url/long_port): the port's digits were summed
// into an int before its length was checked, a signed overflow that UBSan (make test-asan)
// stops at.
TEST(Validation, EndpointWithVeryLongPortIsRefusedWithoutOverflow) {
  for (const std::string& port :
       {std::string(100, '7'), std::string(11, '9'), std::string("000080")}) {
    Status status = ValidateEndpoint("http://h:" + port + "/");
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << port;
    EXPECT_NE(status.message().find("the port is not valid"), std::string::npos) << port;
  }
}

TEST(Validation, Timeouts) {
  EXPECT_TRUE(ValidateTimeoutMs(100).ok());
  EXPECT_TRUE(ValidateTimeoutMs(300000).ok());
  EXPECT_FALSE(ValidateTimeoutMs(99).ok());
  EXPECT_FALSE(ValidateTimeoutMs(300001).ok());
  EXPECT_FALSE(ValidateTimeoutMs(0).ok());
}

TEST(Validation, Names) {
  EXPECT_EQ(*NormalizeName("  Tanzania Revenue Authority\t", "name"), "Tanzania Revenue Authority");
  EXPECT_EQ(*NormalizeName("Wizara ya Fedha – Hazina", "name"), "Wizara ya Fedha – Hazina");
  EXPECT_FALSE(NormalizeName("", "name").ok());
  EXPECT_FALSE(NormalizeName(" \n", "name").ok());
  EXPECT_FALSE(NormalizeName("a\x01"
                             "b",
                             "name")
                   .ok());
  EXPECT_FALSE(NormalizeName(std::string(201, 'a'), "name").ok());
  auto status = NormalizeName("", "system name").status();
  EXPECT_EQ(status.message(), "system name is empty");
}

TEST(Validation, RatesPerSecond) {
  for (double ok : {0.0, -1.0, 0.001, 1.0, 2.5, 1e6})
    EXPECT_TRUE(ValidateRatePerSecond(ok).ok()) << ok;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double bad : {nan, inf, -inf, -0.5, -1.5, 0.0009, 1e6 + 0.5, 1e300}) {
    EXPECT_FALSE(ValidateRatePerSecond(bad).ok()) << bad;
  }
  auto status = ValidateRatePerSecond(2e6, "API rate");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("API rate 2000000 is out of range"), std::string::npos)
      << status.message();
  EXPECT_NE(ValidateRatePerSecond(nan).message().find("rate nan"), std::string::npos);
}

TEST(Validation, Bursts) {
  for (double ok : {0.0, 1.0, 1.5, 100.0, 1e6}) EXPECT_TRUE(ValidateRateBurst(ok).ok()) << ok;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double bad : {nan, std::numeric_limits<double>::infinity(), -1.0, 0.5, 1e6 + 1}) {
    EXPECT_FALSE(ValidateRateBurst(bad).ok()) << bad;
  }
  EXPECT_NE(ValidateRateBurst(-1).message().find("cannot be unlimited"), std::string::npos);
}

TEST(Validation, SignatureVariantNames) {
  for (const char* ok : {"raw", "compact", "compact-ascii-escaped", "latin1"}) {
    EXPECT_TRUE(ValidateSignatureVariantName(ok).ok()) << ok;
  }
  EXPECT_TRUE(ValidateSignatureVariantName(std::string(32, 'a')).ok());
  for (const std::string& bad :
       {std::string(), std::string(33, 'a'), std::string("Raw"), std::string("raw\n"),
        std::string("la tin"), std::string("r\xC3\xA4w")}) {
    EXPECT_FALSE(ValidateSignatureVariantName(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace govesb::registry
