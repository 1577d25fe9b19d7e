// Helpers for storage tests that run in plain and encrypted modes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fieldcase/store.hpp"

namespace fieldcase::test {

struct StoreMode {
  bool encrypted;
  JournalMode journal;
  std::string name() const {
    return std::string(encrypted ? "encrypted" : "plain") +
           (journal == JournalMode::wal ? "/wal" : "/rollback");
  }
};

inline const std::vector<StoreMode>& all_store_modes() {
  static const std::vector<StoreMode> modes{{false, JournalMode::wal},
                                            {false, JournalMode::rollback},
                                            {true, JournalMode::wal},
                                            {true, JournalMode::rollback}};
  return modes;
}

inline std::vector<std::uint8_t> test_key(std::uint8_t seed = 1) {
  std::vector<std::uint8_t> k(32);
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return k;
}

inline Result<std::unique_ptr<Store>> open_store(const StoreMode& mode,
                                                 const std::filesystem::path& path,
                                                 int cache_kib = 2048,
                                                 std::uint8_t key_seed = 1) {
  StoreOptions o;
  o.path = path;
  o.journal = mode.journal;
  o.cache_kib = cache_kib;
  if (mode.encrypted) return Store::open(o, test_key(key_seed));
  return Store::open_plain(o);
}

// Runs a query that returns one integer.
inline std::int64_t query_int(Store& store, const std::string& sql) {
  auto stmt = store.prepare(sql);
  if (!stmt.ok()) throw std::runtime_error(stmt.status().to_string());
  auto row = stmt->step();
  if (!row.ok()) throw std::runtime_error(row.status().to_string());
  return *row ? stmt->column_int(0) : -1;
}

// "ok", or the first problem PRAGMA integrity_check reports, or the error that stopped it.
inline std::string integrity_check(Store& store) {
  auto stmt = store.prepare("PRAGMA integrity_check");
  if (!stmt.ok()) return stmt.status().to_string();
  auto row = stmt->step();
  if (!row.ok()) return row.status().to_string();
  return *row ? stmt->column_text(0) : "no result";
}

}  // namespace fieldcase::test
