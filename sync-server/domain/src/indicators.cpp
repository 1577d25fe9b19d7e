// The registry of indicator definitions as data (docs/indicators.md explains each one).
#include "fieldcase/server/indicators.hpp"

#include <algorithm>

namespace fieldcase::server::figures {

namespace {

constexpr std::string_view kWorkingDays =
    "duration = working days after the start date up to and including the end date "
    "(same day = 0); within the limit when duration <= limit";

// clang-format off
const std::vector<IndicatorDefinition> kIndicators = {
    {
     .id = "ni59",
     .title = "Initial assessments completed within 7 working days of referral (NI 59)",
     .reference = "NI 59",
     .owner = "Head of assessment services",
     .frequency = Frequency::monthly,
     .measure = Measure::timeliness,
     .kind = RecordKind::assessment,
     .filter_field = "assessment_kind",
     .filter_value = "initial",
     .start = {.field = "start_date", .via = "referral_id", .via_field = "referral_date", .via_kind = RecordKind::referral},
     .end = {.field = "completed_at"},
     .limit = LimitKind::initial_assessment,
     .target = 80.0,
     .baseline = 59.0,
     .unit = "%",
     .counting = kWorkingDays,
    },
    {
     .id = "ni60",
     .title = "Core assessments completed within 35 working days of their start (NI 60)",
     .reference = "NI 60",
     .owner = "Head of assessment services",
     .frequency = Frequency::monthly,
     .measure = Measure::timeliness,
     .kind = RecordKind::assessment,
     .filter_field = "assessment_kind",
     .filter_value = "core",
     .start = {.field = "start_date"},
     .end = {.field = "completed_at"},
     .limit = LimitKind::core_assessment,
     .target = 84.0,
     .baseline = 66.0,
     .unit = "%",
     .counting = kWorkingDays,
    },
    {
     .id = "single45",
     .title = "Single assessments completed within 45 working days of referral",
     .reference = "LPI 1",
     .owner = "Head of assessment services",
     .frequency = Frequency::monthly,
     .measure = Measure::timeliness,
     .kind = RecordKind::assessment,
     .filter_field = "assessment_kind",
     .filter_value = "single",
     .start = {.field = "start_date", .via = "referral_id", .via_field = "referral_date", .via_kind = RecordKind::referral},
     .end = {.field = "completed_at"},
     .limit = LimitKind::single_assessment,
     .unit = "%",
     .counting = kWorkingDays,
    },
    {
     .id = "contact1",
     .title = "Contacts decided within 1 working day of receipt",
     .reference = "LPI 2",
     .owner = "Head of the front door service",
     .frequency = Frequency::monthly,
     .measure = Measure::timeliness,
     .kind = RecordKind::contact,
     .start = {.field = "received_at"},
     .end = {.field = "decision_at"},
     .limit = LimitKind::contact_decision,
     .unit = "%",
     .counting = kWorkingDays,
    },
    {
     .id = "icpc15",
     .title = "Initial child protection conferences within 15 working days of the strategy discussion",
     .reference = "LPI 3",
     .owner = "Head of safeguarding",
     .frequency = Frequency::monthly,
     .measure = Measure::timeliness,
     .kind = RecordKind::s47_enquiry,
     .exclude_if_true = "conference_not_required",
     .start = {.field = "strategy_discussion_date", .fallback = "start_date"},
     .end = {.field = "initial_conference_date"},
     .limit = LimitKind::initial_conference,
     .unit = "%",
     .counting = kWorkingDays,
    },
    {
     .id = "cp_visits",
     .title = "Child protection visits within the local interval of the previous visit",
     .reference = "LPI 4",
     .owner = "Head of safeguarding",
     .frequency = Frequency::monthly,
     .measure = Measure::timeliness,
     .kind = RecordKind::visit,
     .filter_field = "visit_type",
     .filter_value = "cp_statutory",
     .end = {.field = "start_at"},
     .span_kind = RecordKind::cp_plan,
     .span_start = {.field = "start_date"},
     .limit = LimitKind::cp_visit,
     .unit = "%",
     .counting = "statutory visits made in the period during a plan; duration from the previous visit in the plan (else the plan's start), working days",
    },
    {
     .id = "lac_visits",
     .title = "Looked-after children's statutory visits on time (regulation 28)",
     .reference = "LPI 5",
     .owner = "Head of children looked after",
     .frequency = Frequency::monthly,
     .measure = Measure::lac_visit_schedule,
     .kind = RecordKind::visit,
     .filter_field = "visit_type",
     .filter_value = "lac_statutory",
     .end = {.field = "start_at"},
     .span_kind = RecordKind::lac_episode,
     .span_start = {.field = "placement_start", .fallback = "start_date"},
     .unit = "%",
     .counting = "statutory visits made in the period while looked after; on time when on or before the regulation 28 due date from the previous visit in the placement (else the placement start), calendar days",
    },
    {
     .id = "ni68",
     .title = "Referrals going on to assessment (NI 68)",
     .reference = "NI 68",
     .owner = "Head of the front door service",
     .frequency = Frequency::monthly,
     .measure = Measure::proportion,
     .kind = RecordKind::referral,
     .start = {.field = "referral_date"},
     .period_event = PeriodEvent::start,
     .relation = Relation::referral_has_assessment,
     .unit = "%",
     .counting = "referrals dated in the period; numerator: those an assessment refers to",
    },
    {
     .id = "ni64",
     .title = "Child protection plans ending that lasted 2 years or more (NI 64)",
     .reference = "NI 64",
     .owner = "Head of safeguarding",
     .frequency = Frequency::quarterly,
     .measure = Measure::proportion,
     .kind = RecordKind::cp_plan,
     .start = {.field = "start_date"},
     .end = {.field = "end_date"},
     .period_event = PeriodEvent::end,
     .relation = Relation::lasted_two_years,
     .direction = Direction::fall_is_good,
     .unit = "%",
     .counting = "plans ending in the period; numerator: end date on or after the second anniversary of the start date (calendar years)",
    },
    {
     .id = "ni65",
     .title = "Child protection plans starting for a second or later time (NI 65)",
     .reference = "NI 65",
     .owner = "Head of safeguarding",
     .frequency = Frequency::quarterly,
     .measure = Measure::proportion,
     .kind = RecordKind::cp_plan,
     .start = {.field = "start_date"},
     .period_event = PeriodEvent::start,
     .relation = Relation::earlier_plan_for_child,
     .direction = Direction::bell_shaped,
     .unit = "%",
     .counting = "plans starting in the period; numerator: the child had a plan that started earlier, ever",
    },
    {
     .id = "ni67",
     .title = "Child protection plans reviewed within timescale (NI 67)",
     .reference = "NI 67",
     .owner = "Head of safeguarding",
     .frequency = Frequency::monthly,
     .measure = Measure::reviews_on_time,
     .kind = RecordKind::cp_plan,
     .start = {.field = "start_date"},
     .end = {.field = "end_date"},
     .detail_field = "review_dates",
     .limit = LimitKind::cp_reviews,
     .target = 100.0,
     .unit = "%",
     .counting = "plans open on the day for 3 months or more, or ended in the period after 3 months or more; numerator: the first review within 3 months of the start (the initial conference), each later one within 6 months of the previous, and the next not yet overdue on the day (or the end)",
    },
    {
     .id = "lac_count",
     .title = "Looked-after children (unaccompanied asylum-seeking children excluded)",
     .reference = "LPI 6",
     .owner = "Head of children looked after",
     .frequency = Frequency::monthly,
     .measure = Measure::count_as_of,
     .kind = RecordKind::lac_episode,
     .start = {.field = "start_date"},
     .end = {.field = "end_date"},
     .relation = Relation::child_not_uasc,
     .direction = Direction::bell_shaped,
     .unit = "count",
     .counting = "episodes open on the day (start <= day < end); one per child",
    },
    {
     .id = "lac_rate",
     .title = "Looked-after children per 10,000 under-18s (UASC excluded)",
     .reference = "LPI 7",
     .owner = "Head of children looked after",
     .frequency = Frequency::monthly,
     .measure = Measure::count_as_of,
     .kind = RecordKind::lac_episode,
     .sources = {"lac_count"},
     .direction = Direction::bell_shaped,
     .unit = "per 10,000",
     .counting = "lac_count x 10,000 / the authority's under-18 population",
    },
    {
     .id = "assessments_outstanding",
     .title = "Outstanding assessments (the backlog)",
     .reference = "LPI 8",
     .owner = "Head of assessment services",
     .frequency = Frequency::monthly,
     .measure = Measure::backlog_outstanding,
     .sources = {"ni59", "ni60", "single45"},
     .direction = Direction::fall_is_good,
     .unit = "count",
     .counting = "started on or before the day and not completed by its end",
    },
    {
     .id = "assessments_overdue",
     .title = "Overdue assessments",
     .reference = "LPI 9",
     .owner = "Head of assessment services",
     .frequency = Frequency::monthly,
     .measure = Measure::backlog_overdue,
     .sources = {"ni59", "ni60", "single45"},
     .direction = Direction::fall_is_good,
     .unit = "count",
     .counting = "outstanding on the day and its duration to the day already over the limit of its kind",
    },
    {
     .id = "authorisation_delay",
     .title = "Manager authorisation delay (worker completion to authorisation)",
     .reference = "LPI 10",
     .owner = "Head of quality assurance",
     .frequency = Frequency::monthly,
     .measure = Measure::delay,
     .kind = RecordKind::assessment,
     .start = {.field = "completed_at"},
     .end = {.field = "authorised_at"},
     .direction = Direction::fall_is_good,
     .unit = "working days",
     .counting = kWorkingDays,
    },
    {
     .id = "recording_delay",
     .title = "Recording delay of visits (visit to received by the server)",
     .reference = "LPI 11",
     .owner = "Head of quality assurance",
     .frequency = Frequency::monthly,
     .measure = Measure::delay,
     .kind = RecordKind::visit,
     .start = {.field = "start_at"},
     .end = {.field = "recorded_at"},
     .period_event = PeriodEvent::start,
     .detail_field = "visit_type",
     .limit = LimitKind::recording_standard,
     .direction = Direction::fall_is_good,
     .unit = "hours",
     .counting = "hours from the visit's start to the server's receipt; within the standard when received by TimescaleSettings' recording due time",
    },
};
// clang-format on

}  // namespace

std::string_view to_string(Frequency frequency) noexcept {
  switch (frequency) {
    case Frequency::monthly:
      return "monthly";
    case Frequency::quarterly:
      return "quarterly";
    case Frequency::annually:
      return "annually";
  }
  return "monthly";
}

const std::vector<IndicatorDefinition>& definitions() { return kIndicators; }

const IndicatorDefinition* find_definition(std::string_view id) {
  const auto& d = definitions();
  auto it = std::find_if(d.begin(), d.end(), [&](const auto& i) { return i.id == id; });
  return it == d.end() ? nullptr : &*it;
}

Rag rag_for(const IndicatorDefinition& def, std::optional<double> value) {
  if (!def.target || !value || def.direction == Direction::bell_shaped) return Rag::none;
  // Values are ratios computed in floating point; a value equal to a boundary must fall on
  // the boundary's side (75.6% against 90% of an 84% target is amber, though 84 * 0.9 is
  // 75.600000000000009 in binary), so comparisons allow for rounding far below 0.1%.
  constexpr double kSlack = 1e-9;
  const double t = *def.target;
  if (def.direction == Direction::rise_is_good) {
    if (*value >= t - kSlack) return Rag::green;
    return *value >= t * 0.9 - kSlack ? Rag::amber : Rag::red;
  }
  if (*value <= t + kSlack) return Rag::green;
  return *value <= t * 1.1 + kSlack ? Rag::amber : Rag::red;
}

std::string_view to_string(Direction direction) noexcept {
  switch (direction) {
    case Direction::rise_is_good:
      return "rise_is_good";
    case Direction::fall_is_good:
      return "fall_is_good";
    case Direction::bell_shaped:
      return "bell_shaped";
  }
  return "rise_is_good";
}

std::string_view to_string(Rag rag) noexcept {
  switch (rag) {
    case Rag::none:
      return "none";
    case Rag::red:
      return "red";
    case Rag::amber:
      return "amber";
    case Rag::green:
      return "green";
  }
  return "none";
}

}  // namespace fieldcase::server::figures
