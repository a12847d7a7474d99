#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "base/result.h"
#include "http/io_threads.h"
#include "http/types.h"

namespace boost::asio::ssl {
class context;
}

namespace govesb::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: the kernel picks one; see HttpServer::port()
  size_t max_body_bytes = 8 * 1024 * 1024;
  size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds read_timeout{30'000};  // a request must arrive within this
  std::chrono::milliseconds idle_timeout{75'000};  // keep-alive connection with no request
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds drain_timeout{30'000};  // graceful shutdown limit
  // TLS when set; plain HTTP otherwise.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Builds the body of errors the server answers itself (413, 431, 400 on unparseable HTTP),
  // so that they carry the same signed envelope as the engine's. Optional.
  std::function<HttpResponse(int status, std::string_view message)> error_response;
};

// An HTTP/1.1 server on Boost.Beast: keep-alive, limits on header and body size, read/idle/
// write timeouts, TLS or plain. Each connection is served by one coroutine on one of the
// IoThreads' contexts. Created and shut down from the main thread.
class HttpServer {
 public:
  HttpServer(IoThreads& io, ServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens. After success, port() is the bound port.
  Status Listen();
  uint16_t port() const { return port_; }
  const std::string& host() const { return options_.host; }
  bool tls() const { return options_.tls != nullptr; }
  // Starts the accept loop (IoThreads must be running or started after this).
  void Start();
  // Stops accepting, closes idle connections, lets in-flight requests finish (their responses
  // carry "Connection: close"), and waits for them up to drain_timeout. Blocking; call from a
  // thread that is not an I/O thread.
  void Shutdown();

  size_t active_connections() const { return active_.load(); }

  struct Impl;

 private:
  IoThreads& io_;
  ServerOptions options_;
  Handler handler_;
  uint16_t port_ = 0;
  std::unique_ptr<Impl> impl_;
  std::atomic<size_t> active_{0};
  std::atomic<bool> shutting_down_{false};
  std::mutex drain_mu_;
  std::condition_variable drained_;
};

}  // namespace govesb::http
