// fieldcase-bench: the benchmark program. Dispatches the first argument to a subcommand, one
// source file each (store_command.cpp, ...).
#include <array>
#include <iostream>
#include <string_view>
#include <vector>

#include "bench.hpp"
#include "capi_bench.hpp"
#include "figures_bench.hpp"
#include "records_bench.hpp"
#include "store_bench.hpp"
#include "sync_bench.hpp"
#include "unlock_bench.hpp"

namespace {

using fieldcase::bench::Subcommand;

constexpr std::array<Subcommand, 6> kSubcommands{{
    {"store", "storage engines: plain SQLite, the fieldcase VFS and SQLCipher",
     fieldcase::bench::run_store_command},
    {"records", "recording a visit and building My day, encrypted and plain",
     fieldcase::bench::run_records_command},
    {"unlock", "unlocking a vault with its PIN at the device Argon2id cost",
     fieldcase::bench::run_unlock_command},
    {"sync", "syncing a day's work over HTTP to an in-process server",
     fieldcase::bench::run_sync_command},
    {"capi", "recording a visit through the C API and JNI against the C++ core",
     fieldcase::bench::run_capi_command},
    {"figures", "the figures engine on the demo authority: queries, sync hook, recompute",
     fieldcase::bench::run_figures_command},
}};

void print_usage(std::ostream& out) {
  out << "usage: fieldcase-bench <subcommand> [options]\n"
         "\n"
         "subcommands:\n";
  for (const Subcommand& s : kSubcommands) {
    out << "  " << s.name;
    for (auto n = s.name.size(); n < 10; ++n) out << ' ';
    out << "  " << s.summary << "\n";
  }
  out << "\n"
         "'fieldcase-bench <subcommand> --help' describes a subcommand.\n";
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_usage(std::cerr);
    return fieldcase::bench::kExitUsage;
  }
  if (args.front() == "--help" || args.front() == "-h" || args.front() == "help") {
    print_usage(std::cout);
    return fieldcase::bench::kExitOk;
  }
  for (const Subcommand& s : kSubcommands) {
    if (s.name == args.front()) {
      const int code = s.run(std::span(args).subspan(1));
      std::cout.flush();
      return std::cout.good() ? code : fieldcase::bench::kExitFailure;
    }
  }
  std::cerr << "fieldcase-bench: unknown subcommand '" << args.front() << "'\n"
            << "Try 'fieldcase-bench --help'.\n";
  return fieldcase::bench::kExitUsage;
}
