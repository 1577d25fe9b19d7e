#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "fieldcase/calendar.hpp"
#include "fieldcase/timescales.hpp"

using namespace fieldcase;

namespace {

Date D(const char* iso) {
  auto parsed = Date::parse(iso);
  REQUIRE(parsed.ok());
  return *parsed;
}

std::string S(const Result<Date>& date) {
  REQUIRE(date.ok());
  return date->to_string();
}

CivilTime at(const char* iso, int hour, int minute) {
  return CivilTime{D(iso), hour * 3600 + minute * 60};
}

Timescales with(TimescaleSettings settings, WorkingCalendar calendar = {}) {
  auto made = Timescales::create(std::move(calendar), settings);
  INFO(made.status().to_string());
  REQUIRE(made.ok());
  return *made;
}

}  // namespace

TEST_CASE("timescales: defaults follow the brief", "[calendar]") {
  const Timescales t;
  const TimescaleSettings& s = t.settings();
  CHECK(s.validate().ok());
  CHECK(s.contact_decision_working_days == 1);
  CHECK(t.assessment_limit_working_days(AssessmentKind::initial) == 7);
  CHECK(t.assessment_limit_working_days(AssessmentKind::core) == 35);
  CHECK(t.assessment_limit_working_days(AssessmentKind::single) == 45);
  CHECK(s.initial_conference_working_days == 15);
  CHECK(s.cp_visit_interval_working_days == 10);
  CHECK(s.cp_first_review_months == 3);
  CHECK(s.cp_review_interval_months == 6);
  CHECK(s.lac_first_visit_days == 7);
  CHECK(s.lac_first_year_interval_days == 42);
  CHECK(s.lac_until_18_interval_months == 3);
  CHECK(s.lac_other_interval_days == 42);
  CHECK(s.recording_critical_event.unit == RecordingStandard::Unit::hours);
  CHECK(s.recording_critical_event.amount == 24);
  CHECK(s.recording_statutory_visit.unit == RecordingStandard::Unit::working_days);
  CHECK(s.recording_statutory_visit.amount == 2);
  CHECK(s.recording_other.unit == RecordingStandard::Unit::working_days);
  CHECK(s.recording_other.amount == 5);
}

TEST_CASE("timescales: assessment kinds by name", "[calendar]") {
  CHECK(parse_assessment_kind("initial").value() == AssessmentKind::initial);
  CHECK(parse_assessment_kind("core").value() == AssessmentKind::core);
  CHECK(parse_assessment_kind("single").value() == AssessmentKind::single);
  CHECK(to_string(AssessmentKind::single) == "single");
  for (const char* bad : {"Initial", "", "core ", "continuous", "ia"}) {
    INFO(bad);
    auto kind = parse_assessment_kind(bad);
    CHECK(kind.code() == Errc::invalid_argument);
    CHECK(kind.status().message().find("initial, core or single") != std::string::npos);
  }
}

TEST_CASE("timescales: assessment due dates", "[calendar]") {
  const Timescales t;
  CHECK(S(t.assessment_due(AssessmentKind::initial, D("2024-06-03"))) == "2024-06-12");
  CHECK(S(t.assessment_due(AssessmentKind::core, D("2024-06-03"))) == "2024-07-22");
  CHECK(S(t.assessment_due(AssessmentKind::single, D("2024-06-03"))) == "2024-08-05");
  // Referral on a Saturday and on Easter Monday count from that date the same way.
  CHECK(S(t.assessment_due(AssessmentKind::initial, D("2024-06-01"))) == "2024-06-11");
  CHECK(S(t.assessment_due(AssessmentKind::initial, D("2024-04-01"))) == "2024-04-10");
  // Over Christmas and New Year, and over the 2022 jubilee holidays.
  CHECK(S(t.assessment_due(AssessmentKind::initial, D("2024-12-20"))) == "2025-01-03");
  CHECK(S(t.assessment_due(AssessmentKind::single, D("2024-12-02"))) == "2025-02-06");
  CHECK(S(t.assessment_due(AssessmentKind::core, D("2022-05-23"))) == "2022-07-13");
  // An authority on the 10-day initial assessment.
  TimescaleSettings ten;
  ten.initial_assessment_working_days = 10;
  CHECK(S(with(ten).assessment_due(AssessmentKind::initial, D("2024-12-20"))) == "2025-01-08");

  CHECK(t.assessment_due(AssessmentKind::core, Date::max()).code() == Errc::invalid_argument);
}

