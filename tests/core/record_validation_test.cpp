// Validation of every kind of record: each rule refuses with Errc::validation naming
// "<kind>.<field>" and the rule, and a refused write leaves no record and no change-log entry.
#include <catch2/catch.hpp>

#include <optional>
#include <utility>
#include <vector>

#include "record_fixture.hpp"

using namespace fieldcase;
using namespace fieldcase::test;
using namespace std::chrono_literals;

namespace {

using S = std::string;

// One change to a kind's valid fields: a new value, or (nullopt) the field left out.
using Change = std::pair<std::string, std::optional<Value>>;

struct Bad {
  RecordKind kind;
  std::vector<Change> changes;
  std::string where;  // "<kind>.<field>"
  std::string rule;   // part of the message after "<kind>.<field>: "
};

Fields apply(Fields f, const std::vector<Change>& changes) {
  for (const auto& [name, value] : changes) {
    if (value) {
      f[name] = *value;
    } else {
      f.erase(name);
    }
  }
  return f;
}

std::string case_for(RecordKind kind, const std::string& child) {
  return kind_spec(kind).case_scoped && kind != RecordKind::child ? child : std::string();
}

void check_refusal(const Status& st, const std::string& where, const std::string& rule) {
  INFO(st.to_string());
  CHECK(st.code() == Errc::validation);
  CHECK(st.message().rfind(where + ": ", 0) == 0);
  CHECK(st.message().find(rule) != std::string::npos);
}

// Creates the record, expects the refusal, and checks that nothing at all was written.
void expect_refused(RecordEnv& env, const std::string& child, const Bad& bad) {
  const std::int64_t records = env.record_rows();
  const std::int64_t log = env.log_rows();
  auto r = env.records().create(bad.kind, case_for(bad.kind, child),
                                apply(valid_fields(bad.kind), bad.changes));
  REQUIRE_FALSE(r.ok());
  check_refusal(r.status(), bad.where, bad.rule);
  CHECK(env.record_rows() == records);
  CHECK(env.log_rows() == log);
}

void expect_accepted(RecordEnv& env, const std::string& child, RecordKind kind,
                     const std::vector<Change>& changes) {
  const Fields fields = apply(valid_fields(kind), changes);
  auto r = env.records().create(kind, case_for(kind, child), fields);
  INFO(r.status().to_string());
  REQUIRE(r.ok());
  auto stored = env.records().get(*r);
  REQUIRE(stored.ok());
  REQUIRE(stored->has_value());
  for (const auto& [name, value] : changes) {
    if (!value || is_null(*value)) continue;
    auto it = (**stored).fields.find(name);
    REQUIRE(it != (**stored).fields.end());
    CHECK(it->second == *value);
  }
}

std::vector<Bad> bad_records() {
  using K = RecordKind;
  const auto gone = std::nullopt;
  return {
      // Required fields, left out or explicitly null.
      {K::child, {{"first_name", gone}}, "child.first_name", "is required"},
      {K::child, {{"last_name", Value{}}}, "child.last_name", "is required"},
      {K::child, {{"local_id", gone}}, "child.local_id", "is required"},
      {K::child, {{"gender", gone}}, "child.gender", "is required"},
      {K::child,
       {{"date_of_birth", gone}},
       "child.date_of_birth",
       "is required (or an expected date of birth)"},
      {K::authority, {{"la_code", gone}}, "authority.la_code", "is required"},
      {K::authority, {{"name", gone}}, "authority.name", "is required"},
      {K::area, {{"name", gone}}, "area.name", "is required"},
      {K::team, {{"area_id", gone}}, "team.area_id", "is required"},
      {K::worker, {{"role", gone}}, "worker.role", "is required"},
      {K::contact, {{"received_at", gone}}, "contact.received_at", "is required"},
      {K::contact, {{"source", gone}}, "contact.source", "is required"},
      {K::referral, {{"referral_date", gone}}, "referral.referral_date", "is required"},
      {K::referral, {{"source", Value{}}}, "referral.source", "is required"},
      {K::referral,
       {{"closure_date", S("2027-01-12")}},
       "referral.closure_reason",
       "is required when the referral is closed"},
      {K::assessment, {{"assessment_kind", gone}}, "assessment.assessment_kind", "is required"},
      {K::assessment, {{"start_date", gone}}, "assessment.start_date", "is required"},
      {K::assessment, {{"status", gone}}, "assessment.status", "is required"},
      {K::visit, {{"visit_type", gone}}, "visit.visit_type", "is required"},
      {K::visit, {{"start_at", gone}}, "visit.start_at", "is required"},
      {K::visit, {{"child_seen", gone}}, "visit.child_seen", "is required"},
      {K::case_note, {{"contact_at", gone}}, "case_note.contact_at", "is required"},
      {K::case_note, {{"text", gone}}, "case_note.text", "is required"},
      {K::case_note, {{"status", gone}}, "case_note.status", "is required"},
      {K::s47_enquiry, {{"start_date", gone}}, "s47_enquiry.start_date", "is required"},
      {K::cp_plan, {{"start_date", gone}}, "cp_plan.start_date", "is required"},
      {K::cp_plan, {{"initial_category", gone}}, "cp_plan.initial_category", "is required"},
      {K::cin_plan, {{"start_date", gone}}, "cin_plan.start_date", "is required"},
      {K::lac_episode, {{"start_date", gone}}, "lac_episode.start_date", "is required"},

      // Code lists (the CIN census 2024 lists and our own).
      {K::child, {{"gender", S("3")}}, "child.gender", "is not one of the allowed codes"},
      {K::child, {{"gender", S("")}}, "child.gender", "is not one of the allowed codes"},
      {K::child, {{"gender", std::int64_t{1}}}, "child.gender", "is not one of the allowed codes"},
      {K::child, {{"ethnicity", S("WBRX")}}, "child.ethnicity", "is not one of the allowed codes"},
      {K::child, {{"ethnicity", S("wbri")}}, "child.ethnicity", "is not one of the allowed codes"},
      {K::child,
       {{"disabilities", CodeList{"MOB", "XYZ"}}},
       "child.disabilities",
       "contains a code that is not allowed: XYZ"},
      {K::child, {{"disabilities", S("MOB")}}, "child.disabilities", "must be a list"},
      {K::referral, {{"source", S("1E")}}, "referral.source", "is not one of the allowed codes"},
      {K::referral, {{"source", S("11")}}, "referral.source", "is not one of the allowed codes"},
      {K::contact, {{"source", S("0")}}, "contact.source", "is not one of the allowed codes"},
      {K::contact,
       {{"decision", S("maybe")}},
       "contact.decision",
       "is not one of the allowed codes"},
      {K::referral,
       {{"primary_need", S("N10")}},
       "referral.primary_need",
       "is not one of the allowed codes"},
      {K::referral,
       {{"closure_date", S("2027-01-12")}, {"closure_reason", S("RC10")}},
       "referral.closure_reason",
       "is not one of the allowed codes"},
      {K::assessment,
       {{"factors", CodeList{"1A", "18A"}}},
       "assessment.factors",
       "contains a code that is not allowed: 18A"},
      {K::assessment,
       {{"assessment_kind", S("quick")}},
       "assessment.assessment_kind",
       "is not one of the allowed codes"},
      {K::assessment, {{"status", S("done")}}, "assessment.status", "is not one of the allowed"},
      {K::cp_plan,
       {{"initial_category", S("ABC")}},
       "cp_plan.initial_category",
       "is not one of the allowed codes"},
      {K::cp_plan,
       {{"latest_category", S("neg")}},
       "cp_plan.latest_category",
       "is not one of the allowed codes"},
      {K::visit, {{"visit_type", S("home")}}, "visit.visit_type", "is not one of the allowed"},
      {K::case_note, {{"status", S("final")}}, "case_note.status", "is not one of the allowed"},
      {K::worker, {{"role", S("boss")}}, "worker.role", "is not one of the allowed codes"},

      // Code lists hold distinct values.
      {K::child,
       {{"disabilities", CodeList{"MOB", "HAND", "MOB"}}},
       "child.disabilities",
       "contains a duplicate: MOB"},
      {K::assessment,
       {{"factors", CodeList{"1A", "2B", "1A"}}},
       "assessment.factors",
       "contains a duplicate: 1A"},
      {K::cp_plan,
       {{"review_dates", CodeList{"2026-09-01", "2026-09-01"}}},
       "cp_plan.review_dates",
       "contains a duplicate: 2026-09-01"},
      {K::cp_plan,
       {{"review_dates", CodeList{"2026-9-1"}}},
       "cp_plan.review_dates",
       "entries must be dates (YYYY-MM-DD)"},

      // Value types.
      {K::visit, {{"child_seen", S("yes")}}, "visit.child_seen", "must be true or false"},
      {K::authority,
       {{"population_under_18", S("many")}},
       "authority.population_under_18",
       "must be a whole number"},
      {K::child, {{"first_name", true}}, "child.first_name", "must be text"},
      {K::team, {{"area_id", S("not-a-uuid")}}, "team.area_id", "must be a record id"},
      {K::team,
       {{"area_id", S("0190A000-0000-7000-8000-0000000000A1")}},
       "team.area_id",
       "must be a record id"},

      // Dates: strict YYYY-MM-DD of a day that exists.
      {K::child, {{"date_of_birth", S("2023-02-29")}}, "child.date_of_birth", "must be a date"},
      {K::child, {{"date_of_birth", S("2023-2-1")}}, "child.date_of_birth", "must be a date"},
      {K::child, {{"date_of_birth", S("2023-02-01x")}}, "child.date_of_birth", "must be a date"},
      {K::child, {{"date_of_birth", S(" 2023-02-01")}}, "child.date_of_birth", "must be a date"},
      {K::child, {{"date_of_birth", S("20230201")}}, "child.date_of_birth", "must be a date"},
      {K::child, {{"date_of_birth", S("2023-13-01")}}, "child.date_of_birth", "must be a date"},
      {K::child, {{"date_of_birth", S("2023-04-31")}}, "child.date_of_birth", "must be a date"},
      {K::child,
       {{"date_of_birth", S("2015-03-02T00:00:00Z")}},
       "child.date_of_birth",
       "must be a date"},
      {K::referral,
       {{"referral_date", S("2024-02-30")}},
       "referral.referral_date",
       "must be a date (YYYY-MM-DD)"},

      // Date and time: strict UTC "YYYY-MM-DDTHH:MM:SS[.mmm]Z".
      {K::contact,
       {{"received_at", S("2024-01-01T10:00:00")}},
       "contact.received_at",
       "must be a UTC date and time"},
      {K::contact,
       {{"received_at", S("2024-01-01T10:00:00Zjunk")}},
       "contact.received_at",
       "must be a UTC date and time"},
      {K::contact,
       {{"received_at", S("2024-01-01 10:00:00Z")}},
       "contact.received_at",
       "must be a UTC date and time"},
      {K::contact,
       {{"received_at", S("2024-01-01T24:00:00Z")}},
       "contact.received_at",
       "must be a UTC date and time"},
      {K::contact,
       {{"received_at", S("2024-01-01T10:60:00Z")}},
       "contact.received_at",
       "must be a UTC date and time"},
      {K::contact,
       {{"received_at", S("2024-01-01T10:00:60Z")}},
       "contact.received_at",
       "must be a UTC date and time"},
      {K::contact,
       {{"received_at", S("2023-02-29T10:00:00Z")}},
       "contact.received_at",
       "must be a UTC date and time"},
      {K::contact,
       {{"received_at", S("2024-01-01T10:00:00.5Z")}},
       "contact.received_at",
       "must be a UTC date and time"},
      {K::contact,
       {{"received_at", S("2024-01-01T10:00:00.12aZ")}},
       "contact.received_at",
       "must be a UTC date and time"},
      {K::contact,
       {{"received_at", S("2024-01-01T10:00:00+00:00")}},
       "contact.received_at",
       "must be a UTC date and time"},
      {K::contact,
       {{"received_at", S("2024-01-01t10:00:00z")}},
       "contact.received_at",
       "must be a UTC date and time"},
      {K::contact,
       {{"received_at", S("2024-01-01T-1:00:00Z")}},
       "contact.received_at",
       "must be a UTC date and time"},
      {K::visit, {{"start_at", S("2027-01-14")}}, "visit.start_at", "must be a UTC date and time"},

      // Dates in order.
      {K::visit,
       {{"end_at", S("2027-01-14T09:59:59Z")}},
       "visit.end_at",
       "must not be before start_at"},
      {K::referral,
       {{"closure_date", S("2027-01-09")}, {"closure_reason", S("RC1")}},
       "referral.closure_date",
       "must not be before referral_date"},
      {K::cp_plan,
       {{"end_date", S("2026-05-31")}},
       "cp_plan.end_date",
       "must not be before start_date"},
      {K::cin_plan,
       {{"end_date", S("2026-05-31")}},
       "cin_plan.end_date",
       "must not be before start_date"},
      {K::lac_episode,
       {{"end_date", S("2026-02-28")}},
       "lac_episode.end_date",
       "must not be before start_date"},
      {K::lac_episode,
       {{"placement_start", S("2026-02-28")}},
       "lac_episode.placement_start",
       "must not be before start_date"},
      {K::s47_enquiry,
       {{"initial_conference_date", S("2027-01-04")}},
       "s47_enquiry.initial_conference_date",
       "must not be before start_date"},
      {K::s47_enquiry,
       {{"strategy_discussion_date", S("2027-01-04")}},
       "s47_enquiry.strategy_discussion_date",
       "must not be before start_date"},
      {K::contact,
       {{"decision_at", S("2027-01-14T09:29:59Z")}},
       "contact.decision_at",
       "must not be before received_at"},

      // Nothing is dated in the future (beyond the clock-skew tolerance of ten minutes).
      {K::child,
       {{"date_of_birth", S("2027-01-16")}},
       "child.date_of_birth",
       "must not be in the future"},
      {K::contact,
       {{"received_at", S("2027-01-15T08:10:01Z")}},
       "contact.received_at",
       "must not be in the future"},
      {K::visit,
       {{"start_at", S("2027-01-15T09:00:00Z")}},
       "visit.start_at",
       "must not be in the future"},
      {K::case_note,
       {{"contact_at", S("2027-01-16T00:00:00Z")}},
       "case_note.contact_at",
       "must not be in the future"},
      {K::contact,
       {{"decision_at", S("2027-01-15T09:00:00Z")}, {"decision", S("referral")}},
       "contact.decision_at",
       "must not be in the future"},
      {K::assessment,
       {{"signed_at", S("2027-01-16T09:00:00Z")}},
       "assessment.signed_at",
       "must not be in the future"},

      // Size limits, in bytes.
      {K::child, {{"first_name", S(201, 'a')}}, "child.first_name", "is longer than 200 bytes"},
      {K::child,
       {{"first_name",
         [] {
           std::string s;
           for (int i = 0; i < 101; ++i) s += "\xc3\xa9";  // 101 x U+00E9: 202 bytes
           return Value{s};
         }()}},
       "child.first_name",
       "is longer than 200 bytes"},
      {K::child, {{"local_id", S(51, '7')}}, "child.local_id", "is longer than 50 bytes"},
      {K::child, {{"address", S(1001, 'x')}}, "child.address", "is longer than 1000 bytes"},
      {K::case_note, {{"text", S(100'001, 'x')}}, "case_note.text", "is longer than 100000"},
      {K::authority, {{"la_code", S("1234")}}, "authority.la_code", "is longer than 3 bytes"},

      // One-line text has no control characters.
      {K::child, {{"first_name", S("Amy\nJane")}}, "child.first_name", "contains control"},
      {K::child, {{"first_name", S("Amy\tJane")}}, "child.first_name", "contains control"},
      {K::child, {{"first_name", S("Amy\rJane")}}, "child.first_name", "contains control"},
      {K::child, {{"first_name", S("Amy\x7f")}}, "child.first_name", "contains control"},
      {K::child,
       {{"first_name", S(std::string_view("Amy\0Jane", 8))}},
       "child.first_name",
       "contains control"},
      {K::visit, {{"location", S("Flat\x1b[2J")}}, "visit.location", "contains control"},

      // Text is valid UTF-8.
      {K::child, {{"first_name", S("\xc0\xaf")}}, "child.first_name", "is not valid UTF-8"},
      {K::child, {{"first_name", S("\xe0\x80\xaf")}}, "child.first_name", "is not valid UTF-8"},
      {K::child, {{"first_name", S("\xf0\x80\x80\xaf")}}, "child.first_name", "is not valid UTF-8"},
      {K::child, {{"first_name", S("a\xed\xa0\x80")}}, "child.first_name", "is not valid UTF-8"},
      {K::child, {{"first_name", S("a\xed\xbf\xbf")}}, "child.first_name", "is not valid UTF-8"},
      {K::child, {{"first_name", S("Zo\xc3")}}, "child.first_name", "is not valid UTF-8"},
      {K::child, {{"first_name", S("\xe2\x82")}}, "child.first_name", "is not valid UTF-8"},
      {K::child,
       {{"first_name", S("\xe2\x82"
                         "A")}},
       "child.first_name",
       "is not valid UTF-8"},
      {K::child, {{"first_name", S("\x80")}}, "child.first_name", "is not valid UTF-8"},
      {K::child, {{"first_name", S("\xf4\x90\x80\x80")}}, "child.first_name", "is not valid UTF-8"},
      {K::child,
       {{"first_name", S("\xf8\x88\x80\x80\x80")}},
       "child.first_name",
       "is not valid UTF-8"},
      {K::child, {{"first_name", S("\xff")}}, "child.first_name", "is not valid UTF-8"},
      {K::case_note, {{"text", S("ok \xc0\x80 then")}}, "case_note.text", "is not valid UTF-8"},
      {K::case_note, {{"text", S("cut \xf0\x9f\x98")}}, "case_note.text", "is not valid UTF-8"},

      // A note's completion time belongs to a completed note, after the contact.
      {K::case_note,
       {{"completed_at", S("2027-01-14T12:00:00Z")}},
       "case_note.completed_at",
       "is only set when the note is completed"},
      {K::case_note,
       {{"status", S("completed")}, {"completed_at", S("2027-01-14T09:59:59Z")}},
       "case_note.completed_at",
       "must not be before contact_at"},
      {K::case_note,
       {{"status", S("completed")}, {"completed_at", S("2027-01-15T09:00:00Z")}},
       "case_note.completed_at",
       "must not be in the future"},

      // Rules across fields.
      {K::visit,
       {{"child_seen", false}, {"child_seen_alone", true}},
       "visit.child_seen_alone",
       "cannot be true when the child was not seen"},
      {K::child,
       {{"favourite_colour", S("blue")}},
       "child.favourite_colour",
       "is not a field of this kind of record"},
      {K::visit, {{"", S("x")}}, "visit.", "is not a field of this kind of record"},
      {K::authority, {{"la_code", S("12a")}}, "authority.la_code", "must be three digits"},
      {K::authority, {{"la_code", S("12")}}, "authority.la_code", "must be three digits"},
      {K::authority, {{"la_code", S(" 12")}}, "authority.la_code", "must be three digits"},
      {K::authority, {{"la_code", S("")}}, "authority.la_code", "must be three digits"},
  };
}

}  // namespace

TEST_CASE("every validation rule refuses and writes nothing", "[records][validation]") {
  RecordEnv env;
  const std::string child = env.child();
  const auto all = bad_records();
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Bad& bad = all[i];
    INFO("case " << i << ": " << bad.where << " / " << bad.rule);
    expect_refused(env, child, bad);
  }
  // Only the child was ever written.
  CHECK(env.record_rows() == 1);
}

TEST_CASE("valid records of every kind are accepted", "[records][validation]") {
  RecordEnv env;
  const std::string child = env.child();
  for (int k = 0; k < kRecordKindCount; ++k) {
    const auto kind = static_cast<RecordKind>(k);
    if (kind == RecordKind::attachment) continue;  // written through attach()
    INFO(to_string(kind));
    expect_accepted(env, child, kind, {});
  }
}

TEST_CASE("values at the edge of each rule are accepted", "[records][validation]") {
  RecordEnv env;
  const std::string child = env.child();
  using K = RecordKind;
  // An unborn child: only the expected date of birth, which is in the future.
  expect_accepted(env, child, K::child,
                  {{"date_of_birth", std::nullopt}, {"expected_date_of_birth", S("2027-05-01")}});
  // Born today.
  expect_accepted(env, child, K::child, {{"date_of_birth", S("2027-01-15")}});
  // Within the clock-skew tolerance.
  expect_accepted(env, child, K::contact, {{"received_at", S("2027-01-15T08:09:59Z")}});
  expect_accepted(env, child, K::contact, {{"received_at", S("2027-01-15T08:10:00Z")}});
  expect_accepted(env, child, K::contact,
                  {{"received_at", S("2026-12-01T10:00:00.123Z")},
                   {"decision_at", S("2026-12-01T10:00:00.123Z")},
                   {"decision", S("referral")}});
  // Exactly at the size limits.
  expect_accepted(env, child, K::child, {{"first_name", S(200, 'a')}, {"local_id", S(50, '7')}});
  expect_accepted(env, child, K::authority, {{"la_code", S("007")}});
  // Multibyte UTF-8 of every length, and free text with line breaks and tabs.
  expect_accepted(env, child, K::child,
                  {{"first_name", S("Zo\xc3\xab")},               // Zoë
                   {"last_name", S("\xe6\x97\xa5\xe6\x9c\xac")},  // 日本
                   {"address", S("1 Rue \xe2\x82\xac\n\tFlat \xf0\x9d\x84\x9e")}});
  expect_accepted(env, child, K::child, {{"first_name", S("\xef\xbf\xbd\xf4\x8f\xbf\xbf")}});
  expect_accepted(env, child, K::case_note,
                  {{"text", S("Line one.\nLine two:\t\xf0\x9f\x98\x80\r\n")}});
  // Same-moment end and start; a child seen alone.
  expect_accepted(env, child, K::visit,
                  {{"end_at", S("2027-01-14T10:00:00Z")}, {"child_seen_alone", true}});
  // Every code list has its values accepted, including multi-valued ones.
  expect_accepted(env, child, K::child,
                  {{"gender", S("9")},
                   {"ethnicity", S("NOBT")},
                   {"disabilities", CodeList{"NONE", "MOB", "DDA"}},
                   {"uasc", true}});
  expect_accepted(env, child, K::assessment,
                  {{"factors", CodeList{"1A", "10A", "24A", "20", "21"}}});
  expect_accepted(env, child, K::referral,
                  {{"source", S("10")},
                   {"primary_need", S("N0")},
                   {"closure_date", S("2027-01-10")},
                   {"closure_reason", S("RC9")}});
  expect_accepted(env, child, K::cp_plan,
                  {{"latest_category", S("MUL")},
                   {"review_dates", CodeList{"2026-09-01", "2027-01-05"}},
                   {"end_date", S("2026-06-01")}});
}

TEST_CASE("a case-scoped record must name a child on the device", "[records][validation]") {
  RecordEnv env;
  const std::string child = env.child();
  auto visit = env.records().create(RecordKind::visit, child, valid_fields(RecordKind::visit));
  REQUIRE(visit.ok());
  auto gone = env.child("Gone", "Child");
  REQUIRE(env.records().remove(gone).ok());
  const std::int64_t records = env.record_rows();
  const std::int64_t log = env.log_rows();

  struct Case {
    std::string case_id;
    std::string rule;
  };
  for (const Case& c : std::vector<Case>{
           {"0190a000-0000-7000-8000-0000000000ff", "names no child on this device"},
           {*visit, "names no child on this device"},  // a record that is not a child
           {gone, "names no child on this device"},    // a deleted child
           {"", "must name the child's case"},
           {"not-a-case", "must name the child's case"},
       }) {
    INFO("case_id '" << c.case_id << "'");
    for (RecordKind kind : {RecordKind::visit, RecordKind::case_note, RecordKind::assessment,
                            RecordKind::cp_plan, RecordKind::referral}) {
      auto r = env.records().create(kind, c.case_id, valid_fields(kind));
      REQUIRE_FALSE(r.ok());
      check_refusal(r.status(), std::string(to_string(kind)) + ".case_id", c.rule);
    }
  }
  CHECK(env.record_rows() == records);
  CHECK(env.log_rows() == log);

  // Organisation records belong to no case, whatever the caller passes.
  auto team = env.records().create(RecordKind::team, child, valid_fields(RecordKind::team));
  REQUIRE(team.ok());
  CHECK((*env.records().get(*team))->case_id.empty());
  // A child is its own case.
  auto kid = env.records().create(RecordKind::child, child, child_fields("Ben"));
  REQUIRE(kid.ok());
  CHECK((*env.records().get(*kid))->case_id == *kid);
}

TEST_CASE("a refused update changes nothing", "[records][validation]") {
  RecordEnv env;
  const std::string child = env.child();
  auto before = env.records().get(child);
  REQUIRE(before.ok());
  const std::int64_t log = env.log_rows();
  env.clock.advance(1h);

  struct Upd {
    Fields changes;
    std::string where;
    std::string rule;
  };
  for (const Upd& u : std::vector<Upd>{
           {{{"gender", S("7")}}, "child.gender", "is not one of the allowed codes"},
           {{{"first_name", Value{}}}, "child.first_name", "is required"},
           {{{"date_of_birth", S("2027-02-01")}}, "child.date_of_birth", "must not be in the"},
           {{{"first_name", S("Ok")}, {"last_name", S("Bad\n")}}, "child.last_name", "control"},
           {{{"shoe_size", std::int64_t{3}}}, "child.shoe_size", "is not a field"},
       }) {
    INFO(u.where);
    check_refusal(env.records().update(child, u.changes), u.where, u.rule);
  }
  auto after = env.records().get(child);
  REQUIRE(after.ok());
  CHECK((**after).fields == (**before).fields);
  CHECK((**after).updated_at == (**before).updated_at);
  CHECK(env.log_rows() == log);

  // An update of a record that does not exist.
  CHECK(env.records().update("0190a000-0000-7000-8000-0000000000ff", {{"gender", S("1")}}).code() ==
        Errc::not_found);
}

TEST_CASE("validate_record is usable on its own with a context", "[records][validation]") {
  Record r;
  r.id = "0190a000-0000-7000-8000-000000000001";
  r.kind = RecordKind::visit;
  r.case_id = "0190a000-0000-7000-8000-000000000002";
  r.fields = valid_fields(RecordKind::visit);
  ValidationContext ctx;
  ctx.now = utc("2027-01-15T08:00:00Z");
  CHECK(validate_record(r, ctx).ok());
  // The tolerance is part of the context.
  r.fields["start_at"] = S("2027-01-15T08:30:00Z");
  CHECK(validate_record(r, ctx).code() == Errc::validation);
  ctx.future_tolerance = std::chrono::hours(1);
  CHECK(validate_record(r, ctx).ok());
}

TEST_CASE("an authorisation must name the manager who makes it", "[records][validation]") {
  const std::string manager = "0190a000-0000-7000-8000-0000000000aa";
  const std::string other = "0190a000-0000-7000-8000-0000000000bb";
  Record before;
  before.id = "0190a000-0000-7000-8000-000000000001";
  before.kind = RecordKind::assessment;
  before.case_id = "0190a000-0000-7000-8000-000000000002";
  before.fields = valid_fields(RecordKind::assessment);
  before.fields["status"] = S("completed");
  before.fields["completed_at"] = S("2027-01-14T16:00:00Z");
  Record after = before;
  after.fields["status"] = S("authorised");
  after.fields["authorised_at"] = S("2027-01-15T07:00:00Z");
  after.fields["authorised_by"] = S(other);
  ValidationContext ctx;
  ctx.role = Role::team_manager;
  ctx.now = utc("2027-01-15T08:00:00Z");
  ctx.before = &before;
  // Without a known writer (a check of the record alone) only the shape is checked.
  CHECK(validate_record(after, ctx).ok());
  ctx.writer_id = manager;
  Status forged = validate_record(after, ctx);
  CHECK(forged.code() == Errc::validation);
  CHECK_THAT(forged.message(), Catch::Contains("assessment.authorised_by"));
  after.fields["authorised_by"] = S(manager);
  CHECK(validate_record(after, ctx).ok());
}

TEST_CASE("utf-8 and date-time helpers are strict", "[records][validation]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ascii"));
  CHECK(is_valid_utf8("\xc2\x80"));                // U+0080, smallest 2-byte
  CHECK(is_valid_utf8("\xe0\xa0\x80"));            // U+0800, smallest 3-byte
  CHECK(is_valid_utf8("\xed\x9f\xbf"));            // U+D7FF, just below the surrogates
  CHECK(is_valid_utf8("\xee\x80\x80"));            // U+E000, just above
  CHECK(is_valid_utf8("\xf0\x90\x80\x80"));        // U+10000, smallest 4-byte
  CHECK(is_valid_utf8("\xf4\x8f\xbf\xbf"));        // U+10FFFF, the largest
  CHECK_FALSE(is_valid_utf8("\xc1\xbf"));          // overlong U+007F
  CHECK_FALSE(is_valid_utf8("\xe0\x9f\xbf"));      // overlong U+07FF
  CHECK_FALSE(is_valid_utf8("\xf0\x8f\xbf\xbf"));  // overlong U+FFFF
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));      // U+D800
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // U+110000
  CHECK_FALSE(is_valid_utf8("\xc3"));
  CHECK_FALSE(is_valid_utf8("\xc3\x28"));
  CHECK_FALSE(is_valid_utf8("\xbf"));

  CHECK(parse_iso_datetime("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_iso_datetime("2027-01-15T08:00:00Z") == 1'800'000'000);
  CHECK(parse_iso_datetime("2027-01-15T08:00:00.999Z") == 1'800'000'000);
  CHECK(parse_iso_datetime("1969-12-31T23:59:59Z") == -1);
  CHECK_FALSE(parse_iso_datetime("2027-01-15T08:00:00").has_value());
  CHECK(format_iso_datetime(utc("2027-01-15T08:00:00Z") + 123ms) == "2027-01-15T08:00:00.123Z");
  CHECK(format_iso_datetime(std::chrono::system_clock::time_point(-1ms)) ==
        "1969-12-31T23:59:59.999Z");
  CHECK(is_iso_datetime(format_iso_datetime(utc("2024-02-29T23:59:59Z"))));
}
