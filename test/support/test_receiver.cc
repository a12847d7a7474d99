#include "support/test_receiver.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>

#include "wire/envelope.h"
#include "wire/json.h"

namespace govesb::testing {

namespace {

std::string Member(const wire::IncomingEnvelope& env, std::string_view key) {
  const wire::JsonMember* m = env.Find(key);
  if (m == nullptr) return "";
  if (m->type == wire::JsonType::kString) {
    auto s = wire::DecodeString(m->raw);
    return s.ok() ? *s : "";
  }
  return std::string(m->raw);
}

}  // namespace

TestReceiver::TestReceiver(crypto::PrivateKey key, crypto::KeySet bus_keys, uint16_t port)
    : key_(std::move(key)), bus_keys_(std::move(bus_keys)) {
  http::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = port;
  server_ = std::make_unique<http::HttpServer>(io_, options,
                                               [this](http::HttpRequest& r) { return Handle(r); });
  GOVESB_CHECK(server_->Listen().ok());
  server_->Start();
  io_.Start();
}

TestReceiver::~TestReceiver() {
  server_->Shutdown();
  io_.Stop();
}

uint16_t TestReceiver::FreePort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

std::string TestReceiver::url() const {
  return "http://127.0.0.1:" + std::to_string(server_->port()) + "/receive";
}

uint16_t TestReceiver::port() const { return server_->port(); }

std::vector<TestReceiver::Received> TestReceiver::received() {
  std::lock_guard lock(mutex_);
  return received_;
}

size_t TestReceiver::count() {
  std::lock_guard lock(mutex_);
  return received_.size();
}

bool TestReceiver::WaitFor(size_t n, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (count() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

boost::asio::awaitable<http::HttpResponse> TestReceiver::Handle(http::HttpRequest& request) {
  Received r;
  auto env = wire::ParseEnvelope(request.body);
  if (env.ok()) {
    for (const crypto::PublicKey& bus_key : bus_keys_.keys()) {
      r.bus_signature_ok = r.bus_signature_ok || wire::VerifyEnvelope(*env, bus_key).ok();
    }
    r.data = std::string(env->data_raw);
    r.request_id = Member(*env, "requestId");
    r.push_code = Member(*env, "pushCode");
    r.api_code = Member(*env, "apiCode");
    r.esb_body = Member(*env, "esbBody");
    r.success = Member(*env, "success");
    r.message = Member(*env, "message");
  }
  r.traceparent = std::string(request.Header("traceparent"));
  if (int64_t delay = delay_ms_.load(); delay > 0) {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor,
                                    std::chrono::milliseconds(delay));
    auto wait = timer.async_wait(boost::asio::use_awaitable);
    co_await std::move(wait);
  }
  Mode mode = mode_.load();
  std::string data = mode == Mode::kRefuse
                         ? std::string(R"({"success":false,"message":"not today"})")
                         : R"({"success":true,"esbBody":{"received":")" + r.request_id + "\"}}";
  {
    std::lock_guard lock(mutex_);
    received_.push_back(std::move(r));
  }
  http::HttpResponse response;
  response.content_type = "application/json";
  if (mode == Mode::kBadSignature) {
    auto other = crypto::PrivateKey::Generate(key_.curve());
    response.body = wire::SealEnvelope(data, other->SignBase64(data));
  } else {
    response.body = wire::SealEnvelope(data, key_.SignBase64(data));
  }
  co_return response;
}

}  // namespace govesb::testing
