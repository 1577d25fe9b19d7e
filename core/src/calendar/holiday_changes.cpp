// One-off changes to England & Wales bank holidays since 1978, as proclaimed. New changes are
// added here (or supplied as configuration through WorkingCalendar::create), never as code.
#include <optional>
#include <vector>

#include "fieldcase/calendar.hpp"

namespace fieldcase {

namespace {

Date d(int year, int month, int day) { return Date::from_ymd(year, month, day).value(); }

std::vector<HolidayChange> build_table() {
  return {
      {d(1981, 7, 29), std::nullopt, "Royal wedding"},
      {d(1995, 5, 8), d(1995, 5, 1), "Early May bank holiday (VE Day)"},
      {d(1999, 12, 31), std::nullopt, "Millennium celebrations"},
      {d(2002, 6, 3), std::nullopt, "Golden Jubilee"},
      {d(2002, 6, 4), d(2002, 5, 27), "Spring bank holiday"},
      {d(2011, 4, 29), std::nullopt, "Royal wedding"},
      {d(2012, 6, 4), d(2012, 5, 28), "Spring bank holiday"},
      {d(2012, 6, 5), std::nullopt, "Queen's Diamond Jubilee"},
      {d(2020, 5, 8), d(2020, 5, 4), "Early May bank holiday (VE Day)"},
      {d(2022, 6, 2), d(2022, 5, 30), "Spring bank holiday"},
      {d(2022, 6, 3), std::nullopt, "Platinum Jubilee bank holiday"},
      {d(2022, 9, 19), std::nullopt, "State Funeral of Queen Elizabeth II"},
      {d(2023, 5, 8), std::nullopt, "Coronation of King Charles III"},
  };
}

}  // namespace

const std::vector<HolidayChange>& england_and_wales_holiday_changes() {
  static const std::vector<HolidayChange> table = build_table();
  return table;
}

}  // namespace fieldcase
