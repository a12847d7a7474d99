#include "crypto/keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <secp256k1.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/encoding.h"
#include "crypto/openssl_handles.h"

namespace govesb::crypto {
namespace {

using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------------
// Known answers made by other implementations (see testdata/make_vectors.sh for the commands).
// All sign kMessage with ECDSA-SHA256, DER signatures.
// ---------------------------------------------------------------------------------------------

constexpr std::string_view kMessage =
    R"({"apiCode":"TZX04KQ","esbBody":{"name":"Asha Juma","city":"Dar es Salaam","amount":1500.5}})";

struct ForeignVector {
  const char* made_by;
  Curve curve;
  const char* spki;       // base64 SubjectPublicKeyInfo DER
  const char* pkcs8;      // base64 PKCS#8 DER of the matching private key
  const char* signature;  // base64 DER signature over kMessage
};

// `openssl ecparam -genkey`, `openssl pkcs8 -topk8 -nocrypt -outform DER`,
// `openssl pkey -pubout -outform DER`, `openssl dgst -sha256 -sign` (OpenSSL 3.0).
constexpr ForeignVector kOpensslSecp256k1{
    "openssl", Curve::kSecp256k1,
    "MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEsH42xJFRmqd1uUtn5RNENYsMmQFtAP/"
    "BsGmvmDWxvwo88y8Jm90pdWnb8IjgvoOAPs/"
    "rScWfHtzWsOaQyP9YBQ==",
    "MIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQgkf44Pi3GShlueQu8eA8um5ADQmgZ+"
    "QbuvTU6khPuPwqhRANCAASw"
    "fjbEkVGap3W5S2flE0Q1iwyZAW0A/8Gwaa+YNbG/CjzzLwmb3Sl1advwiOC+g4A+z+tJxZ8e3Naw5pDI/1gF",
    // High-S, as OpenSSL left it.
    "MEUCIHi6HyCFvJ2if6kmPMvIntH5JnMFdXBKIGHlLBOKch4vAiEAgncBRru6uQhpJj16onhCdK5yvcEpq+"
    "KlrqhxES11ops="};
constexpr ForeignVector kOpensslP256{
    "openssl", Curve::kP256,
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJXMgA2A3g53v0oKpA4PzOklVpGBlMv9GsSvtUM4ncj/"
    "TxVEaFBayj0L7El+57I4UQBHx0QEg1i/OcEUCOdcvOQ==",
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKsLiztkrF7WFvV4BO5zMxRenIezgKJCkUwO4rS1IwrahRA"
    "NC"
    "AAQlcyADYDeDne/SgqkDg/M6SVWkYGUy/0axK+1QzidyP9PFURoUFrKPQvsSX7nsjhRAEfHRASDWL85wRQI51y85",
    "MEUCIQC/ZSJvlkz8S48Pxwui1DQ3FmBbFOVbncfMs52EvT74RAIgXbdmksvqXcPret/"
    "JHMPxRvTTrB5GRUOn4mBpvKWx9vs="};
constexpr ForeignVector kOpensslP521{
    "openssl", Curve::kP521,
    "MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQBxIunHfr0X7DmaXKxCvGO2OWqQ8wXImVzFEVr+"
    "wGXHruohyslynnCu5heTde3"
    "RsosUI0cXz14ZOIve3DBIQ/"
    "cocIAVYNAEzL9IfwW+DXeGNxNMbZaCMGAN4YxRYDyVS0NYZFW5pzuncNujPJr3baBYyVjHZOa"
    "8PFwiqa1LiUATVSg6+4=",
    "MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIBByvgJSQASiuUSRXnwZSbOiZ3XTBqR+SlvitqwD8n/"
    "wXBJskXkBxvbyQM+aTBeuWtdGylTr57aQfkgqC2+aawmqKhgYkDgYYABAHEi6cd+"
    "vRfsOZpcrEK8Y7Y5apDzBciZXMURWv7"
    "AZceu6iHKyXKecK7mF5N17dGyixQjRxfPXhk4i97cMEhD9yhwgBVg0ATMv0h/"
    "Bb4Nd4Y3E0xtloIwYA3hjFFgPJVLQ1hkVbm"
    "nO6dw26M8mvdtoFjJWMdk5rw8XCKprUuJQBNVKDr7g==",
    "MIGHAkE/"
    "kXwVM2DfU9NA0aUPnDMOYA8K6o0C+vBZ0BDmzI8XbKQxhdzPoNyJzRk0IpWjUxzE7+pG89k02dpKyz7G8r1kgQJC"
    "AYM7U2GBkRZxhGAxHL47KyC5wdBu7qrmJSJMyMLD2sIQWE6A2QKmuCVIvBj35BGJmh7sKLFHA9cpHgzOeZ0z/kGG"};

// Node.js 20: crypto.generateKeyPairSync('ec', {namedCurve}), export {type:'spki'|'pkcs8',
// format:'der'}, createSign('sha256').sign({key, dsaEncoding:'der'}).
constexpr ForeignVector kNodeSecp256k1{
    "node", Curve::kSecp256k1,
    "MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAErZ5IpTaNXox984xyVWLmknJ4B3B/DIZdZIeRWXrxACMnFyyYk/"
    "pULmSS93gLK4hlWDPd/OaRhrJwemEz22XSRw==",
    "MIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQgcVpP0pwAoAyoTgb1AngcDHtK4WOzNujvWsnMTYSnBNmhRANCAA"
    "St"
    "nkilNo1ejH3zjHJVYuaScngHcH8Mhl1kh5FZevEAIycXLJiT+lQuZJL3eAsriGVYM9385pGGsnB6YTPbZdJH",
    "MEUCIQCxViQqp3oofRhnac0URi/"
    "g73G4cwmKCGPOS+jikkTCTAIgMgywBvdpBCvg+0a6e9MjBSyih7qHTY1UIjW58GofkMA="};
constexpr ForeignVector kNodeP256{
    "node", Curve::kP256,
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE/aNw63667kRbWl9C5uxES3xxk9e/"
    "0T2k14jIwArn9lFSuqZzq6gzDjT9aNo2"
    "9w2FW0C1DgV9X6N6JowntzIWWg==",
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgyipkUBi4rsn8kNMtirbogOp2ldHu+"
    "EgvDw6vMFjAOOehRANC"
    "AAT9o3DrfrruRFtaX0Lm7ERLfHGT17/RPaTXiMjACuf2UVK6pnOrqDMONP1o2jb3DYVbQLUOBX1fo3omjCe3MhZa",
    "MEQCID2uIiEd4e8wWWKO4/xEEulX7G6xqO30k/Ku0xdyUVD2AiAbyIXEyiPF0YV5Ftj+ittF8c4egygZ8sDS0/"
    "ny9VBOeA=="};
constexpr ForeignVector kNodeP521{
    "node", Curve::kP521,
    "MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQAmTpj/"
    "9V5okhMoDCcr43wTmtIRh7t0wodzmm+7rc1xwFtoNSZwqdFUaTFSlzW"
    "0T2N92yKN+"
    "LmTPGfgx7q8x9WsHsBAgti5gXVI3a88117lKqXhakPIWadOTfv27GgInwldlxyYq5ul9reUfe1srV5LK0dIwJO"
    "eUReaZSVqpgsl0cqnhc=",
    "MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIBdT1+tIYlp+"
    "kbD2hUOTzZ7G66xdj77nhbIwK32JYdgf4Zb434"
    "dxnuuY4FIn2mwguoKBAbe7YeAvVSOgc4DlT6hzehgYkDgYYABACZOmP/"
    "1XmiSEygMJyvjfBOa0hGHu3TCh3Oab7utzXHAW2g"
    "1JnCp0VRpMVKXNbRPY33bIo34uZM8Z+DHurzH1awewECC2LmBdUjdrzzXXuUqpeFqQ8hZp05N+/"
    "bsaAifCV2XHJirm6X2t5R"
    "97WytXksrR0jAk55RF5plJWqmCyXRyqeFw==",
    "MIGIAkIBI37DY5pQ8HvJfFlRjpDQeXn0/"
    "8LNN8ck4X9DpLlO6XC09irRFoN+FZCOvVMwIjbZtJTlfkks6teS+D5GdYZhrX4C"
    "QgGQLCJzO5GCsxzrBZKqPHxLlTpFgEG6b/J3HxD7ff+pfl+BOjD9x/L2rwFfnfvTAKcHdAW5HUUGuOqGsa3JMT/LJg=="};

constexpr ForeignVector kForeignVectors[] = {kOpensslSecp256k1, kOpensslP256, kOpensslP521,
                                             kNodeSecp256k1,    kNodeP256,    kNodeP521};

// Derived from the signatures above with Python (testdata/make_vectors.sh): s -> n - s.
// The low-S twin of OpenSSL's high-S secp256k1 signature.
constexpr const char* kOpensslSecp256k1LowS =
    "MEQCIHi6HyCFvJ2if6kmPMvIntH5JnMFdXBKIGHlLBOKch4vAiB9iP65REVG95bZwoVdh72KDDwfJYWcvZYRKe17osCepg"
    "==";
// The high-S twin of Node's low-S secp256k1 signature.
constexpr const char* kNodeSecp256k1HighS =
    "MEYCIQCxViQqp3oofRhnac0URi/g73G4cwmKCGPOS+jikkTCTAIhAM3zT/kIlvvUHwS5RYQs3PmODFUsJ/"
    "sS552cpJxmFrCB";
// OpenSSL's secp256k1 signature with the SEQUENCE length in non-minimal long form (30 81 45).
// libsecp256k1's strict parser refuses it; the lax fallback must accept it.
constexpr const char* kOpensslSecp256k1LongFormLength =
    "MIFFAiB4uh8ghbydon+pJjzLyJ7R+"
    "SZzBXVwSiBh5SwTinIeLwIhAIJ3AUa7urkIaSY9eqJ4QnSucr3BKavipa6ocREtdaKb";

// The keys of kOpensslSecp256k1 and kOpensslP256 in other encodings (`openssl ec`, `openssl
// pkey`).
constexpr const char* kOpensslSecp256k1Sec1Pem =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHQCAQEEIJH+OD4txkoZbnkLvHgPLpuQA0JoGfkG7r01OpIT7j8KoAcGBSuBBAAK\n"
    "oUQDQgAEsH42xJFRmqd1uUtn5RNENYsMmQFtAP/BsGmvmDWxvwo88y8Jm90pdWnb\n"
    "8IjgvoOAPs/rScWfHtzWsOaQyP9YBQ==\n"
    "-----END EC PRIVATE KEY-----\n";
constexpr const char* kOpensslSecp256k1Pkcs8Pem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQgkf44Pi3GShlueQu8eA8u\n"
    "m5ADQmgZ+QbuvTU6khPuPwqhRANCAASwfjbEkVGap3W5S2flE0Q1iwyZAW0A/8Gw\n"
    "aa+YNbG/CjzzLwmb3Sl1advwiOC+g4A+z+tJxZ8e3Naw5pDI/1gF\n"
    "-----END PRIVATE KEY-----\n";
constexpr const char* kOpensslSecp256k1PublicPem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEsH42xJFRmqd1uUtn5RNENYsMmQFtAP/B\n"
    "sGmvmDWxvwo88y8Jm90pdWnb8IjgvoOAPs/rScWfHtzWsOaQyP9YBQ==\n"
    "-----END PUBLIC KEY-----\n";
// Bare SEC1 DER (what `openssl pkey -outform DER` writes for EC keys), base64.
constexpr const char* kOpensslSecp256k1Sec1Der =
    "MHQCAQEEIJH+"
    "OD4txkoZbnkLvHgPLpuQA0JoGfkG7r01OpIT7j8KoAcGBSuBBAAKoUQDQgAEsH42xJFRmqd1uUtn5RNENYsM"
    "mQFtAP/BsGmvmDWxvwo88y8Jm90pdWnb8IjgvoOAPs/rScWfHtzWsOaQyP9YBQ==";
constexpr const char* kOpensslP256Sec1Pem =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEICrC4s7ZKxe1hb1eATuczMUXpyHs4CiQpFMDuK0tSMK2oAoGCCqGSM49\n"
    "AwEHoUQDQgAEJXMgA2A3g53v0oKpA4PzOklVpGBlMv9GsSvtUM4ncj/TxVEaFBay\n"
    "j0L7El+57I4UQBHx0QEg1i/OcEUCOdcvOQ==\n"
    "-----END EC PRIVATE KEY-----\n";
constexpr const char* kOpensslP521Sec1Pem =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MIHcAgEBBEIBByvgJSQASiuUSRXnwZSbOiZ3XTBqR+SlvitqwD8n/wXBJskXkBxv\n"
    "byQM+aTBeuWtdGylTr57aQfkgqC2+aawmqKgBwYFK4EEACOhgYkDgYYABAHEi6cd\n"
    "+vRfsOZpcrEK8Y7Y5apDzBciZXMURWv7AZceu6iHKyXKecK7mF5N17dGyixQjRxf\n"
    "PXhk4i97cMEhD9yhwgBVg0ATMv0h/Bb4Nd4Y3E0xtloIwYA3hjFFgPJVLQ1hkVbm\n"
    "nO6dw26M8mvdtoFjJWMdk5rw8XCKprUuJQBNVKDr7g==\n"
    "-----END EC PRIVATE KEY-----\n";
// `openssl ec -pubout -conv_form compressed`: the same points, compressed.
constexpr const char* kOpensslSecp256k1CompressedSpki =
    "MDYwEAYHKoZIzj0CAQYFK4EEAAoDIgADsH42xJFRmqd1uUtn5RNENYsMmQFtAP/BsGmvmDWxvwo=";
constexpr const char* kOpensslP256CompressedSpki =
    "MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADJXMgA2A3g53v0oKpA4PzOklVpGBlMv9GsSvtUM4ncj8=";
// `openssl ec -pubout -param_enc explicit`: kOpensslP256's key with the curve spelled out.
constexpr const char* kOpensslP256ExplicitParamsSpki =
    "MIIBSzCCAQMGByqGSM49AgEwgfcCAQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAAAAAAAAAAAAAA////////////////"
    "MFsE"
    "IP////8AAAABAAAAAAAAAAAAAAAA///////////////"
    "8BCBaxjXYqjqT57PrvVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwMVAMSd"
    "NgiG5wSTamZ44ROdJreBn36QBEEEaxfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpZP40Li/hp/"
    "m47n60p8D54WK84z"
    "V2sxXs7LtkBoN79R9QIhAP////8AAAAA//////////"
    "+85vqtpxeehPO5ysL8YyVRAgEBA0IABCVzIANgN4Od79KCqQOD8zpJ"
    "VaRgZTL/RrEr7VDOJ3I/08VRGhQWso9C+xJfueyOFEAR8dEBINYvznBFAjnXLzk=";

// Keys the bus must refuse.
// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024`, public part.
constexpr const char* kRsaSpki =
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDZIMfWQASVw/FVS0a1EDnn9KIaMHZJuJqpcf+2S2DS6wzG/"
    "h00jlsOercY"
    "5vUUIOSgs87TO6yPG6xXA1bSVzwKiTN/"
    "oRdfKwA+BQmwEGOjHfzhkoD1YX9aXYxV27jHXanT0xLkujXmdNWwiNa1RXv7gxdL"
    "ZJWfc2v6apjyWvuj9QIDAQAB";
constexpr const char* kRsaPublicPem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDZIMfWQASVw/FVS0a1EDnn9KIa\n"
    "MHZJuJqpcf+2S2DS6wzG/h00jlsOercY5vUUIOSgs87TO6yPG6xXA1bSVzwKiTN/\n"
    "oRdfKwA+BQmwEGOjHfzhkoD1YX9aXYxV27jHXanT0xLkujXmdNWwiNa1RXv7gxdL\n"
    "ZJWfc2v6apjyWvuj9QIDAQAB\n"
    "-----END PUBLIC KEY-----\n";
// `openssl ecparam -name secp384r1 -genkey`, public part.
constexpr const char* kSecp384r1Spki =
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEMTrZzoOUnL+JI1BWEOpiBPOpOQAjGS0U8x9WOz0B/"
    "fa3FZUdfRYSVV6AbXEIpcnt"
    "2fhnF/dKTQjUrzY3TTVhmLd0nOyY8zXArSshJRHRy23elHevhl8y7B6uoYcuF7UY";
// `openssl genpkey -algorithm ed25519`, public part.
constexpr const char* kEd25519Spki = "MCowBQYDK2VwAyEAeXVEvmCfvHtQ8zFxMcQF5J3OGDiATR0DKiMuYl5tLl8=";
// kOpensslP256Sec1Pem encrypted with `openssl pkcs8 -topk8 -v2 aes-256-cbc`.
constexpr const char* kEncryptedPkcs8Pem =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAiSOigoJVWJzwICCAAw\n"
    "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEOpEdpKIKNd1R1RMsyx6GpQEgZCY\n"
    "ce6IDXYKrIn89oWNetGk/yX6o/+5xkEWQkz/wj7mVdIDiSgdc6zmnZE7cDpYgzBl\n"
    "sKrcyMMWSoRBv/b0nUorP3YtODBoNQG2qXxHnx5fv9z722T/CGsBYb913RoxSDVn\n"
    "0potBLd5BMt0+iOCpOA0RIUC37Wa1zvWaEkBJIIOUiiM+pXzlh+nLWsAcF9ZDrA=\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

std::string FromBase64(std::string_view text) {
  std::optional<std::string> bytes = Base64Decode(text);
  EXPECT_TRUE(bytes.has_value()) << text;
  return bytes.value_or("");
}

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

PublicKey MustPublic(std::string_view text) {
  Result<PublicKey> key = PublicKey::FromText(text);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return std::move(key).value();
}

PrivateKey MustPrivate(std::string_view text) {
  Result<PrivateKey> key = PrivateKey::FromText(text);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return std::move(key).value();
}

PrivateKey MustGenerate(Curve curve) {
  Result<PrivateKey> key = PrivateKey::Generate(curve);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return std::move(key).value();
}

std::string ErrorOf(std::string_view public_key_text) {
  Result<PublicKey> key = PublicKey::FromText(public_key_text);
  EXPECT_FALSE(key.ok()) << public_key_text;
  return key.ok() ? "" : key.status().message();
}

std::string PrivateErrorOf(std::string_view private_key_text) {
  Result<PrivateKey> key = PrivateKey::FromText(private_key_text);
  EXPECT_FALSE(key.ok()) << private_key_text;
  return key.ok() ? "" : key.status().message();
}

int CurveNid(Curve curve) {
  switch (curve) {
    case Curve::kSecp256k1:
      return NID_secp256k1;
    case Curve::kP256:
      return NID_X9_62_prime256v1;
    case Curve::kP521:
      return NID_secp521r1;
  }
  return NID_undef;
}

// The (r, s) of a DER signature, parsed by hand so that tests can re-encode them in the
// non-canonical ways other encoders use.
struct SignatureParts {
  std::string r;  // INTEGER contents, as encoded (may start with 0x00)
  std::string s;
};

size_t ReadLength(const std::string& der, size_t* pos) {
  auto first = static_cast<uint8_t>(der.at((*pos)++));
  if (first < 0x80) return first;
  size_t len = 0;
  for (int i = 0; i < (first & 0x7f); ++i)
    len = (len << 8) | static_cast<uint8_t>(der.at((*pos)++));
  return len;
}

SignatureParts SplitDer(const std::string& der) {
  size_t pos = 0;
  EXPECT_EQ(der.at(pos++), 0x30);
  const size_t body_length = ReadLength(der, &pos);
  EXPECT_EQ(body_length, der.size() - pos);
  SignatureParts parts;
  for (std::string* out : {&parts.r, &parts.s}) {
    EXPECT_EQ(der.at(pos++), 0x02);
    size_t len = ReadLength(der, &pos);
    *out = der.substr(pos, len);
    pos += len;
  }
  return parts;
}

// Minimal length, or (non_minimal) one byte longer than needed: 81 xx for short lengths.
std::string EncodeLength(size_t len, bool non_minimal) {
  std::string out;
  if (len < 0x80 && !non_minimal) {
    out.push_back(static_cast<char>(len));
  } else if (len < 0x100 && !(non_minimal && len >= 0x80)) {
    out = {'\x81', static_cast<char>(len)};
  } else {
    out = {'\x82', static_cast<char>(len >> 8), static_cast<char>(len & 0xff)};
  }
  return out;
}

std::string EncodeDer(const SignatureParts& parts, bool non_minimal_lengths) {
  std::string body;
  for (const std::string* value : {&parts.r, &parts.s}) {
    body += '\x02' + EncodeLength(value->size(), non_minimal_lengths) + *value;
  }
  return '\x30' + EncodeLength(body.size(), non_minimal_lengths) + body;
}

// The same signature with s replaced by n - s (the other one of the valid pair).
std::string FlipS(const std::string& der, Curve curve) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  internal::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_NE(sig, nullptr);
  if (sig == nullptr) return "";
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::unique_ptr<EC_GROUP, internal::FreeWith<EC_GROUP_free>> group(
      EC_GROUP_new_by_curve_name(CurveNid(curve)));
  internal::BignumPtr flipped(BN_new());
  EXPECT_EQ(BN_sub(flipped.get(), EC_GROUP_get0_order(group.get()), s), 1);
  internal::EcdsaSigPtr out(ECDSA_SIG_new());
  EXPECT_EQ(ECDSA_SIG_set0(out.get(), BN_dup(r), flipped.release()), 1);
  unsigned char* raw = nullptr;
  int len = i2d_ECDSA_SIG(out.get(), &raw);
  internal::OpenSslPtr<unsigned char> owned(raw);
  return std::string(reinterpret_cast<const char*>(raw), static_cast<size_t>(len));
}

// True when libsecp256k1 considers the signature already in low-S form.
bool IsLowS(const std::string& der) {
  std::unique_ptr<secp256k1_context, internal::FreeWith<secp256k1_context_destroy>> ctx(
      secp256k1_context_create(SECP256K1_CONTEXT_NONE));
  secp256k1_ecdsa_signature sig;
  EXPECT_EQ(secp256k1_ecdsa_signature_parse_der(
                ctx.get(), &sig, reinterpret_cast<const unsigned char*>(der.data()), der.size()),
            1);
  return secp256k1_ecdsa_signature_normalize(ctx.get(), nullptr, &sig) == 0;
}

const Curve kAllCurves[] = {Curve::kSecp256k1, Curve::kP256, Curve::kP521};

// ---------------------------------------------------------------------------------------------
// Curves
// ---------------------------------------------------------------------------------------------

TEST(CurveTest, NamesAndAliases) {
  EXPECT_EQ(CurveName(Curve::kSecp256k1), "secp256k1");
  EXPECT_EQ(CurveName(Curve::kP256), "prime256v1");
  EXPECT_EQ(CurveName(Curve::kP521), "secp521r1");
  for (Curve curve : kAllCurves) EXPECT_EQ(*ParseCurveName(CurveName(curve)), curve);
  EXPECT_EQ(*ParseCurveName("P-256"), Curve::kP256);
  EXPECT_EQ(*ParseCurveName("secp256r1"), Curve::kP256);
  EXPECT_EQ(*ParseCurveName("P-521"), Curve::kP521);

  Result<Curve> unknown = ParseCurveName("secp384r1");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(),
            "unsupported curve secp384r1 (supported: secp256k1, prime256v1, secp521r1)");
}

