// The storage benchmark (`fieldcase-bench store`): the same SQLite workloads on three engines.
//
//   plain      system SQLite, default VFS, no encryption
//   fieldcase  system SQLite with the "fieldcase" page-encrypting VFS
//   sqlcipher  Debian's SQLCipher 3.4.1 (raw key, HMAC on)
//
// SQLCipher exports the same symbols as SQLite, so store_workloads.cpp is compiled twice: into
// fieldcase-bench with the plain and fieldcase engines, and with FIELDCASE_BENCH_SQLCIPHER into
// fieldcase-bench-sqlcipher, which fieldcase-bench runs as a subprocess (`store ... --json`).
// Every engine uses page size 4096, WAL, synchronous=NORMAL, temp_store=MEMORY, mmap_size=0
// and, within a workload, the same cache size.
#pragma once

#include <array>
#include <filesystem>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench.hpp"

namespace fieldcase::bench {

inline constexpr std::array<std::string_view, 6> kStoreWorkloads{
    "insert_bulk", "insert_tx", "lookup_warm", "scan", "create_index", "open"};
inline constexpr std::array<std::string_view, 3> kStoreEngines{"plain", "fieldcase", "sqlcipher"};

// Row counts, repetitions and page-cache sizes (KiB) of the workloads.
struct StoreSizes {
  int bulk_rows;         // insert_bulk: rows inserted in one transaction
  int tx_rows;           // insert_tx: single-row transactions
  int lookup_rows;       // lookup_warm: table rows, all cached
  int lookups;           // lookup_warm: random primary-key lookups
  int scan_rows;         // scan: table rows, several times the cache
  int scans;             // scan: full scans, each reading every page again
  int index_rows;        // create_index: table rows
  int open_rows;         // open: table rows
  int opens;             // open: repetitions
  int write_cache_kib;   // insert_bulk, insert_tx
  int lookup_cache_kib;  // lookup_warm (must hold the whole table)
  int scan_cache_kib;    // scan (must be smaller than the table)
  int index_cache_kib;   // create_index (large enough for the sort to stay in memory)
  int open_cache_kib;    // open
};

// Full sizes, or a tenth of them for --quick.
StoreSizes store_sizes(bool quick);

// A short description of what one measurement of `workload` does, for the table.
std::string describe_workload(std::string_view workload, const StoreSizes& sizes);

struct StoreOptions {
  int runs = 5;
  bool quick = false;
  bool json = false;
  bool help = false;
  Clock clock = Clock::wall;
  std::filesystem::path dir;           // parent of the scratch directory; empty: system temp
  std::vector<std::string> workloads;  // in kStoreWorkloads order; all by default
  std::vector<std::string> engines;    // in kStoreEngines order; all by default
};

// Parses the arguments after `store`. Throws UsageError.
StoreOptions parse_store_options(Args args);
void print_store_help(std::ostream& out, std::string_view program);

struct StoreResult {
  std::string workload;
  std::string engine;
  double median_ms = 0;
  int runs = 0;
};

// {"results":[{"workload":..,"engine":..,"median_ms":..,"runs":..},...]} and back. Parsing
// throws std::runtime_error on anything else.
std::string store_results_json(const std::vector<StoreResult>& results);
std::vector<StoreResult> parse_store_results_json(const std::string& text);

// `fieldcase-bench store` (store_command.cpp): all engines, SQLCipher through the helper.
int run_store_command(Args args);

// --- Compiled per executable from store_workloads.cpp. ---

// The engines this executable runs in-process, in kStoreEngines order.
std::span<const std::string_view> local_store_engines();

// Checks the linked library and registers what the local engines need. Throws on failure.
void prepare_local_engines();

// One measurement: sets up fresh databases under `dir`, times the workload with `clock` and
// removes the databases. Returns the timed milliseconds. Throws std::runtime_error on any SQLite
// failure.
double measure_store(std::string_view engine, std::string_view workload, const StoreSizes& sizes,
                     const std::filesystem::path& dir, Clock clock);

}  // namespace fieldcase::bench
