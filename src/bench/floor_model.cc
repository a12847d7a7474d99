#include "bench/floor_model.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "base/thread_name.h"
#include "bench/histogram.h"
#include "bench/json_out.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "evidence/files.h"

namespace govesb::bench {

namespace {

using Clock = std::chrono::steady_clock;

// Written round and round (its blocks stay allocated, so a sync writes data only, as in the
// evidence log's preallocated segment files).
constexpr size_t kFileBytes = size_t{16} << 20;

Status Errno(const std::string& what) {
  return Internal("floor model: " + what + ": " + evidence::ErrorText(errno));
}

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// The file the writer appends to, preallocated with zeros and synced (as the evidence log's
// segment files are), and removed when done.
class ZeroedFile {
 public:
  static Result<ZeroedFile> Create(const std::string& directory) {
    std::string path = directory + "/floor-model-" + std::to_string(getpid()) + ".tmp";
    evidence::Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return Errno("open " + path);
    ZeroedFile file(std::move(fd), std::move(path));
    const std::string zeros(size_t{1} << 20, '\0');
    for (size_t at = 0; at < kFileBytes; at += zeros.size()) {
      GOVESB_RETURN_IF_ERROR(evidence::WriteAll(file.fd(), zeros, "floor model: zeros"));
    }
    if (fsync(file.fd()) != 0) return Errno("fsync");
    return file;
  }
  ZeroedFile(ZeroedFile&&) noexcept = default;
  ZeroedFile& operator=(ZeroedFile&&) = delete;
  ~ZeroedFile() {
    if (fd_.valid()) unlink(path_.c_str());
  }
  int fd() const { return fd_.get(); }

 private:
  ZeroedFile(evidence::Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  evidence::Fd fd_;
  std::string path_;
};

// An eventfd the writer signals after each commit.
class Wakeup {
 public:
  Wakeup() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  bool ok() const { return fd_.valid(); }
  void Signal() const {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(fd_.get(), &one, sizeof one);
  }
  // Waits until signalled or `until`; true when signalled (and clears it).
  bool WaitUntil(Clock::time_point until) const {
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(until - Clock::now());
    if (left.count() < 0) left = std::chrono::nanoseconds(0);
    timespec ts{static_cast<time_t>(left.count() / 1000000000),
                static_cast<long>(left.count() % 1000000000)};
    pollfd p{fd_.get(), POLLIN, 0};
    if (ppoll(&p, 1, &ts, nullptr) <= 0) return false;
    uint64_t value = 0;
    return read(fd_.get(), &value, sizeof value) == sizeof value;
  }

 private:
  evidence::Fd fd_;
};

}  // namespace

Result<FloorModelResult> RunFloorModel(const FloorModelOptions& options) {
  if (!(options.rate > 0) || options.rate > 1e6) {
    return InvalidArgument("floor model: the rate must be above 0 and at most 1000000 per second");
  }
  if (options.duration < std::chrono::milliseconds(100)) {
    return InvalidArgument("floor model: the duration must be at least 100 ms");
  }
  if (options.min_commit_interval_us < 0 || options.min_commit_interval_us > 100'000) {
    return InvalidArgument("floor model: the commit interval must be 0 to 100000 µs");
  }
  if (options.extra_us < 0 || options.evidence_bytes == 0 ||
      options.evidence_bytes > (size_t{1} << 20)) {
    return InvalidArgument(
        "floor model: extra work must not be negative, and an exchange's "
        "evidence 1 byte to 1 MiB");
  }
  std::error_code ec;
  if (options.directory.empty() || !std::filesystem::is_directory(options.directory, ec)) {
    return InvalidArgument("floor model: no such directory: '" + options.directory + "'");
  }
  GOVESB_ASSIGN_OR_RETURN(ZeroedFile file, ZeroedFile::Create(options.directory));
  Wakeup wakeup;
  if (!wakeup.ok()) return Errno("eventfd");

  // The crypto of an exchange: the bus's verify and sign, over a 1 KB text's digest.
  GOVESB_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1));
  const crypto::PublicKey public_key = key.public_key();
  const std::string text(1024, 'd');
  const std::string signature = key.SignDigestBase64(crypto::Sha256(text));

  // Arrival times handed to the writer, and those it has made durable.
  std::mutex mutex;
  std::condition_variable wake_writer;
  std::vector<Clock::time_point> queued, durable;
  bool stopping = false;
  uint64_t commits = 0, committed = 0;
  Status written = Status::Ok();
  std::thread writer([&] {
    NameThisThread("govesb-floor-w");
    const std::vector<char> bytes(std::min<size_t>(kFileBytes, 64 * options.evidence_bytes), 'e');
    std::vector<Clock::time_point> batch;
    size_t at = 0;
    const auto interval = std::chrono::microseconds(options.min_commit_interval_us);
    Clock::time_point last_commit{};
    for (;;) {
      {
        std::unique_lock lock(mutex);
        wake_writer.wait(lock, [&] { return stopping || !queued.empty(); });
        if (queued.empty()) return;
        // Too soon after the last commit's start: the arrivals meanwhile join this one.
        wake_writer.wait_until(lock, last_commit + interval, [&] { return stopping; });
        batch.swap(queued);
      }
      last_commit = Clock::now();
      // One write of the batch's bytes (at most 64 exchanges' worth: the size matters less
      // than the count of device requests), then the sync.
      const size_t n = std::min(bytes.size(), batch.size() * options.evidence_bytes);
      if (at + n > kFileBytes) at = 0;
      if (pwrite(file.fd(), bytes.data(), n, static_cast<off_t>(at)) != static_cast<ssize_t>(n) ||
          fdatasync(file.fd()) != 0) {
        std::lock_guard lock(mutex);
        written = Errno("write and fdatasync");
        stopping = true;
        wakeup.Signal();
        return;
      }
      at += n;
      {
        std::lock_guard lock(mutex);
        ++commits;
        committed += batch.size();
        durable.insert(durable.end(), batch.begin(), batch.end());
      }
      batch.clear();
      wakeup.Signal();
    }
  });

