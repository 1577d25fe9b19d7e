// The associated data of an encrypted page binds its file role and, in the WAL, the WAL
// generation (salts): a frame replayed from an older WAL generation, or a page carried from one
// file kind into another, is detected as tampering even when SQLite's own checksums are
// recomputed to match.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/page_cipher.hpp"
#include "store_fixture.hpp"
#include "temp_dir.hpp"

using namespace fieldcase;
using namespace fieldcase::test;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kWalHeader = 32;
constexpr std::size_t kFrameHeader = 24;
constexpr std::size_t kFrame = kPage + kFrameHeader;
constexpr int kRows = 6;

std::uint32_t get_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
void put_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

using Sum = std::array<std::uint32_t, 2>;

// SQLite's WAL checksum (file format, section 4.1) of `n` bytes, started from `s`. `big` says
// whether the words are big-endian (WAL magic 0x377f0683) or little-endian (0x377f0682).
Sum wal_checksum(Sum s, const std::uint8_t* data, std::size_t n, bool big) {
  auto word = [&](std::size_t i) {
    const std::uint8_t* p = data + i;
    return big ? get_be32(p)
               : (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) |
                     (std::uint32_t{p[1]} << 8) | std::uint32_t{p[0]};
  };
  for (std::size_t i = 0; i < n; i += 8) {
    s[0] += word(i) + s[1];
    s[1] += word(i + 4) + s[0];
  }
  return s;
}

// The checksum after a frame is affine in the checksum before it:
//   after = L(before) + C(frame), with L(x) = wal_checksum(x, zeros).
// So an attacker who sees a frame's stored checksums before and after (and never its plaintext)
// can chain the frame after any other checksum. This is that computation.
Sum rechain(Sum old_before, Sum old_after, Sum new_before, bool big) {
  static const std::vector<std::uint8_t> zeros(8 + kPage, 0);
  const Sum l_old = wal_checksum(old_before, zeros.data(), zeros.size(), big);
  const Sum l_new = wal_checksum(new_before, zeros.data(), zeros.size(), big);
  return {old_after[0] - l_old[0] + l_new[0], old_after[1] - l_old[1] + l_new[1]};
}

Sum sum_at(const std::vector<std::uint8_t>& wal, std::size_t off) {
  return {get_be32(wal.data() + off), get_be32(wal.data() + off + 4)};
}
// The checksum before frame i: the previous frame's, or the WAL header's for the first.
Sum before_frame(const std::vector<std::uint8_t>& wal, std::size_t i) {
  return i == 0 ? sum_at(wal, 24) : sum_at(wal, kWalHeader + (i - 1) * kFrame + 16);
}

std::string value(const std::string& generation, int row) {
  // One row per leaf page, so updating a row rewrites that page only.
  return generation + "-" + std::to_string(row) + std::string(3000, 'x');
}

Status update_row(Store& s, int row, const std::string& v) {
  auto st = s.prepare("UPDATE t SET v = ?1 WHERE id = ?2");
  if (!st.ok()) return st.status();
  st->bind(1, v).bind(2, row);
  return st->run();
}

// Reads every row; returns the error that stopped it, and the values read.
Status read_rows(const fs::path& path, std::vector<std::string>* values) {
  auto store = open_store({true, JournalMode::wal}, path, 2048);
  if (!store.ok()) return store.status();
  auto sel = (*store)->prepare("SELECT v FROM t ORDER BY id");
  if (!sel.ok()) return sel.status();
  for (;;) {
    auto row = sel->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    values->push_back(sel->column_text(0));
  }
  std::string check = integrity_check(**store);
  if (check != "ok") return {Errc::integrity, check};
  return {};
}

struct Generations {
  std::vector<std::uint8_t> old_wal;  // generation 1: every row set to "g1"
  fs::path db;                        // a crash copy: database and generation-2 WAL, no -shm
  fs::path wal;
};

