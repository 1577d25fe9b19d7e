#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "fieldcase/calendar.hpp"

using namespace fieldcase;

namespace {

Date D(const char* iso) {
  auto parsed = Date::parse(iso);
  REQUIRE(parsed.ok());
  return *parsed;
}

std::vector<std::string> iso(const std::vector<Date>& dates) {
  std::vector<std::string> out;
  for (const Date& d : dates) out.push_back(d.to_string());
  return out;
}

// England & Wales bank holidays as published on gov.uk, including the substitute days and the
// one-off changes of 2011, 2012, 2020, 2022 and 2023.
const std::map<int, std::vector<std::string>>& published_bank_holidays() {
  static const std::map<int, std::vector<std::string>> table = {
      {2008,
       {"2008-01-01", "2008-03-21", "2008-03-24", "2008-05-05", "2008-05-26", "2008-08-25",
        "2008-12-25", "2008-12-26"}},
      {2009,
       {"2009-01-01", "2009-04-10", "2009-04-13", "2009-05-04", "2009-05-25", "2009-08-31",
        "2009-12-25", "2009-12-28"}},
      {2010,
       {"2010-01-01", "2010-04-02", "2010-04-05", "2010-05-03", "2010-05-31", "2010-08-30",
        "2010-12-27", "2010-12-28"}},
      {2011,
       {"2011-01-03", "2011-04-22", "2011-04-25", "2011-04-29", "2011-05-02", "2011-05-30",
        "2011-08-29", "2011-12-26", "2011-12-27"}},
      {2012,
       {"2012-01-02", "2012-04-06", "2012-04-09", "2012-05-07", "2012-06-04", "2012-06-05",
        "2012-08-27", "2012-12-25", "2012-12-26"}},
      {2013,
       {"2013-01-01", "2013-03-29", "2013-04-01", "2013-05-06", "2013-05-27", "2013-08-26",
        "2013-12-25", "2013-12-26"}},
      {2014,
       {"2014-01-01", "2014-04-18", "2014-04-21", "2014-05-05", "2014-05-26", "2014-08-25",
        "2014-12-25", "2014-12-26"}},
      {2015,
       {"2015-01-01", "2015-04-03", "2015-04-06", "2015-05-04", "2015-05-25", "2015-08-31",
        "2015-12-25", "2015-12-28"}},
      {2016,
       {"2016-01-01", "2016-03-25", "2016-03-28", "2016-05-02", "2016-05-30", "2016-08-29",
        "2016-12-26", "2016-12-27"}},
      {2017,
       {"2017-01-02", "2017-04-14", "2017-04-17", "2017-05-01", "2017-05-29", "2017-08-28",
        "2017-12-25", "2017-12-26"}},
      {2018,
       {"2018-01-01", "2018-03-30", "2018-04-02", "2018-05-07", "2018-05-28", "2018-08-27",
        "2018-12-25", "2018-12-26"}},
      {2019,
       {"2019-01-01", "2019-04-19", "2019-04-22", "2019-05-06", "2019-05-27", "2019-08-26",
        "2019-12-25", "2019-12-26"}},
      {2020,
       {"2020-01-01", "2020-04-10", "2020-04-13", "2020-05-08", "2020-05-25", "2020-08-31",
        "2020-12-25", "2020-12-28"}},
      {2021,
       {"2021-01-01", "2021-04-02", "2021-04-05", "2021-05-03", "2021-05-31", "2021-08-30",
        "2021-12-27", "2021-12-28"}},
      {2022,
       {"2022-01-03", "2022-04-15", "2022-04-18", "2022-05-02", "2022-06-02", "2022-06-03",
        "2022-08-29", "2022-09-19", "2022-12-26", "2022-12-27"}},
      {2023,
       {"2023-01-02", "2023-04-07", "2023-04-10", "2023-05-01", "2023-05-08", "2023-05-29",
        "2023-08-28", "2023-12-25", "2023-12-26"}},
      {2024,
       {"2024-01-01", "2024-03-29", "2024-04-01", "2024-05-06", "2024-05-27", "2024-08-26",
        "2024-12-25", "2024-12-26"}},
      {2025,
       {"2025-01-01", "2025-04-18", "2025-04-21", "2025-05-05", "2025-05-26", "2025-08-25",
        "2025-12-25", "2025-12-26"}},
      {2026,
       {"2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31",
        "2026-12-25", "2026-12-28"}},
  };
  return table;
}

// Working days in (start, end] by walking day by day, to check the closed-form count.
int brute_force_between(const WorkingCalendar& cal, Date start, Date end) {
  int count = 0;
  for (Date d = start; d < end; d = *d.add_days(1)) {
    if (cal.is_working_day(*d.add_days(1))) ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("calendar: dates parse strictly from ISO 8601 and format back", "[calendar]") {
  auto date = Date::parse("2024-02-29");
  REQUIRE(date.ok());
  CHECK(date->year() == 2024);
  CHECK(date->month() == 2);
  CHECK(date->day() == 29);
  CHECK(date->to_string() == "2024-02-29");
  CHECK(D("2000-02-29").to_string() == "2000-02-29");
  CHECK(D("0001-01-01") == Date::min());
  CHECK(D("9999-12-31") == Date::max());
  CHECK(Date().to_string() == "1970-01-01");
  CHECK(Date().days_since_epoch() == 0);

  const char* rejected[] = {
      "2023-02-29",   // not a leap year
      "1900-02-29",   // century, not a leap year
      "2023-04-31",   // April has 30 days
      "2023-13-01",   // no month 13
      "2023-00-10",   // no month 0
      "2023-01-00",   // no day 0
      "2023-01-32",   // no day 32
      "0000-01-01",   // before year 1
      "2023-2-1",     // unpadded
      "2023-02-1",    // unpadded day
      "23-02-01",     // two-digit year
      "2023-02-01x",  // trailing junk
      "2023-02-01 ",  // trailing space
      " 2023-02-01",  // leading space
      "2023/02/01",   // wrong separator
      "20230201",     // basic format
      "2023-02-01T00:00:00",
      "+023-02-01",
      "2023-0a-01",
      "",
  };
  for (const char* text : rejected) {
    INFO(text);
    auto bad = Date::parse(text);
    CHECK_FALSE(bad.ok());
    CHECK(bad.code() == Errc::invalid_argument);
  }
  CHECK(Date::parse("2023-02-29").status().message().find("2023-02-29") != std::string::npos);
  CHECK(Date::parse("2023-2-1").status().message().find("YYYY-MM-DD") != std::string::npos);
}

TEST_CASE("calendar: dates from parts check the calendar and the range", "[calendar]") {
  CHECK(Date::from_ymd(2024, 2, 29).ok());
  CHECK(Date::from_ymd(2023, 2, 29).code() == Errc::invalid_argument);
  CHECK(Date::from_ymd(2023, 6, 31).code() == Errc::invalid_argument);
  CHECK(Date::from_ymd(0, 1, 1).code() == Errc::invalid_argument);
  CHECK(Date::from_ymd(10000, 1, 1).code() == Errc::invalid_argument);
  CHECK(Date::from_ymd(2023, 0, 1).code() == Errc::invalid_argument);
  CHECK(Date::from_ymd(2023, 1, -1).code() == Errc::invalid_argument);
  CHECK(Date::from_days_since_epoch(19723)->to_string() == "2024-01-01");
  CHECK(Date::from_days_since_epoch(-1)->to_string() == "1969-12-31");
  CHECK(Date::from_days_since_epoch(Date::max().days_since_epoch() + 1).code() ==
        Errc::invalid_argument);
  CHECK(Date::from_days_since_epoch(Date::min().days_since_epoch() - 1).code() ==
        Errc::invalid_argument);
}

TEST_CASE("calendar: weekdays, comparison and day arithmetic", "[calendar]") {
  CHECK(D("1970-01-01").weekday() == Weekday::thursday);
  CHECK(D("2024-12-25").weekday() == Weekday::wednesday);
  CHECK(D("2022-12-25").weekday() == Weekday::sunday);
  CHECK(D("2021-12-25").weekday() == Weekday::saturday);
  CHECK(D("2024-01-01").weekday() == Weekday::monday);
  CHECK(D("0001-01-01").weekday() == Weekday::monday);
  CHECK(D("1969-12-28").weekday() == Weekday::sunday);
  CHECK(D("2024-06-01").is_weekend());
  CHECK(D("2024-06-02").is_weekend());
  CHECK_FALSE(D("2024-06-03").is_weekend());

  CHECK(D("2024-01-01") < D("2024-01-02"));
  CHECK(D("2023-12-31") < D("2024-01-01"));
  CHECK(D("2024-03-01") == D("2024-03-01"));
  CHECK(D("2024-03-01") != D("2024-03-02"));

  CHECK(D("2024-02-28").add_days(1)->to_string() == "2024-02-29");
  CHECK(D("2023-02-28").add_days(1)->to_string() == "2023-03-01");
  CHECK(D("2023-12-31").add_days(1)->to_string() == "2024-01-01");
  CHECK(D("2024-01-01").add_days(-1)->to_string() == "2023-12-31");
  CHECK(D("2024-01-01").days_until(D("2024-12-31")) == 365);
  CHECK(D("2024-12-31").days_until(D("2024-01-01")) == -365);
  CHECK(Date::max().add_days(1).code() == Errc::invalid_argument);
  CHECK(Date::min().add_days(-1).code() == Errc::invalid_argument);
  CHECK(D("2024-01-01").add_days(INT64_MAX).code() == Errc::invalid_argument);
  CHECK(D("2024-01-01").add_days(INT64_MIN).code() == Errc::invalid_argument);
}

TEST_CASE("calendar: month and year arithmetic keeps to the end of short months", "[calendar]") {
  CHECK(D("2024-01-31").add_months(1)->to_string() == "2024-02-29");
  CHECK(D("2023-01-31").add_months(1)->to_string() == "2023-02-28");
  CHECK(D("2024-03-31").add_months(-1)->to_string() == "2024-02-29");
  CHECK(D("2024-08-31").add_months(3)->to_string() == "2024-11-30");
  CHECK(D("2024-11-15").add_months(3)->to_string() == "2025-02-15");
  CHECK(D("2024-01-15").add_months(-13)->to_string() == "2022-12-15");
  CHECK(D("2024-02-29").add_years(1)->to_string() == "2025-02-28");
  CHECK(D("2024-02-29").add_years(4)->to_string() == "2028-02-29");
  CHECK(D("9999-11-30").add_months(1)->to_string() == "9999-12-30");
  CHECK(D("9999-12-01").add_months(1).code() == Errc::invalid_argument);
  CHECK(D("0001-01-31").add_months(-1).code() == Errc::invalid_argument);
  CHECK(D("2024-01-01").add_years(8000).code() == Errc::invalid_argument);
  CHECK(D("2024-01-01").add_months(INT64_MAX).code() == Errc::invalid_argument);
}

TEST_CASE("calendar: every England and Wales bank holiday 2008-2026", "[calendar]") {
  WorkingCalendar cal;
  for (const auto& [year, expected] : published_bank_holidays()) {
    INFO("year " << year);
    CHECK(iso(cal.holidays(year)) == expected);
    std::vector<Date> bank_dates;
    for (const Holiday& h : cal.bank_holidays(year)) {
      CHECK_FALSE(h.name.empty());
      bank_dates.push_back(h.date);
    }
    CHECK(iso(bank_dates) == expected);
    for (const std::string& day : expected) {
      CHECK_FALSE(cal.is_working_day(D(day.c_str())));
    }
  }
}

TEST_CASE("calendar: bank holiday names, substitutes and one-off changes", "[calendar]") {
  WorkingCalendar cal;
  auto names = [&cal](int year) {
    std::map<std::string, std::string> out;
    for (const Holiday& h : cal.bank_holidays(year)) out[h.date.to_string()] = h.name;
    return out;
  };
  auto y2022 = names(2022);
  CHECK(y2022["2022-01-03"] == "New Year's Day (substitute day)");
  CHECK(y2022["2022-06-02"] == "Spring bank holiday");
  CHECK(y2022["2022-06-03"] == "Platinum Jubilee bank holiday");
  CHECK(y2022["2022-09-19"] == "State Funeral of Queen Elizabeth II");
  CHECK(y2022["2022-12-26"] == "Boxing Day");
  CHECK(y2022["2022-12-27"] == "Christmas Day (substitute day)");
  auto y2021 = names(2021);
  CHECK(y2021["2021-12-27"] == "Christmas Day (substitute day)");
  CHECK(y2021["2021-12-28"] == "Boxing Day (substitute day)");
  CHECK(names(2020)["2020-05-08"] == "Early May bank holiday (VE Day)");
  CHECK(names(2015)["2015-12-28"] == "Boxing Day (substitute day)");
  CHECK(names(2023)["2023-05-08"] == "Coronation of King Charles III");
  CHECK(names(2024)["2024-03-29"] == "Good Friday");

  // The moved rule dates are ordinary working days.
  CHECK(cal.is_working_day(D("2012-05-28")));
  CHECK(cal.is_working_day(D("2020-05-04")));
  CHECK(cal.is_working_day(D("2022-05-30")));
  // Earlier one-off changes from the table.
  CHECK_FALSE(cal.is_working_day(D("1981-07-29")));
  CHECK_FALSE(cal.is_working_day(D("1995-05-08")));
  CHECK(cal.is_working_day(D("1995-05-01")));
  CHECK_FALSE(cal.is_working_day(D("1999-12-31")));
  CHECK_FALSE(cal.is_working_day(D("2002-06-03")));
  CHECK_FALSE(cal.is_working_day(D("2002-06-04")));
  CHECK(cal.is_working_day(D("2002-05-27")));

  const auto& table = england_and_wales_holiday_changes();
  REQUIRE_FALSE(table.empty());
  for (std::size_t i = 1; i < table.size(); ++i) CHECK(table[i - 1].date < table[i].date);
  // The built-in table passes the same checks as configured changes.
  CHECK(WorkingCalendar::create({}).ok());
}

TEST_CASE("calendar: substitute-day rules hold for every year", "[calendar]") {
  WorkingCalendar cal;
  std::map<int, std::size_t> extra_by_year;
  for (const HolidayChange& change : england_and_wales_holiday_changes()) {
    if (!change.moved_from) ++extra_by_year[change.date.year()];
  }
  for (int year = 1978; year <= 2200; ++year) {
    INFO("year " << year);
    auto days = cal.holidays(year);
    CHECK(days.size() == 8 + extra_by_year[year]);
    for (const Date& d : days) CHECK_FALSE(d.is_weekend());

    const Date christmas = *Date::from_ymd(year, 12, 25);
    std::vector<std::string> christmas_days;
    for (const Date& d : days) {
      if (d.month() == 12 && d.day() >= 25 && d.day() <= 28)
        christmas_days.push_back(d.to_string());
    }
    auto on = [year](int day) { return Date::from_ymd(year, 12, day)->to_string(); };
    switch (christmas.weekday()) {
      case Weekday::friday:
        CHECK(christmas_days == std::vector{on(25), on(28)});
        break;
      case Weekday::saturday:
        CHECK(christmas_days == std::vector{on(27), on(28)});
        break;
      case Weekday::sunday:
        CHECK(christmas_days == std::vector{on(26), on(27)});
        break;
      default:
        CHECK(christmas_days == std::vector{on(25), on(26)});
        break;
    }
    const Date new_year = *Date::from_ymd(year, 1, 1);
    const Date first = days.front();
    switch (new_year.weekday()) {
      case Weekday::saturday:
        CHECK(first.to_string() == Date::from_ymd(year, 1, 3)->to_string());
        break;
      case Weekday::sunday:
        CHECK(first.to_string() == Date::from_ymd(year, 1, 2)->to_string());
        break;
      default:
        CHECK(first == new_year);
        break;
    }
  }
  CHECK(cal.holidays(0).empty());
  CHECK(cal.holidays(10000).empty());
  CHECK(cal.bank_holidays(-5).empty());
  CHECK(cal.holidays(1).size() == 8);
  CHECK(cal.holidays(9999).size() == 8);
}

TEST_CASE("calendar: working-day duration convention", "[calendar]") {
  WorkingCalendar cal;
  // Same day is 0, whether or not it is a working day.
  CHECK(cal.working_days_between(D("2024-06-05"), D("2024-06-05")) == 0);
  CHECK(cal.working_days_between(D("2024-06-01"), D("2024-06-01")) == 0);
  // Friday to Monday is 1; Monday to Friday is 4; a whole week is 5.
  CHECK(cal.working_days_between(D("2024-06-07"), D("2024-06-10")) == 1);
  CHECK(cal.working_days_between(D("2024-06-03"), D("2024-06-07")) == 4);
  CHECK(cal.working_days_between(D("2024-06-03"), D("2024-06-10")) == 5);
  // A start on a non-working day counts from that date the same way.
  CHECK(cal.working_days_between(D("2024-06-01"), D("2024-06-03")) == 1);  // Sat -> Mon
  CHECK(cal.working_days_between(D("2024-06-02"), D("2024-06-03")) == 1);  // Sun -> Mon
  CHECK(cal.working_days_between(D("2024-06-01"), D("2024-06-02")) == 0);  // Sat -> Sun
  CHECK(cal.working_days_between(D("2024-06-07"), D("2024-06-09")) == 0);  // Fri -> Sun
  // Starting on a bank holiday: Easter Monday 2024 to the Tuesday after.
  CHECK(cal.working_days_between(D("2024-04-01"), D("2024-04-02")) == 1);
  // End before start: the mirror image.
  CHECK(cal.working_days_between(D("2024-06-10"), D("2024-06-07")) == -1);
  CHECK(cal.working_days_between(D("2024-06-10"), D("2024-06-03")) == -5);
  CHECK(cal.working_days_between(D("2024-06-03"), D("2024-06-01")) == -1);

  CHECK(cal.within_working_days(D("2024-06-03"), D("2024-06-12"), 7));        // 7 days
  CHECK_FALSE(cal.within_working_days(D("2024-06-03"), D("2024-06-13"), 7));  // 8 days
  CHECK(cal.within_working_days(D("2024-06-05"), D("2024-06-05"), 0));
  // Finishing at the weekend after the last day is still within.
  CHECK(cal.within_working_days(D("2024-06-03"), D("2024-06-09"), 4));
}

TEST_CASE("calendar: durations over Christmas, New Year and Easter", "[calendar]") {
  WorkingCalendar cal;
  // Christmas 2024 falls on a Wednesday: 25 and 26 are off.
  CHECK(cal.working_days_between(D("2024-12-24"), D("2024-12-27")) == 1);
  CHECK(cal.working_days_between(D("2024-12-23"), D("2025-01-02")) == 5);
  // Christmas 2021 on a Saturday: 27 and 28 December and 3 January 2022 are off.
  CHECK(cal.working_days_between(D("2021-12-24"), D("2022-01-04")) == 4);
  CHECK(cal.working_days_between(D("2021-12-24"), D("2021-12-28")) == 0);
  // Christmas 2022 on a Sunday: 26 and 27 are off.
  CHECK(cal.working_days_between(D("2022-12-23"), D("2022-12-28")) == 1);
  // Easter 2024: Good Friday 29 March, Easter Monday 1 April.
  CHECK(cal.working_days_between(D("2024-03-28"), D("2024-04-02")) == 1);
  CHECK(cal.working_days_between(D("2024-03-25"), D("2024-04-05")) == 7);
  // Easter 2025 (18 and 21 April) then early May (5 May).
  CHECK(cal.working_days_between(D("2025-04-17"), D("2025-05-06")) == 10);
  // Across several years the closed form agrees with a day-by-day count.
  CHECK(cal.working_days_between(D("2008-01-01"), D("2026-12-31")) ==
        brute_force_between(cal, D("2008-01-01"), D("2026-12-31")));
  CHECK(cal.working_days_between(D("1969-12-25"), D("1970-01-08")) ==
        brute_force_between(cal, D("1969-12-25"), D("1970-01-08")));
  // 2024 has 262 weekdays and 8 bank holidays.
  CHECK(cal.working_days_between(D("2023-12-31"), D("2024-12-31")) == 254);
}

TEST_CASE("calendar: adding working days", "[calendar]") {
  WorkingCalendar cal;
  CHECK(cal.add_working_days(D("2024-06-07"), 1)->to_string() == "2024-06-10");  // Fri -> Mon
  CHECK(cal.add_working_days(D("2024-06-03"), 5)->to_string() == "2024-06-10");
  CHECK(cal.add_working_days(D("2024-06-01"), 1)->to_string() == "2024-06-03");  // Sat
  CHECK(cal.add_working_days(D("2024-12-24"), 1)->to_string() == "2024-12-27");
  CHECK(cal.add_working_days(D("2021-12-24"), 1)->to_string() == "2021-12-29");
  CHECK(cal.add_working_days(D("2021-12-31"), 1)->to_string() == "2022-01-04");
  CHECK(cal.add_working_days(D("2022-12-23"), 1)->to_string() == "2022-12-28");
  CHECK(cal.add_working_days(D("2024-03-28"), 1)->to_string() == "2024-04-02");
  CHECK(cal.add_working_days(D("2024-03-29"), 1)->to_string() == "2024-04-02");  // Good Friday
  CHECK(cal.add_working_days(D("2024-12-20"), 7)->to_string() == "2025-01-03");
  // Zero is the start itself, working day or not.
  CHECK(cal.add_working_days(D("2024-06-05"), 0)->to_string() == "2024-06-05");
  CHECK(cal.add_working_days(D("2024-06-01"), 0)->to_string() == "2024-06-01");
  // Backwards: the working day D before start with working_days_between(start, D) == n.
  CHECK(cal.add_working_days(D("2024-06-10"), -1)->to_string() == "2024-06-07");
  CHECK(cal.add_working_days(D("2024-04-02"), -1)->to_string() == "2024-03-28");
  CHECK(cal.add_working_days(D("2024-06-01"), -1)->to_string() == "2024-05-30");  // Sat
  CHECK(cal.add_working_days(D("2025-01-03"), -7)->to_string() == "2024-12-20");

  // The defining property, over every start in two Christmas periods and both directions.
  for (Date start = D("2021-12-15"); start < D("2023-01-10"); start = *start.add_days(1)) {
    if (start == D("2022-01-10")) start = D("2022-12-15");
    for (int n : {1, 2, 3, 7, 10, 15, 35, 45, -1, -2, -10}) {
      INFO(start.to_string() << " + " << n);
      auto due = cal.add_working_days(start, n);
      REQUIRE(due.ok());
      CHECK(cal.is_working_day(*due));
      CHECK(cal.working_days_between(start, *due) == n);
      if (cal.is_working_day(start)) CHECK(*cal.add_working_days(*due, -n) == start);
    }
  }

  CHECK(cal.add_working_days(Date::max(), 1).code() == Errc::invalid_argument);
  CHECK(cal.add_working_days(Date::min(), -1).code() == Errc::invalid_argument);
  CHECK(cal.add_working_days(D("9999-12-01"), 100).code() == Errc::invalid_argument);
  CHECK(cal.add_working_days(D("2024-01-01"), INT32_MIN).code() == Errc::invalid_argument);
}

TEST_CASE("calendar: next working day helpers", "[calendar]") {
  WorkingCalendar cal;
  CHECK(cal.next_working_day(D("2024-06-07"))->to_string() == "2024-06-10");
  CHECK(cal.next_working_day(D("2024-06-05"))->to_string() == "2024-06-06");
  CHECK(cal.next_working_day(D("2021-12-24"))->to_string() == "2021-12-29");
  CHECK(cal.working_day_on_or_after(D("2024-06-05"))->to_string() == "2024-06-05");
  CHECK(cal.working_day_on_or_after(D("2024-12-25"))->to_string() == "2024-12-27");
  CHECK(cal.working_day_on_or_after(D("2022-12-31"))->to_string() == "2023-01-03");
  CHECK(cal.next_working_day(Date::max()).code() == Errc::invalid_argument);
  CHECK(cal.working_day_on_or_after(D("9999-12-25"))->to_string() == "9999-12-29");
  CHECK(cal.working_day_on_or_after(D("9999-12-31"))->to_string() == "9999-12-31");
  auto closed_at_the_end =
      WorkingCalendar::create({D("9999-12-29"), D("9999-12-30"), D("9999-12-31")});
  REQUIRE(closed_at_the_end.ok());
  CHECK(closed_at_the_end->working_day_on_or_after(D("9999-12-25")).code() ==
        Errc::invalid_argument);
  CHECK(closed_at_the_end->next_working_day(D("9999-12-24")).code() == Errc::invalid_argument);
}

TEST_CASE("calendar: authority closure days", "[calendar]") {
  // An authority closing between Christmas and New Year 2024, and on a Saturday (harmless),
  // a bank holiday (harmless) and one date twice.
  auto made = WorkingCalendar::create({D("2024-12-31"), D("2024-12-27"), D("2024-12-30"),
                                       D("2024-12-28"), D("2024-12-25"), D("2024-12-27")});
  REQUIRE(made.ok());
  const WorkingCalendar& cal = *made;
  const WorkingCalendar plain;
  CHECK_FALSE(cal.is_working_day(D("2024-12-27")));
  CHECK(plain.is_working_day(D("2024-12-27")));
  CHECK(iso(cal.holidays(2024)) ==
        std::vector<std::string>{"2024-01-01", "2024-03-29", "2024-04-01", "2024-05-06",
                                 "2024-05-27", "2024-08-26", "2024-12-25", "2024-12-26",
                                 "2024-12-27", "2024-12-30", "2024-12-31"});
  // Bank holidays stay the national list.
  CHECK(cal.bank_holidays(2024).size() == 8);
  CHECK(cal.working_days_between(D("2024-12-24"), D("2025-01-02")) == 1);
  CHECK(plain.working_days_between(D("2024-12-24"), D("2025-01-02")) == 4);
  CHECK(cal.add_working_days(D("2024-12-24"), 1)->to_string() == "2025-01-02");
  CHECK(cal.add_working_days(D("2025-01-02"), -1)->to_string() == "2024-12-24");
  CHECK(iso(cal.holidays(2025)) == published_bank_holidays().at(2025));
}

TEST_CASE("calendar: configured holiday changes are checked", "[calendar]") {
  // Without the table the rules alone apply.
  auto rules_only = WorkingCalendar::create({}, {});
  REQUIRE(rules_only.ok());
  CHECK_FALSE(rules_only->is_working_day(D("2012-05-28")));
  CHECK(rules_only->is_working_day(D("2012-06-05")));
  CHECK(rules_only->holidays(2022).size() == 8);

  // A newly proclaimed change can be configured without a code change.
  std::vector<HolidayChange> changes = england_and_wales_holiday_changes();
  changes.push_back({D("2030-07-01"), std::nullopt, "Extra holiday"});
  changes.push_back({D("2030-06-03"), D("2030-05-27"), "Spring bank holiday"});
  auto extended = WorkingCalendar::create({}, changes);
  REQUIRE(extended.ok());
  CHECK_FALSE(extended->is_working_day(D("2030-07-01")));
  CHECK_FALSE(extended->is_working_day(D("2030-06-03")));
  CHECK(extended->is_working_day(D("2030-05-27")));
  CHECK_FALSE(extended->is_working_day(D("2012-06-05")));

  auto rejects = [](HolidayChange change, const char* fragment) {
    auto made = WorkingCalendar::create({}, {std::move(change)});
    INFO(made.status().message());
    CHECK(made.code() == Errc::invalid_argument);
    CHECK(made.status().message().find(fragment) != std::string::npos);
  };
  rejects({D("2030-06-01"), std::nullopt, "Saturday"}, "weekend");
  rejects({D("2030-06-04"), D("2030-05-28"), "Not a holiday"}, "no bank holiday on 2030-05-28");
  rejects({D("2031-01-06"), D("2030-12-25"), "Across years"}, "another year");
  rejects({D("2030-12-25"), std::nullopt, "Twice"}, "already a bank holiday");
  rejects({D("2030-07-01"), std::nullopt, ""}, "name");
  auto twice = WorkingCalendar::create(
      {}, {{D("2030-07-01"), std::nullopt, "A"}, {D("2030-07-01"), std::nullopt, "B"}});
  CHECK(twice.code() == Errc::invalid_argument);
  auto moved_twice = WorkingCalendar::create(
      {}, {{D("2030-06-03"), D("2030-05-27"), "A"}, {D("2030-06-04"), D("2030-05-27"), "B"}});
  CHECK(moved_twice.code() == Errc::invalid_argument);
}

TEST_CASE("calendar: durations agree with counting working days one by one", "[calendar]") {
  // The calendar keeps each year's holidays from 1990 to 2100 in a table; durations that
  // start before it, end after it or cross its edges count the same as day by day.
  auto made = WorkingCalendar::create({D("2024-12-27"), D("2024-12-30"), D("2024-12-31")});
  REQUIRE(made.ok());
  for (const WorkingCalendar& cal : {*made, WorkingCalendar()}) {
    std::int64_t pairs = 0;
    for (Date a :
         {D("1985-03-01"), D("1989-12-01"), D("2019-12-20"), D("2024-12-01"), D("2100-11-15")}) {
      std::int32_t by_day = 0;
      Date b = a;
      for (int i = 0; i < 500; ++i) {
        INFO(a.to_string() << " .. " << b.to_string());
        REQUIRE(cal.working_days_between(a, b) == by_day);
        REQUIRE(cal.working_days_between(b, a) == -by_day);
        if (by_day > 0 && cal.is_working_day(b)) {
          REQUIRE(cal.add_working_days(a, by_day)->to_string() == b.to_string());
        }
        b = *b.add_days(1);
        if (cal.is_working_day(b)) ++by_day;
        ++pairs;
      }
    }
    CHECK(pairs == 2'500);
  }
  // A year outside the table, by hand: 1985's bank holidays.
  CHECK(iso(WorkingCalendar().holidays(1985)) ==
        std::vector<std::string>{"1985-01-01", "1985-04-05", "1985-04-08", "1985-05-06",
                                 "1985-05-27", "1985-08-26", "1985-12-25", "1985-12-26"});
  CHECK(WorkingCalendar().working_days_between(D("1985-04-04"), D("1985-04-09")) == 1);
  // The closure days count in a calendar made with them, not in the default one.
  CHECK(made->working_days_between(D("2024-12-24"), D("2025-01-02")) == 1);
  CHECK(WorkingCalendar().working_days_between(D("2024-12-24"), D("2025-01-02")) == 4);
}
