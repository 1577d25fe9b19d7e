// The Store on every SQLite path, in plain and encrypted modes; migrations; bad files; faults.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <random>

#include "store_fixture.hpp"
#include "storage/cipher_vfs.hpp"
#include "temp_dir.hpp"

using namespace fieldcase;
using namespace fieldcase::test;

namespace {

std::string payload(int i, std::size_t size) {
  std::string s = "row-" + std::to_string(i) + "-";
  while (s.size() < size) s += static_cast<char>('a' + (i * 7 + s.size()) % 26);
  return s;
}

Status fill(Store& store, int first, int count, std::size_t size) {
  return store.transaction([&]() -> Status {
    auto ins = store.prepare("INSERT INTO t(id, k, v) VALUES (?1, ?2, ?3)");
    if (!ins.ok()) return ins.status();
    for (int i = first; i < first + count; ++i) {
      ins->bind(1, i).bind(2, static_cast<std::int64_t>((i * 2654435761u) % 1000003)).bind(
          3, payload(i, size));
      FC_TRY(ins->run());
    }
    return {};
  });
}

// Every row 0..n-1 is present with exactly its payload.
void verify_rows(Store& store, int n, std::size_t size) {
  auto sel = store.prepare("SELECT id, v FROM t ORDER BY id");
  REQUIRE(sel.ok());
  int expect = 0;
  for (;;) {
    auto row = sel->step();
    REQUIRE(row.ok());
    if (!*row) break;
    REQUIRE(sel->column_int(0) == expect);
    REQUIRE(sel->column_text(1) == payload(expect, size));
    ++expect;
  }
  CHECK(expect == n);
}

}  // namespace

TEST_CASE("store round trip through every SQLite path", "[store]") {
  for (const StoreMode& mode : all_store_modes()) {
    SECTION(mode.name()) {
      TempDir dir;
      const auto path = dir / "case.db";
      {
        // A 256 KiB cache against ~6 MB of data: pages are evicted and re-read constantly.
        auto store = open_store(mode, path, 256);
        REQUIRE(store.ok());
        Store& s = **store;
        CHECK(s.encrypted() == mode.encrypted);
        REQUIRE(s.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT)").ok());
        REQUIRE(fill(s, 0, 20000, 300).ok());

        // Large ORDER BY through the sorter and CREATE INDEX on a table larger than the cache.
        CHECK(query_int(s, "SELECT count(*) FROM (SELECT v FROM t ORDER BY k, v)") == 20000);
        REQUIRE(s.exec("CREATE INDEX t_k ON t(k, v)").ok());
        CHECK(query_int(s, "SELECT count(*) FROM t INDEXED BY t_k WHERE k >= 0") == 20000);

        // Savepoints: an inner failure rolls back only the inner part.
        Status st = s.transaction([&]() -> Status {
          FC_TRY(s.exec("INSERT INTO t(id, k, v) VALUES (100000, 1, 'outer')"));
          Status inner = s.transaction([&]() -> Status {
            FC_TRY(s.exec("INSERT INTO t(id, k, v) VALUES (100001, 1, 'inner')"));
            return {Errc::validation, "inner rejected"};
          });
          CHECK(inner.code() == Errc::validation);
          return {};
        });
        REQUIRE(st.ok());
        CHECK(query_int(s, "SELECT count(*) FROM t WHERE id >= 100000") == 1);
        // A failed outer transaction leaves nothing.
        st = s.transaction([&]() -> Status {
          FC_TRY(s.exec("INSERT INTO t(id, k, v) VALUES (100002, 1, 'gone')"));
          return {Errc::validation, "rejected"};
        });
        CHECK(st.code() == Errc::validation);
        CHECK(query_int(s, "SELECT count(*) FROM t WHERE id >= 100000") == 1);
        REQUIRE(s.exec("DELETE FROM t WHERE id >= 100000").ok());

        if (mode.journal == JournalMode::wal) REQUIRE(s.checkpoint().ok());
        REQUIRE(s.exec("DELETE FROM t WHERE id % 3 = 0 AND id >= 20000").ok());
        REQUIRE(s.exec("VACUUM").ok());
        CHECK(integrity_check(s) == "ok");
      }
      auto reopened = open_store(mode, path, 256);
      REQUIRE(reopened.ok());
      verify_rows(**reopened, 20000, 300);
      CHECK(integrity_check(**reopened) == "ok");
    }
  }
}