// ---------------------------------------------------------------------------------------------
// Signatures made elsewhere
// ---------------------------------------------------------------------------------------------

TEST(ForeignSignatureTest, OpensslAndNodeSignaturesVerify) {
  for (const ForeignVector& v : kForeignVectors) {
    SCOPED_TRACE(std::string(v.made_by) + " " + std::string(CurveName(v.curve)));
    PublicKey key = MustPublic(v.spki);
    EXPECT_EQ(key.curve(), v.curve);
    EXPECT_EQ(key.SpkiBase64(), v.spki);
    EXPECT_TRUE(key.VerifyBase64(kMessage, v.signature));
    EXPECT_TRUE(key.Verify(kMessage, AsBytes(FromBase64(v.signature))));

    // One byte more, one byte less, one byte different: all refused.
    EXPECT_FALSE(key.VerifyBase64(std::string(kMessage) + " ", v.signature));
    EXPECT_FALSE(key.VerifyBase64(kMessage.substr(1), v.signature));
    std::string altered(kMessage);
    altered[altered.find("1500")] = '9';
    EXPECT_FALSE(key.VerifyBase64(altered, v.signature));
  }
}

TEST(ForeignSignatureTest, AlteredSignaturesAreRefused) {
  for (const ForeignVector& v : kForeignVectors) {
    SCOPED_TRACE(std::string(v.made_by) + " " + std::string(CurveName(v.curve)));
    PublicKey key = MustPublic(v.spki);
    const std::string der = FromBase64(v.signature);
    // Flip one bit in every byte position of r and s (skipping the DER header bytes).
    for (size_t i = 8; i < der.size(); i += 5) {
      std::string bad = der;
      bad[i] = static_cast<char>(bad[i] ^ 0x01);
      EXPECT_FALSE(key.Verify(kMessage, AsBytes(bad))) << "byte " << i;
    }
  }
}

