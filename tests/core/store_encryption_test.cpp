// Encryption at rest: no plaintext anywhere on disk, and tampering is always detected.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>

#include "store_fixture.hpp"
#include "temp_dir.hpp"

using namespace fieldcase;
using namespace fieldcase::test;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kMarkers = {"MARKER-CHILD-NAME-Zebedee", "MARKER-INDEXED-Quokka",
                                           "MARKER-LARGE-NOTE-Axolotl"};

// Files under `root` (recursively) containing any marker, modified at or after `since`.
std::vector<std::string> files_with_markers(const fs::path& root, fs::file_time_type since) {
  std::vector<std::string> hits;
  std::error_code ec;
  if (!fs::exists(root, ec)) return hits;
  for (auto it = fs::recursive_directory_iterator(
           root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::error_code fec;
    if (!it->is_regular_file(fec) || it->file_size(fec) > (64u << 20)) continue;
    if (it->last_write_time(fec) < since) continue;
    auto bytes = read_file(it->path());
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    for (const auto& m : kMarkers) {
      if (text.find(m) != std::string_view::npos) {
        hits.push_back(it->path().string() + " contains " + m);
      }
    }
  }
  return hits;
}

void write_markers(Store& s) {
  REQUIRE(s.exec("CREATE TABLE child(id INTEGER PRIMARY KEY, name TEXT, tag TEXT, note TEXT)").ok());
  REQUIRE(s.exec("CREATE INDEX child_tag ON child(tag)").ok());
  REQUIRE(s.transaction([&]() -> Status {
               auto ins = s.prepare("INSERT INTO child(name, tag, note) VALUES (?1, ?2, ?3)");
               if (!ins.ok()) return ins.status();
               std::string big;
               while (big.size() < 20000) big += kMarkers[2] + " ";  // overflow pages
               for (int i = 0; i < 200; ++i) {
                 ins->bind(1, kMarkers[0] + std::to_string(i))
                     .bind(2, kMarkers[1] + std::to_string(i))
                     .bind(3, big);
                 FC_TRY(ins->run());
               }
               return {};
             })
              .ok());
  // Sorting and rebuilding work through temporary structures too.
  CHECK(query_int(s, "SELECT count(*) FROM (SELECT name FROM child ORDER BY note, name)") == 200);
}

std::vector<fs::path> temp_roots() { return {fs::temp_directory_path(), "/var/tmp"}; }

}  // namespace

TEST_CASE("no plaintext reaches the disk whether open or closed", "[store][security]") {
  TempDir dir;
  const auto since = fs::file_time_type::clock::now() - std::chrono::seconds(1);
  for (JournalMode journal : {JournalMode::wal, JournalMode::rollback}) {
    const StoreMode mode{true, journal};
    SECTION(mode.name()) {
      const auto path = dir / "case.db";
      auto store = open_store(mode, path, 128);
      REQUIRE(store.ok());
      Store& s = **store;
      REQUIRE(s.exec("PRAGMA wal_autocheckpoint=0").ok());  // keep everything in the WAL
      write_markers(s);
      if (journal == JournalMode::wal) {
        CHECK(fs::file_size(dir / "case.db-wal") > 100000);  // the WAL really holds the data
      }
      // While open, with an uncheckpointed WAL.
      CHECK(files_with_markers(dir.path(), since).empty());
      for (const auto& root : temp_roots()) CHECK(files_with_markers(root, since).empty());
      // After VACUUM and a checkpoint, and after close.
      REQUIRE(s.exec("VACUUM").ok());
      REQUIRE(s.checkpoint().ok());
      store->reset();
      CHECK(files_with_markers(dir.path(), since).empty());
      for (const auto& root : temp_roots()) CHECK(files_with_markers(root, since).empty());
      // And the data is all there.
      auto again = open_store(mode, path, 128);
      REQUIRE(again.ok());
      CHECK(query_int(**again, "SELECT count(*) FROM child WHERE name LIKE 'MARKER-CHILD%'") ==
            200);
    }
  }
  SECTION("control: the scan finds markers in a plain database") {
    auto store = open_store({false, JournalMode::wal}, dir / "plain.db", 128);
    REQUIRE(store.ok());
    write_markers(**store);
    store->reset();
    CHECK(files_with_markers(dir.path(), since).size() >= 3);
  }
}

