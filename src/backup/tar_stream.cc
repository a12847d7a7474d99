#include "backup/tar_stream.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

namespace govesb::backup {
namespace {

constexpr size_t kBlock = 512;
constexpr size_t kChunk = 256 << 10;
constexpr uint64_t kLargestOctalSize = 077777777777;  // 11 octal digits: 8 GiB - 1

std::string ErrnoText(int e) { return std::generic_category().message(e); }

// `value` in octal, right-aligned in `width - 1` digits and a NUL.
void PutOctal(char* field, size_t width, uint64_t value) {
  std::memset(field, '0', width - 1);
  field[width - 1] = '\0';
  for (size_t i = width - 1; i-- > 0 && value > 0; value >>= 3) {
    field[i] = static_cast<char>('0' + (value & 7));
  }
}

// An octal field (NUL or space terminated, leading spaces allowed), or GNU base-256.
std::optional<uint64_t> GetNumber(const char* field, size_t width) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(field);
  if ((bytes[0] & 0x80) != 0) {
    uint64_t value = bytes[0] & 0x7f;
    for (size_t i = 1; i < width; ++i) {
      if (value >> 56 != 0) return std::nullopt;
      value = (value << 8) | bytes[i];
    }
    return value;
  }
  size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  uint64_t value = 0;
  bool digits = false;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (value >> 60 != 0) return std::nullopt;
    value = (value << 3) | static_cast<uint64_t>(field[i] - '0');
    digits = true;
  }
  if (i < width && field[i] != '\0' && field[i] != ' ') return std::nullopt;
  return digits ? std::optional<uint64_t>(value) : std::nullopt;
}

uint64_t HeaderSum(const char* block) {
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(block[i]);
  }
  return sum;
}

// Splits `path` into ustar's prefix (up to 155 bytes) and name (up to 100 bytes).
bool SplitPath(std::string_view path, std::string_view& prefix, std::string_view& name) {
  if (path.size() <= 100) {
    prefix = {};
    name = path;
    return true;
  }
  for (size_t slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', slash + 1)) {
    if (slash <= 155 && path.size() - slash - 1 <= 100 && slash + 1 < path.size()) {
      prefix = path.substr(0, slash);
      name = path.substr(slash + 1);
      return true;
    }
  }
  return false;
}

std::string_view Field(const char* block, size_t at, size_t width) {
  const std::string_view f(block + at, width);
  return f.substr(0, f.find('\0'));
}

}  // namespace

// ---- writing ----

TarWriter::TarWriter(int fd, std::string what) : fd_(fd), what_(std::move(what)) {}