TEST(ForeignSignatureTest, SignatureFromAnotherKeyOrCurveIsRefused) {
  for (const ForeignVector& signer : kForeignVectors) {
    for (const ForeignVector& verifier : kForeignVectors) {
      if (&signer == &verifier || std::string_view(signer.spki) == verifier.spki) continue;
      SCOPED_TRACE(std::string(signer.made_by) + " " + std::string(CurveName(signer.curve)) +
                   " checked with " + verifier.made_by + " " +
                   std::string(CurveName(verifier.curve)));
      EXPECT_FALSE(MustPublic(verifier.spki).VerifyBase64(kMessage, signer.signature));
    }
  }
}

TEST(ForeignSignatureTest, ForeignPrivateKeysLoadAndMatchTheirPublicKeys) {
  for (const ForeignVector& v : kForeignVectors) {
    SCOPED_TRACE(std::string(v.made_by) + " " + std::string(CurveName(v.curve)));
    PrivateKey key = MustPrivate(v.pkcs8);
    EXPECT_EQ(key.curve(), v.curve);
    EXPECT_EQ(key.public_key().SpkiBase64(), v.spki);
    EXPECT_EQ(key.Pkcs8Base64(), v.pkcs8);
    // Our signature verifies with the foreign public key.
    EXPECT_TRUE(MustPublic(v.spki).VerifyBase64(kMessage, key.SignBase64(kMessage)));
  }
}

