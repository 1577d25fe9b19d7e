// One contract suite for every ServerStore: each port's documented contract (ports/*.hpp),
// its failure paths, and races between two store objects on one database (two server
// instances) driven from threads. Every case runs on SQLite ([store]) and PostgreSQL
// ([store][pg]; skipped where PostgreSQL is missing unless FIELDCASE_REQUIRE_PG=1).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fieldcase/server/server_store.hpp"
#include "test_store.hpp"

namespace fieldcase::test {
namespace {

using namespace server;
using namespace std::chrono_literals;

// A contract case `fn`, instantiated once per engine.
#define STORE_CONTRACT(fn, name, tags)                                                    \
  template <StoreEngine E>                                                                \
  void fn();                                                                              \
  TEST_CASE("sqlite store: " name, "[store]" tags) { fn<StoreEngine::sqlite>(); }         \
  TEST_CASE("postgres store: " name, "[store][pg]" tags) { fn<StoreEngine::postgres>(); } \
  template <StoreEngine E>                                                                \
  void fn()

#define REQUIRE_OK(expr)                \
  do {                                  \
    Status require_ok_ = (expr);        \
    INFO(require_ok_.to_string());      \
    REQUIRE(require_ok_.ok());          \
  } while (false)

template <typename T>
T must(Result<T> r) {
  INFO(r.status().to_string());
  REQUIRE(r.ok());
  return std::move(*r);
}

// A database, a store on it and a small organisation: one area with two teams; in team t1 the
// social workers sw1 and sw2, their manager tm and the contact-centre worker cc; in team t2
// the social worker sw3; am manages the area, sl leads the service, ad administers.
struct Org {
  std::unique_ptr<TestDatabase> db;
  std::unique_ptr<ServerStore> s;
  Worker sw1, sw2, sw3, tm, am, sl, cc, ad;

  explicit operator bool() const { return db != nullptr; }

  Worker worker(const std::string& id, Role role, const std::string& team) {
    Worker w{id, "name " + id, role, team, true, "2026-01-01T00:00:00.000Z"};
    REQUIRE_OK(s->insert_worker(w));
    return w;
  }
};

Org org(StoreEngine engine) {
  Org o;
  o.db = fresh_database(engine);
  if (!o.db) return o;
  o.s = must_open(*o.db);
  REQUIRE_OK(o.s->insert_authority({"la", "City", "123", "2026-01-01T00:00:00.000Z"}));
  REQUIRE_OK(o.s->insert_area({"north", "North", "la", "2026-01-01T00:00:00.000Z"}));
  REQUIRE_OK(o.s->insert_team({"t1", "Assessment", "north", "2026-01-01T00:00:00.000Z"}));
  REQUIRE_OK(o.s->insert_team({"t2", "Permanence", "north", "2026-01-01T00:00:00.000Z"}));
  o.sw1 = o.worker("sw1", Role::social_worker, "t1");
  o.sw2 = o.worker("sw2", Role::social_worker, "t1");
  o.sw3 = o.worker("sw3", Role::social_worker, "t2");
  o.tm = o.worker("tm", Role::team_manager, "t1");
  o.am = o.worker("am", Role::area_manager, "t1");
  o.sl = o.worker("sl", Role::service_lead, "t1");
  o.cc = o.worker("cc", Role::contact_centre, "t1");
  o.ad = o.worker("ad", Role::administrator, "");
  return o;
}

Device device(const std::string& id, const std::string& worker) {
  Device d;
  d.id = id;
  d.worker_id = worker;
  d.name = "tablet " + id;
  d.created_at = "2026-01-01T00:00:00.000Z";
  return d;
}

StoredRecord record(const std::string& id, RecordKind kind, const std::string& case_id) {
  StoredRecord r;
  r.id = id;
  r.kind = kind;
  r.case_id = case_id;
  r.created_at = r.updated_at = "2026-01-02T09:00:00.000Z";
  r.created_by = r.updated_by = "sw1";
  r.created_hlc = "0000000001-0001-dev";
  return r;
}

LogEntry entry(std::int64_t seq, const std::string& case_id, RecordKind kind = RecordKind::child,
               const std::string& value = "v") {
  LogEntry e;
  e.seq = seq;
  e.op_id = "op" + std::to_string(seq);
  e.tx_id = "tx" + std::to_string(seq);
  e.op = FieldChange::Op::set;
  e.record_id = "r-" + case_id;
  e.kind = kind;
  e.case_id = case_id;
  e.field = "first_name";
  e.value = value;
  e.hlc = "0000000001-0001-dev";
  e.author = "sw1";
  e.device_id = "d1";
  e.at = e.received_at = "2026-01-02T09:00:00.000Z";
  return e;
}

Status allocate(ServerStore& s, const std::string& case_id, const std::string& worker,
                const std::string& previous = "") {
  return s.transaction([&]() -> Status {
    auto seq = s.reserve_seqs(1);
    if (!seq.ok()) return seq.status();
    return s.put_allocation({case_id, worker, *seq, "2026-01-02T09:00:00.000Z"}, previous);
  });
}

// Appends one entry on `case_id` in a transaction of its own; its seq.
std::int64_t append(ServerStore& s, const std::string& case_id,
                    RecordKind kind = RecordKind::child, const std::string& value = "v") {
  std::int64_t seq = 0;
  REQUIRE_OK(s.transaction([&]() -> Status {
    auto first = s.reserve_seqs(1);
    if (!first.ok()) return first.status();
    seq = *first;
    return s.append_log(entry(seq, case_id, kind, value));
  }));
  return seq;
}

AuditEvent audit_event(const std::string& id, const std::string& event = "case_read") {
  AuditEvent e;
  e.id = id;
  e.at = "2026-01-02T09:00:00.000Z";
  e.event = event;
  e.worker_id = "sw1";
  e.case_id = "c1";
  e.relation = "own";
  return e;
}

// Runs `fn(i)` on `n` threads at once and waits for them.
template <typename Fn>
void in_threads(int n, Fn fn) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < n) std::this_thread::yield();
      fn(i);
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace

// --- UnitOfWork

STORE_CONTRACT(uow_rollback, "a unit of work that fails leaves nothing behind", "[uow]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  const std::int64_t head_before = must(s.head());
  Status st = s.transaction([&]() -> Status {
    auto seq = s.reserve_seqs(2);
    if (!seq.ok()) return seq.status();
    FC_TRY(s.append_log(entry(*seq, "c1")));
    FC_TRY(s.put_record(record("r1", RecordKind::child, "c1")));
    FC_TRY(s.put_tx({"tx1", "d1", true, "", "", 1, "t", "t"}));
    FC_TRY(s.put_op("op1", "tx1"));
    FC_TRY(s.append_audit(audit_event("a1")));
    return {Errc::validation, "the unit of work refuses itself"};
  });
  CHECK(st.code() == Errc::validation);
  CHECK(must(s.head()) == head_before);
  CHECK_FALSE(must(s.find_record("r1")).has_value());
  CHECK_FALSE(must(s.find_tx("tx1")).has_value());
  CHECK_FALSE(must(s.op_applied("op1")));
  CHECK(must(s.verify_audit()).entries == 0);
  CHECK(must(s.log_after(o.sl, 0, 100, 1 << 20)).entries.empty());
  // A second store object sees nothing either.
  auto other = must_open(*o.db);
  CHECK_FALSE(must(other->find_record("r1")).has_value());
}

STORE_CONTRACT(uow_nested, "a nested unit of work is a savepoint of the outer one", "[uow]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  REQUIRE_OK(s.transaction([&]() -> Status {
    FC_TRY(s.put_record(record("kept", RecordKind::child, "c1")));
    Status inner = s.transaction([&]() -> Status {
      FC_TRY(s.put_record(record("dropped", RecordKind::child, "c2")));
      return {Errc::cancelled, "inner fails"};
    });
    if (inner.code() != Errc::cancelled) return {Errc::internal, "the inner failure is lost"};
    // The outer unit of work sees its own write and not the rolled-back one.
    auto k = s.find_record("kept");
    if (!k.ok() || !k->has_value()) return {Errc::internal, "own write not visible"};
    auto d = s.find_record("dropped");
    if (!d.ok() || d->has_value()) return {Errc::internal, "rolled-back write visible"};
    return {};
  }));
  CHECK(must(s.find_record("kept")).has_value());
  CHECK_FALSE(must(s.find_record("dropped")).has_value());
}

