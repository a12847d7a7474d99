#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "crypto/keys.h"

namespace govesb::http {
class IoThreads;
class HttpServer;
}  // namespace govesb::http

namespace govesb::bench {

struct ProviderStubOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: the kernel picks one; see ProviderStub::port()
  size_t threads = 1;
  // The esbBody of the reply.
  std::string reply_body = R"({"ok":true})";
  // Start paused: hold every request (the connection open, no answer) until Resume(). A
  // subscriber "not yet running" that costs the bus nothing meanwhile: each delivery lane has
  // one delivery in flight and waits for it, instead of failing, backing off and retrying.
  bool paused = false;
};

// A provider that costs the bus nothing to wait for: it answers every request (any method,
// any path) with one reply envelope {"data":{"success":true,"esbBody":<reply_body>},
// "signature":"…"} signed once at start with the provider's key, HTTP 200, keep-alive. It
// does not verify deliveries: the benchmark measures the bus, not the provider. Started with a
// subscriber's key it is a push subscriber: the reply is a valid acknowledgement (contract 4.4).
//
// Owns its IoThreads and HttpServer. Start/Shutdown from one non-I/O thread.
class ProviderStub {
  struct Passkey {};

 public:
  explicit ProviderStub(Passkey);  // use Start
  static Result<std::unique_ptr<ProviderStub>> Start(const crypto::PrivateKey& key,
                                                     ProviderStubOptions options);
  ~ProviderStub();
  ProviderStub(const ProviderStub&) = delete;
  ProviderStub& operator=(const ProviderStub&) = delete;

  uint16_t port() const;
  std::string url() const;  // http://HOST:PORT/
  const std::string& reply() const { return reply_; }
  // Requests answered (a held request counts once it is answered).
  uint64_t served() const { return served_.load(std::memory_order_relaxed); }
  // Requests held now (paused).
  uint64_t held() const { return held_.load(std::memory_order_relaxed); }
  // Answers the held requests and every later one. Thread-safe; idempotent.
  void Resume() { paused_.store(false, std::memory_order_release); }
  // Graceful: in-flight answers finish (held ones are answered). Idempotent.
  void Shutdown();

 private:
  ProviderStubOptions options_;
  std::string reply_;
  std::atomic<uint64_t> served_{0};
  std::atomic<uint64_t> held_{0};
  std::atomic<bool> paused_{false};
  std::unique_ptr<http::IoThreads> io_;
  std::unique_ptr<http::HttpServer> server_;
  bool stopped_ = false;
};

}  // namespace govesb::bench
