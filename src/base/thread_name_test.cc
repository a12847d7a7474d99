#include "base/thread_name.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <string>
#include <thread>

namespace govesb {
namespace {

std::string NameOf(pthread_t t) {
  char name[32] = {};
  EXPECT_EQ(pthread_getname_np(t, name, sizeof name), 0);
  return name;
}

TEST(ThreadName, NamesTheCallingThreadOnly) {
  std::string seen;
  std::thread t([&] {
    NameThisThread("govesb-writer");
    seen = NameOf(pthread_self());
  });
  t.join();
  EXPECT_EQ(seen, "govesb-writer");
  EXPECT_NE(NameOf(pthread_self()), "govesb-writer");
}

TEST(ThreadName, CutsNamesLongerThanLinuxKeeps) {
  std::string seen;
  std::thread t([&] {
    NameThisThread("govesb-checkpointer-and-more");
    seen = NameOf(pthread_self());
  });
  t.join();
  EXPECT_EQ(seen, "govesb-checkpoi");
}

}  // namespace
}  // namespace govesb
