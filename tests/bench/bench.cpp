#include "bench.hpp"

#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <charconv>

namespace fieldcase::bench {

int parse_positive(std::string_view text, std::string_view option) {
  int value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || value <= 0) {
    throw UsageError(std::string(option) + " needs a positive whole number, not '" +
                     std::string(text) + "'");
  }
  return value;
}

double median(std::vector<double> samples) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const std::size_t mid = samples.size() / 2;
  return samples.size() % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
}

double Stopwatch::now() const {
  timespec ts{};
  clock_gettime(clock_ == Clock::cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

ScratchDir::ScratchDir(const std::filesystem::path& parent, std::string_view prefix) {
  const std::filesystem::path base =
      parent.empty() ? std::filesystem::temp_directory_path() : std::filesystem::absolute(parent);
  std::string tmpl = (base / (std::string(prefix) + "-XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("cannot create a scratch directory in " + base.string());
  }
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace fieldcase::bench
