#include "backup/tar_stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "base/temp_dir.h"

namespace govesb::backup {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Item {
  std::string path;
  char type;
  mode_t mode;
  std::string data;
};

// Writes `items` into `path` as a tar archive.
void Write(const std::string& path, bool gzip, const std::vector<Item>& items) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  auto tar = TarWriter::Open(fd, gzip, path);
  ASSERT_TRUE(tar.ok());
  for (const Item& item : items) {
    if (item.type == '5') {
      ASSERT_TRUE((*tar)->AddDirectory(item.path, item.mode).ok());
      continue;
    }
    ASSERT_TRUE((*tar)->BeginFile(item.path, item.mode, item.data.size()).ok());
    for (size_t at = 0; at < item.data.size(); at += 1000) {
      ASSERT_TRUE((*tar)->Write(std::string_view(item.data).substr(at, 1000)).ok());
    }
    ASSERT_TRUE((*tar)->EndFile().ok());
  }
  ASSERT_TRUE((*tar)->Finish().ok());
  ::close(fd);
}

Result<std::vector<Item>> Read(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  GOVESB_CHECK(fd >= 0);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<TarReader> tar, TarReader::Open(fd, path));
  std::vector<Item> out;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(std::optional<TarReader::Entry> e, tar->Next());
    if (!e.has_value()) break;
    Item item{e->path, e->type, e->mode, ""};
    char buffer[333];
    for (;;) {
      GOVESB_ASSIGN_OR_RETURN(size_t n, tar->Read(buffer, sizeof buffer));
      if (n == 0) break;
      item.data.append(buffer, n);
    }
    out.push_back(std::move(item));
  }
  return out;
}

std::vector<Item> Sample() {
  std::string big;
  for (uint64_t i = 0; i < 300'000; ++i) big += static_cast<char>('a' + (i * 7919) % 26);
  // A path longer than ustar's 100-byte name field (split into its prefix).
  const std::string deep = "data/" + std::string(60, 'd') + "/" + std::string(70, 'f') + ".seg";
  return {{"data", '5', 0700, ""},
          {"data/keys", '5', 0700, ""},
          {"data/keys/token-secret", '0', 0600, "c2VjcmV0\n"},
          {"data/empty", '0', 0644, ""},
          {"data/exactly-a-block", '0', 0600, std::string(512, 'x')},
          {deep, '0', 0640, big}};
}

void ExpectSame(const std::vector<Item>& got, const std::vector<Item>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].path, want[i].path);
    EXPECT_EQ(got[i].type, want[i].type) << want[i].path;
    EXPECT_EQ(got[i].mode, want[i].mode) << want[i].path;
    EXPECT_EQ(got[i].data, want[i].data) << want[i].path;
  }
}

TEST(TarStream, EntriesComeBackAsWrittenPlainAndCompressed) {
  TempDir tmp;
  for (bool gzip : {false, true}) {
    const std::string path = tmp.path() + (gzip ? "/a.tar.gz" : "/a.tar");
    Write(path, gzip, Sample());
    auto read = Read(path);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    ExpectSame(*read, Sample());
  }
  EXPECT_LT(std::filesystem::file_size(tmp.path() + "/a.tar.gz"),
            std::filesystem::file_size(tmp.path() + "/a.tar") / 4);
}

TEST(TarStream, TheSystemTarReadsWhatIsWritten) {
  if (std::system("tar --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no tar here";
  TempDir tmp;
  const std::string path = tmp.path() + "/a.tar.gz";
  Write(path, true, Sample());
  const std::string out = tmp.path() + "/out";
  std::filesystem::create_directory(out);
  ASSERT_EQ(std::system(("tar -xzf " + path + " -C " + out).c_str()), 0);
  for (const Item& item : Sample()) {
    if (item.type == '0') {
      EXPECT_EQ(ReadFile(out + "/" + item.path), item.data) << item.path;
    }
  }
}

TEST(TarStream, EveryChangedOrMissingByteIsFound) {
  TempDir tmp;
  for (bool gzip : {false, true}) {
    const std::string path = tmp.path() + "/a.tar";
    Write(path, gzip, Sample());
    const std::string whole = ReadFile(path);
    // Bytes changed across the archive: headers, data, padding, the end blocks.
    for (size_t at = 0; at < whole.size(); at += whole.size() / 97 + 1) {
      std::string changed = whole;
      changed[at] = static_cast<char>(changed[at] ^ 0x20);
      std::ofstream(path, std::ios::binary | std::ios::trunc) << changed;
      auto read = Read(path);
      if (read.ok()) {
        std::vector<Item> want = Sample();
        ASSERT_EQ(read->size(), want.size()) << "byte " << at;
        bool differs = false;
        for (size_t i = 0; i < want.size(); ++i) differs |= (*read)[i].data != want[i].data;
        if (gzip) {
          // Read without an error, the content must be as written (gzip's CRC): a change can
          // alter nothing, e.g. in the header's time or the code of a symbol never used.
          EXPECT_FALSE(differs) << "byte " << at << " changed the content unseen";
        } else {
          // A plain archive's data bytes can change unseen here (the backup's manifest hashes
          // them): the entries must then differ.
          EXPECT_TRUE(differs) << "byte " << at << " changed nothing";
        }
      } else {
        // A change in a deflate stream can also make it want more bytes than there are: that
        // reads as truncated.
        const std::string& message = read.status().message();
        EXPECT_TRUE(message.find("damaged") != std::string::npos ||
                    (gzip && message.find("truncated") != std::string::npos))
            << at << ": " << message;
      }
    }
    // Cut short anywhere: truncated.
    for (size_t size : {size_t{0}, size_t{100}, size_t{512}, whole.size() / 2, whole.size() - 600,
                        whole.size() - 1}) {
      std::ofstream(path, std::ios::binary | std::ios::trunc) << whole.substr(0, size);
      auto read = Read(path);
      ASSERT_FALSE(read.ok()) << "cut at " << size;
      EXPECT_NE(read.status().message().find("truncated"), std::string::npos)
          << size << ": " << read.status().message();
    }
  }
}

}  // namespace
}  // namespace govesb::backup
