// `govesb backup` and `govesb restore`: a consistent copy of a data directory while the bus runs
// on it, and its restore into a new directory (docs/backup.md; the work is in src/backup).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "backup/backup.h"
#include "commands.h"

namespace govesb::apps {
namespace {

namespace json = boost::json;

struct BackupArgs {
  backup::BackupOptions options;
  bool gzip = false;
  bool no_gzip = false;
  bool json = false;
};

struct RestoreArgs {
  backup::RestoreOptions options;
  bool json = false;
};

[[noreturn]] void Fail(const Status& status) {
  std::cerr << "error: " << status.message() << "\n";
  throw CLI::RuntimeError(kExitFailure);
}

json::object Summary(const backup::Manifest& m, uint64_t bytes) {
  json::object out;
  out["govesb_version"] = m.govesb_version;
  out["data_dir_format"] = m.data_dir_format;
  out["created_at"] = m.created_at;
  out["source"] = m.source;
  out["files"] = m.files.size();
  out["bytes"] = bytes;
  out["evidence_through"] = m.evidence_live_through;
  out["evidence_archived_through"] = m.evidence_archived_through;
  return out;
}

void RunBackup(BackupArgs& args) {
  spdlog::set_default_logger(spdlog::stderr_color_st("govesb-backup"));
  if (args.gzip && args.no_gzip) Fail(InvalidArgument("give --gzip or --no-gzip, not both"));
  if (args.gzip) args.options.gzip = true;
  if (args.no_gzip) args.options.gzip = false;
  auto made = backup::MakeBackup(args.options);
  if (!made.ok()) Fail(made.status());
  const backup::Manifest& m = made->manifest;
  if (args.json) {
    json::object out = Summary(m, made->bytes);
    out["file"] = args.options.out;
    json::array skipped;
    for (const std::string& s : made->skipped) skipped.push_back(json::string(s));
    out["skipped"] = std::move(skipped);
    std::cout << json::serialize(out) << "\n";
    return;
  }
  for (const std::string& s : made->skipped) std::cerr << "warning: not copied: " << s << "\n";
  std::cout << "backup written to " << args.options.out << " (" << made->bytes << " bytes, "
            << m.files.size() << " files)\n"
            << "  data directory " << m.source << ", format " << m.data_dir_format << "\n"
            << "  evidence records up to " << m.evidence_live_through
            << " (what the database had committed when it was copied";
  if (m.evidence_archived_through > 0) {
    std::cout << "; up to " << m.evidence_archived_through << " in archive files";
  }
  std::cout << ")\n"
            << "  it holds the bus's private keys: keep it as safe as the data directory\n";
}

void RunRestore(RestoreArgs& args) {
  spdlog::set_default_logger(spdlog::stderr_color_st("govesb-restore"));
  auto restored = backup::RestoreBackup(args.options);
  if (!restored.ok()) Fail(restored.status());
  const backup::Manifest& m = restored->manifest;
  if (args.json) {
    json::object out = Summary(m, restored->bytes);
    out["checked_only"] = args.options.check_only;
    if (!args.options.check_only) out["data_dir"] = args.options.data_dir;
    std::cout << json::serialize(out) << "\n";
    return;
  }
  if (args.options.check_only) {
    std::cout << "the backup " << args.options.in << " is whole: " << m.files.size()
              << " files match its manifest (made " << m.created_at << " by govesb "
              << m.govesb_version << " from " << m.source << ")\n";
    return;
  }
  std::cout << "restored " << m.files.size() << " files into " << args.options.data_dir
            << " (backup made " << m.created_at << " from " << m.source << ")\n"
            << "next: govesb audit verify --data-dir " << args.options.data_dir
            << ", then govesb serve --data-dir " << args.options.data_dir << "\n";
}

}  // namespace

void AddBackupCommands(CLI::App& app) {
  auto backup_args = std::make_shared<BackupArgs>();
  CLI::App* backup = app.add_subcommand(
      "backup",
      "Copy a data directory into one file while the bus runs on it: the database as of one "
      "commit, the evidence log up to that commit, the keys (docs/backup.md)");
  if (const char* env = std::getenv("GOVESB_DATA_DIR")) backup_args->options.data_dir = env;
  auto* data_dir = backup->add_option("--data-dir", backup_args->options.data_dir,
                                      "The bus's data directory (or GOVESB_DATA_DIR)");
  if (backup_args->options.data_dir.empty()) data_dir->required();
  backup
      ->add_option("--out", backup_args->options.out,
                   "The backup file to write (must not exist; .tar.gz or .tgz: compressed)")
      ->required();
  backup->add_option("--archive-dir", backup_args->options.archive_dir,
                     "Where the bus writes evidence archives, if not DATA_DIR/evidence-archive "
                     "(serve --archive-dir)");
  backup->add_flag("--gzip", backup_args->gzip, "Compress, whatever the file's name");
  backup->add_flag("--no-gzip", backup_args->no_gzip, "Do not compress");
  backup->add_flag("--json", backup_args->json, "Print one JSON object");
  backup->callback([backup_args] { RunBackup(*backup_args); });

  auto restore_args = std::make_shared<RestoreArgs>();
  CLI::App* restore = app.add_subcommand(
      "restore",
      "Restore a backup into a new (or empty) data directory, after checking all of it: a "
      "damaged or truncated backup writes nothing");
  restore->add_option("--in", restore_args->options.in, "The backup file")->required();
  restore->add_option("--data-dir", restore_args->options.data_dir,
                      "The data directory to create (must not exist, or be empty)");
  restore->add_flag("--check", restore_args->options.check_only,
                    "Only check the backup (every file against its manifest); write nothing");
  restore->add_flag("--json", restore_args->json, "Print one JSON object");
  restore->callback([restore_args] {
    if (!restore_args->options.check_only && restore_args->options.data_dir.empty()) {
      Fail(InvalidArgument("give the new data directory (--data-dir), or --check"));
    }
    RunRestore(*restore_args);
  });
}

}  // namespace govesb::apps
