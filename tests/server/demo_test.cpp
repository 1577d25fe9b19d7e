// The demo authority ([figures][demo]): the organisation it plans, the shape of the history it
// generates, that a seed fixes the figures, that the bulk load and the replay through
// SyncService give the same figures, that the figures tell the demo's story (better after
// the tablets arrived), and that the simulated tablets' work reaches a real server ([demo]). Small scales keep these fast; the full authority is what
// `fieldcase-demo generate` and scripts/run make.
#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fake_clock.hpp"
#include "server_process.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/demo.hpp"
#include "fieldcase/server/figures.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "temp_dir.hpp"

namespace fieldcase::test {
namespace {

namespace demo = server::demo;
namespace fg = server::figures;

const Date kToday = Date::from_ymd(2026, 11, 26).value();

demo::DemoOptions small(std::uint64_t seed = 7) {
  demo::DemoOptions o;
  o.seed = seed;
  o.scale = 0.02;  // about 300 referrals a year
  o.years = 4;
  o.today = kToday;
  return o;
}

struct Generated {
  TempDir dir;
  std::unique_ptr<server::SqliteServerStore> store;
  demo::DemoSummary summary;
};

std::unique_ptr<Generated> generate(const demo::DemoOptions& options) {
  auto g = std::make_unique<Generated>();
  auto opened = server::SqliteServerStore::open(g->dir / "server.db");
  REQUIRE(opened.ok());
  g->store = std::move(opened.value());
  auto summary = demo::generate(*g->store, options);
  INFO(summary.status().to_string());
  REQUIRE(summary.ok());
  g->summary = std::move(*summary);
  return g;
}

std::string digest(Generated& g) {
  auto d = demo::figures_digest(*g.store, kToday, g.summary.population_under_18);
  INFO(d.status().to_string());
  REQUIRE(d.ok());
  return *d;
}

fg::FigureResult figure(Generated& g, const std::string& indicator, const std::string& period) {
  fg::FiguresConfig config;
  config.population_under_18 = g.summary.population_under_18;
  fg::FigureQuery q;
  q.indicator = indicator;
  q.period = fg::parse_period(period).value();
  q.as_of = kToday;
  auto r = fg::compute(*g.store, config, q);
  INFO(r.status().to_string());
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("demo: the full authority's organisation has the planned shape", "[figures][demo]") {
  demo::DemoOptions o;
  o.today = kToday;
  const auto plan = demo::plan_organisation(o);
  CHECK(plan.areas.size() == 3);
  CHECK(plan.teams.size() >= 27);
  CHECK(plan.teams.size() <= 33);
  CHECK(plan.workers.size() >= 370);
  CHECK(plan.workers.size() <= 430);
  std::map<Role, int> roles;
  for (const auto& w : plan.workers) ++roles[w.role];
  CHECK(roles[Role::service_lead] == 1);
  CHECK(roles[Role::area_manager] == 3);
  CHECK(roles[Role::team_manager] == static_cast<int>(plan.teams.size()));
  CHECK(roles[Role::contact_centre] >= 20);
  CHECK(roles[Role::administrator] >= 1);
  CHECK(roles[Role::social_worker] >= 300);
  // Managers have a team (their scope comes from it); every team has social workers.
  for (const auto& w : plan.workers) {
    if (w.role == Role::team_manager || w.role == Role::area_manager) CHECK(w.team >= 0);
  }
  CHECK(plan.referrals_per_year == Approx(15'000));
}

TEST_CASE("demo: a small authority's history has the requested shape", "[figures][demo]") {
  auto g = generate(small());
  const auto& s = g->summary;
  const auto plan = demo::plan_organisation(small());
  CHECK(s.areas == 3);
  CHECK(s.teams == plan.teams.size());
  CHECK(s.workers == plan.workers.size());
  CHECK(s.rejected == 0);  // every generated transaction passes the records' validation
  CHECK(s.transactions > 0);
  // Whole calendar years of the history: referrals near the planned rate, rising.
  for (int year : {2023, 2024, 2025}) {
    INFO(year);
    REQUIRE(s.referrals_by_year.count(year) == 1);
    CHECK(static_cast<double>(s.referrals_by_year.at(year)) > plan.referrals_per_year * 0.8);
    CHECK(static_cast<double>(s.referrals_by_year.at(year)) < plan.referrals_per_year * 1.4);
  }
  CHECK(s.referrals_by_year.count(2021) == 0);  // before the history starts
  auto present = demo::present(*g->store);
  REQUIRE(present.ok());
  CHECK(*present);
  // The sign-in accounts: one of each role a manager or worker signs in with.
  auto accounts = demo::accounts(*g->store);
  REQUIRE(accounts.ok());
  REQUIRE(accounts->size() == 4);
  CHECK((*accounts)[0].role == Role::service_lead);
  CHECK((*accounts)[3].role == Role::social_worker);
  // Generating again into the same database is refused (the main job checks present()).
  auto again = demo::generate(*g->store, small());
  CHECK(again.status().code() == Errc::already_exists);
}

TEST_CASE("demo: an interrupted generation is not taken for the demo", "[figures][demo]") {
  TempDir dir;
  auto store = server::SqliteServerStore::open(dir / "server.db");
  REQUIRE(store.ok());
  auto empty = demo::present(**store);
  REQUIRE(empty.ok());
  CHECK_FALSE(*empty);
  // The authority exists (the first thing generate() makes) but the closing entry does not.
  FakeClock clock;
  server::Admin admin(**store, clock);
  REQUIRE(admin.create_authority(demo::kAuthorityName, demo::kLaCode).ok());
  auto partial = demo::present(**store);
  REQUIRE(partial.ok());
  CHECK_FALSE(*partial);
  CHECK(demo::generate(**store, small()).status().code() == Errc::already_exists);
}

TEST_CASE("demo: the same seed gives the same figures, another seed others", "[figures][demo]") {
  auto a = generate(small(7));
  auto b = generate(small(7));
  auto c = generate(small(8));
  const std::string da = digest(*a);
  CHECK(da.size() > 1000);
  CHECK(da == digest(*b));
  CHECK(da != digest(*c));
  CHECK(a->summary.records == b->summary.records);
}

TEST_CASE("demo: the bulk load and the replay through the sync service agree", "[figures][demo]") {
  demo::DemoOptions o = small(11);
  o.years = 3;
  auto bulk = generate(o);
  o.replay_through_sync = true;
  auto replay = generate(o);
  CHECK(replay->summary.rejected == 0);
  CHECK(replay->summary.requests > 0);
  CHECK(replay->summary.transactions == bulk->summary.transactions);
  CHECK(digest(*replay) == digest(*bulk));
}

TEST_CASE("demo: the figures improve after the tablets arrive", "[figures][demo]") {
  demo::DemoOptions o = small(5);
  o.scale = 0.05;
  auto g = generate(o);
  // Tablets from November 2024 (area by area): FY2023-24 is before, FY2025-26 after.
  CHECK(g->summary.tablets_from == Date::from_ymd(2024, 11, 1).value());
  const auto before = figure(*g, "ni59", "FY2023-24");
  const auto after = figure(*g, "ni59", "FY2025-26");
  REQUIRE(before.value.has_value());
  REQUIRE(after.value.has_value());
  CHECK(*before.value < 75.0);  // the council's baseline was about 59%
  CHECK(*after.value > *before.value + 10.0);
  const auto delay_before = figure(*g, "recording_delay", "FY2023-24");
  const auto delay_after = figure(*g, "recording_delay", "FY2025-26");
  REQUIRE(delay_before.median.has_value());
  REQUIRE(delay_after.median.has_value());
  CHECK(*delay_after.median * 2 < *delay_before.median);
  const auto auth_before = figure(*g, "authorisation_delay", "FY2023-24");
  const auto auth_after = figure(*g, "authorisation_delay", "FY2025-26");
  CHECK(*auth_after.median < *auth_before.median);
  // Data quality has something to show: late syncs and fast device clocks.
  const auto visits = figure(*g, "recording_delay", "FY2025-26");
  CHECK(visits.quality.by_flag.count("synced_late") == 1);
  CHECK(visits.quality.by_flag.count(std::string(fg::kFlagClockOffset)) == 1);
  // Every headline indicator has records in the last full year.
  for (const char* id : {"ni59", "ni60", "contact1", "icpc15", "cp_visits", "lac_visits", "ni68",
                         "ni67", "lac_count", "assessments_outstanding"}) {
    INFO(id);
    CHECK(figure(*g, id, "FY2025-26").quality.records > 0);
  }
  // Looked-after children are counted without the unaccompanied asylum seekers.
  const auto lac = figure(*g, "lac_count", "FY2025-26");
  CHECK(*lac.value > 0);
}

TEST_CASE("demo: the simulated tablets record through the core and sync with a real server",
          "[demo][sync]") {
  // A small authority in the server's database, then fieldcase-server serving it.
  TempDir dir;
  demo::DemoOptions o = small(3);
  o.years = 2;
  o.today = Date::from_days_since_epoch(
                std::chrono::duration_cast<std::chrono::hours>(
                    std::chrono::system_clock::now().time_since_epoch())
                        .count() /
                    24 -
                1)
                .value();  // yesterday: the tablets record now, after the history
  {
    auto store = server::SqliteServerStore::open(dir / "server.db");
    REQUIRE(store.ok());
    auto generated = demo::generate(**store, o);
    INFO(generated.status().to_string());
    REQUIRE(generated.ok());
  }
  ServerProcess server(dir, {});
  const std::string started = format_iso_datetime(std::chrono::system_clock::now());

  auto store = server::SqliteServerStore::open(dir / "server.db");
  REQUIRE(store.ok());
  auto admin_store = server::SqliteServerStore::open(dir / "server.db");
  REQUIRE(admin_store.ok());
  server::Admin admin(**admin_store, SystemClock::instance());

  demo::DevicesOptions d;
  d.server_url = "http://127.0.0.1:" + std::to_string(server.port());
  d.devices = 3;
  d.interval_seconds = 0;
  d.rounds = 3;
  d.sync_every = 1;
  const std::filesystem::path work = dir / "tablets";
  std::filesystem::create_directory(work);
  d.work_dir = work.string();
  std::vector<std::string> lines;
  std::string revoked;  // the first tablet, revoked by an administrator once it has its cases
  d.progress = [&](std::string_view line) {
    lines.emplace_back(line);
    if (revoked.empty() && line.rfind("device ", 0) == 0) {
      revoked = std::string(line.substr(7, 36));
      REQUIRE(admin.revoke_device(revoked).ok());
    }
  };
  auto report = demo::run_devices(**store, d);
  std::string log;
  for (const auto& l : lines) log += l + "\n";
  INFO(log);
  REQUIRE(report.ok());

  // The revoked tablet is reported as such, by its id, and its work stops.
  REQUIRE_FALSE(revoked.empty());
  REQUIRE(report->refused == std::vector<std::string>{revoked});
  CHECK(log.find(revoked + " revoked by the server") != std::string::npos);
  CHECK(log.find("its records are erased") != std::string::npos);

  // The other two delivered every piece of work, and the server holds it as records.
  CHECK(report->rejected == 0);
  REQUIRE(report->accepted > 0);
  auto devices = admin.list_devices();
  REQUIRE(devices.ok());
  std::set<std::string> tablet_workers;
  for (const auto& dev : *devices) {
    if (dev.id == revoked) CHECK(dev.status == server::DeviceStatus::revoked);
    if (dev.id != revoked && !dev.last_sync_at.empty()) tablet_workers.insert(dev.worker_id);
  }
  REQUIRE(tablet_workers.size() == 2);
  std::int64_t visits = 0, notes = 0, completed = 0;
  for (const auto& worker_id : tablet_workers) {
    auto worker = (*store)->find_worker(worker_id);
    REQUIRE(worker.ok());
    REQUIRE(worker->has_value());
    auto cases = (*store)->visible_cases(**worker);
    REQUIRE(cases.ok());
    for (const auto& case_id : *cases) {
      auto records = (*store)->case_records(case_id);
      REQUIRE(records.ok());
      for (const auto& r : *records) {
        if (r.created_by != worker_id) continue;
        if (r.kind == RecordKind::visit && r.created_at >= started) {
          ++visits;
          auto seen = r.fields.find("child_seen");
          REQUIRE(seen != r.fields.end());
          CHECK(seen->second.value == Value{true});
        }
        if (r.kind == RecordKind::case_note && r.created_at >= started) ++notes;
        auto at = r.fields.find("completed_at");
        if (r.kind == RecordKind::assessment && at != r.fields.end() &&
            std::get<std::string>(at->second.value) >= started) {
          ++completed;
        }
      }
    }
  }
  CHECK(visits == notes);  // each visit with its note, in one transaction
  CHECK(visits + completed == report->accepted);
  // The tablets' stores were temporary: nothing is left of them.
  CHECK(std::filesystem::is_empty(work));
}

}  // namespace fieldcase::test
