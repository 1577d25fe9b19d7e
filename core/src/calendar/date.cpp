#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "calendar/day_math.hpp"
#include "fieldcase/calendar.hpp"

namespace fieldcase {

namespace {

namespace chr = std::chrono;

std::int64_t days_of(const chr::year_month_day& ymd) {
  return chr::sys_days(ymd).time_since_epoch().count();
}

chr::year_month_day ymd_of(std::int32_t days) {
  return chr::year_month_day(chr::sys_days(chr::days(days)));
}

bool digits(std::string_view text, int& out) {
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

void append_padded(std::string& out, int value, int width) {
  std::string digits_text = std::to_string(value);
  for (auto n = static_cast<int>(digits_text.size()); n < width; ++n) out.push_back('0');
  out += digits_text;
}

Result<Date> from_ymd_checked(const chr::year_month_day& ymd) {
  return Date::from_days_since_epoch(days_of(ymd));
}

}  // namespace

namespace calendar_detail {

std::int32_t first_day_of_year(int year) {
  return static_cast<std::int32_t>(days_of(chr::year(year) / chr::January / 1));
}

int year_of(std::int32_t days) { return static_cast<int>(ymd_of(days).year()); }

}  // namespace calendar_detail

Result<Date> Date::from_ymd(int year, int month, int day) {
  if (year < kMinYear || year > kMaxYear) {
    return Status(Errc::invalid_argument, "year " + std::to_string(year) + " is outside 0001-9999");
  }
  if (month < 1 || month > 12 || day < 1 || day > 31) {
    return Status(Errc::invalid_argument,
                  "no such date: month " + std::to_string(month) + ", day " + std::to_string(day));
  }
  chr::year_month_day ymd(chr::year(year), chr::month(static_cast<unsigned>(month)),
                          chr::day(static_cast<unsigned>(day)));
  if (!ymd.ok()) {
    std::string text;
    append_padded(text, year, 4);
    text += '-';
    append_padded(text, month, 2);
    text += '-';
    append_padded(text, day, 2);
    return Status(Errc::invalid_argument, "no such date: " + text);
  }
  return Date(static_cast<std::int32_t>(days_of(ymd)));
}

Result<Date> Date::parse(std::string_view iso) {
  auto bad = [iso] {
    return Status(Errc::invalid_argument,
                  "expected a date as YYYY-MM-DD, got '" + std::string(iso) + "'");
  };
  if (iso.size() != 10 || iso[4] != '-' || iso[7] != '-') return bad();
  int year = 0;
  int month = 0;
  int day = 0;
  if (!digits(iso.substr(0, 4), year) || !digits(iso.substr(5, 2), month) ||
      !digits(iso.substr(8, 2), day)) {
    return bad();
  }
  return from_ymd(year, month, day);
}

Result<Date> Date::from_days_since_epoch(std::int64_t days) {
  if (days < min().days_ || days > max().days_) {
    return Status(Errc::invalid_argument, "date is outside 0001-01-01..9999-12-31");
  }
  return Date(static_cast<std::int32_t>(days));
}

Date Date::min() noexcept {
  return Date(static_cast<std::int32_t>(days_of(chr::year(kMinYear) / chr::January / 1)));
}

Date Date::max() noexcept {
  return Date(static_cast<std::int32_t>(days_of(chr::year(kMaxYear) / chr::December / 31)));
}

std::string Date::to_string() const {
  const auto ymd = ymd_of(days_);
  std::string out;
  out.reserve(10);
  append_padded(out, static_cast<int>(ymd.year()), 4);
  out += '-';
  append_padded(out, static_cast<int>(static_cast<unsigned>(ymd.month())), 2);
  out += '-';
  append_padded(out, static_cast<int>(static_cast<unsigned>(ymd.day())), 2);
  return out;
}

int Date::year() const noexcept { return static_cast<int>(ymd_of(days_).year()); }

int Date::month() const noexcept {
  return static_cast<int>(static_cast<unsigned>(ymd_of(days_).month()));
}

int Date::day() const noexcept {
  return static_cast<int>(static_cast<unsigned>(ymd_of(days_).day()));
}

Weekday Date::weekday() const noexcept {
  return static_cast<Weekday>(calendar_detail::iso_weekday(days_));
}

bool Date::is_weekend() const noexcept { return calendar_detail::is_weekend(days_); }

Result<Date> Date::add_days(std::int64_t days) const {
  // Any |days| beyond the whole range fails below without risking overflow here.
  if (days > max().days_ - min().days_ || days < min().days_ - max().days_) {
    return Status(Errc::invalid_argument, "date is outside 0001-01-01..9999-12-31");
  }
  return from_days_since_epoch(days_ + days);
}

Result<Date> Date::add_months(std::int64_t months) const {
  constexpr std::int64_t kSpan = 12LL * (kMaxYear - kMinYear + 1);
  if (months > kSpan || months < -kSpan) {
    return Status(Errc::invalid_argument, "date is outside 0001-01-01..9999-12-31");
  }
  const auto ymd = ymd_of(days_);
  const std::int64_t month_index = static_cast<std::int64_t>(static_cast<int>(ymd.year())) * 12 +
                                   static_cast<unsigned>(ymd.month()) - 1 + months;
  const std::int64_t year = month_index >= 0 ? month_index / 12 : (month_index - 11) / 12;
  if (year < kMinYear || year > kMaxYear) {
    return Status(Errc::invalid_argument, "date is outside 0001-01-01..9999-12-31");
  }
  const auto target_month = static_cast<unsigned>(month_index - year * 12 + 1);
  const chr::year_month ym(chr::year(static_cast<int>(year)), chr::month(target_month));
  const chr::day last = chr::year_month_day_last(ym.year(), chr::month_day_last(ym.month())).day();
  const chr::day day = ymd.day() > last ? last : ymd.day();
  return from_ymd_checked(ym / day);
}

Result<Date> Date::add_years(std::int64_t years) const {
  constexpr std::int64_t kSpan = kMaxYear - kMinYear + 1;
  if (years > kSpan || years < -kSpan) {
    return Status(Errc::invalid_argument, "date is outside 0001-01-01..9999-12-31");
  }
  return add_months(years * 12);
}

}  // namespace fieldcase
