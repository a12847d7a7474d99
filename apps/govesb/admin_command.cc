// `govesb admin`: registry administration (institutions, systems, APIs, grants, push topics,
// subscriptions), the accounts of the admin API and portal (users), and the bus's keys
// (esb_key_command.cc). Every
// leaf prints one JSON value with --json (an object, or an array for lists) and a readable form
// otherwise. Failures print "error: <message>" on stderr and exit 1.
//
// Where the state is: a data directory (--data-dir, the embedded bus), or a cluster's PostgreSQL
// (--postgres, with --kek-file for what needs the cluster's secrets: `esb-key`). Exactly one.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "accounts/accounts.h"
#include "accounts/render.h"
#include "admin/compliance.h"
#include "admin/compliance_render.h"
#include "admin/journal.h"
#include "admin/service.h"
#include "admin_render.h"
#include "cluster/membership.h"
#include "commands.h"
#include "crypto/keys.h"
#include "delivery/sqlite_queue.h"
#include "esb_key_command.h"
#include "evidence/log.h"
#include "existing_data_dir.h"
#include "registry/registry.h"
#include "registry/validation.h"
#include "schema/schema.h"
#include "store/data_dir.h"
#include "store/database.h"

namespace govesb::apps {
namespace {

namespace json = boost::json;

// Options of `admin` itself, accepted before or after the leaf subcommand.
struct AdminOptions {
  std::string data_dir = "./govesb-data";
  CLI::Option* data_dir_option = nullptr;  // given on the command line or in GOVESB_DATA_DIR
  std::string postgres;                    // the cluster's PostgreSQL ("": the data directory)
  std::string kek_file;                    // the cluster's key-encryption key file
  bool json = false;

  bool on_cluster() const { return !postgres.empty(); }
};

// ---- failure ----

[[noreturn]] void Fail(const Status& status) {
  std::cerr << "error: " << status.message() << "\n";
  throw CLI::RuntimeError(kExitFailure);
}

void Check(const Status& status) {
  if (!status.ok()) Fail(status);
}

template <typename T>
T Unwrap(Result<T> result) {
  if (!result.ok()) Fail(result.status());
  return std::move(result).value();
}

// ---- opening the data directory or the cluster's database ----

// Where the state is, checked before anything is opened: exactly one of --data-dir and
// --postgres; --kek-file only with --postgres.
void CheckWhere(const AdminOptions& options) {
  if (options.on_cluster() && options.data_dir_option != nullptr &&
      options.data_dir_option->count() > 0) {
    Fail(InvalidArgument(
        "give either --data-dir (or GOVESB_DATA_DIR) or --postgres, not both: a bus keeps its "
        "state in a data directory, a cluster in PostgreSQL"));
  }
  if (!options.on_cluster() && !options.kek_file.empty()) {
    Fail(InvalidArgument("--kek-file goes with --postgres (a cluster's key-encryption key)"));
  }
}

// The cluster's database (the connection string is never printed: it may hold a password).
std::unique_ptr<store::Database> OpenCluster(const AdminOptions& options) {
  auto db = store::Database::OpenPostgres(options.postgres);
  if (!db.ok()) {
    Fail(Status(db.status().code(), "cannot connect to the cluster's PostgreSQL (--postgres): " +
                                        db.status().message()));
  }
  return std::move(db).value();
}

std::unique_ptr<store::Database> OpenMigratedDatabase(const AdminOptions& options,
                                                      const std::optional<store::DataDir>& dir) {
  std::unique_ptr<store::Database> db =
      dir.has_value() ? Unwrap(dir->OpenDatabase()) : OpenCluster(options);
  Check(accounts::MigrateAccountsStore(*db));  // and admin::MigrateAll
  return db;
}

std::optional<store::DataDir> OpenDataDirUnlessCluster(const AdminOptions& options) {
  if (options.on_cluster()) return std::nullopt;
  return Unwrap(OpenExistingDataDir(options.data_dir, "govesb admin"));
}

// The data directory (which must exist: `govesb init` or `govesb serve` makes one, so that
// systems can be registered before the first start) or the cluster's PostgreSQL, its database with
// every schema, and the admin service layer over it, acting as the operator at this machine (the OS
// user running the command), as every change is recorded. On a cluster, the actions wait in the
// admin journal until a node moves them into the evidence log, as they do for a stopped bus.
class AdminSession {
 public:
  explicit AdminSession(const AdminOptions& options)
      : dir_(OpenDataDirUnlessCluster(options)),
        db_(OpenMigratedDatabase(options, dir_)),
        service_(*db_, admin::ServiceOptions{.postgres_conninfo = options.postgres}),
        accounts_(*db_),
        actor_(admin::Actor::LocalOperator()) {}

  admin::AdminService& service() { return service_; }
  accounts::Accounts& accounts() { return accounts_; }
  const admin::Actor& actor() const { return actor_; }
  store::Database& db() { return *db_; }

 private:
  std::optional<store::DataDir> dir_;  // none on a cluster
  std::unique_ptr<store::Database> db_;
  admin::AdminService service_;
  accounts::Accounts accounts_;
  admin::Actor actor_;
};

void LogToStderr() {
  // Library warnings must not mix with the JSON on stdout.
  spdlog::set_default_logger(spdlog::stderr_color_st("govesb-admin"));
}

void WarnSecretShownOnce() {
  std::cerr << "note: store the client_secret now; it is kept only as a hash and cannot be "
               "shown again\n";
}

// ---- leaves ----

// Registers a leaf whose callback gets an open session. `check`, when given, runs first, before
// the data directory is opened (or created): bad arguments change nothing.
CLI::App* AddLeaf(CLI::App& parent, const std::string& name, const std::string& description,
                  const std::shared_ptr<AdminOptions>& options,
                  std::function<void(AdminSession&, bool json)> run,
                  std::function<void()> check = {}) {
  CLI::App* leaf = parent.add_subcommand(name, description);
  leaf->callback([options, run = std::move(run), check = std::move(check)] {
    CheckWhere(*options);
    if (check) check();
    LogToStderr();
    AdminSession session(*options);
    run(session, options->json);
  });
  return leaf;
}

// `--client-id ID` or a positional ID: the system a command acts on.
struct SystemRef {
  std::string flag;
  std::string positional;

  void AddTo(CLI::App& leaf) {
    leaf.add_option("--client-id", flag, "The system's client_id");
    leaf.add_option("client_id", positional, "The system's client_id (instead of --client-id)");
  }
  std::string Get() const {
    if (!flag.empty() && !positional.empty() && flag != positional) {
      Fail(InvalidArgument("two different client ids given: '" + flag + "' and '" + positional +
                           "'"));
    }
    if (flag.empty() && positional.empty()) {
      Fail(InvalidArgument("which system? give its client id (--client-id ID)"));
    }
    return flag.empty() ? positional : flag;
  }
};

// --rate N|default|unlimited and --burst N|default, checked as the registry checks them.
double ParseLimit(const std::string& flag, const std::string& text) {
  const bool is_rate = flag == "--rate";
  double value = 0;
  if (text == "default") {
    value = registry::kRateDefault;
  } else if (text == "unlimited" && is_rate) {
    value = registry::kRateUnlimited;
  } else {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      Fail(InvalidArgument(flag + " must be " +
                           (is_rate ? "requests per second, default or unlimited"
                                    : "a number of requests or default") +
                           ", not '" + text + "'"));
    }
  }
  Check(is_rate ? registry::ValidateRatePerSecond(value, "--rate")
                : registry::ValidateRateBurst(value, "--burst"));
  return value;
}

// --rate and --burst of `system limits`, `api limits` and `api add`.
struct LimitArgs {
  std::optional<std::string> rate, burst;

