// `govesb audit`: checks the evidence log of a data directory, or of a cluster (--postgres: every
// node's chain in PostgreSQL; the bus key from the cluster's secrets with --kek-file, or given
// with --bus-key).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "admin/service.h"
#include "cluster/membership.h"
#include "commands.h"
#include "crypto/primitives.h"
#include "evidence/archive.h"
#include "evidence/log.h"
#include "evidence/pg_store.h"
#include "evidence/proof.h"
#include "evidence/query.h"
#include "evidence/records.h"
#include "evidence/sqlite_store.h"
#include "evidence/subject_report.h"
#include "evidence/subject_report_document.h"
#include "evidence/subject_report_html.h"
#include "existing_data_dir.h"
#include "registry/registry.h"
#include "store/data_dir.h"
#include "store/database.h"

namespace govesb::apps {
namespace {

namespace json = boost::json;

struct AuditOptions {
  std::string data_dir = "./govesb-data";
  CLI::Option* data_dir_option = nullptr;
  std::string archive_dir;  // default: DATA_DIR/evidence-archive
  // A cluster's evidence: its PostgreSQL, and where its bus public key comes from (the cluster's
  // secrets opened with the key-encryption key file, or the key itself).
  std::string postgres;
  std::string kek_file;
  std::vector<std::string> bus_key;  // base64 SPKI, PEM, or @file (several after a rotation)
  bool json = false;
  bool on_cluster() const { return !postgres.empty(); }
  std::string Archives() const {
    return archive_dir.empty() ? evidence::DefaultArchiveDir(data_dir) : archive_dir;
  }
};

[[noreturn]] void Fail(const Status& status) {
  std::cerr << "error: " << status.message() << "\n";
  throw CLI::RuntimeError(kExitFailure);
}

std::unique_ptr<store::Database> OpenEvidence(const AuditOptions& options,
                                              std::optional<store::DataDir>& dir);

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ReadAll(const std::string& path);

// Bus public keys given on the command line: each a key (base64 SPKI or PEM) or @file, a file
// holding one PEM key or base64 keys one per line (blank lines and # comments skipped).
crypto::KeySet ParseKeyList(const std::vector<std::string>& given, const char* option) {
  std::vector<crypto::PublicKey> keys;
  auto add = [&](const std::string& text, const std::string& where) {
    auto key = crypto::PublicKey::FromText(text);
    if (!key.ok())
      Fail(InvalidArgument(std::string(option) + where + ": " + key.status().message()));
    keys.push_back(std::move(key).value());
  };
  for (const std::string& g : given) {
    if (!g.starts_with("@")) {
      add(g, "");
      continue;
    }
    const std::string text = ReadAll(g.substr(1));
    if (text.find("-----BEGIN") != std::string::npos) {
      add(text, " " + g);
      continue;
    }
    std::istringstream lines(text);
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      ++n;
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty() || line.front() == '#') continue;
      add(line, " " + g + " line " + std::to_string(n));
    }
  }
  if (keys.empty()) Fail(InvalidArgument(std::string(option) + ": no key given"));
  return crypto::KeySet(std::move(keys));
}

// ---- a cluster's evidence (--postgres) ----

// Exactly one of --data-dir and --postgres; the cluster's options only with --postgres; what
// --data-dir alone means (--archive-dir) not with it. Checked before anything is opened.
void CheckWhere(const AuditOptions& options) {
  if (options.on_cluster()) {
    if (options.data_dir_option != nullptr && options.data_dir_option->count() > 0) {
      Fail(InvalidArgument(
          "give either --data-dir (or GOVESB_DATA_DIR) or --postgres, not both: a bus keeps its "
          "evidence in a data directory, a cluster in PostgreSQL"));
    }
    if (!options.archive_dir.empty()) {
      Fail(
          InvalidArgument("--archive-dir goes with --data-dir: a cluster's evidence stays in "
                          "PostgreSQL"));
    }
    if (!options.kek_file.empty() && !options.bus_key.empty()) {
      Fail(InvalidArgument("give either --kek-file or --bus-key, not both"));
    }
  } else if (!options.kek_file.empty() || !options.bus_key.empty()) {
    Fail(InvalidArgument("--kek-file and --bus-key go with --postgres (a cluster's evidence)"));
  }
}

// The cluster's database, its evidence schema present (the connection string is never printed:
// it may hold a password).
std::unique_ptr<store::Database> OpenClusterDatabase(const AuditOptions& options) {
  spdlog::set_default_logger(spdlog::stderr_color_st("govesb-audit"));
  auto db = store::Database::OpenPostgres(options.postgres);
  if (!db.ok()) {
    Fail(Status(db.status().code(), "cannot connect to the cluster's PostgreSQL (--postgres): " +
                                        db.status().message()));
  }
  auto version = store::SchemaVersion(**db, "evidence");
  if (!version.ok()) Fail(version.status());
  if (*version == 0) {
    Fail(FailedPrecondition("no evidence log in the cluster's database " + (*db)->path() +
                            ": no node of the cluster has run on it yet"));
  }
  return std::move(db).value();
}