STORE_CONTRACT(uow_isolation, "another store object sees a unit of work only once it commits",
               "[uow][race]") {
  auto o = org(E);
  if (!o) return;
  auto other = must_open(*o.db);
  std::atomic<bool> written{false}, checked{false};
  std::optional<bool> seen_before;
  std::thread writer([&] {
    Status st = o.s->transaction([&]() -> Status {
      FC_TRY(o.s->put_record(record("r1", RecordKind::child, "c1")));
      written = true;
      while (!checked) std::this_thread::sleep_for(1ms);
      return {};
    });
    CHECK(st.ok());
  });
  while (!written) std::this_thread::sleep_for(1ms);
  auto r = other->find_record("r1");
  seen_before = r.ok() && r->has_value();
  checked = true;
  writer.join();
  CHECK_FALSE(*seen_before);
  CHECK(must(other->find_record("r1")).has_value());
}

STORE_CONTRACT(uow_serialised, "units of work on one device from two store objects are serialised",
               "[uow][race][devices]") {
  auto o = org(E);
  if (!o) return;
  REQUIRE_OK(o.s->insert_device(device("d1", "sw1"), "hash-d1"));
  auto other = must_open(*o.db);
  // Each unit of work reads the device and writes it back one sync later: a lost update
  // (two units reading the same state) would leave fewer than all of them counted.
  constexpr int kEach = 15;
  std::atomic<int> failures{0};
  in_threads(2, [&](int i) {
    ServerStore& s = i == 0 ? *o.s : *other;
    for (int k = 0; k < kEach; ++k) {
      Status st = s.transaction([&]() -> Status {
        auto d = s.find_device("d1");
        if (!d.ok()) return d.status();
        Device dev = **d;
        const int n = dev.last_sync_at.empty() ? 0 : std::stoi(dev.last_sync_at);
        std::this_thread::sleep_for(1ms);
        dev.last_sync_at = std::to_string(n + 1);
        return s.update_device(dev);
      });
      if (!st.ok()) ++failures;
    }
  });
  CHECK(failures == 0);
  auto d = must(o.s->find_device("d1"));
  REQUIRE(d.has_value());
  CHECK(d->last_sync_at == std::to_string(2 * kEach));
}

// --- OrganisationStore

STORE_CONTRACT(organisation, "the organisation: round trips, order, unknown ids and duplicates",
               "[organisation]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  auto a = must(s.find_authority());
  REQUIRE(a.has_value());
  CHECK(a->name == "City");
  CHECK(a->la_code == "123");
  CHECK(must(s.find_area("north"))->name == "North");
  CHECK_FALSE(must(s.find_area("south")).has_value());
  CHECK(must(s.find_team("t2"))->area_id == "north");
  CHECK_FALSE(must(s.find_team("t9")).has_value());
  auto teams = must(s.list_teams());
  REQUIRE(teams.size() == 2);
  CHECK(teams[0].name == "Assessment");  // by name
  CHECK(teams[1].name == "Permanence");
  CHECK(must(s.list_areas()).size() == 1);
  auto ad = must(s.find_worker("ad"));
  REQUIRE(ad.has_value());
  CHECK(ad->team_id.empty());
  CHECK(ad->role == Role::administrator);
  CHECK_FALSE(must(s.find_worker("nobody")).has_value());
  auto workers = must(s.list_workers());
  REQUIRE(workers.size() == 8);
  CHECK(std::is_sorted(workers.begin(), workers.end(),
                       [](const Worker& x, const Worker& y) { return x.id < y.id; }));

  REQUIRE_OK(s.set_worker_active("sw1", false));
  CHECK_FALSE(must(s.find_worker("sw1"))->active);
  REQUIRE_OK(s.set_worker_role("sw1", Role::team_manager));
  CHECK(must(s.find_worker("sw1"))->role == Role::team_manager);
  CHECK(s.set_worker_active("nobody", true).code() == Errc::not_found);
  CHECK(s.set_worker_role("nobody", Role::team_manager).code() == Errc::not_found);

  // Duplicates and references to nothing are refused and change nothing.
  CHECK_FALSE(s.insert_worker({"sw2", "again", Role::social_worker, "t1", true, "t"}).ok());
  CHECK(must(s.find_worker("sw2"))->name == "name sw2");
  CHECK_FALSE(s.insert_team({"t1", "again", "north", "t"}).ok());
  CHECK_FALSE(s.insert_team({"t3", "Orphan", "no-such-area", "t"}).ok());
  CHECK_FALSE(must(s.find_team("t3")).has_value());
  CHECK_FALSE(s.insert_worker({"w9", "x", Role::social_worker, "no-such-team", true, "t"}).ok());
  CHECK_FALSE(must(s.find_worker("w9")).has_value());
}

// --- CredentialStore

STORE_CONTRACT(credentials, "sign-in state: attempts counted, locks, unknown workers",
               "[credentials]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  CHECK(s.find_credentials("nobody").status().code() == Errc::not_found);
  CHECK(s.put_credentials("nobody", {"h", 0, ""}).code() == Errc::not_found);
  CHECK_FALSE(must(s.begin_sign_in("nobody", "2026-01-02T09:00:00.000Z", 3, "x")).has_value());

  REQUIRE_OK(s.put_credentials("sw1", {"argon-hash", 0, ""}));
  const std::string now = "2026-01-02T09:00:00.000Z";
  const std::string until = "2026-01-02T09:15:00.000Z";
  auto a1 = must(s.begin_sign_in("sw1", now, 3, until));
  REQUIRE(a1.has_value());
  CHECK(a1->number == 1);
  CHECK(a1->password_hash == "argon-hash");
  CHECK(must(s.begin_sign_in("sw1", now, 3, until))->number == 2);
  CHECK(must(s.begin_sign_in("sw1", now, 3, until))->number == 3);  // locks
  CHECK(must(s.find_credentials("sw1")).locked_until == until);
  // Locked: nothing counted, and a success of an earlier attempt is refused.
  CHECK_FALSE(must(s.begin_sign_in("sw1", "2026-01-02T09:10:00.000Z", 3, until)).has_value());
  CHECK(must(s.find_credentials("sw1")).failed_signins == 3);
  CHECK_FALSE(must(s.end_sign_in("sw1", 2, "2026-01-02T09:10:00.000Z")));
  CHECK(must(s.find_credentials("sw1")).locked_until == until);
  // The attempt that locked may still succeed (its password was right).
  CHECK(must(s.end_sign_in("sw1", 3, "2026-01-02T09:10:00.000Z")));
  auto cleared = must(s.find_credentials("sw1"));
  CHECK(cleared.failed_signins == 0);
  CHECK(cleared.locked_until.empty());
  // A lock that ran out ends, and counting starts again.
  REQUIRE_OK(s.put_credentials("sw1", {"argon-hash", 3, until}));
  auto after = must(s.begin_sign_in("sw1", "2026-01-02T09:20:00.000Z", 3, "later"));
  REQUIRE(after.has_value());
  CHECK(after->number == 1);
}

STORE_CONTRACT(credentials_race, "sign-in attempts from two store objects are each counted once",
               "[credentials][race]") {
  auto o = org(E);
  if (!o) return;
  REQUIRE_OK(o.s->put_credentials("sw1", {"h", 0, ""}));
  auto other = must_open(*o.db);
  constexpr int kEach = 25;
  std::vector<std::int64_t> numbers[2];
  in_threads(2, [&](int i) {
    ServerStore& s = i == 0 ? *o.s : *other;
    for (int k = 0; k < kEach; ++k) {
      auto a = s.begin_sign_in("sw1", "2026-01-02T09:00:00.000Z", 1000, "later");
      if (a.ok() && a->has_value()) numbers[i].push_back((*a)->number);
    }
  });
  CHECK(numbers[0].size() + numbers[1].size() == 2 * kEach);
  std::set<std::int64_t> all(numbers[0].begin(), numbers[0].end());
  all.insert(numbers[1].begin(), numbers[1].end());
  CHECK(all.size() == 2 * kEach);  // no number handed out twice
  CHECK(must(o.s->find_credentials("sw1")).failed_signins == 2 * kEach);
}

