// The core's database: an SQLite database that is encrypted page by page on disk (or, for the
// server and baselines only, explicitly plain), with transactions and forward-only migrations.
//
// SQLite stays behind these types. A Store is one connection: use it from one thread at a
// time (the sync engine and the UI each open their own). Every acknowledged commit survives a
// crash; a page that fails authentication is reported as Errc::integrity, never returned.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/secure_bytes.hpp"
#include "fieldcase/status.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace fieldcase {

enum class JournalMode { wal, rollback };
enum class Durability {
  normal,  // survives any application crash; a power cut may lose the last commits (WAL)
  full,    // fsync on every commit: survives power loss too
};

struct StoreOptions {
  std::filesystem::path path;
  JournalMode journal = JournalMode::wal;
  Durability durability = Durability::normal;
  int cache_kib = 8 * 1024;  // page cache size
  bool create = true;        // create the file if it does not exist
};

// A prepared statement. Bind errors are remembered and reported by the next step().
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are numbered from 1.
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind_blob(int index, std::span<const std::uint8_t> bytes);
  Statement& bind_null(int index);

  // true while a row is available.
  Result<bool> step();
  // Steps to completion, discarding rows; resets the statement so it can run again.
  Status run();
  void reset();

  // Columns are numbered from 0.
  std::int64_t column_int(int index) const;
  double column_double(int index) const;
  std::string column_text(int index) const;
  std::vector<std::uint8_t> column_blob(int index) const;
  bool column_is_null(int index) const;
  int column_count() const;

 private:
  friend class Store;
  Statement(class Store* store, sqlite3_stmt* stmt) : store_(store), stmt_(stmt) {}
  void note_bind(int rc);
  class Store* store_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int bind_error_ = 0;
};

// One forward migration of the schema. Versions run from 1 without gaps.
struct Migration {
  int version;
  std::string description;
  std::function<Status(class Store&)> apply;
};

class Store {
 public:
  // Opens (or creates) an encrypted database with a 32-byte key. A wrong key is
  // Errc::wrong_key; a plain SQLite or foreign file is Errc::not_a_database.
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options,
                                             std::span<const std::uint8_t> key);
  // Opens an unencrypted database. For the server's own storage and baselines, never for case
  // data on a device.
  static Result<std::unique_ptr<Store>> open_plain(const StoreOptions& options);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  bool encrypted() const { return encrypted_; }
  const std::filesystem::path& path() const { return path_; }

  // Runs one or more statements without results.
  Status exec(std::string_view sql);
  // Prepares one statement. Statements are recycled: when a Statement goes, its compiled form
  // is reset and kept for the next prepare() of the same text, so a hot path pays SQLite's
  // parser once. A Statement must not outlive its Store.
  Result<Statement> prepare(std::string_view sql);

  // Runs fn inside a transaction (a savepoint when nested): commits if it returns ok, rolls
  // back otherwise. Nothing of a failed transaction reaches the database.
  Status transaction(const std::function<Status()>& fn);

  // Applies the migrations above the current schema version, each in its own transaction.
  // A database newer than the newest migration is Errc::schema.
  Status migrate(std::span<const Migration> migrations);
  Result<int> schema_version();

  // Copies the WAL into the database file and truncates the WAL.
  Status checkpoint();
  // Writes a compacted copy to `target` (which must not exist) through the same encryption,
  // under `key` (which may differ from this database's key, for rotation).
  Status vacuum_into(const std::filesystem::path& target, std::span<const std::uint8_t> key);

  std::int64_t last_insert_rowid() const;
  int changes() const;

  // Translates an SQLite result code (plus the VFS's detail, if any) into a Status.
  Status error(int rc, std::string_view context) const;

 private:
  Store() = default;
  static Result<std::unique_ptr<Store>> open_impl(const StoreOptions& options,
                                                  std::span<const std::uint8_t> key, bool plain);
  friend class Statement;
  struct StatementCache;
  void recycle(sqlite3_stmt* stmt) noexcept;  // Statement's destructor hands its stmt back
  Status run_cached(std::string_view sql);

  sqlite3* db_ = nullptr;
  std::unique_ptr<StatementCache> cache_;
  std::filesystem::path path_;
  bool encrypted_ = false;
  int tx_depth_ = 0;
};

// Removes a database and its WAL, shared-memory and journal files. Missing files are fine.
Status remove_database_files(const std::filesystem::path& path);

}  // namespace fieldcase
