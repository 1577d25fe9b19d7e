// Civil dates and the England & Wales working-day calendar that statutory timescales count in.
//
// Date is a proleptic Gregorian calendar date with no time zone, always within
// 0001-01-01..9999-12-31; every way of making one checks that range. WorkingCalendar knows
// the bank holidays of any year (rules plus a data table of one-off changes) and an
// authority's own closure days. Counting convention (docs/indicators.md): the working-day
// duration from start to end counts the working days after start up to and including end, so
// the same day is 0 and "within N working days" means duration <= N.
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/status.hpp"

namespace fieldcase {

// ISO 8601 numbering.
enum class Weekday : std::uint8_t {
  monday = 1,
  tuesday,
  wednesday,
  thursday,
  friday,
  saturday,
  sunday
};

class Date {
 public:
  static constexpr int kMinYear = 1;
  static constexpr int kMaxYear = 9999;

  constexpr Date() = default;  // 1970-01-01

  static Result<Date> from_ymd(int year, int month, int day);
  // Strict ISO 8601 calendar date "YYYY-MM-DD": exactly ten characters, two-digit month and
  // day, a day that exists in that month (2023-02-29 is rejected), nothing before or after.
  static Result<Date> parse(std::string_view iso);
  static Result<Date> from_days_since_epoch(std::int64_t days);
  static Date min() noexcept;
  static Date max() noexcept;

  std::string to_string() const;  // "YYYY-MM-DD"
  int year() const noexcept;
  int month() const noexcept;  // 1-12
  int day() const noexcept;    // 1-31
  Weekday weekday() const noexcept;
  bool is_weekend() const noexcept;
  std::int32_t days_since_epoch() const noexcept { return days_; }

  // Calendar arithmetic; fails with invalid_argument when the result leaves the Date range.
  Result<Date> add_days(std::int64_t days) const;
  // Adds whole months; a day that does not exist in the target month becomes that month's
  // last day (31 January + 1 month = 28 or 29 February).
  Result<Date> add_months(std::int64_t months) const;
  Result<Date> add_years(std::int64_t years) const;
  // Signed number of days from this date to `other` (positive when other is later).
  std::int32_t days_until(Date other) const noexcept { return other.days_ - days_; }

  friend constexpr bool operator==(Date, Date) = default;
  friend constexpr std::strong_ordering operator<=>(Date, Date) = default;

 private:
  explicit constexpr Date(std::int32_t days) : days_(days) {}
  std::int32_t days_ = 0;
};

// A named non-working day.
struct Holiday {
  Date date;
  std::string name;
  friend bool operator==(const Holiday&, const Holiday&) = default;
};

// A one-off change to the rule-based bank holidays: an extra holiday (`moved_from` empty), or a
// rule holiday moved to another date (`moved_from` is the date the rules give).
struct HolidayChange {
  Date date;
  std::optional<Date> moved_from;
  std::string name;
};

// The one-off changes to England & Wales bank holidays from 1978 (royal weddings, jubilees,
// VE Day, the millennium, a state funeral, a coronation), sorted by date.
const std::vector<HolidayChange>& england_and_wales_holiday_changes();

// Monday to Friday except England & Wales bank holidays and the authority's closure days.
// Holiday rules are those in force since 1978 and are applied to every year; earlier years
// are computed with the same rules, not historically. Immutable after construction, so one
// calendar can be shared between threads.
class WorkingCalendar {
 public:
  // England & Wales with the built-in table of one-off changes and no closure days.
  WorkingCalendar();

  // `closure_days` are the authority's own non-working days (duplicates, bank holidays and
  // weekends among them are harmless). `changes` replaces the built-in table; each change
  // must fall on a weekday, not already be a holiday, and a move must start from a date the
  // rules make a holiday in the same year. Fails with invalid_argument otherwise.
  static Result<WorkingCalendar> create(
      std::vector<Date> closure_days,
      std::vector<HolidayChange> changes = england_and_wales_holiday_changes());

  // England & Wales bank holidays of `year` (the weekday actually taken off, so substitute
  // days rather than weekend dates), sorted; empty outside Date's year range.
  std::vector<Holiday> bank_holidays(int year) const;
  // Every weekday of `year` that is not a working day (bank holidays and closure days), sorted.
  std::vector<Date> holidays(int year) const;
  bool is_working_day(Date date) const;

  // Working-day duration from start to end: working days d with start < d <= end. When end is
  // before start the result is the negative of working_days_between(end, start), so swapping
  // the arguments only flips the sign.
  std::int32_t working_days_between(Date start, Date end) const;
  // True when the work took no more than `limit` working days under the convention above.
  bool within_working_days(Date start, Date end, std::int32_t limit) const;

  // The n-th working day after start (n > 0), the date D that is a working day with
  // working_days_between(start, D) == n. For n < 0, the working day D before start with
  // working_days_between(start, D) == n. For n == 0, start itself. Fails with
  // invalid_argument when the result would leave the Date range.
  Result<Date> add_working_days(Date start, std::int32_t n) const;
  // The first working day strictly after `date`, and the first on or after it.
  Result<Date> next_working_day(Date date) const;
  Result<Date> working_day_on_or_after(Date date) const;

 private:
  WorkingCalendar(std::vector<Date> closure_days, std::vector<HolidayChange> changes);
  // Sorted, de-duplicated weekday non-working days of one year.
  std::vector<std::int32_t> non_working_weekdays(int year) const;
  // The same, from the table of worked-out years when `year` is in it, else worked out into
  // `scratch`: what the day counting reads (figures count durations for many records).
  const std::vector<std::int32_t>& non_working_weekdays(int year,
                                                        std::vector<std::int32_t>& scratch) const;

  struct YearTable;
  std::vector<Date> closures_;              // sorted, unique
  std::vector<HolidayChange> changes_;      // sorted by date
  std::shared_ptr<const YearTable> years_;  // 1990..2100, shared by copies
};

}  // namespace fieldcase
