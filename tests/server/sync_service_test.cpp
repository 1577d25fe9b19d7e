// SyncService in process on a temporary SQLite store: idempotency, whole-transaction
// rejection, the shared validation rules, scope, merge and conflicts, paging, reallocation,
// clock offsets and claimed times, authentication.
#include <algorithm>
#include <set>

#include "server_fixture.hpp"

using namespace fieldcase;
using namespace fieldcase::test;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

const sync::Rejection* rejection_for(const sync::SyncResponse& res, const std::string& tx_id) {
  for (const auto& r : res.rejected) {
    if (r.tx_id == tx_id) return &r;
  }
  return nullptr;
}

// A child allocated to `worker`, created by `d`; returns its id.
std::string new_child(ServerFixture& f, TestDevice& d, const std::string& worker,
                      const std::string& last_name = "Smith") {
  const std::string child = f.new_id();
  REQUIRE(f.admin->allocate(child, worker).ok());
  auto res = f.sync(
      d, {create_tx(d, RecordKind::child, child, child, child_fields(last_name), f.now_text())});
  REQUIRE(res.rejected.empty());
  REQUIRE(res.accepted.size() == 1);
  return child;
}

Fields assessment_fields(ServerFixture& f, int start_days_ago = 10) {
  return {{"assessment_kind", std::string("single")},
          {"start_date", f.today(-start_days_ago)},
          {"status", std::string("in_progress")}};
}

}  // namespace

TEST_CASE("server sync: an accepted transaction is applied once and a retry gets the same answer",
          "[sync]") {
  ServerFixture f;
  auto d = f.device(f.sw1, "dev-a");
  const std::string child = f.new_id();
  REQUIRE(f.admin->allocate(child, f.sw1).ok());
  auto tx = create_tx(d, RecordKind::child, child, child, child_fields(), f.now_text());

  auto first = f.sync(d, {tx});
  CHECK(first.accepted == std::vector<std::string>{tx.tx_id});
  CHECK(first.rejected.empty());
  const auto log_rows = f.count("SELECT COUNT(*) FROM change_log WHERE tx_id = '" + tx.tx_id + "'");
  CHECK(log_rows == static_cast<std::int64_t>(tx.ops.size()));

  // The answer was lost; the device sends the same transaction again.
  auto again = f.sync(d, {tx});
  CHECK(again.accepted == std::vector<std::string>{tx.tx_id});
  CHECK(again.rejected.empty());
  CHECK(f.count("SELECT COUNT(*) FROM change_log WHERE tx_id = '" + tx.tx_id + "'") == log_rows);
  CHECK(f.count("SELECT COUNT(*) FROM sync_transaction") == 1);
  CHECK(f.field(child, "last_name") == Value{std::string("Smith")});
  // The device's own operations are not sent back to it.
  for (const auto& c : first.changes) CHECK(c.author == "server");
}

TEST_CASE("server sync: operations already applied are skipped in a later transaction", "[sync]") {
  ServerFixture f;
  auto d = f.device(f.sw1, "dev-a");
  const std::string child = new_child(f, d, f.sw1);
  const std::string base = server_stamp_of(f, child, "first_name");

  sync::Transaction a;
  a.tx_id = f.new_id();
  a.ops.push_back(set_op(d, RecordKind::child, child, child, "first_name", std::string("Alexandra"),
                         base, f.now_text()));
  REQUIRE(f.sync(d, {a}).accepted.size() == 1);

  // The same operation again, inside a different transaction with one new operation.
  sync::Transaction b;
  b.tx_id = f.new_id();
  b.ops.push_back(a.ops[0]);
  b.ops.push_back(a.ops[0]);  // and repeated within the transaction
  b.ops.push_back(set_op(d, RecordKind::child, child, child, "address",
                         std::string("1 High Street"), "", f.now_text()));
  auto res = f.sync(d, {b});
  CHECK(res.accepted == std::vector<std::string>{b.tx_id});
  CHECK(f.count("SELECT COUNT(*) FROM change_log WHERE op_id = '" + a.ops[0].op_id + "'") == 1);
  CHECK(f.count("SELECT COUNT(*) FROM applied_op WHERE op_id = '" + a.ops[0].op_id + "'") == 1);
  CHECK(f.field(child, "address") == Value{std::string("1 High Street")});
  CHECK(f.count("SELECT COUNT(*) FROM conflict") == 0);
}

TEST_CASE("server sync: one invalid record rejects its whole transaction and nothing else",
          "[sync]") {
  ServerFixture f;
  auto d = f.device(f.sw1, "dev-a");
  const std::string child = f.new_id();
  const std::string visit = f.new_id();
  REQUIRE(f.admin->allocate(child, f.sw1).ok());
  const auto seq_before = f.count("SELECT value FROM server_seq");

  // A new child and a visit without the required child_seen: the whole transaction fails.
  auto bad = create_tx(d, RecordKind::child, child, child, child_fields(), f.now_text());
  bad.ops.push_back(create_op(d, RecordKind::visit, visit, child, f.now_text()));
  bad.ops.push_back(set_op(d, RecordKind::visit, visit, child, "visit_type",
                           std::string("cp_statutory"), "", f.now_text()));
  bad.ops.push_back(set_op(d, RecordKind::visit, visit, child, "start_at", f.now_text(-hours(2)),
                           "", f.now_text()));
  const std::string good_child = f.new_id();
  REQUIRE(f.admin->allocate(good_child, f.sw1).ok());
  auto good =
      create_tx(d, RecordKind::child, good_child, good_child, child_fields("Jones"), f.now_text());

  auto res = f.sync(d, {bad, good});
  REQUIRE(res.rejected.size() == 1);
  CHECK(res.rejected[0].tx_id == bad.tx_id);
  CHECK(res.rejected[0].code == "validation");
  CHECK_THAT(res.rejected[0].reason, Catch::Contains("visit.child_seen"));
  CHECK(res.accepted == std::vector<std::string>{good.tx_id});
  CHECK_FALSE(f.record(child).has_value());
  CHECK_FALSE(f.record(visit).has_value());
  CHECK(f.count("SELECT COUNT(*) FROM change_log WHERE tx_id = '" + bad.tx_id + "'") == 0);
  CHECK(f.count("SELECT COUNT(*) FROM applied_op WHERE tx_id = '" + bad.tx_id + "'") == 0);
  CHECK(f.record(good_child).has_value());
  (void)seq_before;

  // A retry of the rejected transaction gets the same rejection.
  auto retry = f.sync(d, {bad});
  REQUIRE(retry.rejected.size() == 1);
  CHECK(retry.rejected[0].code == "validation");
  CHECK(retry.rejected[0].reason == res.rejected[0].reason);
  CHECK(retry.accepted.empty());
}

TEST_CASE("server sync: structural mistakes in operations are rejected as bad requests", "[sync]") {
  ServerFixture f;
  auto d = f.device(f.sw1, "dev-a");
  const std::string child = new_child(f, d, f.sw1);

  sync::Transaction set_before_create;
  set_before_create.tx_id = f.new_id();
  set_before_create.ops.push_back(set_op(d, RecordKind::visit, f.new_id(), child, "location",
                                         std::string("home"), "", f.now_text()));
  sync::Transaction wrong_kind;
  wrong_kind.tx_id = f.new_id();
  wrong_kind.ops.push_back(set_op(d, RecordKind::visit, child, child, "location",
                                  std::string("home"), "", f.now_text()));
  sync::Transaction unknown_field;
  unknown_field.tx_id = f.new_id();
  unknown_field.ops.push_back(
      set_op(d, RecordKind::child, child, child, "shoe_size", std::int64_t{4}, "", f.now_text()));

  // A record for an allocated case whose child the server does not have.
  const std::string childless = f.new_id();
  REQUIRE(f.admin->allocate(childless, f.sw1).ok());
  auto orphan = create_tx(d, RecordKind::cin_plan, f.new_id(), childless,
                          {{"start_date", f.today(-1)}}, f.now_text());

  auto res = f.sync(d, {set_before_create, wrong_kind, unknown_field, orphan});
  REQUIRE(res.rejected.size() == 4);
  CHECK(rejection_for(res, orphan.tx_id)->code == "validation");
  CHECK(rejection_for(res, orphan.tx_id)->reason == "cin_plan.case_id: names no child");
  CHECK(rejection_for(res, set_before_create.tx_id)->code == "bad_request");
  CHECK_THAT(rejection_for(res, set_before_create.tx_id)->reason,
             Catch::Contains("does not exist"));
  CHECK(rejection_for(res, wrong_kind.tx_id)->code == "bad_request");
  CHECK(rejection_for(res, unknown_field.tx_id)->code == "validation");
  CHECK_THAT(rejection_for(res, unknown_field.tx_id)->reason, Catch::Contains("child.shoe_size"));
}