TEST_CASE("timescales: assessments in time under the counting convention", "[calendar]") {
  const Timescales t;
  // Due Friday 14 June 2024; the weekend after it adds no working days.
  CHECK(S(t.assessment_due(AssessmentKind::initial, D("2024-06-05"))) == "2024-06-14");
  CHECK(t.assessment_in_time(AssessmentKind::initial, D("2024-06-05"), D("2024-06-05")));
  CHECK(t.assessment_in_time(AssessmentKind::initial, D("2024-06-05"), D("2024-06-14")));
  CHECK(t.assessment_in_time(AssessmentKind::initial, D("2024-06-05"), D("2024-06-16")));
  CHECK_FALSE(t.assessment_in_time(AssessmentKind::initial, D("2024-06-05"), D("2024-06-17")));
  CHECK(t.assessment_in_time(AssessmentKind::core, D("2024-06-05"), D("2024-06-17")));
}

TEST_CASE("timescales: contact decisions and initial conferences", "[calendar]") {
  const Timescales t;
  CHECK(S(t.contact_decision_due(D("2024-06-05"))) == "2024-06-06");
  CHECK(S(t.contact_decision_due(D("2024-06-07"))) == "2024-06-10");  // Friday
  CHECK(S(t.contact_decision_due(D("2024-06-08"))) == "2024-06-10");  // Saturday
  CHECK(S(t.contact_decision_due(D("2024-12-24"))) == "2024-12-27");
  CHECK(S(t.contact_decision_due(D("2024-12-25"))) == "2024-12-27");  // Christmas Day

  CHECK(S(t.initial_conference_due(D("2024-06-03"))) == "2024-06-24");
  CHECK(S(t.initial_conference_due(D("2024-03-20"))) == "2024-04-12");  // over Easter
  CHECK(S(t.initial_conference_due(D("2024-06-02"))) == "2024-06-21");  // Sunday
}

TEST_CASE("timescales: child protection visits and review conferences", "[calendar]") {
  const Timescales t;
  CHECK(S(t.cp_visit_due(D("2024-06-03"))) == "2024-06-17");
  CHECK(S(t.cp_visit_due(D("2024-12-20"))) == "2025-01-08");
  CHECK(S(t.cp_visit_due(D("2024-08-24"))) == "2024-09-09");  // Saturday visit, summer holiday
  TimescaleSettings weekly;
  weekly.cp_visit_interval_working_days = 5;
  CHECK(S(with(weekly).cp_visit_due(D("2024-12-20"))) == "2024-12-31");

  CHECK(S(t.review_conference_due(D("2024-01-15"), std::nullopt)) == "2024-04-15");
  CHECK(S(t.review_conference_due(D("2024-11-30"), std::nullopt)) == "2025-02-28");
  CHECK(S(t.review_conference_due(D("2024-01-15"), D("2024-04-10"))) == "2024-10-10");
  CHECK(S(t.review_conference_due(D("2024-01-15"), D("2024-08-31"))) == "2025-02-28");
  // Calendar-month limits are not moved off weekends: 2024-09-15 is a Sunday.
  CHECK(S(t.review_conference_due(D("2024-06-15"), std::nullopt)) == "2024-09-15");
  CHECK(t.review_conference_due(D("2024-01-15"), D("2024-01-14")).code() == Errc::invalid_argument);
  CHECK(t.review_conference_due(D("9999-11-01"), std::nullopt).code() == Errc::invalid_argument);
  TimescaleSettings sooner;
  sooner.cp_first_review_months = 2;
  CHECK(S(with(sooner).review_conference_due(D("2024-01-15"), std::nullopt)) == "2024-03-15");
}

