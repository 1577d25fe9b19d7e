// fieldcase: the command-line field client. Dispatches the first argument to a command group.
#include <array>
#include <iostream>
#include <span>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "fieldcase/version.hpp"

namespace {

using fieldcase::cli::Command;

// Each group's commands, in the order `fieldcase --help` lists them.
std::array<std::span<const Command>, 4> command_groups() {
  return {fieldcase::cli::device_commands(), fieldcase::cli::view_commands(),
          fieldcase::cli::record_commands(), fieldcase::cli::calendar_commands()};
}

void print_usage(std::ostream& out) {
  out << "usage: fieldcase <command> [arguments]\n"
         "\n"
         "commands:\n";
  for (const auto& group : command_groups()) {
    for (const Command& command : group) {
      out << "  " << command.name;
      for (auto n = command.name.size(); n < 11; ++n) out << ' ';
      out << "  " << command.summary << "\n";
    }
  }
  out << "\n"
         "  --version   print the version and build information\n"
         "  --help      show this help\n"
         "\n"
         "'fieldcase <command> --help' describes a command.\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  fieldcase::cli::Io io{std::cout, std::cerr};
  if (args.empty()) {
    print_usage(std::cerr);
    return fieldcase::cli::kExitUsage;
  }
  const std::string_view name = args.front();
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(std::cout);
    return fieldcase::cli::kExitOk;
  }
  if (name == "--version") {
    std::cout << fieldcase::build_info() << "\n";
    return fieldcase::cli::kExitOk;
  }
  for (const auto& group : command_groups()) {
    for (const Command& command : group) {
      if (command.name == name) {
        const int code = command.run(std::span(args).subspan(1), io);
        std::cout.flush();
        return std::cout.good() ? code : fieldcase::cli::kExitFailure;
      }
    }
  }
  std::cerr << "fieldcase: unknown command '" << name << "'\n"
            << "Try 'fieldcase --help'.\n";
  return fieldcase::cli::kExitUsage;
}