TEST_CASE("server sync: the assessment status machine is enforced by the server", "[sync]") {
  ServerFixture f;
  auto worker_dev = f.device(f.sw1, "dev-a");
  auto manager_dev = f.device(f.manager, "dev-m");
  const std::string child = new_child(f, worker_dev, f.sw1);
  const std::string assessment = f.new_id();
  REQUIRE(f.sync(worker_dev, {create_tx(worker_dev, RecordKind::assessment, assessment, child,
                                        assessment_fields(f), f.now_text())})
              .accepted.size() == 1);

  auto status_tx = [&](TestDevice& d, const std::string& to, const Fields& extra) {
    sync::Transaction tx;
    tx.tx_id = f.new_id();
    tx.ops.push_back(set_op(d, RecordKind::assessment, assessment, child, "status", to,
                            server_stamp_of(f, assessment, "status"), f.now_text()));
    for (const auto& [k, v] : extra) {
      tx.ops.push_back(
          set_op(d, RecordKind::assessment, assessment, child, k, v, "", f.now_text()));
    }
    return tx;
  };

  SECTION("a worker cannot authorise") {
    auto tx = status_tx(worker_dev, "authorised",
                        {{"completed_at", f.now_text(-hours(1))}, {"authorised_at", f.now_text()}});
    auto res = f.sync(worker_dev, {tx});
    REQUIRE(res.rejected.size() == 1);
    CHECK(res.rejected[0].code == "validation");
    CHECK_THAT(res.rejected[0].reason, Catch::Contains("assessment.status"));
    CHECK(f.field(assessment, "status") == Value{std::string("in_progress")});
  }
  SECTION("completion by the worker then authorisation by the manager, which is final") {
    auto done = status_tx(worker_dev, "completed", {{"completed_at", f.now_text(-hours(1))}});
    REQUIRE(f.sync(worker_dev, {done}).accepted.size() == 1);
    auto back = status_tx(worker_dev, "in_progress", {});
    auto res = f.sync(worker_dev, {back});
    REQUIRE(res.rejected.size() == 1);
    CHECK(res.rejected[0].code == "validation");

    // authorised_by is who authorised: a device cannot name someone else.
    auto forged = status_tx(manager_dev, "authorised",
                            {{"authorised_at", f.now_text()}, {"authorised_by", f.sw2}});
    auto forged_res = f.sync(manager_dev, {forged});
    REQUIRE(forged_res.rejected.size() == 1);
    CHECK(forged_res.rejected[0].code == "validation");
    CHECK_THAT(forged_res.rejected[0].reason,
               Catch::Contains("authorised_by") && Catch::Contains("must name the manager"));
    CHECK(f.field(assessment, "status") == Value{std::string("completed")});

    // The device's write path records who authorised (RecordStore derives authorised_by).
    auto authorise =
        status_tx(manager_dev, "authorised",
                  {{"authorised_at", f.now_text()}, {"authorised_by", manager_dev.auth.worker_id}});
    auto auth_res = f.sync(manager_dev, {authorise});
    INFO((auth_res.rejected.empty() ? std::string() : auth_res.rejected[0].reason));
    REQUIRE(auth_res.accepted.size() == 1);
    CHECK(f.field(assessment, "status") == Value{std::string("authorised")});

    // An authorised assessment is a fact: no change and no deletion.
    sync::Transaction edit;
    edit.tx_id = f.new_id();
    edit.ops.push_back(set_op(manager_dev, RecordKind::assessment, assessment, child,
                              "child_development", std::string("later words"), "", f.now_text()));
    sync::Transaction remove;
    remove.tx_id = f.new_id();
    remove.ops.push_back(
        remove_op(manager_dev, RecordKind::assessment, assessment, child, f.now_text()));
    auto refused = f.sync(manager_dev, {edit, remove});
    REQUIRE(refused.rejected.size() == 2);
    CHECK(refused.rejected[0].code == "conflict_immutable");
    CHECK(refused.rejected[1].code == "conflict_immutable");
  }
}

TEST_CASE("server sync: a completed case note cannot be edited or deleted", "[sync]") {
  ServerFixture f;
  auto d = f.device(f.sw1, "dev-a");
  const std::string child = new_child(f, d, f.sw1);
  const std::string note = f.new_id();
  Fields fields{{"contact_at", f.now_text(-hours(3))},
                {"text", std::string("Visited; child well.")},
                {"status", std::string("completed")},
                {"completed_at", f.now_text(-hours(1))}};
  REQUIRE(f.sync(d, {create_tx(d, RecordKind::case_note, note, child, fields, f.now_text())})
              .accepted.size() == 1);

  sync::Transaction edit;
  edit.tx_id = f.new_id();
  edit.ops.push_back(set_op(d, RecordKind::case_note, note, child, "text",
                            std::string("Visited; child unwell."), server_stamp_of(f, note, "text"),
                            f.now_text()));
  sync::Transaction remove;
  remove.tx_id = f.new_id();
  remove.ops.push_back(remove_op(d, RecordKind::case_note, note, child, f.now_text()));
  // A correction is a new note and is accepted.
  const std::string correction = f.new_id();
  Fields corr{{"contact_at", f.now_text(-hours(3))},
              {"text", std::string("Correction: the child had a cold.")},
              {"status", std::string("completed")},
              {"completed_at", f.now_text()},
              {"corrects", note}};
  auto corr_tx = create_tx(d, RecordKind::case_note, correction, child, corr, f.now_text());

  auto res = f.sync(d, {edit, remove, corr_tx});
  REQUIRE(res.rejected.size() == 2);
  CHECK(rejection_for(res, edit.tx_id)->code == "conflict_immutable");
  CHECK_THAT(rejection_for(res, edit.tx_id)->reason, Catch::Contains("completed note"));
  CHECK(rejection_for(res, remove.tx_id)->code == "conflict_immutable");
  CHECK(res.accepted == std::vector<std::string>{corr_tx.tx_id});
  CHECK(f.field(note, "text") == Value{std::string("Visited; child well.")});
  CHECK_FALSE(f.record(note)->deleted);
}

TEST_CASE("server sync: cases not allocated to the worker and organisation records are refused",
          "[sync]") {
  ServerFixture f;
  auto d1 = f.device(f.sw1, "dev-a");
  auto d2 = f.device(f.sw2, "dev-b");
  const std::string theirs = new_child(f, d2, f.sw2);
  const std::string reserved = f.new_id();  // allocated to the other worker, not created yet
  REQUIRE(f.admin->allocate(reserved, f.sw2).ok());
  const std::string unallocated = f.new_id();

  sync::Transaction edit_theirs;
  edit_theirs.tx_id = f.new_id();
  edit_theirs.ops.push_back(set_op(d1, RecordKind::child, theirs, theirs, "last_name",
                                   std::string("Other"), "", f.now_text()));
  auto create_reserved =
      create_tx(d1, RecordKind::child, reserved, reserved, child_fields(), f.now_text());
  auto visit_unallocated = create_tx(
      d1, RecordKind::visit, f.new_id(), unallocated,
      {{"visit_type", std::string("other")}, {"start_at", f.now_text()}, {"child_seen", true}},
      f.now_text());
  sync::Transaction org;
  org.tx_id = f.new_id();
  org.ops.push_back(create_op(d1, RecordKind::worker, f.new_id(), "", f.now_text()));

  auto res = f.sync(d1, {edit_theirs, create_reserved, visit_unallocated, org});
  REQUIRE(res.rejected.size() == 4);
  for (const auto& r : res.rejected) CHECK(r.code == "out_of_scope");
  CHECK(f.field(theirs, "last_name") == Value{std::string("Smith")});
  CHECK_FALSE(f.record(reserved).has_value());
  auto audit = f.store->audit_events("out_of_scope");
  REQUIRE(audit.ok());
  CHECK(audit->size() == 4);
  // Nor does the device see the other worker's case.
  for (const auto& c : res.changes) CHECK(c.case_id != theirs);
}