TEST_CASE("timescales: looked-after child visits under regulation 28", "[calendar]") {
  const Timescales t;
  const Date start = D("2024-03-01");
  // First visit within a week of the placement starting.
  CHECK(S(t.lac_visit_due(start, std::nullopt, false)) == "2024-03-08");
  CHECK(S(t.lac_visit_due(start, std::nullopt, true)) == "2024-03-08");
  // A visit from before this placement does not count.
  CHECK(S(t.lac_visit_due(start, D("2024-02-20"), true)) == "2024-03-08");
  // First year: at most six weeks apart, whatever the plan.
  CHECK(S(t.lac_visit_due(start, D("2024-03-01"), true)) == "2024-04-12");
  CHECK(S(t.lac_visit_due(start, D("2024-03-05"), true)) == "2024-04-16");
  CHECK(S(t.lac_visit_due(start, D("2025-02-20"), true)) == "2025-04-03");
  // The interval from a first-year visit stays six weeks even past the anniversary.
  CHECK(S(t.lac_visit_due(start, D("2025-02-28"), true)) == "2025-04-11");
  // After the first year: three months when intended to last until 18, else six weeks.
  CHECK(S(t.lac_visit_due(start, D("2025-03-01"), true)) == "2025-06-01");
  CHECK(S(t.lac_visit_due(start, D("2025-03-01"), false)) == "2025-04-12");
  CHECK(S(t.lac_visit_due(start, D("2026-11-30"), true)) == "2027-02-28");
  // Visits are not moved off weekends: 2024-03-09 is a Saturday.
  CHECK(S(t.lac_visit_due(D("2024-03-02"), std::nullopt, false)) == "2024-03-09");
  // A placement from 29 February 2024 completes its first year on 1 March 2025.
  CHECK(S(t.lac_visit_due(D("2024-02-29"), D("2025-02-28"), true)) == "2025-04-11");
  CHECK(S(t.lac_visit_due(D("2024-02-29"), D("2025-03-01"), true)) == "2025-06-01");
  // A stricter local standard.
  TimescaleSettings monthly;
  monthly.lac_first_year_interval_days = 28;
  monthly.lac_until_18_interval_months = 2;
  CHECK(S(with(monthly).lac_visit_due(start, D("2024-03-05"), true)) == "2024-04-02");
  CHECK(S(with(monthly).lac_visit_due(start, D("2025-03-01"), true)) == "2025-05-01");
  // Out of range.
  CHECK(t.lac_visit_due(D("9999-12-28"), std::nullopt, true).code() == Errc::invalid_argument);
  CHECK(t.lac_visit_due(D("9999-01-10"), D("9999-12-01"), true).code() == Errc::invalid_argument);
}

TEST_CASE("timescales: recording standard", "[calendar]") {
  const Timescales t;
  auto due = [&t](RecordingKind kind, CivilTime contact) {
    auto r = t.recording_due(kind, contact);
    REQUIRE(r.ok());
    return *r;
  };
  // Critical events: 24 clock hours, whatever the day.
  CHECK(due(RecordingKind::critical_event, at("2024-06-07", 14, 30)) == at("2024-06-08", 14, 30));
  CHECK(due(RecordingKind::critical_event, at("2024-12-31", 23, 0)) == at("2025-01-01", 23, 0));
  // Statutory visits: end of the second working day; others: end of the fifth.
  const CivilTime friday_visit = at("2024-06-07", 10, 0);
  CHECK(due(RecordingKind::statutory_visit, friday_visit) == CivilTime{D("2024-06-11"), 86399});
  CHECK(due(RecordingKind::other, at("2024-12-20", 9, 0)) == CivilTime{D("2024-12-31"), 86399});
  CHECK(due(RecordingKind::statutory_visit, at("2024-12-24", 16, 0)) ==
        CivilTime{D("2024-12-30"), 86399});
  // On time up to and including the deadline.
  const CivilTime deadline = due(RecordingKind::statutory_visit, friday_visit);
  CHECK(at("2024-06-11", 23, 59) <= deadline);
  CHECK(at("2024-06-12", 0, 0) > deadline);

  TimescaleSettings local;
  local.recording_other = {RecordingStandard::Unit::working_days, 0};
  local.recording_statutory_visit = {RecordingStandard::Unit::hours, 48};
  const Timescales strict = with(local);
  CHECK(*strict.recording_due(RecordingKind::other, at("2024-06-08", 10, 0)) ==
        CivilTime{D("2024-06-08"), 86399});
  CHECK(*strict.recording_due(RecordingKind::statutory_visit, at("2024-06-07", 10, 0)) ==
        at("2024-06-09", 10, 0));

  CHECK(t.recording_due(RecordingKind::other, CivilTime{D("2024-06-07"), 86400}).code() ==
        Errc::invalid_argument);
  CHECK(t.recording_due(RecordingKind::other, CivilTime{D("2024-06-07"), -1}).code() ==
        Errc::invalid_argument);
  CHECK(t.recording_due(RecordingKind::critical_event, at("9999-12-31", 1, 0)).code() ==
        Errc::invalid_argument);
}

