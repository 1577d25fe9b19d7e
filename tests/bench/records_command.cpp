// fieldcase-bench records: latency of recording a visit with three notes as one local
// transaction, and of building "My day", for a 40-case caseload with five years of history, on
// the encrypted store and, side by side in the same run, on the plain engine.
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "bench.hpp"
#include "check.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/record_store.hpp"
#include "fieldcase/secure_bytes.hpp"
#include "records_bench.hpp"

namespace fieldcase::bench {
namespace {

// A clock the population moves through five years of history, then parks at "today".
class SettableClock final : public fieldcase::Clock {
 public:
  std::chrono::system_clock::time_point wall() const override { return now_; }
  std::chrono::steady_clock::time_point monotonic() const override {
    return std::chrono::steady_clock::time_point(now_.time_since_epoch());
  }
  void set(std::chrono::system_clock::time_point t) { now_ = t; }

 private:
  std::chrono::system_clock::time_point now_{};
};

std::chrono::system_clock::time_point at_day(Date d, int hour) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(
      std::int64_t{d.days_since_epoch()} * 86400 + hour * 3600));
}

std::string iso(Date d, int hour) { return format_iso_datetime(at_day(d, hour)); }

struct Engine {
  std::string name;
  std::unique_ptr<Store> store;
  std::unique_ptr<RecordStore> records;
  std::vector<std::string> cases;
};

constexpr std::string_view kWorker = "0189a000-0000-7000-8000-000000000001";

// 40 children, five years of visits, notes, assessments and plans, in yearly transactions.
void populate(Engine& e, SettableClock& clock, Date today, int children, std::mt19937& rng) {
  Date start = check(today.add_years(-5), "date");
  clock.set(at_day(start, 9));
  for (int c = 0; c < children; ++c) {
    Date dob = check(start.add_days(-365 * (1 + c % 15)), "date");
    Fields child{{"local_id", "C" + std::to_string(1000 + c)},
                 {"first_name", std::string("Child")},
                 {"last_name", "Number" + std::to_string(c)},
                 {"date_of_birth", dob.to_string()},
                 {"gender", std::string(c % 2 ? "1" : "2")},
                 {"allocated_worker", std::string(kWorker)}};
    e.cases.push_back(check(e.records->create(RecordKind::child, "", std::move(child)), "child"));
  }
  for (int c = 0; c < children; ++c) {
    const std::string& cs = e.cases[static_cast<std::size_t>(c)];
    if (c % 4 == 0) {
      check(e.records
                ->create(RecordKind::cp_plan, cs,
                         {{"start_date", check(today.add_days(-200), "d").to_string()},
                          {"initial_category", std::string("NEG")}})
                .status(),
            "plan");
    }
  }
  // Five years, a visit with three notes roughly every two weeks per child, an assessment a year.
  for (Date d = start; d < today; d = check(d.add_days(14), "date")) {
    // Recorded the evening after the fortnight's visits (never after today).
    Date recorded = std::min(check(d.add_days(10), "date"), today);
    clock.set(at_day(recorded, 18));
    check(e.records->write([&](RecordStore::Writer& w) -> Status {
      for (const auto& cs : e.cases) {
        Date day = check(d.add_days(static_cast<std::int64_t>(rng() % 10)), "date");
        if (day >= today) continue;
        auto visit = w.create(RecordKind::visit, cs,
                              {{"visit_type", std::string(rng() % 3 ? "cp_statutory" : "other")},
                               {"start_at", iso(day, 10)},
                               {"end_at", iso(day, 11)},
                               {"child_seen", true},
                               {"observations", std::string(400, 'o')}});
        if (!visit.ok()) return visit.status();
        for (int n = 0; n < 3; ++n) {
          auto note = w.create(RecordKind::case_note, cs,
                               {{"contact_at", iso(day, 10)},
                                {"text", std::string(300, 'n')},
                                {"status", std::string("completed")},
                                {"visit_id", *visit}});
          if (!note.ok()) return note.status();
        }
      }
      return {};
    }), "history");
  }
  int n = 0;
  for (const auto& cs : e.cases) {
    // Open single assessments started 40 to 79 days ago: some overdue, some due soon.
    Date begun = check(today.add_days(-40 - (n++ % 40)), "d");
    auto a = e.records->create(RecordKind::assessment, cs,
                               {{"assessment_kind", std::string("single")},
                                {"start_date", begun.to_string()},
                                {"status", std::string("in_progress")}});
    check(a.status(), "assessment");
  }
}

Status record_visit(RecordStore& records, const std::string& case_id, Date today) {
  return records.write([&](RecordStore::Writer& w) -> Status {
    // A child-in-need visit: measuring must not change what "My day" finds due.
    auto visit = w.create(RecordKind::visit, case_id,
                          {{"visit_type", std::string("child_in_need")},
                           {"start_at", iso(today, 9)},
                           {"end_at", iso(today, 10)},
                           {"child_seen", true},
                           {"child_seen_alone", true},
                           {"observations", std::string(600, 'v')}});
    if (!visit.ok()) return visit.status();
    for (int n = 0; n < 3; ++n) {
      auto note = w.create(RecordKind::case_note, case_id,
                           {{"contact_at", iso(today, 9)},
                            {"text", std::string(400, 't')},
                            {"status", std::string("draft")},
                            {"visit_id", *visit}});
      if (!note.ok()) return note.status();
    }
    return {};
  });
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

}  // namespace

