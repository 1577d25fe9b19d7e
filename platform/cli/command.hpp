// The command table of the `fieldcase` client and the argument helpers its commands share.
//
// A command group (calendar_commands.cpp, ...) returns its top-level commands; main.cpp lists
// the groups and dispatches on the first argument. A command gets the arguments after its
// name, writes results to io.out and diagnostics to io.err, and returns an exit code:
// kExitOk, kExitFailure (the request was valid but could not be done) or kExitUsage (the
// arguments were wrong). Every command and subcommand answers --help on io.out with kExitOk.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string_view>

namespace fieldcase::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Io {
  std::ostream& out;
  std::ostream& err;
};

using Args = std::span<const std::string_view>;

struct Command {
  std::string_view name;
  std::string_view summary;  // one line for `fieldcase --help`
  int (*run)(Args args, Io& io);
};

std::span<const Command> calendar_commands();
std::span<const Command> device_commands();  // setup, sync, status
std::span<const Command> view_commands();    // caseload, show, conflicts, my-day
std::span<const Command> record_commands();  // child, visit, assessment, note, set

// True when any argument asks for help ("--help" or "-h").
bool wants_help(Args args);

// A whole decimal integer with an optional leading '-', nothing else; nullopt otherwise or
// when it does not fit.
std::optional<std::int32_t> parse_int(std::string_view text);

// Writes "fieldcase <command>: <message>" and a pointer to --help to io.err; returns
// kExitUsage.
int usage_error(Io& io, std::string_view command, std::string_view message);

}  // namespace fieldcase::cli
