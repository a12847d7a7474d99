#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace govesb::bench {

// `govesb bench evidence-search`: builds an evidence log of `exchanges` synchronous exchanges
// (four records each, with signatures, one in five an identity request about one of
// `exchanges / 20` persons) through the real append path (EvidenceLog::Append, many exchanges
// per append: one write and one fdatasync each), seals it with one checkpoint, indexes it
// (IndexSealed), then times `lookups` searches by requestId and by userId (evidence::Search,
// the first page of 100) for random ones that exist.
struct EvidenceSearchOptions {
  std::string data_dir;  // made when missing; must not hold an evidence log
  int64_t exchanges = 1'000'000;
  int64_t lookups = 200;
  int64_t exchanges_per_append = 2000;
};

struct EvidenceSearchReport {
  int64_t exchanges = 0;
  int64_t records = 0;
  int64_t log_bytes = 0;  // the segment files
  double build_s = 0, seal_s = 0, index_s = 0;
  struct Latency {
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
    double mean_records = 0;  // found per lookup
  };
  Latency by_request_id, by_user_id;
};

Result<EvidenceSearchReport> RunEvidenceSearchBench(const EvidenceSearchOptions& options);

// One JSON object (--json) or a few lines of text.
std::string RenderEvidenceSearch(const EvidenceSearchReport& r, bool json);

}  // namespace govesb::bench