int run_records_command(Args args) {
  bool quick = false, json = false;
  std::filesystem::path dir;
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--help" || args[i] == "-h") {
        std::cout << "usage: fieldcase-bench records [--quick] [--json] [--dir DIR]\n\n"
                     "Records a visit with three notes as one transaction, and builds \"My day\",\n"
                     "for a 40-case caseload with five years of history, on the encrypted store\n"
                     "and on the plain engine in the same run. Reports p50 and p99 in ms.\n";
        return kExitOk;
      } else if (args[i] == "--quick") {
        quick = true;
      } else if (args[i] == "--json") {
        json = true;
      } else if (args[i] == "--dir" && i + 1 < args.size()) {
        dir = std::string(args[++i]);
      } else {
        throw UsageError("unknown option '" + std::string(args[i]) + "'");
      }
    }
  } catch (const UsageError& e) {
    std::cerr << "fieldcase-bench records: " << e.what() << "\nTry 'fieldcase-bench records --help'.\n";
    return kExitUsage;
  }
  try {
    if (!crypto_init().ok()) throw std::runtime_error("libsodium");
    ScratchDir scratch(dir, "fieldcase-bench-records");
    const Date today = check(Date::from_ymd(2026, 11, 26), "date");
    const int children = 40;
    const int visits = quick ? 100 : 1000;
    const int my_days = quick ? 50 : 300;
    auto timescales = check(Timescales::create(WorkingCalendar(), TimescaleSettings{}), "timescales");

    SettableClock clock;
    std::vector<Engine> engines(2);
    engines[0].name = "fieldcase";
    engines[1].name = "plain";
    auto key = check(SecureBytes::random(kKeySize), "key");
    for (auto& e : engines) {
      StoreOptions so;
      so.path = scratch.path() / (e.name + ".db");
      e.store = check(e.name == "plain" ? Store::open_plain(so) : Store::open(so, key.span()),
                      "open");
      Identity who{std::string(kWorker), "bench-device", Role::social_worker};
      e.records = check(RecordStore::open(*e.store, who, clock, timescales), "record store");
      std::mt19937 rng(2026);
      populate(e, clock, today, children, rng);
      // Five years of history have long since reached the server.
      check(e.store->exec("UPDATE change_log SET acked = 1"), "mark history synced");
    }
    clock.set(at_day(today, 17));

    std::map<std::string, std::vector<double>> record_ms, myday_ms;
    // Interleaved: every round measures each engine once.
    for (int i = 0; i < std::max(visits, my_days); ++i) {
      for (auto& e : engines) {
        if (i < visits) {
          Stopwatch sw(Clock::wall);
          check(record_visit(*e.records, e.cases[static_cast<std::size_t>(i) % e.cases.size()], today),
                "record visit");
          record_ms[e.name].push_back(sw.elapsed_ms());
        }
        if (i < my_days) {
          Stopwatch sw(Clock::wall);
          auto day = check(e.records->my_day(today), "my day");
          myday_ms[e.name].push_back(sw.elapsed_ms());
          if (day.overdue.size() + day.due_today.size() + day.due_this_week.size() == 0) {
            throw std::runtime_error("My day found nothing due: the caseload is not realistic");
          }
        }
      }
    }
    nlohmann::json out = nlohmann::json::array();
    for (auto& e : engines) {
      out.push_back({{"workload", "record_visit"}, {"engine", e.name},
                     {"p50_ms", percentile(record_ms[e.name], 0.5)},
                     {"p99_ms", percentile(record_ms[e.name], 0.99)},
                     {"runs", record_ms[e.name].size()}});
      out.push_back({{"workload", "my_day"}, {"engine", e.name},
                     {"p50_ms", percentile(myday_ms[e.name], 0.5)},
                     {"p99_ms", percentile(myday_ms[e.name], 0.99)},
                     {"runs", myday_ms[e.name].size()}});
    }
    if (json) {
      std::cout << nlohmann::json{{"results", out}}.dump() << "\n";
    } else {
      std::cout << "workload       engine       p50 ms    p99 ms   runs\n";
      for (const auto& r : out) {
        std::cout << std::left << std::setw(15) << r["workload"].get<std::string>()
                  << std::setw(11) << r["engine"].get<std::string>() << std::right
                  << std::fixed << std::setprecision(3) << std::setw(9)
                  << r["p50_ms"].get<double>() << std::setw(10) << r["p99_ms"].get<double>()
                  << std::setw(7) << r["runs"].get<std::size_t>() << "\n";
      }
      std::cout << "(40 children, five years of history: about "
                << engines[0].records->list(RecordKind::case_note).value().size()
                << " notes on each engine)\n";
    }
    return kExitOk;
  } catch (const std::exception& e) {
    std::cerr << "fieldcase-bench records: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace fieldcase::bench
