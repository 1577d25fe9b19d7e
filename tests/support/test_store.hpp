// The server store tests run against: a fresh database of the engine $FIELDCASE_TEST_STORE names
// (`sqlite`, the default, or `postgres`) and store objects on it.
//
// SQLite: a file in the database's own temporary directory. PostgreSQL: one throw-away cluster
// per test process (pg_cluster.hpp), started at the first PostgreSQL database and stopped at
// exit, and a new database on it for every TestDatabase (dropped with it). Where PostgreSQL is
// not installed, a test asking for it is skipped with a warning, or fails when
// FIELDCASE_REQUIRE_PG=1 (CI). open_store() opens another store object on the same database,
// as a second server instance would (its own connection or pool). query() runs SQL on the
// database beside the stores, for tests that inspect or tamper with rows (the SQL must be
// valid in both dialects). Creating databases is thread-safe; a TestDatabase is used by one
// thread, its stores as their own headers allow.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/server/server_store.hpp"
#include "fieldcase/status.hpp"
#include "temp_dir.hpp"

namespace fieldcase::test {

enum class StoreEngine { sqlite, postgres };
std::string_view to_string(StoreEngine engine);

// The engine $FIELDCASE_TEST_STORE names: sqlite when unset (anything else is a test failure).
StoreEngine test_store_engine();
// Whether FIELDCASE_REQUIRE_PG=1: a missing PostgreSQL fails the test instead of skipping it.
bool pg_required();

class TestDatabase {
 public:
  // A fresh, empty (migrated) database of `engine`. not_found: PostgreSQL is not installed.
  static Result<std::unique_ptr<TestDatabase>> create(StoreEngine engine);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  StoreEngine engine() const { return engine_; }
  // Another store object on this database, with its own connection (PostgreSQL: its own pool
  // of `pool_size` connections).
  Result<std::unique_ptr<server::ServerStore>> open_store(std::size_t pool_size = 4) const;
  // Every row of `sql` (one statement) run beside the stores, each column as text ("" for NULL).
  Result<std::vector<std::vector<std::string>>> query(std::string_view sql) const;
  // The single integer `sql` selects (-1 when it selects no row).
  Result<std::int64_t> query_int(std::string_view sql) const;
  // A private directory for files kept beside the database (the SQLite file is in it).
  const std::filesystem::path& dir() const { return dir_.path(); }
  // The SQLite file, or the PostgreSQL connection URI.
  std::string location() const;

 private:
  explicit TestDatabase(StoreEngine engine) : engine_(engine) {}

  StoreEngine engine_;
  TempDir dir_;
  std::string pg_name_;  // PostgreSQL: the database's name on the cluster
};

// For test bodies: a fresh database of `engine` or, where PostgreSQL is missing and not
// required, nullptr after a warning (the test then returns). Fails the test otherwise.
std::unique_ptr<TestDatabase> fresh_database(StoreEngine engine = test_store_engine());
// The store a test opens on `db` first (REQUIREs that it opens).
std::unique_ptr<server::ServerStore> must_open(const TestDatabase& db, std::size_t pool_size = 4);

}  // namespace fieldcase::test
