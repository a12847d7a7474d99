#pragma once

// The registry's storage port for the request path: what a Snapshot is built from, how a
// watcher learns that it may be stale, and where the bus adds its signature usage counts.
// Adapters: SqliteRegistryStore (sqlite_store.h), PgRegistryStore (pg_store.h). Every adapter
// passes the contract suite in store_contract_test.cc. No storage header is included here: the
// engine, the dispatcher and the SnapshotWatcher see only this interface.

#include <cstdint>
#include <vector>

#include "base/result.h"
#include "base/status.h"
#include "registry/model.h"

namespace govesb::registry {

// One consistent read of everything a Snapshot needs: all rows as of one commit (one read
// transaction, or whatever the adapter's equivalent is), never a mix of two.
struct RegistryRows {
  // Every institution, suspended ones too (Institution::suspended).
  std::vector<Institution> institutions;
  // Every system, disabled ones too, with its institution's code, name and suspension
  // (System::institution_suspended) and its own `enabled` flag as stored. public_key_b64 as
  // stored; public_key is left unparsed (nullopt): Snapshot::Build parses it.
  std::vector<System> systems;
  // Every API, disabled ones too, with its effective endpoint, limits and policies, but without
  // the catalogue's texts and the OpenAPI document (they are of no use on the request path).
  std::vector<Api> apis;
  // Every grant in every state (pending, approved, refused, revoked).
  std::vector<Grant> grants;
  // Every topic (its catalogue texts may be left out).
  std::vector<Topic> topics;
  // Every subscription in every state, with its effective endpoint, ordered by id (Snapshot::Build
  // does not rely on the order).
  std::vector<Subscription> subscriptions;
};

// Reads the registry for the request path. One store is one connection (or session): it is
// used by one thread at a time (it may be handed from one thread to another between calls),
// like a store::Database. Open one per thread that needs one (the watcher's, the usage
// flusher's). The write side (Registry: the admin operations) is not part of this port yet.
//
// Errors are values: kUnavailable / kInternal (or what the database reports) when the storage
// cannot be read or written; nothing is ever half done.
class RegistryStore {
 public:
  virtual ~RegistryStore() = default;

  // All rows the Snapshot is built from, read consistently (see RegistryRows). Fails (and
  // returns nothing) when the storage cannot be read, e.g. an unmigrated database.
  virtual Result<RegistryRows> ReadSnapshotRows() = 0;

  // A number that moves whenever the registry may have changed: after any change committed
  // through another store, connection or process, and after one committed through this store's
  // own connection, the next call returns a value different from every value returned before
  // that commit. Misses are not allowed. Moves without a change are (they only cost a reload)
  // but should be rare: both adapters read a counter bumped by triggers on the six tables
  // RegistryRows comes from, so commits to other tables (evidence, deliveries, signature usage)
  // do not move it. Values returned by one store never decrease. Only meaningful when compared
  // with values from the same store. Changes made through this store itself
  // (RecordSignatureUsage) touch nothing ReadSnapshotRows returns and do not move it.
  //
  // A watcher reads it BEFORE ReadSnapshotRows, so a change landing between the two is seen at
  // the next comparison, never lost.
  virtual Result<int64_t> ChangeVersion() = 0;

  // Adds the bus's in-memory signature verification counts (system id, variant, count, and
  // first_at/last_at, 0 = now) to the stored ones, creating rows as needed, in one transaction:
  // all or nothing. At most 10000 increments per call, counts 1..2^40, variant names as
  // ValidateSignatureVariantName: kInvalidArgument otherwise. An unknown system id is
  // kNotFound (and nothing of the batch is recorded). Empty: Ok, nothing written.
  virtual Status RecordSignatureUsage(const std::vector<SignatureUsage>& increments) = 0;
};

}  // namespace govesb::registry
