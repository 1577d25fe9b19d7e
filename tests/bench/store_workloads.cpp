// The storage workloads and the engines this executable runs them on. Compiled twice (see
// store_bench.hpp): the SQLite API below is system SQLite in fieldcase-bench and SQLCipher in
// fieldcase-bench-sqlcipher, so nothing here may depend on which library it is beyond the
// FIELDCASE_BENCH_SQLCIPHER sections.
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <utility>

#include "store_bench.hpp"

#ifndef FIELDCASE_BENCH_SQLCIPHER
#include "storage/cipher_vfs.hpp"
#endif

namespace fieldcase::bench {
namespace {

namespace fs = std::filesystem;

constexpr int kPageSize = 4096;
constexpr std::size_t kTextBytes = 100;
constexpr const char* kSchema =
    "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER NOT NULL, txt TEXT NOT NULL)";
constexpr const char* kInsert = "INSERT INTO t(id, n, txt) VALUES (?1, ?2, ?3)";

#ifdef FIELDCASE_BENCH_SQLCIPHER
constexpr std::array<std::string_view, 1> kLocalEngines{"sqlcipher"};
#else
constexpr std::array<std::string_view, 2> kLocalEngines{"plain", "fieldcase"};
constexpr int kReserveBytes = 40;  // nonce + tag of the fieldcase page format
#endif

// The fixed 256-bit benchmark key as 64 hex digits, the same for every encrypted engine.
std::string key_hex() {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (int i = 0; i < 32; ++i) {
    const auto byte = static_cast<unsigned>(i * 37 + 11) & 0xffu;
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xfu];
  }
  return hex;
}

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  std::string message = what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory");
#ifndef FIELDCASE_BENCH_SQLCIPHER
  if (auto detail = storage::take_vfs_error()) message += " (" + detail->message + ")";
#endif
  throw std::runtime_error(message);
}

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      fail(db, std::string("preparing ") + sql);
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value) {
    if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) fail(db_, "binding");
    return *this;
  }
  // The text must stay alive until the next reset.
  Statement& bind(int index, std::string_view text) {
    if (sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), nullptr) !=
        SQLITE_OK) {
      fail(db_, "binding");
    }
    return *this;
  }
  // True on a row, false when done.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, std::string("running ") + sqlite3_sql(stmt_));
  }
  void reset() { sqlite3_reset(stmt_); }
  std::int64_t column_int(int i) { return sqlite3_column_int64(stmt_, i); }
  int column_bytes(int i) {
    sqlite3_column_text(stmt_, i);
    return sqlite3_column_bytes(stmt_, i);
  }
  std::string column_text(int i) {
    const unsigned char* text = sqlite3_column_text(stmt_, i);
    return text != nullptr ? std::string(reinterpret_cast<const char*>(text)) : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

#ifndef FIELDCASE_BENCH_SQLCIPHER
// Percent-encodes what a file: URI path may not contain literally.
std::string uri_path(const fs::path& path) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : fs::absolute(path).string()) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '/' || c == '-' || c == '_' || c == '.';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 0xfu];
    }
  }
  return out;
}
#endif

// A connection opened the way the engine is configured for the benchmark: keyed where the engine
// encrypts, then the common pragmas. `create` marks a new database: it gets its reserved bytes,
// table t is created and the settings are checked. Otherwise the database must exist.
class Database {
 public:
  Database(std::string_view engine, const fs::path& path, bool create, int cache_kib) {
    try {
      open(engine, path, create, cache_kib);
    } catch (...) {
      sqlite3_close_v2(db_);
      throw;
    }
  }
  ~Database() { sqlite3_close_v2(db_); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      fail(db_, "running " + sql);
    }
  }
  Statement prepare(const char* sql) { return Statement(db_, sql); }
  std::int64_t query_int(const char* sql) {
    Statement s(db_, sql);
    if (!s.step()) fail(db_, std::string("no result from ") + sql);
    return s.column_int(0);
  }
  std::string query_text(const char* sql) {
    Statement s(db_, sql);
    return s.step() ? s.column_text(0) : std::string();
  }
  // Page-cache misses since the last call.
  int take_cache_misses() {
    int current = 0;
    int highwater = 0;
    sqlite3_db_status(db_, SQLITE_DBSTATUS_CACHE_MISS, &current, &highwater, 1);
    return current;
  }

 private:
  void open(std::string_view engine, const fs::path& path, bool create, int cache_kib) {
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    std::string name = path.string();
#ifndef FIELDCASE_BENCH_SQLCIPHER
    const bool fieldcase = engine == "fieldcase";
    if (fieldcase) {
      name = "file:" + uri_path(path) + "?vfs=" + storage::kVfsName + "&hexkey=" + key_hex();
      flags |= SQLITE_OPEN_URI;
    }
#endif
    const int rc = sqlite3_open_v2(name.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) fail(db_, "opening " + path.string() + " (" + std::string(engine) + ")");
#ifdef FIELDCASE_BENCH_SQLCIPHER
    exec("PRAGMA key = \"x'" + key_hex() + "'\"; PRAGMA cipher_page_size = 4096;");
#else
    if (fieldcase && create) {
      int reserve = kReserveBytes;
      if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve) != SQLITE_OK) {
        fail(db_, "setting the reserved bytes");
      }
    }
