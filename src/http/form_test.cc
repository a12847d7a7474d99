#include "http/form.h"

#include <gtest/gtest.h>

namespace govesb::http {
namespace {

TEST(UrlEncodedForm, DecodesFields) {
  auto f =
      ParseUrlEncodedForm("client_id=abc-1&client_secret=x%2By+z&grant_type=client_credentials");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->at("client_id"), "abc-1");
  EXPECT_EQ(f->at("client_secret"), "x+y z");
  EXPECT_EQ(f->at("grant_type"), "client_credentials");
}

TEST(UrlEncodedForm, RejectsBadEscapes) {
  EXPECT_FALSE(ParseUrlEncodedForm("a=%zz").ok());
  EXPECT_FALSE(ParseUrlEncodedForm("a=%2").ok());
  EXPECT_TRUE(ParseUrlEncodedForm("").ok());
}

TEST(MultipartForm, ReadsTextFieldsAsCurlSendsThem) {
  std::string body =
      "--------------------------abc123\r\n"
      "Content-Disposition: form-data; name=\"client_id\"\r\n\r\n"
      "id-1\r\n"
      "--------------------------abc123\r\n"
      "Content-Disposition: form-data; name=\"client_secret\"\r\n\r\n"
      "s3cret\r\n"
      "--------------------------abc123\r\n"
      "Content-Disposition: form-data; name=\"upload\"; filename=\"a.txt\"\r\n"
      "Content-Type: text/plain\r\n\r\n"
      "file content\r\n"
      "--------------------------abc123--\r\n";
  auto f = ParseMultipartForm("multipart/form-data; boundary=------------------------abc123", body);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->at("client_id"), "id-1");
  EXPECT_EQ(f->at("client_secret"), "s3cret");
  EXPECT_EQ(f->count("upload"), 0u);
}

TEST(MultipartForm, RejectsMalformedBodies) {
  EXPECT_FALSE(ParseMultipartForm("multipart/form-data", "x").ok());
  EXPECT_FALSE(ParseMultipartForm("multipart/form-data; boundary=b", "no boundary here").ok());
  EXPECT_FALSE(
      ParseMultipartForm("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: x").ok());
}

TEST(BasicAuthorization, Parses) {
  auto c = ParseBasicAuthorization("Basic dXNlcjpwYTpzcw==");  // user:pa:ss
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->user, "user");
  EXPECT_EQ(c->password, "pa:ss");
  EXPECT_FALSE(ParseBasicAuthorization("Bearer abc").has_value());
  EXPECT_FALSE(ParseBasicAuthorization("Basic !!!").has_value());
  EXPECT_FALSE(ParseBasicAuthorization("Basic dXNlcg==").has_value());  // no colon
}

}  // namespace
}  // namespace govesb::http