// The cluster's secrets, opened with the key-encryption key file (--kek-file).
cluster::ClusterSecrets LoadClusterSecrets(const AuditOptions& options, store::Database& db) {
  auto kek = cluster::LoadKeyEncryptionKey(options.kek_file, false);
  if (!kek.ok()) Fail(kek.status());
  auto version = store::SchemaVersion(db, "cluster");
  if (!version.ok()) Fail(version.status());
  if (*version == 0) {
    Fail(FailedPrecondition("the cluster has no secrets yet: run `govesb cluster init` first"));
  }
  auto secrets = cluster::LoadSecrets(db, *kek);
  if (secrets.status().code() == StatusCode::kBadSignature) {
    Fail(Status(StatusCode::kBadSignature,
                "the key-encryption key file " + options.kek_file +
                    " does not open the cluster's secrets (another cluster's file?)"));
  }
  if (!secrets.ok()) Fail(secrets.status());
  return std::move(secrets).value();
}

// The cluster's bus public key: given (--bus-key), or from its secrets (--kek-file).
crypto::KeySet ClusterBusKey(const AuditOptions& options, store::Database& db) {
  if (!options.bus_key.empty()) return ParseKeyList(options.bus_key, "--esb-public-key");
  if (options.kek_file.empty()) {
    Fail(
        InvalidArgument("which bus key signed the checkpoints? give the cluster's key-encryption "
                        "key file (--kek-file) or its bus public key (--bus-key)"));
  }
  // Every key of the cluster's ring: checkpoints name the one that signed them.
  return LoadClusterSecrets(options, db).key_ring.VerifyingKeys(NowMs());
}

// The cluster's evidence, for reading (every node's chain).
std::unique_ptr<evidence::PgEvidenceStore> OpenClusterEvidence(const AuditOptions& options) {
  auto store = evidence::PgEvidenceStore::OpenForReading(options.postgres);
  if (!store.ok()) Fail(store.status());
  return std::move(store).value();
}

json::object ReportJson(const evidence::VerifyReport& report) {
  json::object out;
  out["intact"] = report.intact;
  out["records"] = report.records;
  out["checkpoints"] = report.checkpoints;
  out["unsealed_records"] = report.unsealed;
  if (report.first_bad_seq.has_value()) {
    out["first_bad_record"] = *report.first_bad_seq;
  } else {
    out["first_bad_record"] = nullptr;
  }
  out["problem"] = report.problem;
  if (!report.node.empty()) out["node"] = report.node;  // a cluster's: the broken chain
  return out;
}

// Every node's chain, one line each, and the verdict over all (exit 1 unless all are intact).
void RunVerifyCluster(const AuditOptions& options) {
  auto db = OpenClusterDatabase(options);
  const crypto::KeySet keys = ClusterBusKey(options, *db);
  const crypto::PublicKey& key = keys.first();
  auto chains = evidence::VerifyEachChain(*db, keys);
  if (!chains.ok()) Fail(chains.status());
  const evidence::VerifyReport all = evidence::CombineChains(*chains);
  if (options.json) {
    json::object out = ReportJson(all);
    out["esb_public_key"] = key.SpkiBase64();
    out["bus_public_key"] = key.SpkiBase64();  // its older name
    json::array nodes;
    for (const evidence::NodeChainReport& chain : *chains) {
      json::object node = ReportJson(chain.report);
      node["node"] = chain.node;
      nodes.push_back(std::move(node));
    }
    out["nodes"] = std::move(nodes);
    std::cout << json::serialize(out) << "\n";
  } else {
    for (const evidence::NodeChainReport& chain : *chains) {
      const evidence::VerifyReport& r = chain.report;
      std::cout << "node " << chain.node << ": ";
      if (r.intact) {
        std::cout << "intact, " << r.records << " records, " << r.checkpoints
                  << " signed checkpoints";
        if (r.unsealed > 0) std::cout << " (" << r.unsealed << " newest not sealed yet)";
      } else {
        std::cout << "TAMPERED: " << r.problem;
      }
      std::cout << "\n";
    }
    if (all.intact) {
      std::cout << "intact: " << all.records << " records checked, " << all.checkpoints
                << " signed checkpoints, in " << chains->size() << " node chain(s)\n";
    } else {
      std::cout << "TAMPERED: " << all.problem << "\n";
    }
  }
  if (!all.intact) throw CLI::RuntimeError(kExitFailure);
}

// ---- a data directory's evidence ----

