#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "delivery/queue.h"

namespace govesb::delivery {

// What operators do with deliveries (the admin service layer's view of the delivery store):
// list them, read their attempts, count the queue, and put dead ones back. The dispatcher's
// view of the same store is DeliveryQueue; an adapter implements both over one store, and both
// pass the one contract suite (queue_contract_test.cc).
//
// The listings name systems and institutions, so an adapter's store also holds the registry
// (SQLite: the same file; PostgreSQL: the same database). Each object works on one connection
// and is not thread-safe; the admin layer makes one per thread, on the connection its own
// transactions run on (a redelivery and its admin action commit together).

struct DeliveryFilter {
  std::optional<DeliveryState> state = std::nullopt;
  std::string code = std::string();  // pushCode / apiCode; "" = any
  int64_t id = 0;                    // only this delivery; 0 = any
  // Only deliveries to systems of this institution (its code); "" = any.
  std::string recipient_institution = std::string();
  size_t limit = 1000;
};

struct QueueCounts {
  int64_t pending = 0;
  int64_t dead = 0;
  int64_t delivered = 0;
  int64_t oldest_pending_created_at_ms = 0;  // 0 when nothing is pending
};

class DeliveryOperations {
 public:
  virtual ~DeliveryOperations() = default;

  // Deliveries matching `filter`, ascending by id, at most filter.limit.
  virtual Result<std::vector<DeliveryInfo>> List(const DeliveryFilter& filter) = 0;
  // The attempts of one delivery, oldest first (empty for an unknown id).
  virtual Result<std::vector<Attempt>> Attempts(int64_t delivery_id) = 0;
  // Puts a dead (or delivered) delivery back to pending with a fresh attempt budget and bumps
  // DeliveryQueue::RedeliverGeneration, so running dispatchers pick it up. kNotFound for an
  // unknown id, kFailedPrecondition when it is pending already.
  virtual Status Redeliver(int64_t delivery_id, int64_t now_ms) = 0;
  // Every dead delivery (of `code` when not empty), as Redeliver; how many.
  virtual Result<int64_t> RedeliverAllDead(std::string_view code, int64_t now_ms) = 0;
  // Every state, the delivered history included (costs the size of the history).
  virtual Result<QueueCounts> Count() = 0;
  // Pending and dead only (`delivered` stays 0): costs the size of the queue, not of the
  // history. Of one institution's systems when `recipient_institution` is not empty.
  virtual Result<QueueCounts> CountOpen(std::string_view recipient_institution = {}) = 0;
  // Dead deliveries per recipient system (client_id, count), systems with none left out, ordered
  // by client_id: costs the size of the queue (the partial index of open deliveries).
  virtual Result<std::vector<std::pair<std::string, int64_t>>> CountDeadBySystem() = 0;
};

}  // namespace govesb::delivery
