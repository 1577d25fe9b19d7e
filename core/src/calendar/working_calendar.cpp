#include <algorithm>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "calendar/day_math.hpp"
#include "fieldcase/calendar.hpp"

namespace fieldcase {

namespace {

namespace chr = std::chrono;
using calendar_detail::is_weekend;

struct DayOff {
  std::int32_t day;
  std::string_view name;  // a literal, or a HolidayChange name owned by the calendar
};

std::int32_t day_number(const chr::year_month_day& ymd) {
  return static_cast<std::int32_t>(chr::sys_days(ymd).time_since_epoch().count());
}

std::int32_t day_number(chr::year year, chr::month month, chr::weekday_indexed wdi) {
  return static_cast<std::int32_t>(chr::sys_days(year / month / wdi).time_since_epoch().count());
}

std::int32_t day_number(chr::year year, chr::month month, chr::weekday_last wdl) {
  return static_cast<std::int32_t>(chr::sys_days(year / month / wdl).time_since_epoch().count());
}

Date date_of(std::int32_t day) { return Date::from_days_since_epoch(day).value(); }

// Easter Sunday in the Gregorian calendar (the anonymous Gregorian computus).
chr::year_month_day easter_sunday(int year) {
  const int golden = year % 19;
  const int century = year / 100;
  const int year_in_century = year % 100;
  const int leap_centuries = century / 4;
  const int century_rest = century % 4;
  const int lunar_correction = (century + 8) / 25;
  const int solar_correction = (century - lunar_correction + 1) / 3;
  const int epact = (19 * golden + century - leap_centuries - solar_correction + 15) % 30;
  const int leap_years = year_in_century / 4;
  const int year_rest = year_in_century % 4;
  const int to_sunday = (32 + 2 * century_rest + 2 * leap_years - epact - year_rest) % 7;
  const int adjust = (golden + 11 * epact + 22 * to_sunday) / 451;
  const int month = (epact + to_sunday - 7 * adjust + 114) / 31;
  const int day = (epact + to_sunday - 7 * adjust + 114) % 31 + 1;
  return {chr::year(year), chr::month(static_cast<unsigned>(month)),
          chr::day(static_cast<unsigned>(day))};
}

// Holidays that can fall at a weekend, in priority order: each one at a weekend is moved to
// the first later weekday that is not already a holiday, after the ones that stay put.
void place_with_substitutes(std::vector<DayOff>& out,
                            std::initializer_list<std::pair<DayOff, std::string_view>> days) {
  const auto taken = [&out](std::int32_t day) {
    return std::any_of(out.begin(), out.end(), [day](const DayOff& h) { return h.day == day; });
  };
  for (const auto& [holiday, substitute_name] : days) {
    if (!is_weekend(holiday.day)) out.push_back(holiday);
  }
  for (const auto& [holiday, substitute_name] : days) {
    if (!is_weekend(holiday.day)) continue;
    std::int32_t day = holiday.day + 1;
    while (is_weekend(day) || taken(day)) ++day;
    out.push_back({day, substitute_name});
  }
}

// The bank holidays the standing rules give for `year` (no one-off changes).
std::vector<DayOff> rule_holidays(int year) {
  const chr::year y(year);
  std::vector<DayOff> out;
  out.reserve(8);
  place_with_substitutes(out, {{{day_number(y / chr::January / 1), "New Year's Day"},
                                "New Year's Day (substitute day)"}});
  const std::int32_t easter = day_number(easter_sunday(year));
  out.push_back({easter - 2, "Good Friday"});
  out.push_back({easter + 1, "Easter Monday"});
  out.push_back({day_number(y, chr::May, chr::Monday[1]), "Early May bank holiday"});
  out.push_back({day_number(y, chr::May, chr::Monday[chr::last]), "Spring bank holiday"});
  out.push_back({day_number(y, chr::August, chr::Monday[chr::last]), "Summer bank holiday"});
  place_with_substitutes(
      out,
      {{{day_number(y / chr::December / 25), "Christmas Day"}, "Christmas Day (substitute day)"},
       {{day_number(y / chr::December / 26), "Boxing Day"}, "Boxing Day (substitute day)"}});
  return out;
}

// The changes whose date falls in `year` (a move never crosses a year: create() checks).
std::pair<std::vector<HolidayChange>::const_iterator, std::vector<HolidayChange>::const_iterator>
changes_in_year(const std::vector<HolidayChange>& changes, int year) {
  const std::int32_t first = calendar_detail::first_day_of_year(year);
  const std::int32_t next = year < Date::kMaxYear ? calendar_detail::first_day_of_year(year + 1)
                                                  : Date::max().days_since_epoch() + 1;
  const auto by_day = [](const HolidayChange& c, std::int32_t day) {
    return c.date.days_since_epoch() < day;
  };
  return {std::lower_bound(changes.begin(), changes.end(), first, by_day),
          std::lower_bound(changes.begin(), changes.end(), next, by_day)};
}

// Rule holidays of `year` with that year's changes applied, sorted by day. Reports the first
// change that does not fit through `problem` (and then stops) when one is given.
std::vector<DayOff> bank_holiday_days(int year, const std::vector<HolidayChange>& changes,
                                      std::string* problem) {
  std::vector<DayOff> out = rule_holidays(year);
  const auto [begin, end] = changes_in_year(changes, year);
  for (auto it = begin; it != end; ++it) {
    if (!it->moved_from) continue;
    const std::int32_t from = it->moved_from->days_since_epoch();
    const auto found =
        std::find_if(out.begin(), out.end(), [from](const DayOff& h) { return h.day == from; });
    if (found == out.end()) {
      if (problem != nullptr) {
        *problem = "moves " + it->moved_from->to_string() + " to " + it->date.to_string() +
                   " but the rules make no bank holiday on " + it->moved_from->to_string();
        return out;
      }
      continue;
    }
    out.erase(found);
  }
  for (auto it = begin; it != end; ++it) {
    const std::int32_t day = it->date.days_since_epoch();
    const bool duplicate =
        std::any_of(out.begin(), out.end(), [day](const DayOff& h) { return h.day == day; });
    if (duplicate) {
      if (problem != nullptr) {
        *problem = it->date.to_string() + " is already a bank holiday";
        return out;
      }
      continue;
    }
    out.push_back({day, it->name});
  }
  std::sort(out.begin(), out.end(), [](const DayOff& a, const DayOff& b) { return a.day < b.day; });
  return out;
}

bool sorted_contains(const std::vector<std::int32_t>& days, std::int32_t day) {
  return std::binary_search(days.begin(), days.end(), day);
}

}  // namespace

// Each year's non-working weekdays, worked out once for the years records fall in.
struct WorkingCalendar::YearTable {
  static constexpr int kFirstYear = 1990;
  static constexpr int kLastYear = 2100;
  std::vector<std::vector<std::int32_t>> days;  // [year - kFirstYear]

