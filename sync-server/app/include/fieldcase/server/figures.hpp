// The figures engine: the statutory and local performance indicators, each declared once.
//
// An indicator is an IndicatorDefinition in the registry (definitions()): its population (a
// record kind, optionally narrowed by a code field), where its start and end events come from,
// its limit in working days (from the authority's TimescaleSettings), how it is measured, its
// direction, target and baseline. Adding an indicator is adding a definition; the measures
// (timeliness, proportion, count, backlog, delay, review and visit schedules) are shared code.
//
// Figures are kept current by "figure facts": one row per record per indicator with the raw
// event dates of that record (start, end, the server receipt of the end), the case it belongs
// to and its data-quality flags. One derivation works them out from a case's records and
// claimed times (each indicator declares what it reads: kinds, fields); refresh_cases()
// replaces the facts a sync can have changed, inside the sync's store transaction;
// recompute() rebuilds every fact from the records. Facts hold no calendar,
// limit or attribution, so settings and reallocations apply at query time without a rebuild.
//
// compute() answers a FigureQuery from the facts: numerator, denominator, value, RAG status,
// a data-quality note and the records behind the number (drill-down). Attribution to a
// worker, team or area is by the case's current allocation (docs/indicators.md, "Known
// ambiguities"). Free functions over a ServerStore; thread-safety is the store's.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/calendar.hpp"
#include "fieldcase/server/server_store.hpp"
#include "fieldcase/status.hpp"
#include "fieldcase/timescales.hpp"

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
  std::string_view field;
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
  std::string_view id;  // stable key: "ni59", "contact1", ...
  std::string_view title;
  // The published performance report's columns (docs/indicators.md, "Performance report"):
  // the national reference ("NI 59") or the authority's local one ("LPI 1"), who answers for
  // the indicator, and how often it is reported.
  std::string_view reference;
  std::string_view owner;
  Frequency frequency = Frequency::monthly;
  Measure measure = Measure::timeliness;
  RecordKind kind = RecordKind::assessment;  // the population's record kind
  std::string_view filter_field = {};        // only records whose code field...
  std::string_view filter_value = {};        // ...has this value
  std::string_view exclude_if_true = {};     // a boolean field that takes a record out
  EventSource start;
  EventSource end;  // empty field: no end event
  PeriodEvent period_event = PeriodEvent::end;
  std::string_view detail_field = {};
  // Statutory visits: only events inside a record of `span_kind` (a child protection plan, a
  // looked-after episode) count; the start is the previous visit of the same type in that
  // span, else the span's start (`span_start`). Absent for other indicators.
  std::optional<RecordKind> span_kind;
  EventSource span_start;  // copied to the fact's detail (codes joined by ',')
  LimitKind limit = LimitKind::none;
  Relation relation = Relation::none;
  std::vector<std::string_view> sources;  // backlog: the indicators whose facts it reads
  Direction direction = Direction::rise_is_good;
  std::optional<double> target;  // in the figure's unit
  std::optional<double> baseline;
  std::string_view unit;      // "%", "count", "per 10,000", "hours", ...
  std::string_view counting;  // the counting convention, in words
};

// Every indicator, in a fixed order. Ids are unique.
const std::vector<IndicatorDefinition>& definitions();
const IndicatorDefinition* find_definition(std::string_view id);

// --- Facts -------------------------------------------------------------------------------

// Data-quality flags a fact may carry (FigureFact::flags, comma separated, sorted).
inline constexpr std::string_view kFlagMissingStart = "missing_start";
inline constexpr std::string_view kFlagEndBeforeStart = "end_before_start";
inline constexpr std::string_view kFlagClockAfterReceipt = "clock_after_receipt";
inline constexpr std::string_view kFlagClockBeforeStart = "clock_before_start";
inline constexpr std::string_view kFlagClockOffset = "clock_large_offset";
// A review date that is unreadable or before the plan started.
inline constexpr std::string_view kFlagBadReview = "review_date_invalid";

// Whether records of this kind feed any indicator (the sync refreshes facts only then).
bool affects_figures(RecordKind kind) noexcept;

// The facts of every record of one case (deleted records have none), derived from all of
// the case's records, every field, and all of its claimed times: the reference the faster
// paths below must equal (they read only what the indicators concerned read).
Result<std::vector<FigureFact>> derive_case_facts(ServerStore& store, std::string_view case_id);
// Replaces every fact of each case (call inside the store transaction that changed them).
Status refresh_cases(ServerStore& store, const std::set<std::string>& case_ids);
// A record a sync created, changed or removed.
struct ChangedRecord {
  std::string case_id;
  std::string record_id;
  RecordKind kind = RecordKind::child;
};
// Replaces the facts the changed records can have changed (call inside the store transaction
// that changed them): only the indicators their kinds feed; and when those read the changed
// kinds only as their population (visits for the visit indicators), only the changed records'
// facts and those of the visits that follow them, with the other visits' times read from
// their facts. Otherwise the indicators' facts of the whole case, from the kinds they read.
Status refresh_records(ServerStore& store, const std::vector<ChangedRecord>& changed);
// Rebuilds every fact from the records, in one store transaction, reading the records in a
// few ordered scans (ServerStore::each_case_figure_inputs).
Status recompute(ServerStore& store);

// --- Queries -----------------------------------------------------------------------------

enum class Level : std::uint8_t { authority, area, team, worker };
enum class PeriodKind : std::uint8_t { month, quarter, financial_year };

std::string_view to_string(Level level) noexcept;
std::optional<Level> parse_level(std::string_view text) noexcept;

