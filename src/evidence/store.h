#pragma once

// The evidence module's storage ports: what the engine appends to (EvidenceSink), and what the
// server, the admin layer and the CLI seal, index, archive and read (EvidenceStore), with the
// value types of their read side. No storage here: adapters implement them (the embedded one,
// SQLite + segment files, is sqlite_store.h), and every adapter must pass the contract suite
// store_contract_test.cc.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/key_ring.h"
#include "crypto/keys.h"
#include "evidence/record.h"

namespace govesb::evidence {

// What `govesb audit verify` reports.
struct VerifyReport {
  bool intact = false;
  int64_t records = 0;
  int64_t checkpoints = 0;
  int64_t unsealed = 0;                  // records after the last checkpoint
  std::optional<int64_t> first_bad_seq;  // where the first problem is, when known
  std::string problem;                   // "" when intact
  // The chain the first problem is in, for an adapter that keeps one chain per node (a
  // cluster's PostgreSQL store: first_bad_seq is then that node's number); "" otherwise.
  std::string node;
};

// A signed checkpoint as stored: it seals the records first..last (the SQLite adapter's table
// evidence_checkpoints).
struct StoredCheckpoint {
  int64_t id = 0;
  int64_t first = 0;  // first_seq
  int64_t last = 0;   // last_seq
  std::string body;
  std::string signature;
};

// What one Archive call moved out of the live log.
struct ArchiveSummary {
  std::vector<std::string> files;  // written, oldest first
  int64_t records = 0;
};

// Which records `govesb audit query` returns. Empty fields match everything.
struct QueryFilter {
  int64_t from_ms = 0;                                  // at >= from_ms
  int64_t to_ms = std::numeric_limits<int64_t>::max();  // at < to_ms
  // Records sent or received by any of these systems (client_ids), e.g. an institution's.
  std::vector<std::string> systems;
  std::string code;     // apiCode or pushCode
  std::string outcome;  // "ok", or a failure's code name
  std::string user_id;  // "who accessed data about this person"
  std::string request_id;
  std::string kind;
  size_t limit = 100'000;
};

// Bounds of a search's input: larger values are refused (kInvalidArgument), never truncated.
inline constexpr size_t kMaxSearchPageSize = 500;
inline constexpr size_t kMaxSearchValueBytes = 256;  // any one filter value
inline constexpr size_t kMaxSearchSystems = 1000;

// Which records a search returns (for the admin API and portal). Empty fields match
// everything; all given fields must match. Values are compared in code, never spliced into SQL.
struct SearchFilter {
  int64_t from_ms = 0;                                  // at >= from_ms
  int64_t to_ms = std::numeric_limits<int64_t>::max();  // at < to_ms
  // Records sent or received by any of these systems (client_ids): `from` or `to` is one of
  // them. An institution's view passes its systems.
  std::vector<std::string> systems;
  std::string code;        // apiCode or pushCode
  std::string outcome;     // "ok", or a failure's code name
  std::string kind;        // "request", "response", … "admin"
  std::string request_id;  // looked up in the request-id index
  std::string user_id;     // looked up in the user-id index
  std::string actor;       // the record's `from`: for admin records, the acting account
  size_t page_size = 100;  // 1 … kMaxSearchPageSize
  std::string cursor;      // "" for the first page, else a SearchPage::next_cursor
  // The most records one call reads (0: no bound). A selective filter over a large log may
  // then return a short page, with a cursor to go on from where it stopped.
  int64_t max_examined = 4'000'000;
};

// One record found, as recorded.
struct FoundRecord {
  int64_t seq = 0;
  Record record;          // CanonicalRecord(seq, record) is its text exactly as hashed
  bool archived = false;  // read from an archive file rather than the live log
  // The chain it is in, for an adapter that keeps one per node (seq is then that node's
  // number); "" otherwise.
  std::string node;
};

struct SearchPage {
  // Newest first: descending seq (the log's order; records of one exchange in reverse).
  std::vector<FoundRecord> records;
  // Pass it back in SearchFilter::cursor for the records after these (older ones, the same
  // filter); "" when there are none. A page may be full and the next one empty, or (when the
  // reading bound was met) short and followed by more.
  std::string next_cursor;
  int64_t examined = 0;  // records read to make this page
};

// Where a log stands, for monitoring: how far its records are durable, findable through the
// indexes and sealed, and when it was last sealed.
struct LogProgress {
  int64_t committed_seq = 0;       // the last durable record (this process's appends)
  int64_t indexed_seq = 0;         // the last record the indexes find
  int64_t sealed_seq = 0;          // the last record a checkpoint seals
  int64_t last_checkpoint_ms = 0;  // when the last checkpoint was made (0: none yet)
};

// Where the records of exchanges go, as the engine sees it: one call per exchange on the
// request path, so an adapter's Append must not block the caller (it answers through `done`).
class EvidenceSink {
 public:
  virtual ~EvidenceSink() = default;

