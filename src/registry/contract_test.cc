// API contracts in the registry (both backends): published, read back, compiled into the
// snapshot once, refused with the place of the problem while the old contract stays.
#include <gtest/gtest.h>

#include <string>

#include "registry/database_store.h"
#include "registry/registry_testing.h"
#include "registry/snapshot.h"

namespace govesb::registry {
namespace {

using testing::DumpTables;
using testing::NewPublicKey;

constexpr char kRequest[] =
    R"({"type":"object","required":["certificateNo"],)"
    R"("properties":{"certificateNo":{"type":"string","pattern":"^B-[0-9]{4}-[0-9]{6}$"}}})";
constexpr char kResponse[] = R"({"type":"object","required":["name","born"]})";

class ContractTest : public testing::RegistryOnBoth {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.AddInstitution("RITA", "Registration Agency").ok());
    auto provider = registry_.AddSystem("RITA", "Births", NewPublicKey(), "https://rita/api");
    ASSERT_TRUE(provider.ok());
    ASSERT_TRUE(registry_.AddApi(provider->system.client_id, "BRTH01").ok());
  }

  std::shared_ptr<const Snapshot> Load(const Snapshot* previous = nullptr) {
    auto rows = internal::ReadRegistryRows(*db_);
    GOVESB_CHECK(rows.ok());
    return Snapshot::Build(std::move(rows).value(), previous);
  }

  template <typename T>
  void ExpectRefused(const Result<T>& result, const std::string& before, std::string_view text) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status().ToString();
    EXPECT_NE(result.status().message().find(text), std::string::npos) << result.status().message();
    EXPECT_EQ(DumpTables(*db_), before) << "a refused contract changed the registry";
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, ContractTest, store::testing::BothBackends(),
                         store::testing::BackendName);

TEST_P(ContractTest, PublishedSchemasAreReadBackAndCompiledIntoTheSnapshot) {
  auto api = registry_.SetApiContract("BRTH01",
                                      {.request_schema = kRequest, .response_schema = kResponse});
  ASSERT_TRUE(api.ok()) << api.status().ToString();
  EXPECT_EQ(api->request_schema, kRequest);
  EXPECT_EQ(api->response_schema, kResponse);
  EXPECT_EQ(registry_.GetApi("BRTH01")->request_schema, kRequest);
  EXPECT_EQ((*registry_.ListApis())[0].response_schema, kResponse);

  auto snapshot = Load();
  const Api* in_snapshot = snapshot->FindApi("BRTH01");
  ASSERT_NE(in_snapshot, nullptr);
  ASSERT_NE(in_snapshot->request_contract, nullptr);
  ASSERT_NE(in_snapshot->response_contract, nullptr);
  EXPECT_TRUE(in_snapshot->contract_error.empty());
  EXPECT_EQ(in_snapshot->request_contract->text(), kRequest);
  EXPECT_TRUE(in_snapshot->request_schema.empty());  // held once, by the compiled schema
  auto verdict = in_snapshot->request_contract->Validate(R"({"certificateNo":"B-17"})");
  ASSERT_TRUE(verdict.ok());
  ASSERT_TRUE(verdict->has_value());
  EXPECT_EQ((*verdict)->ToString(), "/certificateNo: does not match pattern ^B-[0-9]{4}-[0-9]{6}$");

  // A rebuild compiles only what changed.
  auto again = Load(snapshot.get());
  EXPECT_EQ(again->FindApi("BRTH01")->request_contract, in_snapshot->request_contract);
  ASSERT_TRUE(registry_.SetApiContract("BRTH01", {.response_schema = R"({"type":"object"})"}).ok());
  auto changed = Load(again.get());
  EXPECT_EQ(changed->FindApi("BRTH01")->request_contract, in_snapshot->request_contract);
  EXPECT_NE(changed->FindApi("BRTH01")->response_contract, in_snapshot->response_contract);
  EXPECT_EQ(changed->FindApi("BRTH01")->response_contract->text(), R"({"type":"object"})");
}

