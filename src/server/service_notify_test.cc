#include "server/service_notify.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "base/temp_dir.h"
#include "notify_socket.h"  // test/support

namespace govesb::server {
namespace {

using govesb::testing::NotifySocket;
constexpr std::chrono::seconds kWait{5};

TEST(ServiceNotify, SendsTheStateAsOneDatagramToAPathSocket) {
  TempDir dir;
  std::string address = dir.path() + "/notify";
  NotifySocket manager(address);
  ASSERT_TRUE(manager.bound());
  ASSERT_TRUE(SendServiceNotification(address, "READY=1\nSTATUS=Listening on x").ok());
  EXPECT_EQ(manager.Receive(kWait), "READY=1\nSTATUS=Listening on x");
}

TEST(ServiceNotify, SendsToAnAbstractSocket) {
  std::string address = "@govesb-notify-test-" + std::to_string(::getpid());
  NotifySocket manager(address);
  ASSERT_TRUE(manager.bound());
  ASSERT_TRUE(SendServiceNotification(address, "STOPPING=1").ok());
  EXPECT_EQ(manager.Receive(kWait), "STOPPING=1");
}

TEST(ServiceNotify, ReadsTheAddressFromNotifySocket) {
  TempDir dir;
  std::string address = dir.path() + "/notify";
  NotifySocket manager(address);
  ASSERT_TRUE(manager.bound());
  ::setenv("NOTIFY_SOCKET", address.c_str(), 1);
  Status sent = NotifyServiceManager("READY=1");
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(sent.ok()) << sent.message();
  EXPECT_EQ(manager.Receive(kWait), "READY=1");
}

TEST(ServiceNotify, DoesNothingWithoutNotifySocket) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(NotifyServiceManager("READY=1").ok());
}

TEST(ServiceNotify, RefusesAddressesItCannotUse) {
  EXPECT_EQ(SendServiceNotification("relative/notify", "READY=1").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(SendServiceNotification("/" + std::string(200, 'x'), "READY=1").code(),
            StatusCode::kInvalidArgument);
  TempDir dir;  // nothing is bound there
  EXPECT_EQ(SendServiceNotification(dir.path() + "/absent", "READY=1").code(),
            StatusCode::kUnavailable);
}

}  // namespace
}  // namespace govesb::server