  explicit YearTable(const WorkingCalendar& calendar) {
    days.reserve(kLastYear - kFirstYear + 1);
    for (int year = kFirstYear; year <= kLastYear; ++year) {
      days.push_back(calendar.non_working_weekdays(year));
    }
  }
};

WorkingCalendar::WorkingCalendar() : changes_(england_and_wales_holiday_changes()) {
  // Every default calendar is the same: one table serves them all.
  static const std::shared_ptr<const YearTable> kDefaultYears = std::make_shared<const YearTable>(
      WorkingCalendar(std::vector<Date>{}, england_and_wales_holiday_changes()));
  years_ = kDefaultYears;
}

WorkingCalendar::WorkingCalendar(std::vector<Date> closure_days, std::vector<HolidayChange> changes)
    : closures_(std::move(closure_days)), changes_(std::move(changes)) {}

Result<WorkingCalendar> WorkingCalendar::create(std::vector<Date> closure_days,
                                                std::vector<HolidayChange> changes) {
  std::sort(closure_days.begin(), closure_days.end());
  closure_days.erase(std::unique(closure_days.begin(), closure_days.end()), closure_days.end());
  std::stable_sort(changes.begin(), changes.end(),
                   [](const HolidayChange& a, const HolidayChange& b) { return a.date < b.date; });
  for (const HolidayChange& change : changes) {
    const std::string where = "holiday change on " + change.date.to_string() + ": ";
    if (change.name.empty()) {
      return Status(Errc::invalid_argument, where + "a holiday needs a name");
    }
    if (change.date.is_weekend()) {
      return Status(Errc::invalid_argument, where + "falls at a weekend");
    }
    if (change.moved_from && change.moved_from->year() != change.date.year()) {
      return Status(Errc::invalid_argument, where + "moves a holiday from another year (" +
                                                change.moved_from->to_string() + ")");
    }
  }
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const int year = changes[i].date.year();
    if (i > 0 && changes[i - 1].date.year() == year) continue;
    std::string problem;
    bank_holiday_days(year, changes, &problem);
    if (!problem.empty()) {
      return Status(Errc::invalid_argument,
                    "holiday change in " + std::to_string(year) + ": " + problem);
    }
  }
  WorkingCalendar calendar(std::move(closure_days), std::move(changes));
  calendar.years_ = std::make_shared<const YearTable>(calendar);
  return calendar;
}

std::vector<Holiday> WorkingCalendar::bank_holidays(int year) const {
  std::vector<Holiday> out;
  if (year < Date::kMinYear || year > Date::kMaxYear) return out;
  for (const DayOff& h : bank_holiday_days(year, changes_, nullptr)) {
    out.push_back({date_of(h.day), std::string(h.name)});
  }
  return out;
}

