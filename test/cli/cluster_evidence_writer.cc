// govesb_test_cluster_evidence CONNINFO KEK_FILE NODE_ID REQUEST_ID...: appends the records of
// one exchange per REQUEST_ID (request and response; REQUEST_ID/USER_ID for an identity request
// about USER_ID) to node NODE_ID's evidence chain in a
// cluster's PostgreSQL and seals them, as a node does (the cluster's bus key from its secrets,
// the group-commit writer with PgEvidenceStore as its participant). For the CLI test of
// `govesb audit --postgres` (cluster_admin_test.sh), until a test can start real nodes for it.
// Prints the number of records appended; exit 1 with the reason otherwise.

#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "cluster/membership.h"
#include "crypto/keys.h"
#include "evidence/log.h"
#include "evidence/pg_store.h"
#include "evidence/record.h"
#include "evidence/store.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb {
namespace {

int Failed(const std::string& what, const Status& status) {
  std::fprintf(stderr, "error: %s: %s\n", what.c_str(), status.message().c_str());
  return 1;
}

evidence::Record Step(int64_t at_ms, const std::string& request_id, const std::string& kind,
                      const std::string& from, const std::string& to) {
  evidence::Record r;
  r.at_ms = at_ms;
  r.request_id = request_id;
  r.kind = kind;
  r.from = from;
  r.to = to;
  r.code = "BRTH01";
  r.outcome = "ok";
  r.latency_us = 17;
  r.size = 321;
  evidence::AttachSigned(r, "data of " + request_id, "sig-" + request_id);
  return r;
}

int Run(const std::string& conninfo, const std::string& kek_file, const std::string& node,
        const std::vector<std::string>& request_ids) {
  auto kek = cluster::LoadKeyEncryptionKey(kek_file, false);
  if (!kek.ok()) return Failed("the key file", kek.status());
  auto db = store::Database::OpenPostgres(conninfo);
  if (!db.ok()) return Failed("PostgreSQL", db.status());
  auto secrets = cluster::LoadSecrets(**db, *kek);
  if (!secrets.ok()) return Failed("the cluster's secrets", secrets.status());
  if (Status s = evidence::MigrateEvidenceStore(**db); !s.ok()) return Failed("migrate", s);
  crypto::LocalSigner signer(std::move(secrets->bus_key));
  auto connection = store::Database::OpenPostgres(conninfo);
  if (!connection.ok()) return Failed("PostgreSQL", connection.status());
  auto writer = store::GroupCommitWriter::Start(std::move(connection).value());
  if (!writer.ok()) return Failed("the writer", writer.status());
  int appended = 0;
  Status outcome;
  {
    auto store = evidence::PgEvidenceStore::Open(conninfo, **writer, signer,
                                                 {.node_id = node, .postgres = {}});
    if (!store.ok()) return Failed("the evidence store", store.status());
    const int64_t now = SystemClock().NowMillis();
    for (const std::string& arg : request_ids) {
      // "ID/USER": an identity request about USER.
      const size_t slash = arg.find('/');
      const std::string id = arg.substr(0, slash);
      std::vector<evidence::Record> records = {Step(now, id, "request", "consumer", "esb"),
                                               Step(now, id, "response", "esb", "consumer")};
      if (slash != std::string::npos) {
        records[0].kind = "nida-request";
        for (evidence::Record& r : records) r.user_id = arg.substr(slash + 1);
      }
      std::promise<Status> done;
      (*store)->Append(evidence::Prepare(records), [&](Status s) { done.set_value(s); });
      outcome = done.get_future().get();
      if (!outcome.ok()) break;
      appended += 2;
    }
    if (outcome.ok()) outcome = (*store)->SealAll(now);
  }
  (*writer)->Stop();
  if (!outcome.ok()) return Failed("append and seal", outcome);
  std::printf("%d\n", appended);
  return 0;
}

}  // namespace
}  // namespace govesb

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(
        stderr,
        "usage: govesb_test_cluster_evidence CONNINFO KEK_FILE NODE_ID REQUEST_ID[/USER_ID]...\n");
    return 2;
  }
  return govesb::Run(argv[1], argv[2], argv[3], std::vector<std::string>(argv + 4, argv + argc));
}
