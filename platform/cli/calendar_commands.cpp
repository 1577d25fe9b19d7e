// `fieldcase calendar ...` and `fieldcase due ...`: the working-day calendar and assessment
// due dates from the command line, on the England & Wales calendar.
#include <array>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "fieldcase/calendar.hpp"
#include "fieldcase/timescales.hpp"

namespace fieldcase::cli {

namespace {

constexpr std::string_view kCalendarUsage =
    "usage: fieldcase calendar <subcommand> [arguments]\n"
    "\n"
    "Working days are Monday to Friday except England & Wales bank holidays. Dates are\n"
    "YYYY-MM-DD.\n"
    "\n"
    "subcommands:\n"
    "  holidays YEAR       the bank holidays of YEAR, one date per line\n"
    "  add DATE N          the date N working days after DATE (N may be negative)\n"
    "  between START END   working days after START up to and including END\n";

constexpr std::string_view kHolidaysUsage =
    "usage: fieldcase calendar holidays YEAR\n"
    "\n"
    "Prints the England & Wales bank holidays of YEAR (1-9999), one YYYY-MM-DD date per line\n"
    "in date order. A holiday falling at a weekend is shown on its substitute weekday.\n";

constexpr std::string_view kAddUsage =
    "usage: fieldcase calendar add DATE N\n"
    "\n"
    "Prints the N-th working day after DATE: the working day D for which\n"
    "'fieldcase calendar between DATE D' is N. A negative N counts back; 0 prints DATE.\n";

constexpr std::string_view kBetweenUsage =
    "usage: fieldcase calendar between START END\n"
    "\n"
    "Prints the working-day duration from START to END: the working days after START up to\n"
    "and including END. The same day is 0, Friday to Monday is 1, and a start on a weekend\n"
    "or bank holiday counts the same way. END before START gives the negative count.\n";

constexpr std::string_view kDueUsage =
    "usage: fieldcase due KIND START [--initial-days N]\n"
    "\n"
    "Prints the date an assessment of KIND started or referred on START is due: the last\n"
    "working day within its timescale.\n"
    "\n"
    "kinds:\n"
    "  initial   7 working days from referral (NI 59)\n"
    "  core      35 working days from the start of the core assessment (NI 60)\n"
    "  single    45 working days from referral\n"
    "\n"
    "options:\n"
    "  --initial-days N   the authority's initial assessment timescale (e.g. 10)\n";

int show(Io& io, std::string_view usage) {
  io.out << usage;
  return kExitOk;
}

// Positional arguments of a subcommand that takes no options.
bool positionals(Io& io, std::string_view command, Args args, std::size_t count,
                 std::string_view names, int& exit_code) {
  for (std::string_view arg : args) {
    if (arg.starts_with("--")) {
      exit_code = usage_error(io, command, "unknown option '" + std::string(arg) + "'");
      return false;
    }
  }
  if (args.size() < count) {
    exit_code = usage_error(io, command, "missing arguments; expected " + std::string(names));
    return false;
  }
  if (args.size() > count) {
    exit_code = usage_error(
        io, command,
        "unexpected argument '" + std::string(args[count]) + "'; expected " + std::string(names));
    return false;
  }
  return true;
}

bool date_arg(Io& io, std::string_view command, std::string_view name, std::string_view text,
              Date& out, int& exit_code) {
  auto date = Date::parse(text);
  if (!date.ok()) {
    exit_code = usage_error(io, command, std::string(name) + ": " + date.status().message());
    return false;
  }
  out = *date;
  return true;
}

int holidays(Args args, Io& io) {
  constexpr std::string_view kName = "calendar holidays";
  if (wants_help(args)) return show(io, kHolidaysUsage);
  int code = kExitOk;
  if (!positionals(io, kName, args, 1, "YEAR", code)) return code;
  auto year = parse_int(args[0]);
  if (!year || *year < Date::kMinYear || *year > Date::kMaxYear) {
    return usage_error(io, kName,
                       "YEAR must be a year from 1 to 9999, got '" + std::string(args[0]) + "'");
  }
  for (const Holiday& holiday : WorkingCalendar().bank_holidays(*year)) {
    io.out << holiday.date.to_string() << "\n";
  }
  return kExitOk;
}

int add(Args args, Io& io) {
  constexpr std::string_view kName = "calendar add";
  if (wants_help(args)) return show(io, kAddUsage);
  int code = kExitOk;
  if (!positionals(io, kName, args, 2, "DATE N", code)) return code;
  Date start;
  if (!date_arg(io, kName, "DATE", args[0], start, code)) return code;
  auto n = parse_int(args[1]);
  if (!n) {
    return usage_error(
        io, kName, "N must be a whole number of working days, got '" + std::string(args[1]) + "'");
  }
  auto result = WorkingCalendar().add_working_days(start, *n);
  if (!result.ok()) {
    io.err << "fieldcase " << kName << ": " << result.status().message() << "\n";
    return kExitFailure;
  }
  io.out << result->to_string() << "\n";
  return kExitOk;
}

int between(Args args, Io& io) {
  constexpr std::string_view kName = "calendar between";
  if (wants_help(args)) return show(io, kBetweenUsage);
  int code = kExitOk;
  if (!positionals(io, kName, args, 2, "START END", code)) return code;
  Date start;
  Date end;
  if (!date_arg(io, kName, "START", args[0], start, code)) return code;
  if (!date_arg(io, kName, "END", args[1], end, code)) return code;
  io.out << WorkingCalendar().working_days_between(start, end) << "\n";
  return kExitOk;
}

struct Subcommand {
  std::string_view name;
  int (*run)(Args args, Io& io);
};

constexpr std::array kCalendarSubcommands = {
    Subcommand{"holidays", holidays},
    Subcommand{"add", add},
    Subcommand{"between", between},
};

int calendar(Args args, Io& io) {
  if (args.empty())
    return usage_error(io, "calendar", "missing subcommand (holidays, add, between)");
  if (args[0] == "--help" || args[0] == "-h") return show(io, kCalendarUsage);
  for (const Subcommand& sub : kCalendarSubcommands) {
    if (sub.name == args[0]) return sub.run(args.subspan(1), io);
  }
  return usage_error(io, "calendar", "unknown subcommand '" + std::string(args[0]) + "'");
}

int due(Args args, Io& io) {
  constexpr std::string_view kName = "due";
  if (wants_help(args)) return show(io, kDueUsage);
  TimescaleSettings settings;
  std::vector<std::string_view> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--initial-days" || arg.starts_with("--initial-days=")) {
      std::string_view value;
      if (arg.size() > std::string_view("--initial-days").size()) {
        value = arg.substr(arg.find('=') + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return usage_error(io, kName, "--initial-days needs a number of working days");
      }
      auto days = parse_int(value);
      if (!days) {
        return usage_error(
            io, kName, "--initial-days must be a whole number, got '" + std::string(value) + "'");
      }
      settings.initial_assessment_working_days = *days;
    } else {
      rest.push_back(arg);
    }
  }
  int code = kExitOk;
  if (!positionals(io, kName, rest, 2, "KIND START", code)) return code;
  auto kind = parse_assessment_kind(rest[0]);
  if (!kind.ok()) return usage_error(io, kName, kind.status().message());
  Date start;
  if (!date_arg(io, kName, "START", rest[1], start, code)) return code;
  auto timescales = Timescales::create(WorkingCalendar(), settings);
  if (!timescales.ok()) {
    return usage_error(io, kName, "--initial-days: " + timescales.status().message());
  }
  auto result = timescales->assessment_due(*kind, start);
  if (!result.ok()) {
    io.err << "fieldcase " << kName << ": " << result.status().message() << "\n";
    return kExitFailure;
  }
  io.out << result->to_string() << "\n";
  return kExitOk;
}

constexpr std::array kCommands = {
    Command{"calendar", "working days and England & Wales bank holidays", calendar},
    Command{"due", "the due date of an initial, core or single assessment", due},
};

}  // namespace

std::span<const Command> calendar_commands() { return kCommands; }

}  // namespace fieldcase::cli