// A database whose WAL went through two generations, each updating rows 0..kRows-1 in order,
// one commit per row; the first generation's WAL is kept as an attacker's earlier copy.
Generations make_generations(const TempDir& dir) {
  Generations g;
  const auto path = dir / "g.db";
  auto store = open_store({true, JournalMode::wal}, path, 2048);
  REQUIRE(store.ok());
  Store& s = **store;
  REQUIRE(s.exec("PRAGMA wal_autocheckpoint=0").ok());
  REQUIRE(s.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)").ok());
  for (int r = 0; r < kRows; ++r) {
    auto ins = s.prepare("INSERT INTO t(id, v) VALUES (?1, ?2)");
    REQUIRE(ins.ok());
    ins->bind(1, r).bind(2, value("g0", r));
    REQUIRE(ins->run().ok());
  }
  REQUIRE(s.exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  for (int r = 0; r < kRows; ++r) REQUIRE(update_row(s, r, value("g1", r)).ok());
  g.old_wal = read_file(dir / "g.db-wal");
  REQUIRE(s.exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());  // the next write starts a new WAL
  for (int r = 0; r < kRows; ++r) REQUIRE(update_row(s, r, value("g2", r)).ok());
  fs::create_directory(dir / "copy");
  g.db = dir / "copy" / "g.db";
  g.wal = dir / "copy" / "g.db-wal";
  fs::copy_file(path, g.db);
  fs::copy_file(dir / "g.db-wal", g.wal);
  return g;
}

}  // namespace

TEST_CASE("a frame from an older WAL generation spliced into the middle of the WAL is detected",
          "[security][store]") {
  TempDir dir;
  Generations g = make_generations(dir);
  auto wal = read_file(g.wal);
  const auto& old = g.old_wal;
  const std::size_t frames = (wal.size() - kWalHeader) / kFrame;
  const std::size_t old_frames = (old.size() - kWalHeader) / kFrame;
  REQUIRE(frames == static_cast<std::size_t>(kRows));
  REQUIRE(old_frames == static_cast<std::size_t>(kRows));
  REQUIRE(std::memcmp(wal.data() + 16, old.data() + 16, 8) != 0);  // new salts

  SECTION("control: the untouched copy holds the last generation") {
    std::vector<std::string> values;
    REQUIRE(read_rows(g.db, &values).ok());
    REQUIRE(values.size() == static_cast<std::size_t>(kRows));
    for (int r = 0; r < kRows; ++r) CHECK(values[r] == value("g2", r));
  }

  SECTION("the splice, with SQLite's checksums recomputed from stored values") {
    // Frame 2 of generation 1 (row 2 set to "g1") replaces frame 2 of generation 2: the same
    // page at the same offset, so only the salts and the checksum chain give it away.
    const std::size_t target = 2;
    const std::size_t off = kWalHeader + target * kFrame;
    REQUIRE(get_be32(old.data() + off) == get_be32(wal.data() + off));
    const bool big = (get_be32(wal.data()) & 1) != 0;
    std::vector<std::uint8_t> spliced = wal;
    std::copy_n(old.begin() + static_cast<std::ptrdiff_t>(off), kFrame,
                spliced.begin() + static_cast<std::ptrdiff_t>(off));
    std::memcpy(spliced.data() + off + 8, wal.data() + 16, 8);  // the current salts
    for (std::size_t i = target; i < frames; ++i) {
      const std::size_t fo = kWalHeader + i * kFrame;
      const auto& src = i == target ? old : wal;  // where this frame's stored sums come from
      Sum after = rechain(before_frame(src, i), sum_at(src, fo + 16), before_frame(spliced, i),
                          big);
      put_be32(spliced.data() + fo + 16, after[0]);
      put_be32(spliced.data() + fo + 20, after[1]);
    }
    write_file(g.wal, spliced);

    std::vector<std::string> values;
    Status st = read_rows(g.db, &values);
    // Whatever was read before the error, row 2 was never silently reverted.
    for (const std::string& v : values) CHECK(v.substr(0, 3) != "g1-");
    CHECK(st.code() == Errc::integrity);
    CHECK(st.message().find("WAL frame") != std::string::npos);
  }
}

TEST_CASE("a WAL frame's page written into the main file is detected", "[security][store]") {
  TempDir dir;
  Generations g = make_generations(dir);
  auto wal = read_file(g.wal);
  const std::size_t off = kWalHeader + 2 * kFrame;
  const std::uint32_t pgno = get_be32(wal.data() + off);
  REQUIRE(pgno > 1);
  // The frame's encrypted page (row 2 set to "g2") at its page's place, and no WAL.
  auto db = read_file(g.db);
  REQUIRE(db.size() >= pgno * kPage);
  std::copy_n(wal.begin() + static_cast<std::ptrdiff_t>(off + kFrameHeader), kPage,
              db.begin() + static_cast<std::ptrdiff_t>((pgno - 1) * kPage));
  write_file(g.db, db);
  fs::remove(g.wal);
  std::vector<std::string> values;
  Status st = read_rows(g.db, &values);
  for (const std::string& v : values) CHECK(v.substr(0, 3) != "g2-");
  CHECK(st.code() == Errc::integrity);
}
