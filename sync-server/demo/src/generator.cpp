// The demo authority's history, replayed through SyncService in time order (demo.hpp).
//
// Each child's story is planned on its own random stream (so it does not depend on the order
// stories are planned in) as a list of device transactions: when the work was done, which
// worker's device wrote it, when that device's sync delivered it, and its operations. Stories
// start in time order; their transactions wait on their devices and are delivered by one
// SyncService request per device sync, in receipt order, interleaved with the allocations
// (Admin::allocate) that hand cases from the contact centre to assessment, safeguarding and
// looked-after teams.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "demo_support.hpp"
#include "fieldcase/ids.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/clock_offset.hpp"
#include "fieldcase/server/demo.hpp"
#include "fieldcase/server/figures.hpp"
#include "fieldcase/server/sync_service.hpp"
#include "fieldcase/timescales.hpp"

namespace fieldcase::server::demo {

using detail::iso;
using detail::kDay;
using detail::kHour;
using detail::kMin;
using detail::Ms;
using detail::Rng;

namespace {

// --- The organisation ----------------------------------------------------------------------

constexpr const char* kAreaNames[] = {"North", "Central", "South"};
constexpr const char* kFirst[] = {
    "Amara", "Ben",   "Chloe", "Daniel",   "Ella",  "Farah", "George", "Hana",  "Isaac",
    "Jade",  "Kofi",  "Leah",  "Mohammed", "Nina",  "Oscar", "Priya",  "Quinn", "Rosa",
    "Sam",   "Tariq", "Uma",   "Victor",   "Wanda", "Yusuf", "Zoe"};
constexpr const char* kLast[] = {"Ahmed",  "Baker",  "Clarke", "Davies", "Evans",  "Fisher",
                                 "Green",  "Hughes", "Iqbal",  "Jones",  "Khan",   "Lewis",
                                 "Morris", "Nowak",  "Owen",   "Patel",  "Quarry", "Roberts",
                                 "Singh",  "Taylor", "Usman",  "Walker", "Young"};

template <std::size_t N>
const char* pick(Rng& rng, const char* const (&list)[N]) {
  return list[rng.below(N)];
}

// --- Times and the working-day calendar ----------------------------------------------------

// Working days of the history, indexed, so the n-th working day after a date is one lookup.
class Days {
 public:
  Days(const WorkingCalendar& cal, Date first, Date last) : first_(first) {
    const std::int32_t n = first.days_until(last) + 1;
    count_.resize(static_cast<std::size_t>(n));
    std::int32_t seen = 0;
    for (std::int32_t i = 0; i < n; ++i) {
      Date d = first.add_days(i).value();
      if (cal.is_working_day(d)) {
        working_.push_back(d);
        ++seen;
      }
      count_[static_cast<std::size_t>(i)] = seen;
    }
  }
  // The n-th working day after d (d itself for 0), as WorkingCalendar::add_working_days; the
  // last known day when it runs off the end (such work lies after the history anyway).
  Date add(Date d, std::int32_t n) const {
    if (n <= 0) return d;
    const std::size_t k = static_cast<std::size_t>(count_at(d)) + static_cast<std::size_t>(n) - 1;
    return k < working_.size() ? working_[k] : working_.back().add_days(n).value();
  }
  bool working(Date d) const {
    const std::int32_t i = first_.days_until(d);
    if (i < 0 || i >= static_cast<std::int32_t>(count_.size())) return !d.is_weekend();
    return count_[static_cast<std::size_t>(i)] !=
           (i == 0 ? 0 : count_[static_cast<std::size_t>(i - 1)]);
  }
  const std::vector<Date>& working_days() const { return working_; }