// ---------------------------------------------------------------------------------------------
// High-S and non-canonical DER
// ---------------------------------------------------------------------------------------------

TEST(HighSTest, PrecomputedSecp256k1PairsBothVerify) {
  PublicKey openssl_key = MustPublic(kOpensslSecp256k1.spki);
  ASSERT_FALSE(IsLowS(FromBase64(kOpensslSecp256k1.signature)));  // the vector is high-S
  EXPECT_TRUE(openssl_key.VerifyBase64(kMessage, kOpensslSecp256k1.signature));
  ASSERT_TRUE(IsLowS(FromBase64(kOpensslSecp256k1LowS)));
  EXPECT_TRUE(openssl_key.VerifyBase64(kMessage, kOpensslSecp256k1LowS));

  PublicKey node_key = MustPublic(kNodeSecp256k1.spki);
  ASSERT_TRUE(IsLowS(FromBase64(kNodeSecp256k1.signature)));
  ASSERT_FALSE(IsLowS(FromBase64(kNodeSecp256k1HighS)));
  EXPECT_TRUE(node_key.VerifyBase64(kMessage, kNodeSecp256k1HighS));
  EXPECT_FALSE(node_key.VerifyBase64(std::string(kMessage) + "x", kNodeSecp256k1HighS));
}

