#include "fieldcase/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "storage/cipher_vfs.hpp"
#include "storage/page_cipher.hpp"

namespace fieldcase {
namespace {

// A file: URI for the fieldcase VFS; the path is percent-encoded so no character of it can be
// read as URI syntax.
std::string database_uri(const std::filesystem::path& path, std::string_view params) {
  std::string abs = std::filesystem::absolute(path).lexically_normal().string();
  std::string out = "file:";
  static constexpr char hex[] = "0123456789ABCDEF";
  for (unsigned char c : abs) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '/' || c == '-' || c == '_' || c == '.' || c == '~';
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  out += "?vfs=";
  out += storage::kVfsName;
  out += '&';
  out += params;
  return out;
}

// Lends a key to the VFS for the lifetime of this object.
class LentKey {
 public:
  explicit LentKey(std::span<const std::uint8_t> key) : token_(storage::lend_key(key)) {}
  ~LentKey() { storage::return_key(token_); }
  LentKey(const LentKey&) = delete;
  LentKey& operator=(const LentKey&) = delete;
  std::string param() const { return "fckey=" + token_; }

 private:
  std::string token_;
};

Status status_from_rc(int rc, std::string message) {
  if (auto vfs = storage::take_vfs_error()) return {vfs->code, std::move(vfs->message)};
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return {Errc::integrity, "the database file is damaged, truncated or tampered with (" +
                                   message + ")"};
    case SQLITE_IOERR:
      if (rc == SQLITE_IOERR_DATA) return {Errc::integrity, std::move(message)};
      return {Errc::io, std::move(message)};
    case SQLITE_FULL: return {Errc::disk_full, "the disk is full (" + message + ")"};
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return {Errc::busy, std::move(message)};
    case SQLITE_CONSTRAINT: return {Errc::validation, std::move(message)};
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY: return {Errc::io, std::move(message)};
    case SQLITE_NOMEM: return {Errc::internal, "out of memory (" + message + ")"};
    case SQLITE_ERROR:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG: return {Errc::invalid_argument, std::move(message)};
    default: return {Errc::io, std::move(message)};
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Statement

Statement::Statement(Statement&& other) noexcept
    : store_(std::exchange(other.store_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      bind_error_(other.bind_error_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) store_->recycle(stmt_);
    store_ = std::exchange(other.store_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_error_ = other.bind_error_;
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_ != nullptr) store_->recycle(stmt_);
}

void Statement::note_bind(int rc) {
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

Statement& Statement::bind(int index, std::int64_t value) {
  note_bind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}
Statement& Statement::bind(int index, double value) {
  note_bind(sqlite3_bind_double(stmt_, index, value));
  return *this;
}
// SQLite binds a null pointer as SQL NULL whatever the length, and an empty string_view or
// span may have one: empty values are bound from a non-null pointer so they stay empty values.
Statement& Statement::bind(int index, std::string_view text) {
  note_bind(sqlite3_bind_text64(stmt_, index, text.data() != nullptr ? text.data() : "",
                                text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}
Statement& Statement::bind_blob(int index, std::span<const std::uint8_t> bytes) {
  note_bind(bytes.empty() ? sqlite3_bind_zeroblob(stmt_, index, 0)
                          : sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(),
                                                SQLITE_TRANSIENT));
  return *this;
}
Statement& Statement::bind_null(int index) {
  note_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Result<bool> Statement::step() {
  if (bind_error_ != 0) {
    int rc = std::exchange(bind_error_, 0);
    return status_from_rc(rc, std::string("binding a parameter failed: ") + sqlite3_errstr(rc));
  }
  storage::clear_vfs_error();
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status st = store_->error(rc, "statement failed");
  sqlite3_reset(stmt_);
  return st;
}

Status Statement::run() {
  for (;;) {
    auto r = step();
    if (!r.ok()) return r.status();
    if (!*r) break;
  }
  reset();
  return {};
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = 0;
}

std::int64_t Statement::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }
double Statement::column_double(int index) const { return sqlite3_column_double(stmt_, index); }
std::string Statement::column_text(int index) const {
  const auto* p = sqlite3_column_text(stmt_, index);
  int n = sqlite3_column_bytes(stmt_, index);
  return p != nullptr ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
                      : std::string();
}
std::vector<std::uint8_t> Statement::column_blob(int index) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, index));
  int n = sqlite3_column_bytes(stmt_, index);
  return p != nullptr ? std::vector<std::uint8_t>(p, p + n) : std::vector<std::uint8_t>();
}
bool Statement::column_is_null(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}
int Statement::column_count() const { return sqlite3_column_count(stmt_); }

// ---------------------------------------------------------------------------------------------
// Store

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options,
                                           std::span<const std::uint8_t> key) {
  if (key.size() != kKeySize) {
    return Status(Errc::invalid_argument, "a database key must be 32 bytes");
  }
  return open_impl(options, key, false);
}

Result<std::unique_ptr<Store>> Store::open_plain(const StoreOptions& options) {
  return open_impl(options, {}, true);
}

Result<std::unique_ptr<Store>> Store::open_impl(const StoreOptions& options,
                                                std::span<const std::uint8_t> key, bool plain) {
  if (storage::register_cipher_vfs() != SQLITE_OK) {
    return Status(Errc::internal, "cannot register the fieldcase VFS");
  }
  if (!options.create && !std::filesystem::exists(options.path)) {
    return Status(Errc::not_found, "no database at " + options.path.string());
  }
  std::unique_ptr<Store> store(new Store);
  store->cache_ = std::make_unique<StatementCache>();
  store->path_ = options.path;
  store->encrypted_ = !plain;

  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
  if (options.create) flags |= SQLITE_OPEN_CREATE;
  storage::clear_vfs_error();
  int rc;
  {
    std::optional<LentKey> lent;
    if (!plain) lent.emplace(key);
    std::string uri = database_uri(options.path, plain ? "plain=1" : lent->param());
    rc = sqlite3_open_v2(uri.c_str(), &store->db_, flags, storage::kVfsName);
  }
  if (rc != SQLITE_OK) {
    std::string msg = "cannot open " + options.path.string() + ": " +
                      (store->db_ != nullptr ? sqlite3_errmsg(store->db_) : sqlite3_errstr(rc));
    Status st = status_from_rc(rc, msg);
    sqlite3_close_v2(store->db_);
    store->db_ = nullptr;
    return st;
  }
  sqlite3_extended_result_codes(store->db_, 1);

  if (!plain) {
    int reserve = static_cast<int>(storage::kMinReserve);
    sqlite3_file_control(store->db_, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
  }
  std::string pragmas =
      "PRAGMA page_size=4096; PRAGMA temp_store=MEMORY; PRAGMA mmap_size=0;"
      "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; PRAGMA cache_size=-" +
      std::to_string(std::max(options.cache_kib, 64)) + ";";
  FC_TRY(store->exec(pragmas));

  // Reading the schema authenticates page 1 (and recovers a hot WAL or journal) now, so a bad
  // file fails here rather than at the first query.
  FC_TRY(store->exec("SELECT count(*) FROM sqlite_schema"));

  const char* mode = options.journal == JournalMode::wal ? "wal" : "delete";
  auto jm = store->prepare(std::string("PRAGMA journal_mode=") + mode);
  if (!jm.ok()) return jm.status();
  auto row = jm->step();
  if (!row.ok()) return row.status();
  if (!*row || jm->column_text(0) != mode) {
    return Status(Errc::io, std::string("cannot switch the journal mode to ") + mode);
  }
  FC_TRY(store->exec(options.durability == Durability::full ? "PRAGMA synchronous=FULL"
                                                            : "PRAGMA synchronous=NORMAL"));
  return store;
}

// Compiled statements waiting for reuse, by SQL text. Bounded: a few copies of each text (a
// statement nested inside a loop over the same text needs a second one) and a cap overall.
struct Store::StatementCache {
  static constexpr std::size_t kPerText = 4;
  static constexpr std::size_t kTotal = 256;
  std::unordered_map<std::string, std::vector<sqlite3_stmt*>> free;
  std::size_t count = 0;

  ~StatementCache() {
    for (auto& [sql, list] : free) {
      for (sqlite3_stmt* s : list) sqlite3_finalize(s);
    }
  }
};

void Store::recycle(sqlite3_stmt* stmt) noexcept {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  try {
    if (cache_ && cache_->count < StatementCache::kTotal) {
      const char* text = sqlite3_sql(stmt);
      auto& list = cache_->free[text != nullptr ? std::string(text) : std::string()];
      if (text != nullptr && list.size() < StatementCache::kPerText) {
        list.push_back(stmt);
        ++cache_->count;
        return;
      }
    }
  } catch (...) {
    // Out of memory for the cache's bookkeeping: finalizing instead is always correct.
  }
  sqlite3_finalize(stmt);
}

Status Store::run_cached(std::string_view sql) {
  auto st = prepare(sql);
  if (!st.ok()) return st.status();
  return st->run();
}

Store::~Store() {
  cache_.reset();  // statements before the connection
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status Store::error(int rc, std::string_view context) const {
  std::string msg(context);
  msg += ": ";
  msg += db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  return status_from_rc(rc, std::move(msg));
}

Status Store::exec(std::string_view sql) {
  storage::clear_vfs_error();
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(rc, "statement failed");
  return {};
}

Result<Statement> Store::prepare(std::string_view sql) {
  storage::clear_vfs_error();
  if (cache_) {
    auto it = cache_->free.find(std::string(sql));
    if (it != cache_->free.end() && !it->second.empty()) {
      sqlite3_stmt* reused = it->second.back();
      it->second.pop_back();
      --cache_->count;
      return Statement(this, reused);
    }
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return error(rc, "cannot prepare statement");
  }
  return Statement(this, stmt);
}

Status Store::transaction(const std::function<Status()>& fn) {
  const std::string savepoint = "fc_sp" + std::to_string(tx_depth_);
  FC_TRY(run_cached(tx_depth_ == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT " + savepoint));
  ++tx_depth_;
  auto rollback = [&] {
    --tx_depth_;
    if (tx_depth_ == 0) {
      if (sqlite3_get_autocommit(db_) == 0) (void)exec("ROLLBACK");
    } else {
      (void)exec("ROLLBACK TO " + savepoint + "; RELEASE " + savepoint);
    }
  };
  Status st;
  try {
    st = fn();
  } catch (...) {
    rollback();
    throw;
  }
  if (!st.ok()) {
    rollback();
    return st;
  }
  Status commit = run_cached(tx_depth_ == 1 ? std::string("COMMIT") : "RELEASE " + savepoint);
  if (!commit.ok()) {
    rollback();
    return commit;
  }
  --tx_depth_;
  return {};
}

Result<int> Store::schema_version() {
  auto stmt = prepare("PRAGMA user_version");
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  return static_cast<int>(stmt->column_int(0));
}

Status Store::migrate(std::span<const Migration> migrations) {
  auto current = schema_version();
  if (!current.ok()) return current.status();
  int newest = 0;
  for (const auto& m : migrations) newest = std::max(newest, m.version);
  if (*current > newest) {
    return {Errc::schema, "the database schema is version " + std::to_string(*current) +
                              ", newer than this build understands (" + std::to_string(newest) +
                              ")"};
  }
  std::vector<const Migration*> ordered;
  for (const auto& m : migrations) ordered.push_back(&m);
  std::sort(ordered.begin(), ordered.end(),
            [](const Migration* a, const Migration* b) { return a->version < b->version; });
  int version = *current;
  for (const Migration* m : ordered) {
    if (m->version <= version) continue;
    if (m->version != version + 1) {
      return {Errc::internal, "migration " + std::to_string(version + 1) + " is missing"};
    }
    Status st = transaction([&]() -> Status {
      FC_TRY(m->apply(*this));
      return exec("PRAGMA user_version=" + std::to_string(m->version));
    });
    if (!st.ok()) {
      return {Errc::schema, "migration " + std::to_string(m->version) + " (" + m->description +
                                ") failed; the schema stays at version " +
                                std::to_string(version) + ": " + st.to_string()};
    }
    version = m->version;
  }
  return {};
}

Status Store::checkpoint() {
  storage::clear_vfs_error();
  int rc = sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(rc, "checkpoint failed");
  return {};
}

Status Store::vacuum_into(const std::filesystem::path& target, std::span<const std::uint8_t> key) {
  if (std::filesystem::exists(target)) {
    return {Errc::already_exists, target.string() + " already exists"};
  }
  if (encrypted_ && key.size() != kKeySize) {
    return {Errc::invalid_argument, "an encrypted database can only be copied under a key"};
  }
  std::optional<LentKey> lent;
  if (!key.empty()) lent.emplace(key);
  auto stmt = prepare("VACUUM INTO ?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, database_uri(target, lent ? lent->param() : "plain=1"));
  return stmt->run();
}

std::int64_t Store::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Store::changes() const { return sqlite3_changes(db_); }

Status remove_database_files(const std::filesystem::path& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::path p = path;
    p += suffix;
    std::error_code ec;
    std::filesystem::remove(p, ec);
    if (ec) return {Errc::io, "cannot remove " + p.string() + ": " + ec.message()};
  }
  return {};
}

}  // namespace fieldcase
