// fieldcase-bench-sqlcipher: the SQLCipher engine of `fieldcase-bench store`, in its own
// executable because SQLCipher and system SQLite export the same symbols. Takes the same store
// options and always answers in JSON; fieldcase-bench runs it once per measurement.
#include <algorithm>
#include <iostream>
#include <map>
#include <string_view>
#include <vector>

#include "bench.hpp"
#include "store_bench.hpp"

using namespace fieldcase::bench;

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args.front() != "store") {
    std::cerr << "usage: fieldcase-bench-sqlcipher store [options]   (see fieldcase-bench store "
                 "--help)\n";
    return kExitUsage;
  }
  StoreOptions o;
  try {
    o = parse_store_options(std::span(args).subspan(1));
  } catch (const UsageError& e) {
    std::cerr << "fieldcase-bench-sqlcipher store: " << e.what() << "\n";
    return kExitUsage;
  }
  if (o.help) {
    print_store_help(std::cout, "fieldcase-bench-sqlcipher");
    std::cout << "\nThis helper runs only the sqlcipher engine and always prints JSON.\n";
    return kExitOk;
  }
  try {
    prepare_local_engines();
    const StoreSizes sizes = store_sizes(o.quick);
    const auto local = local_store_engines();
    std::vector<std::string> engines;
    for (const std::string& e : o.engines) {
      if (std::find(local.begin(), local.end(), e) != local.end()) engines.push_back(e);
    }
    ScratchDir scratch(o.dir, "fieldcase-bench-sqlcipher");
    std::map<std::pair<std::string, std::string>, std::vector<double>> samples;
    for (int run = 0; run < o.runs; ++run) {
      for (const std::string& w : o.workloads) {
        for (const std::string& e : engines) {
          samples[{w, e}].push_back(measure_store(e, w, sizes, scratch.path(), o.clock));
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
    std::cout << store_results_json(results) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "fieldcase-bench-sqlcipher store: " << e.what() << "\n";
    return kExitFailure;
  }
  std::cout.flush();
  return std::cout.good() ? kExitOk : kExitFailure;
}