TEST(HighSTest, FlippedSignaturesVerifyOnEveryCurve) {
  for (const ForeignVector& v : kForeignVectors) {
    SCOPED_TRACE(std::string(v.made_by) + " " + std::string(CurveName(v.curve)));
    const std::string flipped = FlipS(FromBase64(v.signature), v.curve);
    ASSERT_NE(Base64Encode(flipped), v.signature);
    EXPECT_TRUE(MustPublic(v.spki).Verify(kMessage, AsBytes(flipped)));
  }
  PrivateKey key = MustGenerate(Curve::kSecp256k1);
  const std::string ours = key.SignDer(kMessage);
  const std::string flipped = FlipS(ours, Curve::kSecp256k1);
  ASSERT_FALSE(IsLowS(flipped));
  EXPECT_TRUE(key.public_key().Verify(kMessage, AsBytes(flipped)));
}

TEST(NonCanonicalDerTest, PrecomputedLongFormLengthVerifies) {
  EXPECT_TRUE(
      MustPublic(kOpensslSecp256k1.spki).VerifyBase64(kMessage, kOpensslSecp256k1LongFormLength));
}

TEST(NonCanonicalDerTest, LaxEncodingsVerifyOnEveryCurve) {
  for (const ForeignVector& v : kForeignVectors) {
    SCOPED_TRACE(std::string(v.made_by) + " " + std::string(CurveName(v.curve)));
    PublicKey key = MustPublic(v.spki);
    const SignatureParts parts = SplitDer(FromBase64(v.signature));
    ASSERT_EQ(EncodeDer(parts, false), FromBase64(v.signature));  // the helper is faithful

    // Non-minimal lengths (30 81 45 ... 02 81 20 ...) are refused by libsecp256k1 and by
    // OpenSSL's verifier, yet produced by some hand-written encoders.
    const std::string long_lengths = EncodeDer(parts, /*non_minimal_lengths=*/true);
    EXPECT_TRUE(key.Verify(kMessage, AsBytes(long_lengths)));

    // The fallback is OpenSSL 3's parser: it takes non-minimal lengths but, like every
    // mainstream verifier, not integers with a superfluous leading zero or a missing one.
    SignatureParts padded = parts;
    padded.r.insert(0, 1, '\0');
    EXPECT_FALSE(key.Verify(kMessage, AsBytes(EncodeDer(padded, false))));

    // Lax is not anything-goes: trailing bytes and a wrong message are still refused.
    std::string trailing = FromBase64(v.signature) + std::string(1, '\0');
    EXPECT_FALSE(key.Verify(kMessage, AsBytes(trailing)));
    EXPECT_FALSE(key.Verify(std::string(kMessage) + " ", AsBytes(long_lengths)));
  }
}

