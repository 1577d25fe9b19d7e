// fieldcase-bench sync: sync over HTTP (gzip) on loopback to the sync server running in this
// process on its SQLite store.
//
//   day:        a day's work from one device (8 visits, 25 notes, 2 assessments edited and one
//               completed) recorded on the device's RecordStore and synced by SyncEngine: round
//               trips, bytes on the wire (gzip) and raw (the encoded request), and latency.
//   throughput: many devices (one thread each) pushing field operations concurrently.
//   bootstrap:  a new device receiving a 40-case caseload with five years of history.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "check.hpp"
#include "fieldcase/ids.hpp"
#include "fieldcase/platform/http_transport.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/record_store.hpp"
#include "fieldcase/secure_bytes.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/http_server.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/server/sync_service.hpp"
#include "fieldcase/sync_engine.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "sync_bench.hpp"

namespace fieldcase::bench {
namespace {

const fieldcase::Clock& system_clock() { return SystemClock::instance(); }

std::string iso_ago(std::chrono::minutes ago) {
  return format_iso_datetime(std::chrono::system_clock::now() - ago);
}

// Prose-like text (gzip must not find it trivially compressible).
std::string words(std::mt19937& rng, std::size_t chars) {
  static constexpr const char* kWords[] = {
      "child",   "mother", "father",  "school", "seen",    "alone",  "bedroom", "kitchen",
      "said",    "happy",  "worried", "sister", "brother", "health", "visitor", "nursery",
      "plan",    "review", "agreed",  "safety", "concern", "clean",  "food",    "garden",
      "teacher", "GP",     "dentist", "contact", "weekend", "friend", "upset",  "calm"};
  std::string s;
  while (s.size() < chars) {
    s += kWords[rng() % std::size(kWords)];
    s += (rng() % 11 == 0) ? ". " : " ";
  }
  s.resize(chars);
  return s;
}

// The sync server on a loopback port, served from a thread of this process.
class InProcessServer {
 public:
  explicit InProcessServer(const std::filesystem::path& db, int threads) {
    store_ = check(server::SqliteServerStore::open(db), "server store");
    admin_ = std::make_unique<server::Admin>(*store_, system_clock());
    service_ = std::make_unique<server::SyncService>(*store_, system_clock());
    server::HttpOptions o;
    o.threads = threads;
    o.log_requests = false;
    o.rate_limit_per_minute = 0;  // measures sync itself: simulated devices send back to back
    http_ = std::make_unique<server::HttpServer>(*service_, system_clock(), o);
    port_ = check(http_->bind("127.0.0.1", 0), "bind");
    serving_ = std::thread([this] { served_ = http_->run(); });
    check(admin_->create_authority("City", "123").status(), "authority");
    auto area = check(admin_->create_area("North"), "area");
    team_ = check(admin_->create_team("Team 1", area), "team");
  }
  ~InProcessServer() {
    http_->stop();
    if (serving_.joinable()) serving_.join();
  }
  InProcessServer(const InProcessServer&) = delete;
  InProcessServer& operator=(const InProcessServer&) = delete;

  server::Admin& admin() { return *admin_; }
  const std::string& team() const { return team_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::unique_ptr<server::SqliteServerStore> store_;
  std::unique_ptr<server::Admin> admin_;
  std::unique_ptr<server::SyncService> service_;
  std::unique_ptr<server::HttpServer> http_;
  int port_ = 0;
  Status served_;
  std::thread serving_;
  std::string team_;
};

// A device: its own store, record store and HTTP transport, issued by the server's admin.
struct Device {
  std::unique_ptr<Store> store;
  std::unique_ptr<RecordStore> records;
  std::unique_ptr<platform::HttpTransport> transport;
  std::string token;
  std::string worker;

