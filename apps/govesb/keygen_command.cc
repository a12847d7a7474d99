// `govesb keygen`: prints a fresh EC key pair as single-line base64 DER (PKCS#8 private key,
// SubjectPublicKeyInfo public key), the form GovESB systems are configured with.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "crypto/keys.h"

namespace govesb::apps {
namespace {

struct KeygenOptions {
  std::string curve = "secp256k1";
  bool json = false;
};

void RunKeygen(const KeygenOptions& options) {
  spdlog::set_default_logger(spdlog::stderr_color_st("govesb-keygen"));
  Result<crypto::Curve> curve = crypto::ParseCurveName(options.curve);
  Result<crypto::PrivateKey> key = curve.ok() ? crypto::PrivateKey::Generate(*curve)
                                              : Result<crypto::PrivateKey>(curve.status());
  if (!key.ok()) {
    std::cerr << "error: " << key.status().message() << "\n";
    throw CLI::RuntimeError(kExitFailure);
  }
  const std::string private_key = key->Pkcs8Base64();
  const std::string public_key = key->public_key().SpkiBase64();
  if (options.json) {
    boost::json::object out;
    out["private_key"] = private_key;
    out["public_key"] = public_key;
    std::cout << boost::json::serialize(out) << "\n";
  } else {
    std::cout << "curve:       " << crypto::CurveName(key->curve()) << "\n"
              << "private_key: " << private_key << "\n"
              << "public_key:  " << public_key << "\n";
  }
}

}  // namespace

void AddKeygenCommand(CLI::App& app) {
  auto options = std::make_shared<KeygenOptions>();
  CLI::App* cmd = app.add_subcommand(
      "keygen", "Generate an EC key pair (base64 DER: PKCS#8 private key, SPKI public key)");
  cmd->add_option("--curve", options->curve, "secp256k1, prime256v1 (P-256) or secp521r1 (P-521)")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            Result<crypto::Curve> curve = crypto::ParseCurveName(value);
            return curve.ok() ? std::string() : curve.status().message();
          },
          "CURVE"));
  cmd->add_flag("--json", options->json, "Print {\"private_key\",\"public_key\"} as JSON");
  cmd->callback([options] { RunKeygen(*options); });
}

}  // namespace govesb::apps