// A reporting period: a calendar month, a calendar quarter, or a financial year (1 April to
// 31 March). Text forms: "2025-07", "2025-Q3" (July-September), "FY2025-26".
struct Period {
  PeriodKind kind = PeriodKind::month;
  Date first;
  Date last;
  std::string label;
};
Result<Period> parse_period(std::string_view text);
Period month_of(Date date);
Period quarter_of(Date date);
Period financial_year_of(Date date);

struct FigureQuery {
  std::string indicator;
  Level level = Level::authority;
  std::string id;  // the area, team or worker id; ignored for the authority
  Period period;
  // The day the figure is taken on: work ending after it is not counted yet, and count and
  // backlog measures are taken on min(as_of, period.last).
  Date as_of = Date::max();
  // Whether the result lists the records behind it (records, excluded_records); without them
  // only the numbers and the data-quality counts are worked out, which is cheaper.
  bool with_records = true;
};

// The authority's settings the figures depend on.
struct FiguresConfig {
  Timescales timescales;
  std::int64_t population_under_18 = 0;  // 0: unknown (no rate)
  // A record received by the server more than this many days after its end event is flagged
  // "synced late" in the data-quality note.
  std::int32_t late_sync_days = 7;
};

enum class Rag : std::uint8_t { none, red, amber, green };
std::string_view to_string(Rag rag) noexcept;
// The status of a value against the definition's target: green when the target is met, amber
// within 10% of it (at least 90% of a rise-is-good target, at most 110% of a fall-is-good
// one), red otherwise; none without a target or a value, or for a bell-shaped indicator.
// A value on a boundary is on the boundary's side (no floating-point rounding decides).
Rag rag_for(const IndicatorDefinition& definition, std::optional<double> value);

// One record behind a figure.
struct DrillRow {
  std::string record_id;
  std::string case_id;
  std::string worker_id;  // current allocation; empty when unallocated
  std::string start;
  std::string end;
  std::optional<double> measured;  // duration (working days) or delay, when the measure has one
  bool in_numerator = false;
  std::vector<std::string> flags;  // fact flags, plus "synced_late"
};

struct DataQuality {
  std::int64_t records = 0;   // records in the figure
  std::int64_t flagged = 0;   // of which carry at least one flag
  std::int64_t excluded = 0;  // records of the population left out for a data problem
  std::map<std::string, std::int64_t> by_flag;
  std::string note;  // one line for people
};

struct FigureResult {
  std::string indicator;
  std::string title;
  std::string period;
  std::int64_t numerator = 0;
  std::int64_t denominator = 0;
  std::optional<double> value;  // nullopt when the denominator is 0
  std::string unit;
  Direction direction = Direction::rise_is_good;
  std::optional<double> target;
  std::optional<double> baseline;
  Rag rag = Rag::none;
  std::optional<double> median;  // delay measures
  std::optional<double> p90;
  DataQuality quality;
  std::vector<DrillRow> records;  // drill-down, in record id order
  // The records of the population left out for a data problem (counted in quality.excluded),
  // with the flags that explain why, in record id order: what the data-quality list shows.
  std::vector<DrillRow> excluded_records;
};

Result<FigureResult> compute(ServerStore& store, const FiguresConfig& config,
                             const FigureQuery& query);

// What compute() reads from the store, read once: the facts of each indicator, indexed by
// start and end date, and the worker, team and area each case is attributed to. A page of
// figures asks for many (every indicator, a dozen months, several units) over the same facts;
// sharing one cache among them reads the store once, and each figure reads only the facts its
// period can take in. It does not look for changes itself: refresh_cases() brings the cases a
// sync or a reallocation changed up to date, and take_changes() says which facts moved.
// Not thread-safe; `store` must outlive it.
class FactsCache {
 public:
  explicit FactsCache(ServerStore& store);
  ~FactsCache();
  FactsCache(const FactsCache&) = delete;
  FactsCache& operator=(const FactsCache&) = delete;

  // Re-reads the facts of `case_ids` (a sync refreshed them) into the indicators already
  // read, so a warm cache stays current without reading every fact again. Attribution
  // changes outside a sync (admin reallocations) need a new cache.
  Status refresh_cases(const std::set<std::string>& case_ids);

  // Reads every indicator's facts not read yet (a server warms its cache at start), stopping
  // early when `stop` returns true.
  Status read_all(const std::function<bool()>& stop = {});

  // A fact refresh_cases() added, removed, or moved to another unit (once for each unit).
  struct Change {
    std::string indicator;
    std::optional<Date> start, end;
    std::string worker, team, area;
  };
  // The changes since the last call, oldest first.
  std::vector<Change> take_changes();

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};
Result<FigureResult> compute(FactsCache& cache, const FiguresConfig& config,
                             const FigureQuery& query);
// Whether any of `changes` can alter what compute() answers for `query` (a cache of results
// keeps the others across a sync). False only when none of the changed facts is one the query
// reads: another indicator, a date outside the period, another unit.
bool may_change(const std::vector<FactsCache::Change>& changes, const FigureQuery& query);

// The figure for each month from the month of `first` to the month of `last`, in order (a
// trend: for count and backlog measures, the value at each month's end). `query.period` is
// replaced month by month; its as_of still caps every month.
Result<std::vector<FigureResult>> monthly_series(ServerStore& store, const FiguresConfig& config,
                                                 FigureQuery query, Date first, Date last);

// One line per figure for people ("ni59 team T 2025-Q3: 3/4 = 75.0% (target 80%, red) ...").
std::string format_result(const FigureResult& result);

}  // namespace fieldcase::server::figures