TEST_P(ContractTest, UnsetMembersStayAndAnEmptyTextRemovesOne) {
  ASSERT_TRUE(
      registry_.SetApiContract("BRTH01", {.request_schema = kRequest, .response_schema = kResponse})
          .ok());
  auto cleared = registry_.SetApiContract("BRTH01", {.response_schema = ""});
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->request_schema, kRequest);
  EXPECT_EQ(cleared->response_schema, "");
  auto snapshot = Load();
  EXPECT_NE(snapshot->FindApi("BRTH01")->request_contract, nullptr);
  EXPECT_EQ(snapshot->FindApi("BRTH01")->response_contract, nullptr);
  ASSERT_TRUE(registry_.SetApiContract("BRTH01", {.request_schema = ""}).ok());
  EXPECT_EQ(Load()->FindApi("BRTH01")->request_contract, nullptr);
}

TEST_P(ContractTest, AnInvalidSchemaIsRefusedWithItsPlaceAndTheOldOneStays) {
  ASSERT_TRUE(registry_.SetApiContract("BRTH01", {.request_schema = kRequest}).ok());
  const std::string before = DumpTables(*db_);
  ExpectRefused(registry_.SetApiContract(
                    "BRTH01", {.request_schema = R"({"properties":{"age":{"minimum":"0"}}})"}),
                before, "the request schema: #/properties/age/minimum: must be a number");
  // A good request schema does not get in beside a bad response schema.
  ExpectRefused(registry_.SetApiContract("BRTH01", {.request_schema = R"({"type":"object"})",
                                                    .response_schema = R"({"type":"strin"})"}),
                before, "the response schema: #/type: unknown type \"strin\"");
  ExpectRefused(registry_.SetApiContract("BRTH01", {.request_schema = "{\"type\":"}), before,
                "the request schema: the schema is not valid JSON");
  ExpectRefused(registry_.SetApiContract("BRTH01", {}), before, "nothing to change");
  EXPECT_EQ(registry_.SetApiContract("NOPE01", {.request_schema = "{}"}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Load()->FindApi("BRTH01")->request_contract->text(), kRequest);
}

TEST_P(ContractTest, ASchemaTooLargeOrTooDeepIsRefused) {
  ASSERT_TRUE(registry_.SetApiContract("BRTH01", {.request_schema = kRequest}).ok());
  const std::string before = DumpTables(*db_);
  const std::string large =
      R"({"description":")" + std::string(256 * 1024, 'x') + R"(","type":"object"})";
  ExpectRefused(registry_.SetApiContract("BRTH01", {.request_schema = large}), before,
                "the request schema: the schema is larger than 256 KB, the limit of this bus");
  std::string deep;
  for (int i = 0; i < 70; ++i) deep += R"({"items":)";
  deep += "{}" + std::string(70, '}');
  ExpectRefused(registry_.SetApiContract("BRTH01", {.response_schema = deep}), before,
                "the response schema: the schema is nested deeper than 64 levels");
}

TEST_P(ContractTest, AStoredSchemaThatNoLongerCompilesFailsClosedForItsApiOnly) {
  ASSERT_TRUE(registry_.SetApiContract("BRTH01", {.request_schema = kRequest}).ok());
  auto provider = registry_.ListSystems();
  ASSERT_TRUE(provider.ok());
  ASSERT_TRUE(registry_.AddApi((*provider)[0].client_id, "OTHER1").ok());
  // As a bus with stricter limits would find it: written behind the registry's back.
  ASSERT_TRUE(
      db_->Exec("UPDATE apis SET request_schema = '{\"$ref\":\"#\"}' WHERE code = 'BRTH01'").ok());
  auto snapshot = Load();
  const Api* broken = snapshot->FindApi("BRTH01");
  EXPECT_EQ(broken->request_contract, nullptr);
  EXPECT_NE(broken->contract_error.find("the request schema: #: refers back to #"),
            std::string::npos)
      << broken->contract_error;
  EXPECT_TRUE(snapshot->FindApi("OTHER1")->contract_error.empty());
}

}  // namespace
}  // namespace govesb::registry
