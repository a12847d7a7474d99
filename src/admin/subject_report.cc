// A person's access report (AdminService::MakeSubjectReport): the exchanges the evidence log
// holds for an identifier, named from the registry, signed by the bus key.
#include "evidence/subject_report.h"

#include <unordered_map>
#include <utility>

#include "admin/policy.h"
#include "admin/service.h"

namespace govesb::admin {

namespace {

// A party named from the registry's systems (each carries its institution's code and name).
void Name(evidence::ReportParty& party,
          const std::unordered_map<std::string, const registry::System*>& systems) {
  auto it = systems.find(party.client_id);
  if (it == systems.end()) return;  // not in the registry: the report says so
  party.system = it->second->name;
  party.institution_code = it->second->institution_code;
  party.institution = it->second->institution_name;
}

}  // namespace

Result<std::string> AdminService::MakeSubjectReport(const Actor& actor,
                                                    const evidence::SubjectQuery& query) {
  if (actor.role == Role::kInstitutionAdmin) {
    return Denied(actor, "make a person's access report (it lists every institution's exchanges)");
  }
  GOVESB_RETURN_IF_ERROR(evidence::CheckSubjectQuery(query));
  if (signer_ == nullptr) {
    return FailedPrecondition("access reports are not available here: no bus key to sign them");
  }
  GOVESB_ASSIGN_OR_RETURN(evidence::EvidenceStore * store, Evidence());
  GOVESB_ASSIGN_OR_RETURN(std::vector<evidence::SubjectExchange> exchanges,
                          evidence::FindSubjectExchanges(*store, query));
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::System> systems, registry_.ListSystems());
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Api> apis, registry_.ListApis());
  std::unordered_map<std::string, const registry::System*> by_client_id;
  for (const registry::System& s : systems) by_client_id.emplace(s.client_id, &s);
  std::unordered_map<std::string, const registry::Api*> by_code;
  for (const registry::Api& a : apis) by_code.emplace(a.code, &a);
  for (evidence::SubjectExchange& x : exchanges) {
    Name(x.consumer, by_client_id);
    if (x.provider) Name(*x.provider, by_client_id);
    if (auto it = by_code.find(x.api_code); it != by_code.end()) x.api_name = it->second->title;
  }
  evidence::SubjectReport report;
  report.user_id = query.user_id;
  report.from_ms = query.from_ms;
  report.to_ms = query.to_ms;
  report.generated_at_ms = Now();
  report.exchanges = std::move(exchanges);
  return evidence::SignSubjectReport(std::move(report), *signer_);
}

}  // namespace govesb::admin
