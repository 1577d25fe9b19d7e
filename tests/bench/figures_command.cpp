// fieldcase-bench figures: the figures engine on the demo authority (five years, about 15,000
// referrals a year): latency of the dashboard's overview and of a team's drill-down through
// its API (FiguresService), each just after a sync changed a case; the cost per synced
// transaction of keeping figures current (SyncService with and without the figures hook, side
// by side); and a full recomputation of a national-scale year made by the same generator.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "bench.hpp"
#include "check.hpp"
#include "fieldcase/ids.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/demo.hpp"
#include "fieldcase/server/figures.hpp"
#include "fieldcase/server/figures_service.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/server/sync_service.hpp"
#include "figures_bench.hpp"

namespace fieldcase::bench {
namespace {

namespace fg = server::figures;
namespace demo = server::demo;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

struct Options {
  double scale = 1.0;
  int years = 5;
  int reps = 50;
  int transactions = 200;
  double national_scale = 650'000.0 / 15'000.0;
  bool national = true;
  bool json = false;
  std::filesystem::path dir;
};

std::unique_ptr<server::SqliteServerStore> open_store(const std::filesystem::path& path) {
  return check(server::SqliteServerStore::open(path), "open the server store");
}

// Social workers' cases with a child protection plan still open, up to `limit`: in `team`
// when one is named, other than `other_than`.
std::vector<std::pair<server::Worker, std::string>> open_plan_cases(
    server::ServerStore& store, std::size_t limit, const std::string& team = "",
    const std::string& other_than = "") {
  std::vector<std::pair<server::Worker, std::string>> out;
  for (const auto& w : check(store.list_workers(), "workers")) {
    if (w.role != Role::social_worker) continue;
    if (!team.empty() && w.team_id != team) continue;
    for (const auto& c : check(store.visible_cases(w), "cases")) {
      if (c == other_than) continue;
      for (const auto& r : check(store.case_records(c), "records")) {
        if (r.kind == RecordKind::cp_plan && !r.deleted && !r.fields.contains("end_date")) {
          out.emplace_back(w, c);
          if (out.size() >= limit) return out;
          break;
        }
      }
    }
  }
  return out;
}

// The first social worker holding a case with a child protection plan still open.
std::pair<server::Worker, std::string> worker_with_open_plan(server::ServerStore& store) {
  auto found = open_plan_cases(store, 1);
  if (found.empty()) throw std::runtime_error("the demo has no open child protection plan");
  return found.front();
}

// One statutory visit with a note, as a device sends it.
sync::Transaction visit_tx(const fieldcase::Clock& clock, const std::string& case_id,
                           const std::string& device_id, std::int64_t& wall,
                           std::uint32_t& counter) {
  const std::string at = format_iso_datetime(clock.wall());
  sync::Transaction tx;
  tx.tx_id = new_uuid_v7(clock);
  auto op = [&](FieldChange::Op kind, RecordKind rk, const std::string& id, std::string field,
                Value v) {
    sync::Op o;
    o.op_id = new_uuid_v7(clock);
    o.op = kind;
    o.record_id = id;
    o.kind = rk;
    o.case_id = case_id;
    o.field = std::move(field);
    o.value = std::move(v);
    o.hlc = HlcStamp{wall, ++counter, device_id}.to_string();
    o.at = at;
    tx.ops.push_back(std::move(o));
  };
  const std::string visit = new_uuid_v7(clock);
  op(FieldChange::Op::create, RecordKind::visit, visit, "", Value{});
  op(FieldChange::Op::set, RecordKind::visit, visit, "visit_type", std::string("cp_statutory"));
  op(FieldChange::Op::set, RecordKind::visit, visit, "start_at", at);
  op(FieldChange::Op::set, RecordKind::visit, visit, "child_seen", true);
  op(FieldChange::Op::set, RecordKind::visit, visit, "recorded_at", at);
  const std::string note = new_uuid_v7(clock);
  op(FieldChange::Op::create, RecordKind::case_note, note, "", Value{});
  op(FieldChange::Op::set, RecordKind::case_note, note, "contact_at", at);
  op(FieldChange::Op::set, RecordKind::case_note, note, "text", std::string("Child seen."));
  op(FieldChange::Op::set, RecordKind::case_note, note, "status", std::string("completed"));
  op(FieldChange::Op::set, RecordKind::case_note, note, "completed_at", at);
  op(FieldChange::Op::set, RecordKind::case_note, note, "visit_id", visit);
  return tx;
}

}  // namespace

int run_figures_command(Args args) {
  Options o;
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      auto value = [&]() -> std::string_view {
        if (i + 1 >= args.size()) throw UsageError(std::string(args[i]) + " needs a value");
        return args[++i];
      };
      if (args[i] == "--help" || args[i] == "-h") {
        std::cout
            << "usage: fieldcase-bench figures [--scale X] [--years N] [--reps N]\n"
               "                               [--transactions N] [--national-scale X]\n"
               "                               [--no-national] [--json] [--dir DIR]\n\n"
               "Generates the demo authority (scale 1: about 15,000 referrals a year, five\n"
               "years) and times the dashboard's API (FiguresService) after its start-up read:\n"
               "the overview (every indicator with a 12-month trend, current financial year)\n"
               "and a team's drill-down (each indicator by worker, and its records), each just\n"
               "after a sync changed one case, p50 and p99 over --reps (50); N sync\n"
               "transactions (200) with\n"
               "and without the figures hook, interleaved; and figures::recompute of one year\n"
               "at --national-scale (43.3: about 650,000 referrals).\n";
        return kExitOk;
      } else if (args[i] == "--scale") {
        o.scale = std::stod(std::string(value()));
      } else if (args[i] == "--years") {
        o.years = parse_positive(value(), "--years");
      } else if (args[i] == "--reps") {
        o.reps = parse_positive(value(), "--reps");
      } else if (args[i] == "--transactions") {
        o.transactions = parse_positive(value(), "--transactions");
      } else if (args[i] == "--national-scale") {
        o.national_scale = std::stod(std::string(value()));
      } else if (args[i] == "--no-national") {
        o.national = false;
      } else if (args[i] == "--json") {
        o.json = true;
      } else if (args[i] == "--dir") {
        o.dir = std::string(value());
      } else {
        throw UsageError("unknown option '" + std::string(args[i]) + "'");
      }
    }
    if (!(o.scale > 0) || !(o.national_scale > 0)) throw UsageError("scales are above 0");
  } catch (const UsageError& e) {
    std::cerr << "fieldcase-bench figures: " << e.what()
              << "\nTry 'fieldcase-bench figures --help'.\n";
    return kExitUsage;
  } catch (const std::invalid_argument&) {
    std::cerr << "fieldcase-bench figures: a scale is a number\n";
    return kExitUsage;
  }

  try {
    ScratchDir scratch(o.dir, "fieldcase-bench-figures");
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const Date today = check(Date::from_days_since_epoch(now_ms / 86'400'000), "today");
    auto say = [&](std::string_view line) { std::cerr << "figures: " << line << std::endl; };
    nlohmann::json out;

    // The demo authority.
    auto store = open_store(scratch.path() / "demo.db");
    demo::DemoOptions d;
    d.scale = o.scale;
    d.years = o.years;
    d.today = today;
    d.until_ms = now_ms;
    d.progress = say;
    Stopwatch gen(Clock::wall);
    auto summary = check(demo::generate(*store, d), "generate the demo");
    const double generate_ms = gen.elapsed_ms();
    std::int64_t referrals = 0;
    for (const auto& [y, n] : summary.referrals_by_year) referrals += n;
    out["demo"] = {{"scale", o.scale},
                   {"years", o.years},
                   {"referrals", referrals},
                   {"records", summary.records},
                   {"children", summary.children},
                   {"generate_s", generate_ms / 1000}};

    fg::FiguresConfig config;
    config.population_under_18 = summary.population_under_18;
    const fg::Period period = fg::financial_year_of(today);
    // The team with the most cases: the largest drill-down.
    std::string team;
    {
      std::map<std::string, std::size_t> per_team;
      for (const auto& w : check(store->list_workers(), "workers")) {
        if (w.role == Role::social_worker) {
          per_team[w.team_id] += check(store->visible_cases(w), "cases").size();
        }
      }
      std::size_t best = 0;
      for (const auto& [t, n] : per_team) {
        if (n > best) {
          best = n;
          team = t;
        }
      }
    }
    // The dashboard's API (FiguresService, what GET /v1/figures/... answers), as the server
    // runs it: every fact read once when it starts (warm()), then requests, each made just
    // after a tablet's sync changed one case's figures (a statutory visit on the longest
    // child protection plan, through SyncService with the figures hook, whose listener tells
    // the figures service, as in the server), and the same request again unchanged (warm).
    std::vector<double> overview_synced, overview_warm, team_synced, drill_synced, drill_warm,
        records_synced;
    double start_read_ms = 0, baseline_ms = 0;
    nlohmann::json per_indicator;  // p50 ms of each indicator, authority, financial year
    std::size_t facts = 0, drill_rows = 0, synced_cases = 0;
    {
      Stopwatch base(Clock::wall);
      facts = check(store->figure_facts(""), "facts").size();
      baseline_ms = base.elapsed_ms();
      server::Worker lead;
      for (const auto& w : check(store->list_workers(), "workers")) {
        if (w.role == Role::service_lead) lead = w;
      }
      const fieldcase::Clock& clock = SystemClock::instance();
      server::FiguresServiceOptions fo;
      fo.figures = config;
      server::FiguresService service(*store, clock, fo);
      Stopwatch warm(Clock::wall);
      check(service.warm(), "read the facts at start");
      start_read_ms = warm.elapsed_ms();

      // The tablets of the drill-down's team (its figures change) sync in turn, each a visit
      // on one of the team's open child protection plans (not the case the hook is timed on
      // below, so that one keeps its size): a team's day, not one case growing by thousands.
      auto plans = open_plan_cases(*store, 30, team, worker_with_open_plan(*store).second);
      if (plans.empty())
        plans = open_plan_cases(*store, 30, "", worker_with_open_plan(*store).second);
      if (plans.empty()) throw std::runtime_error("the demo has no second open plan");
      synced_cases = plans.size();
      server::Admin admin(*store, clock);
      std::map<std::string, server::AuthenticatedDevice> tablets;  // by worker
      for (const auto& [w, c] : plans) {
        if (tablets.contains(w.id)) continue;
        auto device = check(admin.issue_device(w.id), "device");
        tablets.emplace(w.id, server::AuthenticatedDevice{device.device_id, w.id, false,
                                                          server::DeviceStatus::active});
      }
      server::SyncService syncs(*store, clock, server::ServiceOptions{});
      syncs.on_figures_changed(
          [&service](const std::vector<std::string>& cases) { service.figures_changed(cases); });
      std::int64_t wall = now_ms;
      std::uint32_t counter = 0;
      std::size_t turn = 0;
      auto sync_a_visit = [&] {
        const auto& [w, plan_case] = plans[turn++ % plans.size()];
        sync::SyncRequest req;
        req.device_time = format_iso_datetime(clock.wall());
        req.cursor = check(store->head(), "head");
        req.max_changes = 1;
        req.transactions.push_back(
            visit_tx(clock, plan_case, tablets.at(w.id).device_id, wall, counter));
        auto res = check(syncs.handle(tablets.at(w.id), req, clock.wall()), "sync");
        if (res.accepted.size() != 1) throw std::runtime_error("a visit was rejected");
      };
      auto timed = [](std::vector<double>& into, auto&& f) {
        Stopwatch sw(Clock::wall);
        f();
        into.push_back(sw.elapsed_ms());
      };

      server::FiguresRequest req;
      req.period = period;
      req.as_of = today;
      server::FiguresRequest team_req = req;
      team_req.level = fg::Level::team;
      team_req.unit = team;
      for (int r = 0; r < o.reps; ++r) {
        sync_a_visit();
        timed(overview_synced, [&] { check(service.overview(lead, req), "overview"); });
        timed(overview_warm, [&] { check(service.overview(lead, req), "overview"); });
        sync_a_visit();
        timed(team_synced, [&] { check(service.overview(lead, team_req), "team overview"); });
        // The team's drill-down: each indicator for the team and each of its workers, then the
        // first page of the records behind the team's figure.
        drill_rows = 0;
        for (const auto& def : fg::definitions()) {
          sync_a_visit();
          timed(drill_synced, [&] { check(service.breakdown(lead, def.id, team_req), "drill"); });
          timed(drill_warm, [&] { check(service.breakdown(lead, def.id, team_req), "drill"); });
          sync_a_visit();
          timed(records_synced, [&] {
            auto page = check(service.records(lead, def.id, team_req, 0, 100, "bench"), "records");
            drill_rows += page.total;
          });
        }
      }
      // Where a figure's time goes: each indicator for the authority and the financial year
      // alone, on the service's facts (the figures a sync anywhere makes it work out again).
      check(service.with_facts([&](fg::FactsCache& cache) -> Status {
        for (const auto& def : fg::definitions()) {
          fg::FigureQuery q;
          q.indicator = std::string(def.id);
          q.period = period;
          q.as_of = today;
          q.with_records = false;
          std::vector<double> ms;
          for (int r = 0; r < 5; ++r) {
            Stopwatch sw(Clock::wall);
            check(fg::compute(cache, config, q), "figure");
            ms.push_back(sw.elapsed_ms());
          }
          per_indicator[std::string(def.id)] = percentile(ms, 0.5);
        }
        return {};
      }),
            "time each indicator");
    }
    out["api"] = {{"start_read_ms", start_read_ms},
                  {"overview_after_sync_p50_ms", percentile(overview_synced, 0.5)},
                  {"overview_after_sync_p99_ms", percentile(overview_synced, 0.99)},
                  {"overview_after_sync_ms", overview_synced},  // each rep, in order
                  {"overview_warm_p50_ms", percentile(overview_warm, 0.5)},
                  {"overview_warm_p99_ms", percentile(overview_warm, 0.99)},
                  {"team_overview_after_sync_p50_ms", percentile(team_synced, 0.5)},
                  {"team_overview_after_sync_p99_ms", percentile(team_synced, 0.99)},
                  {"team_drilldown_after_sync_p50_ms", percentile(drill_synced, 0.5)},
                  {"team_drilldown_after_sync_p99_ms", percentile(drill_synced, 0.99)},
                  {"team_drilldown_warm_p50_ms", percentile(drill_warm, 0.5)},
                  {"team_drilldown_warm_p99_ms", percentile(drill_warm, 0.99)},
                  {"team_records_after_sync_p50_ms", percentile(records_synced, 0.5)},
                  {"team_records_after_sync_p99_ms", percentile(records_synced, 0.99)},
                  {"team_records_rows", drill_rows},
                  {"synced_cases", synced_cases}};
    say("api done");
    out["queries"] = {{"indicators", fg::definitions().size()},
                      {"period", period.label},
                      {"facts", facts},
                      {"reps", o.reps},
                      {"baseline_read_facts_ms", baseline_ms},
                      {"authority_year_p50_ms", per_indicator}};
    say("queries done");

    // Keeping figures current: the same visits through SyncService with and without the hook.
    {
      auto [worker, case_id] = worker_with_open_plan(*store);
      const fieldcase::Clock& clock = SystemClock::instance();
      server::Admin admin(*store, clock);
      auto device = check(admin.issue_device(worker.id), "device");
      server::ServiceOptions with_hook, without_hook;
      without_hook.maintain_figures = false;
      server::SyncService on(*store, clock, with_hook), off(*store, clock, without_hook);
      server::AuthenticatedDevice auth{device.device_id, worker.id, false,
                                       server::DeviceStatus::active};
      std::int64_t wall = now_ms;
      std::uint32_t counter = 0;
      std::vector<double> ms_on, ms_off, ms_refresh;
      for (int i = 0; i < o.transactions; ++i) {
        for (int which = 0; which < 2; ++which) {
          // Alternate which goes first, so drift falls on both.
          const bool hook = (which == 0) == (i % 2 == 0);
          sync::SyncRequest req;
          req.device_time = format_iso_datetime(clock.wall());
          req.cursor = check(store->head(), "head");
          req.max_changes = 1;
          req.transactions.push_back(visit_tx(clock, case_id, auth.device_id, wall, counter));
          Stopwatch sw(Clock::wall);
          auto res = check((hook ? on : off).handle(auth, req, clock.wall()), "sync");
          (hook ? ms_on : ms_off).push_back(sw.elapsed_ms());
          if (res.accepted.size() != 1) {
            throw std::runtime_error("a benchmark transaction was rejected: " +
                                     (res.rejected.empty() ? "" : res.rejected[0].reason));
          }
        }
        // The hook's own work for this case, alone.
        Stopwatch sw(Clock::wall);
        check(store->transaction([&] { return fg::refresh_cases(*store, {case_id}); }), "refresh");
        ms_refresh.push_back(sw.elapsed_ms());
      }
      const double p50_on = percentile(ms_on, 0.5), p50_off = percentile(ms_off, 0.5);
      out["sync"] = {{"transactions", o.transactions},
                     {"case_records", check(store->case_records(case_id), "records").size()},
                     {"with_hook_p50_ms", p50_on},
                     {"without_hook_p50_ms", p50_off},
                     {"hook_cost_ms", p50_on - p50_off},
                     {"ratio", p50_off > 0 ? p50_on / p50_off : 0.0},
                     {"refresh_case_p50_ms", percentile(ms_refresh, 0.5)}};
      say("sync done");
    }
    // Full recomputation of the demo (five years) and of a national-scale year.
    {
      Stopwatch sw(Clock::wall);
      check(fg::recompute(*store), "recompute");
      out["recompute_demo_s"] = sw.elapsed_ms() / 1000;
    }
    store.reset();
    if (o.national) {
      auto national = open_store(scratch.path() / "national.db");
      demo::DemoOptions n = d;
      n.scale = o.national_scale;
      n.years = 1;
      Stopwatch g(Clock::wall);
      auto s = check(demo::generate(*national, n), "generate the national year");
      const double generate_s = g.elapsed_ms() / 1000;
      std::int64_t nref = 0;
      for (const auto& [y, c] : s.referrals_by_year) nref += c;
      Stopwatch sw(Clock::wall);
      check(fg::recompute(*national), "recompute");
      out["national"] = {{"scale", o.national_scale}, {"referrals", nref},
                         {"records", s.records},      {"children", s.children},
                         {"generate_s", generate_s},  {"recompute_s", sw.elapsed_ms() / 1000}};
    }

    if (o.json) {
      std::cout << out.dump() << "\n";
    } else {
      std::cout << std::fixed << std::setprecision(1) << out.dump(2) << "\n";
    }
    return kExitOk;
  } catch (const std::exception& e) {
    std::cerr << "fieldcase-bench figures: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace fieldcase::bench
