// "My day" on a realistic caseload: five years of generated history for 40 children plus
// hand-placed cases whose answers are worked out here by hand.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>
#include <tuple>

#include "record_fixture.hpp"

using namespace fieldcase;
using namespace fieldcase::test;
using namespace std::chrono_literals;

namespace {

using S = std::string;
using W = RecordStore::Writer;

// Tuesday 29 December 2026: Christmas Day was Friday, Boxing Day is observed on Monday 28th and
// New Year's Day is Friday 1 January.
const Date kToday = Date::parse("2026-12-29").value();

S at(Date d, const char* time = "10:00:00") { return d.to_string() + "T" + time + "Z"; }

// What the generator wrote for one child, from which the expected "My day" is worked out
// independently of the database.
struct Child {
  std::string id;
  std::string name;
  bool mine = true;
  struct Open {
    std::string id;
    AssessmentKind kind;
    Date start;
  };
  std::vector<Open> open_assessments;
  std::optional<std::pair<std::string, Date>> open_cp;  // plan id, start
  struct Lac {
    std::string id;
    Date placement;
    bool until_18;
  };
  std::optional<Lac> open_lac;
  std::optional<Date> last_cp_visit;
  std::optional<Date> last_lac_visit;
};

struct Item {
  DueItem::What what;
  std::string record_id;
  std::string case_id;
  std::string child_name;
  std::string label;
  Date due;
  std::int32_t days_left;
  auto key() const { return std::tie(what, record_id, case_id, child_name, label, due, days_left); }
  friend bool operator==(const Item& a, const Item& b) { return a.key() == b.key(); }
};

Item item(const DueItem& d) {
  return {d.what, d.record_id, d.case_id, d.child_name, d.label, d.due, d.working_days_left};
}

std::vector<Item> items(const std::vector<DueItem>& ds) {
  std::vector<Item> out;
  for (const auto& d : ds) out.push_back(item(d));
  return out;
}

std::ostream& operator<<(std::ostream& os, const Item& i) {
  return os << i.label << " for " << i.child_name << " due " << i.due.to_string() << " ("
            << i.days_left << ")";
}

class Generator {
 public:
  Generator(RecordEnv& env, RecordStore& manager, const Timescales& ts)
      : env_(env), manager_(manager), ts_(ts), cal_(ts.calendar()) {}

  std::uint32_t pick(std::uint32_t n) { return static_cast<std::uint32_t>(rng_() % n); }
  Date plus_days(Date d, std::int64_t n) { return *d.add_days(n); }
  Date plus_working(Date d, std::int32_t n) { return *cal_.add_working_days(d, n); }