TEST_CASE("server sync: a new child recorded on a device becomes its worker's case", "[sync]") {
  ServerFixture f;
  auto d1 = f.device(f.sw1, "dev-a");
  auto d2 = f.device(f.sw2, "dev-b");
  const std::string child = f.new_id();  // chosen by the device; never allocated
  const std::string visit = f.new_id();
  auto tx = create_tx(d1, RecordKind::child, child, "", child_fields(), f.now_text());
  auto v = create_tx(d1, RecordKind::visit, visit, child,
                     {{"visit_type", std::string("child_in_need")},
                      {"start_at", f.now_text(-hours(1))},
                      {"child_seen", true}},
                     f.now_text());
  auto res = f.sync(d1, {tx, v});
  CHECK(res.accepted == std::vector<std::string>{tx.tx_id, v.tx_id});
  auto allocation = f.store->find_allocation(child);
  REQUIRE(allocation.ok());
  REQUIRE(allocation->has_value());
  CHECK((*allocation)->worker_id == f.sw1);
  CHECK(f.field(child, "allocated_worker") == Value{f.sw1});
  auto audit = f.store->audit_events("allocate");
  REQUIRE(audit.ok());
  bool recorded = false;
  for (const auto& e : *audit)
    recorded = recorded || (e.case_id == child && e.device_id == d1.auth.device_id);
  CHECK(recorded);

  // The other worker can neither see it nor create a child with the same id.
  auto other = f.sync(
      d2, {create_tx(d2, RecordKind::child, child, child, child_fields("Twin"), f.now_text())});
  REQUIRE(other.rejected.size() == 1);
  CHECK(other.rejected[0].code == "out_of_scope");
  for (const auto& c : other.changes) CHECK(c.case_id != child);
  CHECK(f.field(child, "last_name") == Value{std::string("Smith")});
}

TEST_CASE("server sync: concurrent edits of one field keep a deterministic winner and a conflict",
          "[sync]") {
  // Run the same two edits in both arrival orders: the same winner, the same conflict.
  for (bool later_first : {false, true}) {
    DYNAMIC_SECTION("the later stamp arrives " << (later_first ? "first" : "second")) {
      ServerFixture f;
      auto tablet = f.device(f.sw1, "dev-a");
      auto phone = f.device(f.sw1, "dev-b");
      auto manager = f.device(f.manager, "dev-m");
      const std::string child = new_child(f, tablet, f.sw1);
      const std::string base = server_stamp_of(f, child, "last_name");

      // Both devices edit the same field offline, from the same base.
      sync::Transaction early, late;
      early.tx_id = f.new_id();
      early.ops.push_back(set_op(tablet, RecordKind::child, child, child, "last_name",
                                 std::string("Smith-Early"), base, f.now_text()));
      phone.wall_ms += 1000;
      late.tx_id = f.new_id();
      late.ops.push_back(set_op(phone, RecordKind::child, child, child, "last_name",
                                std::string("Smith-Late"), base, f.now_text()));
      if (later_first) {
        REQUIRE(f.sync(phone, {late}).accepted.size() == 1);
        REQUIRE(f.sync(tablet, {early}).accepted.size() == 1);
      } else {
        REQUIRE(f.sync(tablet, {early}).accepted.size() == 1);
        REQUIRE(f.sync(phone, {late}).accepted.size() == 1);
      }
      CHECK(f.field(child, "last_name") == Value{std::string("Smith-Late")});
      REQUIRE(f.count("SELECT COUNT(*) FROM conflict") == 1);

      // Both devices, and the manager, see the conflict with the losing value kept.
      for (auto* d : {&tablet, &phone, &manager}) {
        auto res = f.sync(*d, {});
        REQUIRE(res.conflicts.size() == 1);
        const auto& c = res.conflicts[0];
        CHECK(c.record_id == child);
        CHECK(c.field == "last_name");
        CHECK(c.kept == Value{std::string("Smith-Late")});
        CHECK(c.lost == Value{std::string("Smith-Early")});
        CHECK(c.lost_hlc == early.ops[0].hlc);
        CHECK(c.kept_hlc == late.ops[0].hlc);
        CHECK(c.lost_author == f.sw1);
        CHECK_FALSE(c.resolved);
      }
      // A device that pulls the log ends with the winning value.
      std::int64_t cursor = 0;
      auto changes = f.pull_all(manager, cursor);
      Value last;
      for (const auto& c : changes) {
        if (c.record_id == child && c.field == "last_name") last = c.value;
      }
      CHECK(last == Value{std::string("Smith-Late")});

      // A later sequential write (made after seeing the winner) settles the conflict, and a
      // device that had it open learns so.
      auto before = f.sync(tablet, {});
      sync::Transaction settle;
      settle.tx_id = f.new_id();
      tablet.wall_ms += 5000;
      settle.ops.push_back(set_op(tablet, RecordKind::child, child, child, "last_name",
                                  std::string("Smith"), server_stamp_of(f, child, "last_name"),
                                  f.now_text()));
      REQUIRE(f.sync(tablet, {settle}).accepted.size() == 1);
      CHECK(f.count("SELECT COUNT(*) FROM conflict WHERE resolved_seq = 0") == 0);
      auto after = f.sync(phone, {}, before.cursor);
      REQUIRE(after.conflicts.size() == 1);
      CHECK(after.conflicts[0].resolved);
      CHECK(f.sync(phone, {}, after.cursor).conflicts.empty());
    }
  }
}

TEST_CASE("server sync: concurrent edits of different fields both survive", "[sync]") {
  ServerFixture f;
  auto tablet = f.device(f.sw1, "dev-a");
  auto phone = f.device(f.sw1, "dev-b");
  const std::string child = new_child(f, tablet, f.sw1);
  sync::Transaction a, b;
  a.tx_id = f.new_id();
  a.ops.push_back(set_op(tablet, RecordKind::child, child, child, "first_name",
                         std::string("Alexa"), server_stamp_of(f, child, "first_name"),
                         f.now_text()));
  b.tx_id = f.new_id();
  b.ops.push_back(set_op(phone, RecordKind::child, child, child, "ethnicity", std::string("WBRI"),
                         "", f.now_text()));
  REQUIRE(f.sync(tablet, {a}).accepted.size() == 1);
  REQUIRE(f.sync(phone, {b}).accepted.size() == 1);
  CHECK(f.field(child, "first_name") == Value{std::string("Alexa")});
  CHECK(f.field(child, "ethnicity") == Value{std::string("WBRI")});
  CHECK(f.count("SELECT COUNT(*) FROM conflict") == 0);

  // An older stamp for a field that moved on loses, and is kept as a conflict, not dropped.
  sync::Transaction stale;
  stale.tx_id = f.new_id();
  auto op = set_op(phone, RecordKind::child, child, child, "first_name", std::string("Lexi"), "",
                   f.now_text());
  op.hlc = HlcStamp{1, 1, phone.hlc_name}.to_string();
  stale.ops.push_back(op);
  REQUIRE(f.sync(phone, {stale}).accepted.size() == 1);
  CHECK(f.field(child, "first_name") == Value{std::string("Alexa")});
  auto res = f.sync(phone, {});
  REQUIRE(res.conflicts.size() == 1);
  CHECK(res.conflicts[0].lost == Value{std::string("Lexi")});
  CHECK(res.conflicts[0].kept == Value{std::string("Alexa")});
}