TEST_CASE("timescales: authority closure days move working-day due dates", "[calendar]") {
  auto cal = WorkingCalendar::create({D("2024-12-27"), D("2024-12-30"), D("2024-12-31")});
  REQUIRE(cal.ok());
  const Timescales t = with(TimescaleSettings{}, *cal);
  CHECK(S(t.contact_decision_due(D("2024-12-24"))) == "2025-01-02");
  CHECK(S(t.assessment_due(AssessmentKind::initial, D("2024-12-20"))) == "2025-01-08");
  // Calendar-day limits ignore closures.
  CHECK(S(t.lac_visit_due(D("2024-12-24"), std::nullopt, false)) == "2024-12-31");
}

TEST_CASE("timescales: settings are checked", "[calendar]") {
  auto rejected = [](void (*change)(TimescaleSettings&), const char* name) {
    TimescaleSettings s;
    change(s);
    Status status = s.validate();
    INFO(status.to_string());
    CHECK(status.code() == Errc::invalid_argument);
    CHECK(status.message().find(name) != std::string::npos);
    CHECK(Timescales::create(WorkingCalendar{}, s).code() == Errc::invalid_argument);
  };
  rejected([](TimescaleSettings& s) { s.initial_assessment_working_days = 0; },
           "initial_assessment_working_days");
  rejected([](TimescaleSettings& s) { s.core_assessment_working_days = -35; },
           "core_assessment_working_days");
  rejected([](TimescaleSettings& s) { s.single_assessment_working_days = 251; },
           "single_assessment_working_days");
  rejected([](TimescaleSettings& s) { s.contact_decision_working_days = 0; },
           "contact_decision_working_days");
  rejected([](TimescaleSettings& s) { s.initial_conference_working_days = 0; },
           "initial_conference_working_days");
  rejected([](TimescaleSettings& s) { s.cp_visit_interval_working_days = 0; },
           "cp_visit_interval_working_days");
  // Statutory limits cannot be loosened.
  rejected([](TimescaleSettings& s) { s.cp_first_review_months = 4; }, "cp_first_review_months");
  rejected([](TimescaleSettings& s) { s.cp_review_interval_months = 7; },
           "cp_review_interval_months");
  rejected([](TimescaleSettings& s) { s.lac_first_visit_days = 8; }, "lac_first_visit_days");
  rejected([](TimescaleSettings& s) { s.lac_first_year_interval_days = 43; },
           "lac_first_year_interval_days");
  rejected([](TimescaleSettings& s) { s.lac_until_18_interval_months = 4; },
           "lac_until_18_interval_months");
  rejected([](TimescaleSettings& s) { s.lac_other_interval_days = 0; }, "lac_other_interval_days");
  rejected([](TimescaleSettings& s) { s.recording_critical_event.amount = 0; },
           "recording_critical_event");
  rejected([](TimescaleSettings& s) { s.recording_other.amount = -1; }, "recording_other");
  rejected(
      [](TimescaleSettings& s) {
        s.recording_statutory_visit.unit = static_cast<RecordingStandard::Unit>(9);
      },
      "recording_statutory_visit");

  TimescaleSettings local;
  local.initial_assessment_working_days = 10;
  local.cp_visit_interval_working_days = 20;
  local.lac_first_visit_days = 5;
  CHECK(local.validate().ok());
  CHECK(Timescales::create(WorkingCalendar{}, local).ok());
}
