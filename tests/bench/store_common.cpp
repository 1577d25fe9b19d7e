// Options, sizes and the JSON form of the storage benchmark, shared by both executables.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <ostream>

#include "store_bench.hpp"

namespace fieldcase::bench {
namespace {

// Splits "a,b" into names and checks each against `known`; returns them in `known` order.
std::vector<std::string> pick(const std::vector<std::string>& given,
                              std::span<const std::string_view> known, std::string_view option) {
  std::vector<std::string> names;
  for (const std::string& list : given) {
    std::size_t start = 0;
    while (start <= list.size()) {
      std::size_t comma = std::min(list.find(',', start), list.size());
      std::string name = list.substr(start, comma - start);
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        throw UsageError("unknown " + std::string(option.substr(2)) + " '" + name + "'");
      }
      names.push_back(name);
      start = comma + 1;
    }
  }
  std::vector<std::string> ordered;
  for (std::string_view k : known) {
    if (given.empty() || std::find(names.begin(), names.end(), k) != names.end()) {
      ordered.emplace_back(k);
    }
  }
  return ordered;
}

}  // namespace

StoreSizes store_sizes(bool quick) {
  StoreSizes s{};
  s.bulk_rows = 100'000;
  s.tx_rows = 10'000;
  s.lookup_rows = 100'000;
  s.lookups = 100'000;
  s.scan_rows = 200'000;
  s.scans = 5;
  s.index_rows = 100'000;
  s.open_rows = 1'000;
  s.opens = 500;
  s.write_cache_kib = 8 * 1024;
  s.lookup_cache_kib = 64 * 1024;
  s.scan_cache_kib = 2 * 1024;
  s.index_cache_kib = 64 * 1024;
  s.open_cache_kib = 2 * 1024;
  if (quick) {
    s.bulk_rows /= 10;
    s.tx_rows /= 10;
    s.lookup_rows /= 10;
    s.lookups /= 10;
    s.scan_rows /= 10;
    s.index_rows /= 10;
    s.opens /= 10;
    s.scan_cache_kib /= 8;
  }
  return s;
}

std::string describe_workload(std::string_view workload, const StoreSizes& s) {
  auto n = [](int v) { return std::to_string(v); };
  if (workload == "insert_bulk") return n(s.bulk_rows) + " rows, 1 transaction";
  if (workload == "insert_tx") return n(s.tx_rows) + " 1-row transactions";
  if (workload == "lookup_warm") return n(s.lookups) + " lookups, " + n(s.lookup_rows) + " rows";
  if (workload == "scan") return n(s.scans) + " x full scan, " + n(s.scan_rows) + " rows";
  if (workload == "create_index") return n(s.index_rows) + " rows";
  if (workload == "open") return n(s.opens) + " x open+read";
  return {};
}

StoreOptions parse_store_options(Args args) {
  StoreOptions o;
  std::vector<std::string> workloads;
  std::vector<std::string> engines;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw UsageError(std::string(a) + " needs a value");
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--runs") {
      o.runs = parse_positive(value(), a);
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--cpu") {
      o.clock = Clock::cpu;
    } else if (a == "--dir") {
      o.dir = std::string(value());
    } else if (a == "--workload") {
      workloads.emplace_back(value());
    } else if (a == "--engine") {
      engines.emplace_back(value());
    } else {
      throw UsageError("unknown argument '" + std::string(a) + "'");
    }
  }
  o.workloads = pick(workloads, kStoreWorkloads, "--workload");
  o.engines = pick(engines, kStoreEngines, "--engine");
  return o;
}

void print_store_help(std::ostream& out, std::string_view program) {
  out << "usage: " << program
      << " store [--runs N] [--quick] [--json] [--cpu] [--dir DIR] [--workload W] [--engine E]\n"
         "\n"
         "Runs the same SQLite workloads on three engines: plain (system SQLite), fieldcase\n"
         "(system SQLite with the encrypting fieldcase VFS) and sqlcipher (SQLCipher 3.4.1, run\n"
         "as the helper fieldcase-bench-sqlcipher found next to this program). Page size 4096,\n"
         "WAL, synchronous=NORMAL, temp_store=MEMORY, mmap_size=0, equal cache per workload.\n"
         "Engines are interleaved within each run; the figure reported is the median over runs.\n"
         "\n"
         "workloads: insert_bulk insert_tx lookup_warm scan create_index open\n"
         "\n"
         "  --runs N        measurements per workload and engine (default 5)\n"
         "  --quick         a tenth of the full sizes (a smoke run)\n"
         "  --json          print {\"results\":[{workload, engine, median_ms, runs}, ...]}\n"
         "  --cpu           time the process's CPU use (user + system) instead of elapsed time:\n"
         "                  steadier on a busy machine, but leaves out waiting for the disk\n"
         "  --dir DIR       make the scratch directory in DIR (default: the system temp dir);\n"
         "                  it is removed afterwards\n"
         "  --workload W    only these workloads (repeatable, or comma-separated)\n"
         "  --engine E      only these engines: plain, fieldcase, sqlcipher (likewise)\n"
         "  --help          show this help\n";
}

std::string store_results_json(const std::vector<StoreResult>& results) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const StoreResult& r : results) {
    list.push_back({{"workload", r.workload},
                    {"engine", r.engine},
                    {"median_ms", std::round(r.median_ms * 1000) / 1000},  // to the microsecond
                    {"runs", r.runs}});
  }
  return nlohmann::ordered_json{{"results", list}}.dump();
}

std::vector<StoreResult> parse_store_results_json(const std::string& text) {
  std::vector<StoreResult> results;
  try {
    const nlohmann::json doc = nlohmann::json::parse(text);
    for (const nlohmann::json& item : doc.at("results")) {
      results.push_back({item.at("workload").get<std::string>(),
                         item.at("engine").get<std::string>(), item.at("median_ms").get<double>(),
                         item.at("runs").get<int>()});
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("unexpected benchmark JSON: ") + e.what());
  }
  return results;
}

}  // namespace fieldcase::bench
