// Helpers for the record layer's tests: a RecordStore on a temporary Store driven by a fake
// clock, valid fields for every kind of record, and counts of what writes left behind.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "fake_clock.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/record_store.hpp"
#include "store_fixture.hpp"
#include "temp_dir.hpp"

namespace fieldcase::test {

// Signed-in workers are named by the ids of their worker records.
inline const std::string kWorkerId = "0190a000-0000-7000-8000-00000000a001";
inline const std::string kManagerId = "0190a000-0000-7000-8000-00000000a002";
inline const std::string kOtherWorkerId = "0190a000-0000-7000-8000-00000000a003";

inline Identity worker_identity() { return {kWorkerId, "tablet-w1", Role::social_worker}; }
inline Identity manager_identity() { return {kManagerId, "tablet-m1", Role::team_manager}; }

// England's default timescales on the England & Wales calendar.
inline Timescales england_timescales() {
  auto t = Timescales::create(WorkingCalendar(), TimescaleSettings{});
  REQUIRE(t.ok());
  return *t;
}

inline Date date(std::string_view iso) {
  auto d = Date::parse(iso);
  REQUIRE(d.ok());
  return *d;
}

inline std::chrono::system_clock::time_point utc(std::string_view iso) {
  auto secs = parse_iso_datetime(iso);
  REQUIRE(secs.has_value());
  return std::chrono::system_clock::time_point(std::chrono::seconds(*secs));
}

// A child with everything required, allocated to `worker`.
inline Fields child_fields(std::string first = "Amy", std::string last = "Example",
                           const std::string& worker = kWorkerId) {
  return {{"local_id", std::string("C-1001")}, {"first_name", std::move(first)},
          {"last_name", std::move(last)},      {"date_of_birth", std::string("2015-03-02")},
          {"gender", std::string("2")},        {"allocated_worker", worker}};
}

// Valid fields for a record of `kind` written while the clock reads 2027-01-15T08:00:00Z.
inline Fields valid_fields(RecordKind kind) {
  using S = std::string;
  switch (kind) {
    case RecordKind::authority:
      return {{"name", S("Northcity")}, {"la_code", S("123")}};
    case RecordKind::area:
      return {{"name", S("North")}};
    case RecordKind::team:
      return {{"name", S("Team A")}, {"area_id", S("0190a000-0000-7000-8000-0000000000a1")}};
    case RecordKind::worker:
      return {{"name", S("Sam Worker")}, {"role", S("social_worker")}};
    case RecordKind::child:
      return child_fields();
    case RecordKind::contact:
      return {{"received_at", S("2027-01-14T09:30:00Z")}, {"source", S("1A")}};
    case RecordKind::referral:
      return {{"referral_date", S("2027-01-10")}, {"source", S("2A")}};
    case RecordKind::assessment:
      return {{"assessment_kind", S("single")},
              {"start_date", S("2027-01-04")},
              {"status", S("draft")}};
    case RecordKind::visit:
      return {{"visit_type", S("cp_statutory")},
              {"start_at", S("2027-01-14T10:00:00Z")},
              {"child_seen", true}};
    case RecordKind::case_note:
      return {{"contact_at", S("2027-01-14T10:00:00Z")},
              {"text", S("Amy showed me her room.")},
              {"status", S("draft")}};
    case RecordKind::s47_enquiry:
      return {{"start_date", S("2027-01-05")}};
    case RecordKind::cp_plan:
      return {{"start_date", S("2026-06-01")}, {"initial_category", S("NEG")}};
    case RecordKind::cin_plan:
      return {{"start_date", S("2026-06-01")}};
    case RecordKind::lac_episode:
      return {{"start_date", S("2026-03-01")}};
    case RecordKind::attachment:
      return {{"parent_id", S("0190a000-0000-7000-8000-0000000000b1")},
              {"filename", S("room.jpg")},
              {"media_type", S("image/jpeg")},
              {"size_bytes", std::int64_t{3}},
              {"sha256", std::string(64, 'a')}};
  }
  return {};
}

struct RecordEnv {
  explicit RecordEnv(StoreMode mode = {false, JournalMode::wal}, Identity who = worker_identity())
      : mode_(mode), who_(std::move(who)) {
    open();
  }
  ~RecordEnv() {
    rs.reset();
    store.reset();
  }

  RecordStore& records() { return *rs; }

  // Another user of the same database (a manager on the team's tablet, say).
  std::unique_ptr<RecordStore> open_as(Identity who) {
    auto r = RecordStore::open(*store, std::move(who), clock, england_timescales());
    REQUIRE(r.ok());
    return std::move(r.value());
  }

  // Closes the database and opens it again.
  void reopen() {
    rs.reset();
    store.reset();
    open();
  }

  // A child allocated to the signed-in worker; returns its id (which is also its case id).
  std::string child(std::string first = "Amy", std::string last = "Example") {
    auto id = rs->create(RecordKind::child, {},
                         child_fields(std::move(first), std::move(last), who_.worker_id));
    REQUIRE(id.ok());
    return *id;
  }

  std::int64_t record_rows() { return query_int(*store, "SELECT count(*) FROM record"); }
  std::int64_t log_rows() { return query_int(*store, "SELECT count(*) FROM change_log"); }
  std::int64_t count(RecordKind kind) {
    return query_int(
        *store, "SELECT count(*) FROM record WHERE kind = '" + std::string(to_string(kind)) + "'");
  }

  TempDir dir;
  FakeClock clock;
  std::unique_ptr<Store> store;
  std::unique_ptr<RecordStore> rs;

 private:
  void open() {
    auto s = open_store(mode_, dir / "records.db");
    REQUIRE(s.ok());
    store = std::move(s.value());
    auto r = RecordStore::open(*store, who_, clock, england_timescales());
    REQUIRE(r.ok());
    rs = std::move(r.value());
  }

  StoreMode mode_;
  Identity who_;
};

}  // namespace fieldcase::test
