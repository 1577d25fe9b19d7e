#include "fieldcase/timescales.hpp"

#include <string>
#include <utility>

namespace fieldcase {

namespace {

constexpr std::int32_t kSecondsPerDay = 24 * 60 * 60;
constexpr std::int32_t kMaxWorkingDays = 250;
constexpr std::int32_t kMaxRecordingHours = 720;

Status check_range(std::string_view name, std::int32_t value, std::int32_t low, std::int32_t high) {
  if (value >= low && value <= high) return {};
  return Status(Errc::invalid_argument, std::string(name) + " must be from " + std::to_string(low) +
                                            " to " + std::to_string(high) + ", got " +
                                            std::to_string(value));
}

Status check_recording(std::string_view name, const RecordingStandard& standard) {
  if (standard.unit == RecordingStandard::Unit::hours) {
    return check_range(std::string(name) + " (hours)", standard.amount, 1, kMaxRecordingHours);
  }
  if (standard.unit == RecordingStandard::Unit::working_days) {
    return check_range(std::string(name) + " (working days)", standard.amount, 0, kMaxWorkingDays);
  }
  return Status(Errc::invalid_argument, std::string(name) + " has an unknown unit");
}

// A placement starting on 29 February completes its first year on 1 March.
Result<Date> first_anniversary(Date start) {
  if (start.month() == 2 && start.day() == 29) {
    auto first_of_march = start.add_days(1);
    if (!first_of_march.ok()) return first_of_march;
    return first_of_march->add_years(1);
  }
  return start.add_years(1);
}

}  // namespace

std::string_view to_string(AssessmentKind kind) noexcept {
  switch (kind) {
    case AssessmentKind::initial:
      return "initial";
    case AssessmentKind::core:
      return "core";
    case AssessmentKind::single:
      return "single";
  }
  return "unknown";
}

Result<AssessmentKind> parse_assessment_kind(std::string_view text) {
  for (AssessmentKind kind :
       {AssessmentKind::initial, AssessmentKind::core, AssessmentKind::single}) {
    if (text == to_string(kind)) return kind;
  }
  return Status(Errc::invalid_argument, "unknown assessment kind '" + std::string(text) +
                                            "' (expected initial, core or single)");
}

Status TimescaleSettings::validate() const {
  const TimescaleSettings statutory;
  FC_TRY(check_range("contact_decision_working_days", contact_decision_working_days, 1,
                     kMaxWorkingDays));
  FC_TRY(check_range("initial_assessment_working_days", initial_assessment_working_days, 1,
                     kMaxWorkingDays));
  FC_TRY(check_range("core_assessment_working_days", core_assessment_working_days, 1,
                     kMaxWorkingDays));
  FC_TRY(check_range("single_assessment_working_days", single_assessment_working_days, 1,
                     kMaxWorkingDays));
  FC_TRY(check_range("initial_conference_working_days", initial_conference_working_days, 1,
                     kMaxWorkingDays));
  FC_TRY(check_range("cp_visit_interval_working_days", cp_visit_interval_working_days, 1,
                     kMaxWorkingDays));
  FC_TRY(check_range("cp_first_review_months", cp_first_review_months, 1,
                     statutory.cp_first_review_months));
  FC_TRY(check_range("cp_review_interval_months", cp_review_interval_months, 1,
                     statutory.cp_review_interval_months));
  FC_TRY(
      check_range("lac_first_visit_days", lac_first_visit_days, 1, statutory.lac_first_visit_days));
  FC_TRY(check_range("lac_first_year_interval_days", lac_first_year_interval_days, 1,
                     statutory.lac_first_year_interval_days));
  FC_TRY(check_range("lac_until_18_interval_months", lac_until_18_interval_months, 1,
                     statutory.lac_until_18_interval_months));
  FC_TRY(check_range("lac_other_interval_days", lac_other_interval_days, 1,
                     statutory.lac_other_interval_days));
  FC_TRY(check_recording("recording_critical_event", recording_critical_event));
  FC_TRY(check_recording("recording_statutory_visit", recording_statutory_visit));
  FC_TRY(check_recording("recording_other", recording_other));
  return {};
}

Timescales::Timescales() = default;

Timescales::Timescales(WorkingCalendar calendar, TimescaleSettings settings)
    : calendar_(std::move(calendar)), settings_(settings) {}

Result<Timescales> Timescales::create(WorkingCalendar calendar, TimescaleSettings settings) {
  FC_TRY(settings.validate());
  return Timescales(std::move(calendar), settings);
}

Result<Date> Timescales::contact_decision_due(Date received) const {
  return calendar_.add_working_days(received, settings_.contact_decision_working_days);
}

std::int32_t Timescales::assessment_limit_working_days(AssessmentKind kind) const noexcept {
  switch (kind) {
    case AssessmentKind::initial:
      return settings_.initial_assessment_working_days;
    case AssessmentKind::core:
      return settings_.core_assessment_working_days;
    case AssessmentKind::single:
      return settings_.single_assessment_working_days;
  }
  return 0;
}

Result<Date> Timescales::assessment_due(AssessmentKind kind, Date start) const {
  return calendar_.add_working_days(start, assessment_limit_working_days(kind));
}

bool Timescales::assessment_in_time(AssessmentKind kind, Date start, Date completed) const {
  return calendar_.within_working_days(start, completed, assessment_limit_working_days(kind));
}

Result<Date> Timescales::initial_conference_due(Date strategy_discussion) const {
  return calendar_.add_working_days(strategy_discussion, settings_.initial_conference_working_days);
}

Result<Date> Timescales::review_conference_due(Date initial_conference,
                                               std::optional<Date> last_review) const {
  if (!last_review) return initial_conference.add_months(settings_.cp_first_review_months);
  if (*last_review < initial_conference) {
    return Status(Errc::invalid_argument, "review conference " + last_review->to_string() +
                                              " is before the initial conference " +
                                              initial_conference.to_string());
  }
  return last_review->add_months(settings_.cp_review_interval_months);
}

Result<Date> Timescales::cp_visit_due(Date last_visit) const {
  return calendar_.add_working_days(last_visit, settings_.cp_visit_interval_working_days);
}

Result<Date> Timescales::lac_visit_due(Date placement_start, std::optional<Date> last_visit,
                                       bool intended_until_18) const {
  if (!last_visit || *last_visit < placement_start) {
    return placement_start.add_days(settings_.lac_first_visit_days);
  }
  auto anniversary = first_anniversary(placement_start);
  if (!anniversary.ok() || *last_visit < *anniversary) {
    return last_visit->add_days(settings_.lac_first_year_interval_days);
  }
  if (intended_until_18) return last_visit->add_months(settings_.lac_until_18_interval_months);
  return last_visit->add_days(settings_.lac_other_interval_days);
}

Result<CivilTime> Timescales::recording_due(RecordingKind kind, CivilTime contact) const {
  if (contact.second_of_day < 0 || contact.second_of_day >= kSecondsPerDay) {
    return Status(Errc::invalid_argument,
                  "time of day out of range: " + std::to_string(contact.second_of_day) + " s");
  }
  const RecordingStandard& standard =
      kind == RecordingKind::critical_event    ? settings_.recording_critical_event
      : kind == RecordingKind::statutory_visit ? settings_.recording_statutory_visit
                                               : settings_.recording_other;
  if (standard.unit == RecordingStandard::Unit::hours) {
    const std::int64_t seconds =
        static_cast<std::int64_t>(contact.second_of_day) + std::int64_t{standard.amount} * 3600;
    auto date = contact.date.add_days(seconds / kSecondsPerDay);
    if (!date.ok()) return date.status();
    return CivilTime{*date, static_cast<std::int32_t>(seconds % kSecondsPerDay)};
  }
  auto date = calendar_.add_working_days(contact.date, standard.amount);
  if (!date.ok()) return date.status();
  return CivilTime{*date, kSecondsPerDay - 1};
}

}  // namespace fieldcase
