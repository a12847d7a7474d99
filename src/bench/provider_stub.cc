#include "bench/provider_stub.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "http/io_threads.h"
#include "http/server.h"
#include "wire/envelope.h"
#include "wire/json.h"

namespace govesb::bench {

Result<std::unique_ptr<ProviderStub>> ProviderStub::Start(const crypto::PrivateKey& key,
                                                          ProviderStubOptions options) {
  std::string body;
  Status valid = wire::WriteCompact(options.reply_body, body);
  if (!valid.ok()) return InvalidArgument("the reply body is not JSON: " + valid.message());
  auto stub = std::make_unique<ProviderStub>(Passkey{});
  std::string data = "{\"success\":true,\"esbBody\":" + body + "}";
  stub->reply_ = wire::SealEnvelope(data, key.SignBase64(data));
  stub->options_ = std::move(options);
  stub->paused_.store(stub->options_.paused);
  stub->io_ = std::make_unique<http::IoThreads>(std::max<size_t>(stub->options_.threads, 1));

  http::ServerOptions server_options;
  server_options.host = stub->options_.host;
  server_options.port = stub->options_.port;
  // The bus under test opens its provider connections from one address: no per-address cap.
  server_options.max_connections_per_address = 0;
  ProviderStub* self = stub.get();
  stub->server_ = std::make_unique<http::HttpServer>(
      *stub->io_, server_options,
      [self](http::HttpRequest&) -> boost::asio::awaitable<http::HttpResponse> {
        if (self->paused_.load(std::memory_order_acquire)) {
          // Polled: a held request costs a timer wake-up every 10 ms, and Resume() needs no
          // access to the connections' executors.
          self->held_.fetch_add(1, std::memory_order_relaxed);
          auto executor = co_await boost::asio::this_coro::executor;
          boost::asio::steady_timer timer(executor);
          while (self->paused_.load(std::memory_order_acquire)) {
            timer.expires_after(std::chrono::milliseconds(10));
            auto wait = timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
            co_await std::move(wait);
          }
          self->held_.fetch_sub(1, std::memory_order_relaxed);
        }
        self->served_.fetch_add(1, std::memory_order_relaxed);
        http::HttpResponse r;
        r.body = self->reply_;
        co_return r;
      });
  GOVESB_RETURN_IF_ERROR(stub->server_->Listen());
  stub->server_->Start();
  stub->io_->Start();
  return stub;
}

ProviderStub::ProviderStub(Passkey) {}

ProviderStub::~ProviderStub() { Shutdown(); }

uint16_t ProviderStub::port() const { return server_->port(); }

std::string ProviderStub::url() const {
  std::string host = options_.host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port()) + "/";
}

void ProviderStub::Shutdown() {
  if (stopped_ || !server_) return;
  stopped_ = true;
  Resume();
  server_->Shutdown();
  io_->Stop();
}

}  // namespace govesb::bench
