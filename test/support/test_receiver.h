#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crypto/key_ring.h"
#include "crypto/keys.h"
#include "http/io_threads.h"
#include "http/server.h"

namespace govesb::testing {

// A system that receives deliveries from the bus (a push subscriber, a provider, or a
// consumer's callback endpoint): checks the bus signature of each one, records it, and answers
// with an envelope signed by its own key, as told by its mode.
class TestReceiver {
 public:
  enum class Mode {
    kAck,           // {"success":true,"esbBody":{"received":"<requestId>"}}, signed correctly
    kBadSignature,  // the same, signed with a key that is not the registered one
    kRefuse,        // {"success":false,"message":"not today"}, signed correctly
  };

  // Listens on 127.0.0.1:`port` (0: any free port). A delivery's bus signature is good when
  // one of `bus_keys` made it (a system that accepts both keys during a bus key rotation).
  TestReceiver(crypto::PrivateKey key, crypto::KeySet bus_keys, uint16_t port = 0);
  ~TestReceiver();

  // A port nobody listens on now (for a receiver that is "down" and comes up later).
  static uint16_t FreePort();

  std::string url() const;
  uint16_t port() const;
  void set_mode(Mode m) { mode_ = m; }
  // Each answer is held back this long (a slow system).
  void set_delay(std::chrono::milliseconds d) { delay_ms_ = d.count(); }

  struct Received {
    bool bus_signature_ok = false;
    std::string data;  // the whole data text
    std::string request_id;
    std::string push_code;  // "" when absent
    std::string api_code;   // "" when absent
    std::string esb_body;   // JSON text
    std::string success;    // "true"/"false" for callback envelopes, "" when absent
    std::string message;
    std::string traceparent;  // the W3C trace header the bus sent ("" when none)
  };
  std::vector<Received> received();
  size_t count();
  // Waits until at least `n` deliveries arrived; false on timeout.
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  boost::asio::awaitable<http::HttpResponse> Handle(http::HttpRequest& request);

  crypto::PrivateKey key_;
  crypto::KeySet bus_keys_;
  std::atomic<Mode> mode_{Mode::kAck};
  std::atomic<int64_t> delay_ms_{0};
  http::IoThreads io_{1};
  std::unique_ptr<http::HttpServer> server_;
  std::mutex mutex_;
  std::vector<Received> received_;
};

}  // namespace govesb::testing
