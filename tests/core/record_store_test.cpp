// The one write path: the assessment status machine, derived fields, immutable case notes,
// the change log and attachments.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "record_fixture.hpp"

using namespace fieldcase;
using namespace fieldcase::test;
using namespace std::chrono_literals;

namespace {

using S = std::string;

const std::vector<std::string> kStatuses{"draft", "in_progress", "completed", "authorised",
                                         "returned"};

// The status machine of the brief: completion and authorisation are one-way, only a manager
// authorises or returns, authorised is final.
bool transition_allowed(const std::string& from, const std::string& to, bool manager) {
  if (from == "draft") return to == "in_progress" || to == "completed";
  if (from == "in_progress") return to == "completed";
  if (from == "completed") return manager && (to == "authorised" || to == "returned");
  if (from == "returned") return to == "in_progress" || to == "completed";
  return false;
}

Status set_status(RecordStore& rs, const std::string& id, const std::string& status) {
  return rs.update(id, {{"status", status}});
}

// A new single assessment walked to `status` by the worker and (for authorised and returned)
// the manager.
std::string assessment_in(RecordEnv& env, RecordStore& manager, const std::string& child,
                          const std::string& status) {
  auto id =
      env.records().create(RecordKind::assessment, child, valid_fields(RecordKind::assessment));
  REQUIRE(id.ok());
  if (status == "in_progress") REQUIRE(set_status(env.records(), *id, "in_progress").ok());
  if (status == "completed" || status == "authorised" || status == "returned") {
    REQUIRE(set_status(env.records(), *id, "completed").ok());
  }
  if (status == "authorised" || status == "returned") {
    REQUIRE(set_status(manager, *id, status).ok());
  }
  return *id;
}

Record get(RecordStore& rs, const std::string& id) {
  auto r = rs.get(id);
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  return **r;
}

std::optional<std::string> text(const Record& r, std::string_view field) {
  auto t = text_of(r.fields, field);
  return t ? std::optional<std::string>(std::string(*t)) : std::nullopt;
}

std::string now_text(const FakeClock& clock) { return format_iso_datetime(clock.wall()); }

std::vector<FieldChange> history(RecordStore& rs, const std::string& id) {
  auto h = rs.history(id);
  REQUIRE(h.ok());
  return *h;
}

std::vector<FieldChange> all_changes(RecordStore& rs) {
  auto c = rs.unsent_changes(1'000'000);
  REQUIRE(c.ok());
  return *c;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The assessment status machine.

TEST_CASE("assessment status machine allows exactly the legal moves", "[records][assessment]") {
  RecordEnv env;
  auto manager = env.open_as(manager_identity());
  const std::string child = env.child();
  int allowed_moves = 0;
  for (const std::string& from : kStatuses) {
    for (const std::string& to : kStatuses) {
      for (bool as_manager : {false, true}) {
        INFO(from << " -> " << to << (as_manager ? " by a manager" : " by a worker"));
        const std::string id = assessment_in(env, *manager, child, from);
        RecordStore& actor = as_manager ? *manager : env.records();
        const Record before = get(env.records(), id);
        REQUIRE(text(before, "status") == from);
        const std::int64_t log = env.log_rows();
        Status st = set_status(actor, id, to);
        if (from == to) {
          // No move. An authorised assessment cannot be touched at all.
          if (from == "authorised") {
            CHECK(st.code() == Errc::validation);
            CHECK(st.message() == "assessment.status: an authorised assessment cannot be changed");
          } else {
            CHECK(st.ok());
          }
          CHECK(env.log_rows() == log);
          continue;
        }
        if (transition_allowed(from, to, as_manager)) {
          ++allowed_moves;
          CHECK(st.ok());
          CHECK(text(get(env.records(), id), "status") == to);
          CHECK(env.log_rows() > log);
        } else {
          CHECK(st.code() == Errc::validation);
          if (from == "completed" && (to == "authorised" || to == "returned")) {
            CHECK(st.message() == "assessment.status: only a manager can " +
                                      S(to == "authorised" ? "authorise" : "return") +
                                      " an assessment");
          } else {
            CHECK(st.message() ==
                  "assessment.status: cannot move an assessment from " + from + " to " + to);
          }
          const Record after = get(env.records(), id);
          CHECK(after.fields == before.fields);
          CHECK(env.log_rows() == log);
        }
      }
    }
  }
  // draft->2, in_progress->1, returned->2 for both roles; completed->2 for the manager.
  CHECK(allowed_moves == 2 * 2 + 1 * 2 + 2 * 2 + 2);

  // The function the server shares agrees, for every role.
  for (const std::string& from : kStatuses) {
    for (const std::string& to : kStatuses) {
      for (Role role : {Role::social_worker, Role::team_manager, Role::area_manager,
                        Role::service_lead, Role::contact_centre, Role::administrator}) {
        INFO(from << " -> " << to << " as " << to_string(role));
        const bool ok = from == to || transition_allowed(from, to, is_manager(role));
        CHECK(check_assessment_transition(from, to, role).ok() == ok);
      }
    }
  }
}

TEST_CASE("a new assessment starts as draft or in_progress", "[records][assessment]") {
  RecordEnv env;
  const std::string child = env.child();
  for (const char* status : {"completed", "authorised", "returned"}) {
    INFO(status);
    Fields f = valid_fields(RecordKind::assessment);
    f["status"] = S(status);
    auto r = env.records().create(RecordKind::assessment, child, f);
    REQUIRE_FALSE(r.ok());
    CHECK(r.code() == Errc::validation);
    CHECK(r.status().message() ==
          "assessment.status: a new assessment starts as draft or in_progress");
  }
  CHECK(env.count(RecordKind::assessment) == 0);
  Fields f = valid_fields(RecordKind::assessment);
  f["status"] = S("in_progress");
  CHECK(env.records().create(RecordKind::assessment, child, f).ok());
}

TEST_CASE("completion authorisation and return stamp and clear their fields",
          "[records][assessment]") {
  RecordEnv env;
  auto manager = env.open_as(manager_identity());
  const std::string child = env.child();
  auto id =
      env.records().create(RecordKind::assessment, child, valid_fields(RecordKind::assessment));
  REQUIRE(id.ok());
  const Record draft = get(env.records(), *id);
  CHECK_FALSE(text(draft, "completed_at"));
  CHECK_FALSE(text(draft, "authorised_at"));

  // The worker completes it: completed_at is the device's time of completion.
  env.clock.advance(2h);
  REQUIRE(set_status(env.records(), *id, "completed").ok());
  const std::string completed_at = now_text(env.clock);
  CHECK(text(get(env.records(), *id), "completed_at") == completed_at);
  CHECK(completed_at == "2027-01-15T10:00:00.000Z");

  // The worker cannot authorise it.
  Status st = set_status(env.records(), *id, "authorised");
  CHECK(st.code() == Errc::validation);
  CHECK(st.message() == "assessment.status: only a manager can authorise an assessment");

  // The manager returns it for amendment: completion is cleared.
  env.clock.advance(1h);
  REQUIRE(set_status(*manager, *id, "returned").ok());
  Record returned = get(env.records(), *id);
  CHECK(text(returned, "status") == "returned");
  CHECK_FALSE(text(returned, "completed_at"));
  CHECK_FALSE(text(returned, "authorised_at"));
  CHECK(returned.updated_by == kManagerId);
  {
    // The clearing is in the change log as a null.
    auto h = history(env.records(), *id);
    REQUIRE_FALSE(h.empty());
    auto it = std::find_if(h.rbegin(), h.rend(),
                           [](const FieldChange& c) { return c.field == "completed_at"; });
    REQUIRE(it != h.rend());
    CHECK(is_null(it->value));
    CHECK(it->author == kManagerId);
  }

  // The worker completes it again: a new completion time.
  env.clock.advance(24h);
  REQUIRE(set_status(env.records(), *id, "completed").ok());
  const std::string recompleted_at = now_text(env.clock);
  CHECK(text(get(env.records(), *id), "completed_at") == recompleted_at);

  // The manager authorises it: time and who.
  env.clock.advance(30min);
  REQUIRE(set_status(*manager, *id, "authorised").ok());
  const Record authorised = get(env.records(), *id);
  CHECK(text(authorised, "status") == "authorised");
  CHECK(text(authorised, "completed_at") == recompleted_at);
  CHECK(text(authorised, "authorised_at") == now_text(env.clock));
  CHECK(text(authorised, "authorised_by") == kManagerId);

  // Authorised is final: no field changes, no deletion.
  st = manager->update(*id, {{"child_development", S("More to say")}});
  CHECK(st.code() == Errc::validation);
  CHECK(st.message() == "assessment.status: an authorised assessment cannot be changed");
  st = manager->remove(*id);
  CHECK(st.code() == Errc::validation);
  CHECK(st.message() == "assessment.status: an authorised assessment cannot be deleted");
  CHECK(get(env.records(), *id).fields == authorised.fields);
}

TEST_CASE("assessment due dates follow the timescales", "[records][assessment]") {
  RecordEnv env;
  const std::string child = env.child();
  const Timescales ts = england_timescales();
  struct Case {
    const char* kind;
    const char* start;
    const char* due;  // worked out by hand
  };
  for (const Case& c : {
           Case{"single", "2027-01-04", "2027-03-08"},  // a Monday: 45 working days
           Case{"single", "2027-01-09", "2027-03-12"},  // a Saturday counts from that date
           Case{"single", "2026-12-25", "2027-03-02"},  // Christmas Day, then Boxing Day on
                                                        // Monday 28th and New Year's Day
           Case{"initial", "2027-01-04", "2027-01-13"},
           Case{"core", "2027-01-04", "2027-02-22"},
       }) {
    INFO(c.kind << " from " << c.start);
    Fields f = valid_fields(RecordKind::assessment);
    f["assessment_kind"] = S(c.kind);
    f["start_date"] = S(c.start);
    auto id = env.records().create(RecordKind::assessment, child, f);
    REQUIRE(id.ok());
    auto kind = parse_assessment_kind(c.kind);
    REQUIRE(kind.ok());
    auto due = ts.assessment_due(*kind, date(c.start));
    REQUIRE(due.ok());
    CHECK(due->to_string() == c.due);
    CHECK(text(get(env.records(), *id), "due_date") == c.due);
  }

  // Moving the start moves the due date.
  auto id =
      env.records().create(RecordKind::assessment, child, valid_fields(RecordKind::assessment));
  REQUIRE(id.ok());
  REQUIRE(env.records().update(*id, {{"start_date", S("2027-01-09")}}).ok());
  CHECK(text(get(env.records(), *id), "due_date") == "2027-03-12");
  REQUIRE(env.records().update(*id, {{"assessment_kind", S("initial")}}).ok());
  CHECK(text(get(env.records(), *id), "due_date") ==
        ts.assessment_due(AssessmentKind::initial, date("2027-01-09"))->to_string());

  // It cannot be set directly.
  const std::int64_t log = env.log_rows();
  Status st = env.records().update(*id, {{"due_date", S("2027-12-31")}});
  CHECK(st.code() == Errc::validation);
  CHECK(st.message() == "assessment.due_date: is maintained by fieldcase and cannot be set");
  CHECK(env.log_rows() == log);
}

// ---------------------------------------------------------------------------------------------
// Case notes.

TEST_CASE("a completed case note is immutable and corrected by appending", "[records][notes]") {
  RecordEnv env;
  const std::string child = env.child();
  Fields f = valid_fields(RecordKind::case_note);
  f["status"] = S("completed");
  auto note = env.records().create(RecordKind::case_note, child, f);
  REQUIRE(note.ok());
  const Record original = get(env.records(), *note);
  CHECK(text(original, "completed_at") == now_text(env.clock));
  const std::int64_t records = env.record_rows();
  const std::int64_t log = env.log_rows();
  env.clock.advance(1h);

  for (const Fields& change :
       {Fields{{"text", S("Something else")}}, Fields{{"status", S("draft")}},
        Fields{{"visit_id", S("0190a000-0000-7000-8000-0000000000c1")}},
        Fields{{"completed_at", Value{}}}}) {
    Status st = env.records().update(*note, change);
    CHECK(st.code() == Errc::validation);
    CHECK(st.message() ==
          "case_note.text: a completed note cannot be changed; append a correction instead");
  }
  Status st = env.records().remove(*note);
  CHECK(st.code() == Errc::validation);
  CHECK(st.message() == "case_note.status: a completed note cannot be deleted");
  CHECK(env.record_rows() == records);
  CHECK(env.log_rows() == log);

  // The correction is a new completed note naming the original, in its own transaction.
  std::string correction;
  REQUIRE(env.records()
              .write([&](RecordStore::Writer& w) -> Status {
                auto c = w.append_correction(*note, "Correction: it was Tuesday.");
                if (!c.ok()) return c.status();
                correction = *c;
                return {};
              })
              .ok());
  const Record fixed = get(env.records(), correction);
  CHECK(fixed.kind == RecordKind::case_note);
  CHECK(fixed.case_id == child);
  CHECK(text(fixed, "corrects") == *note);
  CHECK(text(fixed, "status") == "completed");
  CHECK(text(fixed, "text") == "Correction: it was Tuesday.");
  CHECK(text(fixed, "contact_at") == text(original, "contact_at"));
  CHECK(text(fixed, "completed_at") == now_text(env.clock));

  const Record after = get(env.records(), *note);
  CHECK(after.fields == original.fields);
  CHECK(after.updated_at == original.updated_at);
  CHECK_FALSE(after.deleted);

  // Both notes are listed for the case.
  auto notes = env.records().list(RecordKind::case_note, child);
  REQUIRE(notes.ok());
  CHECK(notes->size() == 2);

  // Corrections can themselves be corrected; drafts, other records and unknown ids cannot.
  CHECK(env.records()
            .write([&](RecordStore::Writer& w) {
              return w.append_correction(correction, "Correction of the correction.").status();
            })
            .ok());
  Fields draft = valid_fields(RecordKind::case_note);
  auto draft_id = env.records().create(RecordKind::case_note, child, draft);
  REQUIRE(draft_id.ok());
  const std::int64_t log2 = env.log_rows();
  st = env.records().write(
      [&](RecordStore::Writer& w) { return w.append_correction(*draft_id, "x").status(); });
  CHECK(st.code() == Errc::validation);
  CHECK(st.message().rfind("case_note.corrects: ", 0) == 0);
  st = env.records().write(
      [&](RecordStore::Writer& w) { return w.append_correction(child, "x").status(); });
  CHECK(st.code() == Errc::not_found);
  st = env.records().write([&](RecordStore::Writer& w) {
    return w.append_correction("0190a000-0000-7000-8000-0000000000ff", "x").status();
  });
  CHECK(st.code() == Errc::not_found);
  CHECK(env.log_rows() == log2);
}

TEST_CASE("a draft note is edited then completed and history shows every step",
          "[records][notes]") {
  RecordEnv env;
  const std::string child = env.child();
  auto note =
      env.records().create(RecordKind::case_note, child, valid_fields(RecordKind::case_note));
  REQUIRE(note.ok());
  const std::string created_at = now_text(env.clock);

  env.clock.advance(10min);
  REQUIRE(env.records().update(*note, {{"text", S("Amy showed me her room and her books.")}}).ok());
  const std::string edited_at = now_text(env.clock);

  env.clock.advance(10min);
  REQUIRE(env.records().update(*note, {{"status", S("completed")}}).ok());
  const std::string completed_at = now_text(env.clock);
  CHECK(text(get(env.records(), *note), "completed_at") == completed_at);

  // Now it is immutable.
  CHECK(env.records().update(*note, {{"text", S("changed")}}).code() == Errc::validation);

  struct Expect {
    FieldChange::Op op;
    std::string field;
    Value value;
    std::string at;
  };
  const std::vector<Expect> expected{
      {FieldChange::Op::create, "", Value{}, created_at},
      {FieldChange::Op::set, "contact_at", S("2027-01-14T10:00:00Z"), created_at},
      {FieldChange::Op::set, "status", S("draft"), created_at},
      {FieldChange::Op::set, "text", S("Amy showed me her room."), created_at},
      {FieldChange::Op::set, "text", S("Amy showed me her room and her books."), edited_at},
      {FieldChange::Op::set, "completed_at", S(completed_at), completed_at},
      {FieldChange::Op::set, "status", S("completed"), completed_at},
  };
  const auto h = history(env.records(), *note);
  REQUIRE(h.size() == expected.size());
  std::set<std::string> txs;
  for (std::size_t i = 0; i < h.size(); ++i) {
    INFO("operation " << i);
    CHECK(h[i].op == expected[i].op);
    CHECK(h[i].field == expected[i].field);
    CHECK(h[i].value == expected[i].value);
    CHECK(h[i].at == expected[i].at);
    CHECK(h[i].record_id == *note);
    CHECK(h[i].kind == RecordKind::case_note);
    CHECK(h[i].case_id == child);
    if (i > 0) {
      CHECK(h[i - 1].seq < h[i].seq);
      CHECK(h[i - 1].hlc < h[i].hlc);
    }
    txs.insert(h[i].tx_id);
  }
  CHECK(txs.size() == 3);  // create, edit, completion
}

// ---------------------------------------------------------------------------------------------
// The change log.

TEST_CASE("a create logs one create op and one set per field in one transaction",
          "[records][changelog]") {
  RecordEnv env;
  const std::string child = env.child();
  const std::int64_t before = env.log_rows();
  Fields f = valid_fields(RecordKind::visit);
  f["location"] = S("Home");
  f["observations"] = S("Warm, tidy, food in the fridge.");
  f["end_at"] = Value{};  // a null is not a field value and is not logged
  auto id = env.records().create(RecordKind::visit, child, f);
  REQUIRE(id.ok());
  const Record r = get(env.records(), *id);
  CHECK_FALSE(r.fields.contains("end_at"));
  CHECK(text(r, "recorded_at") == now_text(env.clock));  // derived by the write path
  CHECK(r.created_by == kWorkerId);
  CHECK(r.updated_by == kWorkerId);
  CHECK(r.created_at == now_text(env.clock));

  const auto h = history(env.records(), *id);
  // create + visit_type, start_at, child_seen, location, observations, recorded_at
  REQUIRE(h.size() == 1 + r.fields.size());
  CHECK(r.fields.size() == 6);
  CHECK(env.log_rows() == before + static_cast<std::int64_t>(h.size()));
  CHECK(h[0].op == FieldChange::Op::create);
  CHECK(h[0].field.empty());
  CHECK(is_null(h[0].value));
  std::set<std::string> op_ids;
  std::set<std::string> fields;
  for (std::size_t i = 0; i < h.size(); ++i) {
    INFO("operation " << i);
    CHECK(h[i].tx_id == h[0].tx_id);
    CHECK(is_uuid(h[i].op_id));
    op_ids.insert(h[i].op_id);
    CHECK(h[i].author == kWorkerId);
    CHECK(h[i].device == "tablet-w1");
    CHECK(h[i].at == r.created_at);
    auto stamp = HlcStamp::parse(h[i].hlc);
    REQUIRE(stamp.ok());
    CHECK(stamp->device == "tablet-w1");
    if (i > 0) {
      CHECK(h[i].op == FieldChange::Op::set);
      CHECK(h[i - 1].hlc < h[i].hlc);
      fields.insert(h[i].field);
      CHECK(h[i].value == r.fields.at(h[i].field));
    }
  }
  CHECK(op_ids.size() == h.size());
  CHECK(fields.size() == r.fields.size());
  // A different transaction from the child's.
  CHECK(history(env.records(), child)[0].tx_id != h[0].tx_id);
}

TEST_CASE("an update logs only changed fields and a cleared field as null",
          "[records][changelog]") {
  RecordEnv env;
  Fields f = child_fields();
  f["ethnicity"] = S("WBRI");
  auto child = env.records().create(RecordKind::child, {}, f);
  REQUIRE(child.ok());
  const std::size_t created = history(env.records(), *child).size();
  env.clock.advance(1min);

  REQUIRE(env.records()
              .update(*child, {{"first_name", S("Amy")},  // unchanged
                               {"last_name", S("Newname")},
                               {"ethnicity", Value{}},  // cleared
                               {"uasc", Value{}}})      // was never set
              .ok());
  const auto h = history(env.records(), *child);
  REQUIRE(h.size() == created + 2);
  const FieldChange& a = h[created];
  const FieldChange& b = h[created + 1];
  CHECK(a.tx_id == b.tx_id);
  std::map<std::string, Value> logged{{a.field, a.value}, {b.field, b.value}};
  CHECK(logged.size() == 2);
  CHECK(logged.at("last_name") == Value{S("Newname")});
  CHECK(is_null(logged.at("ethnicity")));
  CHECK(a.at == now_text(env.clock));
  const Record r = get(env.records(), *child);
  CHECK_FALSE(r.fields.contains("ethnicity"));
  CHECK(text(r, "last_name") == "Newname");
  CHECK(r.updated_at == now_text(env.clock));
}

TEST_CASE("remove leaves a tombstone and a remove op", "[records][changelog]") {
  RecordEnv env;
  const std::string child = env.child();
  auto visit = env.records().create(RecordKind::visit, child, valid_fields(RecordKind::visit));
  REQUIRE(visit.ok());
  const Record before = get(env.records(), *visit);
  env.clock.advance(5min);
  REQUIRE(env.records().remove(*visit).ok());

  const Record tomb = get(env.records(), *visit);
  CHECK(tomb.deleted);
  CHECK(tomb.fields == before.fields);
  CHECK(tomb.updated_at == now_text(env.clock));
  auto visits = env.records().list(RecordKind::visit, child);
  REQUIRE(visits.ok());
  CHECK(visits->empty());
  auto all_visits = env.records().list(RecordKind::visit);
  REQUIRE(all_visits.ok());
  CHECK(all_visits->empty());

  const auto h = history(env.records(), *visit);
  REQUIRE_FALSE(h.empty());
  CHECK(h.back().op == FieldChange::Op::remove);
  CHECK(h.back().field.empty());
  CHECK(is_null(h.back().value));
  CHECK(h.back().tx_id != h.front().tx_id);
  CHECK(h.back().at == now_text(env.clock));

  const std::int64_t log = env.log_rows();
  CHECK(env.records().remove(*visit).code() == Errc::not_found);
  CHECK(env.records().update(*visit, {{"location", S("x")}}).code() == Errc::not_found);
  CHECK(env.log_rows() == log);
}

TEST_CASE("writes in one RecordStore write share a transaction id", "[records][changelog]") {
  RecordEnv env;
  const std::string older = env.child("Older", "Sibling");
  std::string child;
  std::string visit;
  std::string note;
  REQUIRE(env.records()
              .write([&](RecordStore::Writer& w) -> Status {
                auto c = w.create(RecordKind::child, {}, child_fields("Cal", "Example"));
                if (!c.ok()) return c.status();
                child = *c;
                auto v = w.create(RecordKind::visit, child, valid_fields(RecordKind::visit));
                if (!v.ok()) return v.status();
                visit = *v;
                Fields nf = valid_fields(RecordKind::case_note);
                nf["visit_id"] = visit;
                auto n = w.create(RecordKind::case_note, child, nf);
                if (!n.ok()) return n.status();
                note = *n;
                FC_TRY(w.update(older, {{"uasc", true}}));
                return w.update(visit, {{"location", S("School")}});
              })
              .ok());
  std::set<std::string> txs;
  std::set<std::string> records;
  for (const auto& id : {child, visit, note}) {
    for (const auto& c : history(env.records(), id)) {
      txs.insert(c.tx_id);
      records.insert(c.record_id);
    }
  }
  const auto older_h = history(env.records(), older);
  txs.insert(older_h.back().tx_id);
  CHECK(txs.size() == 1);
  CHECK(records.size() == 3);
  CHECK(older_h.front().tx_id != older_h.back().tx_id);
  CHECK(is_uuid(*txs.begin()));
}

TEST_CASE("a failure inside a multi-write transaction leaves nothing", "[records][changelog]") {
  RecordEnv env;
  const std::string child = env.child();
  const std::int64_t records = env.record_rows();
  const std::int64_t log = env.log_rows();
  const auto pending = env.records().pending_transactions();
  REQUIRE(pending.ok());
  const Record before = get(env.records(), child);

  SECTION("an invalid record at the end") {
    Status st = env.records().write([&](RecordStore::Writer& w) -> Status {
      auto v = w.create(RecordKind::visit, child, valid_fields(RecordKind::visit));
      if (!v.ok()) return v.status();
      FC_TRY(w.update(child, {{"last_name", S("Changed")}}));
      Fields bad = valid_fields(RecordKind::case_note);
      bad["status"] = S("final");
      return w.create(RecordKind::case_note, child, bad).status();
    });
    CHECK(st.code() == Errc::validation);
    CHECK(st.message().rfind("case_note.status: ", 0) == 0);
  }
  SECTION("the caller gives up half way") {
    Status st = env.records().write([&](RecordStore::Writer& w) -> Status {
      auto v = w.create(RecordKind::visit, child, valid_fields(RecordKind::visit));
      if (!v.ok()) return v.status();
      FC_TRY(w.remove(*v));
      return {Errc::internal, "the app changed its mind"};
    });
    CHECK(st.code() == Errc::internal);
  }
  SECTION("the caller ignores a refusal and carries on") {
    // The visit must not reach the server without the note that failed to go with it.
    Status refused;
    Status later;
    Status st = env.records().write([&](RecordStore::Writer& w) -> Status {
      auto v = w.create(RecordKind::visit, child, valid_fields(RecordKind::visit));
      if (!v.ok()) return v.status();
      Fields bad = valid_fields(RecordKind::case_note);
      bad["text"] = S("\xff");
      refused = w.create(RecordKind::case_note, child, bad).status();
      // Once something failed, the writer does nothing more.
      later = w.create(RecordKind::case_note, child, valid_fields(RecordKind::case_note)).status();
      (void)w.update(child, {{"last_name", S("Changed")}});
      return {};
    });
    CHECK(refused.code() == Errc::validation);
    CHECK(refused.message() == "case_note.text: is not valid UTF-8");
    CHECK(later.code() == Errc::validation);
    CHECK(later.message() == refused.message());
    CHECK(st.code() == Errc::validation);
    CHECK(st.message() == refused.message());
  }
  SECTION("the caller ignores a failed attachment") {
    Status st = env.records().write([&](RecordStore::Writer& w) -> Status {
      auto v = w.create(RecordKind::visit, child, valid_fields(RecordKind::visit));
      if (!v.ok()) return v.status();
      const std::vector<std::uint8_t> bytes{1, 2};
      (void)w.attach(*v, "../escape.jpg", "image/jpeg", bytes);
      return {};
    });
    CHECK(st.message() == "attachment.filename: must be a plain file name");
  }
  SECTION("an exception escapes") {
    CHECK_THROWS_AS(env.records().write([&](RecordStore::Writer& w) -> Status {
      FC_TRY(w.create(RecordKind::visit, child, valid_fields(RecordKind::visit)).status());
      throw std::runtime_error("boom");
    }),
                    std::runtime_error);
  }
  CHECK(env.record_rows() == records);
  CHECK(env.log_rows() == log);
  CHECK(*env.records().pending_transactions() == *pending);
  CHECK(get(env.records(), child).fields == before.fields);
  // And the store is still usable.
  CHECK(env.records().create(RecordKind::visit, child, valid_fields(RecordKind::visit)).ok());
}

TEST_CASE("pending transactions and unsent changes in order", "[records][changelog]") {
  RecordEnv env;
  auto none = env.records().pending_transactions();
  REQUIRE(none.ok());
  CHECK(*none == 0);
  auto empty = env.records().unsent_changes(100);
  REQUIRE(empty.ok());
  CHECK(empty->empty());

  const std::string child = env.child();  // tx 1
  REQUIRE(env.records()
              .write([&](RecordStore::Writer& w) -> Status {  // tx 2
                FC_TRY(
                    w.create(RecordKind::visit, child, valid_fields(RecordKind::visit)).status());
                return w.create(RecordKind::case_note, child, valid_fields(RecordKind::case_note))
                    .status();
              })
              .ok());
  REQUIRE(env.records().update(child, {{"uasc", true}}).ok());  // tx 3
  // A write that changes nothing is no transaction.
  REQUIRE(env.records().write([](RecordStore::Writer&) { return Status(); }).ok());
  // A refused write is no transaction.
  CHECK_FALSE(env.records().update(child, {{"gender", S("x")}}).ok());

  auto pending = env.records().pending_transactions();
  REQUIRE(pending.ok());
  CHECK(*pending == 3);

  const auto all = all_changes(env.records());
  CHECK(static_cast<std::int64_t>(all.size()) == env.log_rows());
  std::vector<std::string> tx_order;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i > 0) {
      CHECK(all[i - 1].seq < all[i].seq);
      CHECK(all[i - 1].hlc < all[i].hlc);
    }
    if (tx_order.empty() || tx_order.back() != all[i].tx_id) tx_order.push_back(all[i].tx_id);
  }
  // Each transaction's operations are contiguous.
  CHECK(tx_order.size() == 3);
  CHECK(std::set<std::string>(tx_order.begin(), tx_order.end()).size() == 3);
  CHECK(all.front().op == FieldChange::Op::create);
  CHECK(all.front().record_id == child);
  CHECK(all.back().field == "uasc");
  CHECK(all.back().value == Value{true});

