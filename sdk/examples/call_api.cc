// Calls an API through GovESB and prints the provider's verified answer.
//   export GOVESB_URL=https://127.0.0.1:8443 GOVESB_CLIENT_ID=… GOVESB_CLIENT_SECRET=…
//   export GOVESB_PRIVATE_KEY=… GOVESB_ESB_PUBLIC_KEY=… GOVESB_CA_FILE=ca.pem   # CA: optional
//   call_api BRTH01 '{"q":1}'
#include <cstdio>
#include <cstdlib>

#include "govesb/govesb.h"

static const char* Env(const char* name) { return std::getenv(name) ? std::getenv(name) : ""; }

int main(int argc, char** argv) {
  if (argc < 2) return std::fprintf(stderr, "usage: call_api API_CODE [JSON_BODY]\n"), 2;
  govesb::sdk::ClientOptions options;
  options.bus_url = Env("GOVESB_URL");
  options.client_id = Env("GOVESB_CLIENT_ID");
  options.client_secret = Env("GOVESB_CLIENT_SECRET");
  options.private_key = Env("GOVESB_PRIVATE_KEY");
  options.esb_public_key = Env("GOVESB_ESB_PUBLIC_KEY");
  options.ca_file = Env("GOVESB_CA_FILE");
  auto client = govesb::sdk::Client::Create(options);
  if (!client) return std::fprintf(stderr, "%s\n", client.error().message.c_str()), 1;
  auto answer = (*client)->Request(argv[1], argc > 2 ? argv[2] : "{}");
  if (!answer) {
    const govesb::sdk::Error& e = answer.error();
    std::fprintf(stderr, "%s: %s\n", govesb::sdk::ErrorKindName(e.kind), e.message.c_str());
    return 1;
  }
  std::printf("%s\n", answer->esb_body.c_str());
}
