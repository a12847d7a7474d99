#include "base/thread_name.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <string>
#include <string_view>
#include <thread>

namespace govesb {
namespace {

std::string NameOf(pthread_t t) {
  char name[32] = {};
  EXPECT_EQ(pthread_getname_np(t, name, sizeof name), 0);
  return name;
}

// The name a new thread has after calling NameThisThread(name).
std::string NameSeenAfterNaming(std::string_view name) {
  std::string seen;
  std::thread t([&] {
    NameThisThread(name);
    seen = NameOf(pthread_self());
  });
  t.join();
  return seen;
}

TEST(ThreadName, NamesTheCallingThreadOnly) {
  EXPECT_EQ(NameSeenAfterNaming("govesb-writer"), "govesb-writer");
  EXPECT_NE(NameOf(pthread_self()), "govesb-writer");
}

TEST(ThreadName, CutsNamesLongerThanLinuxKeeps) {
  EXPECT_EQ(NameSeenAfterNaming("govesb-checkpointer-and-more"), "govesb-checkpoi");
}

}  // namespace
}  // namespace govesb
