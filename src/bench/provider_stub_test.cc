#include "bench/provider_stub.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "wire/envelope.h"
#include "wire/messages.h"

namespace govesb::bench {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// One blocking POST, as the bus's dispatcher makes a delivery; returns the answer's body.
std::string Post(uint16_t port, const std::string& body) {
  boost::asio::io_context ctx;
  boost::asio::ip::tcp::resolver resolver(ctx);
  beast::tcp_stream stream(ctx);
  stream.connect(resolver.resolve("127.0.0.1", std::to_string(port)));
  bhttp::request<bhttp::string_body> request{bhttp::verb::post, "/", 11};
  request.set(bhttp::field::host, "127.0.0.1");
  request.set(bhttp::field::content_type, "application/json");
  request.body() = body;
  request.prepare_payload();
  bhttp::write(stream, request);
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> response;
  bhttp::read(stream, buffer, response);
  return response.body();
}

TEST(ProviderStubTest, AnswersWithAnAcknowledgementTheBusAccepts) {
  auto key = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1);
  ASSERT_TRUE(key.ok());
  ProviderStubOptions options;
  options.reply_body = "{ }";
  auto stub = ProviderStub::Start(*key, options);
  ASSERT_TRUE(stub.ok()) << stub.status().ToString();
  std::string answer = Post((*stub)->port(), R"({"data":{"esbBody":{}},"signature":"x"})");
  // What the dispatcher checks before it counts a delivery as acknowledged (contract 4.4).
  auto env = wire::ParseEnvelope(answer);
  ASSERT_TRUE(env.ok()) << answer;
  EXPECT_TRUE(wire::VerifyEnvelope(*env, key->public_key()).ok());
  auto reply = wire::ReadProviderReply(*env);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_TRUE(reply->success);
  EXPECT_EQ(reply->esb_body_raw, "{}");
  EXPECT_EQ((*stub)->served(), 1u);
}

TEST(ProviderStubTest, PausedHoldsRequestsUntilResumed) {
  auto key = crypto::PrivateKey::Generate(crypto::Curve::kP256);
  ASSERT_TRUE(key.ok());
  ProviderStubOptions options;
  options.paused = true;
  auto stub = ProviderStub::Start(*key, options);
  ASSERT_TRUE(stub.ok()) << stub.status().ToString();
  uint16_t port = (*stub)->port();
  auto answer = std::async(std::launch::async, [port] { return Post(port, "{}"); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((*stub)->held() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ((*stub)->held(), 1u);
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ((*stub)->served(), 0u);
  (*stub)->Resume();
  EXPECT_EQ(answer.get(), (*stub)->reply());
  EXPECT_EQ((*stub)->held(), 0u);
  EXPECT_EQ((*stub)->served(), 1u);
  // Later requests are answered at once.
  EXPECT_EQ(Post(port, "{}"), (*stub)->reply());
}

TEST(ProviderStubTest, ShutdownAnswersHeldRequests) {
  auto key = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1);
  ASSERT_TRUE(key.ok());
  ProviderStubOptions options;
  options.paused = true;
  auto stub = ProviderStub::Start(*key, options);
  ASSERT_TRUE(stub.ok());
  uint16_t port = (*stub)->port();
  auto answer = std::async(std::launch::async, [port] { return Post(port, "{}"); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((*stub)->held() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ((*stub)->held(), 1u);
  (*stub)->Shutdown();  // returns: the held request does not keep it waiting forever
  EXPECT_EQ(answer.get(), (*stub)->reply());
}

}  // namespace
}  // namespace govesb::bench