std::vector<std::int32_t> WorkingCalendar::non_working_weekdays(int year) const {
  std::vector<std::int32_t> out;
  if (year < Date::kMinYear || year > Date::kMaxYear) return out;
  for (const DayOff& h : bank_holiday_days(year, changes_, nullptr)) out.push_back(h.day);
  const auto first = std::lower_bound(closures_.begin(), closures_.end(),
                                      date_of(calendar_detail::first_day_of_year(year)));
  for (auto it = first; it != closures_.end() && it->year() == year; ++it) {
    if (!it->is_weekend()) out.push_back(it->days_since_epoch());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

const std::vector<std::int32_t>& WorkingCalendar::non_working_weekdays(
    int year, std::vector<std::int32_t>& scratch) const {
  if (years_ && year >= YearTable::kFirstYear && year <= YearTable::kLastYear) {
    return years_->days[static_cast<std::size_t>(year - YearTable::kFirstYear)];
  }
  scratch = non_working_weekdays(year);
  return scratch;
}

std::vector<Date> WorkingCalendar::holidays(int year) const {
  std::vector<Date> out;
  std::vector<std::int32_t> scratch;
  for (std::int32_t day : non_working_weekdays(year, scratch)) out.push_back(date_of(day));
  return out;
}

bool WorkingCalendar::is_working_day(Date date) const {
  if (date.is_weekend()) return false;
  std::vector<std::int32_t> scratch;
  return !sorted_contains(non_working_weekdays(date.year(), scratch), date.days_since_epoch());
}

std::int32_t WorkingCalendar::working_days_between(Date start, Date end) const {
  if (end < start) return -working_days_between(end, start);
  const std::int32_t a = start.days_since_epoch();
  const std::int32_t b = end.days_since_epoch();
  std::int64_t count = calendar_detail::weekdays_through(b) - calendar_detail::weekdays_through(a);
  std::vector<std::int32_t> scratch;
  for (int year = start.year(); year <= end.year(); ++year) {
    for (std::int32_t day : non_working_weekdays(year, scratch)) {
      if (day > a && day <= b) --count;
    }
  }
  return static_cast<std::int32_t>(count);
}

bool WorkingCalendar::within_working_days(Date start, Date end, std::int32_t limit) const {
  return working_days_between(start, end) <= limit;
}

namespace {

// Answers is_working_day for consecutive days, recomputing holidays only when the year changes.
template <typename YearDays>
class WorkingDayCursor {
 public:
  explicit WorkingDayCursor(YearDays year_days) : year_days_(std::move(year_days)) {}

  bool working(std::int32_t day) {
    if (is_weekend(day)) return false;
    if (day < year_first_ || day >= year_next_) load(calendar_detail::year_of(day));
    return !sorted_contains(*days_, day);
  }

 private:
  void load(int year) {
    days_ = &year_days_(year, scratch_);
    year_first_ = calendar_detail::first_day_of_year(year);
    year_next_ = year < Date::kMaxYear ? calendar_detail::first_day_of_year(year + 1)
                                       : Date::max().days_since_epoch() + 1;
  }

  YearDays year_days_;
  std::vector<std::int32_t> scratch_;
  const std::vector<std::int32_t>* days_ = nullptr;
  std::int32_t year_first_ = 1;
  std::int32_t year_next_ = 0;
};

}  // namespace

Result<Date> WorkingCalendar::add_working_days(Date start, std::int32_t n) const {
  if (n == 0) return start;
  const auto out_of_range = [&] {
    return Status(Errc::invalid_argument, std::to_string(n) + " working days from " +
                                              start.to_string() +
                                              " is outside 0001-01-01..9999-12-31");
  };
  WorkingDayCursor cursor(
      [this](int year, std::vector<std::int32_t>& scratch) -> const std::vector<std::int32_t>& {
        return non_working_weekdays(year, scratch);
      });
  const std::int32_t lowest = Date::min().days_since_epoch();
  const std::int32_t highest = Date::max().days_since_epoch();
  std::int32_t day = start.days_since_epoch();
  if (n > 0) {
    std::int32_t remaining = n;
    while (remaining > 0) {
      if (day == highest) return out_of_range();
      ++day;
      if (cursor.working(day)) --remaining;
    }
    return date_of(day);
  }
  // Walking back: `counted` is the number of working days in (day, start].
  const std::int64_t wanted = -static_cast<std::int64_t>(n);
  std::int64_t counted = 0;
  for (;;) {
    if (cursor.working(day)) ++counted;
    if (day == lowest) return out_of_range();
    --day;
    if (counted == wanted && cursor.working(day)) return date_of(day);
  }
}

Result<Date> WorkingCalendar::next_working_day(Date date) const {
  if (date == Date::max()) {
    return Status(Errc::invalid_argument, "no working day after 9999-12-31 in range");
  }
  return working_day_on_or_after(date_of(date.days_since_epoch() + 1));
}

Result<Date> WorkingCalendar::working_day_on_or_after(Date date) const {
  WorkingDayCursor cursor(
      [this](int year, std::vector<std::int32_t>& scratch) -> const std::vector<std::int32_t>& {
        return non_working_weekdays(year, scratch);
      });
  const std::int32_t highest = Date::max().days_since_epoch();
  for (std::int32_t day = date.days_since_epoch();; ++day) {
    if (cursor.working(day)) return date_of(day);
    if (day == highest) break;
  }
  return Status(Errc::invalid_argument,
                "no working day on or after " + date.to_string() + " before 9999-12-31");
}

}  // namespace fieldcase