  // One child with random history in one transaction, then the manager's authorisations.
  Child random_child(int index, bool mine) {
    Child c;
    c.mine = mine;
    std::vector<std::string> to_authorise;
    std::vector<std::string> to_return;
    const S first = (mine ? "Kid" : "Other") + std::to_string(index);
    c.name = first + " Random";
    write([&](W& w) -> Status {
      Fields f = child_fields(first, "Random", mine ? kWorkerId : kOtherWorkerId);
      f["date_of_birth"] = plus_days(*Date::from_ymd(2008, 1, 1), pick(16 * 365)).to_string();
      auto id = w.create(RecordKind::child, {}, f);
      if (!id.ok()) return id.status();
      c.id = *id;

      // Ordinary visits, each with its note, every two to six weeks for five years.
      for (Date d = plus_days(*Date::from_ymd(2022, 1, 3), pick(30)); d < kToday;
           d = plus_days(d, 14 + pick(28))) {
        static const char* kTypes[] = {"assessment", "child_in_need", "other"};
        FC_TRY(visit(w, c, d, kTypes[pick(3)]));
      }
      // Assessments, about one a year, completed and authorised.
      for (Date s = plus_days(*Date::from_ymd(2022, 2, 1), pick(300)); s < plus_days(kToday, -150);
           s = plus_days(s, 300 + pick(130))) {
        auto a = w.create(RecordKind::assessment, c.id,
                          {{"assessment_kind", S(pick(2) ? "single" : "core")},
                           {"start_date", s.to_string()},
                           {"status", S("in_progress")}});
        if (!a.ok()) return a.status();
        FC_TRY(w.update(*a, {{"status", S("completed")},
                             {"completed_at",
                              at(plus_working(s, 20 + static_cast<int>(pick(25))), "15:30:00")}}));
        to_authorise.push_back(*a);
      }
      // Sometimes one open now: draft, in progress, or returned by the manager.
      if (pick(2) == 0) {
        const auto kind = pick(2) ? AssessmentKind::single : AssessmentKind::initial;
        const Date s = plus_days(kToday, -static_cast<std::int64_t>(pick(75)));
        const std::uint32_t state = pick(3);
        auto a = w.create(RecordKind::assessment, c.id,
                          {{"assessment_kind", S(to_string(kind))},
                           {"start_date", s.to_string()},
                           {"status", S(state == 0 ? "draft" : "in_progress")}});
        if (!a.ok()) return a.status();
        if (state == 2) {
          FC_TRY(w.update(*a, {{"status", S("completed")}}));
          to_return.push_back(*a);
        }
        c.open_assessments.push_back({*a, kind, s});
      }
      // A child protection plan that ended before 2025, with its statutory visits.
      if (pick(4) == 0) {
        const Date s = plus_days(*Date::from_ymd(2022, 3, 1), pick(600));
        const Date e = std::min(plus_days(s, 180 + pick(360)), *Date::from_ymd(2024, 12, 20));
        auto p = w.create(RecordKind::cp_plan, c.id,
                          {{"start_date", s.to_string()},
                           {"end_date", e.to_string()},
                           {"initial_category", S("EMO")}});
        if (!p.ok()) return p.status();
        for (Date d = plus_working(s, 3); d <= e; d = plus_working(d, 8 + pick(4))) {
          FC_TRY(visit(w, c, d, "cp_statutory"));
        }
      }
      // An open child protection plan or looked-after episode.
      const std::uint32_t now = pick(5);
      if (now == 0) {
        const Date s = plus_days(*Date::from_ymd(2025, 2, 1), pick(600));
        auto p = w.create(RecordKind::cp_plan, c.id,
                          {{"start_date", s.to_string()}, {"initial_category", S("NEG")}});
        if (!p.ok()) return p.status();
        c.open_cp = {{*p, s}};
        for (Date d = plus_working(s, 1 + pick(9)); d < kToday; d = plus_working(d, 8 + pick(5))) {
          FC_TRY(visit(w, c, d, "cp_statutory"));
        }
      } else if (now == 1) {
        const Date s = plus_days(*Date::from_ymd(2024, 1, 1), pick(1000));
        const bool until_18 = pick(2) == 0;
        auto e = w.create(RecordKind::lac_episode, c.id,
                          {{"start_date", s.to_string()},
                           {"placement_start", s.to_string()},
                           {"placement_until_18", until_18},
                           {"legal_status", S("C2")}});
        if (!e.ok()) return e.status();
        c.open_lac = Child::Lac{*e, s, until_18};
        for (Date d = plus_days(s, pick(8)); d < kToday; d = plus_days(d, 20 + pick(30))) {
          FC_TRY(visit(w, c, d, "lac_statutory"));
        }
      }
      return {};
    });
    for (const auto& id : to_authorise) manager_write(id, "authorised");
    for (const auto& id : to_return) manager_write(id, "returned");
    return c;
  }

  Status visit(W& w, Child& c, Date d, const char* type, bool always_seen = false) {
    // Now and then nobody answers the door: the visit is recorded, the child not seen.
    const bool seen = always_seen || pick(8) != 0;
    auto v = w.create(RecordKind::visit, c.id,
                      {{"visit_type", S(type)},
                       {"start_at", at(d)},
                       {"end_at", at(d, "11:00:00")},
                       {"child_seen", seen},
                       {"child_seen_alone", seen && pick(2) == 0}});
    if (!v.ok()) return v.status();
    auto n = w.create(RecordKind::case_note, c.id,
                      {{"contact_at", at(d)},
                       {"text", "Visited on " + d.to_string() + ". All seen."},
                       {"status", S("completed")},
                       {"visit_id", *v}});
    if (!n.ok()) return n.status();
    auto later = [](std::optional<Date>& last, Date x) {
      if (!last || *last < x) last = x;
    };
    if (seen && S(type) == "cp_statutory") later(c.last_cp_visit, d);
    if (seen && S(type) == "lac_statutory") later(c.last_lac_visit, d);
    return {};
  }

