// API contracts: the JSON Schemas an API's bodies are checked against (Registry::SetApiContract).
#include "registry/queries.h"
#include "registry/registry.h"
#include "registry/validation.h"

namespace govesb::registry {

Result<Api> Registry::SetApiContract(std::string_view api_code, const ApiContract& contract) {
  if (contract.empty()) {
    return InvalidArgument("nothing to change: give a request schema and/or a response schema");
  }
  // Compiled before the transaction: slow work stays out of the write lock, and a schema that is
  // refused changes nothing.
  if (contract.request_schema) {
    GOVESB_RETURN_IF_ERROR(ValidateContractSchema(*contract.request_schema, "the request schema"));
  }
  if (contract.response_schema) {
    GOVESB_RETURN_IF_ERROR(
        ValidateContractSchema(*contract.response_schema, "the response schema"));
  }
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(Api api, internal::MustFindApi(db_, api_code));
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement update,
      db_.Prepare("UPDATE apis SET request_schema = COALESCE(?, request_schema),"
                  " response_schema = COALESCE(?, response_schema)"
                  " WHERE id = ?"));
  auto bind = [&](int index, const std::optional<std::string>& text) -> Status {
    if (!text) return update.BindNull(index);
    return update.Bind(index, std::string_view(*text));
  };
  GOVESB_RETURN_IF_ERROR(bind(1, contract.request_schema));
  GOVESB_RETURN_IF_ERROR(bind(2, contract.response_schema));
  GOVESB_RETURN_IF_ERROR(update.Bind(3, api.id));
  GOVESB_RETURN_IF_ERROR(update.Run());
  GOVESB_ASSIGN_OR_RETURN(Api updated, internal::MustFindApi(db_, api_code));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

}  // namespace govesb::registry