// --- RoleGrantStore

STORE_CONTRACT(role_grants, "role grants: one pending per worker, decided once", "[grants]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  RoleGrant g{"g1", "sw1", Role::team_manager, "social_worker", "ad", "2026-01-02T09:00:00.000Z",
              "pending", "", ""};
  REQUIRE_OK(s.insert_role_grant(g));
  RoleGrant second = g;
  second.id = "g2";
  CHECK_FALSE(s.insert_role_grant(second).ok());  // a second pending grant for sw1
  RoleGrant other = g;
  other.id = "g3";
  other.worker_id = "sw2";
  other.requested_at = "2026-01-02T08:00:00.000Z";
  REQUIRE_OK(s.insert_role_grant(other));
  auto pending = must(s.pending_role_grants());
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].id == "g3");  // oldest first
  CHECK(must(s.pending_role_grant("sw1"))->id == "g1");
  CHECK_FALSE(must(s.pending_role_grant("sw3")).has_value());
  CHECK_FALSE(must(s.find_role_grant("nope")).has_value());

  g.state = "approved";
  g.decided_by = "tm";
  g.decided_at = "2026-01-02T10:00:00.000Z";
  REQUIRE_OK(s.decide_role_grant(g));
  auto decided = must(s.find_role_grant("g1"));
  REQUIRE(decided.has_value());
  CHECK(decided->state == "approved");
  CHECK(decided->decided_by == "tm");
  CHECK_FALSE(must(s.pending_role_grant("sw1")).has_value());
  g.state = "refused";
  CHECK(s.decide_role_grant(g).code() == Errc::not_found);  // not pending any more
  CHECK(must(s.find_role_grant("g1"))->state == "approved");
  RoleGrant ghost = g;
  ghost.id = "ghost";
  CHECK(s.decide_role_grant(ghost).code() == Errc::not_found);
  // Once decided, a new grant may wait for sw1.
  REQUIRE_OK(s.insert_role_grant(second));
}

// --- EnrollmentStore

STORE_CONTRACT(enrollment, "enrollment codes and failures per address", "[enroll]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  EnrollmentCode old{"e1", "look", "hash1", "sw1", "2026-01-01T00:00:00.000Z",
                     "2026-01-03T00:00:00.000Z", "2026-01-01T01:00:00.000Z", "d0", 0};
  REQUIRE_OK(s.insert_enrollment(old));  // inserted unused
  CHECK(must(s.find_enrollment("look"))->used_at.empty());
  REQUIRE_OK(s.update_enrollment(old));
  EnrollmentCode fresh{"e2", "look", "hash2", "sw1", "2026-01-02T00:00:00.000Z",
                       "2026-01-03T00:00:00.000Z", "", "", 0};
  REQUIRE_OK(s.insert_enrollment(fresh));
  CHECK(must(s.find_enrollment("look"))->id == "e2");  // the unused one first
  CHECK_FALSE(must(s.find_enrollment("other")).has_value());
  CHECK_FALSE(s.insert_enrollment(fresh).ok());
  fresh.failed_attempts = 2;
  fresh.used_at = "2026-01-02T01:00:00.000Z";
  fresh.device_id = "d1";
  REQUIRE_OK(s.update_enrollment(fresh));
  auto found = must(s.find_enrollment("look"));
  REQUIRE(found.has_value());
  CHECK(found->id == "e2");  // both used: the newest
  CHECK(found->failed_attempts == 2);
  CHECK(found->device_id == "d1");
  EnrollmentCode ghost = fresh;
  ghost.id = "ghost";
  CHECK(s.update_enrollment(ghost).code() == Errc::not_found);

  REQUIRE_OK(s.add_enrollment_failure("10.0.0.1", 1000, 0));
  REQUIRE_OK(s.add_enrollment_failure("10.0.0.1", 2000, 0));
  REQUIRE_OK(s.add_enrollment_failure("10.0.0.2", 2000, 0));
  CHECK(must(s.enrollment_failures("10.0.0.1", 0)) == 2);
  CHECK(must(s.enrollment_failures("10.0.0.1", 1500)) == 1);
  CHECK(must(s.enrollment_failures("10.0.0.9", 0)) == 0);
  REQUIRE_OK(s.add_enrollment_failure("10.0.0.1", 3000, 1500));  // forgets the one at 1000
  CHECK(must(s.enrollment_failures("10.0.0.1", 0)) == 2);
}

STORE_CONTRACT(enrollment_race, "failed enrollments from two store objects are all counted",
               "[enroll][race]") {
  auto o = org(E);
  if (!o) return;
  auto other = must_open(*o.db);
  constexpr int kEach = 25;
  std::atomic<int> failures{0};
  in_threads(2, [&](int i) {
    ServerStore& s = i == 0 ? *o.s : *other;
    for (int k = 0; k < kEach; ++k) {
      if (!s.add_enrollment_failure("10.0.0.1", 1000 + k, 0).ok()) ++failures;
    }
  });
  CHECK(failures == 0);
  CHECK(must(o.s->enrollment_failures("10.0.0.1", 0)) == 2 * kEach);
}

// --- SessionStore

STORE_CONTRACT(sessions, "web sessions: found by hash, touched, ended", "[sessions]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  REQUIRE_OK(s.insert_session({"h1", "sw1", "2026-01-02T09:00:00.000Z",
                               "2026-01-02T09:00:00.000Z", "2026-01-02T17:00:00.000Z"}));
  REQUIRE_OK(s.insert_session({"h2", "sw1", "t", "t", "t"}));
  REQUIRE_OK(s.insert_session({"h3", "sw2", "t", "t", "t"}));
  CHECK_FALSE(s.insert_session({"h1", "sw2", "t", "t", "t"}).ok());
  CHECK_FALSE(s.insert_session({"h4", "nobody", "t", "t", "t"}).ok());
  REQUIRE_OK(s.touch_session("h1", "2026-01-02T10:00:00.000Z"));
  auto h1 = must(s.find_session("h1"));
  REQUIRE(h1.has_value());
  CHECK(h1->worker_id == "sw1");
  CHECK(h1->last_seen_at == "2026-01-02T10:00:00.000Z");
  CHECK(h1->expires_at == "2026-01-02T17:00:00.000Z");
  CHECK_FALSE(must(s.find_session("nope")).has_value());
  REQUIRE_OK(s.delete_session("h3"));
  CHECK_FALSE(must(s.find_session("h3")).has_value());
  REQUIRE_OK(s.delete_sessions_of("sw1"));
  CHECK_FALSE(must(s.find_session("h1")).has_value());
  CHECK_FALSE(must(s.find_session("h2")).has_value());
}

// --- DeviceStore

