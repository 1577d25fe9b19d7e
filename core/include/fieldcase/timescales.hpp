// Statutory and local timescales of children's social care in England, as due dates.
//
// An authority's TimescaleSettings (defaults from the brief, section 4.1) and its
// WorkingCalendar make a Timescales. Working-day limits follow the calendar's counting
// convention: the due date is the last working day still within the limit (the N-th working
// day after the start). Calendar-day and month limits (looked-after child visits, review
// conferences) are not moved off weekends: a visit may happen on any day. docs/indicators.md
// gives each timescale's source.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fieldcase/calendar.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase {

enum class AssessmentKind : std::uint8_t {
  initial,  // NI 59: from referral
  core,     // NI 60: from the start of the core assessment
  single,   // Working Together 2013 onwards: from referral
};

std::string_view to_string(AssessmentKind kind) noexcept;  // "initial", "core", "single"
// Inverse of to_string; invalid_argument naming the accepted kinds otherwise.
Result<AssessmentKind> parse_assessment_kind(std::string_view text);

// What a record is about, for the local recording standard.
enum class RecordingKind : std::uint8_t { critical_event, statutory_visit, other };

// How soon after the contact its record is due: a number of clock hours, or the end of the
// N-th working day after the contact date (0: the end of the contact day).
struct RecordingStandard {
  enum class Unit : std::uint8_t { hours, working_days };
  Unit unit = Unit::working_days;
  std::int32_t amount = 0;
};

// A local civil date and time of day to the second, with no time zone (the time on the
// social worker's watch). Valid when 0 <= second_of_day < 86400.
struct CivilTime {
  Date date;
  std::int32_t second_of_day = 0;
  friend constexpr bool operator==(const CivilTime&, const CivilTime&) = default;
  friend constexpr std::strong_ordering operator<=>(const CivilTime&, const CivilTime&) = default;
};

// An authority's timescales. Working-day limits may be set to any value from 1 to 250 (the
// 7-day initial assessment became 10 in many authorities). Limits set by regulation or
// statutory guidance (looked-after child visits, review conferences) may be made stricter but
// not looser than their defaults.
struct TimescaleSettings {
  std::int32_t contact_decision_working_days = 1;
  std::int32_t initial_assessment_working_days = 7;
  std::int32_t core_assessment_working_days = 35;
  std::int32_t single_assessment_working_days = 45;
  std::int32_t initial_conference_working_days = 15;  // from the strategy discussion
  std::int32_t cp_visit_interval_working_days = 10;
  std::int32_t cp_first_review_months = 3;     // after the initial conference
  std::int32_t cp_review_interval_months = 6;  // after the previous review
  // Care Planning, Placement and Case Review (England) Regulations 2010, regulation 28.
  std::int32_t lac_first_visit_days = 7;           // from the placement start
  std::int32_t lac_first_year_interval_days = 42;  // six weeks
  std::int32_t lac_until_18_interval_months = 3;   // after the first year, long-term
  std::int32_t lac_other_interval_days = 42;       // after the first year, otherwise
  RecordingStandard recording_critical_event{RecordingStandard::Unit::hours, 24};
  RecordingStandard recording_statutory_visit{RecordingStandard::Unit::working_days, 2};
  RecordingStandard recording_other{RecordingStandard::Unit::working_days, 5};

  // invalid_argument naming the first setting out of range.
  Status validate() const;
};

// Due dates under one authority's settings and calendar. Every function fails with
// invalid_argument when the answer would fall outside Date's range or the inputs contradict
// each other. Immutable; safe to share between threads.
class Timescales {
 public:
  // The defaults on the England & Wales calendar.
  Timescales();
  static Result<Timescales> create(WorkingCalendar calendar, TimescaleSettings settings);

  const WorkingCalendar& calendar() const noexcept { return calendar_; }
  const TimescaleSettings& settings() const noexcept { return settings_; }

  // Decision on a contact or referral, from the day it was received.
  Result<Date> contact_decision_due(Date received) const;

  std::int32_t assessment_limit_working_days(AssessmentKind kind) const noexcept;
  // From the referral (initial, single) or the start of the core assessment.
  Result<Date> assessment_due(AssessmentKind kind, Date start) const;
  // Whether an assessment completed on `completed` was within its timescale.
  bool assessment_in_time(AssessmentKind kind, Date start, Date completed) const;

  // Initial child protection conference, from the strategy discussion (section 47 start).
  Result<Date> initial_conference_due(Date strategy_discussion) const;
  // The first review within cp_first_review_months of the initial conference, then each
  // within cp_review_interval_months of the previous review (months add as Date::add_months).
  // A last review before the initial conference is invalid_argument.
  Result<Date> review_conference_due(Date initial_conference,
                                     std::optional<Date> last_review) const;

  // The next child protection visit, from the last one.
  Result<Date> cp_visit_due(Date last_visit) const;

  // The next visit to a looked-after child under regulation 28: within lac_first_visit_days of
  // the placement start when there has been no visit in this placement (none, or the last one
  // was before it started); then at most lac_first_year_interval_days after a visit made in
  // the first year of the placement (before its first anniversary), even when the interval
  // runs past the anniversary; after the first year lac_until_18_interval_months if the
  // placement is intended to last until the child is 18, else lac_other_interval_days. A
  // placement starting on 29 February completes its first year on 1 March.
  Result<Date> lac_visit_due(Date placement_start, std::optional<Date> last_visit,
                             bool intended_until_18) const;

  // Latest time the record of a contact at `contact` is on time (inclusive). Hours are added
  // to the civil time; a working-day standard runs to 23:59:59 of its due date.
  Result<CivilTime> recording_due(RecordingKind kind, CivilTime contact) const;

 private:
  Timescales(WorkingCalendar calendar, TimescaleSettings settings);

  WorkingCalendar calendar_;
  TimescaleSettings settings_;
};

}  // namespace fieldcase