Result<std::unique_ptr<TarWriter>> TarWriter::Open(int fd, bool gzip, std::string what) {
  std::unique_ptr<TarWriter> w(new TarWriter(fd, std::move(what)));
  if (gzip) {
    w->z_ = std::make_unique<z_stream_s>();
    // Level 1: most of what a backup compresses (database pages, JSON) shrinks well at it, and
    // the bus beside it keeps its CPU.
    if (deflateInit2(w->z_.get(), 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      w->z_.reset();
      return Internal("cannot start the gzip compressor");
    }
  }
  return w;
}

TarWriter::~TarWriter() {
  if (z_ != nullptr) deflateEnd(z_.get());
}

Status TarWriter::WriteOut(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      if (e == ENOSPC || e == EDQUOT || e == EFBIG) {
        return ResourceExhausted("the disk holding " + what_ + " is full (" + ErrnoText(e) + ")");
      }
      return FailedPrecondition("cannot write " + what_ + ": " + ErrnoText(e));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    written_ += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status TarWriter::Deflate(int flush) {
  char buffer[kChunk / 4];
  for (;;) {
    z_->next_out = reinterpret_cast<Bytef*>(buffer);
    z_->avail_out = sizeof buffer;
    const int rc = deflate(z_.get(), flush);
    if (rc == Z_STREAM_ERROR) return Internal("the gzip compressor failed");
    out_.append(buffer, sizeof buffer - z_->avail_out);
    if (out_.size() >= kChunk) {
      GOVESB_RETURN_IF_ERROR(WriteOut(out_));
      out_.clear();
    }
    if (flush == Z_FINISH ? rc == Z_STREAM_END : z_->avail_out != 0) return Status::Ok();
  }
}

Status TarWriter::Emit(std::string_view bytes) {
  if (z_ == nullptr) {
    out_.append(bytes);
    if (out_.size() < kChunk) return Status::Ok();
    Status s = WriteOut(out_);
    out_.clear();
    return s;
  }
  while (!bytes.empty()) {
    const size_t n = std::min<size_t>(bytes.size(), kChunk);
    z_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    z_->avail_in = static_cast<uInt>(n);
    GOVESB_RETURN_IF_ERROR(Deflate(Z_NO_FLUSH));
    bytes.remove_prefix(n);
  }
  return Status::Ok();
}

Status TarWriter::Header(std::string_view path, char type, mode_t mode, uint64_t size) {
  if (in_file_) return Internal("a tar entry was started before the last one ended");
  std::string_view prefix;
  std::string_view name;
  if (path.empty() || !SplitPath(path, prefix, name)) {
    return InvalidArgument("the path " + std::string(path) + " is too long for a backup");
  }
  char block[kBlock] = {};
  std::copy(name.begin(), name.end(), block);  // memcpy with an empty view's null data is UB
  PutOctal(block + 100, 8, mode & 07777);
  PutOctal(block + 108, 8, 0);  // uid, gid: restored files belong to whoever restores them
  PutOctal(block + 116, 8, 0);
  if (size <= kLargestOctalSize) {
    PutOctal(block + 124, 12, size);
  } else {
    block[124] = static_cast<char>(0x80);
    for (size_t i = 0; i < 8; ++i) block[135 - i] = static_cast<char>(size >> (8 * i));
  }
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  PutOctal(block + 136, 12, static_cast<uint64_t>(now));
  block[156] = type;
  std::memcpy(block + 257, "ustar", 6);
  std::memcpy(block + 263, "00", 2);
  std::copy(prefix.begin(), prefix.end(), block + 345);
  PutOctal(block + 148, 7, HeaderSum(block));
  block[155] = ' ';
  return Emit(std::string_view(block, kBlock));
}

Status TarWriter::AddDirectory(std::string_view path, mode_t mode) {
  return Header(std::string(path) + "/", '5', mode, 0);
}

Status TarWriter::BeginFile(std::string_view path, mode_t mode, uint64_t size) {
  GOVESB_RETURN_IF_ERROR(Header(path, '0', mode, size));
  in_file_ = true;
  remaining_ = size;
  padding_ = (kBlock - size % kBlock) % kBlock;
  return Status::Ok();
}

Status TarWriter::Write(std::string_view data) {
  if (!in_file_ || data.size() > remaining_) {
    return Internal("more bytes were written to a tar entry than its size");
  }
  remaining_ -= data.size();
  return Emit(data);
}

Status TarWriter::EndFile() {
  if (!in_file_ || remaining_ != 0) {
    return Internal("a tar entry ended with " + std::to_string(remaining_) + " bytes missing");
  }
  in_file_ = false;
  static const char kZeros[kBlock] = {};
  return Emit(std::string_view(kZeros, padding_));
}

Status TarWriter::Finish() {
  if (in_file_) return Internal("the tar archive was finished inside an entry");
  static const char kZeros[2 * kBlock] = {};
  GOVESB_RETURN_IF_ERROR(Emit(std::string_view(kZeros, sizeof kZeros)));
  if (z_ != nullptr) {
    z_->next_in = nullptr;
    z_->avail_in = 0;
    GOVESB_RETURN_IF_ERROR(Deflate(Z_FINISH));
  }
  GOVESB_RETURN_IF_ERROR(WriteOut(out_));
  out_.clear();
  return Status::Ok();
}

// ---- reading ----

TarReader::TarReader(int fd, std::string what) : fd_(fd), what_(std::move(what)) {}

Result<std::unique_ptr<TarReader>> TarReader::Open(int fd, std::string what) {
  std::unique_ptr<TarReader> r(new TarReader(fd, std::move(what)));
  // Two bytes tell a gzip stream (1f 8b) from a tar's first header.
  while (r->in_.size() < 2 && !r->eof_) GOVESB_RETURN_IF_ERROR(r->Refill());
  if (r->in_.size() >= 2 && static_cast<unsigned char>(r->in_[0]) == 0x1f &&
      static_cast<unsigned char>(r->in_[1]) == 0x8b) {
    r->z_ = std::make_unique<z_stream_s>();
    if (inflateInit2(r->z_.get(), 15 + 16) != Z_OK) {
      r->z_.reset();
      return Internal("cannot start the gzip decompressor");
    }
  }
  return r;
}

TarReader::~TarReader() {
  if (z_ != nullptr) inflateEnd(z_.get());
}

Status TarReader::Truncated() const {
  return FailedPrecondition(
      "the backup " + what_ + " is truncated (it ends " +
      (current_.empty() ? std::string("before its end") : "inside " + current_) +
      "); nothing was restored");
}

Status TarReader::Damaged(const std::string& why) const {
  return FailedPrecondition("the backup " + what_ + " is damaged (" + why +
                            "); nothing was restored");
}

Status TarReader::Refill() {
  if (in_at_ > 0) {
    in_.erase(0, in_at_);
    in_at_ = 0;
  }
  const size_t had = in_.size();
  in_.resize(had + kChunk);
  ssize_t n = 0;
  do {
    n = ::read(fd_, in_.data() + had, kChunk);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    in_.resize(had);
    return FailedPrecondition("cannot read " + what_ + ": " + ErrnoText(errno));
  }
  in_.resize(had + static_cast<size_t>(n));
  if (n == 0) eof_ = true;
  return Status::Ok();
}

Result<size_t> TarReader::Some(char* out, size_t n) {
  if (z_ == nullptr) {
    if (in_at_ == in_.size()) {
      if (eof_) return size_t{0};
      GOVESB_RETURN_IF_ERROR(Refill());
      if (in_at_ == in_.size()) return size_t{0};
    }
    const size_t take = std::min(n, in_.size() - in_at_);
    std::memcpy(out, in_.data() + in_at_, take);
    in_at_ += take;
    return take;
  }
  for (;;) {
    if (stream_end_) return size_t{0};
    if (in_at_ == in_.size() && !eof_) GOVESB_RETURN_IF_ERROR(Refill());
    z_->next_in = reinterpret_cast<Bytef*>(in_.data() + in_at_);
    z_->avail_in = static_cast<uInt>(in_.size() - in_at_);
    z_->next_out = reinterpret_cast<Bytef*>(out);
    z_->avail_out = static_cast<uInt>(std::min<size_t>(n, kChunk));
    const uInt before = z_->avail_out;
    const int rc = inflate(z_.get(), Z_NO_FLUSH);
    in_at_ = in_.size() - z_->avail_in;
    const size_t produced = before - z_->avail_out;
    if (rc == Z_STREAM_END) {
      stream_end_ = true;
      return produced;
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR) {
      return Damaged(std::string("gzip: ") + (z_->msg != nullptr ? z_->msg : "bad data"));
    }
    if (produced > 0) return produced;
    if (eof_ && in_at_ == in_.size()) return Truncated();
  }
}

Status TarReader::Take(char* out, size_t n) {
  while (n > 0) {
    GOVESB_ASSIGN_OR_RETURN(size_t got, Some(out, n));
    if (got == 0) return Truncated();
    out += got;
    n -= got;
  }
  return Status::Ok();
}

Result<size_t> TarReader::Read(char* out, size_t n) {
  const size_t want = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
  if (want == 0) return size_t{0};
  GOVESB_RETURN_IF_ERROR(Take(out, want));
  remaining_ -= want;
  return want;
}

Status TarReader::CheckEnd() {
  // After the end-of-archive blocks: zeros only, to the end of the file or of the gzip stream
  // (whose CRC and length zlib checks on reaching it).
  char buffer[kBlock * 8];
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(size_t got, Some(buffer, sizeof buffer));
    if (got == 0) break;
    if (std::any_of(buffer, buffer + got, [](char c) { return c != '\0'; })) {
      return Damaged("data after the end of the archive");
    }
  }
  if (z_ != nullptr) {
    if (!stream_end_) return Truncated();
    while (in_at_ == in_.size() && !eof_) GOVESB_RETURN_IF_ERROR(Refill());
    if (in_at_ != in_.size()) return Damaged("data after the end of the gzip stream");
  }
  return Status::Ok();
}

Result<std::optional<TarReader::Entry>> TarReader::Next() {
  // Skip what is left of the current entry.
  char skip[kChunk / 8];
  while (remaining_ > 0) GOVESB_RETURN_IF_ERROR(Read(skip, sizeof skip).status());
  if (padding_ > 0) {
    // Zeros up to the next block: anything else there is damage too.
    GOVESB_RETURN_IF_ERROR(Take(skip, padding_));
    if (std::any_of(skip, skip + padding_, [](char c) { return c != '\0'; })) {
      return Damaged("bytes after " + current_ + " were changed");
    }
  }
  padding_ = 0;
  const std::string previous = current_;
  current_ = previous.empty() ? "" : "after " + previous;
  char block[kBlock];
  GOVESB_RETURN_IF_ERROR(Take(block, kBlock));
  if (std::all_of(block, block + kBlock, [](char c) { return c == '\0'; })) {
    GOVESB_RETURN_IF_ERROR(Take(block, kBlock));
    if (!std::all_of(block, block + kBlock, [](char c) { return c == '\0'; })) {
      return Damaged("an empty header inside the archive");
    }
    current_.clear();
    GOVESB_RETURN_IF_ERROR(CheckEnd());
    return std::optional<Entry>();
  }
  if (std::string_view(block + 257, 5) != "ustar") {
    return Damaged("a header that is not a tar header" +
                   (previous.empty() ? std::string() : " after " + previous));
  }
  const std::optional<uint64_t> sum = GetNumber(block + 148, 8);
  if (!sum.has_value() || *sum != HeaderSum(block)) {
    return Damaged("a tar header's checksum does not match" +
                   (previous.empty() ? std::string() : " after " + previous));
  }
  Entry e;
  const std::string_view prefix = Field(block, 345, 155);
  const std::string_view name = Field(block, 0, 100);
  e.path = prefix.empty() ? std::string(name) : std::string(prefix) + "/" + std::string(name);
  while (e.path.size() > 1 && e.path.back() == '/') e.path.pop_back();
  e.type = block[156] == '\0' ? '0' : block[156];
  const std::optional<uint64_t> mode = GetNumber(block + 100, 8);
  const std::optional<uint64_t> size = GetNumber(block + 124, 12);
  if (!mode.has_value() || !size.has_value()) {
    return Damaged("unreadable mode or size in the header of " + e.path);
  }
  if (e.type != '0' && e.type != '5') {
    return Damaged(e.path + " is neither a file nor a directory (tar type '" +
                   std::string(1, e.type) + "'): not a govesb backup");
  }
  e.mode = static_cast<mode_t>(*mode & 07777);
  e.size = e.type == '5' ? 0 : *size;
  remaining_ = e.size;
  padding_ = (kBlock - e.size % kBlock) % kBlock;
  current_ = e.path;
  return std::optional<Entry>(std::move(e));
}

}  // namespace govesb::backup
