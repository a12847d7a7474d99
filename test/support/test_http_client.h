#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace govesb::testing {

struct TestResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased

  // The first header of that name, or "".
  std::string Header(std::string_view lowercase_name) const;
};

// A blocking one-request HTTP(S) client for tests (a new connection per call). `ca_file` is
// the CA to trust for https URLs.
Result<TestResponse> HttpPost(const std::string& url, const std::string& body,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              const std::string& ca_file = "");
// The same with any method (GET, PATCH, DELETE, HEAD: its answer read without a body ...); the
// URL may carry a query.
Result<TestResponse> HttpCall(const std::string& method, const std::string& url,
                              const std::string& body,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              const std::string& ca_file = "");

}  // namespace govesb::testing
