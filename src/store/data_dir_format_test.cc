#include "store/data_dir_format.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "base/temp_dir.h"
#include "base/version.h"
#include "store/data_dir.h"

namespace govesb::store {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

// Every file under `dir` with its content and modification time: what "nothing changed" means.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st {};
    GOVESB_CHECK(::stat(e.path().c_str(), &st) == 0);
    std::string state = std::to_string(st.st_mtim.tv_sec) + "." +
                        std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_mode);
    if (e.is_regular_file()) state += " " + ReadFile(e.path().string());
    out[fs::relative(e.path(), dir).string()] = state;
  }
  return out;
}

// Turns a directory made by this release into what format 1 (and the releases before formats
// were recorded) left: the bus key alone in keys/esb-private-key.b64, and no format file.
void MakeFormatOne(const std::string& path, const DataDir& dir) {
  WriteFile(path + "/keys/esb-private-key.b64", dir.bus_key().Pkcs8Base64() + "\n");
  ::chmod((path + "/keys/esb-private-key.b64").c_str(), 0600);
  fs::remove(path + "/keys/esb-keys.json");
  fs::remove(path + "/format");
}

TEST(DataDirFormat, ANewDirectoryIsStampedWithTheCurrentFormat) {
  TempDir tmp;
  const std::string path = tmp.path() + "/data";
  auto dir = DataDir::Open({.path = path});
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(ReadFile(path + "/format"), "govesb-data-dir " + std::to_string(kDataDirFormat) +
                                            "\nwritten-by govesb " + std::string(GovesbVersion()) +
                                            "\n");
  auto format = ReadDataDirFormat(path);
  ASSERT_TRUE(format.ok());
  EXPECT_EQ(format->version, kDataDirFormat);
  EXPECT_TRUE(format->recorded);
  EXPECT_EQ(format->written_by, GovesbVersion());
}

TEST(DataDirFormat, ADirectoryFromBeforeVersionsIsStampedAsVersionOne) {
  TempDir tmp;
  const std::string path = tmp.path() + "/data";
  auto made = DataDir::Open({.path = path});
  ASSERT_TRUE(made.ok());
  // What the releases before format versions leave: format 1's layout, no format file.
  MakeFormatOne(path, *made);
  auto before = ReadDataDirFormat(path);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->version, 1);
  EXPECT_FALSE(before->recorded);

  // Stamped as 1, then migrated to this release's format.
  auto opened = DataDir::Open({.path = path, .create = false});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->bus_key().public_key().SpkiBase64(), made->bus_key().public_key().SpkiBase64());
  auto after = ReadDataDirFormat(path);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->version, kDataDirFormat);
  EXPECT_TRUE(after->recorded);
}

TEST(DataDirFormat, FormatOnesBusKeyBecomesTheFirstKeyOfTheRing) {
  TempDir tmp;
  const std::string path = tmp.path() + "/data";
  auto made = DataDir::Open({.path = path, .key_curve = crypto::Curve::kP256});
  ASSERT_TRUE(made.ok());
  MakeFormatOne(path, *made);
  WriteFile(path + "/format", "govesb-data-dir 1\nwritten-by govesb 0.1.0\n");
  auto opened = DataDir::Open({.path = path});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ASSERT_EQ(opened->key_ring().keys().size(), 1u);
  const crypto::RingKey& key = opened->key_ring().keys()[0];
  EXPECT_EQ(key.private_key().Pkcs8Base64(), made->bus_key().Pkcs8Base64());
  EXPECT_EQ(key.public_key().curve(), crypto::Curve::kP256);
  // Signing since the old file was written (about now), with no end.
  EXPECT_GT(*key.valid_from_ms, int64_t{1'600'000'000'000});
  EXPECT_FALSE(key.not_after_ms.has_value());
  EXPECT_FALSE(fs::exists(path + "/keys/esb-private-key.b64"));
  struct stat st {};
  ASSERT_EQ(::stat((path + "/keys/esb-keys.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadDataDirFormat(path)->version, 2);
}

TEST(DataDirFormat, TheKeyMigrationFinishesAfterACrashHalfway) {
  TempDir tmp;
  const std::string path = tmp.path() + "/data";
  auto made = DataDir::Open({.path = path});
  ASSERT_TRUE(made.ok());
  // The ring was written, the old file not removed yet, the version not raised.
  WriteFile(path + "/keys/esb-private-key.b64", made->bus_key().Pkcs8Base64() + "\n");
  WriteFile(path + "/format", "govesb-data-dir 1\n");
  auto opened = DataDir::Open({.path = path, .create = false});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->bus_key().Pkcs8Base64(), made->bus_key().Pkcs8Base64());
  EXPECT_FALSE(fs::exists(path + "/keys/esb-private-key.b64"));
  EXPECT_EQ(ReadDataDirFormat(path)->version, 2);
}

TEST(DataDirFormat, ACorruptFormatOneKeyStopsTheMigrationAtFormatOne) {
  TempDir tmp;
  const std::string path = tmp.path() + "/data";
  auto made = DataDir::Open({.path = path});
  ASSERT_TRUE(made.ok());
  MakeFormatOne(path, *made);
  WriteFile(path + "/format", "govesb-data-dir 1\n");
  WriteFile(path + "/keys/esb-private-key.b64", "bm90IGEga2V5\n");
  auto opened = DataDir::Open({.path = path});
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("esb-private-key.b64 is corrupt"), std::string::npos)
      << opened.status().message();
  EXPECT_NE(opened.status().message().find("still in format 1"), std::string::npos);
  EXPECT_EQ(ReadDataDirFormat(path)->version, 1);
  EXPECT_FALSE(fs::exists(path + "/keys/esb-keys.json"));
}

TEST(DataDirFormat, ANewerDirectoryIsRefusedNamingBothVersionsAndNothingChanges) {
  TempDir tmp;
  const std::string path = tmp.path() + "/data";
  ASSERT_TRUE(DataDir::Open({.path = path}).ok());
  WriteFile(path + "/format", "govesb-data-dir 7\nwritten-by govesb 9.4.0\n");
  fs::remove(path + "/keys/evidence-body-key");  // something Open would otherwise create
  const auto before = Snapshot(path);

  auto opened = DataDir::Open({.path = path});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition);
  const std::string& message = opened.status().message();
  EXPECT_NE(message.find("format version 7"), std::string::npos) << message;
  EXPECT_NE(message.find("govesb 9.4.0"), std::string::npos) << message;
  EXPECT_NE(message.find("up to version " + std::to_string(kDataDirFormat)), std::string::npos)
      << message;
  EXPECT_NE(message.find("use a govesb at least as new"), std::string::npos) << message;
  EXPECT_EQ(Snapshot(path), before);
}

