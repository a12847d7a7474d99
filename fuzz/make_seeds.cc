// Remakes the seed corpora under fuzz/corpus/ from real examples: envelopes of the wire
// contract (../shared/protocol/GOVESB-WIRE.md) signed with the fixed fuzz keys, keys in the
// encodings clients send, tokens, token-endpoint bodies, endpoint URLs, a segment file
// written by the evidence log's own SegmentWriter, and a person's access report (and its page)
// signed with the fixed secp256k1 key.
//
//   build-fuzz/fuzz/govesb_fuzz_make_seeds fuzz/corpus
//
// Existing seeds of the same name are overwritten; others are left alone. Signatures and
// generated keys differ from run to run (ECDSA with fresh keys), the rest is fixed.

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "auth/token.h"
#include "base/encoding.h"
#include "base/temp_dir.h"
#include "crypto/keys.h"
#include "evidence/log.h"
#include "evidence/segments.h"
#include "evidence/subject_report.h"
#include "evidence/subject_report_html.h"
#include "fuzz_common.h"
#include "wire/envelope.h"
#include "wire/messages.h"

namespace crypto = govesb::crypto;
namespace evidence = govesb::evidence;
namespace wire = govesb::wire;
namespace fs = std::filesystem;

namespace {

std::string g_root;

void Seed(const std::string& target, const std::string& name, std::string_view bytes) {
  fs::create_directories(g_root + "/" + target);
  std::ofstream(g_root + "/" + target + "/" + name, std::ios::binary) << bytes;
}

std::string Pem(std::string_view label, std::string_view base64) {
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (size_t i = 0; i < base64.size(); i += 64) {
    out += base64.substr(i, 64);
    out += '\n';
  }
  return out + "-----END " + std::string(label) + "-----\n";
}

const crypto::PrivateKey& K1() {
  static const crypto::PrivateKey k =
      *crypto::PrivateKey::FromText(govesb::fuzz::kSecp256k1PrivateKey);
  return k;
}
const crypto::PrivateKey& P256() {
  static const crypto::PrivateKey k = *crypto::PrivateKey::FromText(govesb::fuzz::kP256PrivateKey);
  return k;
}

std::string Signed(std::string_view data, const crypto::PrivateKey& key) {
  return wire::SealEnvelope(data, key.SignBase64(data));
}

void JsonSeeds() {
  Seed("json", "pull_data", R"({"apiCode":"GETUSR01","esbBody":{"id":42,"name":"Asha"}})");
  Seed(
      "json", "response_data",
      R"({"success":true,"requestId":"0123456789abcdef0123456789abcdef","message":"Success","esbBody":{"a":[1,2.5,-0,1E400,1e-7,true,false,null]}})");
  Seed("json", "whitespace", " {\n  \"a\" : [ 1 , { \"b\" : \"c\" } ] ,\t\"a\": 2\n}\r\n");
  Seed("json", "escapes",
       R"({"s":"\"\\\/\b\f\n\r\t\u00e9\u20ac\ud83d\ude00\ud800 caf)"
       "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"}");
  Seed("json", "string_token", R"("Dar es Salaam \u00e9 \ud83d\ude00")");
  Seed("json", "numbers",
       "[0,-0,1.0,100.0,0.001,1.0E-4,12345678.9,1.7976931348623157e308,"
       "4.9e-324,1e-400,123456789012345678901234567890]");
  Seed("json", "nested", "[[[[[[[[[[{\"a\":[[[[[]]]]]}]]]]]]]]]]");
  double d = 0.1;
  Seed("json", "double_bits", std::string_view(reinterpret_cast<const char*>(&d), sizeof d));
}

void EnvelopeSeeds() {
  const std::string pull = R"({"apiCode":"GETUSR01","esbBody":{"id":42,"name":"Asha"}})";
  Seed("envelope", "pull_k1", Signed(pull, K1()));
  Seed("envelope", "pull_p256", Signed(pull, P256()));
  Seed("envelope", "nida_k1",
       Signed(R"({"apiCode":"NIDA0001","userId":"u-1","esbBody":{"Payload":{"nin":"1990"}}})",
              K1()));
  Seed("envelope", "push_k1", Signed(R"({"pushCode":"PSH01","esbBody":[1,2,3]})", K1()));
  Seed("envelope", "async_answer_k1",
       Signed(R"({"success":true,"requestId":"0123456789abcdef0123456789abcdef","esbBody":{}})",
              K1()));
  // Signed over the compact text, sent with whitespace; signed ASCII-escaped, sent raw.
  std::string compact = R"({"apiCode":"GETUSR01","esbBody":{"name":"caf\u00e9"}})";
  std::string raw = "{\"apiCode\":\"GETUSR01\",\"esbBody\":{\"name\":\"caf\xC3\xA9\"}}";
  Seed("envelope", "ascii_escaped_k1",
       "{\"data\":" + raw + ",\"signature\":\"" + K1().SignBase64(compact) + "\"}");
  std::string spaced = "{ \"apiCode\" : \"GETUSR01\" , \"esbBody\" : [ 1 , 2 ] }";
  Seed("envelope", "spaced_k1",
       "{\n \"signature\": \"" + K1().SignBase64(R"({"apiCode":"GETUSR01","esbBody":[1,2]})") +
           "\",\n \"data\": " + spaced + "\n}");
  // ISO-8859-1 body (Java connector 0.1.5), signed over UTF-8.
  std::string utf8 = "{\"apiCode\":\"GETUSR01\",\"esbBody\":{\"name\":\"caf\xC3\xA9\"}}";
  std::string latin1 = "{\"apiCode\":\"GETUSR01\",\"esbBody\":{\"name\":\"caf\xE9\"}}";
  Seed("envelope", "latin1_k1",
       "{\"data\":" + latin1 + ",\"signature\":\"" + K1().SignBase64(utf8) + "\"}");
  // XML (contract section 7).
  std::string xml_data =
      "<data><apiCode>NIDA0001</apiCode><userId>u1</userId><esbBody>&lt;a&gt;1&lt;/a&gt;"
      "</esbBody></data>";
  Seed("envelope", "xml_k1",
       "<esbrequest>" + xml_data + "<signature>" + K1().SignBase64(xml_data) +
           "</signature></esbrequest>");
  auto nested =
      wire::DataJsonToXml(R"({"apiCode":"GETUSR01","esbBody":{"a":[1,2],"b":{"c":"d"}}})");
  Seed("envelope", "xml_nested_p256",
       "<?xml version=\"1.0\"?>\n" +
           wire::SealXmlEnvelope(*nested, P256().SignBase64(*nested), "esbrequest"));
}

void KeySeeds() {
  for (auto curve : {crypto::Curve::kSecp256k1, crypto::Curve::kP256, crypto::Curve::kP521}) {
    auto key = crypto::PrivateKey::Generate(curve);
    std::string name(crypto::CurveName(curve));
    Seed("keys", "spki_" + name, key->public_key().SpkiBase64());
    Seed("keys", "pkcs8_" + name, key->Pkcs8Base64());
    Seed("keys", "pem_public_" + name, Pem("PUBLIC KEY", key->public_key().SpkiBase64()));
    Seed("keys", "pem_private_" + name, Pem("PRIVATE KEY", key->Pkcs8Base64()));
    Seed("keys", "der_spki_" + name, *govesb::Base64Decode(key->public_key().SpkiBase64()));
    Seed("keys", "signature_" + name, key->SignBase64("message"));
    Seed("keys", "der_signature_" + name, key->SignDer("message"));
  }
  // From src/crypto/keys_test.cc: SEC1 PEM (`openssl ec`), compressed points, RSA (refused).
  Seed("keys", "sec1_pem_secp256k1",
       "-----BEGIN EC PRIVATE KEY-----\n"
       "MHQCAQEEIJH+OD4txkoZbnkLvHgPLpuQA0JoGfkG7r01OpIT7j8KoAcGBSuBBAAK\n"
       "oUQDQgAEsH42xJFRmqd1uUtn5RNENYsMmQFtAP/BsGmvmDWxvwo88y8Jm90pdWnb\n"
       "8IjgvoOAPs/rScWfHtzWsOaQyP9YBQ==\n"
       "-----END EC PRIVATE KEY-----\n");
  Seed("keys", "compressed_spki_secp256k1",
       "MDYwEAYHKoZIzj0CAQYFK4EEAAoDIgADsH42xJFRmqd1uUtn5RNENYsMmQFtAP/BsGmvmDWxvwo=");
  Seed("keys", "rsa_spki",
       "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDZIMfWQASVw/FVS0a1EDnn9KIaMHZJuJqpcf+2S2DS6wzG/"
       "h00jlsOercY5vUUIOSgs87TO6yPG6xXA1bSVzwKiTN/oRdfKwA+BQmwEGOjHfzhkoD1YX9aXYxV27jHXanT0xLkuj"
       "XmdNWwiNa1RXv7gxdLZJWfc2v6apjyWvuj9QIDAQAB");
  Seed("keys", "ed25519_spki", "MCowBQYDK2VwAyEAeXVEvmCfvHtQ8zFxMcQF5J3OGDiATR0DKiMuYl5tLl8=");
}

void TokenSeeds() {
  Seed("token", "payload_valid", "v1|{client}|1|1700000000|1700003600|0011223344556677");
  Seed("token", "payload_expired", "v1|{client}|1|1600000000|1600003600|0011223344556677");
  Seed("token", "payload_disabled", "v1|{disabled}|2|1700000000|1700003600|0011223344556677");
  Seed("token", "payload_revoked", "v1|{client}|0|1700000000|1700003600|0011223344556677");
  Seed("token", "payload_unknown",
       "v1|7a6b1e52-7f4b-4c8e-9d55-2f3b1c0d9e8f|1|1700000000|1700003600|00");
  // A token as the bus issues it (for another bus's secret: refused), in a header.
  govesb::SimulatedClock clock(govesb::fuzz::kTokenNowSeconds * 1000);
  govesb::auth::TokenService tokens(std::string(govesb::fuzz::kTokenSecret), clock,
                                    std::chrono::seconds(3600));
  govesb::registry::System system;
  system.client_id = "7a6b1e52-7f4b-4c8e-9d55-2f3b1c0d9e8f";
  Seed("token", "bearer_issued", "Bearer " + tokens.Issue(system).access_token);
}

void FormSeeds() {
  Seed("form", "urlencoded",
       "grant_type=client_credentials&client_id=7a6b1e52-7f4b-4c8e-9d55-2f3b1c0d9e8f&"
       "client_secret=s3cr%2Bt+x%20y");
  Seed("form", "multipart",
       "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW\n"
       "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
       "Content-Disposition: form-data; name=\"grant_type\"\r\n\r\n"
       "client_credentials\r\n"
       "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
       "Content-Disposition: form-data; name=\"client_id\"\r\n\r\n"
       "7a6b1e52-7f4b-4c8e-9d55-2f3b1c0d9e8f\r\n"
       "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
       "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
       "Content-Type: text/plain\r\n\r\n"
       "ignored\r\n"
       "------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n");
  Seed("form", "basic", "Basic " + govesb::Base64Encode("client-id:client-secret"));
}

void UrlSeeds() {
  Seed("url", "https_port_path_query", "https://provider.example.go.tz:8443/esb/api?x=1&y=%20");
  Seed("url", "http_ipv6", "http://[::1]:8080/cb");
  Seed("url", "userinfo_fragment", "https://user:pass@host.example/p/a/../b#frag");
  Seed("url", "origin_form", "/engine/esb/request?apiCode=GETUSR01");
  Seed("url", "bad_port", "http://host:65536/");
}

// A segment file as the evidence log writes it: three exchanges, the file cut after the
// written part's end (a zero size) instead of the megabytes of zeros written ahead.
void SegmentSeeds() {
  govesb::TempDir dir("govesb-seeds");
  const std::string log_dir = dir.path() + "/evidence-log";
  auto writer = evidence::SegmentWriter::Open(log_dir, evidence::SegmentWriter::Tip{}, 0);
  GOVESB_CHECK(writer.ok());
  evidence::SegmentWriter& w = **writer;
  const char* kinds[] = {"request", "delivery", "reply", "response"};
  for (int exchange = 0; exchange < 3; ++exchange) {
    std::string request_id = "0123456789abcdef0123456789abcde" + std::to_string(exchange);
    std::string records(1, evidence::kCompactRowMarker);
    std::string hashes;
    evidence::Hash chain = w.tip().chain;
    const int n = exchange + 1;
    for (int i = 0; i < n; ++i) {
      evidence::Record r;
      r.at_ms = 1'700'000'000'000 + exchange * 10 + i;
      r.request_id = request_id;
      r.kind = kinds[i];
      r.from = "7a6b1e52-7f4b-4c8e-9d55-2f3b1c0d9e8f";
      r.to = "bus";
      r.code = "GETUSR01";
      r.outcome = "ok";
      r.size = 120;
      evidence::AttachSigned(r, R"({"apiCode":"GETUSR01"})", "MEUCIQ==");
      evidence::EncodeCompact(r, records);
      const evidence::Hash h = crypto::Sha256(evidence::CanonicalRecord(w.tip().seq + 1 + i, r));
      hashes.append(reinterpret_cast<const char*>(h.data()), h.size());
      chain = evidence::ChainLink(chain, h);
    }
    w.BeginBatch(exchange == 2);
    w.Append(1'700'000'000'000 + exchange * 10, request_id, records, hashes, n, chain);
    GOVESB_CHECK(w.Flush().ok());
    w.Committed();
  }
  const std::string path = log_dir + "/" + evidence::SegmentFileName(1);
  uint64_t end = 0;
  GOVESB_CHECK(evidence::ForEachSegmentEntry(path, [&](const evidence::SegmentEntry& e) {
                 end = e.end;
                 return true;
               }).ok());
  std::ifstream in(path, std::ios::binary);
  std::string bytes(end + 4, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(end));
  // Without the magic line: the fuzz target writes it (inputs starting with 'g' are whole files).
  Seed("segment", "three_exchanges",
       std::string_view(bytes).substr(evidence::kSegmentMagic.size()));
  Seed("segment", "whole_file", bytes);
}

// A person's access report with two rows (one answered, one refused), signed with the fixed
// secp256k1 key, as JSON and as its page.
void SubjectReportSeeds() {
  evidence::SubjectReport r;
  r.user_id = "19900101-12345-00001-12";
  r.from_ms = 1'700'000'000'000;
  r.generated_at_ms = 1'700'000'900'000;
  evidence::SubjectExchange x;
  x.request_id = "0123456789abcdef0123456789abcdef";
  x.at_ms = 1'700'000'100'000;
  x.consumer = {.client_id = "7a6b1e52-7f4b-4c8e-9d55-2f3b1c0d9e8f",
                .system = "Hospital records",
                .institution_code = "MOH",
                .institution = "Wizara ya Afya <MOH> & \"friends\""};
  x.api_code = "NIDA01";
  x.api_name = "Identity lookup";
  x.provider = evidence::ReportParty{.client_id = "nida", .institution_code = "NIDA"};
  x.outcome = "ok";
  x.answered = true;
  x.records = {{.seq = 5, .kind = "nida-request", .sha256 = std::string(64, 'a')},
               {.node = "node-1", .seq = 8, .kind = "response", .sha256 = std::string(64, 'b')}};
  r.exchanges.push_back(x);
  x.request_id = "fedcba9876543210fedcba9876543210";
  x.purpose = "TREATMENT";
  x.provider.reset();
  x.outcome = "PERMISSION_DENIED";
  x.answered = false;
  x.records.resize(1);
  r.exchanges.push_back(x);
  const crypto::LocalSigner signer(K1());
  auto document = evidence::SignSubjectReport(r, signer);
  GOVESB_CHECK(document.ok());
  Seed("subject_report", "report", *document + "\n");
  Seed("subject_report", "page", *evidence::RenderSubjectReportHtml(*document));
  r.exchanges.clear();
  Seed("subject_report", "empty", *evidence::SignSubjectReport(r, signer));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory (fuzz/corpus)>\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  JsonSeeds();
  EnvelopeSeeds();
  KeySeeds();
  TokenSeeds();
  FormSeeds();
  UrlSeeds();
  SegmentSeeds();
  SubjectReportSeeds();
  std::printf("seeds written under %s\n", g_root.c_str());
  return 0;
}