namespace {

constexpr std::size_t kPage = 4096;

// A closed, fully checkpointed encrypted database of `rows` rows and no free pages.
void make_database(const fs::path& path, int rows, std::uint8_t key_seed = 1) {
  auto store = open_store({true, JournalMode::wal}, path, 2048, key_seed);
  REQUIRE(store.ok());
  Store& s = **store;
  REQUIRE(s.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)").ok());
  REQUIRE(s.exec("CREATE INDEX t_v ON t(v)").ok());
  REQUIRE(s.transaction([&]() -> Status {
               auto ins = s.prepare("INSERT INTO t(id, v) VALUES (?1, ?2)");
               if (!ins.ok()) return ins.status();
               for (int i = 0; i < rows; ++i) {
                 ins->bind(1, i).bind(2, "value-" + std::to_string(i) + std::string(300, 'v'));
                 FC_TRY(ins->run());
               }
               return {};
             })
              .ok());
}

// Reads everything back. Returns the error that stopped it, or ok if all `rows` rows were read
// intact. Fails the test if any row that was returned is wrong.
Status read_everything(const fs::path& path, int rows, std::uint8_t key_seed = 1) {
  auto store = open_store({true, JournalMode::wal}, path, 2048, key_seed);
  if (!store.ok()) return store.status();
  Store& s = **store;
  auto sel = s.prepare("SELECT id, v FROM t ORDER BY id");
  if (!sel.ok()) return sel.status();
  int n = 0;
  for (;;) {
    auto row = sel->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    REQUIRE(sel->column_int(0) == n);
    REQUIRE(sel->column_text(1) == "value-" + std::to_string(n) + std::string(300, 'v'));
    ++n;
  }
  auto chk = s.prepare("PRAGMA integrity_check");
  if (!chk.ok()) return chk.status();
  auto row = chk->step();
  if (!row.ok()) return row.status();
  if (chk->column_text(0) != "ok") return {Errc::integrity, chk->column_text(0)};
  if (n != rows) return {Errc::integrity, "rows missing"};
  return {};
}

void flip_byte(const fs::path& path, std::size_t offset) {
  auto bytes = read_file(path);
  REQUIRE(offset < bytes.size());
  bytes[offset] ^= 0x20;
  write_file(path, bytes);
}

}  // namespace

TEST_CASE("tampering with any page is detected and no wrong row is returned",
          "[store][security]") {
  TempDir dir;
  const auto pristine = dir / "pristine.db";
  make_database(pristine, 300);
  const std::size_t pages = fs::file_size(pristine) / kPage;
  REQUIRE(pages > 20);
  REQUIRE(read_everything(pristine, 300).ok());
  std::mt19937 rng(20261126);

  SECTION("one flipped byte in every page of the main file") {
    for (std::size_t p = 0; p < pages; ++p) {
      CAPTURE(p + 1);
      const auto copy = dir / "flip.db";
      fs::copy_file(pristine, copy, fs::copy_options::overwrite_existing);
      // Page 1 keeps its first 24 bytes readable; flip past them so the header parses.
      std::size_t lo = p == 0 ? 24 : 0;
      std::size_t off = p * kPage + lo + rng() % (kPage - lo);
      flip_byte(copy, off);
      Status st = read_everything(copy, 300);
      INFO(st.to_string());
      if (p == 0) {
        // Page 1 is authenticated when the database opens: indistinguishable from a wrong key.
        CHECK((st.code() == Errc::wrong_key || st.code() == Errc::integrity));
      } else {
        CHECK(st.code() == Errc::integrity);
        // From the VFS ("page N ... failed authentication") or integrity_check ("Page N: ...").
        CHECK(st.message().find("age " + std::to_string(p + 1)) != std::string::npos);
      }
    }
  }
  SECTION("the readable header of page 1 is authenticated too") {
    for (std::size_t off : {5u, 9u, 16u, 20u}) {
      const auto copy = dir / "hdr.db";
      fs::copy_file(pristine, copy, fs::copy_options::overwrite_existing);
      flip_byte(copy, off);
      Status st = read_everything(copy, 300);
      CHECK_FALSE(st.ok());
      CHECK((st.code() == Errc::wrong_key || st.code() == Errc::integrity ||
             st.code() == Errc::unsupported || st.code() == Errc::not_a_database));
    }
  }
  SECTION("two pages swapped") {
    const auto copy = dir / "swap.db";
    auto bytes = read_file(pristine);
    std::swap_ranges(bytes.begin() + 5 * kPage, bytes.begin() + 6 * kPage,
                     bytes.begin() + 9 * kPage);
    write_file(copy, bytes);
    CHECK(read_everything(copy, 300).code() == Errc::integrity);
  }
  SECTION("the file truncated at a page boundary and inside a page") {
    for (std::size_t size : {(pages - 3) * kPage, (pages - 1) * kPage + 1000}) {
      const auto copy = dir / "cut.db";
      auto bytes = read_file(pristine);
      bytes.resize(size);
      write_file(copy, bytes);
      CHECK(read_everything(copy, 300).code() == Errc::integrity);
    }
  }
  SECTION("a page copied in from another database under the same key") {
    const auto other = dir / "other.db";
    make_database(other, 300);
    auto a = read_file(pristine);
    auto b = read_file(other);
    REQUIRE(b.size() >= 8 * kPage);
    std::copy(b.begin() + 7 * kPage, b.begin() + 8 * kPage, a.begin() + 7 * kPage);
    write_file(dir / "mixed.db", a);
    CHECK(read_everything(dir / "mixed.db", 300).code() == Errc::integrity);
  }
}

