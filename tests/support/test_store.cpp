#include "test_store.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <optional>

#include "fieldcase/server/postgres_server_store.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/store.hpp"
#include "pg_cluster.hpp"

namespace fieldcase::test {
namespace {

// The process's cluster: started at the first use, stopped when the process exits.
struct SharedCluster {
  std::mutex m;
  std::unique_ptr<PgCluster> cluster;
  std::optional<Status> failed;  // a start that failed is not tried again
};

SharedCluster& shared_cluster() {
  static SharedCluster shared;
  return shared;
}

Result<PgCluster*> cluster() {
  SharedCluster& s = shared_cluster();
  std::lock_guard lock(s.m);
  if (s.cluster) return s.cluster.get();
  if (s.failed) return *s.failed;
  auto started = PgCluster::start();
  if (!started.ok()) {
    s.failed = started.status();
    return started.status();
  }
  s.cluster = std::move(*started);
  return s.cluster.get();
}

std::atomic<int> g_databases{0};

}  // namespace

std::string_view to_string(StoreEngine engine) {
  return engine == StoreEngine::postgres ? "postgres" : "sqlite";
}

StoreEngine test_store_engine() {
  const char* env = std::getenv("FIELDCASE_TEST_STORE");
  const std::string name = env == nullptr ? "" : env;
  if (name.empty() || name == "sqlite") return StoreEngine::sqlite;
  if (name == "postgres" || name == "postgresql") return StoreEngine::postgres;
  FAIL("FIELDCASE_TEST_STORE must be sqlite or postgres, not " << name);
  return StoreEngine::sqlite;
}

bool pg_required() {
  const char* env = std::getenv("FIELDCASE_REQUIRE_PG");
  return env != nullptr && std::string(env) == "1";
}

Result<std::unique_ptr<TestDatabase>> TestDatabase::create(StoreEngine engine) {
  std::unique_ptr<TestDatabase> db(new TestDatabase(engine));
  if (engine == StoreEngine::postgres) {
    if (!PgCluster::available()) {
      return Status(Errc::not_found, "PostgreSQL is not installed (FIELDCASE_PG_BIN)");
    }
    auto c = cluster();
    if (!c.ok()) return c.status();
    const std::string name = "fc_test_" + std::to_string(++g_databases);
    FC_TRY((*c)->create_database(name));
    db->pg_name_ = name;
  }
  // Creates and migrates the schema, as a server's first start does.
  auto first = db->open_store();
  if (!first.ok()) return first.status();
  return db;
}

TestDatabase::~TestDatabase() {
  if (pg_name_.empty()) return;
  SharedCluster& s = shared_cluster();
  std::lock_guard lock(s.m);
  // FORCE ends connections a store left behind (a test that failed half-way).
  if (s.cluster) (void)s.cluster->query("postgres", "DROP DATABASE " + pg_name_ + " WITH (FORCE)");
}

std::string TestDatabase::location() const {
  if (engine_ == StoreEngine::sqlite) return (dir() / "server.db").string();
  SharedCluster& s = shared_cluster();
  std::lock_guard lock(s.m);
  return s.cluster ? s.cluster->uri(pg_name_) : std::string();
}

Result<std::unique_ptr<server::ServerStore>> TestDatabase::open_store(std::size_t pool_size) const {
  if (engine_ == StoreEngine::sqlite) {
    auto opened = server::SqliteServerStore::open(dir() / "server.db");
    if (!opened.ok()) return opened.status();
    return std::unique_ptr<server::ServerStore>(std::move(*opened));
  }
  server::PostgresOptions o;
  o.conninfo = location();
  o.pool_size = pool_size;
  auto opened = server::PostgresServerStore::open(o);
  if (!opened.ok()) return opened.status();
  return std::unique_ptr<server::ServerStore>(std::move(*opened));
}

Result<std::vector<std::vector<std::string>>> TestDatabase::query(std::string_view sql) const {
  if (engine_ == StoreEngine::postgres) {
    SharedCluster& s = shared_cluster();
    std::lock_guard lock(s.m);
    if (!s.cluster) return Status(Errc::unavailable, "the test cluster is not running");
    return s.cluster->query(pg_name_, sql);
  }
  StoreOptions o;
  o.path = dir() / "server.db";
  o.journal = JournalMode::wal;
  o.durability = Durability::full;
  auto store = Store::open_plain(o);
  if (!store.ok()) return store.status();
  auto st = (*store)->prepare(sql);
  if (!st.ok()) return st.status();
  std::vector<std::vector<std::string>> rows;
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::vector<std::string> cols;
    for (int i = 0; i < st->column_count(); ++i) {
      cols.push_back(st->column_is_null(i) ? std::string() : st->column_text(i));
    }
    rows.push_back(std::move(cols));
  }
  return rows;
}

Result<std::int64_t> TestDatabase::query_int(std::string_view sql) const {
  auto rows = query(sql);
  if (!rows.ok()) return rows.status();
  if (rows->empty() || rows->front().empty()) return std::int64_t{-1};
  return std::int64_t{std::stoll(rows->front().front())};
}

std::unique_ptr<TestDatabase> fresh_database(StoreEngine engine) {
  auto db = TestDatabase::create(engine);
  if (db.ok()) return std::move(*db);
  if (engine == StoreEngine::postgres && db.status().code() == Errc::not_found && !pg_required()) {
    WARN("skipped: " << db.status().to_string() << " (FIELDCASE_REQUIRE_PG=1 makes this a failure)");
    return nullptr;
  }
  FAIL("cannot make a " << to_string(engine) << " test database: " << db.status().to_string());
  return nullptr;
}

std::unique_ptr<server::ServerStore> must_open(const TestDatabase& db, std::size_t pool_size) {
  auto store = db.open_store(pool_size);
  INFO(store.status().to_string());
  REQUIRE(store.ok());
  return std::move(*store);
}

}  // namespace fieldcase::test