TEST_CASE("store migrations run forward and each applies whole or not at all", "[store]") {
  for (const StoreMode& mode : all_store_modes()) {
    SECTION(mode.name()) {
      TempDir dir;
      auto store = open_store(mode, dir / "m.db");
      REQUIRE(store.ok());
      Store& s = **store;
      std::vector<Migration> v1{
          {1, "create visits", [](Store& st) { return st.exec("CREATE TABLE visit(id TEXT)"); }},
          {2, "add notes", [](Store& st) { return st.exec("CREATE TABLE note(id TEXT)"); }}};
      REQUIRE(s.migrate(v1).ok());
      CHECK(*s.schema_version() == 2);
      REQUIRE(s.migrate(v1).ok());  // already applied: nothing to do
      CHECK(*s.schema_version() == 2);

      auto v2 = v1;
      v2.push_back({3, "broken", [](Store& st) -> Status {
                      FC_TRY(st.exec("CREATE TABLE half_done(x)"));
                      return st.exec("THIS IS NOT SQL");
                    }});
      Status st = s.migrate(v2);
      CHECK(st.code() == Errc::schema);
      CHECK(st.message().find("migration 3 (broken) failed") != std::string::npos);
      CHECK(*s.schema_version() == 2);
      CHECK(query_int(s, "SELECT count(*) FROM sqlite_schema WHERE name='half_done'") == 0);

      // A database from a newer build is refused rather than misread.
      REQUIRE(s.exec("PRAGMA user_version=7").ok());
      CHECK(s.migrate(v1).code() == Errc::schema);

      std::vector<Migration> gap{{1, "a", [](Store&) { return Status{}; }},
                                 {3, "c", [](Store&) { return Status{}; }}};
      REQUIRE(s.exec("PRAGMA user_version=1").ok());
      CHECK(s.migrate(gap).code() == Errc::internal);
    }
  }
}

TEST_CASE("store refuses files it cannot trust with a specific error", "[store][security]") {
  TempDir dir;
  SECTION("a plain SQLite database") {
    auto plain = open_store({false, JournalMode::wal}, dir / "plain.db");
    REQUIRE(plain.ok());
    REQUIRE((*plain)->exec("CREATE TABLE x(a)").ok());
    plain->reset();
    auto enc = open_store({true, JournalMode::wal}, dir / "plain.db");
    CHECK(enc.code() == Errc::not_a_database);
    CHECK(enc.status().message().find("unencrypted SQLite database") != std::string::npos);
  }
  SECTION("a file of another kind") {
    write_file(dir / "other.db", std::vector<unsigned char>(8192, 'Z'));
    CHECK(open_store({true, JournalMode::wal}, dir / "other.db").code() ==
          Errc::not_a_database);
  }
  SECTION("the wrong key") {
    {
      auto s = open_store({true, JournalMode::wal}, dir / "k.db", 2048, 1);
      REQUIRE(s.ok());
      REQUIRE((*s)->exec("CREATE TABLE x(a)").ok());
    }
    auto wrong = open_store({true, JournalMode::wal}, dir / "k.db", 2048, 2);
    CHECK(wrong.code() == Errc::wrong_key);
    auto right = open_store({true, JournalMode::wal}, dir / "k.db", 2048, 1);
    CHECK(right.ok());
  }
  SECTION("a file cut short inside its first page") {
    write_file(dir / "cut.db", {'F', 'C', 'D', 'B', 1, 1});
    CHECK(open_store({true, JournalMode::wal}, dir / "cut.db").code() == Errc::integrity);
  }
  SECTION("a missing file when creation is not allowed") {
    StoreOptions o;
    o.path = dir / "missing.db";
    o.create = false;
    CHECK(Store::open(o, test_key()).code() == Errc::not_found);
  }
  SECTION("a key of the wrong size") {
    StoreOptions o;
    o.path = dir / "short.db";
    std::vector<std::uint8_t> short_key(16, 1);
    CHECK(Store::open(o, short_key).code() == Errc::invalid_argument);
  }
}

TEST_CASE("temporary files never reach disk through the encrypting VFS", "[store][security]") {
  TempDir dir;
  auto store = open_store({true, JournalMode::wal}, dir / "t.db", 64);
  REQUIRE(store.ok());
  Store& s = **store;
  REQUIRE(s.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT)").ok());
  REQUIRE(fill(s, 0, 3000, 200).ok());
  // Forcing temporary storage to files makes SQLite ask for a temp file: it must be refused.
  REQUIRE(s.exec("PRAGMA temp_store=FILE; PRAGMA temp.cache_size=10").ok());
  Status st = s.exec("CREATE TEMP TABLE scratch AS SELECT * FROM t");
  CHECK(st.code() == Errc::unsupported);
  CHECK(st.message().find("temp_store=MEMORY") != std::string::npos);
}

