// `govesb audit`: checks the evidence log of a data directory.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "evidence/log.h"
#include "store/data_dir.h"
#include "store/database.h"

namespace govesb::apps {
namespace {

namespace json = boost::json;

struct AuditOptions {
  std::string data_dir = "./govesb-data";
  bool json = false;
};

[[noreturn]] void Fail(const Status& status) {
  std::cerr << "error: " << status.message() << "\n";
  throw CLI::RuntimeError(kExitFailure);
}

void RunVerify(const AuditOptions& options) {
  spdlog::set_default_logger(spdlog::stderr_color_st("govesb-audit"));
  auto dir = store::DataDir::Open({.path = options.data_dir});
  if (!dir.ok()) Fail(dir.status());
  auto db = dir->OpenDatabase();
  if (!db.ok()) Fail(db.status());
  auto version = store::SchemaVersion(**db, "evidence");
  if (!version.ok()) Fail(version.status());
  if (*version == 0) {
    Fail(FailedPrecondition("no evidence log in " + options.data_dir +
                            ": the bus has not run on this data directory yet"));
  }
  auto report = evidence::Verify(**db, dir->bus_key().public_key());
  if (!report.ok()) Fail(report.status());
  if (options.json) {
    json::object out;
    out["intact"] = report->intact;
    out["records"] = report->records;
    out["checkpoints"] = report->checkpoints;
    out["unsealed_records"] = report->unsealed;
    if (report->first_bad_seq.has_value()) {
      out["first_bad_record"] = *report->first_bad_seq;
    } else {
      out["first_bad_record"] = nullptr;
    }
    out["problem"] = report->problem;
    std::cout << json::serialize(out) << "\n";
  } else if (report->intact) {
    std::cout << "intact: " << report->records << " records checked, " << report->checkpoints
              << " signed checkpoints";
    if (report->unsealed > 0) {
      std::cout << " (" << report->unsealed
                << " newest records not sealed yet: the next checkpoint seals them)";
    }
    std::cout << "\n";
  } else {
    std::cout << "TAMPERED: " << report->problem << "\n";
  }
  if (!report->intact) throw CLI::RuntimeError(kExitFailure);
}

}  // namespace

void AddAuditCommand(CLI::App& app) {
  auto options = std::make_shared<AuditOptions>();
  CLI::App* audit = app.add_subcommand("audit", "Check the evidence log of a data directory");
  audit->require_subcommand(1);
  audit->add_option("--data-dir", options->data_dir, "The bus's data directory")
      ->envname("GOVESB_DATA_DIR")
      ->capture_default_str();
  audit->add_flag("--json", options->json, "Print one JSON object");
  audit->fallthrough();
  CLI::App* verify = audit->add_subcommand(
      "verify",
      "Check every record, chain link and signed checkpoint; report the first record that was "
      "changed, removed, inserted or reordered (exit 1), or that all is intact");
  verify->callback([options] { RunVerify(*options); });
}

}  // namespace govesb::apps
