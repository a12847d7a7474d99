// `govesb audit`: checks the evidence log of a data directory.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "commands.h"
#include "evidence/log.h"
#include "evidence/proof.h"
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

std::unique_ptr<store::Database> OpenEvidence(const AuditOptions& options,
                                              std::optional<store::DataDir>& dir);

void RunVerify(const AuditOptions& options) {
  std::optional<store::DataDir> dir;
  auto db = OpenEvidence(options, dir);
  auto report = evidence::Verify(*db, dir->bus_key().public_key());
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

std::unique_ptr<store::Database> OpenEvidence(const AuditOptions& options,
                                              std::optional<store::DataDir>& dir) {
  spdlog::set_default_logger(spdlog::stderr_color_st("govesb-audit"));
  auto opened = store::DataDir::Open({.path = options.data_dir});
  if (!opened.ok()) Fail(opened.status());
  dir.emplace(std::move(*opened));
  auto db = dir->OpenDatabase();
  if (!db.ok()) Fail(db.status());
  auto version = store::SchemaVersion(**db, "evidence");
  if (!version.ok()) Fail(version.status());
  if (*version == 0) {
    Fail(FailedPrecondition("no evidence log in " + options.data_dir +
                            ": the bus has not run on this data directory yet"));
  }
  return std::move(*db);
}

struct ProveArgs {
  std::string request_id;
  std::string out;
};

void RunProve(const AuditOptions& options, const ProveArgs& args) {
  std::optional<store::DataDir> dir;
  auto db = OpenEvidence(options, dir);
  auto proof = evidence::BuildProof(*db, args.request_id, dir->bus_key().public_key());
  if (!proof.ok()) Fail(proof.status());
  if (args.out.empty() || args.out == "-") {
    std::cout << *proof << "\n";
    return;
  }
  std::ofstream file(args.out, std::ios::binary | std::ios::trunc);
  file << *proof << "\n";
  if (!file.good()) Fail(Unavailable("cannot write " + args.out));
  std::cerr << "proof of exchange " << args.request_id << " written to " << args.out << "\n";
}

struct CheckArgs {
  std::string file;
  std::string esb_key;  // key text or @file
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(InvalidArgument("cannot read " + path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void RunCheckProof(const AuditOptions& options, const CheckArgs& args) {
  std::optional<crypto::PublicKey> key;
  if (!args.esb_key.empty()) {
    std::string text =
        args.esb_key.starts_with("@") ? ReadAll(args.esb_key.substr(1)) : args.esb_key;
    auto parsed = crypto::PublicKey::FromText(text);
    if (!parsed.ok()) Fail(InvalidArgument("--esb-key: " + parsed.status().message()));
    key = std::move(*parsed);
  }
  auto report = evidence::CheckProof(ReadAll(args.file), key);
  if (options.json) {
    json::object out;
    out["valid"] = report.ok();
    if (report.ok()) {
      out["request_id"] = report->request_id;
      out["records"] = static_cast<int64_t>(report->records.size());
      out["bus_public_key"] = report->bus_public_key;
    } else {
      out["problem"] = report.status().message();
    }
    std::cout << json::serialize(out) << "\n";
  } else if (report.ok()) {
    std::cout << "valid: " << report->records.size() << " records of exchange "
              << report->request_id << ", sealed by " << report->checkpoints.size()
              << " checkpoint(s) signed by bus key " << report->bus_public_key << "\n";
    if (!key.has_value()) {
      std::cout << "note: checked with the key inside the proof; compare it with the bus key "
                   "you trust, or pass --esb-key\n";
    }
    for (const std::string& record : report->records) std::cout << record << "\n";
  } else {
    std::cout << "INVALID: " << report.status().message() << "\n";
  }
  if (!report.ok()) throw CLI::RuntimeError(kExitFailure);
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

  auto prove_args = std::make_shared<ProveArgs>();
  CLI::App* prove = audit->add_subcommand(
      "prove",
      "Write a self-contained proof of one exchange (its records, Merkle paths, the signed "
      "checkpoints, the bus public key), checkable without the database");
  prove->add_option("request_id", prove_args->request_id, "The exchange's requestId")->required();
  prove->add_option("--out", prove_args->out, "File to write (default: standard output)");
  prove->callback([options, prove_args] { RunProve(*options, *prove_args); });

  auto check_args = std::make_shared<CheckArgs>();
  CLI::App* check = audit->add_subcommand(
      "check-proof", "Verify a proof written by `audit prove`, offline (exit 1 when it fails)");
  check->add_option("file", check_args->file, "The proof file")->required();
  check->add_option("--esb-key", check_args->esb_key,
                    "The bus public key you trust (base64 SPKI, PEM, or @file); default: the "
                    "one inside the proof");
  check->callback([options, check_args] { RunCheckProof(*options, *check_args); });
}

}  // namespace govesb::apps