TEST_CASE("a full disk fails the commit and loses nothing committed", "[store][faults]") {
  for (const StoreMode& mode : all_store_modes()) {
    SECTION(mode.name()) {
      TempDir dir;
      auto store = open_store(mode, dir / "full.db", 256);
      REQUIRE(store.ok());
      Store& s = **store;
      REQUIRE(s.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT)").ok());
      REQUIRE(fill(s, 0, 500, 200).ok());

      // Every write after the first few hundred fails as if the disk were full.
      int writes = 0;
      storage::set_fault_hook([&](storage::IoOp op, storage::FileRole, std::int64_t, int) {
        return op == storage::IoOp::write && ++writes > 20 ? SQLITE_FULL : SQLITE_OK;
      });
      Status st = fill(s, 500, 5000, 400);
      storage::set_fault_hook(nullptr);
      CHECK(st.code() == Errc::disk_full);
      CHECK(st.message().find("disk is full") != std::string::npos);

      // The database is intact, still usable, and holds exactly the committed rows.
      CHECK(query_int(s, "SELECT count(*) FROM t") == 500);
      REQUIRE(fill(s, 500, 10, 200).ok());
      store->reset();
      auto again = open_store(mode, dir / "full.db", 256);
      REQUIRE(again.ok());
      CHECK(integrity_check(**again) == "ok");
      CHECK(query_int(**again, "SELECT count(*) FROM t") == 510);
    }
  }
}

TEST_CASE("a failed sync of the journal or WAL aborts the commit cleanly", "[store][faults]") {
  for (const StoreMode& mode : all_store_modes()) {
    SECTION(mode.name()) {
      TempDir dir;
      StoreOptions o;
      o.path = dir / "sync.db";
      o.journal = mode.journal;
      o.durability = Durability::full;  // every commit syncs
      auto store = mode.encrypted ? Store::open(o, test_key()) : Store::open_plain(o);
      REQUIRE(store.ok());
      Store& s = **store;
      REQUIRE(s.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT)").ok());
      REQUIRE(fill(s, 0, 100, 100).ok());
      storage::set_fault_hook([](storage::IoOp op, storage::FileRole, std::int64_t, int) {
        return op == storage::IoOp::sync ? SQLITE_IOERR_FSYNC : SQLITE_OK;
      });
      Status st = fill(s, 100, 100, 100);
      storage::set_fault_hook(nullptr);
      CHECK(st.code() == Errc::io);
      store->reset();
      auto again = mode.encrypted ? Store::open(o, test_key()) : Store::open_plain(o);
      REQUIRE(again.ok());
      CHECK(integrity_check(**again) == "ok");
      std::int64_t n = query_int(**again, "SELECT count(*) FROM t");
      // Durable up to the last acknowledged commit; the failed one is all or nothing.
      CHECK((n == 100 || n == 200));
    }
  }
}

TEST_CASE("empty texts and blobs are bound as empty values and not as NULL", "[store]") {
  TempDir dir;
  auto store = open_store(all_store_modes().front(), dir / "empty.db");
  REQUIRE(store.ok());
  Store& s = **store;
  REQUIRE(s.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, txt TEXT NOT NULL, b BLOB NOT NULL)")
              .ok());
  auto ins = s.prepare("INSERT INTO t(id, txt, b) VALUES (?1, ?2, ?3)");
  REQUIRE(ins.ok());
  ins->bind(1, 1).bind(2, std::string_view()).bind_blob(3, std::span<const std::uint8_t>());
  REQUIRE(ins->run().ok());
  const std::vector<std::uint8_t> none;
  ins->bind(1, 2).bind(2, std::string()).bind_blob(3, none);
  REQUIRE(ins->run().ok());
  CHECK(query_int(s, "SELECT count(*) FROM t WHERE txt = '' AND typeof(txt) = 'text'") == 2);
  CHECK(query_int(s, "SELECT count(*) FROM t WHERE length(b) = 0 AND typeof(b) = 'blob'") == 2);
  auto sel = s.prepare("SELECT b FROM t WHERE id = 1");
  REQUIRE(sel.ok());
  REQUIRE(*sel->step());
  CHECK_FALSE(sel->column_is_null(0));
  CHECK(sel->column_blob(0).empty());
}