  void write(const std::function<Status(W&)>& fn) {
    Status st = env_.records().write(fn);
    INFO(st.to_string());
    REQUIRE(st.ok());
    ++transactions;
  }
  void manager_write(const std::string& id, const char* status) {
    Status st = manager_.update(id, {{"status", S(status)}});
    INFO(st.to_string());
    REQUIRE(st.ok());
    ++transactions;
  }

  std::int64_t transactions = 0;

 private:
  RecordEnv& env_;
  RecordStore& manager_;
  const Timescales& ts_;
  const WorkingCalendar& cal_;
  std::mt19937 rng_{20261229};
};

// "My day" worked out from what the generator wrote.
MyDay expected_day(const std::vector<Child>& children, const Timescales& ts) {
  const WorkingCalendar& cal = ts.calendar();
  std::vector<Item> all;
  for (const Child& c : children) {
    if (!c.mine) continue;
    for (const auto& a : c.open_assessments) {
      const Date due = *ts.assessment_due(a.kind, a.start);
      all.push_back({DueItem::What::assessment, a.id, c.id, c.name,
                     S(to_string(a.kind)) + " assessment", due,
                     cal.working_days_between(kToday, due)});
    }
    if (c.open_cp) {
      const auto& [plan, start] = *c.open_cp;
      const Date from = c.last_cp_visit && *c.last_cp_visit >= start ? *c.last_cp_visit : start;
      const Date due = *ts.cp_visit_due(from);
      all.push_back({DueItem::What::cp_visit, plan, c.id, c.name, "child protection visit", due,
                     cal.working_days_between(kToday, due)});
    }
    if (c.open_lac) {
      const Date due =
          *ts.lac_visit_due(c.open_lac->placement, c.last_lac_visit, c.open_lac->until_18);
      all.push_back({DueItem::What::lac_visit, c.open_lac->id, c.id, c.name,
                     "looked-after child visit", due, cal.working_days_between(kToday, due)});
    }
  }
  const Date week_end = *cal.add_working_days(kToday, 5);
  MyDay day;
  day.today = kToday;
  for (const Item& i : all) {
    DueItem d{i.what, i.record_id, i.case_id, i.child_name, i.label, i.due, i.days_left};
    if (i.due < kToday) {
      day.overdue.push_back(d);
    } else if (i.due == kToday) {
      day.due_today.push_back(d);
    } else if (i.due <= week_end) {
      day.due_this_week.push_back(d);
    }
  }
  for (auto* list : {&day.overdue, &day.due_today, &day.due_this_week}) {
    std::sort(list->begin(), list->end(), [](const DueItem& a, const DueItem& b) {
      return std::tie(a.due, a.record_id) < std::tie(b.due, b.record_id);
    });
  }
  return day;
}

const DueItem* find(const std::vector<DueItem>& list, const std::string& case_id) {
  for (const auto& d : list) {
    if (d.case_id == case_id) return &d;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("my day on a realistic caseload", "[records][myday]") {
  RecordEnv env;
  env.clock.set_wall(utc("2026-12-29T17:00:00Z"));
  auto manager = env.open_as(manager_identity());
  const Timescales ts = england_timescales();
  Generator gen(env, *manager, ts);

  std::vector<Child> children;
  for (int i = 0; i < 40; ++i) children.push_back(gen.random_child(i, true));
  for (int i = 0; i < 6; ++i) children.push_back(gen.random_child(i, false));

  // Hand-placed cases. Working days around today: Thu 24 Dec, (Fri 25, Sat, Sun, Mon 28 off),
  // Tue 29 (today), Wed 30, Thu 31, (Fri 1 Jan off), Mon 4, Tue 5, Wed 6 (fifth working day).
  auto hand_child = [&](const S& first, const S& last, const S& worker) {
    Child c;
    c.name = first + " " + last;
    c.mine = worker == kWorkerId;
    gen.write([&](W& w) -> Status {
      auto id = w.create(RecordKind::child, {}, child_fields(first, last, worker));
      if (!id.ok()) return id.status();
      c.id = *id;
      return {};
    });
    return c;
  };
  auto create = [&](Child& c, RecordKind kind, Fields f) {
    std::string id;
    gen.write([&](W& w) -> Status {
      auto r = w.create(kind, c.id, std::move(f));
      if (!r.ok()) return r.status();
      id = *r;
      return {};
    });
    return id;
  };
  auto visit_on = [&](Child& c, const char* day, const char* type) {
    gen.write([&](W& w) { return gen.visit(w, c, date(day), type, true); });
  };

  // An initial assessment started Wed 16 Dec: 7 working days later is today.
  Child dana = hand_child("Dana", "Duetoday", kWorkerId);
  const S dana_a = create(dana, RecordKind::assessment,
                          {{"assessment_kind", S("initial")},
                           {"start_date", S("2026-12-16")},
                           {"status", S("in_progress")}});
  dana.open_assessments.push_back({dana_a, AssessmentKind::initial, date("2026-12-16")});

  // One started Fri 11 Dec was due Tue 22 Dec: three working days overdue across Christmas.
  Child olly = hand_child("Olly", "Overdue", kWorkerId);
  const S olly_a = create(
      olly, RecordKind::assessment,
      {{"assessment_kind", S("initial")}, {"start_date", S("2026-12-11")}, {"status", S("draft")}});
  olly.open_assessments.push_back({olly_a, AssessmentKind::initial, date("2026-12-11")});

  // A child protection plan: the last statutory visit was Tue 15 Dec, so the next is due ten
  // working days later, Thu 31 Dec. A later visit of another type does not count, nor does a
  // statutory visit that was deleted.
  Child cara = hand_child("Cara", "Protected", kWorkerId);
  const S cara_plan = create(cara, RecordKind::cp_plan,
                             {{"start_date", S("2026-09-01")}, {"initial_category", S("PHY")}});
  cara.open_cp = {{cara_plan, date("2026-09-01")}};
  visit_on(cara, "2026-11-30", "cp_statutory");
  visit_on(cara, "2026-12-15", "cp_statutory");
  visit_on(cara, "2026-12-22", "child_in_need");
  {
    std::string deleted;
    gen.write([&](W& w) -> Status {
      auto v = w.create(RecordKind::visit, cara.id,
                        {{"visit_type", S("cp_statutory")},
                         {"start_at", at(date("2026-12-23"))},
                         {"child_seen", false}});
      if (!v.ok()) return v.status();
      deleted = *v;
      return {};
    });
    REQUIRE(env.records().remove(deleted).ok());
    ++gen.transactions;
  }

  // Looked after since 1 June 2025 in a placement meant to last until 18: after the first
  // year, visits are at most three months apart (regulation 28). Last visit 1 Oct 2026, so the
  // next is due Fri 1 Jan 2027 (a bank holiday, but a visit may happen on any day).
  Child lara = hand_child("Lara", "Lookedafter", kWorkerId);
  const S lara_ep = create(lara, RecordKind::lac_episode,
                           {{"start_date", S("2025-06-01")},
                            {"placement_start", S("2025-06-01")},
                            {"placement_until_18", true}});
  lara.open_lac = Child::Lac{lara_ep, date("2025-06-01"), true};
  visit_on(lara, "2025-06-05", "lac_statutory");
  visit_on(lara, "2026-07-01", "lac_statutory");
  visit_on(lara, "2026-10-01", "lac_statutory");

  // A new placement on Thu 10 Dec with no visit since: due within a week, Thu 17 Dec; six
  // working days overdue.
  Child nell = hand_child("Nell", "Newplacement", kWorkerId);
  const S nell_ep = create(nell, RecordKind::lac_episode,
                           {{"start_date", S("2024-01-10")}, {"placement_start", S("2026-12-10")}});
  nell.open_lac = Child::Lac{nell_ep, date("2026-12-10"), false};
  visit_on(nell, "2026-10-01", "lac_statutory");

  // A closed plan and completed or authorised assessments produce nothing.
  Child cole = hand_child("Cole", "Closed", kWorkerId);
  create(cole, RecordKind::cp_plan,
         {{"start_date", S("2025-01-06")},
          {"end_date", S("2026-06-30")},
          {"initial_category", S("SAB")}});
  visit_on(cole, "2026-06-20", "cp_statutory");
  {
    const S a = create(cole, RecordKind::assessment,
                       {{"assessment_kind", S("initial")},
                        {"start_date", S("2026-12-01")},
                        {"status", S("in_progress")}});
    REQUIRE(env.records().update(a, {{"status", S("completed")}}).ok());
    ++gen.transactions;
  }

  // A returned single assessment due Wed 6 Jan, the last day of the week ahead; one due a day
  // later is not listed.
  Child rita = hand_child("Rita", "Returned", kWorkerId);
  const Date rita_start = *ts.calendar().add_working_days(date("2027-01-06"), -45);
  REQUIRE(ts.assessment_due(AssessmentKind::single, rita_start)->to_string() == "2027-01-06");
  const S rita_a = create(rita, RecordKind::assessment,
                          {{"assessment_kind", S("single")},
                           {"start_date", rita_start.to_string()},
                           {"status", S("in_progress")}});
  REQUIRE(env.records().update(rita_a, {{"status", S("completed")}}).ok());
  REQUIRE(manager->update(rita_a, {{"status", S("returned")}}).ok());
  gen.transactions += 2;
  rita.open_assessments.push_back({rita_a, AssessmentKind::single, rita_start});
  Child tess = hand_child("Tess", "Nextweek", kWorkerId);
  const S tess_a = create(
      tess, RecordKind::assessment,
      {{"assessment_kind", S("initial")}, {"start_date", S("2026-12-24")}, {"status", S("draft")}});
  tess.open_assessments.push_back({tess_a, AssessmentKind::initial, date("2026-12-24")});

  // Another worker's child with everything due produces nothing for me.
  Child otto = hand_child("Otto", "Otherworker", kOtherWorkerId);
  create(
      otto, RecordKind::assessment,
      {{"assessment_kind", S("initial")}, {"start_date", S("2026-12-16")}, {"status", S("draft")}});
  create(otto, RecordKind::cp_plan,
         {{"start_date", S("2026-01-05")}, {"initial_category", S("NEG")}});

  for (Child* c : {&dana, &olly, &cara, &lara, &nell, &cole, &rita, &tess, &otto}) {
    children.push_back(*c);
  }

  // The caseload is exactly my children.
  {
    auto caseload = env.records().caseload();
    REQUIRE(caseload.ok());
    std::set<std::string> got;
    for (const auto& r : *caseload) got.insert(r.id);
    std::set<std::string> want;
    for (const auto& c : children) {
      if (c.mine) want.insert(c.id);
    }
    CHECK(got == want);
    CHECK(want.size() == 40 + 8);
  }

  const auto t0 = std::chrono::steady_clock::now();
  auto day = env.records().my_day(kToday);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  REQUIRE(day.ok());
  CHECK(elapsed < 200ms);
  CHECK(day->today == kToday);

  // The hand-placed cases, worked out by hand.
  const DueItem* d = find(day->due_today, dana.id);
  REQUIRE(d != nullptr);
  CHECK(d->what == DueItem::What::assessment);
  CHECK(d->record_id == dana_a);
  CHECK(d->label == "initial assessment");
  CHECK(d->child_name == "Dana Duetoday");
  CHECK(d->due == date("2026-12-29"));
  CHECK(d->working_days_left == 0);

  d = find(day->overdue, olly.id);
  REQUIRE(d != nullptr);
  CHECK(d->record_id == olly_a);
  CHECK(d->due == date("2026-12-22"));
  CHECK(d->working_days_left == -3);

  d = find(day->due_this_week, cara.id);
  REQUIRE(d != nullptr);
  CHECK(d->what == DueItem::What::cp_visit);
  CHECK(d->record_id == cara_plan);
  CHECK(d->label == "child protection visit");
  CHECK(d->due == date("2026-12-31"));
  CHECK(d->working_days_left == 2);

  d = find(day->due_this_week, lara.id);
  REQUIRE(d != nullptr);
  CHECK(d->what == DueItem::What::lac_visit);
  CHECK(d->record_id == lara_ep);
  CHECK(d->label == "looked-after child visit");
  CHECK(d->due == date("2027-01-01"));
  CHECK(d->working_days_left == 2);

  d = find(day->overdue, nell.id);
  REQUIRE(d != nullptr);
  CHECK(d->record_id == nell_ep);
  CHECK(d->due == date("2026-12-17"));
  CHECK(d->working_days_left == -6);

  d = find(day->due_this_week, rita.id);
  REQUIRE(d != nullptr);
  CHECK(d->label == "single assessment");
  CHECK(d->due == date("2027-01-06"));
  CHECK(d->working_days_left == 5);

  for (const Child* c : {&dana, &olly, &cara, &lara, &nell, &cole, &rita, &tess, &otto}) {
    INFO(c->name);
    const std::size_t n = static_cast<std::size_t>(
        std::count_if(day->overdue.begin(), day->overdue.end(),
                      [&](const DueItem& i) { return i.case_id == c->id; }) +
        std::count_if(day->due_today.begin(), day->due_today.end(),
                      [&](const DueItem& i) { return i.case_id == c->id; }) +
        std::count_if(day->due_this_week.begin(), day->due_this_week.end(),
                      [&](const DueItem& i) { return i.case_id == c->id; }));
    const bool listed = c != &cole && c != &tess && c != &otto;
    CHECK(n == (listed ? 1u : 0u));
  }

  // Sorted by due date: most overdue first.
  for (const auto* list : {&day->overdue, &day->due_today, &day->due_this_week}) {
    CHECK(std::is_sorted(list->begin(), list->end(), [](const DueItem& a, const DueItem& b) {
      return std::tie(a.due, a.record_id) < std::tie(b.due, b.record_id);
    }));
  }
  for (const auto& i : day->overdue) CHECK(i.working_days_left < 0);
  for (const auto& i : day->due_today) CHECK(i.working_days_left == 0);
  for (const auto& i : day->due_this_week) {
    CHECK(i.working_days_left >= 0);
    CHECK(i.working_days_left <= 5);
  }

  // The whole caseload, worked out from what was written.
  const MyDay want = expected_day(children, ts);
  CHECK(items(day->overdue) == items(want.overdue));
  CHECK(items(day->due_today) == items(want.due_today));
  CHECK(items(day->due_this_week) == items(want.due_this_week));
  CHECK(want.overdue.size() >= 4);  // enough generated variety to mean something
  CHECK(want.due_this_week.size() >= 4);

  // Every write so far is waiting to be sent.
  CHECK(day->changes_waiting == gen.transactions);
  REQUIRE(env.records().update(dana.id, {{"uasc", false}}).ok());
  auto again = env.records().my_day(kToday);
  REQUIRE(again.ok());
  CHECK(again->changes_waiting == gen.transactions + 1);
}

TEST_CASE("my day is empty for a worker with no caseload", "[records][myday]") {
  RecordEnv env;
  env.child();  // allocated to the worker
  auto other = env.open_as({kOtherWorkerId, "tablet-o1", Role::social_worker});
  auto day = other->my_day(date("2027-01-15"));
  REQUIRE(day.ok());
  CHECK(day->overdue.empty());
  CHECK(day->due_today.empty());
  CHECK(day->due_this_week.empty());
  CHECK(day->changes_waiting == 1);  // changes waiting are the device's, whoever signs in
}

TEST_CASE("a statutory visit where the child was not seen does not count", "[records][myday]") {
  RecordEnv env;
  env.clock.set_wall(utc("2026-12-29T17:00:00Z"));
  const std::string child = env.child("Seth", "Notseen");
  const std::string lac_child = env.child("Lina", "Notseen");
  auto visit = [&](const std::string& c, const char* type, const char* day, bool seen) {
    REQUIRE(
        env.records()
            .create(RecordKind::visit, c,
                    {{"visit_type", S(type)}, {"start_at", at(date(day))}, {"child_seen", seen}})
            .ok());
  };
  auto plan =
      env.records().create(RecordKind::cp_plan, child,
                           {{"start_date", S("2026-09-01")}, {"initial_category", S("NEG")}});
  REQUIRE(plan.ok());
  visit(child, "cp_statutory", "2026-12-01", true);
  visit(child, "cp_statutory", "2026-12-15", false);  // no access: the child was not seen
  auto episode =
      env.records().create(RecordKind::lac_episode, lac_child,
                           {{"start_date", S("2026-11-02")}, {"placement_start", S("2026-11-02")}});
  REQUIRE(episode.ok());
  visit(lac_child, "lac_statutory", "2026-11-05", true);
  visit(lac_child, "lac_statutory", "2026-12-10", false);

  auto day = env.records().my_day(kToday);
  REQUIRE(day.ok());
  REQUIRE(day->overdue.size() == 2);
  // Ten working days after Tuesday 1 December.
  const DueItem* cp = find(day->overdue, child);
  REQUIRE(cp != nullptr);
  CHECK(cp->record_id == *plan);
  CHECK(cp->due == date("2026-12-15"));
  CHECK(cp->working_days_left == -8);
  // Six weeks after 5 November, in the placement's first year.
  const DueItem* lac = find(day->overdue, lac_child);
  REQUIRE(lac != nullptr);
  CHECK(lac->record_id == *episode);
  CHECK(lac->due == date("2026-12-17"));
  CHECK(lac->working_days_left == -6);
  CHECK(day->due_today.empty());
  CHECK(day->due_this_week.empty());
}