STORE_CONTRACT(devices, "devices: by id and token hash, updates, holdings", "[devices]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  REQUIRE_OK(s.insert_device(device("d1", "sw1"), "hash-1"));
  REQUIRE_OK(s.insert_device(device("d2", "sw2"), "hash-2"));
  CHECK_FALSE(s.insert_device(device("d3", "sw1"), "hash-1").ok());  // token hash is unique
  CHECK_FALSE(s.insert_device(device("d1", "sw1"), "hash-9").ok());
  CHECK_FALSE(s.insert_device(device("d4", "nobody"), "hash-4").ok());
  CHECK(must(s.find_device_by_token_hash("hash-2"))->id == "d2");
  CHECK_FALSE(must(s.find_device_by_token_hash("hash-3")).has_value());
  CHECK_FALSE(must(s.find_device("d3")).has_value());
  CHECK(must(s.list_devices()).size() == 2);

  Device d = *must(s.find_device("d1"));
  CHECK(d.name == "tablet d1");
  CHECK_FALSE(d.clock_offset_ms.has_value());
  d.status = DeviceStatus::retiring;
  d.revoked_at = "2026-01-03T00:00:00.000Z";
  d.last_sync_at = "2026-01-02T12:00:00.000Z";
  d.clock_offset_ms = -1500;
  d.clock_samples = {{1000, -1400}, {2000, -1600}};
  REQUIRE_OK(s.update_device(d));
  Device back = *must(s.find_device("d1"));
  CHECK(back.status == DeviceStatus::retiring);
  CHECK(back.revoked_at == d.revoked_at);
  CHECK(back.last_sync_at == d.last_sync_at);
  CHECK(back.clock_offset_ms == std::optional<std::int64_t>(-1500));
  REQUIRE(back.clock_samples.size() == 2);
  CHECK(back.clock_samples[1].offset_ms == -1600);
  Device ghost = d;
  ghost.id = "ghost";
  CHECK(s.update_device(ghost).code() == Errc::not_found);

  CHECK(must(s.device_cases("d1")).empty());
  REQUIRE_OK(s.put_device_case("d1", "c1", HeldState::held));
  REQUIRE_OK(s.put_device_case("d1", "c2", HeldState::held));
  REQUIRE_OK(s.put_device_case("d1", "c1", HeldState::purged));
  auto held = must(s.device_cases("d1"));
  REQUIRE(held.size() == 2);
  CHECK(held["c1"] == HeldState::purged);
  CHECK(held["c2"] == HeldState::held);
  CHECK(must(s.device_cases("d2")).empty());
}

// --- ChangeLog

STORE_CONTRACT(change_log, "the change log: consecutive numbers, pages, scope", "[log]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  CHECK(must(s.head()) == 0);
  CHECK(s.reserve_seqs(0).status().code() == Errc::invalid_argument);
  std::int64_t first = 0;
  REQUIRE_OK(s.transaction([&]() -> Status {
    auto r = s.reserve_seqs(3);
    if (!r.ok()) return r.status();
    first = *r;
    auto next = s.reserve_seqs(2);
    if (!next.ok()) return next.status();
    if (*next != first + 3) return {Errc::internal, "numbers not consecutive"};
    return {};
  }));
  CHECK(first == 1);
  CHECK(must(s.head()) == 5);

  REQUIRE_OK(allocate(s, "c1", "sw1"));  // seq 6
  REQUIRE_OK(allocate(s, "c2", "sw3"));  // seq 7
  const auto a = append(s, "c1");
  const auto b = append(s, "c2");
  const auto c = append(s, "c1", RecordKind::assessment);
  const auto d = append(s, "c1", RecordKind::contact, std::string(200, 'x'));
  const auto unallocated = append(s, "c9");
  CHECK(must(s.head()) == unallocated);

  auto sw1 = must(s.log_after(o.sw1, 0, 100, 1 << 20));
  REQUIRE(sw1.entries.size() == 3);
  CHECK(sw1.entries[0].seq == a);
  CHECK(sw1.entries[1].seq == c);
  CHECK(sw1.entries[2].seq == d);
  CHECK_FALSE(sw1.more);
  auto e = sw1.entries[0];
  CHECK(e.op_id == "op" + std::to_string(a));
  CHECK(std::get<std::string>(e.value) == "v");
  CHECK(e.case_id == "c1");
  // Pages: at most max_entries; more tells what remains.
  auto page = must(s.log_after(o.sw1, 0, 2, 1 << 20));
  CHECK(page.entries.size() == 2);
  CHECK(page.more);
  auto rest = must(s.log_after(o.sw1, page.entries.back().seq, 2, 1 << 20));
  REQUIRE(rest.entries.size() == 1);
  CHECK(rest.entries[0].seq == d);
  CHECK_FALSE(rest.more);
  // max_bytes: stops once the values reach it, but always returns one entry.
  auto tiny = must(s.log_after(o.sw1, c, 100, 1));
  CHECK(tiny.entries.size() == 1);
  // Scope: the team manager sees the team's cases, the area manager and service lead both,
  // the contact centre only intake kinds of its own cases, the administrator nothing.
  REQUIRE_OK(allocate(s, "c3", "cc"));
  const auto cc_child = append(s, "c3");
  append(s, "c3", RecordKind::assessment);
  CHECK(must(s.log_after(o.sw3, 0, 100, 1 << 20)).entries.size() == 1);
  CHECK(must(s.log_after(o.tm, 0, 100, 1 << 20)).entries.size() == 5);
  CHECK(must(s.log_after(o.am, 0, 100, 1 << 20)).entries.size() == 6);
  CHECK(must(s.log_after(o.sl, 0, 100, 1 << 20)).entries.size() == 6);
  CHECK(must(s.log_after(o.ad, 0, 100, 1 << 20)).entries.empty());
  auto cc = must(s.log_after(o.cc, 0, 100, 1 << 20));
  REQUIRE(cc.entries.size() == 1);
  CHECK(cc.entries[0].seq == cc_child);
  (void)b;
  // A duplicate seq is refused.
  CHECK_FALSE(s.transaction([&] { return s.append_log(entry(a, "c1")); }).ok());
}

STORE_CONTRACT(change_log_race, "a reader's cursor never skips an entry committed later below it",
               "[log][race]") {
  auto o = org(E);
  if (!o) return;
  REQUIRE_OK(allocate(*o.s, "c1", "sw1"));
  auto second = must_open(*o.db);
  auto reader = must_open(*o.db);
  constexpr int kEach = 30;
  std::atomic<int> writers_done{0};
  std::atomic<int> failures{0};
  // The reader walks the log like a device: its cursor is the last seq it was given.
  std::vector<std::int64_t> seen;
  std::thread walk([&] {
    std::int64_t cursor = 0;
    for (;;) {
      const bool last_round = writers_done == 2;
      auto page = reader->log_after(o.sw1, cursor, 7, 1 << 20);
      if (!page.ok()) {
        ++failures;
        return;
      }
      for (const auto& e : page->entries) seen.push_back(e.seq);
      if (page->entries.empty()) std::this_thread::sleep_for(200us);
      if (!page->entries.empty()) cursor = page->entries.back().seq;
      if (last_round && !page->more) return;
    }
  });
  in_threads(2, [&](int i) {
    ServerStore& s = i == 0 ? *o.s : *second;
    for (int k = 0; k < kEach; ++k) {
      // Numbers reserved early, committed after a pause: another writer committing a higher
      // number meanwhile would let the reader's cursor pass this one.
      Status st = s.transaction([&]() -> Status {
        auto seq = s.reserve_seqs(1);
        if (!seq.ok()) return seq.status();
        std::this_thread::sleep_for(std::chrono::microseconds(300 * (k % 3)));
        return s.append_log(entry(*seq, "c1"));
      });
      if (!st.ok()) ++failures;
    }
    ++writers_done;
  });
  walk.join();
  CHECK(failures == 0);
  REQUIRE(seen.size() == 2 * kEach);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(std::set<std::int64_t>(seen.begin(), seen.end()).size() == seen.size());
}

STORE_CONTRACT(seq_race, "sequence numbers from two store objects are never handed out twice",
               "[log][race]") {
  auto o = org(E);
  if (!o) return;
  auto other = must_open(*o.db);
  constexpr int kEach = 40;
  std::vector<std::int64_t> got[2];
  in_threads(2, [&](int i) {
    ServerStore& s = i == 0 ? *o.s : *other;
    for (int k = 0; k < kEach; ++k) {
      auto r = s.reserve_seqs(2);  // outside a transaction: atomic on its own
      if (r.ok()) got[i].push_back(*r);
    }
  });
  std::set<std::int64_t> all;
  for (auto& v : got) {
    for (auto first : v) {
      all.insert(first);
      all.insert(first + 1);
    }
  }
  CHECK(all.size() == 4 * kEach);
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == 4 * kEach);
  CHECK(must(o.s->head()) == 4 * kEach);
}

// --- CaseStore

