#include "evidence/maintenance.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace govesb::evidence {

namespace {

// What makes two file failures "the same kind" for logging: the step and the OS error (the
// text after the last ": "), not the file or the record number.
std::string KindOf(const char* step, const Status& status) {
  const std::string& m = status.message();
  const size_t colon = m.rfind(": ");
  return std::string(step) + "|" + (colon == std::string::npos ? m : m.substr(colon + 2));
}

}  // namespace

void EvidenceMaintenance::Failed(const char* step, const Status& status) {
  if (!IsFileFailure(status)) {
    spdlog::error("evidence: {} failed: {}", step, status.message());
    return;
  }
  std::string kind = KindOf(step, status);
  if (kind == last_logged_) {
    spdlog::debug("evidence: {} failed again: {}", step, status.message());
    return;
  }
  spdlog::warn(
      "evidence: {} could not be done, the log is not damaged: {}; trying again later (further "
      "failures of this kind are not logged)",
      step, status.message());
  last_logged_ = std::move(kind);
}

Status EvidenceMaintenance::Round() {
  Status first = Status::Ok();
  auto step = [&](const char* name, Status s) {
    if (s.ok()) return true;
    Failed(name, s);
    if (first.ok()) first = std::move(s);
    return false;
  };
  // After a file failure the other steps would fail the same way: the round ends there.
  if (!step("checkpoint", store_.Seal(clock_.NowMillis())) && IsFileFailure(first)) {
    return first;
  }
  // The records committed so far (sealed ones included), for proofs, queries and search.
  step("indexing", store_.IndexCommitted());
  if (options_.retention_ms > 0 && first.ok()) {
    // Retention: whole checkpoints older than it move into archive files.
    auto archived = store_.Archive(clock_.NowMillis() - options_.retention_ms);
    if (step("archiving", archived.status()) && archived->records > 0) {
      spdlog::info("evidence: archived {} records into {} file(s)", archived->records,
                   archived->files.size());
    }
  }
  return first;
}

Status EvidenceMaintenance::RunRound() {
  const int64_t now = clock_.NowMillis();
  if (now < next_round_ms_) return Status::Ok();  // backing off after a file failure
  return Settle(now, Round());
}

Status EvidenceMaintenance::RunIndexing() {
  const int64_t now = clock_.NowMillis();
  if (now < next_round_ms_) return Status::Ok();  // backing off after a file failure
  Status status = store_.IndexCommitted();
  if (!status.ok()) Failed("indexing", status);
  return Settle(now, std::move(status));
}

Status EvidenceMaintenance::Settle(int64_t now, Status status) {
  if (IsFileFailure(status)) {
    ++file_failures_;
    // The interval times 2, 4, 8 ... (the caller's timer already waits one interval).
    int64_t wait = options_.interval_ms;
    for (int i = 1; i < file_failures_ && wait < options_.max_backoff_ms; ++i) wait *= 2;
    next_round_ms_ = now + std::min(wait, options_.max_backoff_ms);
    return status;
  }
  if (status.ok() && file_failures_ > 0) {
    spdlog::info("evidence: checkpoints and indexing work again after {} failed round(s)",
                 file_failures_);
  }
  if (status.ok()) last_logged_.clear();
  file_failures_ = 0;
  next_round_ms_ = 0;
  return status;
}

}  // namespace govesb::evidence