TEST_CASE("server sync: changes come in pages with a resumable cursor", "[sync]") {
  ServerFixture f;
  auto writer = f.device(f.sw1, "dev-a");
  auto reader = f.device(f.sw1, "dev-b");
  std::vector<std::string> children;
  for (int i = 0; i < 4; ++i) children.push_back(new_child(f, writer, f.sw1));
  // Another worker's case is never sent.
  auto other = f.device(f.sw2, "dev-c");
  new_child(f, other, f.sw2);

  const auto expected = f.count(
      "SELECT COUNT(*) FROM change_log WHERE case_id IN (SELECT case_id "
      "FROM allocation WHERE worker_id = '" +
      f.sw1 + "')");
  std::int64_t cursor = 0;
  std::vector<sync::Change> all;
  std::int64_t last_seq = 0;
  int pages = 0;
  for (;;) {
    auto res = f.sync(reader, {}, cursor, 5);
    ++pages;
    CHECK(res.changes.size() <= 5);
    for (const auto& c : res.changes) {
      CHECK(c.seq > last_seq);
      last_seq = c.seq;
    }
    all.insert(all.end(), res.changes.begin(), res.changes.end());
    CHECK(res.cursor >= cursor);
    cursor = res.cursor;
    if (!res.more) break;
    CHECK(res.changes.size() == 5);
  }
  CHECK(static_cast<std::int64_t>(all.size()) == expected);
  CHECK(pages == static_cast<int>((expected + 4) / 5) + (expected % 5 == 0 ? 1 : 0));
  for (const auto& c : all) {
    CHECK(std::find(children.begin(), children.end(), c.case_id) != children.end());
  }
  // Nothing new: an empty page at the head, no more.
  auto idle = f.sync(reader, {}, cursor, 5);
  CHECK(idle.changes.empty());
  CHECK_FALSE(idle.more);
  CHECK(idle.cursor == cursor);

  // Interrupted half way, a bootstrap resumes from the cursor it had reached.
  std::int64_t half = 0;
  auto first = f.sync(reader, {}, 0, static_cast<std::size_t>(expected / 2));
  half = first.cursor;
  std::int64_t resume = half;
  auto rest = f.pull_all(reader, resume, 3);
  CHECK(first.changes.size() + rest.size() == all.size());
}

TEST_CASE("server sync: a page also stops at its byte budget", "[sync]") {
  server::ServiceOptions options;
  options.max_page_bytes = 4096;
  ServerFixture f(options);
  auto writer = f.device(f.sw1, "dev-a");
  auto reader = f.device(f.sw1, "dev-b");
  const std::string child = new_child(f, writer, f.sw1);
  const std::string assessment = f.new_id();
  Fields fields = assessment_fields(f);
  for (const char* name : {"child_development", "parenting_capacity", "family_environment"}) {
    fields[name] = std::string(3000, 'x');
  }
  REQUIRE(f.sync(writer, {create_tx(writer, RecordKind::assessment, assessment, child, fields,
                                    f.now_text())})
              .accepted.size() == 1);
  std::int64_t cursor = 0;
  std::size_t total = 0;
  int pages = 0;
  for (;;) {
    auto res = f.sync(reader, {}, cursor, 500);
    ++pages;
    std::size_t big = 0;
    for (const auto& c : res.changes) {
      if (auto t = std::get_if<std::string>(&c.value); t && t->size() == 3000) ++big;
    }
    CHECK(big <= 2);
    total += res.changes.size();
    cursor = res.cursor;
    if (!res.more) break;
  }
  CHECK(pages >= 2);
  CHECK(static_cast<std::int64_t>(total) ==
        f.count("SELECT COUNT(*) FROM change_log WHERE case_id = '" + child + "'"));
}

TEST_CASE("server sync: reallocation purges the old device and brings the whole case to the new",
          "[sync]") {
  ServerFixture f;
  auto old_dev = f.device(f.sw1, "dev-a");
  auto new_dev = f.device(f.sw2, "dev-b");
  const std::string child = new_child(f, old_dev, f.sw1);
  const std::string assessment = f.new_id();
  REQUIRE(f.sync(old_dev, {create_tx(old_dev, RecordKind::assessment, assessment, child,
                                     assessment_fields(f), f.now_text())})
              .accepted.size() == 1);
  CHECK(f.field(child, "allocated_worker") == Value{f.sw1});
  CHECK(f.field(child, "allocated_team") == Value{f.team});

  // Both devices are up to date before the case moves.
  std::int64_t old_cursor = 0, new_cursor = 0;
  f.pull_all(old_dev, old_cursor);
  auto before = f.pull_all(new_dev, new_cursor);
  for (const auto& c : before) CHECK(c.case_id != child);

  REQUIRE(f.admin->allocate(child, f.sw2).ok());
  CHECK(f.field(child, "allocated_worker") == Value{f.sw2});

  // The new worker's device receives the case's complete current state past its cursor.
  auto received = f.pull_all(new_dev, new_cursor);
  std::map<std::pair<std::string, std::string>, Value> state;
  std::set<std::string> created;
  for (const auto& c : received) {
    if (c.op == FieldChange::Op::create) created.insert(c.record_id);
    if (c.op == FieldChange::Op::set) state[{c.record_id, c.field}] = c.value;
  }
  CHECK(created == std::set<std::string>{child, assessment});
  for (const std::string& id : {child, assessment}) {
    const auto stored = f.record(id);
    REQUIRE(stored.has_value());
    for (const auto& [name, fs] : stored->fields) {
      INFO(id << "." << name);
      CHECK(state[{id, name}] == fs.value);
    }
  }
  CHECK(state[{child, "allocated_worker"}] == Value{f.sw2});

  // The old device, which still has unsynced work on the case, delivers it within the grace
  // period; the answer tells it to purge the case.
  sync::Transaction late;
  late.tx_id = f.new_id();
  late.ops.push_back(set_op(old_dev, RecordKind::assessment, assessment, child, "child_development",
                            std::string("Observed play."), "", f.now_text()));
  auto res = f.sync(old_dev, {late}, old_cursor);
  CHECK(res.accepted == std::vector<std::string>{late.tx_id});
  REQUIRE(res.instructions.size() == 1);
  CHECK(res.instructions[0].type == sync::Instruction::Type::purge_case);
  CHECK(res.instructions[0].case_id == child);
  for (const auto& c : res.changes) CHECK(c.case_id != child);
  auto grace = f.store->audit_events("reallocation_grace");
  REQUIRE(grace.ok());
  CHECK(grace->size() == 1);

  // The answer was lost: the purge is repeated. Once processed, it stops.
  auto repeat = f.sync(old_dev, {}, old_cursor);
  CHECK(repeat.instructions.size() == 1);
  auto acked = f.sync(old_dev, {}, repeat.cursor);
  CHECK(acked.instructions.empty());
  // The new device gets the late change.
  auto late_changes = f.pull_all(new_dev, new_cursor);
  bool seen = false;
  for (const auto& c : late_changes) seen = seen || c.field == "child_development";
  CHECK(seen);

  // After the grace period the old device can no longer write to the case.
  f.clock.advance(hours(24 * 8));
  sync::Transaction too_late;
  too_late.tx_id = f.new_id();
  too_late.ops.push_back(set_op(old_dev, RecordKind::assessment, assessment, child,
                                "family_environment", std::string("x"), "", f.now_text()));
  auto refused = f.sync(old_dev, {too_late}, acked.cursor);
  REQUIRE(refused.rejected.size() == 1);
  CHECK(refused.rejected[0].code == "out_of_scope");

  // Allocated back: the case comes back in full to the first device.
  REQUIRE(f.admin->allocate(child, f.sw1).ok());
  std::int64_t cursor = refused.cursor;
  auto back = f.pull_all(old_dev, cursor);
  std::set<std::string> back_created;
  for (const auto& c : back) {
    if (c.op == FieldChange::Op::create) back_created.insert(c.record_id);
  }
  CHECK(back_created == std::set<std::string>{child, assessment});
  CHECK(f.sync(old_dev, {}, cursor).instructions.empty());
}

