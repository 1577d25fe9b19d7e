// The domain's merge of a transaction's operations onto a case (case_merge.hpp) and the
// claimed-time table (claimed_times.hpp): pure, no store.
#include <catch2/catch.hpp>

#include <string>

#include "fieldcase/ids.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/case_merge.hpp"
#include "fieldcase/server/claimed_times.hpp"

using namespace fieldcase;
using namespace fieldcase::server;

namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;
const std::string kChild = "01890000-0000-7000-8000-000000000001";
const std::string kVisit = "01890000-0000-7000-8000-000000000002";

std::string stamp(std::int64_t wall, std::string node = "dev-1") {
  return HlcStamp{wall, 0, std::move(node)}.to_string();
}

CaseMerge merger() {
  return CaseMerge({"w-1", "dev-1", "tx-1", "2023-11-14T22:13:20Z", kNow, 300'000});
}

sync::Op op(FieldChange::Op kind_of_op, RecordKind kind, std::string record_id,
            std::int64_t wall) {
  sync::Op o;
  o.op_id = "op-" + std::to_string(wall);
  o.op = kind_of_op;
  o.kind = kind;
  o.record_id = std::move(record_id);
  o.case_id = kind == RecordKind::child ? std::string() : kChild;
  o.hlc = stamp(wall);
  o.at = "2023-11-14T22:13:00Z";
  return o;
}

sync::Op set(RecordKind kind, std::string record_id, std::string field, Value value,
             std::int64_t wall, std::string base = {}) {
  sync::Op o = op(FieldChange::Op::set, kind, std::move(record_id), wall);
  o.field = std::move(field);
  o.value = std::move(value);
  o.base = std::move(base);
  return o;
}

// A visit on the server with `location` set at `wall` by another device.
RecordDraft stored_visit(std::int64_t wall) {
  StoredRecord r;
  r.id = kVisit;
  r.kind = RecordKind::visit;
  r.case_id = kChild;
  r.fields["location"] = FieldState{Value{std::string("home")}, stamp(wall, "dev-2"), "w-2"};
  r.fields["recorded_at"] =
      FieldState{Value{std::string("2023-11-14T10:00:00Z")}, stamp(wall, "dev-2"), "w-2"};
  return RecordDraft::loaded(r);
}

RecordDraft stored_child(bool deleted = false) {
  StoredRecord r;
  r.id = kChild;
  r.kind = RecordKind::child;
  r.case_id = kChild;
  r.deleted = deleted;
  return RecordDraft::loaded(r);
}

}  // namespace

TEST_CASE("CaseMerge: a later stamp wins and is logged; a sequential write resolves",
          "[domain][sync]") {
  CaseMerge m = merger();
  RecordDraft w = stored_visit(1000);
  const std::string seen = w.after.fields.at("location").hlc;
  auto o = set(RecordKind::visit, kVisit, "location", Value{std::string("school")}, 2000, seen);
  REQUIRE_FALSE(m.apply(o, "ops[0]", w, nullptr));
  CHECK(w.touched);
  CHECK(std::get<std::string>(w.after.fields.at("location").value) == "school");
  CHECK(w.after.fields.at("location").author == "w-1");
  REQUIRE(m.entries().size() == 1);
  CHECK(m.entries()[0].entry.tx_id == "tx-1");
  CHECK(m.entries()[0].entry.device_id == "dev-1");
  CHECK(m.entries()[0].resolves);
  CHECK(m.conflicts().empty());
}

TEST_CASE("CaseMerge: a concurrent write that wins keeps the overwritten value as a conflict",
          "[domain][sync]") {
  CaseMerge m = merger();
  RecordDraft w = stored_visit(1000);
  auto o = set(RecordKind::visit, kVisit, "location", Value{std::string("school")}, 2000, "");
  REQUIRE_FALSE(m.apply(o, "ops[0]", w, nullptr));
  REQUIRE(m.conflicts().size() == 1);
  CHECK(std::get<std::string>(m.conflicts()[0].conflict.lost) == "home");
  CHECK(m.conflicts()[0].conflict.lost_author == "w-2");
  CHECK(m.conflicts()[0].conflict.conflict_id.empty());  // assigned when stored
  REQUIRE(m.entries().size() == 1);
  CHECK_FALSE(m.entries()[0].resolves);
}

TEST_CASE("CaseMerge: an older stamp loses: nothing changes, the value is kept as a conflict",
          "[domain][sync]") {
  CaseMerge m = merger();
  RecordDraft w = stored_visit(5000);
  auto o = set(RecordKind::visit, kVisit, "location", Value{std::string("school")}, 2000);
  REQUIRE_FALSE(m.apply(o, "ops[0]", w, nullptr));
  CHECK_FALSE(w.touched);
  CHECK(std::get<std::string>(w.after.fields.at("location").value) == "home");
  CHECK(m.entries().empty());
  REQUIRE(m.conflicts().size() == 1);
  CHECK(std::get<std::string>(m.conflicts()[0].conflict.lost) == "school");
  CHECK(m.conflicts()[0].lost_device == "dev-1");

  // The same value losing is no conflict.
  CaseMerge same = merger();
  auto again = set(RecordKind::visit, kVisit, "location", Value{std::string("home")}, 2000);
  REQUIRE_FALSE(same.apply(again, "ops[0]", w, nullptr));
  CHECK(same.conflicts().empty());
}

TEST_CASE("CaseMerge: a change to a deleted record is kept as a conflict, not applied",
          "[domain][sync]") {
  CaseMerge m = merger();
  RecordDraft w = stored_visit(1000);
  w.after.deleted = true;
  w.after.deleted_hlc = stamp(1500, "dev-2");
  auto o = set(RecordKind::visit, kVisit, "location", Value{std::string("school")}, 9000);
  REQUIRE_FALSE(m.apply(o, "ops[0]", w, nullptr));
  CHECK_FALSE(w.touched);
  CHECK(m.entries().empty());
  REQUIRE(m.conflicts().size() == 1);
  CHECK(m.conflicts()[0].conflict.kept_hlc == w.after.deleted_hlc);
}

TEST_CASE("CaseMerge: refusals name the rule", "[domain][sync]") {
  CaseMerge m = merger();
  SECTION("a field set at creation cannot be rewritten") {
    RecordDraft w = stored_visit(1000);
    auto o = set(RecordKind::visit, kVisit, "recorded_at",
                 Value{std::string("2023-11-14T11:00:00Z")}, 2000);
    auto refusal = m.apply(o, "ops[0]", w, nullptr);
    REQUIRE(refusal);
    CHECK(refusal->code == kRejectMaintained);
    CHECK(refusal->reason.find("visit.recorded_at") != std::string::npos);
  }
  SECTION("an unknown field") {
    RecordDraft w = stored_visit(1000);
    auto o = set(RecordKind::visit, kVisit, "no_such", Value{std::string("x")}, 2000);
    auto refusal = m.apply(o, "ops[0]", w, nullptr);
    REQUIRE(refusal);
    CHECK(refusal->code == kRejectValidation);
  }
  SECTION("a set on a record that does not exist") {
    RecordDraft w = RecordDraft::loaded(std::nullopt);
    auto o = set(RecordKind::visit, kVisit, "location", Value{std::string("x")}, 2000);
    auto refusal = m.apply(o, "ops[0]", w, nullptr);
    REQUIRE(refusal);
    CHECK(refusal->code == kRejectBadRequest);
  }
  SECTION("a record of another kind") {
    RecordDraft w = stored_visit(1000);
    auto o = set(RecordKind::case_note, kVisit, "contact_at", Value{std::string("x")}, 2000);
    auto refusal = m.apply(o, "ops[3]", w, nullptr);
    REQUIRE(refusal);
    CHECK(refusal->code == kRejectBadRequest);
    CHECK(refusal->reason.rfind("ops[3]", 0) == 0);
  }
  SECTION("a record created for no child") {
    RecordDraft w = RecordDraft::loaded(std::nullopt);
    RecordDraft child = stored_child(true);
    auto o = op(FieldChange::Op::create, RecordKind::visit, kVisit, 2000);
    auto refusal = m.apply(o, "ops[0]", w, &child);
    REQUIRE(refusal);
    CHECK(refusal->code == kRejectValidation);
    CHECK(m.entries().empty());
  }
  SECTION("an authorised assessment cannot be deleted") {
    StoredRecord r;
    r.id = kVisit;
    r.kind = RecordKind::assessment;
    r.case_id = kChild;
    r.fields["status"] = FieldState{Value{std::string(kAssessmentAuthorised)}, stamp(1), "w-2"};
    RecordDraft w = RecordDraft::loaded(r);
    auto o = op(FieldChange::Op::remove, RecordKind::assessment, kVisit, 2000);
    auto refusal = m.apply(o, "ops[0]", w, nullptr);
    REQUIRE(refusal);
    CHECK(refusal->code == kRejectImmutable);
    CHECK_FALSE(w.after.deleted);
  }
}

TEST_CASE("CaseMerge: create and remove", "[domain][sync]") {
  CaseMerge m = merger();
  RecordDraft child = stored_child();
  RecordDraft w = RecordDraft::loaded(std::nullopt);
  auto create = op(FieldChange::Op::create, RecordKind::visit, kVisit, 2000);
  REQUIRE_FALSE(m.apply(create, "ops[0]", w, &child));
  CHECK(w.exists);
  CHECK(w.after.created_by == "w-1");
  CHECK(w.after.created_hlc == create.hlc);
  // Creating it again changes nothing.
  REQUIRE_FALSE(m.apply(create, "ops[1]", w, &child));
  CHECK(m.entries().size() == 1);
  auto remove = op(FieldChange::Op::remove, RecordKind::visit, kVisit, 3000);
  REQUIRE_FALSE(m.apply(remove, "ops[2]", w, nullptr));
  CHECK(w.after.deleted);
  CHECK(w.after.deleted_hlc == remove.hlc);
  CHECK(m.entries().size() == 2);
}

TEST_CASE("CaseMerge: an operation's stamp and case are checked before anything is loaded",
          "[domain][sync]") {
  CaseMerge m = merger();
  auto good = set(RecordKind::visit, kVisit, "location", Value{}, kNow);
  CHECK_FALSE(m.check_op(good, "ops[0]"));

  auto malformed = good;
  malformed.hlc = "yesterday";
  CHECK(m.check_op(malformed, "ops[0]")->code == kRejectBadRequest);
  auto foreign = good;
  foreign.hlc = stamp(kNow, "dev-2");
  CHECK(m.check_op(foreign, "ops[0]")->code == kRejectForeignStamp);
  auto ahead = good;
  ahead.hlc = stamp(kNow + 300'001);
  CHECK(m.check_op(ahead, "ops[0]")->code == kRejectClockAhead);
  auto at_limit = good;
  at_limit.hlc = stamp(kNow + 300'000);
  CHECK_FALSE(m.check_op(at_limit, "ops[0]"));
  auto admin = good;
  admin.kind = RecordKind::team;
  CHECK(m.check_op(admin, "ops[0]")->code == kRejectOutOfScope);
  auto child = op(FieldChange::Op::create, RecordKind::child, kChild, kNow);
  CHECK(CaseMerge::case_of(child) == kChild);
  child.case_id = kVisit;
  CHECK(m.check_op(child, "ops[0]")->code == kRejectBadRequest);
  auto caseless = good;
  caseless.case_id.clear();
  CHECK(CaseMerge::check_case(caseless, "ops[0]")->code == kRejectBadRequest);
  CHECK_FALSE(CaseMerge::check_case(good, "ops[0]"));
}

TEST_CASE("claimed-time table: one row per claimed time, each with its start", "[domain][sync]") {
  CHECK(claimed_time_rules().size() == 4);
  CHECK(is_claimed_time(RecordKind::assessment, "completed_at"));
  CHECK(is_claimed_time(RecordKind::assessment, "authorised_at"));
  CHECK(is_claimed_time(RecordKind::visit, "start_at"));
  CHECK(is_claimed_time(RecordKind::case_note, "contact_at"));
  CHECK_FALSE(is_claimed_time(RecordKind::visit, "end_at"));
  CHECK_FALSE(is_claimed_time(RecordKind::case_note, "start_at"));
  CHECK(claimed_time_rule(RecordKind::child, "completed_at") == nullptr);

  const ClaimedTimeRule* note = claimed_time_rule(RecordKind::case_note, "contact_at");
  REQUIRE(note != nullptr);
  CHECK(note->link_field == "visit_id");
  CHECK(note->start == ClaimedStart::claimed_day);
  const ClaimedTimeRule* authorised = claimed_time_rule(RecordKind::assessment, "authorised_at");
  REQUIRE(authorised != nullptr);
  CHECK(authorised->link_field.empty());
  CHECK(authorised->start_field == "completed_at");
  // Every row names a field its kind has, and a link field that is a reference.
  for (const auto& rule : claimed_time_rules()) {
    CHECK(find_field(kind_spec(rule.kind), rule.field) != nullptr);
    if (!rule.link_field.empty()) {
      CHECK(find_field(kind_spec(rule.kind), rule.link_field) != nullptr);
    }
  }
}