TEST(DataDirFormat, AnUnreadableFormatFileIsAnErrorNotAGuess) {
  TempDir tmp;
  const std::string path = tmp.path() + "/data";
  ASSERT_TRUE(DataDir::Open({.path = path}).ok());
  for (const char* bad : {"", "govesb-data-dir\n", "govesb-data-dir x1\n", "govesb-data-dir 0\n",
                          "something else 1\n"}) {
    WriteFile(path + "/format", bad);
    auto opened = DataDir::Open({.path = path});
    ASSERT_FALSE(opened.ok()) << bad;
    EXPECT_NE(opened.status().message().find("not a data-directory format file"), std::string::npos)
        << opened.status().message();
    EXPECT_EQ(ReadFile(path + "/format"), bad) << "left as it was";
  }
}

TEST(DataDirFormat, StepsRunInOrderFromTheDirectorysVersionAndRecordEachOne) {
  TempDir tmp;
  const std::string path = tmp.path() + "/data";
  ASSERT_TRUE(fs::create_directory(path));
  WriteFile(path + "/old-layout", "x");  // a directory from before versions: version 1
  std::vector<std::string> ran;
  const std::vector<DataDirMigration> steps = {
      {"rename old-layout to layout-2",
       [&](const std::string& dir) {
         ran.push_back("1->2 at " + ReadDataDirFormat(dir)->written_by);
         fs::rename(dir + "/old-layout", dir + "/layout-2");
         return Status::Ok();
       }},
      {"rename layout-2 to layout-3", [&](const std::string& dir) {
         EXPECT_EQ(ReadDataDirFormat(dir)->version, 2) << "the first step was recorded";
         ran.push_back("2->3");
         fs::rename(dir + "/layout-2", dir + "/layout-3");
         return Status::Ok();
       }}};
  auto upgraded = UpgradeDataDir(path, steps, true);
  ASSERT_TRUE(upgraded.ok()) << upgraded.status().ToString();
  EXPECT_EQ(upgraded->version, 3);
  EXPECT_EQ(ran, (std::vector<std::string>{"1->2 at " + std::string(GovesbVersion()), "2->3"}));
  EXPECT_TRUE(fs::exists(path + "/layout-3"));
  // Up to date: nothing runs again.
  ASSERT_TRUE(UpgradeDataDir(path, steps, true).ok());
  EXPECT_EQ(ran.size(), 2u);
}

TEST(DataDirFormat, AFailedStepLeavesTheVersionItReached) {
  TempDir tmp;
  const std::string path = tmp.path() + "/data";
  ASSERT_TRUE(fs::create_directory(path));
  WriteFile(path + "/format", DataDirFormatText(1));
  const std::vector<DataDirMigration> steps = {
      {"move things", [](const std::string&) { return Unavailable("disk on fire"); }}};
  auto upgraded = UpgradeDataDir(path, steps, true);
  ASSERT_FALSE(upgraded.ok());
  EXPECT_NE(upgraded.status().message().find("from format 1 to 2 (move things): disk on fire"),
            std::string::npos)
      << upgraded.status().message();
  EXPECT_EQ(ReadDataDirFormat(path)->version, 1);
}

TEST(DataDirFormat, AMissingDirectoryOpenedWithoutCreateStaysMissing) {
  TempDir tmp;
  const std::string path = tmp.path() + "/absent";
  EXPECT_EQ(DataDir::Open({.path = path, .create = false}).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(ReadDataDirFormat(path).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace govesb::store
