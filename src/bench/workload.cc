#include "bench/workload.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "base/encoding.h"
#include "base/result.h"
#include "crypto/primitives.h"
#include "wire/json.h"

namespace govesb::bench {

std::string_view ModeName(Mode mode) { return mode == Mode::kPush ? "push" : "request"; }

namespace {

constexpr std::string_view kEnvelopeHead = "{\"data\":";
constexpr std::string_view kSignatureHead = ",\"signature\":\"";
constexpr std::string_view kEnvelopeTail = "\"}";

// The CPUs this process may run on (taskset), not all of the machine's.
unsigned UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    return std::max(1, CPU_COUNT(&set));
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

void AppendIndex(size_t i, std::string& out) {
  char digits[RequestSet::kIdDigits];
  for (size_t k = RequestSet::kIdDigits; k-- > 0;) {
    digits[k] = static_cast<char>('0' + i % 10);
    i /= 10;
  }
  out.append(digits, RequestSet::kIdDigits);
}

}  // namespace

RequestSet RequestSet::Presign(const crypto::PrivateKey& key, const WorkloadOptions& options,
                               size_t count, std::chrono::milliseconds budget, unsigned threads) {
  RequestSet set;
  set.mode_ = options.mode;
  set.run_id_ = HexEncode(crypto::RandomBytes(4));
  std::string code;
  wire::WriteString(options.code, code);
  set.data_head_ = std::string(options.mode == Mode::kPush ? "{\"pushCode\":" : "{\"apiCode\":") +
                   code + ",\"esbBody\":{\"id\":\"" + set.run_id_ + "-";
  const size_t min_size = options.birth_record ? kMinBirthRecordSize : kMinBodySize;
  size_t pad = options.body_size > min_size ? options.body_size - min_size : 0;
  set.data_tail_ = "\",";
  if (options.birth_record) {
    set.data_tail_ += kBirthRecordMembers;
    set.data_tail_ += ',';
  }
  set.data_tail_ += "\"pad\":\"";
  static constexpr std::string_view kFiller = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (size_t k = 0; k < pad; ++k) set.data_tail_.push_back(kFiller[k % kFiller.size()]);
  set.data_tail_ += "\"}}";
  set.body_size_ = std::max(options.body_size, min_size);

  count = std::max<size_t>(count, 1);
  if (threads == 0) threads = UsableCpus();
  threads = static_cast<unsigned>(std::min<size_t>(threads, (count + 255) / 256));
  // Signatures are kept per chunk, so a large `count` with a short budget costs nothing.
  constexpr size_t kChunk = 256;
  struct Chunk {
    std::string signatures;
    std::vector<uint32_t> ends;
  };
  std::vector<Chunk> chunks((count + kChunk - 1) / kChunk);
  std::atomic<size_t> next_chunk{0};
  auto deadline = std::chrono::steady_clock::now() + budget;
  // Chunks are claimed in order and always finished, so the signed indices are [0, claimed).
  auto work = [&] {
    std::string data;
    for (;;) {
      if (budget.count() > 0 && next_chunk.load() > 0 &&
          std::chrono::steady_clock::now() >= deadline) {
        return;
      }
      size_t c = next_chunk.fetch_add(1);
      if (c >= chunks.size()) return;
      Chunk& chunk = chunks[c];
      for (size_t i = c * kChunk; i < std::min(count, (c + 1) * kChunk); ++i) {
        data.clear();
        set.AppendData(i, data);
        chunk.signatures += key.SignBase64(data);
        chunk.ends.push_back(static_cast<uint32_t>(chunk.signatures.size()));
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  size_t claimed = std::min(chunks.size(), next_chunk.load());
  GOVESB_CHECK(claimed > 0);

  size_t total = 0;
  size_t signed_count = 0;
  for (size_t c = 0; c < claimed; ++c) {
    total += chunks[c].signatures.size();
    signed_count += chunks[c].ends.size();
  }
  set.signatures_.reserve(total);
  set.offsets_.reserve(signed_count + 1);
  set.offsets_.push_back(0);
  for (size_t c = 0; c < claimed; ++c) {
    auto base = static_cast<uint32_t>(set.signatures_.size());
    set.signatures_ += chunks[c].signatures;
    for (uint32_t end : chunks[c].ends) set.offsets_.push_back(base + end);
    chunks[c] = Chunk();  // free as we go
  }
  return set;
}

void RequestSet::AppendData(size_t i, std::string& out) const {
  out += data_head_;
  AppendIndex(i, out);
  out += data_tail_;
}

std::string RequestSet::Data(size_t i) const {
  std::string out;
  AppendData(i, out);
  return out;
}

std::string_view RequestSet::Signature(size_t i) const {
  GOVESB_CHECK(i < size());
  return std::string_view(signatures_).substr(offsets_[i], offsets_[i + 1] - offsets_[i]);
}

size_t RequestSet::EnvelopeSize(size_t i) const {
  return kEnvelopeHead.size() + data_head_.size() + kIdDigits + data_tail_.size() +
         kSignatureHead.size() + Signature(i).size() + kEnvelopeTail.size();
}

void RequestSet::AppendEnvelope(size_t i, std::string& out) const {
  out += kEnvelopeHead;
  AppendData(i, out);
  out += kSignatureHead;
  out += Signature(i);
  out += kEnvelopeTail;
}

std::string RequestSet::Envelope(size_t i) const {
  std::string out;
  out.reserve(EnvelopeSize(i));
  AppendEnvelope(i, out);
  return out;
}

}  // namespace govesb::bench
