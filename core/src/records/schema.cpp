#include "fieldcase/record_schema.hpp"

#include <array>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <set>

#include "fieldcase/calendar.hpp"
#include "fieldcase/ids.hpp"
#include "fieldcase/timescales.hpp"

namespace fieldcase {
namespace {

using sv = std::string_view;
using T = FieldType;
using M = Maintained;

// Code lists from the Children in Need census 2024 schema, and our own.
constexpr sv kGender[] = {"0", "1", "2", "9"};
constexpr sv kEthnicity[] = {"WBRI", "WIRI", "WIRT", "WOTH", "WROM", "MWBC", "MWBA",
                             "MWAS", "MOTH", "AIND", "APKN", "ABAN", "AOTH", "BCRB",
                             "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT"};
constexpr sv kDisability[] = {"NONE", "MOB", "HAND", "PC",  "INC", "COMM", "LD",
                              "HEAR", "VIS", "BEH",  "CON", "AUT", "DDA"};
constexpr sv kReferralSource[] = {"1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B",
                                  "3C", "3D", "3E", "3F", "4",  "5A", "5B", "5C",
                                  "5D", "6",  "7",  "8",  "9",  "10"};
constexpr sv kAbuse[] = {"NEG", "PHY", "SAB", "EMO", "MUL"};
constexpr sv kPrimaryNeed[] = {"N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9", "N0"};
constexpr sv kClosure[] = {"RC1", "RC2", "RC3", "RC4", "RC5", "RC6", "RC7", "RC8", "RC9"};
constexpr sv kFactors[] = {"1A", "1B", "1C", "2A", "2B", "2C", "3A", "3B", "3C", "4A", "4B",
                           "4C", "5A", "5B", "5C", "6A", "6B", "6C", "7A", "8B", "8C", "8D",
                           "8E", "8F", "9A", "10A", "11A", "12A", "13A", "14A", "15A", "16A",
                           "17A", "18B", "18C", "19B", "19C", "20", "21", "22A", "23A", "24A"};
constexpr sv kRoles[] = {"social_worker", "team_manager",   "area_manager",
                         "service_lead",  "contact_centre", "administrator"};
constexpr sv kDecision[] = {"referral", "request_for_service", "no_further_action", "early_help"};
constexpr sv kAssessmentKinds[] = {"initial", "core", "single"};
constexpr sv kAssessmentStatus[] = {"draft", "in_progress", "completed", "authorised",
                                    "returned"};
constexpr sv kVisitType[] = {"assessment", "cp_statutory", "lac_statutory", "child_in_need",
                             "other"};
constexpr sv kNoteStatus[] = {"draft", "completed"};
constexpr sv kMediaType[] = {"image/jpeg", "image/png", "application/pdf"};

constexpr std::size_t kLine = 200;
constexpr std::size_t kFreeText = 100'000;
constexpr std::size_t kSignature = 256 * 1024;

constexpr FieldSpec kAuthority[] = {
    {"name", T::text, true},
    {"la_code", T::text, true, {}, 3},
    {"population_under_18", T::integer},
};
constexpr FieldSpec kArea[] = {{"name", T::text, true}, {"authority_id", T::ref}};
constexpr FieldSpec kTeam[] = {{"name", T::text, true}, {"area_id", T::ref, true}};
constexpr FieldSpec kWorker[] = {
    {"name", T::text, true},
    {"role", T::code, true, kRoles},
    {"team_id", T::ref},
    {"active", T::boolean},
};
constexpr FieldSpec kChild[] = {
    {"local_id", T::text, true, {}, 50},
    {"first_name", T::text, true},
    {"last_name", T::text, true},
    {"date_of_birth", T::date},
    {"expected_date_of_birth", T::date},
    {"gender", T::code, true, kGender},
    {"ethnicity", T::code, false, kEthnicity},
    {"disabilities", T::codes, false, kDisability},
    {"uasc", T::boolean},
    {"address", T::long_text, false, {}, 1000},
    {"allocated_worker", T::ref},
    {"allocated_team", T::ref},
};
constexpr FieldSpec kContact[] = {
    {"received_at", T::datetime, true},
    {"source", T::code, true, kReferralSource},
    {"decision", T::code, false, kDecision},
    {"decision_at", T::datetime},
    {"summary", T::long_text},
};
constexpr FieldSpec kReferral[] = {
    {"referral_date", T::date, true},
    {"source", T::code, true, kReferralSource},
    {"primary_need", T::code, false, kPrimaryNeed},
    {"closure_date", T::date},
    {"closure_reason", T::code, false, kClosure},
    {"no_further_action", T::boolean},
    {"contact_id", T::ref},
};
constexpr FieldSpec kAssessment[] = {
    {"assessment_kind", T::code, true, kAssessmentKinds},
    {"referral_id", T::ref},
    {"start_date", T::date, true},
    {"due_date", T::date, false, {}, 0, M::derived},
    {"status", T::code, true, kAssessmentStatus},
    {"completed_at", T::datetime},
    {"authorised_at", T::datetime},
    {"authorised_by", T::ref, false, {}, 0, M::by_writer},
    {"factors", T::codes, false, kFactors},
    {"child_development", T::long_text},
    {"parenting_capacity", T::long_text},
    {"family_environment", T::long_text},
    {"shared_with_parents_date", T::date},
    {"signature_strokes", T::long_text, false, {}, kSignature},
    {"signer_name", T::text},
    {"signer_relationship", T::text},
    {"signature_agrees", T::boolean},
    {"signature_comments", T::long_text},
    {"signed_at", T::datetime},
    {"returned_reason", T::long_text},
};
constexpr FieldSpec kVisit[] = {
    {"visit_type", T::code, true, kVisitType},
    {"start_at", T::datetime, true},
    {"end_at", T::datetime},
    {"location", T::text},
    {"child_seen", T::boolean, true},
    {"child_seen_alone", T::boolean},
    {"present", T::long_text, false, {}, 2000},
    {"observations", T::long_text},
    {"recorded_at", T::datetime, false, {}, 0, M::at_creation},
    {"assessment_id", T::ref},
};
constexpr FieldSpec kCaseNote[] = {
    {"contact_at", T::datetime, true},
    {"text", T::long_text, true},
    {"status", T::code, true, kNoteStatus},
    {"completed_at", T::datetime},
    {"corrects", T::ref},
    {"visit_id", T::ref},
};
constexpr FieldSpec kS47[] = {
    {"start_date", T::date, true},
    {"strategy_discussion_date", T::date},
    {"initial_conference_target", T::date, false, {}, 0, M::derived},
    {"initial_conference_date", T::date},
    {"conference_not_required", T::boolean},
};
constexpr FieldSpec kCpPlan[] = {
    {"start_date", T::date, true},
    {"end_date", T::date},
    {"initial_category", T::code, true, kAbuse},
    {"latest_category", T::code, false, kAbuse},
    {"review_dates", T::codes},
};
constexpr FieldSpec kCinPlan[] = {{"start_date", T::date, true}, {"end_date", T::date}};
constexpr FieldSpec kLac[] = {
    {"start_date", T::date, true},
    {"end_date", T::date},
    {"legal_status", T::text, false, {}, 10},
    {"placement_start", T::date},
    {"placement_until_18", T::boolean},
};
constexpr FieldSpec kAttachment[] = {
    {"parent_id", T::ref, true, {}, 0, M::at_creation},
    {"filename", T::text, true, {}, 255},
    {"media_type", T::code, true, kMediaType, 0, M::at_creation},
    {"size_bytes", T::integer, true, {}, 0, M::at_creation},
    {"sha256", T::text, true, {}, 64, M::at_creation},
    {"caption", T::text},
};

const std::array<KindSpec, kRecordKindCount> kSpecs{{
    {RecordKind::authority, false, kAuthority},
    {RecordKind::area, false, kArea},
    {RecordKind::team, false, kTeam},
    {RecordKind::worker, false, kWorker},
    {RecordKind::child, true, kChild},
    {RecordKind::contact, true, kContact},
    {RecordKind::referral, true, kReferral},
    {RecordKind::assessment, true, kAssessment},
    {RecordKind::visit, true, kVisit},
    {RecordKind::case_note, true, kCaseNote},
    {RecordKind::s47_enquiry, true, kS47},
    {RecordKind::cp_plan, true, kCpPlan},
    {RecordKind::cin_plan, true, kCinPlan},
    {RecordKind::lac_episode, true, kLac},
    {RecordKind::attachment, true, kAttachment},
}};

Status fail(RecordKind kind, std::string_view field, std::string_view rule) {
  std::string msg(to_string(kind));
  msg += '.';
  msg += field;
  msg += ": ";
  msg += rule;
  return {Errc::validation, std::move(msg)};
}

bool in_list(std::span<const sv> list, std::string_view v) {
  for (sv x : list) {
    if (x == v) return true;
  }
  return false;
}

std::size_t default_limit(FieldType t) {
  return t == FieldType::long_text ? kFreeText : kLine;
}

Status check_field(RecordKind kind, const FieldSpec& spec, const Value& v) {
  if (is_null(v)) return {};
  auto text = std::get_if<std::string>(&v);
  switch (spec.type) {
    case T::text:
    case T::long_text: {
      if (!text) return fail(kind, spec.name, "must be text");
      if (!is_valid_utf8(*text)) return fail(kind, spec.name, "is not valid UTF-8");
      std::size_t limit = spec.max_bytes != 0 ? spec.max_bytes : default_limit(spec.type);
      if (text->size() > limit) {
        return fail(kind, spec.name, "is longer than " + std::to_string(limit) + " bytes");
      }
      if (spec.type == T::text) {
        for (unsigned char c : *text) {
          if (c < 0x20 || c == 0x7f) return fail(kind, spec.name, "contains control characters");
        }
      }
      return {};
    }
    case T::date:
      if (!text || !Date::parse(*text).ok()) {
        return fail(kind, spec.name, "must be a date (YYYY-MM-DD)");
      }
      return {};
    case T::datetime:
      if (!text || !is_iso_datetime(*text)) {
        return fail(kind, spec.name, "must be a UTC date and time (YYYY-MM-DDTHH:MM:SSZ)");
      }
      return {};
    case T::boolean:
      if (!std::holds_alternative<bool>(v)) return fail(kind, spec.name, "must be true or false");
      return {};
    case T::integer:
      if (!std::holds_alternative<std::int64_t>(v)) {
        return fail(kind, spec.name, "must be a whole number");
      }
      return {};
    case T::code:
      if (!text || !in_list(spec.allowed, *text)) {
        return fail(kind, spec.name, "is not one of the allowed codes");
      }
      return {};
    case T::codes: {
      auto list = std::get_if<CodeList>(&v);
      if (!list) return fail(kind, spec.name, "must be a list");
      if (list->size() > 100) return fail(kind, spec.name, "has too many entries");
      std::set<std::string_view> seen;
      for (const auto& c : *list) {
        bool ok = spec.allowed.empty() ? Date::parse(c).ok() : in_list(spec.allowed, c);
        if (!ok) {
          return fail(kind, spec.name,
                      spec.allowed.empty() ? "entries must be dates (YYYY-MM-DD)"
                                           : "contains a code that is not allowed: " + c);
        }
        if (!seen.insert(c).second) return fail(kind, spec.name, "contains a duplicate: " + c);
      }
      return {};
    }
    case T::ref:
      if (!text || !is_uuid(*text)) return fail(kind, spec.name, "must be a record id");
      return {};
  }
  return {};
}

std::optional<Date> date_of(const Fields& f, std::string_view name) {
  auto t = text_of(f, name);
  if (!t) return std::nullopt;
  auto d = Date::parse(*t);
  return d.ok() ? std::optional<Date>(*d) : std::nullopt;
}

std::optional<std::int64_t> time_of(const Fields& f, std::string_view name) {
  auto t = text_of(f, name);
  return t ? parse_iso_datetime(*t) : std::nullopt;
}

// a <= b when both are present.
Status not_before(RecordKind kind, const Fields& f, std::string_view later,
                  std::string_view earlier, bool later_is_time, bool earlier_is_time) {
  std::optional<std::int64_t> a, b;
  auto as_days = [](std::optional<Date> d) -> std::optional<std::int64_t> {
    return d ? std::optional<std::int64_t>(d->days_since_epoch()) : std::nullopt;
  };
  a = later_is_time ? time_of(f, later) : as_days(date_of(f, later));
  b = earlier_is_time ? time_of(f, earlier) : as_days(date_of(f, earlier));
  if (!a || !b) return {};
  // Compare at day resolution when either side is a date.
  if (later_is_time != earlier_is_time) {
    if (later_is_time) *a = *a / 86400 - (*a < 0 && *a % 86400 != 0);
    if (earlier_is_time) *b = *b / 86400 - (*b < 0 && *b % 86400 != 0);
  }
  if (*a < *b) return fail(kind, later, "must not be before " + std::string(earlier));
  return {};
}

Status not_in_future(RecordKind kind, const Fields& f, std::string_view name,
                     const ValidationContext& ctx, bool is_time) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 (ctx.now + ctx.future_tolerance).time_since_epoch())
                 .count();
  if (is_time) {
    auto t = time_of(f, name);
    if (t && *t > now) return fail(kind, name, "must not be in the future");
  } else if (auto d = date_of(f, name)) {
    if (std::int64_t{d->days_since_epoch()} * 86400 > now) {
      return fail(kind, name, "must not be in the future");
    }
  }
  return {};
}