#endif
    exec("PRAGMA page_size=" + std::to_string(kPageSize) +
         "; PRAGMA temp_store=MEMORY; PRAGMA mmap_size=0; PRAGMA cache_size=-" +
         std::to_string(cache_kib) + "; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
    if (create) set_up_new_database(engine);
  }

  void set_up_new_database(std::string_view engine) {
    exec(kSchema);
    if (query_text("PRAGMA journal_mode") != "wal") {
      throw std::runtime_error(std::string(engine) + " did not switch to WAL");
    }
    if (query_int("PRAGMA page_size") != kPageSize) {
      throw std::runtime_error(std::string(engine) + " did not take page size 4096");
    }
#ifdef FIELDCASE_BENCH_SQLCIPHER
    if (query_text("PRAGMA cipher_version").empty()) {
      throw std::runtime_error("the sqlcipher engine is not linked against SQLCipher");
    }
#endif
  }

  sqlite3* db_ = nullptr;
};

struct Row {
  std::int64_t n;
  std::string text;
};

// `count` rows of pseudo-random content, the same for a given seed on every engine.
std::vector<Row> make_rows(int count, std::uint64_t seed) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,";  // 64 symbols
  std::mt19937_64 rng(seed);
  std::vector<Row> rows(static_cast<std::size_t>(count));
  for (Row& row : rows) {
    row.n = static_cast<std::int64_t>(rng() >> 33);
    row.text.reserve(kTextBytes);
    while (row.text.size() < kTextBytes) {
      std::uint64_t bits = rng();
      for (int i = 0; i < 10 && row.text.size() < kTextBytes; ++i, bits >>= 6) {
        row.text += kAlphabet[bits & 63u];
      }
    }
  }
  return rows;
}

std::vector<std::int64_t> random_ids(int count, int max_id, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> pick(1, max_id);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(count));
  for (auto& id : ids) id = pick(rng);
  return ids;
}

void insert_rows(Database& db, const std::vector<Row>& rows, bool one_transaction) {
  Statement ins = db.prepare(kInsert);
  if (one_transaction) db.exec("BEGIN");
  std::int64_t id = 0;
  for (const Row& row : rows) {
    ins.bind(1, ++id).bind(2, row.n).bind(3, std::string_view(row.text));
    ins.step();
    ins.reset();
  }
  if (one_transaction) db.exec("COMMIT");
}

void remove_database(const fs::path& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    fs::remove(path.string() + suffix, ec);
  }
}

