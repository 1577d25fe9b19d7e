// Pieces shared by the benchmark programs (fieldcase-bench and its SQLCipher helper): the
// subcommand table, exit codes, usage errors, timing, medians and scratch directories.
//
// A subcommand (store_command.cpp, ...) gets the arguments after its name, writes results to
// stdout and diagnostics to stderr, and returns kExitOk, kExitFailure (the measurement could not
// be made) or kExitUsage (the arguments were wrong).
#pragma once

#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fieldcase::bench {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

using Args = std::span<const std::string_view>;

struct Subcommand {
  std::string_view name;
  std::string_view summary;  // one line for --help
  int (*run)(Args args);
};

// Wrong arguments: the message is shown with a pointer to --help and the exit code is kExitUsage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A whole positive decimal integer that fits in an int; throws UsageError naming `option`.
int parse_positive(std::string_view text, std::string_view option);

// Median of the samples (mean of the middle two for an even count); 0 for none.
double median(std::vector<double> samples);

// What a Stopwatch measures: elapsed real time, or the CPU time (user + system) of this process,
// which leaves out waiting for the disk and for CPUs busy with other processes.
enum class Clock { wall, cpu };

// Time since construction or the last restart, in milliseconds.
class Stopwatch {
 public:
  explicit Stopwatch(Clock clock) : clock_(clock), start_(now()) {}
  void restart() { start_ = now(); }
  double elapsed_ms() const { return (now() - start_) / 1e6; }

 private:
  double now() const;  // nanoseconds
  Clock clock_;
  double start_;
};

// A new private directory under `parent` (the system temporary directory when empty), removed
// with everything in it on destruction. Throws std::runtime_error if it cannot be made.
class ScratchDir {
 public:
  explicit ScratchDir(const std::filesystem::path& parent, std::string_view prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace fieldcase::bench