Status kind_rules(const Record& r, const ValidationContext& ctx) {
  const Fields& f = r.fields;
  switch (r.kind) {
    case RecordKind::authority: {
      auto code = text_of(f, "la_code");
      if (code && (code->size() != 3 || code->find_first_not_of("0123456789") != sv::npos)) {
        return fail(r.kind, "la_code", "must be three digits");
      }
      return {};
    }
    case RecordKind::child:
      if (!text_of(f, "date_of_birth") && !text_of(f, "expected_date_of_birth")) {
        return fail(r.kind, "date_of_birth", "is required (or an expected date of birth)");
      }
      return not_in_future(r.kind, f, "date_of_birth", ctx, false);
    case RecordKind::contact:
      FC_TRY(not_in_future(r.kind, f, "received_at", ctx, true));
      FC_TRY(not_in_future(r.kind, f, "decision_at", ctx, true));
      return not_before(r.kind, f, "decision_at", "received_at", true, true);
    case RecordKind::referral:
      FC_TRY(not_before(r.kind, f, "closure_date", "referral_date", false, false));
      if (text_of(f, "closure_date") && !text_of(f, "closure_reason")) {
        return fail(r.kind, "closure_reason", "is required when the referral is closed");
      }
      return {};
    case RecordKind::assessment: {
      FC_TRY(not_before(r.kind, f, "completed_at", "start_date", true, false));
      FC_TRY(not_before(r.kind, f, "authorised_at", "completed_at", true, true));
      FC_TRY(not_in_future(r.kind, f, "completed_at", ctx, true));
      FC_TRY(not_in_future(r.kind, f, "authorised_at", ctx, true));
      FC_TRY(not_in_future(r.kind, f, "signed_at", ctx, true));
      auto status = text_of(f, "status").value_or("");
      std::string_view before = kAssessmentDraft;
      if (ctx.before != nullptr) before = text_of(ctx.before->fields, "status").value_or("draft");
      if (ctx.before == nullptr && status != kAssessmentDraft &&
          status != kAssessmentInProgress) {
        return fail(r.kind, "status", "a new assessment starts as draft or in_progress");
      }
      if (ctx.before != nullptr) {
        Status t = check_assessment_transition(before, status, ctx.role);
        if (!t.ok()) return fail(r.kind, "status", t.message());
        // Completion and authorisation are facts: once recorded they do not change.
        if (before == kAssessmentAuthorised) {
          return fail(r.kind, "status", "an authorised assessment cannot be changed");
        }
      }
      // A completed assessment is what the manager authorises, and its completion time is
      // what timeliness is measured by: it stays as completed until a manager authorises it
      // (adding the authorisation) or returns it for amendment (with a reason, clearing the
      // completion).
      if (ctx.before != nullptr && before == kAssessmentCompleted) {
        const Fields& was = ctx.before->fields;
        auto may_change = [&](sv name) {
          if (name == "status" || name == "authorised_at" || name == "authorised_by") return true;
          // Derived fields change only with the fields they derive from, which are named.
          if (const FieldSpec* fs = find_field(kind_spec(r.kind), name); fs && fs->maintained == Maintained::derived) {
            return true;
          }
          return status == kAssessmentReturned &&
                 (name == "completed_at" || name == "returned_reason");
        };
        auto changed = [&](const std::string& name) {
          auto a = f.find(name);
          auto b = was.find(name);
          if (a == f.end() || b == was.end()) return (a == f.end()) != (b == was.end());
          return a->second != b->second;
        };
        for (const Fields* side : {&f, &was}) {
          for (const auto& [name, value] : *side) {
            if (!may_change(name) && changed(name)) {
              return fail(r.kind, name,
                          "cannot be changed once the assessment is completed; a manager can "
                          "return it for amendment");
            }
          }
        }
      }
      const bool completed = status == kAssessmentCompleted || status == kAssessmentAuthorised;
      if (completed != text_of(f, "completed_at").has_value()) {
        return fail(r.kind, "completed_at",
                    completed ? "is required once the assessment is completed"
                              : "is only set when the assessment is completed");
      }
      if (!ctx.writer_id.empty()) {
        auto by = text_of(f, "authorised_by");
        auto was = ctx.before != nullptr ? text_of(ctx.before->fields, "authorised_by")
                                         : std::optional<sv>{};
        if (by && by != was && *by != ctx.writer_id) {
          return fail(r.kind, "authorised_by", "must name the manager who authorises");
        }
      }
      for (sv field : {sv("authorised_at"), sv("authorised_by")}) {
        const bool authorised = status == kAssessmentAuthorised;
        if (authorised != text_of(f, field).has_value()) {
          return fail(r.kind, field,
                      authorised ? "is required once the assessment is authorised"
                                 : "is only set when a manager authorises the assessment");
        }
      }
      return {};
    }
    case RecordKind::visit: {
      FC_TRY(not_before(r.kind, f, "end_at", "start_at", true, true));
      FC_TRY(not_in_future(r.kind, f, "start_at", ctx, true));
      if (ctx.before == nullptr) {
        // recorded_at is when the visit first reached a record: not in the future, and not
        // before the visit started (a start up to future_tolerance ahead is allowed). Checked
        // on creation only, the one time it is set (start_at may be corrected later).
        FC_TRY(not_in_future(r.kind, f, "recorded_at", ctx, true));
        auto recorded = time_of(f, "recorded_at");
        auto start = time_of(f, "start_at");
        const auto tolerance =
            std::chrono::duration_cast<std::chrono::seconds>(ctx.future_tolerance).count();
        if (recorded && start && *recorded < *start - tolerance) {
          return fail(r.kind, "recorded_at", "must not be before start_at");
        }
      }
      if (bool_of(f, "child_seen_alone").value_or(false) && !bool_of(f, "child_seen").value_or(false)) {
        return fail(r.kind, "child_seen_alone", "cannot be true when the child was not seen");
      }
      return {};
    }
    case RecordKind::case_note:
      if (ctx.before != nullptr &&
          text_of(ctx.before->fields, "status").value_or("") == "completed") {
        return fail(r.kind, "text",
                    "a completed note cannot be changed; append a correction instead");
      }
      if (const bool completed = text_of(f, "status").value_or("") == "completed";
          completed != text_of(f, "completed_at").has_value()) {
        return fail(r.kind, "completed_at",
                    completed ? "is required once the note is completed"
                              : "is only set when the note is completed");
      }
      FC_TRY(not_before(r.kind, f, "completed_at", "contact_at", true, true));
      FC_TRY(not_in_future(r.kind, f, "completed_at", ctx, true));
      return not_in_future(r.kind, f, "contact_at", ctx, true);
    case RecordKind::s47_enquiry:
      FC_TRY(not_before(r.kind, f, "strategy_discussion_date", "start_date", false, false));
      return not_before(r.kind, f, "initial_conference_date", "start_date", false, false);
    case RecordKind::cp_plan:
    case RecordKind::cin_plan:
    case RecordKind::lac_episode:
      FC_TRY(not_before(r.kind, f, "end_date", "start_date", false, false));
      if (r.kind == RecordKind::lac_episode) {
        return not_before(r.kind, f, "placement_start", "start_date", false, false);
      }
      return {};
    case RecordKind::attachment: {
      auto size = int_of(f, "size_bytes");
      if (size && (*size < 0 || static_cast<std::uint64_t>(*size) > kMaxAttachmentBytes)) {
        return fail(r.kind, "size_bytes", "is over the attachment size limit");
      }
      if (auto name = text_of(f, "filename")) FC_TRY(check_attachment_name(*name));
      auto sha = text_of(f, "sha256");
      if (sha && (sha->size() != 64 || sha->find_first_not_of("0123456789abcdef") != sv::npos)) {
        return fail(r.kind, "sha256", "must be 64 lower-case hex digits");
      }
      return {};
    }
    default: return {};
  }
}

}  // namespace

