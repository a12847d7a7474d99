#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "base/result.h"
#include "http/admission.h"
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
  // A TLS client must finish its handshake within this, counted from the accept. Until its
  // first byte arrives a connection holds no TLS state at all (a few hundred bytes).
  std::chrono::milliseconds handshake_timeout{10'000};
  // Admission control. A connection over a cap is refused at once: plain HTTP gets a short
  // 503 (total) or 429 (per address) with Retry-After and Connection: close, TLS is closed
  // without a handshake. max_connections is lowered to stay clear of the open-file limit
  // (SafeConnectionLimit), so the database, evidence files and upstream connections always
  // find a descriptor. max_connections_per_address 0: no per-address cap.
  size_t max_connections = 10'000;
  size_t max_connections_per_address = 256;
  // Memory given back after bursts: when open connections fell by at least this many since
  // their last peak, freed heap memory is handed back to the OS (checked every trim_interval).
  size_t trim_after_closes = 1000;
  std::chrono::milliseconds trim_interval{1'000};
  // TLS when set; plain HTTP otherwise.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Builds the body of errors the server answers itself (413, 431, 400 on unparseable HTTP),
  // so that they carry the same signed envelope as the engine's. Optional.
  std::function<HttpResponse(int status, std::string_view message)> error_response;
};

// An HTTP/1.1 server on Boost.Beast: keep-alive, limits on header and body size, read/idle/
// write and TLS handshake timeouts, caps on open connections (total and per address), TLS or
// plain. Each connection is served by one coroutine on one of the
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
  // Replaces the TLS context that new handshakes use (a certificate reloaded on SIGHUP);
  // connections already open keep theirs. Thread-safe. Only for a server made with TLS.
  void SetTls(std::shared_ptr<boost::asio::ssl::context> tls);
  std::shared_ptr<boost::asio::ssl::context> CurrentTls() const;
  // Starts the accept loop (IoThreads must be running or started after this).
  void Start();
  // Stops accepting, closes idle connections, lets in-flight requests finish (their responses
  // carry "Connection: close"), and waits for them up to drain_timeout. Blocking; call from a
  // thread that is not an I/O thread.
  void Shutdown();

  size_t active_connections() const { return active_.load(); }
  // Thread-safe snapshot of the admission counters; PrometheusText (admission.h) renders it.
  HttpServerStats stats() const;

  struct Impl;

 private:
  IoThreads& io_;
  ServerOptions options_;
  Handler handler_;
  uint16_t port_ = 0;
  std::unique_ptr<Impl> impl_;
  std::atomic<size_t> active_{0};
  std::atomic<uint64_t> refused_total_{0};
  std::atomic<uint64_t> refused_per_address_{0};
  std::atomic<uint64_t> handshake_timeouts_{0};
  std::atomic<uint64_t> accept_errors_{0};
  std::atomic<uint64_t> memory_trims_{0};
  std::atomic<bool> shutting_down_{false};
  std::mutex drain_mu_;
  std::condition_variable drained_;
  mutable std::mutex tls_mu_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // what new handshakes use
};

}  // namespace govesb::http