TEST_CASE("server sync: a child created for an allocated case carries the server's allocation",
          "[sync]") {
  ServerFixture f;
  auto d = f.device(f.sw1, "dev-a");
  const std::string child = f.new_id();
  REQUIRE(f.admin->allocate(child, f.sw1).ok());
  // The device claims another worker in the server-maintained field.
  Fields fields = child_fields();
  fields["allocated_worker"] = f.sw2;
  auto res = f.sync(d, {create_tx(d, RecordKind::child, child, child, fields, f.now_text())});
  REQUIRE(res.accepted.size() == 1);
  CHECK(f.field(child, "allocated_worker") == Value{f.sw1});
  CHECK(f.field(child, "allocated_team") == Value{f.team});
  CHECK(f.count("SELECT COUNT(*) FROM conflict") == 0);
  // The device is told the server's values.
  std::map<std::string, Value> told;
  for (const auto& c : res.changes) told[c.field] = c.value;
  CHECK(told["allocated_worker"] == Value{f.sw1});
  CHECK(told["allocated_team"] == Value{f.team});
}

TEST_CASE("server sync: clock offsets are estimated and claimed times corrected and flagged",
          "[sync]") {
  ServerFixture f;
  auto fast = f.device(f.sw1, "dev-fast");
  auto slow = f.device(f.sw1, "dev-slow");
  auto honest = f.device(f.sw1, "dev-ok");
  const auto three_days = hours(72);
  const std::string child = new_child(f, honest, f.sw1);

  // The fast device completes an assessment: its clock says three days later than the server.
  const std::string assessment = f.new_id();
  auto tx = create_tx(fast, RecordKind::assessment, assessment, child, assessment_fields(f, 10),
                      f.now_text(three_days));
  REQUIRE(f.sync(fast, {tx}, 0, 500, three_days).accepted.size() == 1);
  sync::Transaction complete;
  complete.tx_id = f.new_id();
  complete.ops.push_back(set_op(fast, RecordKind::assessment, assessment, child, "status",
                                std::string("completed"), server_stamp_of(f, assessment, "status"),
                                f.now_text(three_days)));
  complete.ops.push_back(set_op(fast, RecordKind::assessment, assessment, child, "completed_at",
                                f.now_text(three_days - minutes(30)), "", f.now_text(three_days)));
  auto res = f.sync(fast, {complete}, 0, 500, three_days);
  REQUIRE(res.accepted.size() == 1);

  auto device = f.store->find_device(fast.auth.device_id);
  REQUIRE(device.ok());
  REQUIRE((*device)->clock_offset_ms.has_value());
  CHECK(*(*device)->clock_offset_ms == 72 * 3600 * 1000);
  auto claim = f.store->find_claimed_time(assessment, "completed_at");
  REQUIRE(claim.ok());
  REQUIRE(claim->has_value());
  CHECK((*claim)->claimed == f.now_text(three_days - minutes(30)));
  CHECK((*claim)->corrected == f.now_text(-minutes(30)));
  CHECK((*claim)->received_at == f.now_text());
  CHECK((*claim)->large_offset);
  CHECK_FALSE((*claim)->after_receipt);
  CHECK_FALSE((*claim)->before_start);
  CHECK((*claim)->offset_ms == 72 * 3600 * 1000);

  // The slow device records a visit: corrected forward by three days.
  const std::string visit = f.new_id();
  Fields v{{"visit_type", std::string("cp_statutory")},
           {"start_at", f.now_text(-three_days - hours(2))},
           {"child_seen", true},
           {"assessment_id", assessment}};
  REQUIRE(f.sync(slow,
                 {create_tx(slow, RecordKind::visit, visit, child, v, f.now_text(-three_days))}, 0,
                 500, -three_days)
              .accepted.size() == 1);
  auto vclaim = f.store->find_claimed_time(visit, "start_at");
  REQUIRE(vclaim.ok());
  REQUIRE(vclaim->has_value());
  CHECK((*vclaim)->corrected == f.now_text(-hours(2)));
  CHECK((*vclaim)->offset_ms == -72 * 3600 * 1000);
  CHECK((*vclaim)->large_offset);
  CHECK_FALSE((*vclaim)->after_receipt);
  CHECK_FALSE((*vclaim)->before_start);

  // An accurate clock that claims a contact later than the server received it.
  const std::string note = f.new_id();
  Fields n{{"contact_at", f.now_text(minutes(5))},
           {"text", std::string("Phone call with the school.")},
           {"status", std::string("draft")}};
  REQUIRE(f.sync(honest, {create_tx(honest, RecordKind::case_note, note, child, n, f.now_text())})
              .accepted.size() == 1);
  auto nclaim = f.store->find_claimed_time(note, "contact_at");
  REQUIRE(nclaim.ok());
  REQUIRE(nclaim->has_value());
  CHECK((*nclaim)->after_receipt);
  CHECK_FALSE((*nclaim)->large_offset);

  // The fast device completes work that, corrected, happened before it started.
  const std::string early = f.new_id();
  Fields e{{"assessment_kind", std::string("single")},
           {"start_date", f.today(2)},
           {"status", std::string("draft")}};
  REQUIRE(f.sync(fast,
                 {create_tx(fast, RecordKind::assessment, early, child, e, f.now_text(three_days))},
                 0, 500, three_days)
              .accepted.size() == 1);
  sync::Transaction finish;
  finish.tx_id = f.new_id();
  finish.ops.push_back(set_op(fast, RecordKind::assessment, early, child, "status",
                              std::string("completed"), server_stamp_of(f, early, "status"),
                              f.now_text(three_days)));
  finish.ops.push_back(set_op(fast, RecordKind::assessment, early, child, "completed_at",
                              f.now_text(three_days - minutes(1)), "", f.now_text(three_days)));
  REQUIRE(f.sync(fast, {finish}, 0, 500, three_days).accepted.size() == 1);
  auto eclaim = f.store->find_claimed_time(early, "completed_at");
  REQUIRE(eclaim.ok());
  REQUIRE(eclaim->has_value());
  CHECK((*eclaim)->before_start);

  // Every transaction has the server's receipt time.
  CHECK(f.count("SELECT COUNT(*) FROM sync_transaction WHERE received_at = '" + f.now_text() +
                "'") == f.count("SELECT COUNT(*) FROM sync_transaction"));
}

TEST_CASE("server sync: unknown tokens are refused and revoked devices are told to wipe",
          "[sync]") {
  ServerFixture f;
  auto d = f.device(f.sw1, "dev-a");
  auto unknown = f.service->authenticate("AERsXLgydXYMhrD98zlBbPJEOrpWOZfkn8CFYO-ZMwI");
  REQUIRE(unknown.ok());
  CHECK_FALSE(unknown->has_value());
  auto malformed = f.service->authenticate("not a token");
  REQUIRE(malformed.ok());
  CHECK_FALSE(malformed->has_value());
  CHECK(f.count("SELECT COUNT(*) FROM device WHERE token_hash = '" + d.token + "'") == 0);

  const std::string child = f.new_id();
  REQUIRE(f.admin->allocate(child, f.sw1).ok());
  REQUIRE(f.admin->revoke_device(d.auth.device_id).ok());
  auto auth = f.service->authenticate(d.token);
  REQUIRE(auth.ok());
  REQUIRE(auth->has_value());
  CHECK((*auth)->revoked);
  CHECK((*auth)->status == server::DeviceStatus::revoked);
  // Nothing of a revoked device's request is applied; refuse() gives the wipe instruction.
  sync::SyncRequest revoked_req;
  revoked_req.device_time = f.now_text();
  revoked_req.transactions = {
      create_tx(d, RecordKind::child, child, child, child_fields(), f.now_text())};
  auto refused = f.service->handle(**auth, revoked_req, f.clock.wall());
  CHECK(refused.code() == Errc::unauthenticated);
  CHECK_FALSE(f.record(child).has_value());
  auto wipe = f.service->refuse(**auth, f.clock.wall());
  REQUIRE(wipe.ok());
  CHECK(wipe->type == sync::Instruction::Type::wipe);
  CHECK(wipe->reason == "this device has been revoked");
  auto wipes = f.store->audit_events("wipe_sent");
  REQUIRE(wipes.ok());
  REQUIRE(wipes->size() == 1);
  CHECK((*wipes)[0].device_id == d.auth.device_id);

  // A device id that does not exist is unauthenticated.
  server::AuthenticatedDevice ghost{"01890a5d-ac96-774b-bcce-b302099a8057", f.sw1, false,
                                    server::DeviceStatus::active};
  sync::SyncRequest req;
  req.device_time = f.now_text();
  auto ghost_res = f.service->handle(ghost, req, f.clock.wall());
  CHECK(ghost_res.code() == Errc::unauthenticated);
}

