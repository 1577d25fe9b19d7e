// Arithmetic on day numbers (days since 1970-01-01) shared by the calendar sources.
#pragma once

#include <cstdint>

namespace fieldcase::calendar_detail {

// 0 for Monday .. 6 for Sunday; 1970-01-01 was a Thursday.
constexpr int weekday_index(std::int32_t days) {
  const std::int64_t shifted = static_cast<std::int64_t>(days) + 3;
  const std::int64_t r = shifted % 7;
  return static_cast<int>(r < 0 ? r + 7 : r);
}

constexpr int iso_weekday(std::int32_t days) { return weekday_index(days) + 1; }

constexpr bool is_weekend(std::int32_t days) { return weekday_index(days) >= 5; }

// Number of Mondays-to-Fridays from a fixed Monday long ago up to and including `days`, so that
// the weekdays in (a, b] are weekdays_through(b) - weekdays_through(a).
constexpr std::int64_t weekdays_through(std::int32_t days) {
  const std::int64_t shifted = static_cast<std::int64_t>(days) + 3;  // 0 on a Monday
  const std::int64_t weeks = shifted >= 0 ? shifted / 7 : (shifted - 6) / 7;
  const std::int64_t rest = shifted - weeks * 7;
  return weeks * 5 + (rest + 1 < 5 ? rest + 1 : 5);
}

std::int32_t first_day_of_year(int year);
int year_of(std::int32_t days);

}  // namespace fieldcase::calendar_detail
