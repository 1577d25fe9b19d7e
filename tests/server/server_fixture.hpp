// An in-process sync server for tests: a temporary SQLite store, an organisation with two
// social workers and their team manager in one team, and helpers to build device operations.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "fake_clock.hpp"
#include "fieldcase/ids.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/server/sync_service.hpp"
#include "temp_dir.hpp"

namespace fieldcase::test {

// A device as tests drive it: its credentials and a hand-driven HLC.
struct TestDevice {
  server::AuthenticatedDevice auth;
  std::string token;
  std::string label;     // what the test calls it
  std::string hlc_name;  // the device part of its stamps: its device id, as on a real device
  std::int64_t wall_ms = 0;
  std::uint32_t counter = 0;

  std::string stamp() {
    ++counter;
    return HlcStamp{wall_ms, counter, hlc_name}.to_string();
  }
  // Like a device's hybrid clock: moves past a stamp it has seen.
  void observe(const std::string& seen) {
    auto s = HlcStamp::parse(seen);
    if (!s.ok()) return;
    if (s->wall_ms > wall_ms || (s->wall_ms == wall_ms && s->counter > counter)) {
      wall_ms = s->wall_ms;
      counter = s->counter;
    }
  }
};

class ServerFixture {
 public:
  explicit ServerFixture(server::ServiceOptions options = {}) {
    auto opened = server::SqliteServerStore::open(dir / "server.db");
    REQUIRE(opened.ok());
    store = std::move(opened.value());
    admin = std::make_unique<server::Admin>(*store, clock);
    // The same secret file the server process reads for this database.
    auto secret = server::ServerSecret::load_or_create(dir / "server.db.code-secret");
    REQUIRE(secret.ok());
    admin->set_code_secret(*secret);
    service = std::make_unique<server::SyncService>(*store, clock, options);
    REQUIRE(admin->create_authority("City", "123").ok());
    auto a = admin->create_area("North");
    REQUIRE(a.ok());
    area = *a;
    auto t = admin->create_team("Assessment 1", area);
    REQUIRE(t.ok());
    team = *t;
    sw1 = worker("Ann", Role::social_worker);
    sw2 = worker("Bea", Role::social_worker);
    manager = worker("Meg", Role::team_manager);
  }

  std::string worker(const std::string& name, Role role) {
    auto w = admin->create_worker(name, role, team);
    REQUIRE(w.ok());
    return *w;
  }

  TestDevice device(const std::string& worker_id, const std::string& label) {
    auto issued = admin->issue_device(worker_id);
    REQUIRE(issued.ok());
    auto auth = service->authenticate(issued->token);
    REQUIRE(auth.ok());
    REQUIRE(auth->has_value());
    TestDevice d;
    d.auth = **auth;
    d.token = issued->token;
    d.label = label;
    d.hlc_name = d.auth.device_id;
    d.wall_ms = now_ms();
    return d;
  }

  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall().time_since_epoch())
        .count();
  }
  std::string now_text(std::chrono::seconds shift = std::chrono::seconds(0)) const {
    return format_iso_datetime(clock.wall() + shift);
  }
  std::string today(int shift_days = 0) const {
    return now_text(std::chrono::hours(24 * shift_days)).substr(0, 10);
  }

  std::string new_id() const { return new_uuid_v7(clock); }

  // One exchange; the device's clock reads the server's clock plus `device_skew`.
  sync::SyncResponse sync(const TestDevice& d, std::vector<sync::Transaction> txs,
                          std::int64_t cursor = 0, std::size_t max_changes = 500,
                          std::chrono::seconds device_skew = std::chrono::seconds(0)) {
    sync::SyncRequest req;
    req.device_time = now_text(device_skew);
    req.cursor = cursor;
    req.max_changes = max_changes;
    req.transactions = std::move(txs);
    auto res = service->handle(d.auth, req, clock.wall());
    INFO(res.status().to_string());
    REQUIRE(res.ok());
    return std::move(res.value());
  }

  // Pulls until `more` is false, starting from `cursor`; returns every change and the cursor.
  std::vector<sync::Change> pull_all(const TestDevice& d, std::int64_t& cursor,
                                     std::size_t page = 500) {
    std::vector<sync::Change> all;
    for (int guard = 0; guard < 10000; ++guard) {
      auto res = sync(d, {}, cursor, page);
      all.insert(all.end(), res.changes.begin(), res.changes.end());
      cursor = res.cursor;
      if (!res.more) return all;
    }
    FAIL("paging did not finish");
    return all;
  }

  std::int64_t count(const std::string& sql) {
    auto st = store->store().prepare(sql);
    REQUIRE(st.ok());
    auto row = st->step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    return st->column_int(0);
  }

  std::optional<server::StoredRecord> record(const std::string& id) {
    auto r = store->find_record(id);
    REQUIRE(r.ok());
    return *r;
  }

  // Access options with the secret of this database's enrollment codes.
  server::AccessOptions access_options() {
    server::AccessOptions o;
    auto secret = server::ServerSecret::load_or_create(dir / "server.db.code-secret");
    REQUIRE(secret.ok());
    o.code_secret = *secret;
    return o;
  }

  Value field(const std::string& record_id, const std::string& name) {
    auto r = record(record_id);
    REQUIRE(r.has_value());
    auto it = r->fields.find(name);
    return it == r->fields.end() ? Value{} : it->second.value;
  }

  TempDir dir;
  FakeClock clock;
  std::unique_ptr<server::SqliteServerStore> store;
  std::unique_ptr<server::Admin> admin;
  std::unique_ptr<server::SyncService> service;
  std::string area, team, sw1, sw2, manager;
};

