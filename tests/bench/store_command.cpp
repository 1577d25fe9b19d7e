// `fieldcase-bench store`: runs the local engines in-process and SQLCipher through the helper
// executable, interleaved, and reports medians as a table or JSON.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "store_bench.hpp"

namespace fieldcase::bench {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHelperName = "fieldcase-bench-sqlcipher";

// Runs `exe` with `args`, standard error inherited, and returns its exit status and stdout.
std::pair<int, std::string> run_capture(const fs::path& exe, const std::vector<std::string>& args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  std::vector<std::string> argv_strings{exe.string()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot run " + exe.string());
  }
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128, out};
}

// The SQLCipher helper next to this executable, if it is there.
std::optional<fs::path> find_helper() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  fs::path helper = self.parent_path() / kHelperName;
  if (access(helper.c_str(), X_OK) != 0) return std::nullopt;
  return helper;
}

// One SQLCipher measurement of `workload`, made by the helper in its own process.
double measure_with_helper(const fs::path& helper, std::string_view workload, const StoreOptions& o,
                           const fs::path& dir) {
  std::vector<std::string> args{
      "store",  "--engine", "sqlcipher", "--workload", std::string(workload),
      "--runs", "1",        "--json",    "--dir",      dir.string()};
  if (o.quick) args.emplace_back("--quick");
  if (o.clock == Clock::cpu) args.emplace_back("--cpu");
  auto [status, out] = run_capture(helper, args);
  if (status != 0) {
    throw std::runtime_error(std::string(kHelperName) + " failed on " + std::string(workload) +
                             " (exit status " + std::to_string(status) + ")");
  }
  for (const StoreResult& r : parse_store_results_json(out)) {
    if (r.workload == workload && r.engine == "sqlcipher") return r.median_ms;
  }
  throw std::runtime_error(std::string(kHelperName) + " reported no result for " +
                           std::string(workload));
}

std::string format_ms(double ms) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(ms < 10 ? 2 : 1) << ms;
  return s.str();
}

std::string format_ratio(std::optional<double> num, std::optional<double> den) {
  if (!num || !den || *den <= 0) return "-";
  std::ostringstream s;
  s << std::fixed << std::setprecision(2) << *num / *den;
  return s.str();
}

void print_table(std::ostream& out, const StoreOptions& o, const StoreSizes& sizes,
                 const std::vector<StoreResult>& results) {
  auto find = [&](std::string_view w, std::string_view e) -> std::optional<double> {
    for (const StoreResult& r : results) {
      if (r.workload == w && r.engine == e) return r.median_ms;
    }
    return std::nullopt;
  };
  out << "fieldcase-bench store: median " << (o.clock == Clock::cpu ? "CPU " : "") << "ms of "
      << o.runs << (o.runs == 1 ? " run" : " runs") << (o.quick ? " (quick sizes)" : "")
      << "; page size 4096, WAL, synchronous=NORMAL, temp_store=MEMORY, mmap_size=0\n\n";
  out << std::left << std::setw(14) << "workload" << std::setw(34) << "measured" << std::right
      << std::setw(11) << "plain" << std::setw(11) << "fieldcase" << std::setw(11) << "sqlcipher"
      << std::setw(18) << "fieldcase/plain" << std::setw(22) << "fieldcase/sqlcipher"
      << "\n";
  for (const std::string& w : o.workloads) {
    auto cell = [&](std::string_view e) {
      auto v = find(w, e);
      return v ? format_ms(*v) : std::string("-");
    };
    out << std::left << std::setw(14) << w << std::setw(34) << describe_workload(w, sizes)
        << std::right << std::setw(11) << cell("plain") << std::setw(11) << cell("fieldcase")
        << std::setw(11) << cell("sqlcipher") << std::setw(18)
        << format_ratio(find(w, "fieldcase"), find(w, "plain")) << std::setw(22)
        << format_ratio(find(w, "fieldcase"), find(w, "sqlcipher")) << "\n";
  }
}

}  // namespace

int run_store_command(Args args) {
  StoreOptions o;
  try {
    o = parse_store_options(args);
  } catch (const UsageError& e) {
    std::cerr << "fieldcase-bench store: " << e.what() << "\n"
              << "Try 'fieldcase-bench store --help'.\n";
    return kExitUsage;
  }
  if (o.help) {
    print_store_help(std::cout, "fieldcase-bench");
    return kExitOk;
  }
  try {
    prepare_local_engines();
    const StoreSizes sizes = store_sizes(o.quick);
    const auto local = local_store_engines();
    std::optional<fs::path> helper;
    std::vector<std::string> engines;
    for (const std::string& e : o.engines) {
      if (std::find(local.begin(), local.end(), e) != local.end()) {
        engines.push_back(e);
      } else if (e == "sqlcipher") {
        helper = find_helper();
        if (helper) {
          engines.push_back(e);
        } else {
          std::cerr << "fieldcase-bench store: WARNING: " << kHelperName
                    << " was not found next to this program (it is built only when "
                       "libsqlcipher-dev is installed); reporting without the sqlcipher "
                       "engine.\n";
        }
      }
    }

    ScratchDir scratch(o.dir, "fieldcase-bench");
    std::map<std::pair<std::string, std::string>, std::vector<double>> samples;
    for (int run = 0; run < o.runs; ++run) {
      std::cerr << "fieldcase-bench store: run " << run + 1 << "/" << o.runs << "\n";
      for (const std::string& w : o.workloads) {
        // Engines in turn, starting with a different one each run, so drift and after-effects
        // of the previous measurement (checkpoints, page-cache state) fall on all of them.
        for (std::size_t k = 0; k < engines.size(); ++k) {
          const std::string& e = engines[(k + static_cast<std::size_t>(run)) % engines.size()];
          const double ms = e == "sqlcipher" ? measure_with_helper(*helper, w, o, scratch.path())
                                             : measure_store(e, w, sizes, scratch.path(), o.clock);
          samples[{w, e}].push_back(ms);
        }
      }
    }

    std::vector<StoreResult> results;
    for (const std::string& w : o.workloads) {
      for (const std::string& e : engines) {
        const auto& s = samples[{w, e}];
        results.push_back({w, e, median(s), static_cast<int>(s.size())});
      }
    }
    if (o.json) {
      std::cout << store_results_json(results) << "\n";
    } else {
      print_table(std::cout, o, sizes, results);
      if (std::find(o.engines.begin(), o.engines.end(), "sqlcipher") != o.engines.end() &&
          !helper) {
        std::cout << "\nsqlcipher: not measured (" << kHelperName << " not found)\n";
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "fieldcase-bench store: " << e.what() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace fieldcase::bench