  auto first5 = env.records().unsent_changes(5);
  REQUIRE(first5.ok());
  REQUIRE(first5->size() == 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK((*first5)[i].op_id == all[i].op_id);
}

TEST_CASE("hlc stamps keep rising across a reopen with the clock put back",
          "[records][changelog]") {
  RecordEnv env;
  const std::string child = env.child();
  const std::string last = all_changes(env.records()).back().hlc;
  env.clock.set_wall(env.clock.wall() - 48h);
  env.reopen();
  REQUIRE(env.records().update(child, {{"uasc", true}}).ok());
  const auto all = all_changes(env.records());
  CHECK(last < all.back().hlc);
  CHECK(all.back().at == now_text(env.clock));  // the wall time is still the device's claim
}

// ---------------------------------------------------------------------------------------------
// Attachments.

TEST_CASE("attachments round-trip with their size and sha256", "[records][attachments]") {
  for (const StoreMode& mode : all_store_modes()) {
    SECTION(mode.name()) {
      RecordEnv env(mode);
      const std::string child = env.child();
      auto visit = env.records().create(RecordKind::visit, child, valid_fields(RecordKind::visit));
      REQUIRE(visit.ok());

      const std::vector<std::uint8_t> abc{'a', 'b', 'c'};
      std::vector<std::uint8_t> photo(300'000);
      for (std::size_t i = 0; i < photo.size(); ++i) {
        photo[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 13);
      }
      std::string small;
      std::string big;
      std::string empty;
      Status written = env.records().write([&](RecordStore::Writer& w) -> Status {
        auto a = w.attach(*visit, "note.pdf", "application/pdf", abc, "Signed plan");
        if (!a.ok()) return a.status();
        small = *a;
        auto b = w.attach(child, "room.jpg", "image/jpeg", photo);
        if (!b.ok()) return b.status();
        big = *b;
        auto e = w.attach(child, "blank.png", "image/png", {});
        if (!e.ok()) return e.status();
        empty = *e;
        return {};
      });
      INFO(written.to_string());
      REQUIRE(written.ok());
      env.reopen();

      const Record a = get(env.records(), small);
      CHECK(a.kind == RecordKind::attachment);
      CHECK(a.case_id == child);
      CHECK(text(a, "parent_id") == *visit);
      CHECK(text(a, "filename") == "note.pdf");
      CHECK(text(a, "media_type") == "application/pdf");
      CHECK(text(a, "caption") == "Signed plan");
      CHECK(int_of(a.fields, "size_bytes") == 3);
      CHECK(text(a, "sha256") ==
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
      auto bytes = env.records().attachment_bytes(small);
      REQUIRE(bytes.ok());
      CHECK(*bytes == abc);

      const Record b = get(env.records(), big);
      CHECK(int_of(b.fields, "size_bytes") == 300'000);
      CHECK_FALSE(b.fields.contains("caption"));
      CHECK(text(b, "sha256")->size() == 64);
      auto big_bytes = env.records().attachment_bytes(big);
      REQUIRE(big_bytes.ok());
      CHECK(*big_bytes == photo);

      const Record e = get(env.records(), empty);
      CHECK(int_of(e.fields, "size_bytes") == 0);
      CHECK(text(e, "sha256") ==
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
      auto empty_bytes = env.records().attachment_bytes(empty);
      REQUIRE(empty_bytes.ok());
      CHECK(empty_bytes->empty());

      CHECK(env.records().attachment_bytes(*visit).code() == Errc::not_found);
      CHECK(integrity_check(*env.store) == "ok");
    }
  }
}

TEST_CASE("attachments over the limit or without a parent are refused", "[records][attachments]") {
  RecordEnv env;
  const std::string child = env.child();
  auto attach = [&](const std::string& parent, std::string filename, std::string media_type,
                    std::span<const std::uint8_t> bytes) -> Result<std::string> {
    std::string id;
    Status st = env.records().write([&](RecordStore::Writer& w) -> Status {
      auto r = w.attach(parent, filename, media_type, bytes);
      if (!r.ok()) return r.status();
      id = *r;
      return {};
    });
    if (!st.ok()) return st;
    return id;
  };
  const std::vector<std::uint8_t> tiny{1, 2, 3};

  // At the limit is fine; one byte over is not.
  {
    std::vector<std::uint8_t> at_limit(kMaxAttachmentBytes, 7);
    auto ok = attach(child, "scan.pdf", "application/pdf", at_limit);
    REQUIRE(ok.ok());
    CHECK(int_of(get(env.records(), *ok).fields, "size_bytes") ==
          static_cast<std::int64_t>(kMaxAttachmentBytes));
  }
  const std::int64_t records = env.record_rows();
  const std::int64_t log = env.log_rows();
  const std::int64_t blobs = query_int(*env.store, "SELECT count(*) FROM attachment_data");
  {
    std::vector<std::uint8_t> over(kMaxAttachmentBytes + 1, 7);
    auto r = attach(child, "scan.pdf", "application/pdf", over);
    REQUIRE_FALSE(r.ok());
    CHECK(r.code() == Errc::validation);
    CHECK(r.status().message().rfind("attachment.size_bytes: ", 0) == 0);
    CHECK(r.status().message().find("over the attachment size limit") != std::string::npos);
  }

  // No parent, or a deleted one.
  auto r = attach("0190a000-0000-7000-8000-0000000000ff", "a.jpg", "image/jpeg", tiny);
  CHECK(r.code() == Errc::not_found);
  auto gone = env.records().create(RecordKind::visit, child, valid_fields(RecordKind::visit));
  REQUIRE(gone.ok());
  REQUIRE(env.records().remove(*gone).ok());
  const std::int64_t records2 = env.record_rows();
  const std::int64_t log2 = env.log_rows();
  r = attach(*gone, "a.jpg", "image/jpeg", tiny);
  CHECK(r.code() == Errc::not_found);

  // File names are plain names; media types come from the list.
  for (const char* name : {"../x", "a/b", ".hidden", "a\\b", "..", ".", "", "/etc/passwd"}) {
    INFO("filename '" << name << "'");
    auto bad = attach(child, name, "image/jpeg", tiny);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.code() == Errc::validation);
    CHECK(bad.status().message() == "attachment.filename: must be a plain file name");
  }
  auto ctl = attach(child, "a\nb.jpg", "image/jpeg", tiny);
  CHECK(ctl.status().message() == "attachment.filename: contains control characters");
  auto gif = attach(child, "a.gif", "image/gif", tiny);
  CHECK(gif.status().message() == "attachment.media_type: is not one of the allowed codes");
  auto long_name = attach(child, std::string(252, 'a') + ".jpg", "image/jpeg", tiny);
  CHECK(long_name.status().message().rfind("attachment.filename: is longer than 255", 0) == 0);

  CHECK(env.record_rows() == records2);
  CHECK(env.log_rows() == log2);
  CHECK(records2 == records + 1);
  CHECK(log2 > log);
  CHECK(query_int(*env.store, "SELECT count(*) FROM attachment_data") == blobs);
}

// ---------------------------------------------------------------------------------------------
// Opening.

TEST_CASE("the signed-in worker is named by the id of a worker record", "[records]") {
  TempDir dir;
  FakeClock clock;
  auto store = open_store(all_store_modes().front(), dir / "who.db");
  REQUIRE(store.ok());
  // A free-text worker id would be written into authorised_by and matched against
  // allocated_worker, both references: a manager could never authorise and no child could be
  // allocated. It is refused up front.
  for (const Identity& who :
       {Identity{"worker-id", "device-id", Role::team_manager},
        Identity{"0190A000-0000-7000-8000-00000000A002", "device-id", Role::team_manager},
        Identity{"", "device-id", Role::social_worker},
        Identity{kWorkerId, "", Role::social_worker}}) {
    INFO("'" << who.worker_id << "' on '" << who.device_id << "'");
    auto rs = RecordStore::open(**store, who, clock, england_timescales());
    REQUIRE_FALSE(rs.ok());
    CHECK(rs.code() == Errc::invalid_argument);
  }
  auto bad = RecordStore::open(**store, {"worker-id", "device-id", Role::team_manager}, clock,
                               england_timescales());
  CHECK(bad.status().message().find("worker's record") != std::string::npos);
  // Device ids are free text.
  auto ok = RecordStore::open(**store, {kManagerId, "Tablet 7 (spare)", Role::team_manager}, clock,
                              england_timescales());
  REQUIRE(ok.ok());
  CHECK((*ok)->identity().device_id == "Tablet 7 (spare)");
}

// ---------------------------------------------------------------------------------------------
// Fields fieldcase maintains.

TEST_CASE("maintained fields cannot be set on create or update", "[records][validation]") {
  RecordEnv env;
  const std::string child = env.child();
  struct Case {
    RecordKind kind;
    std::string field;
    Value value;
  };
  const std::vector<Case> cases{
      {RecordKind::assessment, "due_date", S("2027-12-31")},
      {RecordKind::assessment, "authorised_by", kManagerId},
      {RecordKind::visit, "recorded_at", S("2027-01-14T10:00:00Z")},
      {RecordKind::s47_enquiry, "initial_conference_target", S("2027-12-31")},
  };
  for (const Case& c : cases) {
    const std::string where = S(to_string(c.kind)) + "." + c.field;
    INFO(where);
    const std::string expected = where + ": is maintained by fieldcase and cannot be set";
    const std::int64_t records = env.record_rows();
    const std::int64_t log = env.log_rows();
    Fields f = valid_fields(c.kind);
    f[c.field] = c.value;
    auto created = env.records().create(c.kind, child, f);
    REQUIRE_FALSE(created.ok());
    CHECK(created.code() == Errc::validation);
    CHECK(created.status().message() == expected);
    CHECK(env.record_rows() == records);

    auto id = env.records().create(c.kind, child, valid_fields(c.kind));
    REQUIRE(id.ok());
    const Record before = get(env.records(), *id);
    const std::int64_t log2 = env.log_rows();
    CHECK(log2 > log);
    Status st = env.records().update(*id, {{c.field, c.value}});
    CHECK(st.code() == Errc::validation);
    CHECK(st.message() == expected);
    st = env.records().update(*id, {{c.field, Value{}}});
    CHECK(st.message() == expected);
    CHECK(get(env.records(), *id).fields == before.fields);
    CHECK(env.log_rows() == log2);
  }

  // An attachment's record is kept with its bytes: only attach() makes one, and what
  // describes the bytes cannot be edited afterwards (the name and caption can).
  const std::int64_t records = env.record_rows();
  auto direct =
      env.records().create(RecordKind::attachment, child, valid_fields(RecordKind::attachment));
  REQUIRE_FALSE(direct.ok());
  CHECK(direct.code() == Errc::validation);
  CHECK(direct.status().message().rfind("attachment.parent_id: ", 0) == 0);
  CHECK(env.record_rows() == records);
  std::string att;
  const std::vector<std::uint8_t> bytes{1, 2, 3};
  REQUIRE(env.records()
              .write([&](RecordStore::Writer& w) -> Status {
                auto a = w.attach(child, "a.jpg", "image/jpeg", bytes);
                if (!a.ok()) return a.status();
                att = *a;
                return {};
              })
              .ok());
  for (const Fields& change :
       {Fields{{"size_bytes", std::int64_t{99}}}, Fields{{"sha256", std::string(64, 'b')}},
        Fields{{"parent_id", child}}, Fields{{"media_type", S("image/png")}}}) {
    Status st = env.records().update(att, change);
    CHECK(st.code() == Errc::validation);
    CHECK(st.message().find(": is maintained by fieldcase and cannot be set") != std::string::npos);
  }
  CHECK(env.records().update(att, {{"filename", S("b.jpg")}, {"caption", S("Her room")}}).ok());
}

TEST_CASE("the conference target follows the strategy discussion", "[records]") {
  RecordEnv env;
  const std::string child = env.child();
  const Timescales ts = england_timescales();
  Fields f = valid_fields(RecordKind::s47_enquiry);
  f["strategy_discussion_date"] = S("2027-01-05");
  auto id = env.records().create(RecordKind::s47_enquiry, child, f);
  REQUIRE(id.ok());
  // 15 working days after Tuesday 5 January 2027.
  CHECK(text(get(env.records(), *id), "initial_conference_target") == "2027-01-26");
  CHECK(ts.initial_conference_due(date("2027-01-05"))->to_string() == "2027-01-26");
  REQUIRE(env.records().update(*id, {{"strategy_discussion_date", S("2027-01-08")}}).ok());
  CHECK(text(get(env.records(), *id), "initial_conference_target") == "2027-01-29");
  // Cleared with the date it was worked out from.
  REQUIRE(env.records().update(*id, {{"strategy_discussion_date", Value{}}}).ok());
  CHECK_FALSE(text(get(env.records(), *id), "initial_conference_target"));
  const auto h = history(env.records(), *id);
  CHECK(h.back().field == "strategy_discussion_date");
  CHECK(h[h.size() - 2].field == "initial_conference_target");
  CHECK(is_null(h[h.size() - 2].value));
}

const std::string kCompletedFrozen =
    "assessment.completed_at: cannot be changed once the assessment is completed; a manager can "
    "return it for amendment";

TEST_CASE("completion and authorisation times are facts once recorded", "[records][assessment]") {
  RecordEnv env;
  auto manager = env.open_as(manager_identity());
  const std::string child = env.child();
  auto expect_refused = [&](RecordStore& rs, const std::string& id, const Fields& change,
                            const std::string& message) {
    INFO(message);
    const Record before = get(env.records(), id);
    const std::int64_t log = env.log_rows();
    Status st = rs.update(id, change);
    CHECK(st.code() == Errc::validation);
    CHECK(st.message() == message);
    CHECK(get(env.records(), id).fields == before.fields);
    CHECK(env.log_rows() == log);
  };

  // Not completed: no completion or authorisation time, on create or update.
  Fields f = valid_fields(RecordKind::assessment);
  f["completed_at"] = S("2027-01-14T16:00:00Z");
  auto created = env.records().create(RecordKind::assessment, child, f);
  REQUIRE_FALSE(created.ok());
  CHECK(created.status().message() ==
        "assessment.completed_at: is only set when the assessment is completed");
  auto id =
      env.records().create(RecordKind::assessment, child, valid_fields(RecordKind::assessment));
  REQUIRE(id.ok());
  expect_refused(env.records(), *id, {{"completed_at", S("2027-01-14T16:00:00Z")}},
                 "assessment.completed_at: is only set when the assessment is completed");
  expect_refused(env.records(), *id, {{"authorised_at", S("2027-01-14T16:00:00Z")}},
                 "assessment.authorised_at: is only set when a manager authorises the assessment");

  // Completed with a claimed time (yesterday afternoon, recorded this morning).
  REQUIRE(
      env.records()
          .update(*id, {{"status", S("completed")}, {"completed_at", S("2027-01-14T16:00:00Z")}})
          .ok());
  CHECK(text(get(env.records(), *id), "completed_at") == "2027-01-14T16:00:00Z");

  // Now the worker cannot move it, clear it or pre-empt the manager's authorisation.
  expect_refused(env.records(), *id, {{"completed_at", S("2027-01-10T09:00:00Z")}},
                 kCompletedFrozen);
  expect_refused(env.records(), *id, {{"completed_at", Value{}}}, kCompletedFrozen);
  expect_refused(*manager, *id, {{"completed_at", S("2027-01-14T17:00:00Z")}}, kCompletedFrozen);
  expect_refused(env.records(), *id, {{"authorised_at", S("2027-01-14T17:00:00Z")}},
                 "assessment.authorised_at: is only set when a manager authorises the assessment");

  // An authorisation is not dated in the future.
  expect_refused(*manager, *id,
                 {{"status", S("authorised")}, {"authorised_at", S("2027-01-16T09:00:00Z")}},
                 "assessment.authorised_at: must not be in the future");

  // The manager authorises: the completion time is untouched.
  env.clock.advance(1h);
  REQUIRE(set_status(*manager, *id, "authorised").ok());
  const Record authorised = get(env.records(), *id);
  CHECK(text(authorised, "completed_at") == "2027-01-14T16:00:00Z");
  CHECK(text(authorised, "authorised_at") == now_text(env.clock));
  CHECK(text(authorised, "authorised_by") == kManagerId);

  // A returned assessment loses its completion time and cannot be given one back without
  // being completed again.
  auto second =
      env.records().create(RecordKind::assessment, child, valid_fields(RecordKind::assessment));
  REQUIRE(second.ok());
  REQUIRE(set_status(env.records(), *second, "completed").ok());
  REQUIRE(set_status(*manager, *second, "returned").ok());
  expect_refused(env.records(), *second, {{"completed_at", S("2027-01-14T16:00:00Z")}},
                 "assessment.completed_at: is only set when the assessment is completed");

  // The rules are validate_record's, so the server refuses the same records.
  Record completed = authorised;
  completed.fields["status"] = S("completed");
  completed.fields.erase("authorised_at");
  completed.fields.erase("authorised_by");
  Record r = authorised;
  r.fields.erase("authorised_by");
  ValidationContext ctx;
  ctx.role = Role::team_manager;
  ctx.now = env.clock.wall();
  ctx.before = &completed;
  CHECK(validate_record(authorised, ctx).ok());
  CHECK(validate_record(r, ctx).message() ==
        "assessment.authorised_by: is required once the assessment is authorised");
}

TEST_CASE("an update that changes nothing writes nothing", "[records][changelog]") {
  RecordEnv env;
  auto manager = env.open_as(manager_identity());
  const std::string child = env.child();
  const Record before = get(env.records(), child);
  const std::int64_t log = env.log_rows();
  env.clock.advance(1h);
  REQUIRE(manager->update(child, {{"first_name", S("Amy")}, {"ethnicity", Value{}}}).ok());
  REQUIRE(manager->update(child, {}).ok());
  const Record after = get(env.records(), child);
  CHECK(after.fields == before.fields);
  CHECK(after.updated_at == before.updated_at);
  CHECK(after.updated_by == kWorkerId);
  CHECK(env.log_rows() == log);
  CHECK(*env.records().pending_transactions() == 1);
}

TEST_CASE("records made together are listed in the order they were made", "[records]") {
  RecordEnv env;  // the fake clock does not move: every id is made in the same millisecond
  const std::string child = env.child();
  std::vector<std::string> made;
  REQUIRE(env.records()
              .write([&](RecordStore::Writer& w) -> Status {
                for (int i = 0; i < 50; ++i) {
                  Fields f = valid_fields(RecordKind::case_note);
                  f["text"] = "Note " + std::to_string(i);
                  auto id = w.create(RecordKind::case_note, child, f);
                  if (!id.ok()) return id.status();
                  made.push_back(*id);
                }
                return {};
              })
              .ok());
  auto notes = env.records().list(RecordKind::case_note, child);
  REQUIRE(notes.ok());
  std::vector<std::string> listed;
  for (const auto& n : *notes) listed.push_back(n.id);
  CHECK(listed == made);
}

TEST_CASE("a completed assessment is frozen until a manager returns it", "[records][assessment]") {
  RecordEnv env;
  auto manager = env.open_as(manager_identity());
  const std::string child = env.child();
  Fields f = valid_fields(RecordKind::assessment);
  f["child_development"] = S("Meeting milestones.");
  f["factors"] = CodeList{"1A"};
  auto id = env.records().create(RecordKind::assessment, child, f);
  REQUIRE(id.ok());
  REQUIRE(set_status(env.records(), *id, "completed").ok());
  const Record completed = get(env.records(), *id);
  const std::int64_t log = env.log_rows();

  struct Change {
    Fields fields;
    std::string field;
  };
  for (RecordStore* rs : {&env.records(), manager.get()}) {
    for (const Change& c : std::vector<Change>{
             {{{"child_development", S("Rewritten after completion.")}}, "child_development"},
             {{{"child_development", Value{}}}, "child_development"},
             {{{"parenting_capacity", S("Added after completion.")}}, "parenting_capacity"},
             {{{"factors", CodeList{"1A", "2A"}}}, "factors"},
             // A later start would make a late assessment look on time.
             {{{"start_date", S("2027-01-11")}}, "start_date"},
             {{{"assessment_kind", S("core")}}, "assessment_kind"},
             {{{"returned_reason", S("Not yet returned")}}, "returned_reason"},
         }) {
      INFO(c.field);
      Status st = rs->update(*id, c.fields);
      CHECK(st.code() == Errc::validation);
      CHECK(st.message() == "assessment." + c.field +
                                ": cannot be changed once the assessment is completed; a "
                                "manager can return it for amendment");
    }
  }
  Status st = env.records().remove(*id);
  CHECK(st.code() == Errc::validation);
  CHECK(st.message().rfind("assessment.status: a completed assessment cannot be deleted", 0) == 0);
  CHECK(get(env.records(), *id).fields == completed.fields);
  CHECK(env.log_rows() == log);

  // Returned with a reason, it can be amended and completed again.
  REQUIRE(manager
              ->update(*id, {{"status", S("returned")},
                             {"returned_reason", S("Say more about school.")}})
              .ok());
  REQUIRE(env.records().update(*id, {{"child_development", S("Attends school daily.")}}).ok());
  env.clock.advance(std::chrono::hours(2));
  REQUIRE(set_status(env.records(), *id, "completed").ok());
  const Record again = get(env.records(), *id);
  CHECK(text(again, "child_development") == "Attends school daily.");
  CHECK(text(again, "returned_reason") == "Say more about school.");
  CHECK(text(again, "completed_at") == now_text(env.clock));
}

TEST_CASE("assessment completion and authorisation are in date order", "[records][assessment]") {
  RecordEnv env;
  auto manager = env.open_as(manager_identity());
  const std::string child = env.child();
  auto id = env.records().create(RecordKind::assessment, child,
                                 valid_fields(RecordKind::assessment));  // started 2027-01-04
  REQUIRE(id.ok());
  const std::int64_t log = env.log_rows();
  Status st = env.records().update(
      *id, {{"status", S("completed")}, {"completed_at", S("2027-01-03T23:59:59Z")}});
  CHECK(st.code() == Errc::validation);
  CHECK(st.message() == "assessment.completed_at: must not be before start_date");
  CHECK(env.log_rows() == log);
  // The day it started is fine.
  REQUIRE(
      env.records()
          .update(*id, {{"status", S("completed")}, {"completed_at", S("2027-01-04T08:00:00Z")}})
          .ok());
  const std::int64_t log2 = env.log_rows();
  st = manager->update(*id,
                       {{"status", S("authorised")}, {"authorised_at", S("2027-01-04T07:59:59Z")}});
  CHECK(st.code() == Errc::validation);
  CHECK(st.message() == "assessment.authorised_at: must not be before completed_at");
  CHECK(env.log_rows() == log2);
  CHECK(text(get(env.records(), *id), "status") == "completed");
  REQUIRE(
      manager
          ->update(*id, {{"status", S("authorised")}, {"authorised_at", S("2027-01-04T08:00:00Z")}})
          .ok());
}