void RunVerify(const AuditOptions& options) {
  CheckWhere(options);
  if (options.on_cluster()) return RunVerifyCluster(options);
  std::optional<store::DataDir> dir;
  auto db = OpenEvidence(options, dir);
  // Every key of the ring: checkpoints name the one that signed them.
  auto report = evidence::Verify(*db, dir->key_ring().VerifyingKeys(NowMs()), options.Archives());
  if (!report.ok()) Fail(report.status());
  if (options.json) {
    std::cout << json::serialize(ReportJson(*report)) << "\n";
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
  auto opened = OpenExistingDataDir(options.data_dir, "govesb audit");
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
  // A log written by an older version is brought to the current layout (its records are
  // carried over unchanged).
  if (Status migrated = evidence::MigrateEvidenceStore(**db); !migrated.ok()) Fail(migrated);
  return std::move(*db);
}

struct BodyArgs {
  std::string request_id;
};

// The bodies kept for an exchange of an API with store_bodies: decrypted with the data
// directory's evidence key and checked against the SHA-256 its record carries.
void RunBody(const AuditOptions& options, const BodyArgs& args) {
  CheckWhere(options);
  evidence::QueryFilter filter;
  filter.request_id = args.request_id;
  std::string evidence_key;
  Result<std::vector<std::string>> records = std::vector<std::string>();
  if (options.on_cluster()) {
    if (options.kek_file.empty()) {
      Fail(
          InvalidArgument("the cluster's evidence body key is sealed: give its key-encryption "
                          "key file (--kek-file)"));
    }
    auto db = OpenClusterDatabase(options);
    evidence_key = LoadClusterSecrets(options, *db).evidence_key;
    records = OpenClusterEvidence(options)->Query(filter);
  } else {
    std::optional<store::DataDir> dir;
    auto db = OpenEvidence(options, dir);
    if (dir->evidence_key().empty()) {
      Fail(FailedPrecondition("the data directory " + options.data_dir +
                              " has no evidence body key: no bodies were ever stored"));
    }
    evidence_key = dir->evidence_key();
    records = evidence::QueryRecords(*db, filter, options.Archives());
  }
  if (!records.ok()) Fail(records.status());
  if (records->empty()) {
    Fail(NotFound("the evidence log has no record of exchange " + args.request_id));
  }
  json::array out;
  for (const std::string& record : *records) {
    std::optional<std::string> sealed = evidence::CanonicalMember(record, "bodyEncrypted");
    if (!sealed.has_value()) continue;
    const std::string kind = evidence::CanonicalMember(record, "kind").value_or("");
    auto body = evidence::OpenBody(evidence_key, args.request_id, kind, *sealed);
    if (!body.ok()) {
      Fail(Status(body.status().code(), "the " + kind + " body of exchange " + args.request_id +
                                            " does not decrypt: " + body.status().message()));
    }
    const std::string sha = evidence::HashHex(crypto::Sha256(*body));
    if (evidence::CanonicalMember(record, "bodySha256") != std::optional<std::string>(sha)) {
      Fail(FailedPrecondition("the " + kind + " body of exchange " + args.request_id +
                              " does not match the SHA-256 its record carries"));
    }
    json::object o;
    o["seq"] = evidence::CanonicalInt(record, "seq").value_or(0);
    o["kind"] = kind;
    o["from"] = evidence::CanonicalMember(record, "from").value_or("");
    o["bodySha256"] = sha;
    o["data"] = *body;
    out.push_back(std::move(o));
  }
  if (out.empty()) {
    Fail(NotFound("no body of exchange " + args.request_id +
                  " was stored (its API does not have store_bodies)"));
  }
  if (options.json) {
    std::cout << json::serialize(out) << "\n";
    return;
  }
  for (const json::value& v : out) {
    const json::object& o = v.as_object();
    std::cout << "# " << std::string_view(o.at("kind").as_string()) << " from "
              << std::string_view(o.at("from").as_string()) << " (record " << o.at("seq").as_int64()
              << ", SHA-256 matches the record)\n"
              << std::string_view(o.at("data").as_string()) << "\n";
  }
}

struct ArchiveArgs {
  double older_than_days = 30;
  int64_t max_records = 200'000;
};

void RunArchive(const AuditOptions& options, const ArchiveArgs& args) {
  if (args.older_than_days < 0 || args.max_records < 1) {
    Fail(InvalidArgument("--older-than must be >= 0 days and --max-records >= 1"));
  }
  CheckWhere(options);
  if (options.on_cluster()) {
    Fail(
        FailedPrecondition("a cluster's evidence is not archived to files: PostgreSQL keeps its "
                           "records (partitioning and retention are the operator's)"));
  }
  std::optional<store::DataDir> dir;
  auto db = OpenEvidence(options, dir);
  evidence::ArchiveOptions o;
  o.archive_dir = options.Archives();
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  o.cutoff_ms = now_ms - static_cast<int64_t>(args.older_than_days * 86'400'000.0);
  o.max_records_per_file = args.max_records;
  auto summary = evidence::ArchiveSealed(*db, o);
  if (!summary.ok()) Fail(summary.status());
  if (options.json) {
    json::object out;
    json::array files;
    for (const std::string& f : summary->files) files.emplace_back(f);
    out["archive_dir"] = o.archive_dir;
    out["files"] = std::move(files);
    out["records"] = summary->records;
    std::cout << json::serialize(out) << "\n";
    return;
  }
  if (summary->files.empty()) {
    std::cout << "nothing to archive: no signed checkpoint is older than " << args.older_than_days
              << " days\n";
    return;
  }
  std::cout << "archived " << summary->records << " records into " << summary->files.size()
            << " file(s) in " << o.archive_dir << ":\n";
  for (const std::string& f : summary->files) std::cout << "  " << f << "\n";
}

struct ProveArgs {
  std::string request_id;
  std::string out;
};

void RunProve(const AuditOptions& options, const ProveArgs& args) {
  CheckWhere(options);
  Result<std::string> proof = std::string();
  if (options.on_cluster()) {
    // The exchange's records, from whichever node handled it, sealed by that node's checkpoint.
    auto db = OpenClusterDatabase(options);
    const crypto::KeySet keys = ClusterBusKey(options, *db);
    proof = OpenClusterEvidence(options)->BuildProof(args.request_id, keys);
  } else {
    std::optional<store::DataDir> dir;
    auto db = OpenEvidence(options, dir);
    proof = evidence::BuildProof(*db, args.request_id, dir->key_ring().VerifyingKeys(NowMs()),
                                 options.Archives());
  }
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
  std::vector<std::string> esb_key;  // key texts or @files
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(InvalidArgument("cannot read " + path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void RunCheckProof(const AuditOptions& options, const CheckArgs& args) {
  std::optional<crypto::KeySet> key;
  if (!args.esb_key.empty()) key = ParseKeyList(args.esb_key, "--esb-public-key");
  auto report = evidence::CheckProof(ReadAll(args.file), key);
  if (options.json) {
    json::object out;
    out["valid"] = report.ok();
    if (report.ok()) {
      out["request_id"] = report->request_id;
      out["records"] = static_cast<int64_t>(report->records.size());
      out["esb_public_key"] = report->bus_public_key;
      out["bus_public_key"] = report->bus_public_key;  // its older name
      json::array keys;
      for (const std::string& k : report->bus_public_keys) keys.emplace_back(k);
      out["esb_public_keys"] = std::move(keys);
    } else {
      out["problem"] = report.status().message();
    }
    std::cout << json::serialize(out) << "\n";
  } else if (report.ok()) {
    std::cout << "valid: " << report->records.size() << " records of exchange "
              << report->request_id << ", sealed by " << report->checkpoints.size()
              << " checkpoint(s) signed by bus key " << report->bus_public_key;
    for (size_t i = 1; i < report->bus_public_keys.size(); ++i) {
      std::cout << " and " << report->bus_public_keys[i];
    }
    std::cout << "\n";
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

struct QueryArgs {
  std::string from, to, institution, system, code, outcome, user_id, request_id, kind;
  std::string format = "table";
  size_t limit = 100'000;
};

// Milliseconds since the epoch from "1795884281651", "2026-11-28" or "2026-11-28T14:00:00Z".
int64_t ParseTime(const std::string& text, const char* option) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    int64_t ms = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec == std::errc() && end == text.data() + text.size()) return ms;
  }
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) {
    tm = std::tm{};
    end = strptime(text.c_str(), "%Y-%m-%d", &tm);
  }
  if (end == nullptr || (*end != '\0' && std::string_view(end) != "Z")) {
    Fail(InvalidArgument(std::string(option) +
                         " takes a UTC time like 2026-11-28T14:00:00Z, a date like 2026-11-28, "
                         "or milliseconds since 1970"));
  }
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string IsoMillis(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[40];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buffer, static_cast<int>(ms % 1000));
  return out;
}

std::string Csv(const std::string& value) {
  if (value.find_first_of(",\"\n") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void RunQuery(const AuditOptions& options, const QueryArgs& args) {
  if (args.format != "table" && args.format != "jsonl" && args.format != "csv") {
    Fail(InvalidArgument("--format must be table, jsonl or csv"));
  }
  CheckWhere(options);
  std::optional<store::DataDir> dir;
  auto db = options.on_cluster() ? OpenClusterDatabase(options) : OpenEvidence(options, dir);
  evidence::QueryFilter filter;
  if (!args.from.empty()) filter.from_ms = ParseTime(args.from, "--from");
  if (!args.to.empty()) filter.to_ms = ParseTime(args.to, "--to");
  filter.code = args.code;
  filter.outcome = args.outcome;
  filter.user_id = args.user_id;
  filter.request_id = args.request_id;
  filter.kind = args.kind;
  filter.limit = args.limit;
  if (!args.system.empty()) filter.systems.push_back(args.system);
  if (!args.institution.empty()) {
    Status migrated = registry::Registry::Migrate(*db);
    if (!migrated.ok()) Fail(migrated);
    registry::Registry registry(*db);
    auto systems = registry.ListSystems();
    if (!systems.ok()) Fail(systems.status());
    bool known = false;
    for (const registry::System& system : *systems) {
      if (system.institution_code != args.institution) continue;
      known = true;
      filter.systems.push_back(system.client_id);
    }
    if (!known) Fail(NotFound("institution '" + args.institution + "' has no systems"));
  }
  auto found = options.on_cluster() ? OpenClusterEvidence(options)->Query(filter)
                                    : evidence::QueryRecords(*db, filter, options.Archives());
  if (!found.ok()) Fail(found.status());
  // Record members, in the order shown; signatureVariant (which form of the signed text the
  // signature matched) is shown as "variant", "-" for records without one.
  const std::vector<std::string> columns = {
      "seq",     "at",    "requestId",       "kind", "from", "to", "code", "userId",
      "outcome", "error", "signatureVariant"};
  const std::vector<std::string> header = [&] {
    std::vector<std::string> names = columns;
    names.back() = "variant";
    return names;
  }();
  if (args.format == "jsonl") {
    for (const std::string& record : *found) std::cout << record << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const std::string& record : *found) {
    std::vector<std::string> row;
    for (const std::string& c : columns) {
      std::string v;
      if (c == "at") {
        v = IsoMillis(evidence::CanonicalInt(record, c).value_or(0));
      } else if (c == "seq") {
        v = std::to_string(evidence::CanonicalInt(record, c).value_or(0));
      } else {
        v = evidence::CanonicalMember(record, c).value_or("");
      }
      row.push_back(v);
    }
    rows.push_back(std::move(row));
  }
  if (args.format == "csv") {
    for (size_t i = 0; i < header.size(); ++i) std::cout << (i ? "," : "") << header[i];
    std::cout << "\n";
    for (const auto& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) std::cout << (i ? "," : "") << Csv(row[i]);
      std::cout << "\n";
    }
    return;
  }
  std::vector<size_t> widths;
  for (const std::string& c : header) widths.push_back(c.size());
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t i = 0; i < cells.size(); ++i) {
      text += cells[i].empty() ? "-" : cells[i];
      if (i + 1 < cells.size()) {
        text += std::string(widths[i] + 2 - (cells[i].empty() ? 1 : cells[i].size()), ' ');
      }
    }
    std::cout << text << "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
}

// ---- a person's access report ----

struct SubjectArgs {
  std::string user_id;
  std::string from, to;
  std::string format = "json";
  std::string out;  // "" or "-": standard output
};

// Writes `text` to `path` whole or not at all (a temporary file beside it, renamed into place).
void WriteWhole(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp-" + std::to_string(getpid());
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    file << text;
    file.flush();
    if (!file.good()) {
      std::remove(temporary.c_str());
      Fail(Unavailable("cannot write " + path));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    Fail(Unavailable("cannot write " + path));
  }
}

// The report is made by the admin service layer (as for the admin API and the portal), signed
// with the bus key of the data directory (or the cluster's, from its secrets).
void RunSubject(const AuditOptions& options, const SubjectArgs& args) {
  if (args.format != "json" && args.format != "html") {
    Fail(InvalidArgument("--format must be json or html"));
  }
  evidence::SubjectQuery query{.user_id = args.user_id};
  if (!args.from.empty()) query.from_ms = ParseTime(args.from, "--from");
  if (!args.to.empty()) query.to_ms = ParseTime(args.to, "--to");
  if (Status s = evidence::CheckSubjectQuery(query); !s.ok()) Fail(s);
  CheckWhere(options);
  std::optional<store::DataDir> dir;
  std::unique_ptr<store::Database> db;
  std::optional<crypto::LocalSigner> signer;
  admin::ServiceOptions service_options;
  if (options.on_cluster()) {
    if (options.kek_file.empty()) {
      Fail(InvalidArgument(
          "the report is signed with the cluster's bus key: give its key-encryption key file "
          "(--kek-file)"));
    }
    db = OpenClusterDatabase(options);
    signer.emplace(LoadClusterSecrets(options, *db).bus_key);
    service_options.postgres_conninfo = options.postgres;
  } else {
    db = OpenEvidence(options, dir);
    signer.emplace(dir->bus_key());
    service_options.evidence_archive_dir = options.Archives();
  }
  service_options.signer = &*signer;
  admin::AdminService service(*db, std::move(service_options));
  auto document = service.MakeSubjectReport(admin::Actor::LocalOperator(), query);
  if (!document.ok()) Fail(document.status());
  auto read = evidence::ReadSubjectReportDocument(*document);
  if (!read.ok()) Fail(read.status());
  const std::string text =
      args.format == "html" ? evidence::RenderSubjectReportHtml(*read) : *document + "\n";
  const bool to_file = !args.out.empty() && args.out != "-";
  if (to_file) {
    WriteWhole(args.out, text);
  } else {
    std::cout << text << std::flush;
  }
  std::cerr << "access report for " << args.user_id << ": " << read->report.exchanges.size()
            << " exchange(s), signed by bus key " << read->key_id;
  if (to_file) std::cerr << ", written to " << args.out;
  std::cerr << "\n";
}

struct CheckReportArgs {
  std::string file;
  std::vector<std::string> esb_keys;  // key text or @file each
};

// The bus's public keys a data directory holds: every key of its ring (the one it signs with,
// and those it signed with before a rotation: docs/key-rotation.md).
std::vector<crypto::PublicKey> BusKeysOf(const store::DataDir& dir) {
  return dir.key_ring().VerifyingKeys(NowMs()).keys();
}

// The keys a report is checked against, and why they are trusted: given explicitly, or the bus
// key(s) of the data directory or of the cluster. Exactly one of these.
struct Trust {
  std::vector<crypto::PublicKey> keys;
  std::string why;
};

Trust TrustedKeys(const AuditOptions& options, const CheckReportArgs& args,
                  std::optional<store::DataDir>& dir) {
  std::vector<std::string> texts = args.esb_keys;
  texts.insert(texts.end(), options.bus_key.begin(), options.bus_key.end());
  const bool data_dir = options.data_dir_option != nullptr && options.data_dir_option->count() > 0;
  const int sources = (texts.empty() ? 0 : 1) + (data_dir ? 1 : 0) + (options.on_cluster() ? 1 : 0);
  if (sources != 1) {
    Fail(InvalidArgument(
        "say which bus key you trust: give it (--esb-public-key KEY, base64 SPKI, PEM or @file; "
        "repeat it for several), or the bus's data directory (--data-dir DIR), or the cluster "
        "(--postgres with --kek-file); exactly one of these"));
  }
  Trust trust;
  if (!texts.empty()) {
    // Each a key or @file (one PEM key, or base64 keys one per line: a key history).
    trust.keys = ParseKeyList(texts, "--esb-public-key").keys();
    trust.why = "given with --esb-public-key";
  } else if (data_dir) {
    auto opened = OpenExistingDataDir(options.data_dir, "govesb audit check-report");
    if (!opened.ok()) Fail(opened.status());
    dir.emplace(std::move(*opened));
    trust.keys = BusKeysOf(*dir);
    trust.why = "the bus key of the data directory " + options.data_dir;
  } else {
    if (options.kek_file.empty()) {
      Fail(
          InvalidArgument("with --postgres, give the cluster's key-encryption key file "
                          "(--kek-file): its bus key is the one trusted"));
    }
    auto db = OpenClusterDatabase(options);
    trust.keys = LoadClusterSecrets(options, *db).key_ring.VerifyingKeys(NowMs()).keys();
    trust.why = "the bus key of the cluster's secrets";
  }
  return trust;
}

// Ties the report's rows to the evidence log of the data directory or cluster, when there is
// one: how many records were checked, nullopt when there is no log to check against;
// kFailedPrecondition when a row's record is not in the log as the report says.
Result<std::optional<size_t>> MatchToLog(const AuditOptions& options,
                                         std::optional<store::DataDir>& dir,
                                         const evidence::SubjectReport& report) {
  if (options.on_cluster()) {
    GOVESB_ASSIGN_OR_RETURN(
        size_t n, evidence::MatchSubjectReportToLog(*OpenClusterEvidence(options), report));
    return std::optional<size_t>(n);
  }
  if (!dir.has_value()) return std::optional<size_t>();
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db, dir->OpenDatabase());
  GOVESB_ASSIGN_OR_RETURN(int64_t version, store::SchemaVersion(*db, "evidence"));
  if (version == 0) return std::optional<size_t>();
  GOVESB_RETURN_IF_ERROR(evidence::MigrateEvidenceStore(*db));
  auto store =
      evidence::SqliteEvidenceStore::OverConnection(*db, {.archive_dir = options.Archives()});
  GOVESB_ASSIGN_OR_RETURN(size_t n, evidence::MatchSubjectReportToLog(*store, report));
  return std::optional<size_t>(n);
}

std::string Named(const evidence::ReportParty& p) {
  std::string out = p.institution_code.empty() ? "(unknown)" : p.institution_code;
  out += " / " + (p.system.empty() ? p.client_id : p.system);
  return out;
}

void PrintRows(const evidence::SubjectReport& report) {
  for (const evidence::SubjectExchange& x : report.exchanges) {
    std::cout << "  " << IsoMillis(x.at_ms) << "  " << Named(x.consumer) << "  " << x.api_code
              << "  purpose " << x.purpose.value_or("-") << "  to "
              << (x.provider ? Named(*x.provider) : std::string("(not passed on)")) << "  "
              << (x.answered ? "answered" : "not answered (" + x.outcome + ")") << "\n";
  }
}

void RunCheckReport(const AuditOptions& options, const CheckReportArgs& args) {
  std::optional<store::DataDir> dir;
  const Trust trust = TrustedKeys(options, args, dir);
  auto checked = evidence::CheckSubjectReport(ReadAll(args.file), trust.keys);
  Status problem = checked.status();
  std::optional<size_t> log_records;
  if (checked.ok()) {
    auto matched = MatchToLog(options, dir, checked->report);
    if (matched.status().code() == StatusCode::kFailedPrecondition) {
      problem = FailedPrecondition("the report does not match the evidence log: " +
                                   matched.status().message());
    } else if (!matched.ok()) {
      Fail(matched.status());
    } else {
      log_records = *matched;
    }
  }
  if (options.json) {
    json::object out;
    out["valid"] = problem.ok();
    json::array ids;
    for (const crypto::PublicKey& k : trust.keys) ids.emplace_back(evidence::SubjectReportKeyId(k));
    out["trusted_keys"] = std::move(ids);
    out["trusted_because"] = trust.why;
    if (checked.ok()) {
      out["form"] = checked->html ? "html" : "json";
      out["user_id"] = checked->report.user_id;
      out["exchanges"] = static_cast<int64_t>(checked->report.exchanges.size());
      out["key_id"] = checked->key_id;
      if (log_records) {
        out["log_records_matched"] = static_cast<int64_t>(*log_records);
      } else {
        out["log_records_matched"] = nullptr;
      }
    }
    if (!problem.ok()) out["problem"] = problem.message();
    std::cout << json::serialize(out) << "\n";
  } else if (problem.ok()) {
    const evidence::SubjectReport& r = checked->report;
    std::cout << "valid: the access report for " << r.user_id << " (" << r.exchanges.size()
              << " exchange(s), made " << IsoMillis(r.generated_at_ms)
              << (checked->html ? ", an HTML page" : "") << ") is as the bus signed it\n"
              << "trusted key: " << checked->key_id << ", " << trust.why << "\n";
    if (log_records) {
      std::cout << "evidence log: the " << *log_records
                << " records its rows name are in the log, with the same hashes\n";
    } else {
      std::cout << "evidence log: not checked (give --data-dir of the bus that made it to tie its "
                   "rows to the log)\n";
    }
    PrintRows(r);
  } else {
    std::cout << "INVALID: " << problem.message() << "\n";
    std::cout << "trusted key(s): ";
    for (size_t i = 0; i < trust.keys.size(); ++i) {
      std::cout << (i ? ", " : "") << evidence::SubjectReportKeyId(trust.keys[i]);
    }
    std::cout << ", " << trust.why << "\n";
  }
  if (!problem.ok()) throw CLI::RuntimeError(kExitFailure);
}

}  // namespace

