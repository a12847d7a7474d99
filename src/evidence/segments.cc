#include "evidence/segments.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "evidence/codec.h"
#include "evidence/log.h"
#include "evidence/records.h"

namespace govesb::evidence {

namespace {

constexpr uint8_t kHashesHex = 1;
constexpr uint8_t kChainHex = 2;
constexpr uint8_t kWithDatabase = 4;
constexpr size_t kFrameHeader = 4;
// No entry is larger (bodies kept for an API are bounded by the request size limits).
constexpr uint32_t kMaxEntryBytes = 256u << 20;

uint32_t ReadU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// kEnd: a zero size, where the written part of a file ends (its preallocated rest is zeros).
enum class Parsed { kEntry, kCut, kMalformed, kEnd };

// Parses the entry whose frame starts at `data[at]`; `next` receives the offset after it.
Parsed ParseEntry(std::string_view data, size_t at, SegmentEntry& e, size_t& next) {
  if (data.size() - at < kFrameHeader) return Parsed::kCut;
  const uint32_t size = ReadU32(data.data() + at);
  if (size == 0) return Parsed::kEnd;
  if (size > kMaxEntryBytes) return Parsed::kMalformed;
  if (data.size() - at - kFrameHeader < size) return Parsed::kCut;
  ByteReader in(data.substr(at + kFrameHeader, size));
  uint64_t first = 0;
  uint64_t count = 0;
  char flags = 0;
  if (!in.Varint(first) || !in.Varint(count) || !in.Signed(e.at_ms) || !in.Byte(flags) ||
      !in.View(e.request_id) || !in.View(e.records) || !in.View(e.hashes) || !in.View(e.chain) ||
      !in.done() || first == 0 || count == 0 || first > (uint64_t{1} << 62) ||
      count > (uint64_t{1} << 30)) {
    return Parsed::kMalformed;
  }
  e.first_seq = static_cast<int64_t>(first);
  e.last_seq = static_cast<int64_t>(first + count - 1);
  e.hashes_hex = (flags & kHashesHex) != 0;
  e.chain_hex = (flags & kChainHex) != 0;
  e.with_database = (flags & kWithDatabase) != 0;
  next = at + kFrameHeader + size;
  return Parsed::kEntry;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return FileError("cannot open the evidence segment " + path, errno);
  std::string out;
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0) out.reserve(static_cast<size_t>(st.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileError("cannot read the evidence segment " + path, errno);
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

std::string_view FileName(const std::string& path) {
  return std::string_view(path).substr(path.find_last_of('/') + 1);
}

}  // namespace

void EncodeSegmentEntry(const SegmentEntry& e, std::string& out) {
  const size_t at = out.size();
  out.append(kFrameHeader, '\0');
  PutVarint(static_cast<uint64_t>(e.first_seq), out);
  PutVarint(static_cast<uint64_t>(e.last_seq - e.first_seq + 1), out);
  PutSigned(e.at_ms, out);
  out.push_back(static_cast<char>((e.hashes_hex ? kHashesHex : 0) | (e.chain_hex ? kChainHex : 0) |
                                  (e.with_database ? kWithDatabase : 0)));
  PutString(e.request_id, out);
  PutString(e.records, out);
  PutString(e.hashes, out);
  PutString(e.chain, out);
  const auto size = static_cast<uint32_t>(out.size() - at - kFrameHeader);
  for (size_t i = 0; i < kFrameHeader; ++i) out[at + i] = static_cast<char>(size >> (8 * i));
}

std::string SegmentFileName(int64_t first_seq) { return PaddedNumber(first_seq) + ".seg"; }

std::string SegmentDirFor(const std::string& database_path) {
  std::filesystem::path parent = std::filesystem::path(database_path).parent_path();
  return (parent.empty() ? std::filesystem::path(".") : parent).string() + "/evidence-log";
}

Result<std::vector<SegmentFile>> ListSegments(const std::string& dir) {
  std::vector<SegmentFile> out;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return out;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != 16 || !name.ends_with(".seg") ||
        !std::all_of(name.begin(), name.begin() + 12,
                     [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    out.push_back(SegmentFile{std::stoll(name.substr(0, 12)), it->path().string()});
  }
  if (ec) return FileError("cannot open the evidence log directory " + dir, ec.value());
  std::sort(out.begin(), out.end(),
            [](const SegmentFile& a, const SegmentFile& b) { return a.first_seq < b.first_seq; });
  return out;
}

Status ForEachSegmentEntry(const std::string& path, const EntryVisitor& visit, uint64_t offset) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return FileError("cannot open the evidence segment " + path, errno);
  if (offset > 0 && ::lseek(fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
    return FileError("cannot read the evidence segment " + path, errno);
  }
  // Read into a buffer kept by the thread from one call to the next (a reader that comes back
  // every second would otherwise fault a fresh megabyte in each time), not zero-filled.
  struct Buffer {
    std::unique_ptr<char[]> bytes;
    size_t capacity = 0;
  };
  thread_local Buffer kept;
  std::unique_ptr<char[]> storage = std::move(kept.bytes);
  size_t capacity = std::exchange(kept.capacity, 0);
  struct GiveBack {  // the buffer goes back to the thread, unless it grew large
    std::unique_ptr<char[]>& storage;
    size_t& capacity;
    ~GiveBack() {
      if (capacity <= (size_t{8} << 20)) {
        kept.bytes = std::move(storage);
        kept.capacity = capacity;
      }
    }
  } give_back{storage, capacity};
  size_t filled = 0;
  uint64_t base = offset;  // the file offset of data[0]
  size_t at = 0;
  bool magic = offset > 0;
  bool eof = false;
  int64_t last_seq = 0;
  constexpr size_t kChunk = 1 << 20;
  for (;;) {
    // Keep what is not parsed yet, then read more.
    if (!eof) {
      if (at > 0 && filled > at) std::memmove(storage.get(), storage.get() + at, filled - at);
      filled -= at;
      base += at;
      at = 0;
      if (capacity - filled < kChunk) {
        // Room for a whole chunk after what is kept (an entry larger than a chunk grows it).
        const size_t grown = filled + kChunk;
        std::unique_ptr<char[]> bigger(new char[grown]);
        if (filled > 0) std::memcpy(bigger.get(), storage.get(), filled);
        storage = std::move(bigger);
        capacity = grown;
      }
      ssize_t n = 0;
      do {
        n = ::read(fd.get(), storage.get() + filled, kChunk);
      } while (n < 0 && errno == EINTR);
      if (n < 0) return FileError("cannot read the evidence segment " + path, errno);
      filled += static_cast<size_t>(n);
      eof = n == 0;
    }
    const std::string_view data(storage.get(), filled);
    if (!magic) {
      if (data.size() < kSegmentMagic.size() && !eof) continue;
      if (data.empty() && eof) return Status::Ok();  // created, nothing written yet
      if (!std::string_view(data).starts_with(kSegmentMagic)) {
        return Internal("the evidence log file " + std::string(FileName(path)) +
                        " is not a segment file (its first line was changed)");
      }
      at = kSegmentMagic.size();
      magic = true;
    }
    for (;;) {
      SegmentEntry e;
      size_t next = 0;
      const Parsed p = ParseEntry(data, at, e, next);
      if (p == Parsed::kMalformed) {
        return Internal("the evidence log file " + std::string(FileName(path)) +
                        " is unreadable after record " + std::to_string(last_seq) +
                        ": its stored bytes were changed");
      }
      if (p == Parsed::kEnd) return Status::Ok();  // the rest is preallocated
      if (p == Parsed::kCut) break;
      last_seq = e.last_seq;
      e.start = base + at;
      e.end = base + next;
      GOVESB_ASSIGN_OR_RETURN(bool go_on, visit(e));
      if (!go_on) return Status::Ok();
      at = next;
    }
    if (eof) return Status::Ok();  // a cut-short entry at the end: not written yet
  }
}

Status ForEachLiveEntry(const std::string& dir, int64_t first, const EntryVisitor& visit,
                        EntryCursor* cursor) {
  GOVESB_ASSIGN_OR_RETURN(std::vector<SegmentFile> files, ListSegments(dir));
  size_t start = 0;
  uint64_t offset = 0;
  if (cursor != nullptr && cursor->next_seq == first && !cursor->path.empty()) {
    for (size_t i = 0; i < files.size(); ++i) {
      if (files[i].path == cursor->path) {
        start = i;
        offset = cursor->offset;
        break;
      }
    }
  }
  for (size_t i = start; i < files.size(); ++i) {
    const bool resume = i == start && offset > 0;
    if (!resume && i + 1 < files.size() && files[i + 1].first_seq <= first) continue;  // before
    bool stopped = false;
    GOVESB_RETURN_IF_ERROR(ForEachSegmentEntry(
        files[i].path,
        [&](const SegmentEntry& e) -> Result<bool> {
          if (e.last_seq >= first) {
            SegmentEntry named = e;
            named.segment = files[i].first_seq;
            GOVESB_ASSIGN_OR_RETURN(bool go_on, visit(named));
            if (!go_on) {
              stopped = true;
              return false;
            }
          }
          if (cursor != nullptr) *cursor = EntryCursor{files[i].path, e.end, e.last_seq + 1};
          return true;
        },
        resume ? offset : 0));
    if (stopped) return Status::Ok();
  }
  return Status::Ok();
}

Status RemoveArchivedSegments(const std::string& dir, int64_t through) {
  GOVESB_ASSIGN_OR_RETURN(std::vector<SegmentFile> files, ListSegments(dir));
  bool removed = false;
  for (size_t i = 0; i + 1 < files.size(); ++i) {
    if (files[i + 1].first_seq - 1 > through) break;
    if (::unlink(files[i].path.c_str()) != 0 && errno != ENOENT) {
      return FileError("cannot delete the archived " + files[i].path, errno);
    }
    removed = true;
  }
  return removed ? SyncDirectory(dir) : Status::Ok();
}

Status WriteSegmentFile(const std::string& path, const std::vector<SegmentEntry>& entries) {
  std::string data(kSegmentMagic);
  for (const SegmentEntry& e : entries) EncodeSegmentEntry(e, data);
  const std::string tmp = path + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return FileError("cannot create " + tmp, errno);
    GOVESB_RETURN_IF_ERROR(WriteAll(fd.get(), data, tmp));
    if (::fsync(fd.get()) != 0) return FileError("cannot fsync " + tmp, errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return FileError("cannot rename " + tmp, errno);
  }
  return SyncDirectory(std::filesystem::path(path).parent_path().string());
}

Result<LiveLogCut> CutLiveLog(const std::string& dir, int64_t after, int64_t through) {
  if (through < after) {
    return Internal("the database's evidence commits (record " + std::to_string(through) +
                    ") end before its archives (record " + std::to_string(after) + ")");
  }
  GOVESB_ASSIGN_OR_RETURN(std::vector<SegmentFile> files, ListSegments(dir));
  LiveLogCut cut;
  int64_t next = 0;  // the record the next entry must start with (0: any)
  for (size_t i = 0; i < files.size() && files[i].first_seq <= through; ++i) {
    const bool archived = i + 1 < files.size() && files[i + 1].first_seq - 1 <= after;
    if (archived) continue;
    LiveLogCut::File file;
    file.path = files[i].path;
    file.name = std::string(FileName(files[i].path));
    file.bytes = kSegmentMagic.size();
    Status read = ForEachSegmentEntry(file.path, [&](const SegmentEntry& e) -> Result<bool> {
      if (e.first_seq > through) return false;
      if (e.last_seq > through) {
        return Internal("record " + std::to_string(through) +
                        ", the last the database knows, "
                        "is inside an entry of " +
                        file.name + " (records " + std::to_string(e.first_seq) + "-" +
                        std::to_string(e.last_seq) + ")");
      }
      if (next != 0 && e.first_seq != next) {
        return Internal("the evidence log file " + file.name + " holds record " +
                        std::to_string(e.first_seq) + " where record " + std::to_string(next) +
                        " should be");
      }
      if (file.first_seq == 0) file.first_seq = e.first_seq;
      file.last_seq = e.last_seq;
      file.bytes = e.end;
      next = e.last_seq + 1;
      return true;
    });
    if (!read.ok()) {
      if (read.code() == StatusCode::kInternal) {
        return Internal(read.message() + "; run govesb audit verify");
      }
      return read;  // a file that cannot be read (deleted by archiving meanwhile, say)
    }
    if (file.last_seq != 0) {
      if (cut.files.empty() || cut.last_seq == 0) {
        // The first record kept must reach back to the archives (or to the start).
        if (file.first_seq > after + 1 && through > after) {
          return Unavailable("record " + std::to_string(after + 1) +
                             " is no longer in the live log (archived since the database was "
                             "copied)");
        }
      }
      cut.last_seq = file.last_seq;
    }
    cut.files.push_back(std::move(file));
  }
  if (through > after && cut.last_seq < through) {
    if (cut.last_seq == 0 && !files.empty() && files.front().first_seq > after + 1) {
      return Unavailable("record " + std::to_string(after + 1) +
                         " is no longer in the live log (archived since the database was copied)");
    }
    return Internal("the live log in " + dir + " ends at record " + std::to_string(cut.last_seq) +
                    ", but the database says records up to " + std::to_string(through) +
                    " were committed; run govesb audit verify");
  }
  return cut;
}

bool EntryIsSound(const SegmentEntry& e, const Hash* chain_before) {
  const size_t count = static_cast<size_t>(e.last_seq - e.first_seq + 1);
  std::optional<std::vector<Hash>> hashes = StoredHashes(e.hashes, !e.hashes_hex, count);
  std::optional<Hash> chain = StoredHash(e.chain, !e.chain_hex);
  if (!hashes.has_value() || !chain.has_value()) return false;
  std::vector<std::string> texts;
  if (!e.records.empty() && e.records[0] == kCompactRowMarker) {
    auto decoded = DecodeCompactRow(e.records, e.request_id);
    if (!decoded.has_value() || decoded->size() != count) return false;
    for (size_t i = 0; i < count; ++i) {
      texts.push_back(CanonicalRecord(e.first_seq + static_cast<int64_t>(i), (*decoded)[i]));
    }
  } else {
    size_t start = 0;
    while (start <= e.records.size()) {
      size_t end = e.records.find('\n', start);
      if (end == std::string_view::npos) end = e.records.size();
      texts.emplace_back(e.records.substr(start, end - start));
      start = end + 1;
    }
    if (texts.size() != count) return false;
  }
  Hash link = chain_before != nullptr ? *chain_before : Hash{};
  for (size_t i = 0; i < count; ++i) {
    if (crypto::Sha256(texts[i]) != (*hashes)[i]) return false;
    link = ChainLink(link, (*hashes)[i]);
  }
  return chain_before == nullptr || link == *chain;
}

// ---- the writer ----

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::Open(const std::string& dir, Tip fallback,
                                                           int64_t sealed_through,
                                                           int64_t database_through,
                                                           Options options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return FileError("cannot create the evidence log directory " + dir, ec.value());
  std::unique_ptr<SegmentWriter> w(new SegmentWriter(dir, options));
  GOVESB_ASSIGN_OR_RETURN(std::vector<SegmentFile> files, ListSegments(dir));
  // The tip: the last sound entry of the last file that has one.
  // The last entry of file i (nullopt: none).
  auto last_of = [&](size_t i) -> Result<std::optional<Tip>> {
    std::optional<Tip> last;
    GOVESB_RETURN_IF_ERROR(ForEachSegmentEntry(files[i].path, [&](const SegmentEntry& e) {
      auto chain = StoredHash(e.chain, !e.chain_hex);
      if (!chain.has_value()) {
        return Result<bool>(Internal("unreadable chain value in " + files[i].path));
      }
      last = Tip{e.last_seq, *chain};
      return Result<bool>(true);
    }));
    return last;
  };
  std::optional<Tip> tip;
  std::optional<Tip> before;  // the last entry before the last file (read once)
  for (size_t i = files.size(); i-- > 0 && !tip.has_value();) {
    const std::string& path = files[i].path;
    if (i + 1 == files.size()) {
      // The chain value before the file, to check its first entry's.
      if (i > 0) {
        GOVESB_ASSIGN_OR_RETURN(before, last_of(i - 1));
      } else if (fallback.seq + 1 == files[i].first_seq) {
        before = fallback;
      }
      // The file being appended to: check every entry, and cut off an unsound end.
      GOVESB_ASSIGN_OR_RETURN(std::string data, ReadWholeFile(path));
      if (!data.empty() && !std::string_view(data).starts_with(kSegmentMagic)) {
        return Internal("the evidence log file " + path + " is not a segment file");
      }
      size_t at = data.empty() ? 0 : kSegmentMagic.size();
      std::optional<Hash> chain;
      if (before.has_value()) chain = before->chain;
      int64_t next_seq = before.has_value() ? before->seq + 1 : 0;
      int64_t cut_seq = 0;  // the first record of the unsound part, when known
      struct Sound {
        size_t offset;
        int64_t first_seq;
        bool with_database;
        Tip after;
      };
      std::vector<Sound> sound_entries;
      for (;;) {
        SegmentEntry e;
        size_t next = 0;
        if (at >= data.size()) break;
        const Parsed p = ParseEntry(data, at, e, next);
        const bool sound = p == Parsed::kEntry && (next_seq == 0 || e.first_seq == next_seq) &&
                           EntryIsSound(e, chain.has_value() ? &*chain : nullptr);
        if (!sound) {
          cut_seq = next_seq;  // the numbering of what is sound (0: from the file's start)
          break;
        }
        chain = StoredHash(e.chain, !e.chain_hex);
        sound_entries.push_back(Sound{at, e.first_seq, e.with_database, Tip{e.last_seq, *chain}});
        next_seq = e.last_seq + 1;
        at = next;
      }
      // Zeros after the last entry are the file's preallocated rest, not damage.
      const bool zeros_after = std::all_of(data.begin() + static_cast<std::ptrdiff_t>(at),
                                           data.end(), [](char c) { return c == '\0'; });
      // The last batch, when it wrote the database too but the database does not have its
      // commit (the process stopped between the two): never acknowledged either.
      size_t cut_at = at;
      bool uncommitted = false;
      while (!sound_entries.empty() && sound_entries.back().with_database &&
             sound_entries.back().first_seq > database_through) {
        cut_at = sound_entries.back().offset;
        cut_seq = sound_entries.back().first_seq;
        sound_entries.pop_back();
        uncommitted = true;
      }
      if (!sound_entries.empty()) tip = sound_entries.back().after;
      if (uncommitted || !zeros_after) {
        const int64_t first_unsound = cut_seq != 0 ? cut_seq : files[i].first_seq;
        if (first_unsound <= sealed_through) {
          return Internal("the evidence log file " + path + " is damaged at record " +
                          std::to_string(first_unsound) +
                          ", which a checkpoint seals: run govesb audit verify (nothing was "
                          "changed)");
        }
        const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
        const std::string kept = path + ".torn-" + std::to_string(now_ms);
        {
          Fd out(::open(kept.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
          if (!out.valid()) return FileError("cannot create " + kept, errno);
          // Up to the last byte written (not the zeros written ahead).
          size_t end = data.size();
          while (end > cut_at && data[end - 1] == '\0') --end;
          GOVESB_RETURN_IF_ERROR(
              WriteAll(out.get(), std::string_view(data).substr(cut_at, end - cut_at), kept));
          if (::fsync(out.get()) != 0) return FileError("cannot fsync " + kept, errno);
        }
        if (::truncate(path.c_str(), static_cast<off_t>(cut_at)) != 0) {
          return FileError("cannot cut " + path + " back", errno);
        }
        GOVESB_RETURN_IF_ERROR(SyncDirectory(dir));
        spdlog::warn(
            "evidence: the end of {} was {} (never acknowledged); from record {} on it was "
            "moved to {}",
            path,
            uncommitted ? "a batch whose database commit did not happen (a crash between the two)"
                        : "not sound (a write cut short by a crash)",
            first_unsound, kept);
      }
      // Go on appending to it (unless it is full).
      w->path_ = path;
      w->size_ = cut_at;
      w->allocated_ = uncommitted || !zeros_after ? cut_at : data.size();
    } else if (i + 2 == files.size()) {
      tip = before;  // read above
    } else {
      GOVESB_ASSIGN_OR_RETURN(tip, last_of(i));
    }
  }
  w->tip_ = tip.value_or(fallback);
  w->committed_ = w->tip_;
  w->durable_seq_.store(w->tip_.seq, std::memory_order_release);
  if (!w->path_.empty() && w->size_ < options.max_segment_bytes) {
    const std::string path = w->path_;
    w->fd_ = Fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!w->fd_.valid()) return FileError("cannot open the evidence segment " + path, errno);
    if (w->size_ == 0) {
      GOVESB_RETURN_IF_ERROR(WriteAll(w->fd_.get(), kSegmentMagic, path));
      if (::fdatasync(w->fd_.get()) != 0) return FileError("cannot sync " + path, errno);
      w->size_ = kSegmentMagic.size();
      w->allocated_ = std::max(w->allocated_, w->size_);
    }
  } else {
    GOVESB_RETURN_IF_ERROR(w->OpenSegment(w->tip_.seq + 1));
  }
  return w;
}

Status SegmentWriter::OpenSegment(int64_t first) {
  const std::string path = dir_ + "/" + SegmentFileName(first);
  // A new file (an existing one of that name is empty: made before a crash, nothing in it).
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return FileError("cannot create the evidence segment " + path, errno);
  GOVESB_RETURN_IF_ERROR(WriteAll(fd.get(), kSegmentMagic, path));
  if (::fdatasync(fd.get()) != 0) return FileError("cannot sync " + path, errno);
  GOVESB_RETURN_IF_ERROR(SyncDirectory(dir_));
  fd_ = std::move(fd);
  path_ = path;
  size_ = kSegmentMagic.size();
  allocated_ = size_;
  return Status::Ok();
}

void SegmentWriter::BeginBatch(bool with_database) { batch_with_database_ = with_database; }

Status SegmentWriter::BeforeCommit(store::WriteContext& ctx) {
  static constexpr std::string_view kSetCommitted =
      "UPDATE evidence_commit_state SET committed_through = ? WHERE id = 1";
  GOVESB_ASSIGN_OR_RETURN(store::Statement * set, ctx.Prepared(kSetCommitted));
  GOVESB_RETURN_IF_ERROR(set->Bind(1, tip_.seq));
  return set->Run();
}

void SegmentWriter::Append(int64_t at_ms, std::string_view request_id, std::string_view records,
                           std::string_view hashes, int64_t count, const Hash& chain_after) {
  SegmentEntry e;
  e.with_database = batch_with_database_;
  e.first_seq = tip_.seq + 1;
  e.last_seq = tip_.seq + count;
  e.at_ms = at_ms;
  e.request_id = request_id;
  e.records = records;
  e.hashes = hashes;
  e.chain = std::string_view(reinterpret_cast<const char*>(chain_after.data()), chain_after.size());
  EncodeSegmentEntry(e, buffer_);
  tip_ = Tip{e.last_seq, chain_after};
}

uint64_t SegmentWriter::Mark() {
  mark_size_ = buffer_.size();
  mark_tip_ = tip_;
  return mark_size_;
}

void SegmentWriter::RollbackTo(uint64_t mark) {
  if (mark != mark_size_) return;  // not the last mark: nothing of this job is known
  buffer_.resize(mark_size_);
  tip_ = mark_tip_;
}

void SegmentWriter::CutBack(uint64_t size) {
  // The preallocated rest goes too: it is made again by the next write.
  if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0 || ::fdatasync(fd_.get()) != 0) {
    spdlog::error("evidence: cannot cut {} back after a failed write: {}", path_, ErrorText(errno));
  }
  size_ = size;
  allocated_ = size;
}

namespace {

// Writes `data` at `offset` (retrying short writes and EINTR).
Status WriteAllAt(int fd, std::string_view data, uint64_t offset, const std::string& what) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileError("cannot write " + what, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Status SegmentWriter::WriteBatch() {
  const uint64_t end = size_ + buffer_.size();
  // Zeros ahead of the entries (kPreallocateBytes at a time, up to the segment's size): a
  // later fdatasync then has only data to write, not the file's new size and blocks to
  // journal first, which makes each commit cheaper and quicker.
  if (end > allocated_ && end < options_.max_segment_bytes) {
    static const std::string zeros(kPreallocateBytes, '\0');
    const uint64_t target = std::min(end + kPreallocateBytes, options_.max_segment_bytes);
    GOVESB_RETURN_IF_ERROR(
        WriteAllAt(fd_.get(), std::string_view(zeros).substr(0, target - end), end, path_));
    allocated_ = target;
  }
  // The entries, the size of the first one last: a reader (another process) that reads while
  // they are being written sees a zero size there, the end, never an entry half written.
  GOVESB_RETURN_IF_ERROR(WriteAllAt(fd_.get(), std::string_view(buffer_).substr(kFrameHeader),
                                    size_ + kFrameHeader, path_));
  GOVESB_RETURN_IF_ERROR(
      WriteAllAt(fd_.get(), std::string_view(buffer_).substr(0, kFrameHeader), size_, path_));
  allocated_ = std::max(allocated_, end);
  return Status::Ok();
}

Status SegmentWriter::Flush() {
  flushed_ = false;
  batch_start_ = size_;
  if (buffer_.empty()) return failed_ ? Probe() : Status::Ok();
  if (!fd_.valid()) return Internal("the evidence log has no open file");
  Status written = WriteBatch();
  if (written.ok() && ::fdatasync(fd_.get()) != 0) {
    written = FileError("cannot sync " + path_, errno);
  }
  if (!written.ok()) {
    CutBack(batch_start_);
    failed_ = true;
    return Status(written.code(), "the evidence log could not be written: " + written.message());
  }
  failed_ = false;
  size_ += buffer_.size();
  flushed_ = true;
  return Status::Ok();
}

Status SegmentWriter::Probe() {
  if (!fd_.valid()) return Internal("the evidence log has no open file");
  static const std::string zeros(4096, '\0');
  const uint64_t room = options_.max_segment_bytes > size_ ? options_.max_segment_bytes - size_ : 0;
  const uint64_t n = std::min<uint64_t>(zeros.size(), room);
  Status written = WriteAllAt(fd_.get(), std::string_view(zeros).substr(0, n), size_, path_);
  if (written.ok() && ::fdatasync(fd_.get()) != 0) {
    written = FileError("cannot sync " + path_, errno);
  }
  if (!written.ok()) {
    CutBack(size_);
    return Status(written.code(), "the evidence log still cannot be written: " + written.message());
  }
  allocated_ = std::max(allocated_, size_ + n);
  failed_ = false;
  return Status::Ok();
}

void SegmentWriter::Committed() {
  buffer_.clear();
  // A batch carrying large stored bodies leaves a large buffer behind: give that memory back.
  constexpr size_t kKeep = 4 << 20;
  if (buffer_.capacity() > kKeep) std::string().swap(buffer_);
  flushed_ = false;
  committed_ = tip_;
  durable_seq_.store(tip_.seq, std::memory_order_release);
  if (size_ >= options_.max_segment_bytes) {
    Status opened = OpenSegment(tip_.seq + 1);
    if (!opened.ok()) {
      spdlog::error("evidence: cannot start a new segment (going on with {}): {}", path_,
                    opened.message());
    }
  }
}

void SegmentWriter::Abandon() {
  if (flushed_) CutBack(batch_start_);
  flushed_ = false;
  buffer_.clear();
  tip_ = committed_;
}

}  // namespace govesb::evidence
