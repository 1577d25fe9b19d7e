// The commands that read the device's records: `fieldcase caseload`, `show`, `conflicts` and
// `my-day`; and `resolve`, which settles a conflict `conflicts` listed.
#include <algorithm>
#include <array>
#include <ostream>
#include <string>
#include <string_view>

#include "command.hpp"
#include "device.hpp"
#include "fieldcase/calendar.hpp"

namespace fieldcase::cli {

namespace {

constexpr std::string_view kCaseloadUsage =
    "usage: fieldcase caseload [--dir DIR]\n"
    "\n"
    "Lists the children allocated to you on this device: case id, name and date of birth,\n"
    "one per line, tab-separated.\n";

constexpr std::string_view kShowUsage =
    "usage: fieldcase show ID [--history] [--dir DIR]\n"
    "\n"
    "Prints record ID: its kind, case and fields, one 'name: value' per line. With --history\n"
    "also its change log, oldest first (stamp, author, operation, field, value).\n";

constexpr std::string_view kConflictsUsage =
    "usage: fieldcase conflicts [--dir DIR]\n"
    "\n"
    "Lists open conflicts on your cases: two edits of the same field made without seeing each\n"
    "other. One value was kept; the other is shown so nothing is lost. Tab-separated: conflict\n"
    "id, record, field, kept value, lost value, who wrote the lost value. Settle one with\n"
    "`fieldcase resolve`.\n";

constexpr std::string_view kResolveUsage =
    "usage: fieldcase resolve CONFLICT_ID (--keep | --take-lost | --value VALUE) [--dir DIR]\n"
    "\n"
    "Settles a conflict listed by `fieldcase conflicts`: --keep confirms the value the record\n"
    "holds, --take-lost puts the other value back, --value writes a new one (true/false, a\n"
    "number, null, or text). The choice is recorded as your edit and goes with the next sync;\n"
    "once the server accepts it the conflict is closed on every device and for your manager.\n";

constexpr std::string_view kMyDayUsage =
    "usage: fieldcase my-day [--today YYYY-MM-DD] [--dir DIR]\n"
    "\n"
    "What is due: overdue work, work due today and in the next five working days, with the\n"
    "working days left, and how many changes are waiting to sync. --today defaults to today.\n";

constexpr OptionSpec kShowOptions[] = {{"--history", false}};
constexpr OptionSpec kMyDayOptions[] = {{"--today"}};
constexpr OptionSpec kResolveOptions[] = {
    {"--keep", false}, {"--take-lost", false}, {"--value"}};

int caseload(Args args, Io& io) {
  return run_device_command(
      args, io, {"caseload", kCaseloadUsage}, [&](const ParsedArgs&, Workspace& ws) -> Status {
        auto children = ws.records().caseload();
        if (!children.ok()) return children.status();
        for (const Record& c : *children) {
          io.out << c.id << "\t" << text_of(c.fields, "first_name").value_or("") << " "
                 << text_of(c.fields, "last_name").value_or("") << "\t"
                 << text_of(c.fields, "date_of_birth").value_or("-") << "\n";
        }
        return {};
      });
}

int show(Args args, Io& io) {
  return run_device_command(
      args, io, {"show", kShowUsage, kShowOptions, {}, 1, "ID"},
      [&](const ParsedArgs& a, Workspace& ws) -> Status {
        const std::string& id = a.positionals[0];
        auto found = ws.records().get(id);
        if (!found.ok()) return found.status();
        if (!found->has_value()) return {Errc::not_found, "no record " + id};
        const Record& r = **found;
        io.out << "id: " << r.id << "\nkind: " << to_string(r.kind)
               << "\ncase: " << (r.case_id.empty() ? "-" : r.case_id) << "\n";
        if (r.deleted) io.out << "deleted: true\n";
        for (const auto& [name, value] : r.fields) io.out << name << ": " << display(value) << "\n";
        io.out << "updated: " << r.updated_at << " by " << r.updated_by << "\n";
        if (!a.has("--history")) return {};
        auto history = ws.records().history(id);
        if (!history.ok()) return history.status();
        io.out << "history:\n";
        for (const FieldChange& c : *history) {
          io.out << "  " << c.at << "\t" << c.author << "\t" << to_string(c.op);
          if (!c.field.empty()) io.out << "\t" << c.field << " = " << display(c.value);
          io.out << "\n";
        }
        return {};
      });
}

int conflicts(Args args, Io& io) {
  return run_device_command(args, io, {"conflicts", kConflictsUsage},
                            [&](const ParsedArgs&, Workspace& ws) -> Status {
                              auto open = ws.records().conflicts();
                              if (!open.ok()) return open.status();
                              for (const auto& c : *open) {
                                io.out << c.conflict_id << "\t" << c.record_id << "\t"
                                       << c.field << "\t" << display(c.kept)
                                       << "\t" << display(c.lost) << "\t" << c.lost_author << "\n";
                              }
                              if (open->empty()) io.out << "no open conflicts\n";
                              return {};
                            });
}

int resolve(Args args, Io& io) {
  return run_device_command(
      args, io, {"resolve", kResolveUsage, kResolveOptions, {}, 1, "CONFLICT_ID"},
      [&](const ParsedArgs& a, Workspace& ws) -> Status {
        const int choices = (a.has("--keep") ? 1 : 0) + (a.has("--take-lost") ? 1 : 0) +
                            (a.get("--value") ? 1 : 0);
        if (choices != 1) {
          return {Errc::invalid_argument, "choose exactly one of --keep, --take-lost, --value"};
        }
        const std::string& id = a.positionals[0];
        auto open = ws.records().conflicts();
        if (!open.ok()) return open.status();
        auto it = std::find_if(open->begin(), open->end(),
                               [&](const sync::Conflict& c) { return c.conflict_id == id; });
        if (it == open->end()) return {Errc::not_found, "no open conflict " + id};
        const Value chosen = a.has("--keep")        ? it->kept
                             : a.has("--take-lost") ? it->lost
                                                    : parse_value(*a.get("--value"));
        FC_TRY(ws.records().resolve_conflict(id, chosen));
        io.out << "resolved: " << it->field << " = " << display(chosen)
               << " (sent with the next sync)\n";
        return {};
      });
}

void print_due(Io& io, std::string_view heading, const std::vector<DueItem>& items) {
  io.out << heading << " (" << items.size() << ")\n";
  for (const DueItem& item : items) {
    io.out << "  " << item.due.to_string() << "\t" << item.label << "\t" << item.child_name << "\t"
           << item.working_days_left << " working days left\t" << item.record_id << "\n";
  }
}

int my_day(Args args, Io& io) {
  return run_device_command(
      args, io, {"my-day", kMyDayUsage, kMyDayOptions},
      [&](const ParsedArgs& a, Workspace& ws) -> Status {
        auto today = Date::parse(a.get("--today").value_or(now_text().substr(0, 10)));
        if (!today.ok()) return {Errc::invalid_argument, "--today: " + today.status().message()};
        auto day = ws.records().my_day(*today);
        if (!day.ok()) return day.status();
        io.out << "my day " << day->today.to_string() << "\n";
        print_due(io, "overdue", day->overdue);
        print_due(io, "due today", day->due_today);
        print_due(io, "due this week", day->due_this_week);
        io.out << "changes waiting to sync: " << day->changes_waiting << "\n";
        return {};
      });
}

constexpr std::array kCommands = {
    Command{"caseload", "the children allocated to you", caseload},
    Command{"show", "a record's fields and, with --history, its change log", show},
    Command{"conflicts", "open conflicts on your cases", conflicts},
    Command{"resolve", "settle a conflict: keep a value, take the other, or write a new one",
            resolve},
    Command{"my-day", "what is overdue, due today and due this week", my_day},
};

}  // namespace

std::span<const Command> view_commands() { return kCommands; }

}  // namespace fieldcase::cli