const KindSpec& kind_spec(RecordKind kind) { return kSpecs[static_cast<std::size_t>(kind)]; }

Status check_attachment_name(std::string_view name) {
  auto bad = [](std::string_view rule) { return fail(RecordKind::attachment, "filename", rule); };
  constexpr std::string_view kPlain = "must be a plain file name";
  if (name.empty()) return bad(kPlain);
  if (name.size() > kMaxAttachmentNameBytes) return bad("is longer than 255 bytes");
  if (!is_valid_utf8(name)) return bad("is not valid UTF-8");
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) return bad("contains control characters");
    // C1 controls U+0080..U+009F are encoded as C2 80..C2 9F.
    if (c == 0xc2 && i + 1 < name.size()) {
      const auto n = static_cast<unsigned char>(name[i + 1]);
      if (n >= 0x80 && n <= 0x9f) return bad("contains control characters");
    }
    if (c == '/' || c == '\\' || c == ':') return bad(kPlain);
  }
  if (name.front() == '.' || name.back() == '.' || name.back() == ' ') return bad(kPlain);
  return {};
}

const FieldSpec* find_field(const KindSpec& spec, std::string_view name) {
  for (const auto& f : spec.fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Status check_assessment_transition(std::string_view from, std::string_view to, Role role) {
  if (from == to) return {};
  const bool manager = is_manager(role);
  auto allowed = [&]() -> bool {
    if (from == kAssessmentDraft) return to == kAssessmentInProgress || to == kAssessmentCompleted;
    if (from == kAssessmentInProgress) return to == kAssessmentCompleted;
    if (from == kAssessmentCompleted) {
      return manager && (to == kAssessmentAuthorised || to == kAssessmentReturned);
    }
    if (from == kAssessmentReturned) {
      return to == kAssessmentInProgress || to == kAssessmentCompleted;
    }
    return false;  // authorised is final
  }();
  if (allowed) return {};
  if (from == kAssessmentCompleted &&
      (to == kAssessmentAuthorised || to == kAssessmentReturned) && !manager) {
    return {Errc::validation, "only a manager can " +
                                  std::string(to == kAssessmentAuthorised ? "authorise"
                                                                          : "return") +
                                  " an assessment"};
  }
  return {Errc::validation,
          "cannot move an assessment from " + std::string(from) + " to " + std::string(to)};
}

Status validate_record(const Record& record, const ValidationContext& context) {
  const KindSpec& spec = kind_spec(record.kind);
  if (spec.case_scoped && !is_uuid(record.case_id) && record.kind != RecordKind::child) {
    return fail(record.kind, "case_id", "must name the child's case");
  }
  for (const auto& [name, value] : record.fields) {
    const FieldSpec* fs = find_field(spec, name);
    if (fs == nullptr) return fail(record.kind, name, "is not a field of this kind of record");
    FC_TRY(check_field(record.kind, *fs, value));
  }
  for (const auto& fs : spec.fields) {
    if (!fs.required) continue;
    auto it = record.fields.find(fs.name);
    if (it == record.fields.end() || is_null(it->second)) return fail(record.kind, fs.name, "is required");
  }
  return kind_rules(record, context);
}

bool is_valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong encodings, surrogates and values beyond Unicode are invalid.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

std::optional<std::int64_t> parse_iso_datetime(std::string_view t) noexcept {
  // YYYY-MM-DDTHH:MM:SS[.fff]Z
  if (t.size() != 20 && t.size() != 24) return std::nullopt;
  if (t[10] != 'T' || t[13] != ':' || t[16] != ':' || t.back() != 'Z') return std::nullopt;
  auto date = Date::parse(t.substr(0, 10));
  if (!date.ok()) return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len, int max) -> int {
    int v = 0;
    auto r = std::from_chars(t.data() + pos, t.data() + pos + len, v);
    if (r.ec != std::errc() || r.ptr != t.data() + pos + len || v < 0 || v > max) return -1;
    return v;
  };
  int h = num(11, 2, 23), m = num(14, 2, 59), s = num(17, 2, 59);
  if (h < 0 || m < 0 || s < 0) return std::nullopt;
  if (t.size() == 24 && (t[19] != '.' || num(20, 3, 999) < 0)) return std::nullopt;
  return std::int64_t{date->days_since_epoch()} * 86400 + h * 3600 + m * 60 + s;
}

bool is_iso_datetime(std::string_view text) noexcept {
  return parse_iso_datetime(text).has_value();
}

std::string format_iso_datetime(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000 - (ms % 1000 < 0));
  int frac = static_cast<int>(((ms % 1000) + 1000) % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

}  // namespace fieldcase

namespace fieldcase {

void derive_fields(Record& r, const Timescales& timescales) {
  auto text = [&](std::string_view name) -> std::optional<std::string_view> {
    auto it = r.fields.find(std::string(name));
    if (it == r.fields.end()) return std::nullopt;
    if (auto s = std::get_if<std::string>(&it->second)) return std::string_view(*s);
    return std::nullopt;
  };
  auto put = [&](const char* name, std::optional<Date> value) {
    if (value) {
      r.fields[name] = value->to_string();
    } else {
      r.fields.erase(name);
    }
  };
  switch (r.kind) {
    case RecordKind::assessment: {
      // The due date follows the kind and start, and goes when they give none.
      std::optional<Date> due;
      auto kind = text("assessment_kind");
      auto start = text("start_date");
      if (kind && start) {
        auto k = parse_assessment_kind(*kind);
        auto d = Date::parse(*start);
        if (k.ok() && d.ok()) {
          if (auto got = timescales.assessment_due(*k, *d); got.ok()) due = *got;
        }
      }
      put("due_date", due);
      break;
    }
    case RecordKind::s47_enquiry: {
      // The target follows the strategy discussion, and goes when its date is cleared.
      std::optional<Date> target;
      if (auto sd = text("strategy_discussion_date")) {
        if (auto d = Date::parse(*sd); d.ok()) {
          if (auto got = timescales.initial_conference_due(*d); got.ok()) target = *got;
        }
      }
      put("initial_conference_target", target);
      break;
    }
    default:
      break;
  }
}

}  // namespace fieldcase