STORE_CONTRACT(cases, "cases: allocations, their history, scope and records", "[cases]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  CHECK_FALSE(must(s.find_allocation("c1")).has_value());
  CHECK(must(s.previous_worker("c1")).empty());
  REQUIRE_OK(allocate(s, "c1", "sw1"));
  REQUIRE_OK(allocate(s, "c2", "sw3"));
  REQUIRE_OK(allocate(s, "c1", "sw2", "sw1"));
  auto c1 = must(s.find_allocation("c1"));
  REQUIRE(c1.has_value());
  CHECK(c1->worker_id == "sw2");
  CHECK(c1->seq == 3);
  CHECK(must(s.previous_worker("c1")) == "sw1");
  CHECK(must(s.previous_worker("c2")).empty());
  auto history = must(s.allocations_after(0, 10));
  REQUIRE(history.size() == 3);
  CHECK(history[0].worker_id == "sw1");
  CHECK(history[2].worker_id == "sw2");
  CHECK(must(s.allocations_after(1, 1)).front().case_id == "c2");
  CHECK(must(s.allocations_after(3, 10)).empty());
  CHECK_FALSE(allocate(s, "c5", "nobody").ok());  // an unknown worker
  CHECK_FALSE(must(s.find_allocation("c5")).has_value());

  using Cases = std::set<std::string>;
  CHECK(must(s.visible_cases(o.sw1)) == Cases{});
  CHECK(must(s.visible_cases(o.sw2)) == Cases{"c1"});
  CHECK(must(s.visible_cases(o.tm)) == Cases{"c1"});
  CHECK(must(s.visible_cases(o.am)) == (Cases{"c1", "c2"}));
  CHECK(must(s.visible_cases(o.sl)) == (Cases{"c1", "c2"}));
  CHECK(must(s.visible_cases(o.ad)) == Cases{});

  CHECK_FALSE(must(s.find_record("r1")).has_value());
  StoredRecord r = record("r1", RecordKind::child, "c1");
  REQUIRE_OK(s.put_record(r));
  REQUIRE_OK(s.put_field("r1", "first_name", {std::string("Alex"), "h1", "sw1"}));
  REQUIRE_OK(s.put_field("r1", "flag", {true, "h2", "sw1"}));
  REQUIRE_OK(s.put_field("r1", "cleared", {Value{}, "h3", "sw1"}));
  REQUIRE_OK(s.put_field("r1", "first_name", {std::string("Sam"), "h4", "sw2"}));
  CHECK_FALSE(s.put_field("nope", "x", {std::string("y"), "h", "sw1"}).ok());
  r.deleted = true;
  r.deleted_hlc = "h5";
  r.updated_by = "sw2";
  r.created_by = "someone else";  // put_record keeps the creation columns
  REQUIRE_OK(s.put_record(r));
  auto back = must(s.find_record("r1"));
  REQUIRE(back.has_value());
  CHECK(back->deleted);
  CHECK(back->deleted_hlc == "h5");
  CHECK(back->updated_by == "sw2");
  CHECK(back->created_by == "sw1");
  REQUIRE(back->fields.size() == 3);
  CHECK(std::get<std::string>(back->fields["first_name"].value) == "Sam");
  CHECK(back->fields["first_name"].hlc == "h4");
  CHECK(std::get<bool>(back->fields["flag"].value));
  CHECK(is_null(back->fields["cleared"].value));
  CHECK(back->fields["cleared"].hlc == "h3");
  REQUIRE_OK(s.put_record(record("r0", RecordKind::assessment, "c1")));
  REQUIRE_OK(s.put_record(record("r2", RecordKind::child, "c2")));
  auto of_c1 = must(s.case_records("c1"));
  REQUIRE(of_c1.size() == 2);
  CHECK(of_c1[0].id == "r0");  // in id order, deleted ones included
  CHECK(of_c1[1].id == "r1");
  CHECK(must(s.case_records("c9")).empty());
  CHECK(must(s.case_ids()) == (std::vector<std::string>{"c1", "c2"}));
}

// --- IdempotencyStore

STORE_CONTRACT(idempotency, "transaction and operation ids are unique keys", "[idempotency]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  CHECK_FALSE(must(s.find_tx("tx1")).has_value());
  TxOutcome t{"tx1", "d1", false, "invalid_record", "why", 3, "dt", "rt"};
  REQUIRE_OK(s.put_tx(t));
  auto back = must(s.find_tx("tx1"));
  REQUIRE(back.has_value());
  CHECK_FALSE(back->accepted);
  CHECK(back->code == "invalid_record");
  CHECK(back->reason == "why");
  CHECK(back->op_count == 3);
  TxOutcome again = t;
  again.accepted = true;
  CHECK(s.put_tx(again).code() == Errc::validation);
  CHECK_FALSE(must(s.find_tx("tx1"))->accepted);  // the first answer stays
  CHECK_FALSE(must(s.op_applied("op1")));
  REQUIRE_OK(s.put_op("op1", "tx1"));
  CHECK(must(s.op_applied("op1")));
  CHECK(s.put_op("op1", "tx2").code() == Errc::validation);
  // A duplicate inside a unit of work rolls it back whole.
  Status st = s.transaction([&]() -> Status {
    FC_TRY(s.put_op("op2", "tx3"));
    return s.put_op("op1", "tx3");
  });
  CHECK_FALSE(st.ok());
  CHECK_FALSE(must(s.op_applied("op2")));
}

// The batch forms a transaction's writes use: the same rows as the single forms, quotes,
// backslashes, braces, commas and cleared values included, and the same refusals.
STORE_CONTRACT(batches, "batch reads and writes: the single forms' rows and refusals",
               "[cases][log][idempotency]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  REQUIRE_OK(allocate(s, "c1", "sw1"));  // seq 1
  const std::string awkward = "say \"hi\", {a,b} \\ NULL \n done";
  StoredRecord r1 = record("r1", RecordKind::child, "c1");
  StoredRecord r2 = record("r2", RecordKind::visit, "c1");
  r2.deleted = true;
  r2.deleted_hlc = "h9";
  const FieldState name{awkward, "h1", "sw1"}, flag{true, "h2", "sw1"}, cleared{Value{}, "h3", "sw1"};
  const FieldState renamed{std::string("NULL"), "h4", "sw2"};
  REQUIRE_OK(s.transaction([&]() -> Status {
    const std::vector<const StoredRecord*> records{&r1, &r2};
    FC_TRY(s.put_records(records));
    const std::vector<FieldWrite> fields{
        {"r1", "first_name", &name}, {"r1", "flag", &flag}, {"r2", "notes", &cleared}};
    return s.put_fields(fields);
  }));
  REQUIRE_OK(s.put_fields(std::vector<FieldWrite>{{"r1", "first_name", &renamed}}));
  CHECK_FALSE(s.put_fields(std::vector<FieldWrite>{{"nope", "x", &name}}).ok());
  const std::vector<std::string> ids{"r2", "missing", "r1"};
  auto found = must(s.find_records(ids));
  REQUIRE(found.size() == 2);
  std::map<std::string, StoredRecord> by_id;
  for (auto& r : found) by_id.emplace(r.id, r);
  REQUIRE(by_id.contains("r1"));
  REQUIRE(by_id.contains("r2"));
  CHECK(std::get<std::string>(by_id["r1"].fields["first_name"].value) == "NULL");
  CHECK(by_id["r1"].fields["first_name"].author == "sw2");
  CHECK(std::get<bool>(by_id["r1"].fields["flag"].value));
  CHECK(by_id["r2"].deleted);
  CHECK(by_id["r2"].kind == RecordKind::visit);
  CHECK(is_null(by_id["r2"].fields["notes"].value));
  CHECK(must(s.find_records(std::vector<std::string>{})).empty());

  // The log: entries of one transaction in one go, read back exactly.
  std::vector<LogEntry> entries;
  REQUIRE_OK(s.transaction([&]() -> Status {
    auto first = s.reserve_seqs(3);
    if (!first.ok()) return first.status();
    for (std::int64_t i = 0; i < 3; ++i) entries.push_back(entry(*first + i, "c1"));
    entries[0].value = awkward;
    entries[1].op = FieldChange::Op::remove;
    entries[1].field.clear();
    entries[1].value = Value{};
    entries[2].device_id = "d,1";
    return s.append_log_entries(entries);
  }));
  auto page = must(s.log_after(o.sw1, 0, 100, 1 << 20));
  REQUIRE(page.entries.size() == 3);
  CHECK(std::get<std::string>(page.entries[0].value) == awkward);
  CHECK(page.entries[1].op == FieldChange::Op::remove);
  CHECK(page.entries[2].device_id == "d,1");
  CHECK(page.entries[2].seq == entries[2].seq);
  // A batch holding a sequence number already used is refused whole.
  CHECK_FALSE(s.transaction([&] {
                 std::vector<LogEntry> again{entry(must(s.head()) + 1, "c1"), entries[0]};
                 return s.append_log_entries(again);
               }).ok());
  CHECK(must(s.log_after(o.sw1, 0, 100, 1 << 20)).entries.size() == 3);

  // Operations: which are applied, and putting them; a batch with one known id is refused.
  REQUIRE_OK(s.put_ops(std::vector<std::string>{"op\"a", "op,b"}, "tx1"));
  const std::vector<std::string> asked{"op\"a", "op-c", "op,b"};
  CHECK(must(s.applied_ops(asked)) == (std::set<std::string>{"op\"a", "op,b"}));
  CHECK(must(s.applied_ops(std::vector<std::string>{})).empty());
  Status dup = s.transaction(
      [&] { return s.put_ops(std::vector<std::string>{"op-c", "op,b"}, "tx2"); });
  CHECK(dup.code() == Errc::validation);
  CHECK_FALSE(must(s.op_applied("op-c")));
}