TEST_CASE("server sync: managers see the cases of their team area or authority", "[sync]") {
  ServerFixture f;
  // A second area with one team and one worker; managers at each level.
  auto south = f.admin->create_area("South");
  REQUIRE(south.ok());
  auto south_team = f.admin->create_team("South 1", *south);
  REQUIRE(south_team.ok());
  auto far_worker = f.admin->create_worker("Cy", Role::social_worker, *south_team);
  auto far_manager = f.admin->create_worker("Di", Role::team_manager, *south_team);
  auto north_head = f.admin->create_worker("Ed", Role::area_manager, f.team);
  auto lead = f.admin->create_worker("Flo", Role::service_lead, "");
  REQUIRE((far_worker.ok() && far_manager.ok() && north_head.ok() && lead.ok()));

  auto d1 = f.device(f.sw1, "dev-a");
  auto d3 = f.device(*far_worker, "dev-c");
  const std::string north_case = new_child(f, d1, f.sw1);
  const std::string south_case = new_child(f, d3, *far_worker);

  auto sees = [&](const std::string& worker_id) {
    auto w = f.store->find_worker(worker_id);
    REQUIRE(w.ok());
    REQUIRE(w->has_value());
    auto v = f.store->visible_cases(**w);
    REQUIRE(v.ok());
    return *v;
  };
  using Cases = std::set<std::string>;
  CHECK(sees(f.sw1) == Cases{north_case});
  CHECK(sees(f.sw2).empty());
  CHECK(sees(f.manager) == Cases{north_case});
  CHECK(sees(*far_manager) == Cases{south_case});
  CHECK(sees(*north_head) == Cases{north_case});
  CHECK(sees(*lead) == Cases{north_case, south_case});

  // What each device is sent follows the same rule.
  auto lead_dev = f.device(*lead, "dev-l");
  auto far_dev = f.device(*far_manager, "dev-d");
  std::int64_t c1 = 0, c2 = 0;
  std::set<std::string> lead_cases, far_cases;
  for (const auto& c : f.pull_all(lead_dev, c1)) lead_cases.insert(c.case_id);
  for (const auto& c : f.pull_all(far_dev, c2)) far_cases.insert(c.case_id);
  CHECK(lead_cases == Cases{north_case, south_case});
  CHECK(far_cases == Cases{south_case});
}

TEST_CASE("server sync: a retiring device delivers its work, is told to wipe, then is refused",
          "[sync][security]") {
  ServerFixture f;
  auto d = f.device(f.sw1, "dev-r");
  const std::string child = f.new_id();
  REQUIRE(f.admin->allocate(child, f.sw1).ok());
  REQUIRE(f.admin->retire_device(d.auth.device_id).ok());
  REQUIRE(f.admin->retire_device(d.auth.device_id).ok());  // idempotent
  auto auth = f.service->authenticate(d.token);
  REQUIRE(auth.ok());
  REQUIRE(auth->has_value());
  CHECK_FALSE((*auth)->revoked);
  CHECK((*auth)->status == server::DeviceStatus::retiring);

  // Its pending work is accepted, and the answer carries the wipe instruction.
  auto tx = create_tx(d, RecordKind::child, child, child, child_fields(), f.now_text());
  auto res = f.sync(d, {tx});
  CHECK(res.accepted == std::vector<std::string>{tx.tx_id});
  REQUIRE(res.instructions.size() == 1);
  CHECK(res.instructions[0].type == sync::Instruction::Type::wipe);
  CHECK(res.instructions[0].reason == "this device has been retired");
  CHECK(f.record(child).has_value());
  auto device = f.store->find_device(d.auth.device_id);
  REQUIRE(device.ok());
  CHECK((*device)->status == server::DeviceStatus::retiring);

  // Its request with nothing left to send retires it; from then on it is refused.
  auto last = f.sync(d, {}, res.cursor);
  REQUIRE(last.instructions.size() == 1);
  CHECK(last.instructions[0].type == sync::Instruction::Type::wipe);
  device = f.store->find_device(d.auth.device_id);
  REQUIRE(device.ok());
  CHECK((*device)->status == server::DeviceStatus::retired);
  CHECK_FALSE((*device)->revoked_at.empty());
  auth = f.service->authenticate(d.token);
  REQUIRE(auth.ok());
  CHECK((*auth)->revoked);
  sync::SyncRequest req;
  req.device_time = f.now_text();
  CHECK(f.service->handle(**auth, req, f.clock.wall()).code() == Errc::unauthenticated);
  for (const char* event : {"device_retire", "device_retired"}) {
    auto audit = f.store->audit_events(event);
    REQUIRE(audit.ok());
    CHECK(audit->size() == 1);
  }
  // A retired device is not revoked or retired again by mistake.
  CHECK(f.admin->retire_device(d.auth.device_id).ok());
  CHECK(f.admin->retire_device("01890a5d-ac96-774b-bcce-b302099a8057").code() == Errc::not_found);
}

TEST_CASE("server sync: deactivating a worker revokes their devices", "[sync][security]") {
  ServerFixture f;
  auto d1 = f.device(f.sw1, "dev-1");
  auto d2 = f.device(f.sw1, "dev-2");
  auto other = f.device(f.sw2, "dev-3");
  auto leaving = f.device(f.sw1, "dev-4");
  const std::string child = f.new_id();
  REQUIRE(f.admin->allocate(child, f.sw1).ok());
  REQUIRE(f.admin->revoke_device(d2.auth.device_id).ok());
  REQUIRE(f.admin->retire_device(leaving.auth.device_id).ok());
  REQUIRE(f.admin->deactivate_worker(f.sw1).ok());
  REQUIRE(f.admin->deactivate_worker(f.sw1).ok());  // idempotent
  for (const auto* d : {&d1, &d2}) {
    auto auth = f.service->authenticate(d->token);
    REQUIRE(auth.ok());
    CHECK((*auth)->revoked);
  }
  auto still = f.service->authenticate(other.token);
  REQUIRE(still.ok());
  CHECK_FALSE((*still)->revoked);
  // The device already retiring still delivers the worker's last work, and is told to wipe.
  auto retiring = f.service->authenticate(leaving.token);
  REQUIRE(retiring.ok());
  CHECK((*retiring)->status == server::DeviceStatus::retiring);
  leaving.auth = **retiring;
  auto tx = create_tx(leaving, RecordKind::child, child, child, child_fields(), f.now_text());
  auto res = f.sync(leaving, {tx});
  CHECK(res.accepted == std::vector<std::string>{tx.tx_id});
  REQUIRE(res.instructions.size() == 1);
  CHECK(res.instructions[0].type == sync::Instruction::Type::wipe);
  auto worker = f.store->find_worker(f.sw1);
  REQUIRE(worker.ok());
  CHECK_FALSE((*worker)->active);
  CHECK(f.admin->issue_device(f.sw1).code() == Errc::invalid_argument);
  CHECK(f.admin->allocate(f.new_id(), f.sw1).code() == Errc::invalid_argument);
  auto revokes = f.store->audit_events("device_revoke");
  REQUIRE(revokes.ok());
  CHECK(revokes->size() == 2);  // d2 by hand, d1 by the deactivation
  auto deactivations = f.store->audit_events("worker_deactivate");
  REQUIRE(deactivations.ok());
  CHECK(deactivations->size() == 1);
  CHECK(f.admin->deactivate_worker("01890a5d-ac96-774b-bcce-b302099a8057").code() ==
        Errc::not_found);
}