TEST(MalformedSignatureTest, RefusedWithoutCrashing) {
  for (Curve curve : kAllCurves) {
    SCOPED_TRACE(std::string(CurveName(curve)));
    PrivateKey key = MustGenerate(curve);
    PublicKey pub = key.public_key();
    const std::string good = key.SignDer(kMessage);
    ASSERT_TRUE(pub.Verify(kMessage, AsBytes(good)));

    const std::vector<std::string> bad = {
        "",
        std::string("\x30", 1),
        std::string("\x30\x00", 2),
        std::string("\x30\x06\x02\x01\x00\x02\x01\x00", 8),           // r = s = 0
        std::string("\x30\x06\x02\x01\x01\x02\x01\x01", 8),           // r = s = 1
        std::string("\x30\x06\x02\x01\xff\x02\x01\xff", 8),           // negative
        std::string("\x30\x80\x02\x01\x01\x02\x01\x01\x00\x00", 10),  // BER indefinite length
        good.substr(0, good.size() - 1),
        good.substr(1),
        std::string(good.size(), '\0'),
        std::string(300, '\x30'),
        FromBase64(kRsaSpki),
    };
    for (const std::string& sig : bad) EXPECT_FALSE(pub.Verify(kMessage, AsBytes(sig)));

    // r and s equal to the group order (out of range), in canonical DER.
    std::unique_ptr<EC_GROUP, internal::FreeWith<EC_GROUP_free>> group(
        EC_GROUP_new_by_curve_name(CurveNid(curve)));
    std::string order(static_cast<size_t>(BN_num_bytes(EC_GROUP_get0_order(group.get()))), '\0');
    BN_bn2bin(EC_GROUP_get0_order(group.get()), reinterpret_cast<unsigned char*>(order.data()));
    SignatureParts at_order = SplitDer(good);
    at_order.s = (static_cast<uint8_t>(order[0]) & 0x80 ? std::string(1, '\0') : "") + order;
    EXPECT_FALSE(pub.Verify(kMessage, AsBytes(EncodeDer(at_order, false))));

    EXPECT_FALSE(pub.VerifyBase64(kMessage, "not base64!"));
    EXPECT_FALSE(pub.VerifyBase64(kMessage, ""));
    EXPECT_FALSE(pub.VerifyBase64(kMessage, Base64Encode(good) + "QQ"));
    EXPECT_TRUE(pub.VerifyBase64(kMessage, Base64Encode(good)));
  }
}

// ---------------------------------------------------------------------------------------------
// Our own signatures
// ---------------------------------------------------------------------------------------------

TEST(SignTest, RoundTripOnEveryCurve) {
  for (Curve curve : kAllCurves) {
    SCOPED_TRACE(std::string(CurveName(curve)));
    PrivateKey key = MustGenerate(curve);
    EXPECT_EQ(key.curve(), curve);
    PublicKey pub = key.public_key();
    EXPECT_EQ(pub.curve(), curve);

    const std::string signature = key.SignBase64(kMessage);
    EXPECT_TRUE(pub.VerifyBase64(kMessage, signature));
    EXPECT_FALSE(pub.VerifyBase64(std::string(kMessage) + " ", signature));
    EXPECT_TRUE(pub.VerifyBase64("", key.SignBase64("")));

    // Through text, as another system would store them.
    PublicKey reloaded = MustPublic(pub.SpkiBase64());
    EXPECT_TRUE(reloaded.VerifyBase64(kMessage, signature));
    PrivateKey reloaded_private = MustPrivate(key.Pkcs8Base64());
    EXPECT_EQ(reloaded_private.public_key().SpkiBase64(), pub.SpkiBase64());
    EXPECT_TRUE(pub.VerifyBase64(kMessage, reloaded_private.SignBase64(kMessage)));

    // Another key on the same curve, and keys on the other curves, refuse it.
    EXPECT_FALSE(MustGenerate(curve).public_key().VerifyBase64(kMessage, signature));
    for (Curve other : kAllCurves) {
      if (other == curve) continue;
      EXPECT_FALSE(MustGenerate(other).public_key().VerifyBase64(kMessage, signature));
    }
  }
}

