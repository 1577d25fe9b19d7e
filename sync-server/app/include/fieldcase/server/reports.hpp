// Reports built on the figures engine (figures.hpp): the performance report councils publish,
// and the data-quality list of the records to fix.
//
// Neither computes an indicator itself: every number and every flag comes from
// figures::compute() over the figure facts, so a report always agrees with the figure it
// shows. The report's own columns (reference, owner, frequency) are in the indicator registry.
//
// Units: a report is taken for the authority, an area, a team or a worker (resolve_unit), and
// may_view() applies the permission matrix's figure rows to a unit. Rendering (CSV, text,
// HTML) is here; JSON stays in the HTTP layer. Free functions over a ServerStore;
// thread-safety is the store's (see ReportsService for the web's serialised, audited access).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/calendar.hpp"
#include "fieldcase/record.hpp"
#include "fieldcase/server/figures.hpp"
#include "fieldcase/server/server_store.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server::reports {

// --- Units ---------------------------------------------------------------------------------

struct Unit {
  figures::Level level = figures::Level::authority;
  std::string id;    // empty for the authority
  std::string name;  // the authority's, area's, team's or worker's name
};

// The unit a level and id name. Errors: invalid_argument (an id is needed for an area, team
// or worker, and none is taken for the authority), not_found (no such area, team or worker).
Result<Unit> resolve_unit(ServerStore& store, figures::Level level, std::string_view id);

// Where a unit sits in the organisation: its team (a team's own id, a worker's team) and that
// team's area (an area's own id). Empty where it has none.
struct UnitPlace {
  figures::Level level = figures::Level::authority;
  std::string id;
  std::string team_id;
  std::string area_id;
};

// The figure rows of the permission matrix (permissions.hpp) for one unit, the one rule the
// reports and the dashboard share: a role with view_all_figures (service lead) sees any unit;
// with view_area_figures (area manager) their own area, its teams and their workers; with
// view_team_figures (team manager) their own team and its workers; every other role none.
// `actor_area` is the area of the actor's team. Pure: the caller has read the organisation.
bool may_view_place(Role role, std::string_view actor_team, std::string_view actor_area,
                    const UnitPlace& unit);

// The query for one indicator of `unit` over `period`, figures as of `as_of`.
figures::FigureQuery unit_query(const figures::IndicatorDefinition& definition, const Unit& unit,
                                const figures::Period& period, Date as_of);

// may_view_place() for `unit`, reading the organisation from the store; no audit.
Result<bool> may_view(ServerStore& store, const Worker& actor, const Unit& unit);

// --- Performance report --------------------------------------------------------------------

// One indicator's line: this period's figure and the previous financial year's.
struct PerformanceRow {
  const figures::IndicatorDefinition* definition = nullptr;
  figures::FigureResult current;   // drill-down records dropped
  figures::FigureResult previous;  // the financial year before the period's own
};

struct PerformanceReport {
  Unit unit;
  figures::Period period;
  // The "previous year" column: the financial year (April-March) before the one the period
  // starts in (for FY2024-25 or any month or quarter of it: FY2023-24).
  figures::Period previous_year;
  Date as_of;  // figures of the period are taken as of this day (work ending later not counted)
  std::vector<PerformanceRow> rows;  // every indicator, in registry order
};

// The financial year before the one `period` starts in.
figures::Period previous_financial_year(const figures::Period& period);

Result<PerformanceReport> performance_report(ServerStore& store,
                                             const figures::FiguresConfig& config, const Unit& unit,
                                             const figures::Period& period, Date as_of);
// The same from facts already read (the dashboard's, kept current).
Result<PerformanceReport> performance_report(figures::FactsCache& facts,
                                             const figures::FiguresConfig& config, const Unit& unit,
                                             const figures::Period& period, Date as_of);

// Words for the report's columns.
std::string_view direction_words(figures::Direction direction) noexcept;    // "rise is good"...
std::string measure_words(const figures::IndicatorDefinition& definition);  // "percentage"...
// A value in the indicator's unit for people: "80.0%", "12", "36.0 hours"; "" when none.
std::string format_value(const figures::IndicatorDefinition& definition,
                         std::optional<double> value);

// The report as CSV (RFC 4180, CRLF line ends; cells neutralised by csv_cell), as
// tab-separated text for the admin command, and as a self-contained printable HTML page.
std::string performance_csv(const PerformanceReport& report);
std::string performance_text(const PerformanceReport& report);
std::string performance_html(const PerformanceReport& report, std::string_view authority_name);
// The page's stylesheet, inline in performance_html(), so the server can allow exactly it in
// its Content-Security-Policy (style-src 'sha256-...').
std::string_view performance_stylesheet() noexcept;

// --- Data quality --------------------------------------------------------------------------

// A record a team should fix: why, in words, and which figures it affects.
struct QualityRecord {
  std::string record_id;
  std::string case_id;
  RecordKind kind = RecordKind::assessment;
  std::string worker_id;  // the case's current allocation; empty when unallocated
  std::string worker_name;
  std::string team_id;  // the worker's team; empty when unallocated or teamless
  std::string team_name;
  std::string start;  // the record's start and end as the figures read them
  std::string end;
  std::vector<std::string> flags;       // sorted, distinct (figures.hpp and "synced_late")
  std::vector<std::string> reasons;     // one sentence per flag, in the flags' order
  std::vector<std::string> indicators;  // ids of the figures it affects, in registry order
  bool left_out = false;                // left out of at least one of those figures
};

struct DataQualityList {
  Unit unit;
  figures::Period period;
  Date as_of;
  // By team name (unallocated last), worker name, case id, record id.
  std::vector<QualityRecord> records;
};

// Every record behind the unit's figures for the period that carries a data-quality flag or
// was left out of a figure for one.
Result<DataQualityList> data_quality(ServerStore& store, const figures::FiguresConfig& config,
                                     const Unit& unit, const figures::Period& period, Date as_of);
// The same from facts already read; `store` gives the names of workers and teams.
Result<DataQualityList> data_quality(ServerStore& store, figures::FactsCache& facts,
                                     const figures::FiguresConfig& config, const Unit& unit,
                                     const figures::Period& period, Date as_of);

// What a flag means, in words a team manager understands, and what to do about it.
std::string flag_reason(std::string_view flag, const figures::FiguresConfig& config);

std::string data_quality_csv(const DataQualityList& list);

// --- CSV -----------------------------------------------------------------------------------

// One CSV cell: quoted when it holds a comma, quote, CR or LF (quotes doubled); a cell that a
// spreadsheet would take for a formula (starting with =, +, -, @, tab or CR) is prefixed with
// a single quote first.
std::string csv_cell(std::string_view text);

// Text for HTML or XML character data and attribute values: & < > " ' as entities.
std::string html_escape(std::string_view text);

}  // namespace fieldcase::server::reports