TEST_CASE("server sync: every answer carries the offline limit and refusals are audited",
          "[sync][security]") {
  server::ServiceOptions options;
  options.offline_limit_days = 9;
  ServerFixture f(options);
  auto d = f.device(f.sw1, "dev-o");
  auto res = f.sync(d, {});
  CHECK(res.offline_limit_days == 9);
  const std::string child = f.new_id();
  REQUIRE(f.admin->allocate(child, f.sw1).ok());
  Fields bad = child_fields();
  bad["gender"] = std::string("X");
  auto tx = create_tx(d, RecordKind::child, child, child, bad, f.now_text());
  res = f.sync(d, {tx});
  REQUIRE(res.rejected.size() == 1);
  auto audit = f.store->audit_events("tx_rejected");
  REQUIRE(audit.ok());
  REQUIRE(audit->size() == 1);
  CHECK((*audit)[0].tx_id == tx.tx_id);
  CHECK((*audit)[0].detail == "validation: child.gender: is not one of the allowed codes");
}

// Issue 14, item 4: clock stamps from devices are bounded.

TEST_CASE("server sync: a far-future clock stamp is refused and honest devices are unaffected",
          "[sync][security]") {
  ServerFixture f;
  auto honest = f.device(f.sw1, "dev-honest");
  auto hostile = f.device(f.sw1, "dev-hostile");
  const std::string child = new_child(f, honest, f.sw1);
  const std::string base = server_stamp_of(f, child, "last_name");

  // The stamp of issue 14: the largest the string form holds, with the sender's own node.
  sync::Transaction attack;
  attack.tx_id = f.new_id();
  attack.ops.push_back(set_op(hostile, RecordKind::child, child, child, "last_name",
                              std::string("Hostile"), base, f.now_text()));
  attack.ops.back().hlc =
      HlcStamp{HlcStamp::kMaxWall, HlcStamp::kMaxCounter, hostile.auth.device_id}.to_string();
  // And one just beyond the allowed skew.
  const std::int64_t ahead_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(f.service->options().max_stamp_ahead)
          .count();
  sync::Transaction beyond;
  beyond.tx_id = f.new_id();
  beyond.ops.push_back(set_op(hostile, RecordKind::child, child, child, "first_name",
                              std::string("Hostile"), "", f.now_text()));
  beyond.ops.back().hlc =
      HlcStamp{f.now_ms() + ahead_ms + 1, 0, hostile.auth.device_id}.to_string();
  auto res = f.sync(hostile, {attack, beyond});
  CHECK(res.accepted.empty());
  REQUIRE(res.rejected.size() == 2);
  for (const auto& r : res.rejected) {
    CHECK(r.code == "clock_ahead");
    CHECK_THAT(r.reason, Catch::Contains("ops[0].hlc") && Catch::Contains("ahead"));
  }
  CHECK(f.field(child, "last_name") == Value{std::string("Smith")});
  CHECK(f.field(child, "first_name") == Value{std::string("Alex")});
  CHECK(server_stamp_of(f, child, "last_name") == base);
  auto audit = f.store->audit_events("tx_rejected");
  REQUIRE(audit.ok());
  REQUIRE(audit->size() == 2);
  CHECK_THAT((*audit)[0].detail, Catch::StartsWith("clock_ahead: "));

  // The honest device edits the same field: it wins normally, with no conflict.
  sync::Transaction edit;
  edit.tx_id = f.new_id();
  edit.ops.push_back(set_op(honest, RecordKind::child, child, child, "last_name",
                            std::string("Honest"), base, f.now_text()));
  res = f.sync(honest, {edit});
  CHECK(res.rejected.empty());
  CHECK(res.accepted == std::vector<std::string>{edit.tx_id});
  CHECK(f.field(child, "last_name") == Value{std::string("Honest")});
  CHECK(f.count("SELECT COUNT(*) FROM conflict") == 0);

  // What it pulls carries no stamp beyond the bound, so after observing all of it the next
  // edit is accepted too: its outbox drains.
  std::int64_t cursor = 0;
  for (const auto& c : f.pull_all(honest, cursor)) {
    auto s = HlcStamp::parse(c.hlc);
    REQUIRE(s.ok());
    CHECK(s->wall_ms <= f.now_ms() + ahead_ms);
    honest.observe(c.hlc);
  }
  f.clock.advance(seconds(5));
  honest.wall_ms = std::max(honest.wall_ms, f.now_ms());
  sync::Transaction next;
  next.tx_id = f.new_id();
  next.ops.push_back(set_op(honest, RecordKind::child, child, child, "last_name",
                            std::string("Honest-2"), server_stamp_of(f, child, "last_name"),
                            f.now_text()));
  res = f.sync(honest, {next}, cursor);
  CHECK(res.rejected.empty());
  CHECK(res.accepted == std::vector<std::string>{next.tx_id});
  CHECK(f.field(child, "last_name") == Value{std::string("Honest-2")});

  // A clock a little fast, within the bound, is accepted as before.
  sync::Transaction fast;
  fast.tx_id = f.new_id();
  fast.ops.push_back(set_op(hostile, RecordKind::child, child, child, "address",
                            std::string("1 High Street"), "", f.now_text()));
  fast.ops.back().hlc = HlcStamp{f.now_ms() + ahead_ms, 0, hostile.auth.device_id}.to_string();
  CHECK(f.sync(hostile, {fast}).accepted == std::vector<std::string>{fast.tx_id});
}

TEST_CASE("server sync: the allowed stamp skew is a server setting", "[sync][security]") {
  server::ServiceOptions options;
  options.max_stamp_ahead = minutes(10);
  ServerFixture f(options);
  auto d = f.device(f.sw1, "dev-a");
  const std::string child = new_child(f, d, f.sw1);
  d.wall_ms = f.now_ms() + 11 * 60 * 1000;  // the device's clock is eleven minutes fast
  sync::Transaction tx;
  tx.tx_id = f.new_id();
  tx.ops.push_back(set_op(d, RecordKind::child, child, child, "address",
                          std::string("1 High Street"), "", f.now_text()));
  auto res = f.sync(d, {tx}, 0, 500, minutes(11));
  REQUIRE(res.rejected.size() == 1);
  CHECK(res.rejected[0].code == "clock_ahead");
  CHECK_FALSE(f.record(child)->fields.contains("address"));
}

TEST_CASE("server sync: a stamp whose node is not the sending device is refused",
          "[sync][security]") {
  ServerFixture f;
  auto honest = f.device(f.sw1, "dev-honest");
  auto hostile = f.device(f.sw1, "dev-hostile");
  const std::string child = new_child(f, honest, f.sw1);
  const std::pair<const char*, std::string> nodes[] = {
      {"another device of the worker", honest.auth.device_id},
      {"the server", "server"},
      {"a name that wins every tie", "zzzz-wins-every-tie"}};
  for (const auto& [label, node] : nodes) {
    DYNAMIC_SECTION("node: " << label) {
      sync::Transaction tx;
      tx.tx_id = f.new_id();
      tx.ops.push_back(set_op(hostile, RecordKind::child, child, child, "last_name",
                              std::string("Hostile"), server_stamp_of(f, child, "last_name"),
                              f.now_text()));
      auto stamp = HlcStamp::parse(tx.ops.back().hlc);
      REQUIRE(stamp.ok());
      stamp->device = node;
      tx.ops.back().hlc = stamp->to_string();
      auto res = f.sync(hostile, {tx});
      CHECK(res.accepted.empty());
      REQUIRE(res.rejected.size() == 1);
      CHECK(res.rejected[0].code == "foreign_stamp");
      CHECK_THAT(res.rejected[0].reason, Catch::Contains("ops[0].hlc"));
      CHECK(f.field(child, "last_name") == Value{std::string("Smith")});
    }
  }
}

// Issue 14, item 7: server-derived fields are the server's.