  // Appends `records` after every record appended before it, numbered consecutively in their
  // order (records of one exchange stay together), and calls `done` exactly once: with Ok once
  // they are all durable (a crash after that loses none of them), or with the error that kept
  // them from being durable, and then none of them was written (the log goes on as if this
  // call had not been made). Errors: kUnavailable or kResourceExhausted (storage down, disk
  // full: the exchange is refused, fail closed), kFailedPrecondition (the store cannot append:
  // stopped, or opened for reading only). `done` may run on another thread (the adapter's),
  // and must not block it long. Thread-safe; appends from several threads are ordered as the
  // adapter receives them. Empty `records`: done(Ok).
  virtual void Append(PreparedRecords records, std::function<void(Status)> done) = 0;
};

// The evidence log as a whole: appending (EvidenceSink), sealing with signed checkpoints,
// indexing, retention, and reading. Record numbers (seq) start at 1 and have no gaps; each
// checkpoint seals the records after the previous one's through its `last`, signing their
// Merkle root, the chain value at its end and the hash of the previous checkpoint (log.h).
// "Sealed" means covered by a stored checkpoint; "durable" means an append whose `done` said Ok.
// Unless an adapter says otherwise, every method may be called from any thread; the blocking
// ones (all but Append) do disk or network I/O and must not be called on an I/O thread.
class EvidenceStore : public EvidenceSink {
 public:
  // ---- maintenance ----

  // Seals every record durable when called (appends still in flight wait for the next seal),
  // in one checkpoint signed with the bus key, and stores it; Ok and nothing stored when no
  // record is new since the last checkpoint. Blocks until stored. Meant for a timer (the
  // appends of the request path are not held up while the records are read and signed).
  // kInternal when the records to seal do not match their hashes or chain (damage: nothing is
  // sealed); kUnavailable when storage cannot be read now (try again later).
  virtual Status Seal(int64_t now_ms) = 0;
  // The same after every append submitted before the call has completed (including, for an
  // adapter shared with other modules' write jobs, their evidence): what shutdown seals.
  virtual Status SealAll(int64_t now_ms) = 0;

  // Makes the durable records, sealed or not, findable through the indexes (request id, user
  // id, time) so that Search, Query and BuildProof need not read them all. Idempotent; a record
  // is findable by Search whether indexed or not (indexing only makes it faster). Blocks.
  virtual Status IndexCommitted() = 0;
  // The same for the sealed records only (at shutdown, after SealAll).
  virtual Status IndexSealed() = 0;

  // Retention: moves the records of whole checkpoints made before `cutoff_ms` out of the live
  // log into sealed archives; they stay verifiable, searchable and provable. Refuses (changing
  // nothing, kInternal) a log whose records to archive do not match their hashes or chain.
  // kFailedPrecondition when the store has nowhere to archive to.
  virtual Result<ArchiveSummary> Archive(int64_t cutoff_ms) = 0;

  // ---- reading ----

  // Checks every record (archives, then the live log): numbering, hashes, chain links, and every
  // checkpoint's range, predecessor, Merkle root, chain value and signature with `bus_keys` (the
  // key each names, or any). A damaged log is a report with intact = false and where the first
  // problem is, not an error; errors are for a log that cannot be read at all.
  virtual Result<VerifyReport> Verify(const crypto::KeySet& bus_keys) = 0;
  // The self-contained proof of one exchange (proof.h: JSON that CheckProof checks offline).
  // kNotFound when no record of `request_id` exists; kFailedPrecondition when some of its
  // records are not sealed yet.
  virtual Result<std::string> BuildProof(std::string_view request_id,
                                         const crypto::KeySet& bus_keys) = 0;
  // The records matching `filter`, newest first, a page at a time, durable ones whether indexed,
  // sealed or archived or not (see SearchFilter, SearchPage). kInvalidArgument for input out of
  // bounds or a cursor the store did not make.
  virtual Result<SearchPage> Search(const SearchFilter& filter) = 0;
  // The canonical texts of the matching records, oldest first, at most filter.limit.
  virtual Result<std::vector<std::string>> Query(const QueryFilter& filter) = 0;
  // The checkpoints that end after record `after`, oldest first.
  virtual Result<std::vector<StoredCheckpoint>> Checkpoints(int64_t after = 0) = 0;

  // ---- monitoring ----

  // Where the log this process appends to stands (all zero for a store opened for reading).
  // Does no I/O: kept up to date by the appends, and by Seal, SealAll, IndexCommitted and
  // IndexSealed as they finish (and read once when the store opens), so a scrape may call it
  // on any thread.
  virtual LogProgress Progress() const = 0;
};

}  // namespace govesb::evidence
