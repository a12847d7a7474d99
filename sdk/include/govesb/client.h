#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "govesb/keys.h"
#include "govesb/result.h"

namespace govesb::sdk {

struct ClientOptions {
  // Base URL of the bus, e.g. "https://esb.example.go.tz" (token URL and engine URL derive
  // from it unless given below).
  std::string bus_url;
  std::string token_url;   // default: bus_url + "/gw/govesb-uaa/oauth/token"
  std::string engine_url;  // default: bus_url + "/engine/esb"
  std::string client_id;
  std::string client_secret;
  std::string private_key;     // the system's key: base64 PKCS#8 or PEM
  std::string esb_public_key;  // the bus's (the ESB's) key: base64 SPKI or PEM
  std::string bus_public_key;  // its older name, used when esb_public_key is empty
  // More bus keys to accept while the bus rotates its key (docs/key-rotation.md): the staged
  // key before it signs, or the previous one after esb_public_key was changed. A response
  // verifies when esb_public_key or any of these signed it.
  std::vector<std::string> esb_extra_public_keys;
  std::string ca_file;  // extra CA to trust for https (e.g. DATA_DIR/tls/ca.pem)
  std::chrono::milliseconds timeout{30'000};
  // A token is refreshed when less than this much of its life is left.
  std::chrono::seconds refresh_margin{60};
};

// A profile file: one JSON object with the members url, client_id, client_secret,
// private_key, esb_public_key and, optionally, ca_file and api_code (what `govesb call
// --profile`, the demo and the benchmark use). Missing members stay empty; unknown ones are
// ignored. kInvalidArgument when the file cannot be read or is not a JSON object.
struct Profile {
  ClientOptions options;  // bus_url, client_id, client_secret, private_key, esb_public_key,
                          // ca_file
  std::string api_code;   // a default apiCode, when the profile names one
};
Result<Profile> LoadProfile(const std::string& path);

// The verified `data` of a bus response (contract 4.2).
struct Response {
  bool success = false;
  std::string request_id;
  std::string message;
  std::string esb_body;  // JSON text, exactly as signed by the bus
  std::string data;      // the whole verified `data` JSON text
};

// A consumer system's connection to the bus. Fetches and caches an access token (refreshed
// before expiry, and once more after a 401), signs every request with the system's key, and
// verifies every response with the bus's key before returning it. Thread-safe: one Client may
// serve many threads; connections are kept alive and reused.
class Client {
 public:
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);
  ~Client();

  // Synchronous call of an API by apiCode. `json_body` is JSON text (an object, array, string
  // ...). A bus or provider refusal (success:false) is an Error of kind kRefused carrying the
  // bus's message and requestId.
  Result<Response> Request(std::string_view api_code, std::string_view json_body);
  // Identity (NIDA-style) request: `json_body` is sent as {"Payload": body} with `user_id`.
  Result<Response> NidaRequest(std::string_view api_code, std::string_view user_id,
                               std::string_view json_body);
  // Publishes `json_body` under `push_code`; success means the bus accepted it.
  Result<Response> Push(std::string_view push_code, std::string_view json_body);
  // A provider's delayed answer to an earlier delivery.
  Result<Response> AsyncAnswer(std::string_view request_id, bool success,
                               std::string_view json_body, std::string_view message = {});

  // The current access token (fetching one if needed).
  Result<std::string> AccessToken();
  // How many times a token was fetched from the token endpoint so far (monitoring, tests).
  int token_fetches() const;

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The provider side: what an institution needs to serve an API behind the bus.
struct Delivery {
  std::string request_id;
  std::string code;         // apiCode or pushCode
  std::string code_member;  // "apiCode" or "pushCode"
  std::string esb_body;     // JSON text
};

class Provider {
 public:
  // `private_key`: this system's key; `esb_public_key`: the bus's key (base64 or PEM).
  static Result<Provider> Create(std::string_view private_key, std::string_view esb_public_key);
  // The same accepting deliveries signed by any of `esb_public_keys` (while the bus rotates its
  // key: the current one and the staged or previous one). At least one.
  static Result<Provider> Create(std::string_view private_key,
                                 const std::vector<std::string>& esb_public_keys);

  // Parses and verifies a delivery body received from the bus (kVerification when the bus
  // signature does not verify, kProtocol when it is not an envelope).
  Result<Delivery> Verify(std::string_view http_body) const;
  // Signed replies to a delivery, exactly {"data":{...},"signature":"..."}.
  std::string Success(std::string_view json_body) const;
  std::string Failure(std::string_view message, std::string_view json_body = "{}") const;

 private:
  Provider(PrivateKey key, std::vector<PublicKey> bus_keys)
      : key_(std::move(key)), bus_keys_(std::move(bus_keys)) {}
  PrivateKey key_;
  std::vector<PublicKey> bus_keys_;
};

}  // namespace govesb::sdk
