// Record ids (UUIDv7) and hybrid logical clock stamps.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <set>
#include <tuple>

#include "fake_clock.hpp"
#include "fieldcase/ids.hpp"

using namespace fieldcase;
using namespace fieldcase::test;
using namespace std::chrono_literals;

namespace {

std::int64_t wall_ms(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall().time_since_epoch())
      .count();
}

auto hlc_key(const HlcStamp& s) { return std::tie(s.wall_ms, s.counter, s.device); }

}  // namespace

TEST_CASE("uuid v7 carries the version and variant and the clock's milliseconds",
          "[records][ids]") {
  // A time no other test uses: ids follow the clock exactly at the start of a millisecond.
  FakeClock clock;
  clock.set_wall(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1'940'000'000'007)));
  const std::string id = new_uuid_v7(clock);
  REQUIRE(id.size() == 36);
  CHECK(is_uuid(id));
  CHECK(id[8] == '-');
  CHECK(id[13] == '-');
  CHECK(id[18] == '-');
  CHECK(id[23] == '-');
  CHECK(id[14] == '7');                                                    // version 7
  CHECK(std::string_view("89ab").find(id[19]) != std::string_view::npos);  // RFC 4122 variant

  // The first 48 bits are the Unix time in milliseconds.
  char expected[16];
  std::snprintf(expected, sizeof expected, "%012llx",
                static_cast<unsigned long long>(wall_ms(clock)));
  CHECK(id.substr(0, 8) + id.substr(9, 4) == expected);

  // The rest is random: ids made in the same millisecond differ.
  std::set<std::string> ids;
  for (int i = 0; i < 2000; ++i) {
    std::string next = new_uuid_v7(clock);
    CHECK(next.substr(0, 13) == id.substr(0, 13));
    CHECK(next[14] == '7');
    CHECK(std::string_view("89ab").find(next[19]) != std::string_view::npos);
    ids.insert(std::move(next));
  }
  CHECK(ids.size() == 2000);
}

