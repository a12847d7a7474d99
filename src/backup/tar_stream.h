#pragma once

// The container of a backup: a tar archive (POSIX ustar, read by any tar), gzip-compressed or
// not, written to and read from a file descriptor in one pass. Only what a backup holds:
// directories and regular files, paths of at most 255 bytes; sizes of 8 GiB and more in GNU's
// base-256 form (GNU tar and bsdtar read it).

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

struct z_stream_s;

namespace govesb::backup {

// Writes a tar archive to `fd` (not owned: the caller syncs and closes it). `what` names the
// output in errors. One thread.
class TarWriter {
 public:
  static Result<std::unique_ptr<TarWriter>> Open(int fd, bool gzip, std::string what);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  Status AddDirectory(std::string_view path, mode_t mode);
  // Starts a regular file of exactly `size` bytes, given through Write, then EndFile.
  Status BeginFile(std::string_view path, mode_t mode, uint64_t size);
  Status Write(std::string_view data);
  Status EndFile();
  // The end-of-archive blocks and, compressed, the end of the gzip stream.
  Status Finish();

  uint64_t bytes_written() const { return written_; }  // to the file (compressed)

 private:
  TarWriter(int fd, std::string what);
  Status Header(std::string_view path, char type, mode_t mode, uint64_t size);
  Status Emit(std::string_view bytes);
  Status Deflate(int flush);
  Status WriteOut(std::string_view bytes);

  int fd_;
  std::string what_;
  std::unique_ptr<z_stream_s> z_;  // null: not compressed
  std::string out_;                // compressed bytes not written yet
  uint64_t remaining_ = 0;         // of the current file's data
  uint64_t padding_ = 0;           // after it, to the next 512-byte block
  bool in_file_ = false;
  uint64_t written_ = 0;
};

// Reads a tar archive from `fd` (not owned), gzip-compressed or not (told by its first bytes).
// Every failure says whether the archive is truncated or damaged, naming `what`. One thread.
class TarReader {
 public:
  static Result<std::unique_ptr<TarReader>> Open(int fd, std::string what);
  ~TarReader();
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  struct Entry {
    std::string path;
    char type = '0';  // '0' a regular file, '5' a directory
    mode_t mode = 0;
    uint64_t size = 0;
  };
  // The next entry (the rest of the current one's data is skipped); nullopt at the end of the
  // archive, after which the rest of the file must be the end of the gzip stream or zeros.
  Result<std::optional<Entry>> Next();
  // Up to `n` bytes of the current entry's data; 0 at its end.
  Result<size_t> Read(char* out, size_t n);
  bool compressed() const { return z_ != nullptr; }

 private:
  TarReader(int fd, std::string what);
  // Exactly `n` bytes of the archive; kFailedPrecondition "truncated" at an early end.
  Status Take(char* out, size_t n);
  // Up to `n` bytes (0: the end of the file, or of the gzip stream).
  Result<size_t> Some(char* out, size_t n);
  Status Refill();
  Status CheckEnd();
  Status Truncated() const;
  Status Damaged(const std::string& why) const;

  int fd_;
  std::string what_;
  std::unique_ptr<z_stream_s> z_;
  std::string in_;  // raw bytes read from the file, not consumed yet
  size_t in_at_ = 0;
  bool eof_ = false;
  bool stream_end_ = false;  // gzip: the stream ended
  uint64_t remaining_ = 0;
  uint64_t padding_ = 0;
  std::string current_;  // the current entry's path, for messages
};

}  // namespace govesb::backup