TEST(SignTest, ADigestSignsAndVerifiesLikeItsMessageOnEveryCurve) {
  const Sha256Digest digest = Sha256(kMessage);
  Sha256Digest other = digest;
  other[31] ^= 1;
  for (Curve curve : kAllCurves) {
    SCOPED_TRACE(std::string(CurveName(curve)));
    PrivateKey key = MustGenerate(curve);
    PublicKey pub = key.public_key();
    const LocalSigner signer(key);
    // Signed over the digest, verified over the message, and the other way round.
    EXPECT_TRUE(pub.VerifyBase64(kMessage, key.SignDigestBase64(digest)));
    EXPECT_TRUE(pub.VerifyBase64(kMessage, signer.SignDigestBase64(digest)));
    EXPECT_TRUE(pub.VerifyDigestBase64(digest, key.SignBase64(kMessage)));
    const std::string der = key.SignDer(kMessage);
    EXPECT_TRUE(pub.VerifyDigest(digest, AsBytes(der)));
    EXPECT_FALSE(pub.VerifyDigestBase64(other, key.SignBase64(kMessage)));
    EXPECT_FALSE(pub.VerifyBase64(kMessage, key.SignDigestBase64(other)));
    EXPECT_FALSE(pub.VerifyDigestBase64(digest, "not base64!"));
  }
  // Foreign signatures (OpenSSL and Node) verify over their digest too.
  for (const ForeignVector& v : kForeignVectors) {
    SCOPED_TRACE(v.made_by);
    EXPECT_TRUE(MustPublic(v.spki).VerifyDigestBase64(digest, v.signature));
  }
}

TEST(SignTest, Secp256k1SignaturesAreLowSAndDeterministic) {
  PrivateKey key = MustPrivate(kOpensslSecp256k1.pkcs8);
  for (int i = 0; i < 32; ++i) {
    const std::string message = std::string(kMessage) + std::to_string(i);
    const std::string der = key.SignDer(message);
    EXPECT_TRUE(IsLowS(der)) << i;
    // RFC 6979 nonces: the same key and message give the same signature.
    EXPECT_EQ(key.SignDer(message), der);
  }
}

TEST(SignTest, LocalSignerSignsWithItsKey) {
  LocalSigner signer(MustPrivate(kNodeP256.pkcs8));
  EXPECT_EQ(signer.public_key().SpkiBase64(), kNodeP256.spki);
  const Signer& seam = signer;
  EXPECT_TRUE(MustPublic(kNodeP256.spki).VerifyBase64(kMessage, seam.SignBase64(kMessage)));
}