// Two store objects apply the same transaction (or operation) id at once, each looking first in
// its unit of work as the sync service does: exactly one records it, the other finds the answer.
template <StoreEngine E>
void same_id_race(bool operation) {
  auto o = org(E);
  if (!o) return;
  auto other = must_open(*o.db);
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    const std::string id = "id" + std::to_string(round);
    std::atomic<int> recorded{0}, found{0}, failed{0};
    in_threads(2, [&](int i) {
      ServerStore& s = i == 0 ? *o.s : *other;
      bool seen = false;
      Status st = s.transaction([&]() -> Status {
        if (operation) {
          auto applied = s.op_applied(id);
          if (!applied.ok()) return applied.status();
          if (*applied) {
            seen = true;
            return {};
          }
          std::this_thread::sleep_for(2ms);
          return s.put_op(id, "tx-" + std::to_string(i));
        }
        auto known = s.find_tx(id);
        if (!known.ok()) return known.status();
        if (known->has_value()) {
          seen = (*known)->device_id == "d0" || (*known)->device_id == "d1";
          return seen ? Status() : Status(Errc::integrity, "a different answer");
        }
        std::this_thread::sleep_for(2ms);
        return s.put_tx({id, "d" + std::to_string(i), true, "", "", 1, "dt", "rt"});
      });
      if (!st.ok()) {
        ++failed;
      } else if (seen) {
        ++found;
      } else {
        ++recorded;
      }
    });
    CHECK(recorded == 1);
    CHECK(found == 1);
    CHECK(failed == 0);
  }
}

STORE_CONTRACT(tx_race, "the same transaction id from two store objects: one wins, one sees it",
               "[idempotency][race]") {
  same_id_race<E>(false);
}

STORE_CONTRACT(op_race, "the same operation id from two store objects: applied once",
               "[idempotency][race]") {
  same_id_race<E>(true);
}

STORE_CONTRACT(tx_put_race, "two blind puts of one transaction id: exactly one succeeds",
               "[idempotency][race]") {
  auto o = org(E);
  if (!o) return;
  auto other = must_open(*o.db);
  for (int round = 0; round < 10; ++round) {
    const std::string id = "blind" + std::to_string(round);
    std::atomic<int> ok{0};
    in_threads(2, [&](int i) {
      ServerStore& s = i == 0 ? *o.s : *other;
      if (s.put_tx({id, "d" + std::to_string(i), true, "", "", 1, "dt", "rt"}).ok()) ++ok;
    });
    CHECK(ok == 1);
    CHECK(must(o.s->find_tx(id)).has_value());
  }
}

// --- ConflictStore

STORE_CONTRACT(conflicts, "conflicts: open ones in scope, resolved ones after the cursor",
               "[conflicts]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  REQUIRE_OK(allocate(s, "c1", "sw1"));  // seq 1
  REQUIRE_OK(allocate(s, "c2", "sw3"));  // seq 2
  REQUIRE_OK(s.put_record(record("r1", RecordKind::child, "c1")));
  REQUIRE_OK(s.put_record(record("r2", RecordKind::assessment, "c1")));
  auto conflict = [](const std::string& id, const std::string& rec, const std::string& case_id,
                     const std::string& field) {
    StoredConflict c;
    c.conflict.conflict_id = id;
    c.conflict.record_id = rec;
    c.conflict.case_id = case_id;
    c.conflict.field = field;
    c.conflict.kept = std::string("kept");
    c.conflict.kept_hlc = "h2";
    c.conflict.lost = std::string("lost");
    c.conflict.lost_hlc = "h1";
    c.conflict.lost_author = "sw2";
    c.lost_device = "d2";
    c.detected_seq = 2;
    c.detected_at = "2026-01-02T09:00:00.000Z";
    return c;
  };
  REQUIRE_OK(s.insert_conflict(conflict("k1", "r1", "c1", "first_name")));
  REQUIRE_OK(s.insert_conflict(conflict("k2", "r2", "c1", "outcome")));
  REQUIRE_OK(s.insert_conflict(conflict("k3", "r9", "c2", "x")));
  CHECK_FALSE(s.insert_conflict(conflict("k1", "r1", "c1", "first_name")).ok());
  auto open = must(s.conflicts_for(o.sw1, 0));
  REQUIRE(open.size() == 2);
  CHECK(open[0].conflict.conflict_id == "k1");
  CHECK(std::get<std::string>(open[0].conflict.lost) == "lost");
  CHECK(open[0].lost_device == "d2");
  CHECK(open[0].resolved_seq == 0);
  // The contact centre sees conflicts of intake records only (none of its own cases here).
  CHECK(must(s.conflicts_for(o.cc, 0)).empty());
  CHECK(must(s.conflicts_for(o.am, 0)).size() == 3);

  REQUIRE_OK(s.resolve_conflicts("r1", "first_name", 10, "2026-01-02T10:00:00.000Z"));
  auto after = must(s.conflicts_for(o.sw1, 5));  // resolved after the cursor: still shown
  REQUIRE(after.size() == 2);
  CHECK(after[0].resolved_seq == 10);
  CHECK(after[0].resolved_at == "2026-01-02T10:00:00.000Z");
  auto later = must(s.conflicts_for(o.sw1, 10));  // the device has seen the resolution
  REQUIRE(later.size() == 1);
  CHECK(later[0].conflict.conflict_id == "k2");
  // Resolving again does not move an earlier resolution.
  REQUIRE_OK(s.resolve_conflicts("r1", "first_name", 20, "2026-01-02T11:00:00.000Z"));
  CHECK(must(s.conflicts_for(o.sw1, 5))[0].resolved_seq == 10);
}

// --- ClaimedTimeStore

STORE_CONTRACT(claimed_times, "claimed times: one per record and field", "[claims]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  ClaimedTime c;
  c.record_id = "r1";
  c.field = "completed_at";
  c.case_id = "c1";
  c.kind = RecordKind::assessment;
  c.claimed = "2026-01-02T09:00:00.000Z";
  c.corrected = "2026-01-02T08:59:00.000Z";
  c.received_at = "2026-01-02T10:00:00.000Z";
  c.offset_ms = 60000;
  c.device_id = "d1";
  c.worker_id = "sw1";
  c.tx_id = "tx1";
  c.large_offset = true;
  CHECK_FALSE(must(s.find_claimed_time("r1", "completed_at")).has_value());
  REQUIRE_OK(s.put_claimed_time(c));
  c.corrected = "2026-01-02T08:58:00.000Z";
  c.large_offset = false;
  c.after_receipt = true;
  REQUIRE_OK(s.put_claimed_time(c));  // replaces
  auto back = must(s.find_claimed_time("r1", "completed_at"));
  REQUIRE(back.has_value());
  CHECK(back->corrected == "2026-01-02T08:58:00.000Z");
  CHECK(back->after_receipt);
  CHECK_FALSE(back->large_offset);
  CHECK(back->offset_ms == 60000);
  CHECK(back->kind == RecordKind::assessment);
  CHECK_FALSE(must(s.find_claimed_time("r1", "other")).has_value());
  REQUIRE_OK(s.delete_claimed_time("r1", "completed_at"));
  CHECK_FALSE(must(s.find_claimed_time("r1", "completed_at")).has_value());
  REQUIRE_OK(s.delete_claimed_time("r1", "completed_at"));  // nothing to delete is fine
}