  SyncReport sync() {
    SyncOptions o;
    o.sleep = [](std::chrono::milliseconds) {};
    SyncEngine engine(*records, *transport, token, o);
    SyncReport r = check(engine.run(), "sync");
    if (r.rejected != 0) {
      throw std::runtime_error("server rejected " + std::to_string(r.rejected) +
                               " transactions: " + r.rejections.front().reason);
    }
    return r;
  }
};

Device make_device(InProcessServer& server, const std::filesystem::path& db,
                   const std::string& worker, bool encrypted, const SecureBytes& key) {
  Device d;
  d.worker = worker;
  auto issued = check(server.admin().issue_device(worker), "issue device");
  d.token = issued.token;
  StoreOptions so;
  so.path = db;
  d.store = check(encrypted ? Store::open(so, key.span()) : Store::open_plain(so), "open store");
  d.records = check(RecordStore::open(*d.store, Identity{worker, issued.device_id,
                                                         Role::social_worker},
                                      system_clock(), Timescales()),
                    "record store");
  platform::HttpTransportOptions to;
  to.base_url = server.url();
  d.transport = std::make_unique<platform::HttpTransport>(to);
  return d;
}

Fields child_fields(int n) {
  return {{"local_id", "C" + std::to_string(1000 + n)},
          {"first_name", std::string("Child")},
          {"last_name", "Number" + std::to_string(n)},
          {"gender", std::string(n % 2 ? "1" : "2")},
          {"date_of_birth", std::string("2015-03-02")}};
}

// Size of the first request the engine would send for the current outbox, uncompressed.
std::size_t raw_request_bytes(RecordStore& records) {
  SyncOptions defaults;
  sync::SyncRequest request;
  request.device_time = format_iso_datetime(std::chrono::system_clock::now());
  request.cursor = check(records.sync_cursor(), "cursor");
  request.max_changes = defaults.max_changes_per_page;
  request.transactions = check(
      records.outbox(defaults.max_transactions_per_request, defaults.max_ops_per_request),
      "outbox");
  return sync::encode(request).size();
}

struct DayResult {
  std::string engine;
  int reps = 0;
  std::vector<double> ms;
  std::vector<int> round_trips;
  std::vector<std::size_t> sent, received, raw, transactions;
};

// (a) One device, `reps` days, each a fresh day's work synced once.
DayResult measure_day(InProcessServer& server, const std::filesystem::path& dir, bool encrypted,
                      int reps, const SecureBytes& key) {
  DayResult out;
  out.engine = encrypted ? "fieldcase" : "plain";
  out.reps = reps;
  const std::string worker = check(
      server.admin().create_worker(encrypted ? "Enc Worker" : "Plain Worker",
                                   Role::social_worker, server.team()),
      "worker");
  Device d = make_device(server, dir / (out.engine + "-device.db"), worker, encrypted, key);
  std::mt19937 rng(2026);
  // The caseload this device already holds: eight children, synced before the day.
  std::vector<std::string> cases;
  for (int c = 0; c < 8; ++c) {
    cases.push_back(check(d.records->create(RecordKind::child, "", child_fields(c)), "child"));
  }
  d.sync();
  for (int rep = 0; rep < reps; ++rep) {
    // Three assessments in progress, synced the day before.
    std::vector<std::string> assessments;
    for (int a = 0; a < 3; ++a) {
      assessments.push_back(check(
          d.records->create(RecordKind::assessment, cases[static_cast<std::size_t>(a)],
                            {{"assessment_kind", std::string("single")},
                             {"start_date", iso_ago(std::chrono::hours(24 * 20)).substr(0, 10)},
                             {"status", std::string("in_progress")}}),
          "assessment"));
    }
    d.sync();
    // The day: 8 visits with 25 notes between them (3 each, 4 on the last), each visit with its
    // notes one local transaction; two assessments edited, one completed.
    for (int v = 0; v < 8; ++v) {
      const std::string& cs = cases[static_cast<std::size_t>(v)];
      const auto start = std::chrono::minutes(60 * (9 - v) + 30);
      check(d.records->write([&](RecordStore::Writer& w) -> Status {
        auto visit = w.create(RecordKind::visit, cs,
                              {{"visit_type", std::string("child_in_need")},
                               {"start_at", iso_ago(start)},
                               {"end_at", iso_ago(start - std::chrono::minutes(45))},
                               {"child_seen", true},
                               {"child_seen_alone", true},
                               {"observations", words(rng, 600)}});
        if (!visit.ok()) return visit.status();
        for (int n = 0; n < (v == 7 ? 4 : 3); ++n) {
          auto note = w.create(RecordKind::case_note, cs,
                               {{"contact_at", iso_ago(start)},
                                {"text", words(rng, 400)},
                                {"status", std::string("completed")},
                                {"visit_id", *visit}});
          if (!note.ok()) return note.status();
        }
        return {};
      }), "visit");
    }
    for (int a = 0; a < 2; ++a) {
      check(d.records->update(assessments[static_cast<std::size_t>(a)],
                              {{"child_development", words(rng, 500)},
                               {"parenting_capacity", words(rng, 300)}}),
            "edit assessment");
    }
    check(d.records->update(assessments[2], {{"family_environment", words(rng, 300)},
                                             {"status", std::string("completed")},
                                             {"completed_at", iso_ago(std::chrono::minutes(5))}}),
          "complete assessment");
    out.transactions.push_back(
        static_cast<std::size_t>(check(d.records->pending_transactions(), "pending")));
    out.raw.push_back(raw_request_bytes(*d.records));
    Stopwatch sw(Clock::wall);
    SyncReport r = d.sync();
    out.ms.push_back(sw.elapsed_ms());
    out.round_trips.push_back(r.round_trips);
    out.sent.push_back(r.bytes_sent);
    out.received.push_back(r.bytes_received);
  }
  return out;
}

struct ThroughputResult {
  int devices = 0;
  std::size_t transactions = 0;
  std::size_t ops = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // the whole process: devices and server share the machine
  int round_trips = 0;
};

// (b) `devices` devices, one thread each, each pushing a new case and `notes` notes (in local
// transactions of ten) at once; field operations the server applied per second of wall time.
ThroughputResult measure_throughput(InProcessServer& server, const std::filesystem::path& dir,
                                    int devices, int notes, const SecureBytes& key) {
  ThroughputResult out;
  out.devices = devices;
  std::vector<Device> ds;
  std::mt19937 rng(7);
  for (int i = 0; i < devices; ++i) {
    const std::string worker = check(
        server.admin().create_worker("W" + std::to_string(i), Role::social_worker, server.team()),
        "worker");
    ds.push_back(make_device(server, dir / ("tp-" + std::to_string(i) + ".db"), worker, false,
                             key));
    Device& d = ds.back();
    const std::string cs =
        check(d.records->create(RecordKind::child, "", child_fields(i)), "child");
    for (int n = 0; n < notes; n += 10) {
      check(d.records->write([&](RecordStore::Writer& w) -> Status {
        for (int k = n; k < std::min(notes, n + 10); ++k) {
          auto note = w.create(RecordKind::case_note, cs,
                               {{"contact_at", iso_ago(std::chrono::minutes(30))},
                                {"text", words(rng, 200)},
                                {"status", std::string("completed")}});
          if (!note.ok()) return note.status();
        }
        return {};
      }), "notes");
    }
    for (const auto& tx : check(d.records->outbox(1u << 20, 1u << 30), "outbox")) {
      ++out.transactions;
      out.ops += tx.ops.size();
    }
  }
  std::vector<SyncReport> reports(ds.size());
  std::vector<std::string> errors(ds.size());
  Stopwatch sw(Clock::wall);
  Stopwatch cpu(Clock::cpu);
  {
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < ds.size(); ++i) {
      threads.emplace_back([&, i] {
        try {
          reports[i] = ds[i].sync();
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  out.seconds = sw.elapsed_ms() / 1000.0;
  out.cpu_seconds = cpu.elapsed_ms() / 1000.0;
  for (std::size_t i = 0; i < ds.size(); ++i) {
    if (!errors[i].empty()) throw std::runtime_error("device " + std::to_string(i) + ": " +
                                                     errors[i]);
    out.round_trips += reports[i].round_trips;
  }
  return out;
}

struct BootstrapResult {
  int children = 0, years = 0;
  std::size_t records = 0;
  SyncReport report;
  double ms = 0;
  double cpu_ms = 0;  // the whole process: the device and the server
};

// (c) One device records `children` children with `years` years of history (a visit with three
// notes a fortnight per child, a fortnight per local transaction) and pushes it; then a new device
// for the same worker syncs from nothing: time and bytes.
BootstrapResult measure_bootstrap(InProcessServer& server, const std::filesystem::path& dir,
                                  int children, int years, const SecureBytes& key) {
  BootstrapResult out;
  out.children = children;
  out.years = years;
  const std::string worker = check(
      server.admin().create_worker("Caseload Worker", Role::social_worker, server.team()),
      "worker");
  Device old_device = make_device(server, dir / "history.db", worker, false, key);
  std::mt19937 rng(5);
  std::vector<std::string> cases;
  for (int c = 0; c < children; ++c) {
    cases.push_back(
        check(old_device.records->create(RecordKind::child, "", child_fields(c)), "child"));
  }
  out.records += cases.size();
  for (int day = 365 * years; day > 1; day -= 14) {
    check(old_device.records->write([&](RecordStore::Writer& w) -> Status {
      for (const auto& cs : cases) {
        const auto at = std::chrono::minutes(60 * 24 * day - 60 * 10);
        auto visit = w.create(RecordKind::visit, cs,
                              {{"visit_type", std::string("child_in_need")},
                               {"start_at", iso_ago(at)},
                               {"end_at", iso_ago(at - std::chrono::minutes(45))},
                               {"child_seen", true},
                               {"observations", words(rng, 400)}});
        if (!visit.ok()) return visit.status();
        for (int n = 0; n < 3; ++n) {
          auto note = w.create(RecordKind::case_note, cs,
                               {{"contact_at", iso_ago(at)},
                                {"text", words(rng, 300)},
                                {"status", std::string("completed")},
                                {"visit_id", *visit}});
          if (!note.ok()) return note.status();
        }
      }
      return {};
    }), "history");
    out.records += cases.size() * 4;
  }
  old_device.sync();
  Device fresh = make_device(server, dir / "fresh.db", worker, true, key);
  Stopwatch sw(Clock::wall);
  Stopwatch cpu(Clock::cpu);
  out.report = fresh.sync();
  out.ms = sw.elapsed_ms();
  out.cpu_ms = cpu.elapsed_ms();
  return out;
}

template <typename T>
double median_of(const std::vector<T>& v) {
  std::vector<double> d(v.begin(), v.end());
  return median(std::move(d));
}

}  // namespace

int run_sync_command(Args args) {
  bool quick = false, json = false;
  int reps = 15, devices = 100, notes = 200, years = 5;
  bool bootstrap = true;
  std::filesystem::path dir;
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--help" || args[i] == "-h") {
        std::cout << "usage: fieldcase-bench sync [--quick] [--json] [--reps N] [--devices N]\n"
                     "                           [--notes N] [--years N] [--no-bootstrap]\n"
                     "                           [--dir DIR]\n\n"
                     "Syncs over HTTP (gzip) on loopback to the sync server running in this\n"
                     "process on its SQLite store. day: a day's work from one device (8 visits,\n"
                     "25 notes, 2 assessments edited, 1 completed), on the encrypted and plain\n"
                     "device stores: round trips, bytes sent/received (gzip), raw request bytes\n"
                     "and median latency over N days. throughput: --devices devices (100), one\n"
                     "thread each, push a new case and --notes notes (200) at once: field\n"
                     "operations applied per second. bootstrap: a new (encrypted) device receives a\n"
                     "40-case caseload with --years (5) years of history: time and bytes.\n";
        return kExitOk;
      } else if (args[i] == "--quick") {
        quick = true;
      } else if (args[i] == "--json") {
        json = true;
      } else if (args[i] == "--reps" && i + 1 < args.size()) {
        reps = parse_positive(args[++i], "--reps");
      } else if (args[i] == "--devices" && i + 1 < args.size()) {
        devices = parse_positive(args[++i], "--devices");
      } else if (args[i] == "--notes" && i + 1 < args.size()) {
        notes = parse_positive(args[++i], "--notes");
      } else if (args[i] == "--years" && i + 1 < args.size()) {
        years = parse_positive(args[++i], "--years");
      } else if (args[i] == "--no-bootstrap") {
        bootstrap = false;
      } else if (args[i] == "--dir" && i + 1 < args.size()) {
        dir = std::string(args[++i]);
      } else {
        throw UsageError("unknown option '" + std::string(args[i]) + "'");
      }
    }
  } catch (const UsageError& e) {
    std::cerr << "fieldcase-bench sync: " << e.what()
              << "\nTry 'fieldcase-bench sync --help'.\n";
    return kExitUsage;
  }
  if (quick) {
    reps = std::min(reps, 3);
    devices = std::min(devices, 10);
    notes = std::min(notes, 50);
    years = 1;
  }
  try {
    if (!crypto_init().ok()) throw std::runtime_error("libsodium");
    ScratchDir scratch(dir, "fieldcase-bench-sync");
    auto key = check(SecureBytes::random(kKeySize), "key");
    InProcessServer server(scratch.path() / "server.db", server::HttpOptions{}.threads);

    nlohmann::json results = nlohmann::json::array();
    for (bool encrypted : {true, false}) {
      DayResult r = measure_day(server, scratch.path(), encrypted, reps, key);
      results.push_back({{"workload", "day"},
                         {"engine", r.engine},
                         {"reps", r.reps},
                         {"transactions", median_of(r.transactions)},
                         {"round_trips", median_of(r.round_trips)},
                         {"max_round_trips", *std::max_element(r.round_trips.begin(),
                                                               r.round_trips.end())},
                         {"bytes_sent", median_of(r.sent)},
                         {"bytes_received", median_of(r.received)},
                         {"raw_request_bytes", median_of(r.raw)},
                         {"median_ms", median(r.ms)},
                         {"max_ms", *std::max_element(r.ms.begin(), r.ms.end())}});
    }
    ThroughputResult tp = measure_throughput(server, scratch.path(), devices, notes, key);
    const double ops_per_s = static_cast<double>(tp.ops) / tp.seconds;
    results.push_back({{"workload", "throughput"},
                       {"devices", tp.devices},
                       {"transactions", tp.transactions},
                       {"field_ops", tp.ops},
                       {"round_trips", tp.round_trips},
                       {"seconds", tp.seconds},
                       {"cpu_seconds", tp.cpu_seconds},
                       {"field_ops_per_s", ops_per_s}});
    BootstrapResult bs;
    if (bootstrap) {
      bs = measure_bootstrap(server, scratch.path(), 40, years, key);
      results.push_back({{"workload", "bootstrap"},
                         {"children", bs.children},
                         {"years", bs.years},
                         {"records", bs.records},
                         {"changes_received", bs.report.changes_received},
                         {"round_trips", bs.report.round_trips},
                         {"bytes_sent", bs.report.bytes_sent},
                         {"bytes_received", bs.report.bytes_received},
                         {"ms", bs.ms},
                         {"cpu_ms", bs.cpu_ms}});
    }
    if (json) {
      std::cout << nlohmann::json{{"results", results}}.dump() << "\n";
    } else {
      std::cout << "day's work (8 visits, 25 notes, 3 assessment edits), one device, HTTP+gzip "
                   "on loopback\n"
                << "engine      txs  round trips  sent B  recv B  raw req B  median ms  max ms\n";
      for (const auto& r : results) {
        if (r["workload"] != "day") continue;
        auto whole = [&](const char* k) { return std::llround(r[k].get<double>()); };
        std::cout << std::left << std::setw(10) << r["engine"].get<std::string>() << std::right
                  << std::setw(5) << whole("transactions") << std::setw(13)
                  << whole("round_trips") << std::setw(8) << whole("bytes_sent") << std::setw(8)
                  << whole("bytes_received") << std::setw(11) << whole("raw_request_bytes")
                  << std::fixed << std::setprecision(2) << std::setw(11)
                  << r["median_ms"].get<double>() << std::setw(8) << r["max_ms"].get<double>()
                  << "\n";
      }
      std::cout << "(medians over " << reps << " days each)\n\n"
                << "throughput: " << tp.devices << " devices pushing at once, " << tp.transactions
                << " transactions, " << tp.ops << " field ops, " << tp.round_trips
                << " round trips in " << std::setprecision(2) << tp.seconds << " s ("
                << tp.cpu_seconds << " s CPU): " << std::setprecision(0) << ops_per_s
                << " field ops/s\n";
      if (bootstrap) {
        std::cout << "bootstrap: " << bs.children << " children, " << bs.years << " years, "
                  << bs.records << " records: " << bs.report.changes_received << " changes in "
                  << bs.report.round_trips << " round trips, " << bs.report.bytes_received
                  << " B received (gzip), " << std::setprecision(1) << bs.ms << " ms ("
                  << bs.cpu_ms << " ms CPU)\n";
      }
    }
    return kExitOk;
  } catch (const std::exception& e) {
    std::cerr << "fieldcase-bench sync: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace fieldcase::bench
