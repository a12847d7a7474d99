#include "crypto/certificate.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace govesb::crypto {
namespace {

std::string Chain() {
  std::ifstream in(std::string(GOVESB_SOURCE_DIR) + "/src/crypto/testdata/tls_chain.pem");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Values from `openssl x509 -noout ...` over the same file (testdata/make_vectors.sh).
TEST(CertificateTest, DescribesEveryCertificateOfAChainAsOpensslDoes) {
  auto chain = DescribeCertificates(Chain());
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  ASSERT_EQ(chain->size(), 2u);
  const CertificateInfo& leaf = (*chain)[0];
  EXPECT_EQ(leaf.subject, "O=GovESB tests,CN=bus.example");
  EXPECT_EQ(leaf.issuer, "O=GovESB tests,CN=Test bus CA");
  EXPECT_EQ(leaf.serial, "1234ABCD");
  EXPECT_EQ(leaf.not_before_ms, 1796184167000);
  EXPECT_EQ(leaf.not_after_ms, 2111544167000);
  EXPECT_EQ(leaf.names, (std::vector<std::string>{"bus.example", "127.0.0.1", "0:0:0:0:0:0:0:1"}));
  EXPECT_EQ(leaf.key, "EC prime256v1");
  EXPECT_EQ(leaf.sha256_fingerprint,
            "35:9D:33:D1:B6:83:02:28:1C:0A:9C:24:F1:D8:91:77:02:A9:A0:73:12:AE:04:C6:B0:51:1A:4A:"
            "02:02:82:57");
  EXPECT_FALSE(leaf.self_signed);
  EXPECT_FALSE(leaf.is_ca);
  const CertificateInfo& ca = (*chain)[1];
  EXPECT_EQ(ca.subject, "O=GovESB tests,CN=Test bus CA");
  EXPECT_TRUE(ca.self_signed);
  EXPECT_TRUE(ca.is_ca);
  EXPECT_TRUE(ca.names.empty());
}

TEST(CertificateTest, TextWithoutACertificateOrWithABrokenOneIsRefused) {
  EXPECT_EQ(DescribeCertificates("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DescribeCertificates("hello").status().code(), StatusCode::kInvalidArgument);
  std::string broken = Chain();
  broken[broken.find("MII") + 10] = '#';  // inside the first block's base64
  auto r = DescribeCertificates(broken);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("certificate 1"), std::string::npos) << r.status().message();
  EXPECT_EQ(DescribeCertificateFile("/nonexistent/cert.pem").status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace govesb::crypto
