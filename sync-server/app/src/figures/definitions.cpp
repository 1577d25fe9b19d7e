// The registry of indicator definitions (docs/indicators.md explains each one).
#include <algorithm>

#include "fieldcase/server/figures.hpp"

namespace fieldcase::server::figures {

namespace {

constexpr std::string_view kWorkingDays =
    "duration = working days after the start date up to and including the end date "
    "(same day = 0); within the limit when duration <= limit";

std::vector<IndicatorDefinition> make_definitions() {
  std::vector<IndicatorDefinition> d;
  {
    IndicatorDefinition i;
    i.id = "ni59";
    i.reference = "NI 59";
    i.owner = "Head of assessment services";
    i.frequency = Frequency::monthly;
    i.title = "Initial assessments completed within 7 working days of referral (NI 59)";
    i.measure = Measure::timeliness;
    i.kind = RecordKind::assessment;
    i.filter_field = "assessment_kind";
    i.filter_value = "initial";
    i.start = {"start_date", "referral_id", "referral_date", {}, RecordKind::referral};
    i.end = {"completed_at"};
    i.limit = LimitKind::initial_assessment;
    i.target = 80.0;
    i.baseline = 59.0;
    i.unit = "%";
    i.counting = kWorkingDays;
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "ni60";
    i.reference = "NI 60";
    i.owner = "Head of assessment services";
    i.frequency = Frequency::monthly;
    i.title = "Core assessments completed within 35 working days of their start (NI 60)";
    i.measure = Measure::timeliness;
    i.kind = RecordKind::assessment;
    i.filter_field = "assessment_kind";
    i.filter_value = "core";
    i.start = {"start_date"};
    i.end = {"completed_at"};
    i.limit = LimitKind::core_assessment;
    i.target = 84.0;
    i.baseline = 66.0;
    i.unit = "%";
    i.counting = kWorkingDays;
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "single45";
    i.reference = "LPI 1";
    i.owner = "Head of assessment services";
    i.frequency = Frequency::monthly;
    i.title = "Single assessments completed within 45 working days of referral";
    i.measure = Measure::timeliness;
    i.kind = RecordKind::assessment;
    i.filter_field = "assessment_kind";
    i.filter_value = "single";
    i.start = {"start_date", "referral_id", "referral_date", {}, RecordKind::referral};
    i.end = {"completed_at"};
    i.limit = LimitKind::single_assessment;
    i.unit = "%";
    i.counting = kWorkingDays;
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "contact1";
    i.reference = "LPI 2";
    i.owner = "Head of the front door service";
    i.frequency = Frequency::monthly;
    i.title = "Contacts decided within 1 working day of receipt";
    i.measure = Measure::timeliness;
    i.kind = RecordKind::contact;
    i.start = {"received_at"};
    i.end = {"decision_at"};
    i.limit = LimitKind::contact_decision;
    i.unit = "%";
    i.counting = kWorkingDays;
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "icpc15";
    i.reference = "LPI 3";
    i.owner = "Head of safeguarding";
    i.frequency = Frequency::monthly;
    i.title =
        "Initial child protection conferences within 15 working days of the strategy "
        "discussion";
    i.measure = Measure::timeliness;
    i.kind = RecordKind::s47_enquiry;
    i.exclude_if_true = "conference_not_required";
    i.start = {"strategy_discussion_date", {}, {}, "start_date"};
    i.end = {"initial_conference_date"};
    i.limit = LimitKind::initial_conference;
    i.unit = "%";
    i.counting = kWorkingDays;
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "cp_visits";
    i.reference = "LPI 4";
    i.owner = "Head of safeguarding";
    i.frequency = Frequency::monthly;
    i.title = "Child protection visits within the local interval of the previous visit";
    i.measure = Measure::timeliness;
    i.kind = RecordKind::visit;
    i.filter_field = "visit_type";
    i.filter_value = "cp_statutory";
    i.end = {"start_at"};
    i.span_kind = RecordKind::cp_plan;
    i.span_start = {"start_date"};
    i.limit = LimitKind::cp_visit;
    i.unit = "%";
    i.counting =
        "statutory visits made in the period during a plan; duration from the previous "
        "visit in the plan (else the plan's start), working days";
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "lac_visits";
    i.reference = "LPI 5";
    i.owner = "Head of children looked after";
    i.frequency = Frequency::monthly;
    i.title = "Looked-after children's statutory visits on time (regulation 28)";
    i.measure = Measure::lac_visit_schedule;
    i.kind = RecordKind::visit;
    i.filter_field = "visit_type";
    i.filter_value = "lac_statutory";
    i.end = {"start_at"};
    i.span_kind = RecordKind::lac_episode;
    i.span_start = {"placement_start", {}, {}, "start_date"};
    i.unit = "%";
    i.counting =
        "statutory visits made in the period while looked after; on time when on or "
        "before the regulation 28 due date from the previous visit in the placement "
        "(else the placement start), calendar days";
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "ni68";
    i.reference = "NI 68";
    i.owner = "Head of the front door service";
    i.frequency = Frequency::monthly;
    i.title = "Referrals going on to assessment (NI 68)";
    i.measure = Measure::proportion;
    i.kind = RecordKind::referral;
    i.start = {"referral_date"};
    i.period_event = PeriodEvent::start;
    i.relation = Relation::referral_has_assessment;
    i.unit = "%";
    i.counting = "referrals dated in the period; numerator: those an assessment refers to";
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "ni64";
    i.reference = "NI 64";
    i.owner = "Head of safeguarding";
    i.frequency = Frequency::quarterly;
    i.title = "Child protection plans ending that lasted 2 years or more (NI 64)";
    i.measure = Measure::proportion;
    i.kind = RecordKind::cp_plan;
    i.start = {"start_date"};
    i.end = {"end_date"};
    i.period_event = PeriodEvent::end;
    i.relation = Relation::lasted_two_years;
    i.direction = Direction::fall_is_good;
    i.unit = "%";
    i.counting =
        "plans ending in the period; numerator: end date on or after the second "
        "anniversary of the start date (calendar years)";
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "ni65";
    i.reference = "NI 65";
    i.owner = "Head of safeguarding";
    i.frequency = Frequency::quarterly;
    i.title = "Child protection plans starting for a second or later time (NI 65)";
    i.measure = Measure::proportion;
    i.kind = RecordKind::cp_plan;
    i.start = {"start_date"};
    i.period_event = PeriodEvent::start;
    i.relation = Relation::earlier_plan_for_child;
    i.direction = Direction::bell_shaped;
    i.unit = "%";
    i.counting =
        "plans starting in the period; numerator: the child had a plan that started "
        "earlier, ever";
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "ni67";
    i.reference = "NI 67";
    i.owner = "Head of safeguarding";
    i.frequency = Frequency::monthly;
    i.title = "Child protection plans reviewed within timescale (NI 67)";
    i.measure = Measure::reviews_on_time;
    i.kind = RecordKind::cp_plan;
    i.start = {"start_date"};
    i.end = {"end_date"};
    i.detail_field = "review_dates";
    i.limit = LimitKind::cp_reviews;
    i.target = 100.0;
    i.unit = "%";
    i.counting =
        "plans open on the day for 3 months or more, or ended in the period after 3 "
        "months or more; numerator: the first review within 3 months of the start "
        "(the initial conference), each later one within 6 months of the previous, "
        "and the next not yet overdue on the day (or the end)";
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "lac_count";
    i.reference = "LPI 6";
    i.owner = "Head of children looked after";
    i.frequency = Frequency::monthly;
    i.title = "Looked-after children (unaccompanied asylum-seeking children excluded)";
    i.measure = Measure::count_as_of;
    i.kind = RecordKind::lac_episode;
    i.start = {"start_date"};
    i.end = {"end_date"};
    i.relation = Relation::child_not_uasc;
    i.direction = Direction::bell_shaped;
    i.unit = "count";
    i.counting = "episodes open on the day (start <= day < end); one per child";
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "lac_rate";
    i.reference = "LPI 7";
    i.owner = "Head of children looked after";
    i.frequency = Frequency::monthly;
    i.title = "Looked-after children per 10,000 under-18s (UASC excluded)";
    i.measure = Measure::count_as_of;
    i.kind = RecordKind::lac_episode;
    i.sources = {"lac_count"};
    i.direction = Direction::bell_shaped;
    i.unit = "per 10,000";
    i.counting = "lac_count x 10,000 / the authority's under-18 population";
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "assessments_outstanding";
    i.reference = "LPI 8";
    i.owner = "Head of assessment services";
    i.frequency = Frequency::monthly;
    i.title = "Outstanding assessments (the backlog)";
    i.measure = Measure::backlog_outstanding;
    i.sources = {"ni59", "ni60", "single45"};
    i.direction = Direction::fall_is_good;
    i.unit = "count";
    i.counting = "started on or before the day and not completed by its end";
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "assessments_overdue";
    i.reference = "LPI 9";
    i.owner = "Head of assessment services";
    i.frequency = Frequency::monthly;
    i.title = "Overdue assessments";
    i.measure = Measure::backlog_overdue;
    i.sources = {"ni59", "ni60", "single45"};
    i.direction = Direction::fall_is_good;
    i.unit = "count";
    i.counting =
        "outstanding on the day and its duration to the day already over the limit "
        "of its kind";
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "authorisation_delay";
    i.reference = "LPI 10";
    i.owner = "Head of quality assurance";
    i.frequency = Frequency::monthly;
    i.title = "Manager authorisation delay (worker completion to authorisation)";
    i.measure = Measure::delay;
    i.kind = RecordKind::assessment;
    i.start = {"completed_at"};
    i.end = {"authorised_at"};
    i.direction = Direction::fall_is_good;
    i.unit = "working days";
    i.counting = kWorkingDays;
    d.push_back(i);
  }
  {
    IndicatorDefinition i;
    i.id = "recording_delay";
    i.reference = "LPI 11";
    i.owner = "Head of quality assurance";
    i.frequency = Frequency::monthly;
    i.title = "Recording delay of visits (visit to received by the server)";
    i.measure = Measure::delay;
    i.kind = RecordKind::visit;
    i.start = {"start_at"};
    i.end = {"recorded_at"};
    i.period_event = PeriodEvent::start;
    i.detail_field = "visit_type";
    i.limit = LimitKind::recording_standard;
    i.direction = Direction::fall_is_good;
    i.unit = "hours";
    i.counting =
        "hours from the visit's start to the server's receipt; within the standard "
        "when received by TimescaleSettings' recording due time";
    d.push_back(i);
  }
  return d;
}

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

const std::vector<IndicatorDefinition>& definitions() {
  static const std::vector<IndicatorDefinition> d = make_definitions();
  return d;
}

const IndicatorDefinition* find_definition(std::string_view id) {
  const auto& d = definitions();
  auto it = std::find_if(d.begin(), d.end(), [&](const auto& i) { return i.id == id; });
  return it == d.end() ? nullptr : &*it;
}

}  // namespace fieldcase::server::figures
