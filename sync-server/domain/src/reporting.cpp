#include "fieldcase/server/reporting.hpp"

#include <charconv>
#include <cstdio>

namespace fieldcase::server::figures {

std::string_view to_string(Level level) noexcept {
  switch (level) {
    case Level::authority:
      return "authority";
    case Level::area:
      return "area";
    case Level::team:
      return "team";
    case Level::worker:
      return "worker";
  }
  return "authority";
}

std::optional<Level> parse_level(std::string_view text) noexcept {
  for (Level l : {Level::authority, Level::area, Level::team, Level::worker}) {
    if (to_string(l) == text) return l;
  }
  return std::nullopt;
}

Period month_of(Date date) {
  Period p;
  p.kind = PeriodKind::month;
  p.first = Date::from_ymd(date.year(), date.month(), 1).value();
  p.last = p.first.add_months(1).value().add_days(-1).value();
  p.label = p.first.to_string().substr(0, 7);
  return p;
}

Period quarter_of(Date date) {
  Period p;
  p.kind = PeriodKind::quarter;
  const int q = (date.month() - 1) / 3;
  p.first = Date::from_ymd(date.year(), q * 3 + 1, 1).value();
  p.last = p.first.add_months(3).value().add_days(-1).value();
  p.label = std::to_string(date.year()) + "-Q" + std::to_string(q + 1);
  return p;
}

Period financial_year_of(Date date) {
  Period p;
  p.kind = PeriodKind::financial_year;
  const int y = date.month() >= 4 ? date.year() : date.year() - 1;
  p.first = Date::from_ymd(y, 4, 1).value();
  p.last = Date::from_ymd(y + 1, 3, 31).value();
  char buf[16];
  std::snprintf(buf, sizeof buf, "FY%04d-%02d", y, (y + 1) % 100);
  p.label = buf;
  return p;
}

Result<Period> parse_period(std::string_view text) {
  auto number = [](std::string_view s) -> std::optional<int> {
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
  };
  const Status bad{Errc::invalid_argument,
                   "a period is YYYY-MM, YYYY-Qn or FYYYYY-YY: " + std::string(text)};
  if (text.size() == 9 && text.substr(0, 2) == "FY" && text[6] == '-') {
    auto y = number(text.substr(2, 4));
    auto y2 = number(text.substr(7, 2));
    if (!y || !y2 || (*y + 1) % 100 != *y2) return bad;
    auto d = Date::from_ymd(*y, 4, 1);
    if (!d.ok()) return bad;
    return financial_year_of(*d);
  }
  if (text.size() == 7 && text[4] == '-' && text[5] == 'Q') {
    auto y = number(text.substr(0, 4));
    auto q = number(text.substr(6, 1));
    if (!y || !q || *q < 1 || *q > 4) return bad;
    auto d = Date::from_ymd(*y, (*q - 1) * 3 + 1, 1);
    if (!d.ok()) return bad;
    return quarter_of(*d);
  }
  if (text.size() == 7 && text[4] == '-') {
    auto y = number(text.substr(0, 4));
    auto m = number(text.substr(5, 2));
    if (!y || !m) return bad;
    auto d = Date::from_ymd(*y, *m, 1);
    if (!d.ok()) return bad;
    return month_of(*d);
  }
  return bad;
}

Date reporting_day(std::chrono::system_clock::time_point at) noexcept {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
  const std::int64_t day = (s >= 0 ? s : s - 86'399) / 86'400;
  return Date::from_days_since_epoch(day).value();
}

namespace {

bool is_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<std::optional<Unit>> parse_unit(std::string_view level, std::string_view unit,
                                       UnitNames names) {
  const std::string lname(names.level), uname(names.unit);
  if (level.empty()) {
    if (unit.empty()) return std::optional<Unit>();
    return Status(Errc::invalid_argument, uname + " needs a " + lname);
  }
  auto l = parse_level(level);
  if (!l) {
    return Status(Errc::invalid_argument, lname + " is authority, area, team or worker, not '" +
                                              std::string(level.substr(0, 40)) + "'");
  }
  if (*l == Level::authority) {
    if (!unit.empty()) {
      return Status(Errc::invalid_argument, uname + " needs " + lname + " area, team or worker");
    }
    return std::optional<Unit>(Unit{});
  }
  if (unit.empty()) {
    return Status(Errc::invalid_argument, lname + " " + std::string(level) + " needs a " + uname);
  }
  if (!is_id(unit)) {
    return Status(Errc::invalid_argument, uname + " is an id (letters, digits and dashes)");
  }
  return std::optional<Unit>(Unit{*l, std::string(unit)});
}

Result<Date> parse_day(std::string_view text, std::string_view name) {
  auto d = Date::parse(text);
  if (!d.ok()) return Status(Errc::invalid_argument, std::string(name) + " is a date YYYY-MM-DD");
  return *d;
}

}  // namespace fieldcase::server::figures
