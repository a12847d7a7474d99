// The evidence log's segment reader (src/evidence/segments.h): the input is written as a
// segment file (after the magic line, unless it starts with 'g' and is taken as the whole
// file) in a fresh evidence-log directory, then read entry by entry with the checks recovery
// and verification make, read as the live log, and opened by the writer (which cuts a torn
// end off and keeps it aside).

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "base/temp_dir.h"
#include "evidence/log.h"
#include "evidence/segments.h"
#include "fuzz_common.h"

namespace evidence = govesb::evidence;
using govesb::fuzz::AsText;

namespace {

const std::string& Root() {
  static govesb::TempDir* dir = new govesb::TempDir("govesb-fuzz");  // kept until exit
  return dir->path();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input = AsText(data, size);
  const std::string dir = Root() + "/evidence-log";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/" + evidence::SegmentFileName(1);
  {
    std::ofstream out(path, std::ios::binary);
    if (input.empty() || input[0] != 'g') out << evidence::kSegmentMagic;
    out << input;
  }

  // Entry by entry, with every check that reading makes.
  std::optional<evidence::Hash> chain = evidence::Hash{};
  int64_t next_seq = 1;
  uint64_t last_end = 0;
  govesb::Status read = evidence::ForEachSegmentEntry(
      path, [&](const evidence::SegmentEntry& e) -> govesb::Result<bool> {
        GOVESB_FUZZ_CHECK(e.first_seq >= 1 && e.last_seq >= e.first_seq);
        GOVESB_FUZZ_CHECK(e.end > last_end);
        last_end = e.end;
        const bool sound = evidence::EntryIsSound(e, chain ? &*chain : nullptr);
        if (sound && e.first_seq == next_seq) {
          next_seq = e.last_seq + 1;
        } else {
          chain.reset();
        }
        if (!e.records.empty() && e.records[0] == evidence::kCompactRowMarker) {
          if (auto records = evidence::DecodeCompactRow(e.records, e.request_id)) {
            int64_t seq = e.first_seq;
            for (const evidence::Record& r : *records) {
              std::string text = evidence::CanonicalRecord(seq++, r);
              GOVESB_FUZZ_CHECK(evidence::CanonicalMember(text, "requestId").has_value());
            }
          }
        }
        return true;
      });
  (void)read;

  govesb::Status live = evidence::ForEachLiveEntry(
      dir, 1, [](const evidence::SegmentEntry&) -> govesb::Result<bool> { return true; });
  (void)live;

  // The writer's recovery: it opens (cutting a torn end off) or refuses; opened, it reads the
  // same file back without a torn end.
  auto writer = evidence::SegmentWriter::Open(dir, evidence::SegmentWriter::Tip{}, 0);
  if (writer.ok()) {
    GOVESB_FUZZ_CHECK((*writer)->tip().seq >= 0);
    writer->reset();
    auto again = evidence::SegmentWriter::Open(dir, evidence::SegmentWriter::Tip{}, 0);
    GOVESB_FUZZ_CHECK(again.ok());
  }
  return 0;
}
