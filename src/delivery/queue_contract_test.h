#pragma once

// The contract every delivery store adapter must pass (the TEST_Ps of queue_contract_test.cc):
// the dispatcher's view (DeliveryQueue), the operators' view (DeliveryOperations) and the
// durable unit (a message, its deliveries and its evidence: both or neither). An adapter joins
// with a factory and one line in its own test file:
//   INSTANTIATE_TEST_SUITE_P(Sqlite, DeliveryContractTest, ::testing::Values(SqliteAdapter()),
//                            AdapterName);

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "base/result.h"
#include "delivery/operations.h"
#include "delivery/queue.h"

namespace govesb::delivery::testing {

// One adapter under test, over a fresh, empty store.
class DeliveryStoreUnderTest {
 public:
  virtual ~DeliveryStoreUnderTest() = default;
  virtual DeliveryQueue& queue() = 0;
  virtual DeliveryOperations& operations() = 0;
  // Closes the store and opens it again (what a restart sees).
  virtual void Reopen() = 0;
  // How many evidence records of exchange `request_id` are durable in the store.
  virtual Result<size_t> EvidenceRecordsOf(std::string_view request_id) = 0;
  // Registers a system of institution `institution_code` (made when new); its id.
  virtual Result<int64_t> AddSystem(std::string_view institution_code) = 0;
};

struct DeliveryAdapter {
  std::string name;
  std::function<std::unique_ptr<DeliveryStoreUnderTest>()> open;
};

// gtest prints a parameter with this (the name, not the bytes).
inline void PrintTo(const DeliveryAdapter& adapter, std::ostream* out) { *out << adapter.name; }

inline std::string AdapterName(const ::testing::TestParamInfo<DeliveryAdapter>& info) {
  return info.param.name;
}

class DeliveryContractTest : public ::testing::TestWithParam<DeliveryAdapter> {
 protected:
  void SetUp() override;
  DeliveryQueue& queue() { return store_->queue(); }
  DeliveryOperations& ops() { return store_->operations(); }

  std::pair<Status, std::vector<PendingDelivery>> Enqueue(NewMessage m);
  Status Await(AwaitedAnswer a);
  // Waits for the fire-and-forget writes (Ack, Nack ...) submitted so far.
  void Sync();

  std::unique_ptr<DeliveryStoreUnderTest> store_;
};

}  // namespace govesb::delivery::testing