TEST_CASE("server sync: derived fields a device sets are derived again by the server",
          "[sync][security]") {
  ServerFixture f;
  auto d = f.device(f.sw1, "dev-a");
  auto other = f.device(f.sw1, "dev-b");
  const std::string child = new_child(f, d, f.sw1);
  const Timescales timescales;
  auto date = [](const std::string& text) {
    auto parsed = Date::parse(text);
    REQUIRE(parsed.ok());
    return *parsed;
  };

  // An assessment created with a due date of the device's choosing.
  const std::string assessment = f.new_id();
  Fields a = assessment_fields(f, 10);
  a["due_date"] = std::string("2099-01-01");
  auto tx = create_tx(d, RecordKind::assessment, assessment, child, a, f.now_text());
  REQUIRE(f.sync(d, {tx}).accepted.size() == 1);
  auto due = timescales.assessment_due(AssessmentKind::single, date(f.today(-10)));
  REQUIRE(due.ok());
  CHECK(f.field(assessment, "due_date") == Value{due->to_string()});
  auto stored = f.record(assessment);
  CHECK(stored->fields.at("due_date").author == "server");

  // Set again later on the existing record, or cleared: the server's derivation stays.
  for (const Value& wanted : {Value{std::string("2001-01-01")}, Value{}}) {
    sync::Transaction again;
    again.tx_id = f.new_id();
    again.ops.push_back(set_op(d, RecordKind::assessment, assessment, child, "due_date", wanted,
                               server_stamp_of(f, assessment, "due_date"), f.now_text()));
    REQUIRE(f.sync(d, {again}).accepted.size() == 1);
    CHECK(f.field(assessment, "due_date") == Value{due->to_string()});
  }
  // A change of what it derives from moves it.
  sync::Transaction restart;
  restart.tx_id = f.new_id();
  restart.ops.push_back(set_op(d, RecordKind::assessment, assessment, child, "start_date",
                               f.today(-3), server_stamp_of(f, assessment, "start_date"),
                               f.now_text()));
  REQUIRE(f.sync(d, {restart}).accepted.size() == 1);
  auto due3 = timescales.assessment_due(AssessmentKind::single, date(f.today(-3)));
  REQUIRE(due3.ok());
  CHECK(f.field(assessment, "due_date") == Value{due3->to_string()});

  // An s47 enquiry with an initial conference target of the device's choosing (the census's
  // InitialCPCtarget).
  const std::string s47 = f.new_id();
  Fields s{{"start_date", f.today(-10)},
           {"strategy_discussion_date", f.today(-9)},
           {"initial_conference_target", std::string("2099-01-01")}};
  tx = create_tx(d, RecordKind::s47_enquiry, s47, child, s, f.now_text());
  REQUIRE(f.sync(d, {tx}).accepted.size() == 1);
  auto target = timescales.initial_conference_due(date(f.today(-9)));
  REQUIRE(target.ok());
  CHECK(f.field(s47, "initial_conference_target") == Value{target->to_string()});
  // With no strategy discussion there is no target, whatever the device says.
  const std::string s47b = f.new_id();
  tx = create_tx(d, RecordKind::s47_enquiry, s47b, child,
                 {{"start_date", f.today(-2)},
                  {"initial_conference_target", std::string("2099-01-01")}},
                 f.now_text());
  REQUIRE(f.sync(d, {tx}).accepted.size() == 1);
  CHECK(is_null(f.field(s47b, "initial_conference_target")));

  // Every device ends with the server's values.
  std::int64_t cursor = 0;
  std::map<std::string, Value> last;
  for (const auto& c : f.pull_all(other, cursor)) {
    if (c.op == FieldChange::Op::set) last[c.record_id + "." + c.field] = c.value;
  }
  CHECK(last[assessment + ".due_date"] == Value{due3->to_string()});
  CHECK(last[s47 + ".initial_conference_target"] == Value{target->to_string()});
  CHECK(is_null(last[s47b + ".initial_conference_target"]));
  // They follow their sources: no conflicts of their own.
  CHECK(f.count("SELECT COUNT(*) FROM conflict") == 0);
}

TEST_CASE("server sync: fields stamped when a record is created cannot be rewritten",
          "[sync][security]") {
  ServerFixture f;
  auto d = f.device(f.sw1, "dev-a");
  const std::string child = new_child(f, d, f.sw1);
  auto visit_fields = [&](const std::string& recorded_at) {
    return Fields{{"visit_type", std::string("cp_statutory")},
                  {"start_at", f.now_text(-hours(3))},
                  {"child_seen", true},
                  {"recorded_at", recorded_at}};
  };

  // recorded_at (the recording-delay note's "visit to tablet") before the visit started, or
  // after the server received it: refused.
  for (const std::string& recorded :
       {f.now_text(-hours(5)), f.now_text(hours(2))}) {
    const std::string visit = f.new_id();
    auto tx = create_tx(d, RecordKind::visit, visit, child, visit_fields(recorded), f.now_text());
    auto res = f.sync(d, {tx});
    REQUIRE(res.rejected.size() == 1);
    CHECK(res.rejected[0].code == "validation");
    CHECK_THAT(res.rejected[0].reason, Catch::StartsWith("visit.recorded_at: "));
    CHECK_FALSE(f.record(visit).has_value());
  }

  // As an honest device records it: accepted. Then rewritten to hide a delay: refused.
  const std::string visit = f.new_id();
  const std::string recorded = f.now_text(-hours(1));
  auto tx = create_tx(d, RecordKind::visit, visit, child, visit_fields(recorded), f.now_text());
  REQUIRE(f.sync(d, {tx}).accepted.size() == 1);
  for (const Value& rewrite : {Value{f.now_text(-hours(3))}, Value{}}) {
    sync::Transaction later;
    later.tx_id = f.new_id();
    later.ops.push_back(set_op(d, RecordKind::visit, visit, child, "recorded_at", rewrite,
                               server_stamp_of(f, visit, "recorded_at"), f.now_text()));
    auto res = f.sync(d, {later});
    REQUIRE(res.rejected.size() == 1);
    CHECK(res.rejected[0].code == "maintained_field");
    CHECK(res.rejected[0].reason ==
          "visit.recorded_at: is set when the record is created and cannot be changed");
    CHECK(f.field(visit, "recorded_at") == Value{recorded});
  }
  // The same value again (a rewrite of nothing) is harmless.
  sync::Transaction same;
  same.tx_id = f.new_id();
  same.ops.push_back(set_op(d, RecordKind::visit, visit, child, "recorded_at", Value{recorded},
                            server_stamp_of(f, visit, "recorded_at"), f.now_text()));
  CHECK(f.sync(d, {same}).accepted.size() == 1);

  // An attachment's facts about its bytes are fixed the same way.
  const std::string attachment = f.new_id();
  tx = create_tx(d, RecordKind::attachment, attachment, child,
                 {{"parent_id", visit},
                  {"filename", std::string("photo.jpg")},
                  {"media_type", std::string("image/jpeg")},
                  {"size_bytes", std::int64_t{1234}},
                  {"sha256", std::string(64, 'a')}},
                 f.now_text());
  REQUIRE(f.sync(d, {tx}).accepted.size() == 1);
  for (const auto& [field, value] :
       {std::pair<std::string, Value>{"sha256", std::string(64, 'b')},
        std::pair<std::string, Value>{"size_bytes", std::int64_t{1}},
        std::pair<std::string, Value>{"media_type", std::string("application/pdf")},
        std::pair<std::string, Value>{"parent_id", child}}) {
    sync::Transaction later;
    later.tx_id = f.new_id();
    later.ops.push_back(set_op(d, RecordKind::attachment, attachment, child, field, value,
                               server_stamp_of(f, attachment, field), f.now_text()));
    auto res = f.sync(d, {later});
    REQUIRE(res.rejected.size() == 1);
    CHECK(res.rejected[0].code == "maintained_field");
    CHECK_THAT(res.rejected[0].reason, Catch::StartsWith("attachment." + field + ": "));
  }
  CHECK(f.field(attachment, "sha256") == Value{std::string(64, 'a')});
  // The caption is the worker's and stays editable.
  sync::Transaction caption;
  caption.tx_id = f.new_id();
  caption.ops.push_back(set_op(d, RecordKind::attachment, attachment, child, "caption",
                               std::string("the garden"), "", f.now_text()));
  CHECK(f.sync(d, {caption}).accepted.size() == 1);
}
