// Onboarding: institutions renamed, suspended and resumed; the catalogue entries of APIs and
// topics; APIs and topics disabled and enabled; membership applications of institutions not yet
// on the bus.
#include <string>
#include <utility>

#include "registry/queries.h"
#include "registry/registry.h"
#include "registry/validation.h"

namespace govesb::registry {
namespace {

using internal::Quoted;

// Binds `value` or, when unset, leaves the column as it is ("col = COALESCE(?, col)").
Status BindOptional(store::Statement& stmt, int index, const std::optional<std::string>& value) {
  return value ? stmt.Bind(index, *value) : stmt.BindNull(index);
}

// The catalogue entry, validated and normalised; kInvalidArgument names the wrong field.
Result<ApiDescription> CleanApiDescription(const ApiDescription& in) {
  ApiDescription out;
  if (in.title) {
    if (in.title->find_first_not_of(" \t\r\n") == std::string::npos) {
      out.title = "";
    } else {
      GOVESB_ASSIGN_OR_RETURN(out.title, NormalizeName(*in.title, "the title"));
    }
  }
  if (in.description) {
    GOVESB_ASSIGN_OR_RETURN(out.description, NormalizeText(*in.description, "the description",
                                                           kMaxDescriptionBytes, false));
  }
  if (in.request_example) {
    GOVESB_RETURN_IF_ERROR(
        ValidateJsonText(*in.request_example, "the request example", kMaxExampleBytes));
    out.request_example = in.request_example;
  }
  if (in.response_example) {
    GOVESB_RETURN_IF_ERROR(
        ValidateJsonText(*in.response_example, "the response example", kMaxExampleBytes));
    out.response_example = in.response_example;
  }
  if (in.openapi) {
    GOVESB_RETURN_IF_ERROR(ValidateOpenApiDocument(*in.openapi));
    out.openapi = in.openapi;
  }
  return out;
}

}  // namespace

// ---- institutions ----

Result<Institution> Registry::GetInstitution(std::string_view code) {
  return internal::MustFindInstitution(db_, code);
}

Result<Institution> Registry::RenameInstitution(std::string_view code, std::string_view name) {
  GOVESB_ASSIGN_OR_RETURN(std::string clean_name, NormalizeName(name, "institution name"));
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(Institution institution, internal::MustFindInstitution(db_, code));
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement update,
      db_.Prepare("UPDATE institutions SET name = ?, updated_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(update.Bind(1, clean_name));
  GOVESB_RETURN_IF_ERROR(update.Bind(2, Now()));
  GOVESB_RETURN_IF_ERROR(update.Bind(3, institution.id));
  GOVESB_RETURN_IF_ERROR(update.Run());
  GOVESB_ASSIGN_OR_RETURN(Institution renamed, internal::MustFindInstitution(db_, code));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return renamed;
}

Result<Institution> Registry::SuspendInstitution(std::string_view code) {
  return SetSuspended(code, true);
}

Result<Institution> Registry::ResumeInstitution(std::string_view code) {
  return SetSuspended(code, false);
}

Result<Institution> Registry::SetSuspended(std::string_view code, bool suspended) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(Institution institution, internal::MustFindInstitution(db_, code));
  if (institution.suspended == suspended) {
    return FailedPrecondition("institution " + Quoted(code) +
                              (suspended ? " is already suspended" : " is not suspended"));
  }
  const int64_t now = Now();
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement update,
      db_.Prepare("UPDATE institutions SET suspended = ?, updated_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(update.Bind(1, int64_t{suspended ? 1 : 0}));
  GOVESB_RETURN_IF_ERROR(update.Bind(2, now));
  GOVESB_RETURN_IF_ERROR(update.Bind(3, institution.id));
  GOVESB_RETURN_IF_ERROR(update.Run());
  // Tokens issued before either change die with it (as for a system disabled and enabled).
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement bump,
      db_.Prepare("UPDATE systems SET credential_version = credential_version + 1,"
                  " updated_at = ? WHERE institution_id = ?"));
  GOVESB_RETURN_IF_ERROR(bump.Bind(1, now));
  GOVESB_RETURN_IF_ERROR(bump.Bind(2, institution.id));
  GOVESB_RETURN_IF_ERROR(bump.Run());
  GOVESB_ASSIGN_OR_RETURN(Institution updated, internal::MustFindInstitution(db_, code));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

// ---- the catalogue ----

Result<Api> Registry::DescribeApi(std::string_view api_code, const ApiDescription& description) {
  if (description.empty()) {
    return InvalidArgument(
        "nothing to change: give a title, description, request or response example, or an "
        "OpenAPI document");
  }
  GOVESB_ASSIGN_OR_RETURN(ApiDescription clean, CleanApiDescription(description));
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(Api api, internal::MustFindApi(db_, api_code));
  GOVESB_ASSIGN_OR_RETURN(store::Statement update,
                          db_.Prepare("UPDATE apis SET title = COALESCE(?, title),"
                                      " description = COALESCE(?, description),"
                                      " request_example = COALESCE(?, request_example),"
                                      " response_example = COALESCE(?, response_example),"
                                      " openapi = COALESCE(?, openapi) WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(BindOptional(update, 1, clean.title));
  GOVESB_RETURN_IF_ERROR(BindOptional(update, 2, clean.description));
  GOVESB_RETURN_IF_ERROR(BindOptional(update, 3, clean.request_example));
  GOVESB_RETURN_IF_ERROR(BindOptional(update, 4, clean.response_example));
  GOVESB_RETURN_IF_ERROR(BindOptional(update, 5, clean.openapi));
  GOVESB_RETURN_IF_ERROR(update.Bind(6, api.id));
  GOVESB_RETURN_IF_ERROR(update.Run());
  GOVESB_ASSIGN_OR_RETURN(Api updated,
                          internal::MustFindApi(db_, api_code, internal::ApiDetail::kFull));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

Result<Api> Registry::DisableApi(std::string_view api_code) {
  return SetApiEnabled(api_code, false);
}

Result<Api> Registry::EnableApi(std::string_view api_code) { return SetApiEnabled(api_code, true); }

Result<Api> Registry::SetApiEnabled(std::string_view api_code, bool enabled) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(Api api, internal::MustFindApi(db_, api_code));
  if (api.enabled == enabled) {
    return FailedPrecondition("API " + Quoted(api_code) + " is already " +
                              (enabled ? "enabled" : "disabled"));
  }
  GOVESB_ASSIGN_OR_RETURN(store::Statement update,
                          db_.Prepare("UPDATE apis SET enabled = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(update.Bind(1, int64_t{enabled ? 1 : 0}));
  GOVESB_RETURN_IF_ERROR(update.Bind(2, api.id));
  GOVESB_RETURN_IF_ERROR(update.Run());
  GOVESB_ASSIGN_OR_RETURN(Api updated, internal::MustFindApi(db_, api_code));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

Result<Topic> Registry::DisableTopic(std::string_view topic_code) {
  return SetTopicEnabled(topic_code, false);
}

Result<Topic> Registry::EnableTopic(std::string_view topic_code) {
  return SetTopicEnabled(topic_code, true);
}

Result<Topic> Registry::SetTopicEnabled(std::string_view topic_code, bool enabled) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(Topic topic, internal::MustFindTopic(db_, topic_code));
  if (topic.enabled == enabled) {
    return FailedPrecondition("push topic " + Quoted(topic_code) + " is already " +
                              (enabled ? "enabled" : "disabled"));
  }
  GOVESB_ASSIGN_OR_RETURN(store::Statement update,
                          db_.Prepare("UPDATE topics SET enabled = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(update.Bind(1, int64_t{enabled ? 1 : 0}));
  GOVESB_RETURN_IF_ERROR(update.Bind(2, topic.id));
  GOVESB_RETURN_IF_ERROR(update.Run());
  GOVESB_ASSIGN_OR_RETURN(Topic updated, internal::MustFindTopic(db_, topic_code));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

Result<Topic> Registry::DescribeTopic(std::string_view topic_code,
                                      const TopicDescription& description) {
  if (!description.title && !description.description && !description.message_example) {
    return InvalidArgument("nothing to change: give a title, description or message example");
  }
  TopicDescription clean;
  if (description.title) {
    if (description.title->find_first_not_of(" \t\r\n") == std::string::npos) {
      clean.title = "";
    } else {
      GOVESB_ASSIGN_OR_RETURN(clean.title, NormalizeName(*description.title, "the title"));
    }
  }
  if (description.description) {
    GOVESB_ASSIGN_OR_RETURN(
        clean.description,
        NormalizeText(*description.description, "the description", kMaxDescriptionBytes, false));
  }
  if (description.message_example) {
    GOVESB_RETURN_IF_ERROR(
        ValidateJsonText(*description.message_example, "the message example", kMaxExampleBytes));
    clean.message_example = description.message_example;
  }
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(Topic topic, internal::MustFindTopic(db_, topic_code));
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement update,
      db_.Prepare("UPDATE topics SET title = COALESCE(?, title),"
                  " description = COALESCE(?, description),"
                  " message_example = COALESCE(?, message_example) WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(BindOptional(update, 1, clean.title));
  GOVESB_RETURN_IF_ERROR(BindOptional(update, 2, clean.description));
  GOVESB_RETURN_IF_ERROR(BindOptional(update, 3, clean.message_example));
  GOVESB_RETURN_IF_ERROR(update.Bind(4, topic.id));
  GOVESB_RETURN_IF_ERROR(update.Run());
  GOVESB_ASSIGN_OR_RETURN(Topic updated, internal::MustFindTopic(db_, topic_code));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return updated;
}

// ---- membership applications ----

namespace {

Result<NewApplication> CleanApplication(const NewApplication& in) {
  NewApplication out;
  GOVESB_RETURN_IF_ERROR(ValidateInstitutionCode(in.institution_code));
  out.institution_code = in.institution_code;
  GOVESB_ASSIGN_OR_RETURN(out.institution_name,
                          NormalizeName(in.institution_name, "institution name"));
  GOVESB_ASSIGN_OR_RETURN(out.details, NormalizeText(in.details, "the details of the institution",
                                                     kMaxDescriptionBytes, /*required=*/true));
  GOVESB_ASSIGN_OR_RETURN(out.contact_name, NormalizeName(in.contact_name, "the contact's name"));
  GOVESB_RETURN_IF_ERROR(ValidateEmail(in.contact_email, "contact e-mail address"));
  out.contact_email = in.contact_email;
  GOVESB_RETURN_IF_ERROR(ValidatePhone(in.contact_phone));
  out.contact_phone = in.contact_phone;
  if (in.planned_systems.empty()) {
    return InvalidArgument("name at least one system the institution plans to connect");
  }
  if (in.planned_systems.size() > kMaxPlannedSystems) {
    return InvalidArgument("at most " + std::to_string(kMaxPlannedSystems) +
                           " planned systems per application");
  }
  for (const PlannedSystem& p : in.planned_systems) {
    PlannedSystem clean;
    GOVESB_ASSIGN_OR_RETURN(clean.name, NormalizeName(p.name, "a planned system's name"));
    GOVESB_ASSIGN_OR_RETURN(
        clean.description,
        NormalizeText(p.description, "the description of planned system '" + clean.name + "'",
                      kMaxReasonBytes, /*required=*/false));
    out.planned_systems.push_back(std::move(clean));
  }
  return out;
}

Result<MembershipApplication> MustFindApplication(store::Database& db, int64_t id) {
  GOVESB_ASSIGN_OR_RETURN(std::optional<MembershipApplication> found,
                          internal::FindApplication(db, id));
  if (!found.has_value()) {
    return NotFound("membership application " + std::to_string(id) + " not found");
  }
  return std::move(*found);
}

Status RequirePending(const MembershipApplication& a) {
  if (a.state != kApplicationPending) {
    return FailedPrecondition("membership application " + std::to_string(a.id) + " was already " +
                              a.state);
  }
  return Status::Ok();
}

}  // namespace

Result<MembershipApplication> Registry::SubmitApplication(const NewApplication& application) {
  GOVESB_ASSIGN_OR_RETURN(NewApplication clean, CleanApplication(application));
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(std::optional<Institution> existing,
                          internal::FindInstitution(db_, clean.institution_code));
  if (existing.has_value()) {
    return AlreadyExists("institution code " + Quoted(clean.institution_code) +
                         " is already on the bus; choose another code");
  }
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement pending,
      db_.Prepare("SELECT count(*),"
                  " coalesce(sum(CASE WHEN institution_code = ? THEN 1 ELSE 0 END), 0)"
                  " FROM membership_applications WHERE state = 'pending'"));
  GOVESB_RETURN_IF_ERROR(pending.Bind(1, clean.institution_code));
  GOVESB_ASSIGN_OR_RETURN(bool has_row, pending.Step());
  if (has_row && pending.ColumnInt64(1) > 0) {
    return AlreadyExists("an application for institution code " + Quoted(clean.institution_code) +
                         " is already pending");
  }
  if (has_row && pending.ColumnInt64(0) >= kMaxPendingApplications) {
    return ResourceExhausted(
        "too many membership applications are waiting for a decision; try "
        "again later");
  }
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement insert,
      db_.Prepare("INSERT INTO membership_applications(institution_code, institution_name,"
                  " details, contact_name, contact_email, contact_phone, planned_systems, state,"
                  " submitted_at) VALUES(?, ?, ?, ?, ?, ?, ?, 'pending', ?) RETURNING id"));
  GOVESB_RETURN_IF_ERROR(insert.Bind(1, clean.institution_code));
  GOVESB_RETURN_IF_ERROR(insert.Bind(2, clean.institution_name));
  GOVESB_RETURN_IF_ERROR(insert.Bind(3, clean.details));
  GOVESB_RETURN_IF_ERROR(insert.Bind(4, clean.contact_name));
  GOVESB_RETURN_IF_ERROR(insert.Bind(5, clean.contact_email));
  GOVESB_RETURN_IF_ERROR(insert.Bind(6, clean.contact_phone));
  GOVESB_RETURN_IF_ERROR(insert.Bind(7, internal::PlannedSystemsJson(clean.planned_systems)));
  GOVESB_RETURN_IF_ERROR(insert.Bind(8, Now()));
  GOVESB_ASSIGN_OR_RETURN(bool inserted, insert.Step());
  if (!inserted) return Internal("the new membership application got no id");
  const int64_t id = insert.ColumnInt64(0);
  GOVESB_RETURN_IF_ERROR(insert.Reset());
  GOVESB_ASSIGN_OR_RETURN(MembershipApplication created, MustFindApplication(db_, id));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return created;
}

Result<std::vector<MembershipApplication>> Registry::ListApplications(std::string_view state) {
  if (!state.empty() && state != kApplicationPending && state != kApplicationAccepted &&
      state != kApplicationRefused) {
    return InvalidArgument("unknown state " + Quoted(state) + ": use pending, accepted or refused");
  }
  return internal::SelectApplications(db_, state);
}

Result<MembershipApplication> Registry::GetApplication(int64_t id) {
  return MustFindApplication(db_, id);
}

Result<AcceptedApplication> Registry::AcceptApplication(int64_t id, std::string_view decided_by) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(MembershipApplication application, MustFindApplication(db_, id));
  GOVESB_RETURN_IF_ERROR(RequirePending(application));
  // Its own savepoint: kAlreadyExists if the code was taken since the application came in.
  GOVESB_ASSIGN_OR_RETURN(Institution institution, AddInstitution(application.institution_code,
                                                                  application.institution_name));
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement update,
      db_.Prepare("UPDATE membership_applications SET state = 'accepted', decided_by = ?,"
                  " decided_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(update.Bind(1, decided_by));
  GOVESB_RETURN_IF_ERROR(update.Bind(2, Now()));
  GOVESB_RETURN_IF_ERROR(update.Bind(3, id));
  GOVESB_RETURN_IF_ERROR(update.Run());
  GOVESB_ASSIGN_OR_RETURN(MembershipApplication accepted, MustFindApplication(db_, id));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return AcceptedApplication{std::move(accepted), std::move(institution)};
}

Result<MembershipApplication> Registry::RefuseApplication(int64_t id,
                                                          const AccessDecision& decision) {
  GOVESB_ASSIGN_OR_RETURN(std::string reason,
                          NormalizeText(decision.reason, "the reason for the refusal",
                                        kMaxReasonBytes, /*required=*/true));
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(MembershipApplication application, MustFindApplication(db_, id));
  GOVESB_RETURN_IF_ERROR(RequirePending(application));
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement update,
      db_.Prepare("UPDATE membership_applications SET state = 'refused', decided_by = ?,"
                  " reason = ?, decided_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(update.Bind(1, decision.decided_by));
  GOVESB_RETURN_IF_ERROR(update.Bind(2, reason));
  GOVESB_RETURN_IF_ERROR(update.Bind(3, Now()));
  GOVESB_RETURN_IF_ERROR(update.Bind(4, id));
  GOVESB_RETURN_IF_ERROR(update.Run());
  GOVESB_ASSIGN_OR_RETURN(MembershipApplication refused, MustFindApplication(db_, id));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return refused;
}

}  // namespace govesb::registry
