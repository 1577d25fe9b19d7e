// The registry of indicators the figures and the published reports are made of: one row of
// data per indicator (its population, where its events come from, its limit, its measure,
// direction, target and baseline, unit and counting convention; docs/indicators.md explains
// each). Adding an indicator is adding a row; the measures are shared code (figures.hpp).
// Pure data and rules: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "fieldcase/record.hpp"

namespace fieldcase::server::figures {

enum class Measure : std::uint8_t {
  timeliness,           // share of work ended in the period whose duration is within the limit
  proportion,           // share of the population (by the period event) for which `hit` holds
  count_as_of,          // records open on the as-of date and counted (hit); optional rate
  backlog_outstanding,  // source records started and not ended on the as-of date
  backlog_overdue,      // ...of which past their due date on the as-of date
  delay,                // distribution of end - start over work ending in the period
  lac_visit_schedule,   // looked-after visits made in the period on or before their due date
                        // under regulation 28 (calendar days, Timescales::lac_visit_due)
  reviews_on_time,      // plans due a review on the day (or ended in the period) whose every
                        // review conference was held within timescale (NI 67)
};

enum class Direction : std::uint8_t { rise_is_good, fall_is_good, bell_shaped };

// "rise_is_good", "fall_is_good" or "bell_shaped": the id the APIs carry.
std::string_view to_string(Direction direction) noexcept;

// Which authority setting gives the limit.
enum class LimitKind : std::uint8_t {
  none,
  contact_decision,
  initial_assessment,
  core_assessment,
  single_assessment,
  initial_conference,
  recording_standard,  // per record: statutory visits or other (TimescaleSettings)
  cp_reviews,          // review conferences: cp_first_review_months, cp_review_interval_months
  cp_visit,            // cp_visit_interval_working_days
};

// A date of the population record: when `via` (a ref field) names a record that has
// `via_field`, that record's value (an assessment's start is its referral's date); else
// `field`; else `fallback` (a conference counts from the section 47 start when no strategy
// discussion date is recorded). `via_kind` is the kind of record `via` names (what the
// facts depend on besides the population's own records).
struct EventSource {
  std::string_view field = {};
  std::string_view via = {};
  std::string_view via_field = {};
  std::string_view fallback = {};
  std::optional<RecordKind> via_kind = {};
};

// How `hit` is worked out for proportion and count measures.
enum class Relation : std::uint8_t {
  none,
  referral_has_assessment,  // NI 68: an assessment of the case refers to this referral
  earlier_plan_for_child,   // NI 65: the child had a child protection plan that started before
  lasted_two_years,         // NI 64: the plan ended 2 years or more after it started
  child_not_uasc,           // looked-after count: the child is not an unaccompanied asylum seeker
};

enum class PeriodEvent : std::uint8_t { start, end };

// How often the indicator is reported in the published performance report.
enum class Frequency : std::uint8_t { monthly, quarterly, annually };
std::string_view to_string(Frequency frequency) noexcept;

struct IndicatorDefinition {
  std::string_view id = {};  // stable key: "ni59", "contact1", ...
  std::string_view title = {};
  // The published performance report's columns (docs/indicators.md, "Performance report"):
  // the national reference ("NI 59") or the authority's local one ("LPI 1"), who answers for
  // the indicator, and how often it is reported.
  std::string_view reference = {};
  std::string_view owner = {};
  Frequency frequency = Frequency::monthly;
  Measure measure = Measure::timeliness;
  RecordKind kind = RecordKind::assessment;  // the population's record kind
  std::string_view filter_field = {};        // only records whose code field...
  std::string_view filter_value = {};        // ...has this value
  std::string_view exclude_if_true = {};     // a boolean field that takes a record out
  EventSource start = {};
  EventSource end = {};  // empty field: no end event
  PeriodEvent period_event = PeriodEvent::end;
  std::string_view detail_field = {};
  // Statutory visits: only events inside a record of `span_kind` (a child protection plan, a
  // looked-after episode) count; the start is the previous visit of the same type in that
  // span, else the span's start (`span_start`). Absent for other indicators.
  std::optional<RecordKind> span_kind = {};
  EventSource span_start = {};  // copied to the fact's detail (codes joined by ',')
  LimitKind limit = LimitKind::none;
  Relation relation = Relation::none;
  std::vector<std::string_view> sources = {};  // backlog: the indicators whose facts it reads
  Direction direction = Direction::rise_is_good;
  std::optional<double> target = {};  // in the figure's unit
  std::optional<double> baseline = {};
  std::string_view unit = {};      // "%", "count", "per 10,000", "hours", ...
  std::string_view counting = {};  // the counting convention, in words
};

// Every indicator, in a fixed order. Ids are unique.
const std::vector<IndicatorDefinition>& definitions();
const IndicatorDefinition* find_definition(std::string_view id);

enum class Rag : std::uint8_t { none, red, amber, green };
std::string_view to_string(Rag rag) noexcept;
// The status of a value against the definition's target: green when the target is met, amber
// within 10% of it (at least 90% of a rise-is-good target, at most 110% of a fall-is-good
// one), red otherwise; none without a target or a value, or for a bell-shaped indicator.
// A value on a boundary is on the boundary's side (no floating-point rounding decides).
Rag rag_for(const IndicatorDefinition& definition, std::optional<double> value);

}  // namespace fieldcase::server::figures