TEST_CASE("tampering with a WAL frame is detected", "[store][security]") {
  TempDir dir;
  const auto path = dir / "w.db";
  auto writer = open_store({true, JournalMode::wal}, path, 2048);
  REQUIRE(writer.ok());
  Store& w = **writer;
  REQUIRE(w.exec("PRAGMA wal_autocheckpoint=0").ok());
  REQUIRE(w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)").ok());
  for (int batch = 0; batch < 5; ++batch) {
    REQUIRE(w.transaction([&]() -> Status {
                 auto ins = w.prepare("INSERT INTO t(id, v) VALUES (?1, ?2)");
                 if (!ins.ok()) return ins.status();
                 for (int i = batch * 60; i < (batch + 1) * 60; ++i) {
                   ins->bind(1, i).bind(2, "value-" + std::to_string(i) + std::string(300, 'v'));
                   FC_TRY(ins->run());
                 }
                 return {};
               })
                .ok());
  }
  const auto wal = dir / "w.db-wal";
  const std::size_t frame = kPage + 24;
  const std::size_t frames = (fs::file_size(wal) - 32) / frame;
  REQUIRE(frames > 10);
  // A byte inside the page of a frame that is the newest copy of its page (so readers use it)
  // but not the last frame (later frames vouch for the log).
  auto wal_bytes = read_file(wal);
  auto pgno_of = [&](std::size_t i) {
    const unsigned char* h = wal_bytes.data() + 32 + i * frame;
    return (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) | (std::uint32_t{h[2]} << 8) |
           h[3];
  };
  std::size_t target = frames;
  for (std::size_t i = 0; i + 2 < frames && target == frames; ++i) {
    bool newest = true;
    for (std::size_t j = i + 1; j < frames; ++j) newest = newest && pgno_of(j) != pgno_of(i);
    if (newest && pgno_of(i) > 1) target = i;
  }
  REQUIRE(target < frames);
  const std::size_t off = 32 + target * frame + 24 + 1000;

  SECTION("by a reader sharing the live WAL index") {
    flip_byte(wal, off);
    auto reader = open_store({true, JournalMode::wal}, path, 2048);
    Status st = reader.ok() ? Status() : reader.status();
    if (reader.ok()) {
      auto sel = (*reader)->prepare("SELECT count(*), sum(length(v)) FROM t");
      REQUIRE(sel.ok());
      auto row = sel->step();
      st = row.status();
    }
    CHECK(st.code() == Errc::integrity);
    CHECK(st.message().find("WAL frame") != std::string::npos);
  }
  SECTION("by WAL recovery after the database was left uncheckpointed") {
    // Copy the database and its WAL as a crash would leave them (no -shm).
    fs::create_directory(dir / "copy");
    fs::copy_file(path, dir / "copy" / "w.db");
    fs::copy_file(wal, dir / "copy" / "w.db-wal");
    flip_byte(dir / "copy" / "w.db-wal", off);
    auto reader = open_store({true, JournalMode::wal}, dir / "copy" / "w.db", 2048);
    Status st = reader.status();
    if (reader.ok()) st = Status(Errc::ok, integrity_check(**reader));
    CHECK(st.code() == Errc::integrity);
  }
  SECTION("control: an untouched copy recovers every committed row") {
    fs::create_directory(dir / "copy");
    fs::copy_file(path, dir / "copy" / "w.db");
    fs::copy_file(wal, dir / "copy" / "w.db-wal");
    auto reader = open_store({true, JournalMode::wal}, dir / "copy" / "w.db", 2048);
    REQUIRE(reader.ok());
    CHECK(query_int(**reader, "SELECT count(*) FROM t") == 300);
    CHECK(integrity_check(**reader) == "ok");
  }
}

TEST_CASE("a torn WAL tail is recovered like SQLite's own and keeps every earlier commit",
          "[store][faults]") {
  TempDir dir;
  const auto path = dir / "torn.db";
  {
    auto store = open_store({true, JournalMode::wal}, path, 2048);
    REQUIRE(store.ok());
    REQUIRE((*store)->exec("PRAGMA wal_autocheckpoint=0").ok());
    REQUIRE((*store)->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)").ok());
    for (int i = 0; i < 20; ++i) {
      REQUIRE((*store)->exec("INSERT INTO t(v) VALUES ('" + std::string(2000, 'x') + "')").ok());
    }
    fs::create_directory(dir / "crash");
    fs::copy_file(path, dir / "crash" / "torn.db");
    fs::copy_file(dir / "torn.db-wal", dir / "crash" / "torn.db-wal");
  }
  // The last frame's page never fully reached the disk.
  const auto wal = dir / "crash" / "torn.db-wal";
  auto bytes = read_file(wal);
  for (std::size_t i = bytes.size() - 1500; i < bytes.size(); ++i) bytes[i] = 0;
  write_file(wal, bytes);
  auto store = open_store({true, JournalMode::wal}, dir / "crash" / "torn.db", 2048);
  REQUIRE(store.ok());
  CHECK(integrity_check(**store) == "ok");
  CHECK(query_int(**store, "SELECT count(*) FROM t") == 19);  // only the torn commit is gone
}