  void AddTo(CLI::App& leaf) {
    leaf.add_option("--rate", rate,
                    "Requests per second (0.001..1000000), default (the bus's) or unlimited");
    leaf.add_option("--burst", burst, "Requests allowed at once (1..1000000) or default");
  }
  registry::RateLimitUpdate Parse() const {
    registry::RateLimitUpdate update;
    if (rate) update.rate_per_second = ParseLimit("--rate", *rate);
    if (burst) update.burst = ParseLimit("--burst", *burst);
    return update;
  }
};

// "on" (true) or "off" (false), checked before anything is opened.
bool ParseOnOff(const std::string& text) {
  if (text != "on" && text != "off") {
    Fail(InvalidArgument("the setting must be on or off, not '" + text + "'"));
  }
  return text == "on";
}

registry::ReplayPolicy ParseReplay(const std::string& text) {
  std::optional<registry::ReplayPolicy> policy = registry::ParseReplayPolicy(text);
  if (!policy.has_value()) {
    Fail(InvalidArgument("the replay policy must be record or refuse, not '" + text + "'"));
  }
  return *policy;
}

// The content of `path`, at most `max_bytes` (a larger file fails: the registry would refuse it
// anyway, and it is not read whole into memory). `what` names it in messages.
std::string ReadBoundedFile(const std::string& path, size_t max_bytes, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(InvalidArgument("cannot read the " + std::string(what) + " file '" + path + "'"));
  std::string content(max_bytes + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad())
    Fail(InvalidArgument("cannot read the " + std::string(what) + " file '" + path + "'"));
  content.resize(static_cast<size_t>(in.gcount()));
  if (content.size() > max_bytes) {
    Fail(InvalidArgument("the " + std::string(what) + " file '" + path + "' is larger than " +
                         std::to_string(max_bytes / 1024) + " KB"));
  }
  return content;
}

// `admin institution rename|suspend|resume`.
void AddInstitutionStateCommands(CLI::App& group, const std::shared_ptr<AdminOptions>& options) {
  struct RenameArgs {
    std::string code, name;
  };
  auto rename_args = std::make_shared<RenameArgs>();
  CLI::App* rename =
      AddLeaf(group, "rename", "Change an institution's display name (its code stays)", options,
              [rename_args](AdminSession& s, bool as_json) {
                PrintObject(ToJson(Unwrap(s.service().RenameInstitution(
                                s.actor(), rename_args->code, rename_args->name))),
                            as_json);
              });
  rename->add_option("code", rename_args->code, "The institution's code")->required();
  rename->add_option("--name", rename_args->name, "The new name")->required();

  auto suspend_code = std::make_shared<std::string>();
  AddLeaf(group, "suspend",
          "Suspend an institution: every one of its systems is refused on the bus at once "
          "(a running bus within a second)",
          options,
          [suspend_code](AdminSession& s, bool as_json) {
            PrintObject(ToJson(Unwrap(s.service().SuspendInstitution(s.actor(), *suspend_code))),
                        as_json);
          })
      ->add_option("code", *suspend_code, "The institution's code")
      ->required();

  auto resume_code = std::make_shared<std::string>();
  AddLeaf(group, "resume", "Resume a suspended institution (its systems need new tokens)", options,
          [resume_code](AdminSession& s, bool as_json) {
            PrintObject(ToJson(Unwrap(s.service().ResumeInstitution(s.actor(), *resume_code))),
                        as_json);
          })
      ->add_option("code", *resume_code, "The institution's code")
      ->required();
}

void AddInstitutionCommands(CLI::App& admin, const std::shared_ptr<AdminOptions>& options) {
  CLI::App* group = admin.add_subcommand("institution", "Institutions that own systems");
  group->require_subcommand(1);

  struct AddArgs {
    std::string code, name;
  };
  auto args = std::make_shared<AddArgs>();
  CLI::App* add = AddLeaf(
      *group, "add", "Register an institution", options, [args](AdminSession& s, bool as_json) {
        auto institution = Unwrap(s.service().AddInstitution(s.actor(), args->code, args->name));
        PrintObject(ToJson(institution), as_json);
      });
  add->add_option("--code", args->code, "Short code, 2-32 of A-Z a-z 0-9 _ -")->required();
  add->add_option("--name", args->name, "Full name")->required();

  AddLeaf(*group, "list", "List institutions", options, [](AdminSession& s, bool as_json) {
    PrintList(ToJsonArray(Unwrap(s.service().ListInstitutions(s.actor()))),
              {"code", "name", "created_at"}, as_json);
  });

  AddInstitutionStateCommands(*group, options);
}

// `admin api schema CODE`: publish, show or remove the API's contract (src/schema: JSON Schema
// draft 2020-12 for the request's and the response's esbBody).
void AddApiContractCommand(CLI::App& group, const std::shared_ptr<AdminOptions>& options) {
  struct ContractArgs {
    std::string code;
    std::optional<std::string> request_file, response_file;
    bool clear = false, clear_request = false, clear_response = false, show = false;

    // What to change, read and checked before anything is opened.
    registry::ApiContract Read() const {
      const bool change = request_file || response_file || clear || clear_request || clear_response;
      if (show && change) Fail(InvalidArgument("--show only shows: give it alone"));
      if (show) return {};
      if (!change) {
        Fail(InvalidArgument(
            "nothing to do: give --request FILE and/or --response FILE to publish, --show, "
            "or --clear (--clear-request, --clear-response) to remove"));
      }
      if ((clear || clear_request) && request_file) {
        Fail(InvalidArgument("--request and --clear/--clear-request contradict each other"));
      }
      if ((clear || clear_response) && response_file) {
        Fail(InvalidArgument("--response and --clear/--clear-response contradict each other"));
      }
      registry::ApiContract contract;
      const size_t limit = schema::Limits{}.max_text_bytes;
      if (request_file)
        contract.request_schema = ReadBoundedFile(*request_file, limit, "request schema");
      if (response_file) {
        contract.response_schema = ReadBoundedFile(*response_file, limit, "response schema");
      }
      if (clear || clear_request) contract.request_schema = "";
      if (clear || clear_response) contract.response_schema = "";
      return contract;
    }
  };
  auto args = std::make_shared<ContractArgs>();
  CLI::App* leaf = AddLeaf(
      group, "schema",
      "Publish an API's contract: JSON Schemas (draft 2020-12) its request's and response's "
      "esbBody must match; --show prints them, --clear removes them",
      options,
      [args](AdminSession& s, bool as_json) {
        if (args->show) {
          registry::Api api = Unwrap(s.service().GetApi(s.actor(), args->code));
          json::object out;
          out["code"] = api.code;
          auto text = [](const std::string& t) -> json::value {
            return t.empty() ? json::value(nullptr) : json::value(t);
          };
          out["request_schema"] = text(api.request_schema);
          out["response_schema"] = text(api.response_schema);
          if (as_json) {
            PrintObject(out, true);
          } else {
            std::cout << "code: " << api.code << "\nrequest_schema:"
                      << (api.request_schema.empty() ? " -\n" : "\n" + api.request_schema + "\n")
                      << "response_schema:"
                      << (api.response_schema.empty() ? " -\n" : "\n" + api.response_schema + "\n");
          }
          return;
        }
        PrintObject(ToJson(Unwrap(s.service().SetApiContract(s.actor(), args->code, args->Read()))),
                    as_json);
      },
      [args] { (void)args->Read(); });
  leaf->add_option("code", args->code, "apiCode")->required();
  leaf->add_option("--request", args->request_file,
                   "A file with the JSON Schema of the request's esbBody (at most 256 KB)");
  leaf->add_option("--response", args->response_file,
                   "A file with the JSON Schema of a success:true answer's esbBody");
  leaf->add_flag("--show", args->show, "Print the published schemas");
  leaf->add_flag("--clear", args->clear, "Remove both schemas");
  leaf->add_flag("--clear-request", args->clear_request, "Remove the request schema");
  leaf->add_flag("--clear-response", args->clear_response, "Remove the response schema");
}

// `admin api describe|disable|enable`.
void AddApiCatalogueCommands(CLI::App& group, const std::shared_ptr<AdminOptions>& options) {
  struct DescribeArgs {
    std::string code;
    std::optional<std::string> title, description, request_file, response_file, openapi_file;

    registry::ApiDescription Read() const {
      registry::ApiDescription d{.title = title, .description = description};
      if (request_file) {
        d.request_example =
            ReadBoundedFile(*request_file, registry::kMaxExampleBytes, "request example");
      }
      if (response_file) {
        d.response_example =
            ReadBoundedFile(*response_file, registry::kMaxExampleBytes, "response example");
      }
      if (openapi_file) {
        d.openapi = ReadBoundedFile(*openapi_file, registry::kMaxOpenApiBytes, "OpenAPI");
      }
      if (d.empty()) {
        Fail(
            InvalidArgument("nothing to change: give --title, --description, --request-example, "
                            "--response-example or --openapi"));
      }
      return d;
    }
  };
  auto describe_args = std::make_shared<DescribeArgs>();
  CLI::App* describe = AddLeaf(
      group, "describe",
      "Set an API's catalogue entry: title, description, JSON examples, OpenAPI document (JSON)",
      options,
      [describe_args](AdminSession& s, bool as_json) {
        PrintObject(ToJson(Unwrap(s.service().UpdateApiDescription(s.actor(), describe_args->code,
                                                                   describe_args->Read()))),
                    as_json);
      },
      [describe_args] { (void)describe_args->Read(); });
  describe->add_option("code", describe_args->code, "apiCode")->required();
  describe->add_option("--title", describe_args->title, "A short title (\"\" clears it)");
  describe->add_option("--description", describe_args->description, "What it does, for whom");
  describe->add_option("--request-example", describe_args->request_file,
                       "A file with an example request body (JSON, at most 64 KB)");
  describe->add_option("--response-example", describe_args->response_file,
                       "A file with an example response body (JSON, at most 64 KB)");
  describe->add_option("--openapi", describe_args->openapi_file,
                       "A file with the API's OpenAPI document (JSON, at most 256 KB)");

  AddApiContractCommand(group, options);

  auto disable_code = std::make_shared<std::string>();
  AddLeaf(group, "disable",
          "Disable an API: its consumers are refused (grants stay) until it is enabled", options,
          [disable_code](AdminSession& s, bool as_json) {
            PrintObject(ToJson(Unwrap(s.service().DisableApi(s.actor(), *disable_code))), as_json);
          })
      ->add_option("code", *disable_code, "apiCode")
      ->required();

  auto enable_code = std::make_shared<std::string>();
  AddLeaf(group, "enable", "Enable a disabled API", options,
          [enable_code](AdminSession& s, bool as_json) {
            PrintObject(ToJson(Unwrap(s.service().EnableApi(s.actor(), *enable_code))), as_json);
          })
      ->add_option("code", *enable_code, "apiCode")
      ->required();
}

void AddSystemCommands(CLI::App& admin, const std::shared_ptr<AdminOptions>& options) {
  CLI::App* group = admin.add_subcommand("system", "Connected systems and their credentials");
  group->require_subcommand(1);

  struct AddArgs {
    std::string institution, name, public_key, endpoint;
  };
  auto add_args = std::make_shared<AddArgs>();
  CLI::App* add =
      AddLeaf(*group, "add", "Register a system; prints its client_id and client_secret", options,
              [add_args](AdminSession& s, bool as_json) {
                registry::NewSystem created =
                    Unwrap(s.service().AddSystem(s.actor(), add_args->institution, add_args->name,
                                                 add_args->public_key, add_args->endpoint));
                PrintObject(ToJson(created.system, created.client_secret), as_json);
                WarnSecretShownOnce();
              });
  add->add_option("--institution", add_args->institution, "Code of the owning institution")
      ->required();
  add->add_option("--name", add_args->name, "The system's name")->required();
  add->add_option("--public-key", add_args->public_key,
                  "The system's EC public key: base64 SPKI DER (or PEM)")
      ->required();
  add->add_option("--endpoint", add_args->endpoint,
                  "http(s) URL where the bus delivers requests to this system")
      ->required();

  AddLeaf(*group, "list", "List systems", options, [](AdminSession& s, bool as_json) {
    std::vector<registry::SignatureUsage> usage = Unwrap(s.service().ListSignatureUsage(s.actor()));
    json::array rows;
    for (const registry::System& system : Unwrap(s.service().ListSystems(s.actor()))) {
      std::vector<registry::SignatureUsage> own;
      for (const registry::SignatureUsage& u : usage) {
        if (u.system_id == system.id) own.push_back(u);
      }
      json::object row = ToJson(system);
      AddSignatureUsage(row, own, as_json);
      if (!as_json) row["fallbacks"] = system.signature_fallbacks ? "on" : "off";
      rows.push_back(std::move(row));
    }
    PrintList(rows,
              {"client_id", "institution", "name", "curve", "enabled", "credential_version",
               "rate_per_second", "rate_burst", "fallbacks", "fallback_verifications", "endpoint"},
              as_json);
  });

  auto show_ref = std::make_shared<SystemRef>();
  show_ref->AddTo(
      *AddLeaf(*group, "show", "Show one system, its limits and the signature variants it used",
               options, [show_ref](AdminSession& s, bool as_json) {
                 const std::string client_id = show_ref->Get();
                 json::object out = ToJson(Unwrap(s.service().GetSystem(s.actor(), client_id)));
                 AddSignatureUsage(
                     out, Unwrap(s.service().ListSignatureUsage(s.actor(), client_id)), as_json);
                 PrintObject(out, as_json);
               }));

  struct LimitsArgs {
    SystemRef ref;
    LimitArgs limits;
  };
  auto limits_args = std::make_shared<LimitsArgs>();
  CLI::App* limits = AddLeaf(
      *group, "limits", "Set a system's request rate limit (over all its calls)", options,
      [limits_args](AdminSession& s, bool as_json) {
        PrintObject(ToJson(Unwrap(s.service().SetSystemRateLimit(s.actor(), limits_args->ref.Get(),
                                                                 limits_args->limits.Parse()))),
                    as_json);
      },
      [limits_args] {
        (void)limits_args->ref.Get();
        if (!limits_args->limits.rate && !limits_args->limits.burst) {
          Fail(InvalidArgument("nothing to change: give --rate and/or --burst"));
        }
        (void)limits_args->limits.Parse();
      });
  limits_args->ref.AddTo(*limits);
  limits_args->limits.AddTo(*limits);

  struct FallbacksArgs {
    std::string client_id, setting;
  };
  auto fallbacks_args = std::make_shared<FallbacksArgs>();
  CLI::App* fallbacks = AddLeaf(
      *group, "fallbacks",
      "Allow (on) or forbid (off) signatures that verify only over a fallback text of data "
      "(compact, compact-ascii-escaped, latin1); off: only the exact bytes verify",
      options,
      [fallbacks_args](AdminSession& s, bool as_json) {
        PrintObject(
            ToJson(Unwrap(s.service().SetSignatureFallbacks(s.actor(), fallbacks_args->client_id,
                                                            ParseOnOff(fallbacks_args->setting)))),
            as_json);
      },
      [fallbacks_args] { (void)ParseOnOff(fallbacks_args->setting); });
  fallbacks->add_option("--client-id", fallbacks_args->client_id, "The system's client_id")
      ->required();
  fallbacks->add_option("setting", fallbacks_args->setting, "on | off")->required();

  struct SerialisationArgs {
    std::string client_id, setting;
  };
  auto serialisation_args = std::make_shared<SerialisationArgs>();
  CLI::App* serialisation = AddLeaf(
      *group, "serialisation",
      "How the bus writes the data it signs for this system: node (what JSON.stringify gives: "
      "Node clients), jackson (Java clients), or auto (the form its own requests showed; jackson "
      "until they show one)",
      options, [serialisation_args](AdminSession& s, bool as_json) {
        PrintObject(ToJson(Unwrap(s.service().SetSerialisation(
                        s.actor(), serialisation_args->client_id, serialisation_args->setting))),
                    as_json);
      });
  serialisation->add_option("--client-id", serialisation_args->client_id, "The system's client_id")
      ->required();
  serialisation->add_option("setting", serialisation_args->setting, "auto | jackson | node")
      ->required()
      ->check(CLI::IsMember({"auto", "jackson", "node"}));

  auto disable_ref = std::make_shared<SystemRef>();
  disable_ref->AddTo(*AddLeaf(
      *group, "disable", "Disable a system; its tokens stop working", options,
      [disable_ref](AdminSession& s, bool as_json) {
        PrintObject(ToJson(Unwrap(s.service().DisableSystem(s.actor(), disable_ref->Get()))),
                    as_json);
      }));

  auto enable_ref = std::make_shared<SystemRef>();
  enable_ref->AddTo(
      *AddLeaf(*group, "enable", "Enable a disabled system (it needs a new token)", options,
               [enable_ref](AdminSession& s, bool as_json) {
                 PrintObject(ToJson(Unwrap(s.service().EnableSystem(s.actor(), enable_ref->Get()))),
                             as_json);
               }));

  auto rotate_ref = std::make_shared<SystemRef>();
  rotate_ref->AddTo(
      *AddLeaf(*group, "rotate-secret", "Issue a new client_secret; existing tokens stop working",
               options, [rotate_ref](AdminSession& s, bool as_json) {
                 const std::string client_id = rotate_ref->Get();
                 std::string secret = Unwrap(s.service().RotateSecret(s.actor(), client_id));
                 registry::System system = Unwrap(s.service().GetSystem(s.actor(), client_id));
                 json::object out;
                 out["client_id"] = system.client_id;
                 out["client_secret"] = secret;
                 out["credential_version"] = system.credential_version;
                 PrintObject(out, as_json);
                 WarnSecretShownOnce();
               }));

  struct UpdateArgs {
    SystemRef ref;
    std::optional<std::string> name, public_key, endpoint;
  };
  auto update_args = std::make_shared<UpdateArgs>();
  CLI::App* update = AddLeaf(
      *group, "update", "Change a system's public key, endpoint or name", options,
      [update_args](AdminSession& s, bool as_json) {
        registry::SystemUpdate changes{.name = update_args->name,
                                       .public_key = update_args->public_key,
                                       .endpoint = update_args->endpoint};
        PrintObject(
            ToJson(Unwrap(s.service().UpdateSystem(s.actor(), update_args->ref.Get(), changes))),
            as_json);
      });
  update_args->ref.AddTo(*update);
  update->add_option("--public-key", update_args->public_key, "New EC public key (base64 SPKI)");
  update->add_option("--endpoint", update_args->endpoint, "New delivery URL");
  update->add_option("--name", update_args->name, "New name");
}

void AddApiCommands(CLI::App& admin, const std::shared_ptr<AdminOptions>& options) {
  CLI::App* group = admin.add_subcommand("api", "APIs (apiCode) offered by provider systems");
  group->require_subcommand(1);

  struct AddArgs {
    std::string provider, code;
    registry::ApiSettings settings;
    LimitArgs limits;
    std::string replay = "record";

    // Completes `settings` from the text options; fails (exit 1) on a bad one.
    void Parse() {
      registry::RateLimitUpdate update = limits.Parse();
      settings.rate_per_second = update.rate_per_second.value_or(registry::kRateDefault);
      settings.rate_burst = update.burst.value_or(registry::kRateDefault);
      settings.replay_policy = ParseReplay(replay);
    }
  };
  auto args = std::make_shared<AddArgs>();
  CLI::App* add = AddLeaf(
      *group, "add", "Register an API of a provider system", options,
      [args](AdminSession& s, bool as_json) {
        PrintObject(ToJson(Unwrap(
                        s.service().AddApi(s.actor(), args->provider, args->code, args->settings))),
                    as_json);
      },
      [args] { args->Parse(); });
  add->add_option("--provider", args->provider, "client_id of the provider system")->required();
  add->add_option("--code", args->code, "apiCode: 5-8 of A-Z a-z 0-9 (case-sensitive)")->required();
  add->add_option("--timeout-ms", args->settings.timeout_ms, "Delivery timeout, 100..300000 ms")
      ->capture_default_str();
  add->add_option("--endpoint", args->settings.endpoint_override,
                  "Delivery URL for this API (default: the provider's endpoint)");
  add->add_flag("--async", args->settings.async,
                "Asynchronous API: the provider acknowledges each request and posts the answer "
                "later to /engine/esb/async; the bus delivers it to the consumer");
  add->add_option("--callback", args->settings.callback_endpoint,
                  "With --async: where answers are delivered (default: the consumer system's "
                  "endpoint)");
  add->add_flag("--store-bodies", args->settings.store_bodies,
                "The evidence log also keeps this API's request and reply bodies, encrypted "
                "with the bus's key (default: hashes only)");
  args->limits.AddTo(*add);
  add->add_option("--replay", args->replay,
                  "A repeated signed pull: record (delivered, counted) or refuse")
      ->capture_default_str();

  AddLeaf(*group, "list", "List APIs", options, [](AdminSession& s, bool as_json) {
    PrintList(ToJsonArray(Unwrap(s.service().ListApis(s.actor()))),
              {"code", "provider", "mode", "store_bodies", "rate_per_second", "rate_burst",
               "replay_policy", "timeout_ms", "endpoint"},
              as_json);
  });

  struct LimitsArgs {
    std::string code;
    LimitArgs limits;
  };
  auto limits_args = std::make_shared<LimitsArgs>();
  CLI::App* limits = AddLeaf(
      *group, "limits", "Set the request rate limit each consumer of an API gets", options,
      [limits_args](AdminSession& s, bool as_json) {
        PrintObject(ToJson(Unwrap(s.service().SetApiRateLimit(s.actor(), limits_args->code,
                                                              limits_args->limits.Parse()))),
                    as_json);
      },
      [limits_args] {
        if (!limits_args->limits.rate && !limits_args->limits.burst) {
          Fail(InvalidArgument("nothing to change: give --rate and/or --burst"));
        }
        (void)limits_args->limits.Parse();
      });
  limits->add_option("code", limits_args->code, "apiCode")->required();
  limits_args->limits.AddTo(*limits);

  struct ReplayArgs {
    std::string code, setting;
  };
  auto replay_args = std::make_shared<ReplayArgs>();
  CLI::App* replay = AddLeaf(
      *group, "replay",
      "What a repeated signed pull of an API gets: record (delivered, recorded and counted) or "
      "refuse",
      options,
      [replay_args](AdminSession& s, bool as_json) {
        PrintObject(ToJson(Unwrap(s.service().SetApiReplayPolicy(
                        s.actor(), replay_args->code, ParseReplay(replay_args->setting)))),
                    as_json);
      },
      [replay_args] { (void)ParseReplay(replay_args->setting); });
  replay->add_option("code", replay_args->code, "apiCode")->required();
  replay->add_option("setting", replay_args->setting, "record | refuse")->required();

  struct StoreBodiesArgs {
    std::string code, setting;
  };
  auto store_args = std::make_shared<StoreBodiesArgs>();
  // Not AddLeaf: the setting is checked before the data directory is opened (or created).
  CLI::App* store_bodies = group->add_subcommand(
      "store-bodies",
      "Turn storing an API's request and reply bodies in the evidence log on or off");
  store_bodies->callback([options, store_args] {
    CheckWhere(*options);
    if (store_args->setting != "on" && store_args->setting != "off") {
      Fail(InvalidArgument("the setting must be on or off, not '" + store_args->setting + "'"));
    }
    LogToStderr();
    AdminSession session(*options);
    PrintObject(ToJson(Unwrap(session.service().SetApiStoreBodies(session.actor(), store_args->code,
                                                                  store_args->setting == "on"))),
                options->json);
  });
  store_bodies->add_option("code", store_args->code, "apiCode")->required();
  store_bodies->add_option("setting", store_args->setting, "on | off")->required();

  AddApiCatalogueCommands(*group, options);
}

void AddGrantCommands(CLI::App& admin, const std::shared_ptr<AdminOptions>& options) {
  CLI::App* group = admin.add_subcommand("grant", "Which consumer systems may call which APIs");
  group->require_subcommand(1);

  struct Args {
    std::string consumer, api;
  };
  auto add_args = std::make_shared<Args>();
  CLI::App* add = AddLeaf(
      *group, "add", "Allow a consumer system to call an API", options,
      [add_args](AdminSession& s, bool as_json) {
        PrintObject(
            ToJson(Unwrap(s.service().ApproveGrant(s.actor(), add_args->consumer, add_args->api))),
            as_json);
      });
  add->add_option("--consumer", add_args->consumer, "client_id of the consumer system")->required();
  add->add_option("--api", add_args->api, "apiCode")->required();

  auto revoke_args = std::make_shared<Args>();
  CLI::App* revoke =
      AddLeaf(*group, "revoke", "Withdraw a consumer system's access to an API", options,
              [revoke_args](AdminSession& s, bool as_json) {
                PrintObject(ToJson(Unwrap(s.service().RevokeGrant(s.actor(), revoke_args->consumer,
                                                                  revoke_args->api))),
                            as_json);
              });
  revoke->add_option("--consumer", revoke_args->consumer, "client_id of the consumer system")
      ->required();
  revoke->add_option("--api", revoke_args->api, "apiCode")->required();

  struct PurposesArgs {
    std::string consumer, api, required = "off";
    std::vector<std::string> purposes;
  };
  auto purposes_args = std::make_shared<PurposesArgs>();
  auto parse_purposes = [purposes_args] {
    std::vector<registry::Purpose> out;
    for (const std::string& given : purposes_args->purposes) {
      const size_t eq = given.find('=');
      if (eq == std::string::npos) {
        Fail(
            InvalidArgument("--purpose takes CODE=TEXT (e.g. TREATMENT=\"Medical treatment\"), "
                            "not '" +
                            given.substr(0, 40) + "'"));
      }
      out.push_back(registry::Purpose{given.substr(0, eq), given.substr(eq + 1)});
    }
    return out;
  };
  CLI::App* purposes = AddLeaf(
      *group, "purposes",
      "Set the purposes (legal bases) requests under a grant may declare in their data "
      "(\"purpose\":\"CODE\"), replacing the list; --required on refuses requests without one",
      options,
      [purposes_args, parse_purposes](AdminSession& s, bool as_json) {
        PrintObject(ToJson(Unwrap(s.service().SetGrantPurposes(
                        s.actor(), purposes_args->consumer, purposes_args->api, parse_purposes(),
                        ParseOnOff(purposes_args->required)))),
                    as_json);
      },
      [purposes_args, parse_purposes] {
        (void)parse_purposes();
        (void)ParseOnOff(purposes_args->required);
      });
  purposes->add_option("--consumer", purposes_args->consumer, "client_id of the consumer system")
      ->required();
  purposes->add_option("--api", purposes_args->api, "apiCode")->required();
  purposes->add_option("--purpose", purposes_args->purposes,
                       "CODE=TEXT (repeatable; none: the grant allows no declared purpose)");
  purposes->add_option("--required", purposes_args->required,
                       "on: a request must declare one of the purposes (default off)");

  struct FieldsArgs {
    std::string consumer, api;
    std::vector<std::string> fields;
    bool all = false;
  };
  auto fields_args = std::make_shared<FieldsArgs>();
  auto check_fields = [fields_args] {
    if (fields_args->all == !fields_args->fields.empty()) {
      Fail(
          InvalidArgument("give the fields the consumer receives (--allow PATH, repeatable) or "
                          "--all for every field"));
    }
  };
  CLI::App* fields = AddLeaf(
      *group, "fields",
      "Set the fields of the API's answers the consumer receives (data minimisation): every "
      "other field of esbBody is removed before the bus signs the answer for it, and the "
      "evidence log names what was withheld",
      options,
      [fields_args, check_fields](AdminSession& s, bool as_json) {
        check_fields();
        PrintObject(ToJson(Unwrap(s.service().SetGrantFields(
                        s.actor(), fields_args->consumer, fields_args->api, fields_args->fields))),
                    as_json);
      },
      [check_fields] { check_fields(); });
  fields->add_option("--consumer", fields_args->consumer, "client_id of the consumer system")
      ->required();
  fields->add_option("--api", fields_args->api, "apiCode")->required();
  fields->add_option("--allow", fields_args->fields,
                     "a field of esbBody the consumer receives, with everything under it: a JSON "
                     "Pointer (/mother/name) or a dotted path (mother.name); arrays need no index "
                     "(repeatable)");
  fields->add_flag("--all", fields_args->all, "the consumer receives every field again");

  AddLeaf(*group, "list", "List grants", options, [](AdminSession& s, bool as_json) {
    PrintList(ToJsonArray(Unwrap(s.service().ListGrants(s.actor()))),
              {"consumer", "api", "state", "updated_at"}, as_json);
  });
}

void AddTopicCommands(CLI::App& admin, const std::shared_ptr<AdminOptions>& options) {
  CLI::App* group = admin.add_subcommand("topic", "Push topics (pushCode) of publisher systems");
  group->require_subcommand(1);

  struct AddArgs {
    std::string publisher, code;
  };
  auto args = std::make_shared<AddArgs>();
  CLI::App* add = AddLeaf(
      *group, "add", "Register a push topic of a publisher system", options,
      [args](AdminSession& s, bool as_json) {
        PrintObject(ToJson(Unwrap(s.service().AddTopic(s.actor(), args->publisher, args->code))),
                    as_json);
      });
  add->add_option("--publisher", args->publisher, "client_id of the publisher system")->required();
  add->add_option("--code", args->code, "pushCode: 5-8 of A-Z a-z 0-9 (case-sensitive)")
      ->required();

  AddLeaf(*group, "list", "List push topics", options, [](AdminSession& s, bool as_json) {
    PrintList(ToJsonArray(Unwrap(s.service().ListTopics(s.actor()))),
              {"code", "publisher", "enabled", "created_at"}, as_json);
  });

  auto disable_code = std::make_shared<std::string>();
  AddLeaf(*group, "disable",
          "Disable a push topic: its publisher's pushes are refused (subscriptions stay, and "
          "what was accepted is still delivered) until it is enabled",
          options,
          [disable_code](AdminSession& s, bool as_json) {
            PrintObject(ToJson(Unwrap(s.service().DisableTopic(s.actor(), *disable_code))),
                        as_json);
          })
      ->add_option("code", *disable_code, "pushCode")
      ->required();

  auto enable_code = std::make_shared<std::string>();
  AddLeaf(*group, "enable", "Enable a disabled push topic", options,
          [enable_code](AdminSession& s, bool as_json) {
            PrintObject(ToJson(Unwrap(s.service().EnableTopic(s.actor(), *enable_code))), as_json);
          })
      ->add_option("code", *enable_code, "pushCode")
      ->required();
}

void AddSubscriptionCommands(CLI::App& admin, const std::shared_ptr<AdminOptions>& options) {
  CLI::App* group =
      admin.add_subcommand("subscription", "Which subscriber systems receive which push topics");
  group->require_subcommand(1);

  struct AddArgs {
    std::string subscriber, topic, endpoint;
  };
  auto add_args = std::make_shared<AddArgs>();
  CLI::App* add = AddLeaf(
      *group, "add", "Subscribe a system to a push topic (approved)", options,
      [add_args](AdminSession& s, bool as_json) {
        PrintObject(ToJson(Unwrap(s.service().ApproveSubscription(
                        s.actor(), add_args->subscriber, add_args->topic, add_args->endpoint))),
                    as_json);
      });
  add->add_option("--subscriber", add_args->subscriber, "client_id of the subscriber system")
      ->required();
  add->add_option("--topic", add_args->topic, "pushCode")->required();
  add->add_option("--endpoint", add_args->endpoint,
                  "Delivery URL for this subscription (default: the subscriber's endpoint)");

  struct RevokeArgs {
    std::string subscriber, topic;
  };
  auto revoke_args = std::make_shared<RevokeArgs>();
  CLI::App* revoke =
      AddLeaf(*group, "revoke", "Stop deliveries of a push topic to a system", options,
              [revoke_args](AdminSession& s, bool as_json) {
                PrintObject(ToJson(Unwrap(s.service().RevokeSubscription(
                                s.actor(), revoke_args->subscriber, revoke_args->topic))),
                            as_json);
              });
  revoke->add_option("--subscriber", revoke_args->subscriber, "client_id of the subscriber system")
      ->required();
  revoke->add_option("--topic", revoke_args->topic, "pushCode")->required();

  AddLeaf(*group, "list", "List subscriptions", options, [](AdminSession& s, bool as_json) {
    PrintList(ToJsonArray(Unwrap(s.service().ListSubscriptions(s.actor()))),
              {"subscriber", "topic", "state", "endpoint", "updated_at"}, as_json);
  });
}

void AddDeliveryCommands(CLI::App& admin, const std::shared_ptr<AdminOptions>& options) {
  struct ListArgs {
    std::string state;
    std::string code;
    size_t limit = 1000;
    int64_t attempts_of = 0;
  };
  auto list_args = std::make_shared<ListArgs>();
  CLI::App* list = AddLeaf(
      admin, "deliveries",
      "List deliveries of pushes and asynchronous answers (pending, dead or delivered)", options,
      [list_args](AdminSession& s, bool as_json) {
        if (list_args->attempts_of > 0) {
          PrintList(
              ToJsonArray(Unwrap(s.service().ListAttempts(s.actor(), list_args->attempts_of))),
              {"at", "outcome", "http_status", "latency_us", "error"}, as_json);
          return;
        }
        delivery::DeliveryFilter filter;
        if (!list_args->state.empty()) {
          filter.state = delivery::ParseDeliveryState(list_args->state);
          if (!filter.state.has_value()) {
            Fail(InvalidArgument("--state must be pending, dead or delivered"));
          }
        }
        filter.code = list_args->code;
        filter.limit = list_args->limit;
        PrintList(ToJsonArray(Unwrap(s.service().ListDeliveries(s.actor(), filter))),
                  {"id", "request_id", "code", "recipient", "state", "attempts", "last_error"},
                  as_json);
      });
  list->add_option("--state", list_args->state, "pending | dead | delivered (default: all)");
  list->add_option("--topic,--code", list_args->code, "Only this pushCode (or async apiCode)");
  list->add_option("--limit", list_args->limit, "At most this many, oldest first")
      ->capture_default_str();
  list->add_option("--attempts", list_args->attempts_of,
                   "Instead: every attempt of the delivery with this id");

  struct RedeliverArgs {
    int64_t id = 0;
    bool all_dead = false;
    std::string code;
  };
  auto args = std::make_shared<RedeliverArgs>();
  CLI::App* redeliver = AddLeaf(
      admin, "redeliver",
      "Put a dead (or delivered) delivery, or every dead one, back in the queue; a running bus "
      "picks it up within a second",
      options, [args](AdminSession& s, bool as_json) {
        json::object out;
        if (args->all_dead == (args->id > 0)) {
          Fail(InvalidArgument("give either a delivery ID or --all-dead"));
        }
        if (args->all_dead) {
          out["redelivered"] = Unwrap(s.service().RedeliverAllDead(s.actor(), args->code));
        } else {
          if (!args->code.empty()) Fail(InvalidArgument("--topic goes with --all-dead"));
          Check(s.service().Redeliver(s.actor(), args->id));
          out["redelivered"] = 1;
          out["id"] = args->id;
        }
        PrintObject(out, as_json);
      });
  redeliver->add_option("id", args->id, "The delivery's id (from `admin deliveries`)");
  redeliver->add_flag("--all-dead", args->all_dead, "Every dead delivery");
  redeliver->add_option("--topic,--code", args->code, "With --all-dead: only this pushCode");
}

// The password given on stdin (`--password-stdin`): its first line, without the line end.
std::string ReadPasswordFromStdin() {
  std::string line;
  char c = 0;
  // Bounded: a password is at most accounts::kMaxPasswordLength bytes.
  while (std::cin.get(c) && c != '\n') {
    if (line.size() > 1024) Fail(InvalidArgument("the password on stdin is too long"));
    line.push_back(c);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) Fail(InvalidArgument("--password-stdin: no password on stdin"));
  return line;
}

void WarnOneTimePassword() {
  std::cerr << "note: give the one_time_password to its user now: it is shown only once, and "
               "must be changed at the first sign-in\n";
}

// `admin compliance`: every system rated against the rule set (docs/compliance.md), institutions
// rolled up, and the summary; or the thresholds (--thresholds), or one of them set (--set).
void AddComplianceCommand(CLI::App& admin, const std::shared_ptr<AdminOptions>& options) {
  struct ComplianceArgs {
    std::string institution;
    bool csv = false;
    bool summary = false;
    bool thresholds = false;
    std::string set;  // NAME=VALUE
  };
  auto args = std::make_shared<ComplianceArgs>();
  // Checked before anything is opened: bad arguments change nothing.
  const auto check = [args, options] {
    if (args->csv && options->json) Fail(InvalidArgument("give --json or --csv, not both"));
    const bool report = !args->thresholds && args->set.empty();
    if (!report && (args->csv || args->summary || !args->institution.empty())) {
      Fail(InvalidArgument(
          "--thresholds and --set go alone (with --json): --institution, --csv and --summary are "
          "for the report"));
    }
    if (args->thresholds && !args->set.empty()) {
      Fail(InvalidArgument("give --thresholds or --set, not both"));
    }
    if (args->csv && args->summary) {
      Fail(
          InvalidArgument("--summary prints text or --json; --csv is one row per system and "
                          "rule"));
    }
    if (!args->set.empty()) {
      const size_t eq = args->set.find('=');
      if (eq == std::string::npos || eq == 0) {
        Fail(
            InvalidArgument("--set takes NAME=VALUE (e.g. key_age_warn_days=365, or "
                            "NAME=default), not '" +
                            args->set + "'"));
      }
      Check(admin::FindSetting(args->set.substr(0, eq)).status());
      const std::string value = args->set.substr(eq + 1);
      if (value != "default") {
        Check(
            admin::ParseSettingValue(*admin::FindSetting(args->set.substr(0, eq)), value).status());
      }
    }
  };
  CLI::App* leaf = AddLeaf(
      admin, "compliance",
      "Rate every system and institution against the e-Government rule set "
      "(docs/compliance.md), with the national summary; --thresholds shows the thresholds, "
      "--set NAME=VALUE changes one",
      options,
      [args](AdminSession& s, bool as_json) {
        if (args->thresholds || !args->set.empty()) {
          admin::ComplianceThresholds t;
          if (args->set.empty()) {
            t = Unwrap(s.service().GetComplianceThresholds(s.actor()));
          } else {
            const size_t eq = args->set.find('=');
            t = Unwrap(s.service().SetComplianceThreshold(s.actor(), args->set.substr(0, eq),
                                                          args->set.substr(eq + 1)));
          }
          std::cout << (as_json ? json::serialize(admin::ToJson(t)) + "\n"
                                : admin::ThresholdsText(t));
          return;
        }
        const admin::ComplianceReport report =
            Unwrap(s.service().Compliance(s.actor(), args->institution));
        if (args->summary) {
          std::cout << (as_json ? json::serialize(admin::ToJson(report.summary)) + "\n"
                                : admin::ComplianceSummaryText(report));
        } else if (as_json) {
          std::cout << json::serialize(admin::ToJson(report)) << "\n";
        } else if (args->csv) {
          std::cout << admin::ComplianceCsv(report);
        } else {
          std::cout << admin::ComplianceText(report);
        }
      },
      check);
  leaf->add_option("--institution", args->institution,
                   "Only this institution's systems (its code); the summary is then its own");
  leaf->add_flag("--csv", args->csv, "One CSV row per system and rule (RFC 4180)");
  leaf->add_flag("--summary", args->summary,
                 "Only the summary: institutions connected, systems, APIs, exchanges per month, "
                 "share of systems fully compliant");
  leaf->add_flag("--thresholds", args->thresholds, "Show the thresholds in force");
  leaf->add_option("--set", args->set,
                   "Operator: set one threshold, NAME=VALUE (NAME=default goes back to the "
                   "default)");
}

void AddUserCommands(CLI::App& admin, const std::shared_ptr<AdminOptions>& options) {
  CLI::App* group =
      admin.add_subcommand("user", "Accounts of the admin API and portal, with their roles");
  group->require_subcommand(1);

  struct AddArgs {
    std::string role, email, institution, name;
    bool password_stdin = false;
  };
  auto add_args = std::make_shared<AddArgs>();
  CLI::App* add = AddLeaf(
      *group, "add",
      "Add a user; prints a one-time password unless one is read with --password-stdin", options,
      [add_args](AdminSession& s, bool as_json) {
        std::string password;
        if (add_args->password_stdin) password = ReadPasswordFromStdin();
        accounts::NewUser created =
            Unwrap(s.accounts().CreateUser(s.actor(), {.email = add_args->email,
                                                       .display_name = add_args->name,
                                                       .role = *admin::ParseRole(add_args->role),
                                                       .institution = add_args->institution,
                                                       .password = password}));
        json::object out = accounts::ToJson(created.user);
        if (!created.one_time_password.empty()) {
          out["one_time_password"] = created.one_time_password;
        }
        PrintObject(out, as_json);
        if (!created.one_time_password.empty()) WarnOneTimePassword();
      },
      [add_args] {
        if (!admin::ParseRole(add_args->role).has_value()) {
          Fail(InvalidArgument("--role must be operator, institution-admin or auditor, not '" +
                               add_args->role + "'"));
        }
      });
  add->add_option("--role", add_args->role, "operator | institution-admin | auditor")->required();
  add->add_option("--email", add_args->email, "The user's e-mail address (the sign-in name)")
      ->required();
  add->add_option("--institution", add_args->institution,
                  "Code of the user's institution (institution-admin only)");
  add->add_option("--name", add_args->name, "Display name (default: the e-mail before '@')");
  add->add_flag("--password-stdin", add_args->password_stdin,
                "Read the password from the first line of stdin instead of generating one");

  // `user update`: what is not given stays; a role or institution change ends the user's
  // sessions and revokes its tokens above the new role (accounts::Accounts::UpdateUser).
  struct UpdateArgs {
    std::string email, role, institution, name;
    CLI::Option* role_option = nullptr;
    CLI::Option* institution_option = nullptr;
    CLI::Option* name_option = nullptr;
  };
  auto update_args = std::make_shared<UpdateArgs>();
  CLI::App* update = AddLeaf(
      *group, "update",
      "Change a user's role, institution or display name; a new role or institution ends its "
      "sessions and revokes its API tokens above the new role",
      options,
      [update_args](AdminSession& s, bool as_json) {
        accounts::UserUpdate change;
        if (update_args->role_option->count() > 0) {
          change.role = admin::ParseRole(update_args->role);
        }
        if (update_args->institution_option->count() > 0) {
          change.institution = update_args->institution;
        }
        if (update_args->name_option->count() > 0) change.display_name = update_args->name;
        PrintObject(accounts::ToJson(
                        Unwrap(s.accounts().UpdateUser(s.actor(), update_args->email, change))),
                    as_json);
      },
      [update_args] {
        if (update_args->role_option->count() == 0 &&
            update_args->institution_option->count() == 0 &&
            update_args->name_option->count() == 0) {
          Fail(InvalidArgument("give what changes: --role, --institution or --display-name"));
        }
        if (update_args->role_option->count() > 0 &&
            !admin::ParseRole(update_args->role).has_value()) {
          Fail(InvalidArgument("--role must be operator, institution-admin or auditor, not '" +
                               update_args->role + "'"));
        }
      });
  update->add_option("--email", update_args->email, "The user's e-mail address")->required();
  update_args->role_option = update->add_option(
      "--role", update_args->role, "The new role: operator | institution-admin | auditor");
  update_args->institution_option = update->add_option(
      "--institution", update_args->institution,
      "Code of the user's institution (institution-admin only; kept if the role stays "
      "institution-admin, dropped if it becomes another)");
  update_args->name_option =
      update->add_option("--display-name,--name", update_args->name,
                         "The new display name (\"\": the e-mail before '@')");

  AddLeaf(*group, "list", "List users", options, [](AdminSession& s, bool as_json) {
    PrintList(accounts::ToJsonArray(Unwrap(s.accounts().ListUsers(s.actor()))),
              {"email", "name", "role", "institution", "enabled", "must_change_password",
               "last_login_at"},
              as_json);
  });

  auto add_email_leaf = [&](const std::string& name, const std::string& description,
                            std::function<json::object(AdminSession&, const std::string&)> run) {
    auto email = std::make_shared<std::string>();
    CLI::App* leaf = AddLeaf(
        *group, name, description, options,
        [email, run](AdminSession& s, bool as_json) { PrintObject(run(s, *email), as_json); });
    leaf->add_option("--email", *email, "The user's e-mail address")->required();
  };
  add_email_leaf("disable", "Disable a user: its sessions end and its API tokens stop working",
                 [](AdminSession& s, const std::string& email) {
                   return accounts::ToJson(Unwrap(s.accounts().DisableUser(s.actor(), email)));
                 });
  add_email_leaf("enable", "Enable a disabled user again",
                 [](AdminSession& s, const std::string& email) {
                   return accounts::ToJson(Unwrap(s.accounts().EnableUser(s.actor(), email)));
                 });
  add_email_leaf(
      "reset-password", "Give a user a new one-time password (printed once); its sessions end",
      [](AdminSession& s, const std::string& email) {
        std::string password = Unwrap(s.accounts().ResetPassword(s.actor(), email));
        json::object out = accounts::ToJson(Unwrap(s.accounts().GetUser(s.actor(), email)));
        out["one_time_password"] = password;
        WarnOneTimePassword();
        return out;
      });
}

// The cluster's key-encryption key (--kek-file) and its database with secrets in it.
std::pair<std::string, std::unique_ptr<store::Database>> OpenClusterSecrets(
    const AdminOptions& options) {
  if (options.kek_file.empty()) {
    Fail(InvalidArgument(
        "the cluster's bus key is sealed: give its key-encryption key file (--kek-file)"));
  }
  std::string kek = Unwrap(cluster::LoadKeyEncryptionKey(options.kek_file, false));
  std::unique_ptr<store::Database> db = OpenCluster(options);
  if (Unwrap(store::SchemaVersion(*db, "cluster")) == 0) {
    Fail(FailedPrecondition("the cluster has no secrets yet: run `govesb cluster init` first"));
  }
  return {std::move(kek), std::move(db)};
}

// A result of the cluster's secrets, a wrong key file said as such.
template <typename T>
T UnwrapSecret(const AdminOptions& options, Result<T> result) {
  if (result.status().code() == StatusCode::kBadSignature) {
    Fail(Status(StatusCode::kBadSignature,
                "the key-encryption key file " + options.kek_file +
                    " does not open the cluster's secrets (another cluster's file?)"));
  }
  return Unwrap(std::move(result));
}

// Records an admin action of the operator at this machine in `db` (the registry's database).
Status RecordLocalAction(store::Database& db, const admin::Change& change) {
  GOVESB_RETURN_IF_ERROR(admin::MigrateAdminStore(db));
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  GOVESB_RETURN_IF_ERROR(
      admin::RecordAction(db, admin::Actor::LocalOperator(), now, change).status());
  return txn.Commit();
}

// Where `admin esb-key` finds the keys: the data directory's key ring file, or the cluster's
// sealed key ring (with --kek-file).
EsbKeyWhere EsbKeysOf(const std::shared_ptr<AdminOptions>& options) {
  CheckWhere(*options);
  LogToStderr();
  EsbKeyWhere where;
  where.json = options->json;
  if (options->on_cluster()) {
    where.read = [options] {
      auto [kek, db] = OpenClusterSecrets(*options);
      return UnwrapSecret(*options, cluster::LoadKeyRing(*db, kek));
    };
    where.update = [options](const EsbKeyWhere::Change& change) {
      auto [kek, db] = OpenClusterSecrets(*options);
      return UnwrapSecret(*options, cluster::UpdateKeyRing(*db, kek, change));
    };
    where.record = [options](const admin::Change& change) {
      return RecordLocalAction(*OpenCluster(*options), change);
    };
    where.picked_up_by = "every running node of the cluster within a second";
    return where;
  }
  auto dir = [options] {
    return Unwrap(OpenExistingDataDir(options->data_dir, "govesb admin esb-key"));
  };
  where.read = [dir] { return Unwrap(dir().ReadKeyRing()); };
  where.update = [dir](const EsbKeyWhere::Change& change) {
    return Unwrap(dir().UpdateKeyRing(change));
  };
  where.record = [dir](const admin::Change& change) -> Status {
    GOVESB_ASSIGN_OR_RETURN(auto db, dir().OpenDatabase());
    return RecordLocalAction(*db, change);
  };
  where.picked_up_by = "a running bus on this directory within a second";
  return where;
}

}  // namespace

