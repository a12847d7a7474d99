// The provider side of an API behind GovESB, as one function from the body the bus POSTs to
// the provider's endpoint to the body to answer with. Plug Handle() into any HTTP server; here
// it reads one delivery on stdin and prints the signed reply.
//   GOVESB_PRIVATE_KEY=… GOVESB_ESB_PUBLIC_KEY=… serve_api < delivery.json
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>

#include "govesb/govesb.h"

static const char* Env(const char* name) { return std::getenv(name) ? std::getenv(name) : ""; }

// Answers {"certificateNo": …} deliveries; anything unverifiable is refused.
std::string Handle(const govesb::sdk::Provider& provider, const std::string& http_body) {
  auto delivery = provider.Verify(http_body);  // checks the bus's signature
  if (!delivery) return provider.Failure(delivery.error().message);
  std::fprintf(stderr, "requestId %s, %s %s, body %s\n", delivery->request_id.c_str(),
               delivery->code_member.c_str(), delivery->code.c_str(), delivery->esb_body.c_str());
  return provider.Success(R"({"certificateNo":"B-1001","name":"Neema","born":"2001-04-12"})");
}

int main() {
  auto provider =
      govesb::sdk::Provider::Create(Env("GOVESB_PRIVATE_KEY"), Env("GOVESB_ESB_PUBLIC_KEY"));
  if (!provider) return std::fprintf(stderr, "%s\n", provider.error().message.c_str()), 1;
  std::string body(std::istreambuf_iterator<char>(std::cin), {});
  std::printf("%s\n", Handle(*provider, body).c_str());
}