 private:
  std::int32_t count_at(Date d) const {
    const std::int32_t i = first_.days_until(d);
    if (i < 0) return 0;
    if (i >= static_cast<std::int32_t>(count_.size())) return count_.back();
    return count_[static_cast<std::size_t>(i)];
  }
  Date first_;
  std::vector<std::int32_t> count_;  // working days on or before first + i
  std::vector<Date> working_;
};

Ms at_time(Date d, int minutes) { return detail::day_start(d) + Ms{minutes} * kMin; }
// A time during the working day (09:00 to 17:00).
Ms office_time(Rng& rng, Date d) { return at_time(d, 9 * 60 + static_cast<int>(rng.below(480))); }

// --- People and devices --------------------------------------------------------------------

struct Person {
  std::string id;
  std::string name;
  Role role = Role::social_worker;
  int team = -1;
  std::string device_id;
  std::string hlc_name;
  Ms skew = 0;                                  // device clock minus true time
  double offline = 0;                           // chance a tablet misses a day's syncs
  std::uint64_t key = 0;                        // for the per-day schedule draws
  std::multimap<Ms, sync::Transaction> outbox;  // by receipt time
};

struct TeamRt {
  std::string id;
  std::string name;
  int area = 0;
  std::string kind;
  int manager = -1;
  std::vector<int> workers;
};

// A step of a story: one device transaction.
struct Step {
  Ms done = 0;     // when the work happened
  Ms written = 0;  // when it was written on the device (true time)
  Ms receipt = 0;  // when the server receives it
  int person = -1;
  struct RecOp {
    bool create = false;
    RecordKind kind = RecordKind::child;
    std::string id;
    Fields fields;
    std::map<std::string, Ms> times;  // datetime fields, written in the device's clock
  };
  std::vector<RecOp> records;
};

struct Allocation {
  Ms at = 0;
  std::string case_id;
  int person = -1;
};

struct Story {
  std::vector<Step> steps;
  std::vector<Allocation> allocations;
  std::map<int, std::int64_t> referrals_by_year;
  std::int64_t records = 0;
};

}  // namespace

// --- The plan ------------------------------------------------------------------------------

OrganisationPlan plan_organisation(const DemoOptions& options) {
  OrganisationPlan plan;
  const double s = std::max(options.scale, 0.001);
  for (const char* a : kAreaNames) plan.areas.emplace_back(a);
  // Per area at scale 1: 4 assessment, 4 safeguarding and 2 looked-after teams of 11 social
  // workers and a manager.
  const int per_kind[] = {std::max(1, static_cast<int>(std::lround(4 * s))),
                          std::max(1, static_cast<int>(std::lround(4 * s))),
                          std::max(1, static_cast<int>(std::lround(2 * s)))};
  const char* kinds[] = {"assessment", "safeguarding", "looked_after"};
  const char* titles[] = {"Assessment", "Safeguarding", "Children Looked After"};
  const int team_size = std::clamp(static_cast<int>(std::lround(11 * std::min(1.0, s * 4))), 3, 11);
  Rng rng(options.seed ^ 0x6f7267ULL);
  auto person = [&](Role role, int team) {
    plan.workers.push_back({std::string(pick(rng, kFirst)) + " " + pick(rng, kLast), role, team});
  };
  person(Role::service_lead, -1);
  for (int a = 0; a < static_cast<int>(plan.areas.size()); ++a) {
    const int area_first_team = static_cast<int>(plan.teams.size());
    for (int k = 0; k < 3; ++k) {
      for (int i = 0; i < per_kind[k]; ++i) {
        plan.teams.push_back({plan.areas[static_cast<std::size_t>(a)] + " " + titles[k] + " " +
                                  std::to_string(i + 1),
                              a, kinds[k], team_size});
      }
    }
    person(Role::area_manager, area_first_team);
    for (int t = area_first_team; t < static_cast<int>(plan.teams.size()); ++t) {
      person(Role::team_manager, t);
      for (int i = 0; i < plan.teams[static_cast<std::size_t>(t)].social_workers; ++i) {
        person(Role::social_worker, t);
      }
    }
  }
  const int contact_centre = std::max(2, static_cast<int>(std::lround(30 * s)));
  for (int i = 0; i < contact_centre; ++i) person(Role::contact_centre, -1);
  person(Role::administrator, -1);
  person(Role::administrator, -1);
  plan.referrals_per_year = 15'000 * s;
  plan.population_under_18 = static_cast<std::int64_t>(std::llround(240'000 * s));
  return plan;
}

namespace {

constexpr const char* kSources[] = {"1A", "1B", "2A", "2B", "3A", "3B", "3C",
                                    "5A", "5B", "5C", "6",  "7",  "8",  "9"};
constexpr const char* kFactorCodes[] = {"1A", "2A", "2B", "3A",  "4A",  "4B", "5A", "6A",
                                        "8B", "8C", "9A", "10A", "11A", "21", "22A"};
constexpr const char* kAbuseCodes[] = {"NEG", "NEG", "NEG", "EMO", "EMO", "PHY", "SAB", "MUL"};
constexpr const char* kEthnicityCodes[] = {"WBRI", "WBRI", "WBRI", "WBRI", "WOTH",
                                           "MWBC", "MOTH", "APKN", "ABAN", "AIND",
                                           "BAFR", "BCRB", "BOTH", "CHNE", "OOTH"};
constexpr const char* kObservations[] = {
    "Child seen at home with parent; room clean and warm; food in the cupboards.",
    "Spoke with the child alone in their bedroom; they talked about school and friends.",
    "Parent engaged well and agreed the actions from the plan; next steps discussed.",
    "Home conditions poor; agreed a referral for help with housing repairs.",
    "Child quieter than at the last visit; school to be asked about attendance.",
    "Visit with the health visitor; weight checked and on track.",
};

// The history's parameters and shared state while stories are planned.
class Planner {
 public:
  Planner(const DemoOptions& options, const Days& days, std::vector<Person>& people,
          const std::vector<TeamRt>& teams, const std::vector<Date>& tablets_from, Ms now)
      : opt_(options),
        days_(days),
        people_(people),
        teams_(teams),
        tablets_(tablets_from),
        now_(now) {
    for (int i = 0; i < static_cast<int>(people.size()); ++i) {
      if (people[static_cast<std::size_t>(i)].role == Role::contact_centre) cc_.push_back(i);
    }
    for (int t = 0; t < static_cast<int>(teams.size()); ++t) {
      const auto& team = teams[static_cast<std::size_t>(t)];
      by_kind_[{team.area, team.kind}].push_back(t);
    }
  }

  Story plan(std::uint64_t index, Ms contact_at, bool uasc) {
    Rng rng(detail::mix(opt_.seed, index));
    Story story;
    State st{rng, story, {}, 0, 0, 0};
    st.area = static_cast<int>(rng.below(3));
    intake(st, contact_at, uasc);
    return story;
  }

 private:
  struct State {
    Rng& rng;
    Story& story;
    std::string child;
    int area = 0;
    int holder = -1;           // the worker the case is allocated to
    Ms floor = 0;              // when the current allocation was made
    std::map<int, Ms> sent{};  // the latest receipt of each device's work in this story
  };

  bool tablets(int area, Ms t) const {
    return t >= detail::day_start(tablets_[static_cast<std::size_t>(area)]);
  }

  // When the server receives what `p` wrote about work done at `done`, and when it was written.
  std::pair<Ms, Ms> delivery(int p, Ms done, int area) const {
    const Person& who = people_[static_cast<std::size_t>(p)];
    Date d = detail::date_of(done);
    if (who.role != Role::social_worker) {
      // Managers and the contact centre work at their desks: written at once, sent at the
      // next of four syncs a day.
      for (int i = 0; i < 10; ++i, d = d.add_days(1).value()) {
        for (int slot : {10 * 60 + 30, 13 * 60, 15 * 60 + 30, 17 * 60 + 45}) {
          const Ms t = at_time(d, slot);
          if (t > done) return {done, t};
        }
      }
    }
    if (!tablets(area, done)) {
      // Before tablets: typed into the office system at the next afternoon in the office.
      for (int i = 0; i < 60; ++i, d = d.add_days(1).value()) {
        if (!days_.working(d)) continue;
        const Ms session = at_time(d, 16 * 60 + static_cast<int>(detail::hash(who.key, d) % 90));
        if (session <= done) continue;
        if (detail::unit(detail::hash(who.key ^ 0x0ff1ceULL, d)) < 0.42 || i >= 6) {
          return {session, session + 2 * kMin};
        }
      }
      return {done + 10 * kDay, done + 10 * kDay + 2 * kMin};
    }
    // Tablets sync at lunchtime and at the end of the day when they have signal; a few
    // devices go unsynced for a week or more (then everything waits).
    const std::uint64_t streak = detail::hash(
        who.key ^ 0x57eaULL, Date::from_days_since_epoch(d.days_since_epoch() / 14).value());
    Ms from = done;
    if (detail::unit(streak) < 0.012) {
      const Ms gap = (8 + static_cast<Ms>(streak % 5)) * kDay;
      from = done + gap;
      d = detail::date_of(from);
    }
    for (int i = 0; i < 60; ++i, d = d.add_days(1).value()) {
      if (detail::unit(detail::hash(who.key, d)) < who.offline) continue;
      // Back at the office or home by the evening (and on some days at lunchtime).
      const std::uint64_t h = detail::hash(who.key + 7, d);
      if (h % 4 == 0) {
        const Ms lunch = at_time(d, 12 * 60 + 30 + static_cast<int>(h % 60));
        if (lunch > from) return {done, lunch};
      }
      const Ms evening = at_time(d, 17 * 60 + 30 + static_cast<int>((h >> 8) % 150));
      if (evening > from) return {done, evening};
    }
    return {done, from + 30 * kDay};
  }

  int manager_of(int person) const {
    const int team = people_[static_cast<std::size_t>(person)].team;
    return team < 0 ? -1 : teams_[static_cast<std::size_t>(team)].manager;
  }

  int social_worker(State& st, const std::string& kind) {
    const auto& list = by_kind_.at({st.area, kind});
    const auto& team = teams_[static_cast<std::size_t>(list[st.rng.below(list.size())])];
    return team.workers[st.rng.below(team.workers.size())];
  }

  std::string new_id(State& st, Ms t) { return detail::uuid_v7(st.rng, t); }

  // Adds a step unless it would reach the server after the history ends; false then (the
  // story stops: later work depends on it).
  bool add(State& st, int person, Ms done, std::vector<Step::RecOp> records) {
    // Nothing is written on a case before it is allocated to the writer's team.
    if (done < st.floor) {
      const Ms shift = st.floor + kMin - done;
      done += shift;
      for (auto& r : records) {
        for (auto& [field, t] : r.times) t += shift;
      }
    }
    if (done > now_) return false;
    auto [written, receipt] = delivery(person, done, st.area);
    // A device sends its outbox in order: nothing it wrote later arrives earlier (the change
    // to tablets can otherwise overtake work typed in at the office).
    Ms& previous = st.sent[person];
    receipt = std::max(receipt, previous);
    previous = receipt;
    if (receipt > now_) return false;
    Step s;
    s.done = done;
    s.written = written;
    s.receipt = receipt;
    s.person = person;
    for (const auto& r : records) st.story.records += r.create ? 1 : 0;
    s.records = std::move(records);
    st.story.steps.push_back(std::move(s));
    return true;
  }
  Ms last_receipt(const State& st) const {
    return st.story.steps.empty() ? 0 : st.story.steps.back().receipt;
  }

  // Hands the case to `to` once everything written so far has reached the server.
  Ms reallocate(State& st, int to, Ms planned) {
    Ms at = planned;
    for (const auto& s : st.story.steps) at = std::max(at, s.receipt + 10 * kMin);
    st.story.allocations.push_back({at, st.child, to});
    st.holder = to;
    st.floor = at;
    return at;
  }

  // A working-day duration drawn around `median` (log-normal spread).
  std::int32_t duration(Rng& rng, double median, double sigma) const {
    return std::max<std::int32_t>(
        0, static_cast<std::int32_t>(std::floor(rng.lognormal(median, sigma))));
  }

  static Step::RecOp create(RecordKind kind, const std::string& id, Fields f,
                            std::map<std::string, Ms> times = {}) {
    return {true, kind, id, std::move(f), std::move(times)};
  }
  static Step::RecOp update(RecordKind kind, const std::string& id, Fields f,
                            std::map<std::string, Ms> times = {}) {
    return {false, kind, id, std::move(f), std::move(times)};
  }

  Step::RecOp visit(State& st, Ms at, const std::string& type, const std::string& assessment) {
    Fields f{{"visit_type", type}, {"child_seen", st.rng.chance(0.95)}};
    if (st.rng.chance(0.3)) f["observations"] = std::string(pick(st.rng, kObservations));
    if (!assessment.empty()) f["assessment_id"] = assessment;
    std::map<std::string, Ms> times{{"start_at", at}};
    // recorded_at is the device's own stamp, filled in when the step is written.
    return create(RecordKind::visit, new_id(st, at), std::move(f), std::move(times));
  }

  // A visit, with a completed note for some, as one transaction written when the visit ends.
  bool visit_step(State& st, int person, Ms at, const std::string& type,
                  const std::string& assessment = "") {
    std::vector<Step::RecOp> recs{visit(st, at, type, assessment)};
    const Ms end = at + (40 + static_cast<Ms>(st.rng.below(50))) * kMin;
    if (st.rng.chance(0.1)) {
      recs.push_back(create(RecordKind::case_note, new_id(st, end),
                            {{"text", std::string("Visit note: ") + pick(st.rng, kObservations)},
                             {"status", std::string("completed")},
                             {"visit_id", recs[0].id}},
                            {{"contact_at", at}, {"completed_at", end}}));
    }
    return add(st, person, end, std::move(recs));
  }

  // --- The story ---

  void intake(State& st, Ms contact_at, bool uasc) {
    Rng& rng = st.rng;
    const int cc = cc_[rng.below(cc_.size())];
    st.child = new_id(st, contact_at);
    st.holder = cc;
    const Date contact_day = detail::date_of(contact_at);
    // A child of 0 to 17 (unaccompanied asylum seekers are 14 to 17).
    const int age_days = uasc ? 14 * 365 + static_cast<int>(rng.below(3 * 365))
                              : static_cast<int>(rng.below(17 * 365));
    Fields child{{"local_id", "NB" + std::to_string(100000 + rng.below(900000))},
                 {"first_name", std::string(pick(rng, kFirst))},
                 {"last_name", std::string(pick(rng, kLast))},
                 {"date_of_birth", contact_day.add_days(-age_days - 1).value().to_string()},
                 {"gender", std::string(rng.chance(0.5) ? "1" : "2")}};
    // Ethnicity is recorded for most children (the census asks for it; a few are left for the
    // exceptions report).
    if (rng.chance(0.93))
      child["ethnicity"] = std::string(uasc ? "OOTH" : pick(rng, kEthnicityCodes));
    if (uasc) child["uasc"] = true;
    const std::string contact = new_id(st, contact_at);
    if (!add(st, cc, contact_at,
             {create(RecordKind::child, st.child, child),
              create(RecordKind::contact, contact, {{"source", std::string(pick(rng, kSources))}},
                     {{"received_at", contact_at}})})) {
      return;
    }
    // Decision: within a working day for most contacts; a little quicker with tablets' better
    // information sharing.
    const bool post = tablets(st.area, contact_at);
    const std::int32_t wd = rng.chance(post ? 0.91 : 0.8)
                                ? (rng.chance(0.6) ? 0 : 1)
                                : 2 + static_cast<std::int32_t>(rng.below(3));
    const Date decision_day = days_.add(contact_day, wd);
    Ms decision_at = wd == 0 ? contact_at + (20 + static_cast<Ms>(rng.below(200))) * kMin
                             : office_time(rng, decision_day);
    const bool referral = uasc || rng.chance(0.8);
    std::vector<Step::RecOp> recs{
        update(RecordKind::contact, contact,
               {{"decision",
                 std::string(referral ? "referral"
                                      : (rng.chance(0.5) ? "no_further_action" : "early_help"))}},
               {{"decision_at", decision_at}})};
    std::string referral_id;
    const Date referral_day = detail::date_of(decision_at);
    if (referral) {
      referral_id = new_id(st, decision_at);
      recs.push_back(create(RecordKind::referral, referral_id,
                            {{"referral_date", referral_day.to_string()},
                             {"source", std::string(uasc ? "9" : pick(rng, kSources))},
                             {"contact_id", contact}}));
    }
    if (!add(st, cc, decision_at, std::move(recs)) || !referral) return;
    ++st.story.referrals_by_year[referral_day.year()];
    const int sw = social_worker(st, uasc ? "looked_after" : "assessment");
    const Ms allocated = reallocate(st, sw, decision_at + 30 * kMin);
    if (uasc) {
      looked_after(st, referral_id, allocated, true);
      return;
    }
    assessment_phase(st, referral_id, referral_day, allocated);
  }

  // Initial assessment, maybe a section 47 enquiry and conference, maybe a core assessment;
  // then a child protection plan, a looked-after episode, or closure.
  void assessment_phase(State& st, const std::string& referral_id, Date referral_day,
                        Ms allocated) {
    Rng& rng = st.rng;
    const Ms start_at = std::max(
        allocated + kHour, office_time(rng, days_.add(referral_day, rng.chance(0.7) ? 0 : 1)));
    const bool goes_to_assessment = rng.chance(0.76);
    const bool s47 = goes_to_assessment && rng.chance(0.22);
    bool ok = true;
    std::string initial;
    Ms initial_done = start_at;
    if (goes_to_assessment) {
      ok = assessment(st, "initial", referral_id, referral_day, start_at, &initial, &initial_done);
    }
    std::optional<Date> conference;
    if (ok && s47) ok = section47(st, referral_day, start_at, &conference);
    if (!ok) return;
    const bool core = goes_to_assessment && (conference.has_value() || rng.chance(0.3));
    Ms core_done = initial_done;
    if (core) {
      const Date core_start = days_.add(detail::date_of(initial_done), rng.chance(0.5) ? 1 : 2);
      std::string core_id;
      if (!assessment(st, "core", referral_id, core_start,
                      std::max(initial_done + kHour, office_time(rng, core_start)), &core_id,
                      &core_done)) {
        return;
      }
    }
    if (conference && rng.chance(0.85)) {
      child_protection(st, *conference, referral_id, 0);
      return;
    }
    if (goes_to_assessment && rng.chance(0.06)) {
      looked_after(st, referral_id, core_done + 2 * kDay, false);
      return;
    }
    close_referral(st, referral_id, std::max(core_done, initial_done) + 3 * kDay, "RC8");
  }

  void close_referral(State& st, const std::string& referral_id, Ms at, const char* reason) {
    const Date day = detail::date_of(at);
    add(st, st.holder, office_time(st.rng, days_.add(day, 0 + (days_.working(day) ? 0 : 1))),
        {update(RecordKind::referral, referral_id,
                {{"closure_date", day.to_string()}, {"closure_reason", std::string(reason)}})});
  }

  // One assessment from creation to authorisation: a visit or two, completion (some are
  // returned by the manager and completed again), the manager's authorisation.
  bool assessment(State& st, const char* kind, const std::string& referral_id, Date start,
                  Ms created, std::string* id_out, Ms* done_out) {
    Rng& rng = st.rng;
    const bool initial = std::string_view(kind) == "initial";
    const int sw = st.holder;
    const std::string id = new_id(st, created);
    *id_out = id;
    if (!add(st, sw, created,
             {create(RecordKind::assessment, id,
                     {{"assessment_kind", std::string(kind)},
                      {"referral_id", referral_id},
                      {"start_date", start.to_string()},
                      {"status", std::string("in_progress")}})})) {
      return false;
    }
    // How long the work takes (working days from the start); quicker once recorded in the home.
    const bool post = tablets(st.area, created);
    const std::int32_t length =
        initial ? duration(rng, post ? 4.6 : 5.0, 0.5) : duration(rng, post ? 25 : 28, 0.4);
    const Date visit_day = days_.add(start, std::max<std::int32_t>(1, length / 3));
    if (!visit_step(st, sw, std::max(created + kHour, office_time(rng, visit_day)), "assessment",
                    id)) {
      return false;
    }
    if (!initial) {
      const Date second = days_.add(start, std::max<std::int32_t>(2, (2 * length) / 3));
      if (!visit_step(st, sw, std::max(last_done(st) + kHour, office_time(rng, second)),
                      "assessment", id)) {
        return false;
      }
    }
    // Completed on the device when the work is finished (before tablets: when it was typed
    // into the office system, at the next afternoon in the office).
    Ms finished = std::max(last_done(st) + kHour, office_time(rng, days_.add(start, length)));
    if (!tablets(st.area, finished)) finished = delivery(sw, finished, st.area).first;
    CodeList factors;
    for (int i = 0, n = 1 + static_cast<int>(rng.below(3)); i < n; ++i) {
      std::string f = pick(rng, kFactorCodes);
      if (std::find(factors.begin(), factors.end(), f) == factors.end()) factors.push_back(f);
    }
    if (!add(st, sw, finished,
             {update(RecordKind::assessment, id,
                     {{"status", std::string("completed")}, {"factors", factors}},
                     {{"completed_at", finished}})})) {
      return false;
    }
    Ms completed_receipt = last_receipt(st);
    const int manager = manager_of(sw);
    // A few are returned for more work, then completed again.
    if (rng.chance(0.06)) {
      const Ms returned = next_office(rng, completed_receipt, 1 + rng.below(2));
      if (!add(st, manager, returned,
               {update(RecordKind::assessment, id,
                       {{"status", std::string("returned")},
                        {"completed_at", Value{}},
                        {"returned_reason",
                         std::string(
                             "Please add the child's views and the school's information.")}})})) {
        return false;
      }
      const Ms again = next_office(rng, last_receipt(st), 1 + rng.below(4));
      if (!add(st, sw, again,
               {update(RecordKind::assessment, id, {{"status", std::string("completed")}},
                       {{"completed_at", again}})})) {
        return false;
      }
      completed_receipt = last_receipt(st);
      finished = again;
    }
    *done_out = finished;
    // Authorisation: a few working days before tablets, about one after.
    const std::int32_t wait = post ? duration(rng, 1.3, 0.7) : duration(rng, 3.5, 0.6);
    // Not before the completion as the worker's device dated it (its clock may run fast).
    const Ms authorised = next_office(
        rng, std::max(completed_receipt, finished + people_[static_cast<std::size_t>(sw)].skew),
        wait);
    return add(st, manager, authorised,
               {update(RecordKind::assessment, id,
                       {{"status", std::string("authorised")},
                        {"authorised_by", people_[static_cast<std::size_t>(manager)].id}},
                       {{"authorised_at", authorised}})});
  }

  Ms last_done(const State& st) const {
    return st.story.steps.empty() ? 0 : st.story.steps.back().done;
  }

  // A time in office hours, `wd` working days after `after` (and after it).
  Ms next_office(Rng& rng, Ms after, std::uint64_t wd) const {
    Date d = days_.add(detail::date_of(after), static_cast<std::int32_t>(wd));
    Ms t = office_time(rng, d);
    while (t <= after) {
      d = days_.add(d, 1);
      t = office_time(rng, d);
    }
    return t;
  }

  // A section 47 enquiry with its strategy discussion; an initial conference for some.
  bool section47(State& st, Date referral_day, Ms after, std::optional<Date>* conference) {
    Rng& rng = st.rng;
    const Date start = days_.add(referral_day, static_cast<std::int32_t>(rng.below(2)));
    const Date strategy = days_.add(start, rng.chance(0.7) ? 0 : 1);
    const Ms at = std::max(after + kHour, office_time(rng, strategy));
    const std::string id = new_id(st, at);
    if (!add(st, st.holder, at,
             {create(RecordKind::s47_enquiry, id,
                     {{"start_date", start.to_string()},
                      {"strategy_discussion_date", strategy.to_string()},
                      {"initial_conference_target", days_.add(strategy, 15).to_string()}})})) {
      return false;
    }
    if (!rng.chance(0.5)) {
      return add(st, st.holder, next_office(rng, at, 5 + rng.below(10)),
                 {update(RecordKind::s47_enquiry, id, {{"conference_not_required", true}})});
    }
    const bool post = tablets(st.area, at);
    const Date held = days_.add(strategy, duration(rng, post ? 11.5 : 15.5, 0.3));
    *conference = held;
    return add(
        st, st.holder, std::max(at + kHour, office_time(rng, held)),
        {update(RecordKind::s47_enquiry, id, {{"initial_conference_date", held.to_string()}})});
  }

  // A child protection plan from the conference: the case moves to a safeguarding team,
  // reviews at 3 then 6 months, statutory visits about every 10 working days; some children
  // come back for a second plan.
  void child_protection(State& st, Date start, const std::string& referral_id, int round) {
    Rng& rng = st.rng;
    const std::string plan = new_id(st, detail::day_start(start));
    const Ms created = std::max(last_done(st) + kHour, office_time(rng, start));
    if (!add(st, st.holder, created,
             {create(RecordKind::cp_plan, plan,
                     {{"start_date", start.to_string()},
                      {"initial_category", std::string(pick(rng, kAbuseCodes))}})})) {
      return;
    }
    // Plans last about nine months; a few run past two years.
    const double months = rng.chance(0.04) ? 24.0 + static_cast<double>(rng.below(8))
                                           : std::min(23.0, rng.lognormal(8.5, 0.45));
    const Date end = start.add_days(static_cast<std::int64_t>(months * 30.4)).value();
    const Date handover = days_.add(start, 5);
    bool moved = false;
    std::vector<Date> reviews;
    Date next_review = start.add_months(3).value();
    Date last_visit = start;
    Ms cursor = created;
    while (true) {
      const bool post = tablets(st.area, cursor);
      const std::int32_t gap = rng.chance(post ? 0.9 : 0.72)
                                   ? 5 + static_cast<std::int32_t>(rng.below(6))
                                   : 11 + static_cast<std::int32_t>(rng.below(8));
      Date visit_day = days_.add(last_visit, gap);
      if (!moved && visit_day >= handover) {
        const int sw = social_worker(st, "safeguarding");
        reallocate(st, sw, office_time(rng, handover) - 4 * kHour);
        moved = true;
      }
      if (next_review <= visit_day && next_review < end) {
        // The review conference: late for some before tablets.
        const Date held =
            next_review
                .add_days(rng.chance(post ? 0.95 : 0.82) ? -static_cast<int>(rng.below(10))
                                                         : 3 + static_cast<int>(rng.below(25)))
                .value();
        reviews.push_back(std::max(held, start.add_days(1).value()));
        CodeList list;
        for (Date r : reviews) list.push_back(r.to_string());
        const Ms at =
            std::max(last_done(st) + kHour, office_time(rng, days_.add(reviews.back(), 0)));
        if (!add(st, st.holder, std::max(at, last_receipt(st) + kHour),
                 {update(RecordKind::cp_plan, plan, {{"review_dates", list}})})) {
          return;
        }
        next_review = reviews.back().add_months(6).value();
      }
      if (visit_day >= end) break;
      const Ms at = std::max(last_done(st) + kHour, office_time(rng, visit_day));
      if (!visit_step(st, st.holder, at, "cp_statutory")) return;
      last_visit = detail::date_of(at);
      cursor = at;
    }
    const Ms ended = std::max(last_done(st) + kHour, office_time(rng, end));
    if (!add(st, st.holder, ended,
             {update(RecordKind::cp_plan, plan,
                     {{"end_date", end.to_string()},
                      {"latest_category", std::string(pick(rng, kAbuseCodes))}})})) {
      return;
    }
    if (round == 0 && rng.chance(0.3)) {
      // Concerns return: a new referral, enquiry and conference, and a second plan.
      const Date again = end.add_days(60 + static_cast<int>(rng.below(400))).value();
      const Date day = days_.add(again, days_.working(again) ? 0 : 1);
      const Ms at = office_time(rng, day);
      const std::string second = new_id(st, at);
      if (!add(st, st.holder, at,
               {create(RecordKind::referral, second,
                       {{"referral_date", day.to_string()},
                        {"source", std::string(pick(rng, kSources))},
                        {"primary_need", std::string("N1")}})})) {
        return;
      }
      ++st.story.referrals_by_year[day.year()];
      std::optional<Date> conference;
      if (!section47(st, day, at, &conference) || !conference) return;
      child_protection(st, *conference, second, 1);
      return;
    }
    close_referral(st, referral_id, ended + kDay, "RC8");
  }

  // A looked-after episode: the case moves to a looked-after team; regulation 28 visits.
  void looked_after(State& st, const std::string& referral_id, Ms from, bool uasc) {
    Rng& rng = st.rng;
    const int sw = uasc ? st.holder : social_worker(st, "looked_after");
    if (!uasc) reallocate(st, sw, from);
    const Date start = days_.add(detail::date_of(std::max(from, last_receipt(st))), 1);
    const bool until18 = !uasc && rng.chance(0.45);
    const Ms created = std::max(last_receipt(st) + kHour, office_time(rng, start));
    const std::string episode = new_id(st, created);
    if (!add(st, st.holder, created,
             {create(RecordKind::lac_episode, episode,
                     {{"start_date", start.to_string()},
                      {"placement_start", start.to_string()},
                      {"legal_status", std::string(uasc ? "V2" : "C2")},
                      {"placement_until_18", until18}})})) {
      return;
    }
    const double months = std::min(60.0, rng.lognormal(uasc ? 16 : 18, 0.6));
    const Date end = start.add_days(static_cast<std::int64_t>(months * 30.4)).value();
    Date last = start;
    bool first = true;
    while (true) {
      const bool post = tablets(st.area, detail::day_start(last));
      const bool in_first_year = last < start.add_years(1).value();
      const int due = first ? 7 : (in_first_year || !until18 ? 42 : 91);
      const bool on_time = rng.chance(post ? 0.94 : 0.8);
      const int gap = on_time ? std::max(1, due - static_cast<int>(rng.below(
                                                      static_cast<std::uint64_t>(due / 2 + 1))))
                              : due + 1 + static_cast<int>(rng.below(20));
      const Date visit_day = last.add_days(gap).value();
      if (visit_day >= end) break;
      const Ms at = std::max(last_done(st) + kHour,
                             at_time(visit_day, 10 * 60 + static_cast<int>(rng.below(420))));
      if (!visit_step(st, st.holder, at, "lac_statutory")) return;
      last = detail::date_of(at);
      first = false;
    }
    const Ms ended = std::max(last_done(st) + kHour, office_time(rng, end));
    if (!add(st, st.holder, ended,
             {update(RecordKind::lac_episode, episode, {{"end_date", end.to_string()}})})) {
      return;
    }
    close_referral(st, referral_id, ended + kDay, uasc ? "RC7" : "RC6");
  }

  const DemoOptions& opt_;
  const Days& days_;
  std::vector<Person>& people_;
  const std::vector<TeamRt>& teams_;
  const std::vector<Date>& tablets_;
  Ms now_;
  std::vector<int> cc_;
  std::map<std::pair<int, std::string>, std::vector<int>> by_kind_;
};

// Turns a story's steps into device transactions (ids, HLC stamps seen in order, the device's
// clock on every time it writes) and queues them on their devices.
class Writer {
 public:
  explicit Writer(std::vector<Person>& people) : people_(people) {}

  // Every record of a story belongs to the case of `child`.
  void queue(Story& story, const std::string& child, Rng& rng) {
    // Server order within the story: by receipt, then by when it was done.
    std::stable_sort(story.steps.begin(), story.steps.end(), [](const Step& a, const Step& b) {
      return a.receipt != b.receipt ? a.receipt < b.receipt : a.done < b.done;
    });
    std::map<std::string, std::string> field_hlc;  // record \x1f field -> last stamp
    HlcStamp last{0, 0, ""};
    for (auto& s : story.steps) {
      Person& p = people_[static_cast<std::size_t>(s.person)];
      const Ms device_written = s.written + p.skew;
      sync::Transaction tx;
      tx.tx_id = detail::uuid_v7(rng, device_written);
      auto stamp = [&]() {
        HlcStamp h{device_written, 0, p.hlc_name};
        if (h.wall_ms < last.wall_ms) h.wall_ms = last.wall_ms;
        if (h.wall_ms == last.wall_ms) h.counter = last.counter + 1;
        last = h;
        return h.to_string();
      };
      const std::string at = iso(device_written);
      for (auto& r : s.records) {
        const std::string& case_id = child;
        if (r.create) {
          sync::Op op;
          op.op_id = detail::uuid_v7(rng, device_written);
          op.op = FieldChange::Op::create;
          op.record_id = r.id;
          op.kind = r.kind;
          op.case_id = case_id;
          op.hlc = stamp();
          op.at = at;
          tx.ops.push_back(std::move(op));
          if (r.kind == RecordKind::visit) r.times["recorded_at"] = s.written;
        }
        auto set = [&](const std::string& field, Value value) {
          sync::Op op;
          op.op_id = detail::uuid_v7(rng, device_written);
          op.op = FieldChange::Op::set;
          op.record_id = r.id;
          op.kind = r.kind;
          op.case_id = case_id;
          op.field = field;
          op.value = std::move(value);
          std::string& seen = field_hlc[r.id + '\x1f' + field];
          op.base = seen;
          op.hlc = stamp();
          seen = op.hlc;
          op.at = at;
          tx.ops.push_back(std::move(op));
        };
        for (auto& [field, value] : r.fields) set(field, std::move(value));
        for (const auto& [field, t] : r.times) set(field, iso(t + p.skew));
      }
      deliver(s, std::move(tx));
    }
  }

  // Where a story's transactions go: the device's outbox (replayed through SyncService), or
  // straight to the bulk loader.
  std::function<void(const Step&, sync::Transaction)> deliver;

 private:
  std::vector<Person>& people_;
};

// The bulk load: a story's transactions applied to its case in the order the server would
// apply them, each record checked by validate_record() against its state before the
// transaction (with the writer's role and the receipt as "now", as SyncService does), then the
// case's final state stored with its claimed times and allocation history. No change log, no
// per-transaction audit entries and no device bookkeeping: that is what makes it fast. A
// transaction that fails validation is dropped and counted, as a rejection would be.
class BulkLoader {
 public:
  BulkLoader(ServerStore& store, std::vector<Person>& people, const std::vector<TeamRt>& teams)
      : store_(store), people_(people), teams_(teams) {}

  void add(const Step& step, sync::Transaction tx) { txs_.push_back({&step, std::move(tx)}); }

  std::string first_rejection;  // why the first refused transaction was refused

  // Applies the transactions collected for one story and stores the case.
  Status flush(const Story& story, const std::string& child, std::int64_t& accepted,
               std::int64_t& rejected) {
    std::map<std::string, StoredRecord> records;
    struct Claim {
      Ms receipt;
      Ms offset;
      int person;
      std::string tx_id;
    };
    std::map<std::pair<std::string, std::string>, Claim> claims;
    // Allocations interleave with the transactions by time: the writer must hold the case.
    for (auto& [step, tx] : txs_) {
      const Person& p = people_[static_cast<std::size_t>(step->person)];
      std::map<std::string, StoredRecord> after;
      for (const auto& op : tx.ops) {
        auto it = after.find(op.record_id);
        if (it == after.end()) {
          auto old = records.find(op.record_id);
          StoredRecord r;
          if (old != records.end()) r = old->second;
          it = after.emplace(op.record_id, std::move(r)).first;
        }
        StoredRecord& r = it->second;
        if (op.op == FieldChange::Op::create) {
          r.id = op.record_id;
          r.kind = op.kind;
          r.case_id = child;
          r.created_at = op.at;
          r.created_by = p.id;
          r.created_hlc = op.hlc;
        } else {
          r.fields[op.field] = FieldState{op.value, op.hlc, p.id};
        }
        r.updated_at = op.at;
        r.updated_by = p.id;
      }
      bool valid = true;
      for (const auto& [id, r] : after) {
        auto old = records.find(id);
        const Record before = old == records.end() ? Record{} : old->second.to_record();
        ValidationContext vc;
        vc.role = p.role;
        vc.now = std::chrono::system_clock::time_point(
            std::chrono::milliseconds(step->receipt + p.skew));
        vc.before = old == records.end() ? nullptr : &before;
        vc.writer_id = p.id;
        if (Status v = validate_record(r.to_record(), vc); !v.ok()) {
          valid = false;
          if (first_rejection.empty()) first_rejection = v.message();
        }
      }
      if (!valid) {
        ++rejected;
        continue;
      }
      ++accepted;
      for (auto& [id, r] : after) records[id] = std::move(r);
      for (const auto& op : tx.ops) {
        if (op.op == FieldChange::Op::set && is_claimed_time(op.kind, op.field)) {
          claims[{op.record_id, op.field}] = {step->receipt, p.skew, step->person, tx.tx_id};
        }
      }
    }
    txs_.clear();

    // The allocation history (the contact centre worker who recorded the child first), then
    // the records as the server keeps them.
    std::vector<Allocation> history{
        {story.steps.front().receipt, child, story.steps.front().person}};
    history.insert(history.end(), story.allocations.begin(), story.allocations.end());
    std::string previous;
    for (const auto& a : history) {
      auto seq = store_.reserve_seqs(1);
      if (!seq.ok()) return seq.status();
      const std::string worker = people_[static_cast<std::size_t>(a.person)].id;
      FC_TRY(store_.put_allocation({child, worker, *seq, iso(a.at)}, previous));
      previous = worker;
    }
    const ServiceOptions limits;  // the server's plausibility thresholds
    for (auto& [id, r] : records) {
      if (r.kind == RecordKind::child) {
        const Person& holder = people_[static_cast<std::size_t>(history.back().person)];
        const std::string stamp = HlcStamp{history.back().at, 0, "server"}.to_string();
        r.fields["allocated_worker"] = FieldState{holder.id, stamp, "server"};
        if (holder.team >= 0) {
          r.fields["allocated_team"] =
              FieldState{teams_[static_cast<std::size_t>(holder.team)].id, stamp, "server"};
        }
      }
      FC_TRY(store_.put_record(r));
      for (const auto& [name, state] : r.fields) FC_TRY(store_.put_field(id, name, state));
    }
    for (const auto& [key, c] : claims) {
      const StoredRecord& r = records.at(key.first);
      auto it = r.fields.find(key.second);
      const auto* text =
          it == r.fields.end() ? nullptr : std::get_if<std::string>(&it->second.value);
      if (text == nullptr) continue;  // cleared since (a returned assessment)
      auto secs = parse_iso_millis(*text);
      if (!secs) continue;
      ClaimedTime t;
      t.record_id = key.first;
      t.field = key.second;
      t.case_id = child;
      t.kind = r.kind;
      t.claimed = *text;
      t.corrected = format_iso_millis(*secs - c.offset);
      t.received_at = iso(c.receipt);
      t.offset_ms = c.offset;
      const Person& p = people_[static_cast<std::size_t>(c.person)];
      t.device_id = p.device_id;
      t.worker_id = p.id;
      t.tx_id = c.tx_id;
      t.after_receipt =
          *secs - c.offset > c.receipt + std::chrono::duration_cast<std::chrono::milliseconds>(
                                             limits.plausibility_slack)
                                             .count();
      t.large_offset =
          std::abs(c.offset) >
          std::chrono::duration_cast<std::chrono::milliseconds>(limits.offset_threshold).count();
      // before_start stays false: the generator never dates work before it started (the
      // [demo] test checks that this load and the replay through SyncService give the same
      // figures).
      FC_TRY(store_.put_claimed_time(t));
    }
    return {};
  }

 private:
  ServerStore& store_;
  std::vector<Person>& people_;
  const std::vector<TeamRt>& teams_;
  std::vector<std::pair<const Step*, sync::Transaction>> txs_;
};

// The simulated time the server and Admin run at while the history is replayed.
class ReplayClock final : public Clock {
 public:
  std::chrono::system_clock::time_point wall() const override { return wall_; }
  std::chrono::steady_clock::time_point monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  void set(Ms t) { wall_ = std::chrono::system_clock::time_point(std::chrono::milliseconds(t)); }

 private:
  std::chrono::system_clock::time_point wall_;
};

}  // namespace

Result<bool> present(ServerStore& store) {
  auto authority = store.find_authority();
  if (!authority.ok()) return authority.status();
  if (!*authority || (*authority)->name != kAuthorityName) return false;
  auto loaded = store.audit_events(kLoadedEvent);
  if (!loaded.ok()) return loaded.status();
  return !loaded->empty();
}

Result<std::vector<DemoAccount>> accounts(ServerStore& store) {
  auto workers = store.list_workers();
  if (!workers.ok()) return workers.status();
  std::vector<DemoAccount> out;
  for (Role role :
       {Role::service_lead, Role::area_manager, Role::team_manager, Role::social_worker}) {
    // The first of each role in creation order (list_workers is by id: UUIDv7, time ordered).
    for (const auto& w : *workers) {
      if (w.role == role && w.active) {
        out.push_back({role, w.id, w.name});
        break;
      }
    }
  }
  return out;
}

Result<DemoSummary> generate(ServerStore& store, const DemoOptions& options) {
  if (options.today == Date()) return Status(Errc::invalid_argument, "the demo needs a today");
  if (options.years < 1 || options.years > 20) {
    return Status(Errc::invalid_argument, "the demo's history is 1 to 20 years");
  }
  if (!(options.scale > 0) || options.scale > 100) {
    return Status(Errc::invalid_argument, "the demo's scale is above 0 and at most 100");
  }
  const auto started = std::chrono::steady_clock::now();
  auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  auto existing = store.find_authority();
  if (!existing.ok()) return existing.status();
  if (*existing) {
    return Status(Errc::already_exists,
                  "the database already has an authority (" + (*existing)->name + ")");
  }

  const OrganisationPlan plan = plan_organisation(options);
  const Date first = options.today.add_years(-options.years).value().add_days(1).value();
  const Ms now = options.until_ms != 0
                     ? std::min<Ms>(options.until_ms, at_time(options.today, 24 * 60) - 1)
                     : at_time(options.today, 18 * 60);
  Days days(WorkingCalendar(), first.add_days(-10).value(), options.today.add_days(400).value());

  ReplayClock clock;
  clock.set(detail::day_start(first.add_days(-7).value()) + 9 * kHour);
  Admin admin(store, clock);
  ServiceOptions service_options;
  service_options.maintain_figures = false;  // recomputed once at the end
  SyncService service(store, clock, service_options);
  Rng org_rng(options.seed ^ 0xdeULL);

  DemoSummary summary;
  std::vector<TeamRt> teams;
  std::vector<Person> people;
  std::vector<Date> tablets_from;
  // Tablets arrive two years before today, one area a month after another.
  const Date tablets = Date::from_ymd(options.today.year() - 2, options.today.month(), 1).value();
  for (int a = 0; a < 3; ++a) tablets_from.push_back(tablets.add_months(a).value());
  summary.tablets_from = tablets_from.front();
  summary.population_under_18 = plan.population_under_18;

  Status built = store.transaction([&]() -> Status {
    auto authority = admin.create_authority(kAuthorityName, kLaCode);
    if (!authority.ok()) return authority.status();
    summary.authority_id = *authority;
    std::vector<std::string> area_ids;
    for (const auto& a : plan.areas) {
      auto id = admin.create_area(a);
      if (!id.ok()) return id.status();
      area_ids.push_back(*id);
    }
    for (const auto& t : plan.teams) {
      auto id = admin.create_team(t.name, area_ids[static_cast<std::size_t>(t.area)]);
      if (!id.ok()) return id.status();
      teams.push_back({*id, t.name, t.area, t.kind, -1, {}});
    }
    for (const auto& w : plan.workers) {
      const std::string team_id =
          w.team < 0 ? std::string() : teams[static_cast<std::size_t>(w.team)].id;
      // Area managers belong to their area's first team (their scope comes from it).
      auto id = admin.create_worker(w.name, w.role, team_id);
      if (!id.ok()) return id.status();
      Person p;
      p.id = *id;
      p.name = w.name;
      p.role = w.role;
      p.team = w.team;
      const int index = static_cast<int>(people.size());
      p.hlc_name = "dev" + std::to_string(index);
      p.key = detail::mix(options.seed, 0x9e37ULL + static_cast<std::uint64_t>(index));
      if (w.role == Role::social_worker) {
        p.offline = org_rng.chance(0.05) ? 0.3 : 0.04;
        // A few tablets' clocks run fast: the server corrects and flags their times.
        if (org_rng.chance(0.04)) p.skew = (5 + static_cast<Ms>(org_rng.below(170))) * kMin;
        teams[static_cast<std::size_t>(w.team)].workers.push_back(index);
      } else if (w.role == Role::team_manager) {
        teams[static_cast<std::size_t>(w.team)].manager = index;
      }
      if (w.role != Role::administrator && w.role != Role::service_lead &&
          w.role != Role::area_manager) {
        auto device = admin.issue_device(p.id);
        if (!device.ok()) return device.status();
        p.device_id = device->device_id;  // the token is not kept: the service is called directly
        p.hlc_name = p.device_id;         // a device stamps its changes with its own id
        ++summary.devices;
      }
      people.push_back(std::move(p));
    }
    return {};
  });
  if (!built.ok()) return built;
  summary.areas = plan.areas.size();
  summary.teams = teams.size();
  summary.workers = people.size();
  say("organisation: " + std::to_string(summary.areas) + " areas, " +
      std::to_string(summary.teams) + " teams, " + std::to_string(summary.workers) + " workers");

  // When each contact arrives: working days, more on Mondays, referrals rising 3% a year.
  Rng arrivals(options.seed ^ 0xa77ULL);
  struct Arrival {
    Ms at;
    bool uasc;
  };
  std::vector<Arrival> contacts;
  const double per_day = plan.referrals_per_year / 0.8 / 253.0;
  for (Date d : days.working_days()) {
    if (d < first || d > options.today) continue;
    const double years_in = first.days_until(d) / 365.25;
    double mean =
        per_day * std::pow(1.03, years_in) * (d.weekday() == Weekday::monday ? 1.2 : 0.95);
    // A whole number of contacts with the right mean.
    int n = static_cast<int>(mean);
    if (arrivals.uniform() < mean - n) ++n;
    for (int i = 0; i < n; ++i) {
      contacts.push_back({office_time(arrivals, d), arrivals.chance(0.006)});
    }
  }
  std::sort(contacts.begin(), contacts.end(),
            [](const Arrival& a, const Arrival& b) { return a.at < b.at; });

  Planner planner(options, days, people, teams, tablets_from, now);
  Writer writer(people);
  std::int64_t accepted = 0;

  if (!options.replay_through_sync) {
    BulkLoader bulk(store, people, teams);
    writer.deliver = [&](const Step& step, sync::Transaction tx) { bulk.add(step, std::move(tx)); };
    int last_year = 0;
    for (std::size_t i = 0; i < contacts.size();) {
      Status st = store.transaction([&]() -> Status {
        for (int n = 0; n < 2'000 && i < contacts.size(); ++n, ++i) {
          Story story = planner.plan(i, contacts[i].at, contacts[i].uasc);
          if (story.steps.empty()) continue;
          ++summary.children;
          summary.records += story.records;
          summary.reallocations += static_cast<std::int64_t>(story.allocations.size());
          for (const auto& [y, n2] : story.referrals_by_year) summary.referrals_by_year[y] += n2;
          Rng ids(detail::mix(options.seed ^ 0x1d5ULL, i + 1));
          const std::string child = story.steps.front().records.front().id;
          writer.queue(story, child, ids);
          FC_TRY(bulk.flush(story, child, accepted, summary.rejected));
        }
        return {};
      });
      if (!st.ok()) return st;
      const int year = detail::date_of(contacts[i - 1].at).year();
      if (year != last_year) {
        last_year = year;
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        say("history: " + std::to_string(year) + ", " + std::to_string(summary.children) +
            " children, " + std::to_string(accepted) + " transactions, " +
            std::to_string(static_cast<int>(secs)) + " s");
      }
    }
    if (!bulk.first_rejection.empty()) say("rejected: " + bulk.first_rejection);
  }

  // Events replayed in time order: device syncs and allocations.
  struct Event {
    Ms at;
    std::uint64_t order;
    int person;           // a sync of this person's device, or the allocation's worker
    std::string case_id;  // non-empty: an allocation
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  std::uint64_t order = 0;
  std::size_t next_contact = options.replay_through_sync ? 0 : contacts.size();
  std::int64_t last_report_year = 0;
  writer.deliver = [&](const Step& step, sync::Transaction tx) {
    people[static_cast<std::size_t>(step.person)].outbox.emplace(step.receipt, std::move(tx));
  };

  auto plan_next = [&]() {
    const Arrival& c = contacts[next_contact];
    Story story = planner.plan(next_contact, c.at, c.uasc);
    ++next_contact;
    if (story.steps.empty()) return;
    ++summary.children;
    summary.records += story.records;
    for (const auto& [y, n] : story.referrals_by_year) summary.referrals_by_year[y] += n;
    Rng ids(detail::mix(options.seed ^ 0x1d5ULL, next_contact));  // as the bulk load
    const std::string child = story.steps.front().records.front().id;
    writer.queue(story, child, ids);
    for (const auto& s : story.steps) events.push({s.receipt, order++, s.person, {}});
    for (const auto& a : story.allocations) {
      events.push({a.at, order++, a.person, child});
      ++summary.reallocations;
    }
  };

  auto step = [&]() -> Status {
    // Stories that start before the next event are planned first (their work may come first).
    if (next_contact < contacts.size() &&
        (events.empty() || contacts[next_contact].at <= events.top().at)) {
      plan_next();
      return {};
    }
    Event e = events.top();
    events.pop();
    clock.set(e.at);
    Person& p = people[static_cast<std::size_t>(e.person)];
    if (!e.case_id.empty()) return admin.allocate(e.case_id, p.id);
    if (p.outbox.empty() || p.outbox.begin()->first > e.at) return {};
    sync::SyncRequest request;
    request.device_time = iso(e.at + p.skew);
    // The history's devices do not download what others wrote (the generator knows it): they
    // report themselves up to date, so each answer carries no page of changes.
    auto head = store.head();
    if (!head.ok()) return head.status();
    request.cursor = *head;
    request.max_changes = 1;
    while (!p.outbox.empty() && p.outbox.begin()->first <= e.at &&
           request.transactions.size() < sync::kMaxTransactionsPerRequest) {
      request.transactions.push_back(std::move(p.outbox.begin()->second));
      p.outbox.erase(p.outbox.begin());
    }
    AuthenticatedDevice device{p.device_id, p.id, false, DeviceStatus::active};
    auto response = service.handle(
        device, request, std::chrono::system_clock::time_point(std::chrono::milliseconds(e.at)));
    if (!response.ok()) return response.status();
    ++summary.requests;
    accepted += static_cast<std::int64_t>(response->accepted.size());
    summary.rejected += static_cast<std::int64_t>(response->rejected.size());
    if (!response->rejected.empty() && summary.rejected <= 5) {
      say("rejected: " + response->rejected.front().code + ": " +
          response->rejected.front().reason);
    }
    if (!p.outbox.empty() && p.outbox.begin()->first <= e.at) {
      events.push({e.at, order++, e.person, {}});  // more than one request's worth
    }
    return {};
  };

  // Batches of events per store transaction: one durable commit per batch.
  while (next_contact < contacts.size() || !events.empty()) {
    Status st = store.transaction([&]() -> Status {
      for (int i = 0; i < 20'000 && (next_contact < contacts.size() || !events.empty()); ++i) {
        FC_TRY(step());
      }
      return {};
    });
    if (!st.ok()) return st;
    const int year =
        detail::date_of(clock.wall().time_since_epoch() / std::chrono::milliseconds(1)).year();
    if (year != last_report_year) {
      last_report_year = year;
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      say("history: " + std::to_string(year) + ", " + std::to_string(summary.children) +
          " children, " + std::to_string(accepted) + " transactions, " +
          std::to_string(static_cast<int>(secs)) + " s");
    }
  }
  summary.transactions = accepted;
  say("figures: recomputing from " + std::to_string(summary.records) + " records");
  FC_TRY(figures::recompute(store));
  // The mark of a complete demo (present() looks for it): an interrupted generation leaves
  // none, and the database is not taken for the demo.
  FC_TRY(store.transaction([&] {
    return store.append_audit(
        {new_uuid_v7(SystemClock::instance()),
         format_iso_datetime(std::chrono::system_clock::now()), std::string(kLoadedEvent), "", "",
         "", "",
         std::to_string(summary.children) + " cases, " + std::to_string(accepted) +
             (options.replay_through_sync ? " transactions replayed" : " transactions loaded") +
             "; by console"});
  }));
  auto acc = accounts(store);
  if (!acc.ok()) return acc.status();
  summary.accounts = std::move(*acc);
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

Result<std::string> figures_digest(ServerStore& store, Date today,
                                   std::int64_t population_under_18) {
  namespace fg = figures;
  fg::FiguresConfig config;
  config.population_under_18 = population_under_18;
  std::string out;
  auto add = [&](fg::FigureQuery q, const std::string& label) -> Status {
    q.as_of = today;
    auto r = fg::compute(store, config, q);
    if (!r.ok()) return r.status();
    out += label + " " + fg::format_result(*r) + "\n";
    return {};
  };
  const fg::Period last_year = fg::financial_year_of(today);
  for (Date d = last_year.first.add_years(-5).value(); d <= today; d = d.add_years(1).value()) {
    for (const auto& def : fg::definitions()) {
      fg::FigureQuery q;
      q.indicator = std::string(def.id);
      q.period = fg::financial_year_of(d);
      FC_TRY(add(q, "authority"));
    }
  }
  auto workers = store.list_workers();
  if (!workers.ok()) return workers.status();
  std::map<std::string, std::string> teams;  // name -> id
  for (const auto& w : *workers) {
    if (w.team_id.empty()) continue;
    auto t = store.find_team(w.team_id);
    if (!t.ok()) return t.status();
    if (*t) teams[(*t)->name] = (*t)->id;
  }
  for (const auto& [name, id] : teams) {
    for (std::string_view indicator : {"ni59", "ni60", "recording_delay", "cp_visits"}) {
      fg::FigureQuery q;
      q.indicator = std::string(indicator);
      q.level = fg::Level::team;
      q.id = id;
      q.period = last_year;
      FC_TRY(add(q, name));
    }
  }
  return out;
}

}  // namespace fieldcase::server::demo