void AddAdminCommand(CLI::App& app) {
  auto options = std::make_shared<AdminOptions>();
  CLI::App* admin = app.add_subcommand(
      "admin", "Administer the registry in a data directory or a cluster's PostgreSQL");
  admin->require_subcommand(1);
  options->data_dir_option =
      admin->add_option("--data-dir", options->data_dir, "The bus's data directory")
          ->envname("GOVESB_DATA_DIR")
          ->capture_default_str();
  admin->add_option("--postgres", options->postgres,
                    "Instead of --data-dir: the cluster's PostgreSQL (libpq conninfo or "
                    "postgresql:// URL)");
  admin->add_option("--kek-file", options->kek_file,
                    "With --postgres: the cluster's key-encryption key file (for esb-key)");
  admin->add_flag("--json", options->json, "Print JSON (one object, or an array for lists)");
  // Subcommands created below inherit this: options they do not know (--data-dir, --postgres,
  // --kek-file, --json)
  // are passed up, so both may also follow the leaf (`admin system list --json`).
  admin->fallthrough();

  AddInstitutionCommands(*admin, options);
  AddSystemCommands(*admin, options);
  AddApiCommands(*admin, options);
  AddGrantCommands(*admin, options);
  AddTopicCommands(*admin, options);
  AddSubscriptionCommands(*admin, options);
  AddDeliveryCommands(*admin, options);
  AddUserCommands(*admin, options);
  AddComplianceCommand(*admin, options);
  AddEsbKeyCommand(*admin, [options] { return EsbKeysOf(options); });
}

}  // namespace govesb::apps
