// The commands that write records: `fieldcase child`, `visit`, `assessment`, `note` and `set`.
// Each write is one local transaction of the record store, shipped by `fieldcase sync`.
#include <array>
#include <ostream>
#include <string>
#include <string_view>

#include "command.hpp"
#include "device.hpp"
#include "fieldcase/clock.hpp"
#include "fieldcase/ids.hpp"
#include "fieldcase/record_schema.hpp"

namespace fieldcase::cli {

namespace {

Status bad_usage(std::string message) { return {Errc::invalid_argument, std::move(message)}; }

// The record `id`, which must exist and be of `kind`.
Result<Record> existing(RecordStore& records, std::string_view id, RecordKind kind) {
  auto found = records.get(id);
  if (!found.ok()) return found.status();
  if (!found->has_value() || (*found)->deleted) {
    return Status(Errc::not_found, "no record " + std::string(id));
  }
  if ((*found)->kind != kind) {
    return Status(Errc::invalid_argument, std::string(id) + " is a " +
                                              std::string(to_string((*found)->kind)) + ", not a " +
                                              std::string(to_string(kind)));
  }
  return **found;
}

// --- child ---

constexpr std::string_view kChildUsage =
    "usage: fieldcase child add --first NAME --last NAME --gender CODE [options]\n"
    "\n"
    "subcommands:\n"
    "  add   record a new child; the child becomes a case allocated to you\n";

constexpr std::string_view kChildAddUsage =
    "usage: fieldcase child add --first NAME --last NAME --dob YYYY-MM-DD --gender CODE\n"
    "                           [--local-id ID] [--dir DIR]\n"
    "\n"
    "Records a new child on this device, allocated to you; the server makes the child your case\n"
    "at the next sync. Prints the child's id (the case id).\n"
    "\n"
    "options:\n"
    "  --gender CODE    0 not known, 1 male, 2 female, 9 not stated\n"
    "  --local-id ID    the authority's own reference (default: generated)\n"
    "  --dir DIR        the device workspace (default $FIELDCASE_HOME or ~/.fieldcase)\n";

constexpr OptionSpec kChildAddOptions[] = {
    {"--first"}, {"--last"}, {"--dob"}, {"--gender"}, {"--local-id"}};
constexpr std::string_view kChildAddRequired[] = {"--first", "--last", "--dob", "--gender"};

int child_add(Args args, Io& io) {
  return run_device_command(
      args, io, {"child add", kChildAddUsage, kChildAddOptions, kChildAddRequired},
      [&](const ParsedArgs& a, Workspace& ws) -> Status {
        const std::string local_id =
            a.get("--local-id").value_or("FC-" + new_uuid_v7(SystemClock::instance()).substr(24));
        auto id = ws.records().create(RecordKind::child, {},
                                      {{"first_name", *a.get("--first")},
                                       {"last_name", *a.get("--last")},
                                       {"date_of_birth", *a.get("--dob")},
                                       {"gender", *a.get("--gender")},
                                       {"local_id", local_id},
                                       {"allocated_worker", ws.config().worker_id}});
        if (!id.ok()) return id.status();
        io.out << *id << "\n";
        return {};
      });
}

constexpr Subcommand kChildSubcommands[] = {{"add", child_add}};

int child(Args args, Io& io) { return dispatch(args, io, "child", kChildUsage, kChildSubcommands); }

// --- visit ---

constexpr std::string_view kVisitUsage =
    "usage: fieldcase visit record --case ID --type TYPE --start DATETIME (--seen|--not-seen)\n"
    "                              [options]\n"
    "\n"
    "subcommands:\n"
    "  record   record a visit and its notes\n";

constexpr std::string_view kVisitRecordUsage =
    "usage: fieldcase visit record --case ID --type TYPE --start DATETIME (--seen|--not-seen)\n"
    "                              [--end DATETIME] [--alone] [--observations TEXT]\n"
    "                              [--note TEXT]... [--dir DIR]\n"
    "\n"
    "Records a visit to the child of case ID, with its notes, in one local transaction: the\n"
    "server accepts them together or not at all. Prints the visit's id.\n"
    "\n"
    "options:\n"
    "  --type TYPE          assessment, cp_statutory, lac_statutory, child_in_need or other\n"
    "  --start, --end       UTC date and time, YYYY-MM-DDTHH:MM:SSZ\n"
    "  --seen, --not-seen   whether the child was seen\n"
    "  --alone              the child was seen alone\n"
    "  --observations TEXT  what was observed\n"
    "  --note TEXT          a completed case note about the visit (repeatable)\n"
    "  --dir DIR            the device workspace (default $FIELDCASE_HOME or ~/.fieldcase)\n";

constexpr OptionSpec kVisitRecordOptions[] = {
    {"--case"},         {"--type"},         {"--start"},
    {"--end"},          {"--seen", false},  {"--not-seen", false},
    {"--alone", false}, {"--observations"}, {"--note", true, true}};
constexpr std::string_view kVisitRecordRequired[] = {"--case", "--type", "--start"};

int visit_record(Args args, Io& io) {
  return run_device_command(
      args, io, {"visit record", kVisitRecordUsage, kVisitRecordOptions, kVisitRecordRequired},
      [&](const ParsedArgs& a, Workspace& ws) -> Status {
        if (a.has("--seen") == a.has("--not-seen")) {
          return bad_usage("give exactly one of --seen and --not-seen");
        }
        if (a.has("--alone") && a.has("--not-seen")) {
          return bad_usage("--alone needs --seen");
        }
        const std::string case_id = *a.get("--case");
        const std::string start = *a.get("--start");
        Fields visit{{"visit_type", *a.get("--type")},
                     {"start_at", start},
                     {"child_seen", a.has("--seen")},
                     {"child_seen_alone", a.has("--alone")}};
        if (auto end = a.get("--end")) visit["end_at"] = *end;
        if (auto observations = a.get("--observations")) visit["observations"] = *observations;
        std::string visit_id;
        FC_TRY(ws.records().write([&](RecordStore::Writer& w) -> Status {
          auto id = w.create(RecordKind::visit, case_id, std::move(visit));
          if (!id.ok()) return id.status();
          visit_id = *id;
          for (const std::string& text : a.all("--note")) {
            auto note = w.create(RecordKind::case_note, case_id,
                                 {{"contact_at", start},
                                  {"text", text},
                                  {"status", std::string("completed")},
                                  {"visit_id", visit_id}});
            if (!note.ok()) return note.status();
          }
          return {};
        }));
        io.out << visit_id << "\n";
        return {};
      });
}

constexpr Subcommand kVisitSubcommands[] = {{"record", visit_record}};

int visit(Args args, Io& io) { return dispatch(args, io, "visit", kVisitUsage, kVisitSubcommands); }

// --- assessment ---

constexpr std::string_view kAssessmentUsage =
    "usage: fieldcase assessment <subcommand> [arguments]\n"
    "\n"
    "subcommands:\n"
    "  start --case ID --kind KIND --start DATE   start an assessment; prints id and due date\n"
    "  complete ID                                 mark it completed (one-way)\n"
    "  authorise ID                                authorise a completed one (managers)\n"
    "  return ID --reason TEXT                     return it for amendment (managers)\n";

constexpr std::string_view kStartUsage =
    "usage: fieldcase assessment start --case ID --kind initial|core|single --start YYYY-MM-DD\n"
    "                                  [--dir DIR]\n"
    "\n"
    "Starts an assessment of the child of case ID, in progress from the start date, and prints\n"
    "its id and its due date (the last working day of its statutory timescale).\n";

constexpr std::string_view kCompleteUsage =
    "usage: fieldcase assessment complete ID [--dir DIR]\n"
    "\n"
    "Marks assessment ID completed now. Completion is one-way; a manager authorises it or\n"
    "returns it for amendment.\n";

constexpr std::string_view kAuthoriseUsage =
    "usage: fieldcase assessment authorise ID [--dir DIR]\n"
    "\n"
    "Authorises completed assessment ID (team managers and above).\n";

constexpr std::string_view kReturnUsage =
    "usage: fieldcase assessment return ID --reason TEXT [--dir DIR]\n"
    "\n"
    "Returns completed assessment ID to the worker for amendment, saying why (managers).\n";

constexpr OptionSpec kStartOptions[] = {{"--case"}, {"--kind"}, {"--start"}};
constexpr std::string_view kStartRequired[] = {"--case", "--kind", "--start"};
constexpr OptionSpec kReturnOptions[] = {{"--reason"}};
constexpr std::string_view kReturnRequired[] = {"--reason"};

int assessment_start(Args args, Io& io) {
  return run_device_command(
      args, io, {"assessment start", kStartUsage, kStartOptions, kStartRequired},
      [&](const ParsedArgs& a, Workspace& ws) -> Status {
        auto id = ws.records().create(RecordKind::assessment, *a.get("--case"),
                                      {{"assessment_kind", *a.get("--kind")},
                                       {"start_date", *a.get("--start")},
                                       {"status", std::string(kAssessmentInProgress)}});
        if (!id.ok()) return id.status();
        auto record = existing(ws.records(), *id, RecordKind::assessment);
        if (!record.ok()) return record.status();
        io.out << *id << " due " << text_of(record->fields, "due_date").value_or("-") << "\n";
        return {};
      });
}

// Moves assessment ID (the one positional argument) to `status`, with extra field changes.
Status move_assessment(const ParsedArgs& a, Workspace& ws, std::string_view status,
                       Fields changes) {
  const std::string& id = a.positionals[0];
  auto record = existing(ws.records(), id, RecordKind::assessment);
  if (!record.ok()) return record.status();
  changes["status"] = std::string(status);
  return ws.records().update(id, changes);
}

int assessment_complete(Args args, Io& io) {
  return run_device_command(args, io, {"assessment complete", kCompleteUsage, {}, {}, 1, "ID"},
                            [](const ParsedArgs& a, Workspace& ws) {
                              return move_assessment(a, ws, kAssessmentCompleted, {});
                            });
}

int assessment_authorise(Args args, Io& io) {
  return run_device_command(args, io, {"assessment authorise", kAuthoriseUsage, {}, {}, 1, "ID"},
                            [](const ParsedArgs& a, Workspace& ws) {
                              return move_assessment(a, ws, kAssessmentAuthorised, {});
                            });
}

int assessment_return(Args args, Io& io) {
  return run_device_command(
      args, io, {"assessment return", kReturnUsage, kReturnOptions, kReturnRequired, 1, "ID"},
      [](const ParsedArgs& a, Workspace& ws) {
        return move_assessment(a, ws, kAssessmentReturned,
                               {{"returned_reason", *a.get("--reason")}});
      });
}

constexpr Subcommand kAssessmentSubcommands[] = {{"start", assessment_start},
                                                 {"complete", assessment_complete},
                                                 {"authorise", assessment_authorise},
                                                 {"return", assessment_return}};

int assessment(Args args, Io& io) {
  return dispatch(args, io, "assessment", kAssessmentUsage, kAssessmentSubcommands);
}

// --- note ---

constexpr std::string_view kNoteUsage =
    "usage: fieldcase note <subcommand> [arguments]\n"
    "\n"
    "subcommands:\n"
    "  add --case ID --text TEXT [--complete]   add a case note (a draft unless --complete)\n"
    "  correct NOTE_ID --text TEXT              correct a completed note with a new entry\n";

constexpr std::string_view kNoteAddUsage =
    "usage: fieldcase note add --case ID --text TEXT [--complete] [--dir DIR]\n"
    "\n"
    "Adds a case note to case ID, dated now. A draft can be edited; with --complete the note is\n"
    "final and can only be corrected ('fieldcase note correct'). Prints the note's id.\n";

constexpr std::string_view kNoteCorrectUsage =
    "usage: fieldcase note correct NOTE_ID --text TEXT [--dir DIR]\n"
    "\n"
    "Completed notes are never changed: this appends a completed note that names NOTE_ID as the\n"
    "one it corrects, and prints the new note's id. Both stay in the record.\n";

constexpr OptionSpec kNoteAddOptions[] = {{"--case"}, {"--text"}, {"--complete", false}};
constexpr std::string_view kNoteAddRequired[] = {"--case", "--text"};
constexpr OptionSpec kTextOption[] = {{"--text"}};
constexpr std::string_view kTextRequired[] = {"--text"};

int note_add(Args args, Io& io) {
  return run_device_command(
      args, io, {"note add", kNoteAddUsage, kNoteAddOptions, kNoteAddRequired},
      [&](const ParsedArgs& a, Workspace& ws) -> Status {
        auto id = ws.records().create(
            RecordKind::case_note, *a.get("--case"),
            {{"contact_at", now_text()},
             {"text", *a.get("--text")},
             {"status", std::string(a.has("--complete") ? "completed" : "draft")}});
        if (!id.ok()) return id.status();
        io.out << *id << "\n";
        return {};
      });
}

int note_correct(Args args, Io& io) {
  return run_device_command(
      args, io, {"note correct", kNoteCorrectUsage, kTextOption, kTextRequired, 1, "NOTE_ID"},
      [&](const ParsedArgs& a, Workspace& ws) -> Status {
        Result<std::string> id = Status(Errc::internal, "no correction written");
        FC_TRY(ws.records().write([&](RecordStore::Writer& w) -> Status {
          id = w.append_correction(a.positionals[0], *a.get("--text"));
          return id.status();
        }));
        io.out << *id << "\n";
        return {};
      });
}

constexpr Subcommand kNoteSubcommands[] = {{"add", note_add}, {"correct", note_correct}};

int note(Args args, Io& io) { return dispatch(args, io, "note", kNoteUsage, kNoteSubcommands); }

// --- set ---

constexpr std::string_view kSetUsage =
    "usage: fieldcase set ID FIELD VALUE [--dir DIR]\n"
    "\n"
    "Sets one field of record ID (for testers). VALUE is read as true, false, a whole number,\n"
    "null (clears the field) or else text. The record's rules apply as to any other write.\n";

int set(Args args, Io& io) {
  return run_device_command(args, io, {"set", kSetUsage, {}, {}, 3, "ID FIELD VALUE"},
                            [](const ParsedArgs& a, Workspace& ws) -> Status {
                              const auto& p = a.positionals;
                              return ws.records().update(p[0], {{p[1], parse_value(p[2])}});
                            });
}

constexpr std::array kCommands = {
    Command{"child", "add a child (a new case allocated to you)", child},
    Command{"visit", "record a visit with its notes", visit},
    Command{"assessment", "start, complete, authorise or return an assessment", assessment},
    Command{"note", "add or correct a case note", note},
    Command{"set", "set one field of a record (for testers)", set},
};

}  // namespace

std::span<const Command> record_commands() { return kCommands; }

}  // namespace fieldcase::cli