void AddAuditCommand(CLI::App& app) {
  auto options = std::make_shared<AuditOptions>();
  CLI::App* audit = app.add_subcommand(
      "audit", "Check the evidence log of a data directory or of a cluster's PostgreSQL");
  audit->require_subcommand(1);
  options->data_dir_option =
      audit->add_option("--data-dir", options->data_dir, "The bus's data directory")
          ->envname("GOVESB_DATA_DIR")
          ->capture_default_str();
  audit->add_option("--postgres", options->postgres,
                    "Instead of --data-dir: the cluster's PostgreSQL (libpq conninfo or "
                    "postgresql:// URL); every node's chain");
  audit->add_option("--kek-file", options->kek_file,
                    "With --postgres: the cluster's key-encryption key file (the bus key and the "
                    "evidence body key come from the cluster's secrets)");
  audit->add_option("--esb-public-key,--bus-key", options->bus_key,
                    "With --postgres, instead of --kek-file: the cluster's bus public key (base64 "
                    "SPKI, PEM, or @file with one key per line) for verify and prove; repeat it "
                    "for the keys it had before a rotation");
  audit
      ->add_option("--archive-dir", options->archive_dir,
                   "Where archived evidence files are (default: DATA_DIR/evidence-archive)")
      ->envname("GOVESB_ARCHIVE_DIR");
  audit->add_flag("--json", options->json, "Print one JSON object");
  audit->fallthrough();
  CLI::App* verify = audit->add_subcommand(
      "verify",
      "Check every record, chain link and signed checkpoint; report the first record that was "
      "changed, removed, inserted or reordered (exit 1), or that all is intact");
  verify->callback([options] { RunVerify(*options); });

  auto body_args = std::make_shared<BodyArgs>();
  CLI::App* body = audit->add_subcommand(
      "body",
      "Print the bodies kept for one exchange of an API with store_bodies (decrypted with the "
      "bus's evidence key, checked against the SHA-256 in their records)");
  body->add_option("request_id", body_args->request_id, "The exchange's requestId")->required();
  body->callback([options, body_args] { RunBody(*options, *body_args); });

  auto archive_args = std::make_shared<ArchiveArgs>();
  CLI::App* archive = audit->add_subcommand(
      "archive",
      "Move records sealed by checkpoints older than --older-than days out of the database into "
      "compressed archive files (the chain continues across them; verify, prove and query read "
      "them from --archive-dir)");
  archive->add_option("--older-than", archive_args->older_than_days, "Age in days")
      ->capture_default_str();
  archive->add_option("--max-records", archive_args->max_records, "Records per file at most")
      ->capture_default_str();
  archive->callback([options, archive_args] { RunArchive(*options, *archive_args); });

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
  check->add_option("--esb-public-key,--esb-key", check_args->esb_key,
                    "A bus public key you trust (base64 SPKI, PEM, or @file with one key per "
                    "line, e.g. the keys `govesb admin esb-key --all` lists); repeat it for the "
                    "keys the bus had before a rotation; default: the keys inside the proof");
  check->callback([options, check_args] { RunCheckProof(*options, *check_args); });

  auto query_args = std::make_shared<QueryArgs>();
  CLI::App* query = audit->add_subcommand(
      "query", "Records by time, institution, system, apiCode/pushCode, outcome or userId");
  query->add_option("--from", query_args->from, "From this UTC time (inclusive)");
  query->add_option("--to", query_args->to, "Until this UTC time (exclusive)");
  query->add_option("--institution", query_args->institution,
                    "Sent or received by a system of this institution (code)");
  query->add_option("--system", query_args->system, "Sent or received by this client_id");
  query->add_option("--code,--api,--push", query_args->code, "This apiCode or pushCode");
  query->add_option("--outcome", query_args->outcome, "ok, or a failure such as NOT_FOUND");
  query->add_option("--user-id", query_args->user_id,
                    "Identity requests about this person (who accessed data about them)");
  query->add_option("--request-id", query_args->request_id, "One exchange");
  query->add_option("--kind", query_args->kind, "request, response, push, receipt ...");
  query->add_option("--format", query_args->format, "table, jsonl or csv")->capture_default_str();
  query->add_option("--limit", query_args->limit, "At most this many, oldest first")
      ->capture_default_str();
  query->callback([options, query_args] { RunQuery(*options, *query_args); });

  auto subject_args = std::make_shared<SubjectArgs>();
  CLI::App* subject = audit->add_subcommand(
      "subject",
      "A person's access report: every exchange that carried their identifier (userId), who "
      "asked, for which API and purpose, who answered and whether it was answered, signed by "
      "the bus key (never bodies)");
  subject->add_option("user_id", subject_args->user_id, "The person's identifier (userId)")
      ->required();
  subject->add_option("--from", subject_args->from, "Exchanges from this UTC time (inclusive)");
  subject->add_option("--to", subject_args->to, "Until this UTC time (exclusive)");
  subject
      ->add_option("--format", subject_args->format,
                   "json (the signed report) or html (a page "
                   "for the person, with the signed report inside)")
      ->capture_default_str();
  subject->add_option("--out", subject_args->out, "File to write (default: standard output)");
  subject->callback([options, subject_args] { RunSubject(*options, *subject_args); });

  auto check_report_args = std::make_shared<CheckReportArgs>();
  CLI::App* check_report = audit->add_subcommand(
      "check-report",
      "Verify an access report (JSON or HTML) from `audit subject`: its signature by a bus key "
      "you trust, and with --data-dir its rows against the evidence log (exit 1 when it fails)");
  check_report->add_option("file", check_report_args->file, "The report file")->required();
  check_report->add_option("--esb-public-key,--esb-key", check_report_args->esb_keys,
                           "A bus public key you trust (base64 SPKI, PEM, or @file); repeat it "
                           "for several. Or give the bus's --data-dir instead");
  check_report->callback(
      [options, check_report_args] { RunCheckReport(*options, *check_report_args); });
}

}  // namespace govesb::apps