// A database with `rows` rows in table t, checkpointed and closed.
void build_table(std::string_view engine, const fs::path& path, int rows, std::uint64_t seed,
                 const StoreSizes& sizes) {
  remove_database(path);
  Database db(engine, path, true, sizes.write_cache_kib);
  insert_rows(db, make_rows(rows, seed), true);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

void expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

double insert(std::string_view engine, const fs::path& path, int count, bool one_transaction,
              int cache_kib, Clock timer) {
  const std::vector<Row> rows = make_rows(count, 1);
  Database db(engine, path, true, cache_kib);
  Stopwatch clock(timer);
  insert_rows(db, rows, one_transaction);
  const double ms = clock.elapsed_ms();
  expect(db.query_int("SELECT count(*) FROM t") == count, "rows missing after the inserts");
  return ms;
}

double lookup_warm(std::string_view engine, const fs::path& path, const StoreSizes& s,
                   Clock timer) {
  build_table(engine, path, s.lookup_rows, 2, s);
  Database db(engine, path, false, s.lookup_cache_kib);
  db.query_int("SELECT sum(n) + sum(length(txt)) FROM t");  // reads every page into the cache
  db.take_cache_misses();
  const std::vector<std::int64_t> ids = random_ids(s.lookups, s.lookup_rows, 3);
  Statement q = db.prepare("SELECT n, txt FROM t WHERE id = ?1");
  std::int64_t found = 0;
  std::int64_t checksum = 0;
  Stopwatch clock(timer);
  for (std::int64_t id : ids) {
    q.bind(1, id);
    if (q.step()) {
      ++found;
      checksum += q.column_int(0) + q.column_bytes(1);
    }
    q.reset();
  }
  const double ms = clock.elapsed_ms();
  expect(found == s.lookups && checksum != 0, "lookups missed rows");
  expect(db.take_cache_misses() == 0, "lookup_warm read pages outside the cache");
  return ms;
}

double scan(std::string_view engine, const fs::path& path, const StoreSizes& s, Clock timer) {
  build_table(engine, path, s.scan_rows, 4, s);
  Database db(engine, path, false, s.scan_cache_kib);
  const std::int64_t table_bytes = db.query_int("PRAGMA page_count") * kPageSize;
  expect(table_bytes > 2 * std::int64_t{s.scan_cache_kib} * 1024,
         "the scan table must be larger than twice the cache");
  Statement q = db.prepare("SELECT count(*), sum(n), sum(length(txt)) FROM t");
  db.take_cache_misses();
  Stopwatch clock(timer);
  for (int i = 0; i < s.scans; ++i) {
    q.step();
    expect(q.column_int(0) == s.scan_rows, "the scan missed rows");
    q.reset();
  }
  const double ms = clock.elapsed_ms();
  expect(db.take_cache_misses() >= s.scans * (table_bytes / kPageSize) / 2,
         "the scans were served from the cache");
  return ms;
}

double create_index(std::string_view engine, const fs::path& path, const StoreSizes& s,
                    Clock timer) {
  build_table(engine, path, s.index_rows, 5, s);
  Database db(engine, path, false, s.index_cache_kib);
  db.query_int("SELECT count(*) FROM sqlite_master");  // loads the schema
  Stopwatch clock(timer);
  db.exec("CREATE INDEX t_txt ON t(txt)");
  const double ms = clock.elapsed_ms();
  expect(db.query_int("SELECT count(*) FROM sqlite_master WHERE type = 'index'") == 1,
         "the index is missing");
  return ms;
}

double open_read(std::string_view engine, const fs::path& path, const StoreSizes& s, Clock timer) {
  build_table(engine, path, s.open_rows, 6, s);
  const std::vector<std::int64_t> ids = random_ids(s.opens, s.open_rows, 7);
  double total = 0;
  for (std::int64_t id : ids) {
    Stopwatch clock(timer);
    Database db(engine, path, false, s.open_cache_kib);
    Statement q = db.prepare("SELECT n FROM t WHERE id = ?1");
    q.bind(1, id);
    expect(q.step(), "open: row missing");
    total += clock.elapsed_ms();
  }
  return total;
}

}  // namespace

std::span<const std::string_view> local_store_engines() { return kLocalEngines; }

void prepare_local_engines() {
  if (sqlite3_libversion_number() != SQLITE_VERSION_NUMBER) {
    throw std::runtime_error(std::string("linked against SQLite ") + sqlite3_libversion() +
                             " but built for " + SQLITE_VERSION);
  }
#ifndef FIELDCASE_BENCH_SQLCIPHER
  if (storage::register_cipher_vfs() != SQLITE_OK) {
    throw std::runtime_error("cannot register the fieldcase VFS");
  }
#endif
}

double measure_store(std::string_view engine, std::string_view workload, const StoreSizes& sizes,
                     const fs::path& dir, Clock timer) {
  if (std::find(kLocalEngines.begin(), kLocalEngines.end(), engine) == kLocalEngines.end()) {
    throw std::runtime_error("engine " + std::string(engine) + " is not built into this program");
  }
  const fs::path path = dir / (std::string(engine) + "-" + std::string(workload) + ".db");
  remove_database(path);
  double ms = 0;
  if (workload == "insert_bulk") {
    ms = insert(engine, path, sizes.bulk_rows, true, sizes.write_cache_kib, timer);
  } else if (workload == "insert_tx") {
    ms = insert(engine, path, sizes.tx_rows, false, sizes.write_cache_kib, timer);
  } else if (workload == "lookup_warm") {
    ms = lookup_warm(engine, path, sizes, timer);
  } else if (workload == "scan") {
    ms = scan(engine, path, sizes, timer);
  } else if (workload == "create_index") {
    ms = create_index(engine, path, sizes, timer);
  } else if (workload == "open") {
    ms = open_read(engine, path, sizes, timer);
  } else {
    throw std::runtime_error("unknown workload " + std::string(workload));
  }
  remove_database(path);
  return ms;
}

}  // namespace fieldcase::bench