// Operation builders.
inline sync::Op create_op(TestDevice& d, RecordKind kind, const std::string& record_id,
                          const std::string& case_id, const std::string& at) {
  sync::Op op;
  op.op_id = new_uuid_v7(SystemClock::instance());
  op.op = FieldChange::Op::create;
  op.record_id = record_id;
  op.kind = kind;
  op.case_id = case_id;
  op.hlc = d.stamp();
  op.at = at;
  return op;
}

inline sync::Op set_op(TestDevice& d, RecordKind kind, const std::string& record_id,
                       const std::string& case_id, const std::string& field, Value value,
                       const std::string& base, const std::string& at) {
  d.observe(base);  // the device wrote after seeing `base`
  sync::Op op;
  op.op_id = new_uuid_v7(SystemClock::instance());
  op.op = FieldChange::Op::set;
  op.record_id = record_id;
  op.kind = kind;
  op.case_id = case_id;
  op.field = field;
  op.value = std::move(value);
  op.hlc = d.stamp();
  op.base = base;
  op.at = at;
  return op;
}

inline sync::Op remove_op(TestDevice& d, RecordKind kind, const std::string& record_id,
                          const std::string& case_id, const std::string& at) {
  sync::Op op = create_op(d, kind, record_id, case_id, at);
  op.op = FieldChange::Op::remove;
  return op;
}

// A transaction creating a record with the given fields (stamps from the device).
inline sync::Transaction create_tx(TestDevice& d, RecordKind kind, const std::string& record_id,
                                   const std::string& case_id, const Fields& fields,
                                   const std::string& at) {
  sync::Transaction tx;
  tx.tx_id = new_uuid_v7(SystemClock::instance());
  tx.ops.push_back(create_op(d, kind, record_id, case_id, at));
  for (const auto& [name, value] : fields) {
    tx.ops.push_back(set_op(d, kind, record_id, case_id, name, value, "", at));
  }
  return tx;
}

inline Fields child_fields(const std::string& last_name = "Smith") {
  return {{"local_id", std::string("C-1001")},
          {"first_name", std::string("Alex")},
          {"last_name", last_name},
          {"gender", std::string("1")},
          {"date_of_birth", std::string("2015-03-02")}};
}

// The stamp a field carries on the server.
inline std::string server_stamp_of(ServerFixture& f, const std::string& record_id,
                                   const std::string& field) {
  auto r = f.record(record_id);
  REQUIRE(r.has_value());
  auto it = r->fields.find(field);
  REQUIRE(it != r->fields.end());
  return it->second.hlc;
}

// A ServerFixture whose tests drive records through accepted syncs on the fake clock: the
// figures, reports and census tests. accept() may be overridden to check more after each.
class RecordingFixture : public ServerFixture {
 public:
  using ServerFixture::ServerFixture;
  virtual ~RecordingFixture() = default;

  // Moves the server's clock (and so the devices', which read it with no skew) to `iso`.
  void at(const std::string& iso) {
    auto s = parse_iso_datetime(iso);
    REQUIRE(s.has_value());
    clock.set_wall(std::chrono::system_clock::time_point(std::chrono::seconds(*s)));
  }

  // Syncs `tx` from `d` (its clock `skew` off the server's); the server must accept it.
  virtual void accept(TestDevice& d, sync::Transaction tx,
                      std::chrono::seconds skew = std::chrono::seconds(0)) {
    auto res = sync(d, {std::move(tx)}, 0, 1, skew);
    INFO((res.rejected.empty() ? std::string() : res.rejected[0].reason));
    REQUIRE(res.rejected.empty());
  }

  std::string create(TestDevice& d, RecordKind kind, const std::string& case_id,
                     const Fields& fields, std::chrono::seconds skew = std::chrono::seconds(0)) {
    const std::string id = new_id();
    accept(d, create_tx(d, kind, id, case_id, fields, now_text(skew)), skew);
    return id;
  }

  // Sets `fields` of a record, each over the stamp the server holds for it.
  void set(TestDevice& d, RecordKind kind, const std::string& id, const std::string& case_id,
           const Fields& fields, std::chrono::seconds skew = std::chrono::seconds(0)) {
    sync::Transaction tx;
    tx.tx_id = new_id();
    auto r = record(id);
    REQUIRE(r.has_value());
    for (const auto& [name, value] : fields) {
      auto it = r->fields.find(name);
      const std::string base = it == r->fields.end() ? std::string() : it->second.hlc;
      tx.ops.push_back(set_op(d, kind, id, case_id, name, value, base, now_text(skew)));
    }
    accept(d, std::move(tx), skew);
  }
};

}  // namespace fieldcase::test
