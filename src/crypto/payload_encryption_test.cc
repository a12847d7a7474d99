#include "crypto/payload_encryption.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/encoding.h"
#include "base/temp_dir.h"
#include "crypto/primitives.h"

extern char** environ;  // NOLINT: POSIX, for posix_spawnp

namespace govesb::crypto {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::string_view kDoesNotDecrypt = "payload does not decrypt: wrong key or tampered data";
// The plaintext of testdata/node_payload_vectors.txt (see node_payload_crypto.js, "vectors").
constexpr std::string_view kVectorPlaintext =
    R"({"nin":"19850101-12345-00001-23","jina":"Asha Júma","kiasi":"1500.50 TSh ✓"})";
constexpr std::string_view kNonAscii = "Habari za asubuhi — Jüri, 東京, 🇹🇿 \"quoted\"\n\ttab";

std::string SourcePath(std::string_view relative) {
  return std::string(GOVESB_SOURCE_DIR) + "/" + std::string(relative);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

void WriteFile(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  GOVESB_CHECK(out.good());
}

std::string TestName(const testing::TestParamInfo<Curve>& info) {
  return std::string(CurveName(info.param));
}

// The three members of an encrypted payload, decoded from its base64.
struct Parts {
  std::string ephemeral_key;  // PEM text
  std::string iv;
  std::string encrypted_data;  // tag || ciphertext
};

// Splits EncryptPayload's compact output; its member order is fixed.
Parts Split(const std::string& json) {
  auto member = [&](std::string_view name) {
    const std::string key = "\"" + std::string(name) + "\":\"";
    const size_t begin = json.find(key);
    GOVESB_CHECK(begin != std::string::npos);
    const size_t value = begin + key.size();
    return Base64Decode(json.substr(value, json.find('"', value) - value)).value();
  };
  return {member("ephemeralKey"), member("iv"), member("encryptedData")};
}

std::string Join(const Parts& parts) {
  return "{\"ephemeralKey\":\"" + Base64Encode(parts.ephemeral_key) + "\",\"iv\":\"" +
         Base64Encode(parts.iv) + "\",\"encryptedData\":\"" + Base64Encode(parts.encrypted_data) +
         "\"}";
}

class PayloadEncryptionTest : public testing::TestWithParam<Curve> {
 protected:
  PayloadEncryptionTest() : key_(PrivateKey::Generate(GetParam()).value()) {}
  PrivateKey key_;
};

INSTANTIATE_TEST_SUITE_P(AllCurves, PayloadEncryptionTest,
                         testing::Values(Curve::kSecp256k1, Curve::kP256, Curve::kP521), TestName);

TEST_P(PayloadEncryptionTest, RoundTrips) {
  const std::string one_mib = RandomBytes(1024 * 1024);
  for (std::string_view plaintext :
       {std::string_view(), std::string_view("x"), kNonAscii, kVectorPlaintext,
        std::string_view(one_mib), std::string_view("\0binary\xff\xfe", 9)}) {
    Result<std::string> sealed = EncryptPayload(plaintext, key_.public_key());
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    Result<std::string> opened = DecryptPayload(*sealed, key_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(*opened, plaintext);
  }
}

TEST_P(PayloadEncryptionTest, WritesTheWireFormatOfSection6) {
  Result<std::string> sealed = EncryptPayload("hello", key_.public_key());
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  EXPECT_THAT(*sealed, StartsWith("{\"ephemeralKey\":\""));
  const Parts parts = Split(*sealed);
  EXPECT_EQ(*sealed, Join(parts));  // three members, nothing else
  EXPECT_EQ(parts.iv.size(), 12u);
  EXPECT_EQ(parts.encrypted_data.size(), 16u + 5u);

  // The ephemeral key is PEM text exactly as Node's KeyObject.export writes it.
  const std::string& pem = parts.ephemeral_key;
  EXPECT_THAT(pem, StartsWith("-----BEGIN PUBLIC KEY-----\n"));
  constexpr std::string_view kEnd = "\n-----END PUBLIC KEY-----\n";
  ASSERT_GT(pem.size(), kEnd.size());
  EXPECT_EQ(pem.substr(pem.size() - kEnd.size()), kEnd);
  std::istringstream lines(pem);
  std::string line;
  std::string body;
  std::vector<size_t> lengths;
  while (std::getline(lines, line)) {
    if (line.starts_with("-----")) continue;
    lengths.push_back(line.size());
    body += line;
  }
  ASSERT_FALSE(lengths.empty());
  for (size_t i = 0; i + 1 < lengths.size(); ++i) EXPECT_EQ(lengths[i], 64u);
  EXPECT_LE(lengths.back(), 64u);
  Result<PublicKey> ephemeral = PublicKey::FromText(body);
  ASSERT_TRUE(ephemeral.ok()) << ephemeral.status().ToString();
  EXPECT_EQ(ephemeral->curve(), GetParam());
  EXPECT_NE(ephemeral->SpkiBase64(), key_.public_key().SpkiBase64());
}

TEST_P(PayloadEncryptionTest, EveryEncryptionUsesAFreshKeyAndIv) {
  const Parts a = Split(EncryptPayload("same", key_.public_key()).value());
  const Parts b = Split(EncryptPayload("same", key_.public_key()).value());
  EXPECT_NE(a.ephemeral_key, b.ephemeral_key);
  EXPECT_NE(a.iv, b.iv);
  EXPECT_NE(a.encrypted_data, b.encrypted_data);
}

TEST_P(PayloadEncryptionTest, RefusesTamperedData) {
  const Parts good = Split(EncryptPayload("pay 1000 TSh to Asha", key_.public_key()).value());
  auto expect_refused = [&](const Parts& parts, const char* what) {
    Result<std::string> opened = DecryptPayload(Join(parts), key_);
    ASSERT_FALSE(opened.ok()) << what;
    EXPECT_EQ(opened.status().code(), StatusCode::kBadSignature) << what;
    EXPECT_EQ(opened.status().message(), kDoesNotDecrypt) << what;
  };
  Parts tampered = good;
  tampered.encrypted_data[20] ^= 0x01;
  expect_refused(tampered, "ciphertext");
  tampered = good;
  tampered.encrypted_data[3] ^= 0x80;
  expect_refused(tampered, "tag");
  tampered = good;
  tampered.iv[11] ^= 0x01;
  expect_refused(tampered, "iv");
  tampered = good;
  tampered.encrypted_data.pop_back();
  expect_refused(tampered, "truncated ciphertext");
  tampered = good;
  tampered.encrypted_data.push_back('!');
  expect_refused(tampered, "extended ciphertext");
  tampered = good;
  tampered.ephemeral_key = Split(EncryptPayload("other", key_.public_key()).value()).ephemeral_key;
  expect_refused(tampered, "another ephemeral key");
}

TEST_P(PayloadEncryptionTest, RefusesTheWrongRecipient) {
  const std::string sealed = EncryptPayload("for someone else", key_.public_key()).value();
  const PrivateKey other = PrivateKey::Generate(GetParam()).value();
  Result<std::string> opened = DecryptPayload(sealed, other);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kBadSignature);
  EXPECT_EQ(opened.status().message(), kDoesNotDecrypt);
}

TEST_P(PayloadEncryptionTest, RefusesAnEphemeralKeyOnAnotherCurve) {
  const Curve other_curve = GetParam() == Curve::kP256 ? Curve::kSecp256k1 : Curve::kP256;
  const PrivateKey other = PrivateKey::Generate(other_curve).value();
  Result<std::string> opened =
      DecryptPayload(EncryptPayload("x", other.public_key()).value(), key_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opened.status().message(),
            "the ephemeral key is on " + std::string(CurveName(other_curve)) +
                " but the recipient key is on " + std::string(CurveName(GetParam())));
}

TEST_P(PayloadEncryptionTest, AcceptsAnEphemeralKeyAsBase64Der) {
  Parts parts = Split(EncryptPayload(kNonAscii, key_.public_key()).value());
  const std::string spki_base64 = PublicKey::FromText(parts.ephemeral_key).value().SpkiBase64();
  parts.ephemeral_key = Base64Decode(spki_base64).value();
  Result<std::string> opened = DecryptPayload(Join(parts), key_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, kNonAscii);
}

// JSON as other encoders write it: any member order, whitespace, escaped '/' and '=' (Gson),
// base64 wrapped with escaped CRLF (MIME encoders), members of their own.
TEST(PayloadEncryptionJsonTest, AcceptsJsonFromOtherEncoders) {
  const PrivateKey key = PrivateKey::Generate(Curve::kP256).value();
  const Parts parts = Split(EncryptPayload("tolerant", key.public_key()).value());
  auto escape = [](const std::string& base64) {
    std::string out;
    for (size_t i = 0; i < base64.size(); ++i) {
      if (i > 0 && i % 76 == 0) out += "\\r\\n";
      if (base64[i] == '/') {
        out += "\\/";
      } else if (base64[i] == '=') {
        out += "\\u003d";
      } else {
        out += base64[i];
      }
    }
    return out;
  };
  const std::string json = " \r\n{ \"version\" : \"1\",\n\t\"encryptedData\" : \"" +
                           escape(Base64Encode(parts.encrypted_data)) + "\" ,\"iv\":\"" +
                           escape(Base64Encode(parts.iv)) + "\", \"ephemeralKey\":\"" +
                           escape(Base64Encode(parts.ephemeral_key)) + "\"\n}\n";
  Result<std::string> opened = DecryptPayload(json, key);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString() << "\n" << json;
  EXPECT_EQ(*opened, "tolerant");
}

TEST(PayloadEncryptionJsonTest, RefusesMalformedInputWithAClearMessage) {
  const PrivateKey key = PrivateKey::Generate(Curve::kP256).value();
  const std::string good = EncryptPayload("x", key.public_key()).value();
  const Parts parts = Split(good);
  const std::string iv = Base64Encode(parts.iv);
  const std::string data = Base64Encode(parts.encrypted_data);
  const std::string eph = Base64Encode(parts.ephemeral_key);
  auto with = [](const std::string& e, const std::string& i, const std::string& d) {
    return "{\"ephemeralKey\":\"" + e + "\",\"iv\":\"" + i + "\",\"encryptedData\":\"" + d + "\"}";
  };
  struct Case {
    std::string json;
    std::string message;
  };
  const std::string kNotJson = "encrypted payload is not the JSON of GOVESB-WIRE section 6: ";
  const std::vector<Case> cases = {
      {"", kNotJson + "expected '{' at offset 0"},
      {"not json", kNotJson + "expected '{' at offset 0"},
      {"[]", kNotJson + "expected '{' at offset 0"},
      {"{", kNotJson + "expected a member name at offset 1"},
      {"{\"iv\"", kNotJson + "expected ':' after member \"iv\" at offset 5"},
      {"{\"iv\":1}", kNotJson + "expected a string value for \"iv\" (members must be strings) at "
                                "offset 6"},
      {"{\"iv\":null}", kNotJson + "expected a string value for \"iv\" (members must be "
                                   "strings) at offset 6"},
      {"{\"iv\":\"abc", kNotJson + "unterminated string at offset 10"},
      {"{\"iv\":\"a\nb\"}", kNotJson + "control character in a string at offset 8"},
      {"{\"iv\":\"a\\qb\"}", kNotJson + "bad escape at offset 9"},
      {"{\"iv\":\"\\u00e9\"}", kNotJson + "non-ASCII \\u escape (values are base64) at offset 9"},
      {"{\"iv\":\"\\u00\"}", kNotJson + "bad \\u escape at offset 9"},
      {"{\"iv\":\"a\" \"b\"}", kNotJson + "expected ',' or '}' at offset 10"},
      {"{\"iv\":\"a\",}", kNotJson + "expected a member name at offset 10"},
      {good + "x",
       kNotJson + "unexpected data after the object at offset " + std::to_string(good.size())},
      {good + good,
       kNotJson + "unexpected data after the object at offset " + std::to_string(good.size())},
      {"{\"iv\":\"a\",\"iv\":\"b\"}", kNotJson + "duplicate member \"iv\" at offset 18"},
      {"{}", "encrypted payload has no \"ephemeralKey\" member"},
      {"{\"ephemeralKey\":\"" + eph + "\",\"iv\":\"" + iv + "\"}",
       "encrypted payload has no \"encryptedData\" member"},
      {with(eph, "", data), "encrypted payload IV is 0 bytes; section 6 requires 12"},
      {with(eph, Base64Encode("0123456789abcdef"), data),
       "encrypted payload IV is 16 bytes; section 6 requires 12"},
      {with(eph, "not*base64", data), "encrypted payload member \"iv\" is not valid base64"},
      {with(eph, iv, "%%%"), "encrypted payload member \"encryptedData\" is not valid base64"},
      {with(eph, iv, Base64Encode("too short")),
       "encrypted payload \"encryptedData\" is shorter than the 16-byte GCM tag"},
      {with("***", iv, data), "encrypted payload member \"ephemeralKey\" is not valid base64"},
      {with("", iv, data), "encrypted payload member \"ephemeralKey\": public key is empty"},
      {with(Base64Encode("hello"), iv, data),
       "encrypted payload member \"ephemeralKey\": public key is not an X.509 "
       "SubjectPublicKeyInfo EC public key (DER does not parse)"},
      {with(Base64Encode("-----BEGIN PUBLIC KEY-----\nAAAA\n"), iv, data),
       "encrypted payload member \"ephemeralKey\": public key PEM is malformed (no complete "
       "BEGIN/END block)"},
  };
  for (const Case& c : cases) {
    Result<std::string> opened = DecryptPayload(c.json, key);
    ASSERT_FALSE(opened.ok()) << c.json;
    EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_EQ(opened.status().message(), c.message) << c.json;
  }
}

TEST(PayloadEncryptionJsonTest, RefusesAnEphemeralKeyOnAnUnsupportedCurve) {
  // A secp384r1 SubjectPublicKeyInfo (made with `openssl ecparam -name secp384r1 -genkey`).
  const std::string p384 =
      "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEtxgkRMpRD2N2cGndc3oXfgSrgUBwgC/hV7TQZ8JJcG82Mt2/EP2Cl5+b"
      "svLEcegbe1nQiUUF09i4UPIzThPAhQvAK/KWLbkS0M9UUIyfLI54MAcMqZxEwGa0r597H4KN";
  const PrivateKey key = PrivateKey::Generate(Curve::kP256).value();
  Parts parts = Split(EncryptPayload("x", key.public_key()).value());
  ASSERT_TRUE(Base64Decode(p384).has_value());
  parts.ephemeral_key = *Base64Decode(p384);
  Result<std::string> opened = DecryptPayload(Join(parts), key);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(opened.status().message(), StartsWith("encrypted payload member \"ephemeralKey\": "));
  EXPECT_THAT(opened.status().message(), HasSubstr("secp384r1"));
}

TEST(PayloadEncryptionJsonTest, BoundsTheInputSize) {
  const PrivateKey key = PrivateKey::Generate(Curve::kP256).value();
  const std::string too_long(kMaxEncryptedPayloadBytes + 1, ' ');
  Result<std::string> opened = DecryptPayload(too_long, key);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kResourceExhausted);

  const std::string too_large(kMaxPayloadPlaintextBytes + 1, 'a');
  Result<std::string> sealed = EncryptPayload(too_large, key.public_key());
  ASSERT_FALSE(sealed.ok());
  EXPECT_EQ(sealed.status().code(), StatusCode::kResourceExhausted);
}

TEST(PayloadEncryptionJsonTest, IsSafeToUseFromManyThreads) {
  const PrivateKey key = PrivateKey::Generate(Curve::kSecp256k1).value();
  const PublicKey recipient = key.public_key();
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (size_t t = 0; t < failures.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string text = "thread " + std::to_string(t) + " message " + std::to_string(i);
        Result<std::string> sealed = EncryptPayload(text, recipient);
        Result<std::string> opened =
            sealed.ok() ? DecryptPayload(*sealed, key) : Result<std::string>(sealed.status());
        if (!opened.ok() || *opened != text) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

// Known answers made by govesb-connector-js 0.1.1 on Node 20 (OpenSSL 3.0), one per curve:
// `node testdata/node_payload_crypto.js vectors`. Hermetic; the live tests below also run it.
TEST(PayloadEncryptionVectorsTest, DecryptsWhatGovesbConnectorJsEncrypted) {
  const std::string path = SourcePath("src/crypto/testdata/node_payload_vectors.txt");
  std::istringstream lines(ReadFile(path));
  std::string curve_name;
  std::string pkcs8;
  std::string json;
  int count = 0;
  while (lines >> curve_name >> pkcs8 >> json) {
    SCOPED_TRACE(curve_name);
    Result<PrivateKey> key = PrivateKey::FromText(pkcs8);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_EQ(CurveName(key->curve()), curve_name);
    Result<std::string> opened = DecryptPayload(json, *key);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(*opened, kVectorPlaintext);
    ++count;
  }
  EXPECT_EQ(count, 3) << "expected one vector per curve in " << path;
}

// --- Live interop with the reference implementation -------------------------------------

// Runs testdata/node_payload_crypto.js (govesb-connector-js) with `key` and `input` in files;
// returns its output file. Any failure to run it is a test failure, never a skip: the
// project's setup installs node and the package (scripts/setup).
testing::AssertionResult RunConnectorJs(std::string_view mode, std::string_view key,
                                        std::string_view input, std::string* output) {
  const std::string script = SourcePath("src/crypto/testdata/node_payload_crypto.js");
  const std::string node_modules = SourcePath("test/interop/node_modules");
  if (!std::filesystem::exists(node_modules + "/govesb-connector-js/GovEsbHelper.js")) {
    return testing::AssertionFailure()
           << "govesb-connector-js is not installed under " << node_modules
           << ": run scripts/setup (npm ci in test/interop)";
  }
  TempDir dir("govesb-payload-interop");
  const std::string key_file = dir.path() + "/key.b64";
  const std::string input_file = dir.path() + "/input";
  const std::string output_file = dir.path() + "/output";
  const std::string log_file = dir.path() + "/log";
  WriteFile(key_file, key);
  WriteFile(input_file, input);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string_view(*e).starts_with("NODE_PATH=")) env_strings.emplace_back(*e);
  }
  env_strings.push_back("NODE_PATH=" + node_modules);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> arg_strings = {"node",   script,     std::string(mode),
                                          key_file, input_file, output_file};
  std::vector<char*> argv;
  for (std::string& s : arg_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int spawn_error = posix_spawnp(&pid, "node", &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    return testing::AssertionFailure()
           << "cannot run `node` (" << std::strerror(spawn_error)
           << "): Node.js >= 18 must be on PATH for the payload interop tests (scripts/setup "
              "installs it)";
  }
  int status = 0;
  while (waitpid(pid, &status, 0) == -1) {
    if (errno != EINTR) return testing::AssertionFailure() << "waitpid: " << std::strerror(errno);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return testing::AssertionFailure()
           << "node " << script << " " << mode << " failed (wait status " << status << "):\n"
           << ReadFile(log_file);
  }
  *output = ReadFile(output_file);
  return testing::AssertionSuccess();
}

// Text the JS helper handles as a string: UTF-8, quotes, newlines, JSON, and some length.
std::string InteropPlaintext() {
  std::string text = std::string(kVectorPlaintext) + "\n" + std::string(kNonAscii) + "\n";
  while (text.size() < 100 * 1024) text += "Mfumo wa ESB wa Serikali / GovESB {\"n\":42}\n";
  return text;
}

TEST_P(PayloadEncryptionTest, DecryptsWhatGovesbConnectorJsEncrypts) {
  const std::string plaintext = InteropPlaintext();
  std::string sealed;
  ASSERT_TRUE(RunConnectorJs("encrypt", key_.public_key().SpkiBase64(), plaintext, &sealed));
  Result<std::string> opened = DecryptPayload(sealed, key_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString() << "\n" << sealed.substr(0, 400);
  EXPECT_EQ(*opened, plaintext);
}

TEST_P(PayloadEncryptionTest, GovesbConnectorJsDecryptsWhatWeEncrypt) {
  const std::string plaintext = InteropPlaintext();
  Result<std::string> sealed = EncryptPayload(plaintext, key_.public_key());
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  std::string opened;
  ASSERT_TRUE(RunConnectorJs("decrypt", key_.Pkcs8Base64(), *sealed, &opened));
  EXPECT_EQ(opened, plaintext);
}

TEST_P(PayloadEncryptionTest, GovesbConnectorJsRefusesWhatWeEncryptForSomeoneElse) {
  const PrivateKey other = PrivateKey::Generate(GetParam()).value();
  const std::string sealed = EncryptPayload("not for you", other.public_key()).value();
  std::string opened;
  const testing::AssertionResult ran =
      RunConnectorJs("decrypt", key_.Pkcs8Base64(), sealed, &opened);
  ASSERT_FALSE(ran);
  EXPECT_THAT(ran.message(), HasSubstr("Unsupported state or unable to authenticate data"));
}

}  // namespace
}  // namespace govesb::crypto