// --- FigureFactStore

namespace {
FigureFact fact(const std::string& indicator, const std::string& record_id,
                const std::string& case_id, bool hit = false) {
  FigureFact f;
  f.indicator = indicator;
  f.record_id = record_id;
  f.case_id = case_id;
  f.start = "2026-01-01";
  f.end = "2026-01-05";
  f.hit = hit;
  return f;
}
}  // namespace

STORE_CONTRACT(figure_facts, "figure facts: replaced per case, attributed, rebuilt", "[facts]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  REQUIRE_OK(allocate(s, "c1", "sw1"));
  REQUIRE_OK(s.replace_figure_facts("c1", {}, {},
                                    {fact("a", "r1", "c1"), fact("a", "r2", "c1", true),
                                     fact("b", "r1", "c1")}));
  REQUIRE_OK(s.replace_figure_facts("c2", {}, {}, {fact("a", "r3", "c2")}));
  auto a = must(s.case_figure_facts("c1", "a"));
  REQUIRE(a.size() == 2);
  CHECK(a[0].record_id == "r1");
  CHECK(a[1].hit);
  CHECK(must(s.figure_facts("")).size() == 4);
  CHECK(must(s.figure_facts("a")).size() == 3);
  auto attributed = must(s.attributed_figure_facts("a"));
  REQUIRE(attributed.size() == 3);
  CHECK(attributed[0].worker == "sw1");
  CHECK(attributed[0].team == "t1");
  CHECK(attributed[0].area == "north");
  CHECK(attributed[2].worker.empty());  // c2 is not allocated
  CHECK(must(s.attributed_case_figure_facts("c1")).size() == 3);

  // Replacing one indicator leaves the others; replacing named records leaves the rest.
  REQUIRE_OK(s.replace_figure_facts("c1", {"a"}, {}, {fact("a", "r2", "c1")}));
  CHECK(must(s.case_figure_facts("c1", "a")).size() == 1);
  CHECK_FALSE(must(s.case_figure_facts("c1", "a"))[0].hit);
  CHECK(must(s.case_figure_facts("c1", "b")).size() == 1);
  REQUIRE_OK(s.replace_figure_facts("c1", {"a", "b"}, {"r1"}, {fact("a", "r1", "c1", true)}));
  CHECK(must(s.case_figure_facts("c1", "a")).size() == 2);
  CHECK(must(s.case_figure_facts("c1", "b")).empty());
  // A failing unit of work leaves the facts as they were.
  CHECK_FALSE(s.transaction([&]() -> Status {
                FC_TRY(s.replace_figure_facts("c1", {}, {}, {}));
                return {Errc::cancelled, "abandon"};
              }).ok());
  CHECK(must(s.case_figure_facts("c1", "a")).size() == 2);

  REQUIRE_OK(s.transaction([&] {
    return s.rebuild_figure_facts([](const FigureFactStore::FigureFactSink& sink) -> Status {
      FC_TRY(sink({fact("z", "r1", "c1"), fact("z", "r2", "c1")}));
      return sink({fact("z", "r3", "c2")});
    });
  }));
  CHECK(must(s.figure_facts("")).size() == 3);
  CHECK(must(s.case_figure_facts("c1", "z")).size() == 2);
  REQUIRE_OK(s.clear_figure_facts());
  CHECK(must(s.figure_facts("")).empty());
}

STORE_CONTRACT(figure_inputs, "figure inputs: selected records, fields and claims per case",
               "[facts]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  REQUIRE_OK(s.put_record(record("r1", RecordKind::assessment, "c1")));
  REQUIRE_OK(s.put_field("r1", "status", {std::string("completed"), "h1", "sw1"}));
  REQUIRE_OK(s.put_field("r1", "notes", {std::string("n"), "h1", "sw1"}));
  REQUIRE_OK(s.put_record(record("r2", RecordKind::visit, "c1")));
  REQUIRE_OK(s.put_record(record("r3", RecordKind::assessment, "c2")));
  ClaimedTime c;
  c.record_id = "r1";
  c.field = "status";
  c.case_id = "c1";
  c.kind = RecordKind::assessment;
  REQUIRE_OK(s.put_claimed_time(c));

  FigureInputSelection sel;
  sel.kinds = {RecordKind::assessment};
  sel.fields = {"status"};
  auto in = must(s.case_figure_inputs("c1", sel));
  REQUIRE(in.records.size() == 1);
  CHECK(in.records[0].id == "r1");
  CHECK(in.records[0].fields.size() == 1);
  CHECK(in.records[0].fields.count("status") == 1);
  REQUIRE(in.claims.size() == 1);
  sel.records = {"r2"};
  CHECK(must(s.case_figure_inputs("c1", sel)).records.size() == 2);
  CHECK(s.each_case_figure_inputs(sel, [](CaseFigureInputs&) { return Status(); }).code() ==
        Errc::invalid_argument);
  sel.records.clear();
  std::vector<std::string> cases;
  REQUIRE_OK(s.each_case_figure_inputs(sel, [&](CaseFigureInputs& one) -> Status {
    cases.push_back(one.case_id);
    return {};
  }));
  CHECK(cases == (std::vector<std::string>{"c1", "c2"}));
  // A failure from fn stops the scan and is returned.
  int calls = 0;
  CHECK(s.each_case_figure_inputs(sel, [&](CaseFigureInputs&) -> Status {
           ++calls;
           return {Errc::cancelled, "stop"};
         }).code() == Errc::cancelled);
  CHECK(calls == 1);
}

// --- AuditLog

STORE_CONTRACT(audit, "the audit log: a chain, queries, verification", "[audit]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  auto empty = must(s.verify_audit());
  CHECK(empty.intact);
  CHECK(empty.entries == 0);
  REQUIRE_OK(s.append_audit(audit_event("a1", "case_read")));
  AuditEvent other = audit_event("a2", "case_write");
  other.relation = "other";
  other.worker_id = "sw2";
  REQUIRE_OK(s.append_audit(other));
  REQUIRE_OK(s.append_audit(audit_event("a3", "sign_in")));
  CHECK_FALSE(s.append_audit(audit_event("a1")).ok());  // ids are unique
  auto all = must(s.query_audit({}));
  REQUIRE(all.size() == 3);
  CHECK(all[0].seq == 1);
  CHECK(all[1].prev_hash == all[0].hash);
  CHECK(all[2].prev_hash == all[1].hash);
  CHECK(must(s.audit_events("sign_in")).size() == 1);
  AuditQuery q;
  q.worker_id = "sw2";
  CHECK(must(s.query_audit(q)).size() == 1);
  q = {};
  q.not_allocated = true;
  auto outside = must(s.query_audit(q));
  REQUIRE(outside.size() == 1);
  CHECK(outside[0].id == "a2");
  q = {};
  q.limit = 2;
  CHECK(must(s.query_audit(q)).size() == 2);
  auto v = must(s.verify_audit());
  CHECK(v.intact);
  CHECK(v.entries == 3);
  CHECK(v.head_hash == all[2].hash);
  // An edited row breaks the chain.
  REQUIRE(o.db->query("UPDATE audit SET detail = 'edited' WHERE seq = 2").ok());
  auto broken = must(s.verify_audit());
  CHECK_FALSE(broken.intact);
  CHECK(broken.first_bad_seq == 2);
}