  Histogram latency;
  bool all_verified = true;
  size_t signatures = 0;
  auto exchange = [&] {
    for (int i = 0; i < 2; ++i) {
      const crypto::Sha256Digest digest = crypto::Sha256(text);
      all_verified = public_key.VerifyDigestBase64(digest, signature) && all_verified;
      signatures += key.SignDigestBase64(digest).size();
    }
    if (options.extra_us > 0) {
      const auto until =
          Clock::now() + std::chrono::nanoseconds(static_cast<int64_t>(options.extra_us * 1000));
      while (Clock::now() < until) {
      }
    }
  };

  const auto start = Clock::now();
  const auto measured_from = start + options.warmup;
  const auto end = measured_from + options.duration;
  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / options.rate));
  auto next = start;
  double cpu_at_start = 0;
  uint64_t commits_at_start = 0, committed_at_start = 0;
  bool measuring = false;
  std::vector<Clock::time_point> seen;
  auto reap = [&] {
    {
      std::lock_guard lock(mutex);
      seen.swap(durable);
    }
    const auto now = Clock::now();
    for (Clock::time_point arrival : seen) {
      if (arrival >= measured_from) {
        latency.Record(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - arrival).count()));
      }
    }
    seen.clear();
  };
  bool failed = false;
  while (!failed) {
    const auto now = Clock::now();
    if (!measuring && now >= measured_from) {
      measuring = true;
      cpu_at_start = ProcessCpuSeconds();
      std::lock_guard lock(mutex);
      commits_at_start = commits;
      committed_at_start = committed;
    }
    if (now >= end) break;
    if (now < next) {
      if (wakeup.WaitUntil(std::min(next, end))) reap();
      continue;
    }
    // An arrival is due (or late: the open loop's queue).
    exchange();
    bool wake = false;
    {
      std::lock_guard lock(mutex);
      failed = stopping;
      queued.push_back(next);
      wake = queued.size() == 1;
    }
    // After the lock, as the evidence writer is woken (store::GroupCommitWriter::Submit).
    if (wake) wake_writer.notify_one();
    next += period;
  }
  const double cpu = ProcessCpuSeconds() - cpu_at_start;
  uint64_t commits_in_span = 0, exchanges_in_span = 0;
  {
    std::lock_guard lock(mutex);
    commits_in_span = commits - commits_at_start;
    exchanges_in_span = committed - committed_at_start;
    stopping = true;
  }
  wake_writer.notify_one();
  writer.join();
  reap();
  if (!written.ok()) return written;
  if (!all_verified || signatures == 0) return Internal("floor model: a signature did not verify");

  const double seconds = std::chrono::duration<double>(options.duration).count();
  FloorModelResult r;
  r.exchanges = latency.count();
  r.completed_per_s = static_cast<double>(exchanges_in_span) / seconds;
  auto ms = [](uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  r.p50_ms = ms(latency.ValueAtPercentile(50));
  r.p99_ms = ms(latency.ValueAtPercentile(99));
  r.p999_ms = ms(latency.ValueAtPercentile(99.9));
  r.max_ms = ms(latency.max());
  r.cpu_us_per_exchange =
      exchanges_in_span == 0 ? 0 : cpu * 1e6 / static_cast<double>(exchanges_in_span);
  r.commits_per_s = static_cast<double>(commits_in_span) / seconds;
  r.exchanges_per_commit = commits_in_span == 0 ? 0
                                                : static_cast<double>(exchanges_in_span) /
                                                      static_cast<double>(commits_in_span);
  return r;
}

std::string FloorModelJson(const FloorModelOptions& options, const FloorModelResult& result) {
  JsonObjectWriter latency;
  latency.Number("p50", result.p50_ms)
      .Number("p99", result.p99_ms)
      .Number("p999", result.p999_ms)
      .Number("max", result.max_ms);
  JsonObjectWriter out;
  out.Number("rate", options.rate, 1)
      .Number("extra_us", options.extra_us, 1)
      .Integer("evidence_bytes", options.evidence_bytes)
      .Integer("min_commit_interval_us", static_cast<uint64_t>(options.min_commit_interval_us))
      .Integer("exchanges", result.exchanges)
      .Number("completed_per_s", result.completed_per_s, 1)
      .Raw("latency_ms", latency.Finish())
      .Number("cpu_us_per_exchange", result.cpu_us_per_exchange, 1)
      .Number("commits_per_s", result.commits_per_s, 1)
      .Number("exchanges_per_commit", result.exchanges_per_commit, 2);
  return out.Finish();
}

}  // namespace govesb::bench
