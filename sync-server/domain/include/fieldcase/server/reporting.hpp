// The units and periods figures and reports are asked for, and the one way their text forms are
// read (the HTTP API's query parameters and the administrative commands' options alike), and
// the reporting day. Pure: no I/O, no clock of its own.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "fieldcase/calendar.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server::figures {

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
// Errc::invalid_argument for any other text.
Result<Period> parse_period(std::string_view text);
Period month_of(Date date);
Period quarter_of(Date date);
Period financial_year_of(Date date);

// The reporting day of a moment: the UTC calendar date (the authority's figures, reports and
// default periods all count by it).
Date reporting_day(std::chrono::system_clock::time_point at) noexcept;

// A unit of the organisation figures are attributed to: the authority (no id), or an area,
// team or worker by id.
struct Unit {
  Level level = Level::authority;
  std::string id;
};

// How a caller names the level and unit parameters in its messages ("level" and "unit" for the
// HTTP API, "--level" and "--id" for the commands).
struct UnitNames {
  std::string_view level = "level";
  std::string_view unit = "unit";
};

// Reads a level and a unit id as given (either may be empty). nullopt when both are empty (the
// caller's default applies). Errc::invalid_argument when the level is not authority, area,
// team or worker, when a unit is given without a level or with the authority, when an area,
// team or worker has no unit, or when the unit is not an id (at most 64 letters, digits and
// dashes).
Result<std::optional<Unit>> parse_unit(std::string_view level, std::string_view unit,
                                       UnitNames names = {});

// A day "YYYY-MM-DD" given as the parameter `name`; Errc::invalid_argument otherwise.
Result<Date> parse_day(std::string_view text, std::string_view name);

}  // namespace fieldcase::server::figures