TEST_CASE("uuid v7 ids sort in the order they were made", "[records][ids]") {
  FakeClock clock;
  std::vector<std::string> ids;
  for (int i = 0; i < 500; ++i) {
    ids.push_back(new_uuid_v7(clock));
    // From one millisecond up to about four minutes between ids.
    clock.advance(std::chrono::milliseconds(1 + (i * 7919) % 250'000));
  }
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
}

TEST_CASE("is_uuid accepts only canonical lower-case uuids", "[records][ids]") {
  CHECK(is_uuid("01890a5d-ac96-774b-bcce-b302099a8057"));
  CHECK_FALSE(is_uuid(""));
  CHECK_FALSE(is_uuid("01890A5D-AC96-774B-BCCE-B302099A8057"));   // upper case
  CHECK_FALSE(is_uuid("01890a5d-ac96-774b-bcce-b302099a805"));    // 35 characters
  CHECK_FALSE(is_uuid("01890a5d-ac96-774b-bcce-b302099a80577"));  // 37 characters
  CHECK_FALSE(is_uuid("01890a5d0ac960774b0bcce0b302099a8057"));   // no dashes
  CHECK_FALSE(is_uuid("01890a5dac96-774b-bcce-b302099a8057-"));   // dash moved
  CHECK_FALSE(is_uuid("01890a5d-ac96-774b-bcce-b302099a805g"));   // not hex
  CHECK_FALSE(is_uuid("{1890a5d-ac96-774b-bcce-b302099a805}"));
  CHECK_FALSE(is_uuid("01890a5d ac96-774b-bcce-b302099a8057"));
  CHECK_FALSE(is_uuid(std::string_view("01890a5d-ac96-774b-bcce-b302099a805\0", 36)));
}

TEST_CASE("hlc stamps keep rising when the wall clock goes backwards", "[records][ids]") {
  FakeClock clock;
  HybridClock hlc(clock, "tablet-1");
  CHECK(hlc.device() == "tablet-1");
  HlcStamp a = hlc.now();
  CHECK(a.wall_ms == wall_ms(clock));
  CHECK(a.counter == 0);
  CHECK(a.device == "tablet-1");

  // Same millisecond: the counter moves.
  HlcStamp b = hlc.now();
  CHECK(b.wall_ms == a.wall_ms);
  CHECK(b.counter == 1);

  // The device clock is put back an hour: stamps stay ahead of everything issued.
  clock.set_wall(clock.wall() - 1h);
  HlcStamp c = hlc.now();
  HlcStamp d = hlc.now();
  CHECK(c.wall_ms == a.wall_ms);
  CHECK(c.counter == 2);
  CHECK(d.counter == 3);

  // Once the wall clock passes the last stamp, it takes over again with a fresh counter.
  clock.set_wall(clock.wall() + 1h + 5ms);
  HlcStamp e = hlc.now();
  CHECK(e.wall_ms == a.wall_ms + 5);
  CHECK(e.counter == 0);

  std::vector<HlcStamp> all{a, b, c, d, e};
  for (std::size_t i = 1; i < all.size(); ++i) {
    CHECK(hlc_key(all[i - 1]) < hlc_key(all[i]));
    CHECK(all[i - 1].to_string() < all[i].to_string());
  }
}

TEST_CASE("hlc observe moves the clock past remote stamps", "[records][ids]") {
  FakeClock clock;
  HybridClock hlc(clock, "tablet-1");
  HlcStamp first = hlc.now();

  // A stamp from a device whose clock is an hour ahead.
  HlcStamp remote{first.wall_ms + 3'600'000, 7, "tablet-2"};
  hlc.observe(remote);
  HlcStamp next = hlc.now();
  CHECK(next.wall_ms == remote.wall_ms);
  CHECK(next.counter == 8);
  CHECK(next.device == "tablet-1");
  CHECK(remote.to_string() < next.to_string());

  // Same wall time, higher counter.
  HlcStamp remote2{next.wall_ms, 41, "tablet-3"};
  hlc.observe(remote2);
  HlcStamp after2 = hlc.now();
  CHECK(after2.wall_ms == remote2.wall_ms);
  CHECK(after2.counter == 42);

  // An older stamp changes nothing.
  hlc.observe(HlcStamp{first.wall_ms, 999, "tablet-4"});
  HlcStamp after3 = hlc.now();
  CHECK(after3.wall_ms == after2.wall_ms);
  CHECK(after3.counter == 43);

  // A remote stamp equal to ours (another device) is still passed.
  HlcStamp twin{after3.wall_ms, after3.counter, "tablet-0"};
  hlc.observe(twin);
  CHECK(twin.to_string() < hlc.now().to_string());
}

TEST_CASE("hlc string order is hlc order", "[records][ids]") {
  std::vector<HlcStamp> stamps;
  for (std::int64_t wall :
       {std::int64_t{0}, std::int64_t{9}, std::int64_t{10}, std::int64_t{999}, std::int64_t{1000},
        std::int64_t{1'800'000'000'000}, std::int64_t{999'999'999'999'999}}) {
    for (std::uint32_t counter : {0u, 1u, 9u, 10u, 99'999u, 999'999u}) {
      for (const char* device : {"a", "ab", "b", "tablet-1", "tablet-10", "tablet-2"}) {
        stamps.push_back({wall, counter, device});
      }
    }
  }
  for (const auto& x : stamps) {
    for (const auto& y : stamps) {
      INFO(x.to_string() << " vs " << y.to_string());
      CHECK((hlc_key(x) < hlc_key(y)) == (x.to_string() < y.to_string()));
    }
  }
}

TEST_CASE("hlc stamps parse back and malformed ones are refused", "[records][ids]") {
  FakeClock clock;
  HybridClock hlc(clock, "tablet.with.dots-1");
  HlcStamp s = hlc.now();
  s = hlc.now();
  const std::string text = s.to_string();
  CHECK(text == "001800000000000.000001.tablet.with.dots-1");
  auto back = HlcStamp::parse(text);
  REQUIRE(back.ok());
  CHECK(hlc_key(*back) == hlc_key(s));

  HlcStamp max{999'999'999'999'999, 999'999, "z"};
  auto max_back = HlcStamp::parse(max.to_string());
  REQUIRE(max_back.ok());
  CHECK(hlc_key(*max_back) == hlc_key(max));

  for (const char* bad : {
           "",
           "001800000000000",
           "001800000000000.000001",
           "001800000000000.000001.",      // no device
           "01800000000000.000001.dev",    // 14-digit wall
           "0001800000000000.000001.dev",  // 16-digit wall
           "001800000000000.00001.dev",    // 5-digit counter
           "001800000000000.0000001.dev",  // 7-digit counter
           "001800000000000-000001.dev",
           "001800000000000.000001-dev",
           "00180000000000x.000001.dev",
           "-00000000000001.000001.dev",  // negative wall
           "001800000000000.-00001.dev",
           "001800000000000.+00001.dev",
           " 01800000000000.000001.dev",
       }) {
    INFO(bad);
    auto r = HlcStamp::parse(bad);
    CHECK_FALSE(r.ok());
    CHECK(r.code() == Errc::invalid_argument);
  }
}

TEST_CASE("hlc stamps stay in string order when the counter would overflow", "[records][ids]") {
  // A device clock stuck (or put back by days) makes every stamp come from the counter. The
  // string form has six digits for it: beyond 999999 the stamp must move on in wall time
  // rather than grow a seventh digit that sorts before smaller counters.
  FakeClock clock;
  HybridClock hlc(clock, "tablet-1");
  std::string previous = hlc.now().to_string();
  const std::int64_t start = wall_ms(clock);
  HlcStamp last;
  for (int i = 0; i < 1'000'010; ++i) {
    last = hlc.now();
    std::string text = last.to_string();
    if (!(previous < text)) {
      FAIL_CHECK("stamp " << i << " " << text << " does not sort after " << previous);
      break;
    }
    previous = std::move(text);
  }
  CHECK(last.counter <= 999'999u);
  CHECK(last.wall_ms == start + 1);
  auto back = HlcStamp::parse(previous);
  REQUIRE(back.ok());
  CHECK(hlc_key(*back) == hlc_key(last));

  // Observing a remote stamp at the top of the counter range also moves on cleanly.
  HybridClock other(clock, "tablet-2");
  other.observe(HlcStamp{start + 5, 999'999, "tablet-3"});
  HlcStamp next = other.now();
  CHECK(next.wall_ms == start + 6);
  CHECK(next.counter == 0);
  CHECK(HlcStamp{start + 5, 999'999, "tablet-3"}.to_string() < next.to_string());
}

TEST_CASE("uuid v7 ids made in the same millisecond still sort in the order made",
          "[records][ids]") {
  // A time no other test uses, so the generator's sequence starts fresh here.
  FakeClock clock;
  clock.set_wall(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1'930'000'000'123)));
  const std::int64_t ms = wall_ms(clock);
  auto time_of = [](const std::string& id) {
    return std::stoll(id.substr(0, 8) + id.substr(9, 4), nullptr, 16);
  };
  std::vector<std::string> ids;
  // Far more than one millisecond's sequence holds: the ids move on to the next millisecond.
  for (int i = 0; i < 300'000; ++i) ids.push_back(new_uuid_v7(clock));
  CHECK(time_of(ids.front()) == ms);
  CHECK(time_of(ids.back()) > ms);
  CHECK(time_of(ids.back()) <= ms + 3);
  // Put back a second (a clock slewed by NTP): still in order.
  clock.set_wall(clock.wall() - 1s);
  for (int i = 0; i < 1000; ++i) ids.push_back(new_uuid_v7(clock));
  for (std::size_t i = 1; i < ids.size(); ++i) {
    if (!(ids[i - 1] < ids[i])) {
      FAIL_CHECK("id " << i << " " << ids[i] << " does not sort after " << ids[i - 1]);
      break;
    }
  }
  for (const auto& id : {ids.front(), ids.back()}) {
    CHECK(is_uuid(id));
    CHECK(id[14] == '7');
    CHECK(std::string_view("89ab").find(id[19]) != std::string_view::npos);
  }
  // A clock put back by a day is believed again.
  clock.set_wall(clock.wall() - 24h);
  CHECK(time_of(new_uuid_v7(clock)) == wall_ms(clock));
}

TEST_CASE("hlc clocks saturate at the top of the stamp range instead of wrapping",
          "[records][ids][security][sync]") {
  // A clock that believes remote stamps however far ahead (the bound is the clock's setting)
  // observes a stamp at the very top of the range: the next stamps must still parse and never
  // sort before earlier ones. (The system clock itself cannot reach the top: it ends in 2262.)
  FakeClock clock;
  HybridClock hlc(clock, "tablet-1", std::chrono::milliseconds(HlcStamp::kMaxWall));
  const HlcStamp top{HlcStamp::kMaxWall, HlcStamp::kMaxCounter, "tablet-0"};
  CHECK(hlc.observe(top));
  std::string previous = top.to_string();
  for (int i = 0; i < 3; ++i) {
    const HlcStamp s = hlc.now();
    const std::string text = s.to_string();
    INFO(text);
    REQUIRE(HlcStamp::parse(text).ok());
    CHECK(s.wall_ms == HlcStamp::kMaxWall);
    CHECK(s.counter == HlcStamp::kMaxCounter);
    CHECK(previous <= text);
    previous = text;
  }
  // One below the top: the counter runs out and the clock moves to the top, then stays.
  HybridClock near(clock, "tablet-3", std::chrono::milliseconds(HlcStamp::kMaxWall));
  CHECK(near.observe(HlcStamp{HlcStamp::kMaxWall - 1, HlcStamp::kMaxCounter, "tablet-2"}));
  HlcStamp a = near.now();
  HlcStamp b = near.now();
  CHECK(a.wall_ms == HlcStamp::kMaxWall);
  CHECK(a.counter == 0);
  CHECK(b.counter == 1);
  CHECK(HlcStamp::parse(b.to_string()).ok());
}

TEST_CASE("hlc clocks are not dragged forward by a remote stamp far ahead of the wall clock",
          "[records][ids][security][sync]") {
  FakeClock clock;
  HybridClock hlc(clock, "tablet-1");
  const HlcStamp first = hlc.now();
  const std::int64_t ahead_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(kHlcMaxAhead).count();

  // The hostile stamp of issue 14: the largest the string form holds.
  CHECK_FALSE(hlc.observe(HlcStamp{HlcStamp::kMaxWall, HlcStamp::kMaxCounter, "hostile"}));
  // Just beyond the bound is ignored too.
  CHECK_FALSE(hlc.observe(HlcStamp{first.wall_ms + ahead_ms + 1, 0, "fast"}));
  HlcStamp next = hlc.now();
  CHECK(next.wall_ms == first.wall_ms);
  CHECK(next.counter == first.counter + 1);

  // Within the bound a remote stamp is passed as before.
  const HlcStamp near{first.wall_ms + ahead_ms, 3, "fast"};
  CHECK(hlc.observe(near));
  next = hlc.now();
  CHECK(near.to_string() < next.to_string());
  CHECK(next.wall_ms == near.wall_ms);

  // The bound is the clock's: a server may configure another.
  HybridClock strict(clock, "server", std::chrono::minutes(1));
  CHECK_FALSE(strict.observe(HlcStamp{first.wall_ms + 61'000, 0, "fast"}));
  CHECK(strict.observe(HlcStamp{first.wall_ms + 60'000, 0, "fast"}));

  // A clock resuming after its own stamps (its log) follows them whatever the wall clock says.
  HybridClock resumed(clock, "tablet-1");
  resumed.resume(HlcStamp{first.wall_ms + 10 * ahead_ms, 5, "tablet-1"});
  const HlcStamp r = resumed.now();
  CHECK(r.wall_ms == first.wall_ms + 10 * ahead_ms);
  CHECK(r.counter == 6);
}