STORE_CONTRACT(audit_race, "two store objects appending at once never fork the audit chain",
               "[audit][race]") {
  auto o = org(E);
  if (!o) return;
  auto other = must_open(*o.db);
  constexpr int kEach = 30;
  std::atomic<int> failures{0};
  in_threads(2, [&](int i) {
    ServerStore& s = i == 0 ? *o.s : *other;
    for (int k = 0; k < kEach; ++k) {
      const std::string id = "a" + std::to_string(i) + "-" + std::to_string(k);
      // Half on their own, half inside a unit of work with other writes.
      Status st = k % 2 == 0 ? s.append_audit(audit_event(id)) : s.transaction([&]() -> Status {
        FC_TRY(s.put_op("op-" + id, "tx"));
        return s.append_audit(audit_event(id));
      });
      if (!st.ok()) ++failures;
    }
  });
  CHECK(failures == 0);
  auto v = must(o.s->verify_audit());
  CHECK(v.intact);
  CHECK(v.problem.empty());
  CHECK(v.entries == 2 * kEach);
  auto all = must(other->query_audit({"", "", "", "", false, 1000}));
  REQUIRE(all.size() == 2 * kEach);
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].seq == static_cast<std::int64_t>(i + 1));
    if (i > 0) CHECK(all[i].prev_hash == all[i - 1].hash);
  }
}

// --- Figure change log

STORE_CONTRACT(figure_change_log, "the figure change log: every figure write appends, in its transaction",
               "[changes]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  CHECK(must(s.figure_change_head()) == 0);
  CHECK(must(s.figure_changes_after(0, 100)).changes.empty());
  REQUIRE_OK(allocate(s, "c1", "sw1"));
  REQUIRE_OK(s.replace_figure_facts("c2", {}, {}, {}));
  REQUIRE_OK(s.clear_figure_facts());
  REQUIRE_OK(s.append_figure_change("c3"));
  // A unit of work that fails appends nothing.
  Status st = s.transaction([&]() -> Status {
    FC_TRY(s.replace_figure_facts("c9", {}, {}, {}));
    return {Errc::validation, "the unit of work refuses itself"};
  });
  CHECK(st.code() == Errc::validation);

  auto page = must(s.figure_changes_after(0, 100));
  CHECK(page.complete);
  REQUIRE(page.changes.size() == 4);
  CHECK(page.changes[0].case_id == "c1");
  CHECK(page.changes[1].case_id == "c2");
  CHECK(page.changes[2].case_id.empty());  // every case
  CHECK(page.changes[3].case_id == "c3");
  for (std::size_t i = 1; i < page.changes.size(); ++i) {
    CHECK(page.changes[i].id > page.changes[i - 1].id);
  }
  const std::int64_t head = must(s.figure_change_head());
  CHECK(head == page.changes.back().id);
  // Another store object (another instance) reads the same log.
  auto other = must_open(*o.db);
  CHECK(must(other->figure_change_head()) == head);
  auto later = must(other->figure_changes_after(page.changes[1].id, 1));
  REQUIRE(later.changes.size() == 1);
  CHECK(later.changes[0].id == page.changes[2].id);
  CHECK(must(other->figure_changes_after(head, 100)).changes.empty());

  // Pruning keeps the newest entry, so the head never goes back; a cursor older than the
  // pruned entries is told that it missed some.
  REQUIRE_OK(s.prune_figure_changes(std::numeric_limits<std::int64_t>::max()));
  CHECK(must(s.figure_change_head()) == head);
  auto after_prune = must(other->figure_changes_after(0, 100));
  CHECK_FALSE(after_prune.complete);
  REQUIRE(after_prune.changes.size() == 1);
  CHECK(after_prune.changes[0].id == head);
  // A cursor at the pruned point misses nothing.
  auto current = must(other->figure_changes_after(page.changes[2].id, 100));
  CHECK(current.complete);
  CHECK(current.changes.size() == 1);
  // Entries newer than the cut are kept.
  REQUIRE_OK(s.append_figure_change("c4"));
  REQUIRE_OK(s.prune_figure_changes(0));
  CHECK(must(s.figure_changes_after(head, 100)).changes.size() == 1);
  CHECK(must(s.figure_change_head()) > head);
}

STORE_CONTRACT(figure_change_race,
               "figure changes from two store objects: a reader's cursor never skips one",
               "[changes]") {
  auto o = org(E);
  if (!o) return;
  auto writer2 = must_open(*o.db);
  auto reader = must_open(*o.db);
  constexpr int kEach = 40;
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::vector<FigureChange> seen;
  bool complete = true;
  std::thread walk([&] {
    std::int64_t cursor = 0;
    for (;;) {
      const bool last = done.load();
      auto page = reader->figure_changes_after(cursor, 7);
      if (!page.ok()) {
        ++failures;
        return;
      }
      complete = complete && page->complete;
      for (const auto& c : page->changes) seen.push_back(c);
      if (!page->changes.empty()) cursor = page->changes.back().id;
      if (last && page->changes.empty()) return;
    }
  });
  in_threads(2, [&](int i) {
    ServerStore& s = i == 0 ? *o.s : *writer2;
    for (int k = 0; k < kEach; ++k) {
      const std::string id = "c" + std::to_string(i) + "-" + std::to_string(k);
      Status st = k % 2 == 0 ? s.replace_figure_facts(id, {}, {}, {})
                             : s.transaction([&]() -> Status {
                                 FC_TRY(s.append_figure_change(id));
                                 return s.put_op("op-" + id, "tx");
                               });
      if (!st.ok()) ++failures;
    }
  });
  done = true;
  walk.join();
  CHECK(failures == 0);
  CHECK(complete);
  std::set<std::string> cases;
  for (const auto& c : seen) cases.insert(c.case_id);
  CHECK(seen.size() == 2 * kEach);
  CHECK(cases.size() == 2 * kEach);
  REQUIRE_FALSE(seen.empty());
  CHECK(must(o.s->figure_change_head()) == seen.back().id);
}

// --- Request counters

STORE_CONTRACT(request_counters, "request counters: fixed windows per key", "[counters]") {
  auto o = org(E);
  if (!o) return;
  ServerStore& s = *o.s;
  auto other = must_open(*o.db);
  CHECK(must(s.count_request("d1/m", 60'000)).count == 1);
  CHECK(must(other->count_request("d1/m", 60'000)).count == 2);
  CHECK(must(s.count_request("d2/m", 60'000)).count == 1);  // keys are independent
  // A request stamped with an earlier window counts in the current one.
  auto late = must(s.count_request("d1/m", 0));
  CHECK(late.count == 3);
  CHECK(late.window_start_ms == 60'000);
  // A later window starts again.
  auto next = must(other->count_request("d1/m", 120'000));
  CHECK(next.count == 1);
  CHECK(next.window_start_ms == 120'000);
  CHECK(must(s.count_request("d1/m", 120'000)).count == 2);
  // Forgotten windows count from 1 again; newer ones are kept.
  REQUIRE_OK(s.forget_request_windows(100'000));
  CHECK(must(s.count_request("d2/m", 60'000)).count == 1);
  CHECK(must(s.count_request("d1/m", 120'000)).count == 3);
}

STORE_CONTRACT(request_counter_race, "request counters: two store objects never count alike",
               "[counters]") {
  auto o = org(E);
  if (!o) return;
  auto other = must_open(*o.db);
  constexpr int kEach = 50;
  std::vector<std::int64_t> counts[2];
  std::atomic<int> failures{0};
  in_threads(2, [&](int i) {
    ServerStore& s = i == 0 ? *o.s : *other;
    for (int k = 0; k < kEach; ++k) {
      auto c = s.count_request("d1/m", 60'000);
      if (!c.ok()) {
        ++failures;
        continue;
      }
      counts[i].push_back(c->count);
    }
  });
  CHECK(failures == 0);
  std::set<std::int64_t> all(counts[0].begin(), counts[0].end());
  all.insert(counts[1].begin(), counts[1].end());
  CHECK(all.size() == 2 * kEach);
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == 2 * kEach);
}

}  // namespace fieldcase::test
