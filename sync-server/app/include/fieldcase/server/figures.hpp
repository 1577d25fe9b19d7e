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
#include "fieldcase/server/indicators.hpp"
#include "fieldcase/server/reporting.hpp"
#include "fieldcase/server/server_store.hpp"
#include "fieldcase/status.hpp"
#include "fieldcase/timescales.hpp"

namespace fieldcase::server::figures {

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