TEST(SignTest, KeysAreSharedAcrossThreads) {
  PrivateKey secp = MustPrivate(kOpensslSecp256k1.pkcs8);
  PrivateKey p256 = MustPrivate(kOpensslP256.pkcs8);
  std::vector<PublicKey> foreign;
  for (const ForeignVector& v : kForeignVectors) foreign.push_back(MustPublic(v.spki));

  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < failures.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        for (size_t k = 0; k < foreign.size(); ++k) {
          if (!foreign[k].VerifyBase64(kMessage, kForeignVectors[k].signature)) ++failures[t];
        }
        const std::string message = "thread " + std::to_string(t) + " " + std::to_string(i);
        if (!secp.public_key().VerifyBase64(message, secp.SignBase64(message))) ++failures[t];
        if (!p256.public_key().VerifyBase64(message, p256.SignBase64(message))) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

// ---------------------------------------------------------------------------------------------
// Key encodings
// ---------------------------------------------------------------------------------------------

TEST(KeyTextTest, PublicKeyFormsAllLoadTheSameKey) {
  const std::string spki = kOpensslSecp256k1.spki;
  std::string wrapped;
  for (size_t i = 0; i < spki.size(); i += 64) wrapped += spki.substr(i, 64) + "\r\n";
  std::string crlf_pem;
  for (char c : std::string(kOpensslSecp256k1PublicPem)) {
    if (c == '\n') crlf_pem += '\r';
    crlf_pem += c;
  }
  for (const std::string& text :
       {spki, "  " + spki + "\n", wrapped, std::string(kOpensslSecp256k1PublicPem), crlf_pem}) {
    SCOPED_TRACE(text);
    PublicKey key = MustPublic(text);
    EXPECT_EQ(key.SpkiBase64(), spki);
    EXPECT_TRUE(key.VerifyBase64(kMessage, kOpensslSecp256k1.signature));
  }
  Result<PublicKey> from_der = PublicKey::FromSpkiDer(AsBytes(FromBase64(spki)));
  ASSERT_TRUE(from_der.ok());
  EXPECT_EQ(from_der->SpkiBase64(), spki);
}

TEST(KeyTextTest, CompressedPointsVerifyTheSameSignatures) {
  PublicKey secp = MustPublic(kOpensslSecp256k1CompressedSpki);
  EXPECT_EQ(secp.curve(), Curve::kSecp256k1);
  EXPECT_TRUE(secp.VerifyBase64(kMessage, kOpensslSecp256k1.signature));
  EXPECT_FALSE(secp.VerifyBase64(kMessage, kNodeSecp256k1.signature));

  PublicKey p256 = MustPublic(kOpensslP256CompressedSpki);
  EXPECT_EQ(p256.curve(), Curve::kP256);
  EXPECT_TRUE(p256.VerifyBase64(kMessage, kOpensslP256.signature));
}

TEST(KeyTextTest, PrivateKeyFormsFromOpensslMatchTheirSpki) {
  struct Case {
    const char* name;
    std::string text;
    const ForeignVector* vector;
  };
  const std::string params_then_key =
      "-----BEGIN EC PARAMETERS-----\nBgUrgQQACg==\n-----END EC PARAMETERS-----\n" +
      std::string(kOpensslSecp256k1Sec1Pem);
  const Case cases[] = {
      {"SEC1 PEM secp256k1", kOpensslSecp256k1Sec1Pem, &kOpensslSecp256k1},
      {"PKCS#8 PEM secp256k1", kOpensslSecp256k1Pkcs8Pem, &kOpensslSecp256k1},
      {"PKCS#8 base64 secp256k1", kOpensslSecp256k1.pkcs8, &kOpensslSecp256k1},
      {"SEC1 DER base64 secp256k1", kOpensslSecp256k1Sec1Der, &kOpensslSecp256k1},
      {"ecparam -genkey output", params_then_key, &kOpensslSecp256k1},
      {"SEC1 PEM P-256", kOpensslP256Sec1Pem, &kOpensslP256},
      {"SEC1 PEM P-521", kOpensslP521Sec1Pem, &kOpensslP521},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    PrivateKey key = MustPrivate(c.text);
    EXPECT_EQ(key.curve(), c.vector->curve);
    EXPECT_EQ(key.public_key().SpkiBase64(), c.vector->spki);
    EXPECT_EQ(key.Pkcs8Base64(), c.vector->pkcs8);
  }
}

TEST(KeyTextTest, MalformedPublicKeysGiveClearErrors) {
  EXPECT_EQ(ErrorOf(""), "public key is empty");
  EXPECT_EQ(ErrorOf("  \n "), "public key is empty");
  EXPECT_THAT(ErrorOf("MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAE$$$"), HasSubstr("not valid base64"));
  EXPECT_THAT(ErrorOf("this is not a key"), HasSubstr("not valid base64"));

  const std::string spki = FromBase64(kOpensslSecp256k1.spki);
  EXPECT_THAT(ErrorOf(Base64Encode(spki.substr(0, spki.size() / 2))),
              HasSubstr("not an X.509 SubjectPublicKeyInfo EC public key"));
  EXPECT_THAT(ErrorOf(Base64Encode(spki.substr(0, spki.size() - 1))),
              HasSubstr("not an X.509 SubjectPublicKeyInfo EC public key"));
  EXPECT_THAT(ErrorOf(Base64Encode(spki + std::string(1, '\0'))),
              HasSubstr("not an X.509 SubjectPublicKeyInfo EC public key"));
  EXPECT_THAT(ErrorOf(Base64Encode("hello world")),
              HasSubstr("not an X.509 SubjectPublicKeyInfo EC public key"));
  std::string off_curve = spki;
  off_curve.back() = static_cast<char>(off_curve.back() ^ 0x01);
  EXPECT_THAT(ErrorOf(Base64Encode(off_curve)),
              HasSubstr("not an X.509 SubjectPublicKeyInfo EC public key"));

  EXPECT_THAT(ErrorOf(kRsaSpki), HasSubstr("RSA public keys are not supported"));
  EXPECT_THAT(ErrorOf(kRsaPublicPem), HasSubstr("RSA public keys are not supported"));
  EXPECT_EQ(ErrorOf(kSecp384r1Spki),
            "unsupported curve secp384r1 (supported: secp256k1, prime256v1, secp521r1)");
  EXPECT_THAT(ErrorOf(kEd25519Spki), HasSubstr("not an EC key (key type ED25519)"));
  EXPECT_THAT(ErrorOf(kOpensslP256ExplicitParamsSpki), HasSubstr("explicit EC curve parameters"));

  EXPECT_THAT(ErrorOf(kOpensslSecp256k1.pkcs8), HasSubstr("got a PKCS#8 private key"));
  EXPECT_THAT(ErrorOf(kOpensslSecp256k1Sec1Pem), HasSubstr("got a PEM 'EC PRIVATE KEY' block"));
  EXPECT_THAT(ErrorOf("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
              HasSubstr("PEM block 'CERTIFICATE' is not a public key"));
  EXPECT_THAT(ErrorOf("-----BEGIN PUBLIC KEY-----\nMFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAE\n"),
              HasSubstr("PEM is malformed"));
  EXPECT_THAT(ErrorOf(std::string(100000, 'A')), HasSubstr("too long"));

  EXPECT_EQ(PublicKey::FromSpkiDer({}).status().message(), "public key is empty");
}

TEST(KeyTextTest, MalformedPrivateKeysGiveClearErrors) {
  EXPECT_EQ(PrivateErrorOf(""), "private key is empty");
  EXPECT_THAT(PrivateErrorOf("%%%"), HasSubstr("private key is not valid base64"));
  const std::string pkcs8 = FromBase64(kOpensslSecp256k1.pkcs8);
  EXPECT_THAT(PrivateErrorOf(Base64Encode(pkcs8.substr(0, pkcs8.size() - 3))),
              HasSubstr("not a PKCS#8 EC private key"));
  EXPECT_THAT(PrivateErrorOf(kOpensslSecp256k1.spki), HasSubstr("got a public key"));
  EXPECT_THAT(PrivateErrorOf(kOpensslSecp256k1PublicPem), HasSubstr("got a public key"));
  EXPECT_THAT(PrivateErrorOf(kEncryptedPkcs8Pem), HasSubstr("encrypted private key"));
  EXPECT_THAT(
      PrivateErrorOf("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"),
      HasSubstr("PEM block 'RSA PRIVATE KEY' is not a private key"));

  // A PKCS#8 whose embedded public key belongs to another private key.
  std::string mismatched = pkcs8;
  const std::string our_point = FromBase64(kOpensslSecp256k1.spki).substr(23);
  const std::string other_point = FromBase64(kNodeSecp256k1.spki).substr(23);
  const size_t at = mismatched.find(our_point);
  ASSERT_NE(at, std::string::npos);
  mismatched.replace(at, our_point.size(), other_point);
  EXPECT_THAT(PrivateErrorOf(Base64Encode(mismatched)), HasSubstr("does not match"));
}

}  // namespace
}  // namespace govesb::crypto
