// fieldcase-bench sync: sync over HTTP (gzip) on loopback to fieldcase-server processes: one on
// SQLite, one on PostgreSQL, several on PostgreSQL behind nginx (tests/support/instances.hpp).
//
//   day:        a day's work from one device (8 visits, 25 notes, 2 assessments edited and one
//               completed) recorded on the device's RecordStore and synced by SyncEngine: round
//               trips, bytes on the wire (gzip) and raw (the encoded request), and latency.
//   throughput: many devices (one thread each) pushing field operations concurrently.
//   bootstrap:  a new device receiving a 40-case caseload with five years of history.
//   visibility: with several instances, a sync on one until another's dashboard long-poll sees it.
// Each workload also reports the CPU the server processes, PostgreSQL and nginx spent on it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <httplib.h>

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
#include "fieldcase/server/postgres_server_store.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/server/sync_service.hpp"
#include "fieldcase/sync_engine.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "instances.hpp"
#include "pg_cluster.hpp"
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

// Where the benchmark's server runs: `instances` fieldcase-server processes on a SQLite file or
// on a throw-away PostgreSQL cluster, behind nginx (the reference configuration for several
// instances) when there are several or when asked. The organisation is set up through a store
// and server::Admin opened in this process on the same database; devices talk HTTP to url().
struct DeploymentSpec {
  std::string store = "sqlite";  // sqlite | postgres
  std::size_t instances = 1;
  bool balancer = false;
  std::string name() const {
    return store + (instances > 1 ? " x" + std::to_string(instances) : "") +
           (balancer ? " nginx" : "");
  }
};

class Deployment {
 public:
  Deployment(const DeploymentSpec& spec, const std::filesystem::path& dir, int threads)
      : spec_(spec) {
    std::filesystem::create_directories(dir);
    std::string database;
    if (spec.store == "postgres") {
      pg_ = check(test::PgCluster::start(), "PostgreSQL cluster");
      check(pg_->create_database("fieldcase"), "create database");
      database = pg_->uri("fieldcase");
      server::PostgresOptions po;
      po.conninfo = database;
      auto pg_store = check(server::PostgresServerStore::open(po), "PostgreSQL store");
      store_ = std::move(pg_store);
    } else {
      database = (dir / "server.db").string();
      auto sqlite_store = check(server::SqliteServerStore::open(database), "server store");
      store_ = std::move(sqlite_store);
    }
    admin_ = std::make_unique<server::Admin>(*store_, system_clock());
    check(admin_->create_authority("City", "123").status(), "authority");
    auto area = check(admin_->create_area("North"), "area");
    team_ = check(admin_->create_team("Team 1", area), "team");
    test::InstancesOptions io;
    io.count = spec.instances;
    io.database = database;
    io.dir = dir;
    // Measures sync itself: simulated devices send back to back.
    io.extra_env = {"FIELDCASE_RATE_LIMIT_PER_MINUTE=0",
                    "FIELDCASE_THREADS=" + std::to_string(threads)};
    servers_ = check(test::ServerInstances::start(io), "server instances");
    if (spec.balancer || spec.instances > 1) {
      test::BalancerOptions bo;
      bo.dir = dir / "nginx";
      bo.upstream = servers_->ports();
      bo.connections_per_address = 1024;  // every simulated device comes from 127.0.0.1
      nginx_ = check(test::Balancer::start(bo), "nginx");
    }
  }
  ~Deployment() {
    if (nginx_) (void)nginx_->stop();
    if (servers_) (void)servers_->stop_all();
  }
  Deployment(const Deployment&) = delete;
  Deployment& operator=(const Deployment&) = delete;

  server::Admin& admin() { return *admin_; }
  server::ServerStore& store() { return *store_; }
  const std::string& team() const { return team_; }
  std::string url() const { return nginx_ ? nginx_->url() : servers_->url(0); }
  test::ServerInstances& servers() { return *servers_; }
  const DeploymentSpec& spec() const { return spec_; }

  // CPU seconds so far: the server processes, PostgreSQL's (postmaster and backends), nginx.
  struct Cpu {
    double server = 0, database = 0, balancer = 0;
    Cpu operator-(const Cpu& o) const {
      return {server - o.server, database - o.database, balancer - o.balancer};
    }
    Cpu& operator+=(const Cpu& o) {
      server += o.server;
      database += o.database;
      balancer += o.balancer;
      return *this;
    }
  };
  Cpu cpu() const {
    Cpu c;
    c.server = check(servers_->cpu_seconds(), "server CPU");
    if (pg_) c.database = check(test::process_tree_cpu_seconds(pg_->postmaster_pid()), "PG CPU");
    if (nginx_) c.balancer = check(test::process_cpu_seconds(nginx_->pid()), "nginx CPU");
    return c;
  }

 private:
  DeploymentSpec spec_;
  std::unique_ptr<test::PgCluster> pg_;
  std::unique_ptr<server::ServerStore> store_;
  std::unique_ptr<server::Admin> admin_;
  std::string team_;
  std::unique_ptr<test::ServerInstances> servers_;
  std::unique_ptr<test::Balancer> nginx_;
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

Device make_device(Deployment& server, const std::filesystem::path& db,
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
  std::size_t ops = 0;   // field operations of the timed syncs
  Deployment::Cpu cpu;   // over the timed syncs
};

// (a) One device, `reps` days, each a fresh day's work synced once.
DayResult measure_day(Deployment& server, const std::filesystem::path& dir, bool encrypted,
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
    for (const auto& tx : check(d.records->outbox(1u << 20, 1u << 30), "outbox")) {
      out.ops += tx.ops.size();
    }
    const auto cpu_before = server.cpu();
    Stopwatch sw(Clock::wall);
    SyncReport r = d.sync();
    out.ms.push_back(sw.elapsed_ms());
    out.cpu += server.cpu() - cpu_before;
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
  double cpu_seconds = 0;  // this process: the devices
  Deployment::Cpu server_cpu;
  int round_trips = 0;
};

// (b) `devices` devices, one thread each, each pushing a new case and `notes` notes (in local
// transactions of ten) at once; field operations the server applied per second of wall time.
ThroughputResult measure_throughput(Deployment& server, const std::filesystem::path& dir,
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
  const auto server_before = server.cpu();
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
  out.server_cpu = server.cpu() - server_before;
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
  double cpu_ms = 0;  // this process: the device
  Deployment::Cpu server_cpu;
};

// (c) One device records `children` children with `years` years of history (a visit with three
// notes a fortnight per child, a fortnight per local transaction) and pushes it; then a new device
// for the same worker syncs from nothing: time and bytes.
BootstrapResult measure_bootstrap(Deployment& server, const std::filesystem::path& dir,
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
  const auto server_before = server.cpu();
  Stopwatch sw(Clock::wall);
  Stopwatch cpu(Clock::cpu);
  out.report = fresh.sync();
  out.ms = sw.elapsed_ms();
  out.cpu_ms = cpu.elapsed_ms();
  out.server_cpu = server.cpu() - server_before;
  return out;
}

// (d) With several instances: a team manager's dashboard long-poll (GET /v1/figures/changes)
// held on instance 0 while a device of the team syncs a new child with a visit and an
// assessment to instance 1; the time from sending the sync to the long-poll's answer that the
// figures changed (an upper bound of the delay after the commit: it includes the sync's round
// trip). A probe whose poll answers "unchanged" (10 s) is a miss; one whose poll answers
// before the sync was sent saw some other change, not this sync, and counts as early (a
// benchmark with early probes has measured nothing about visibility).
struct VisibilityResult {
  std::vector<double> ms;
  int missed = 0;
  int early = 0;
};

VisibilityResult measure_visibility(Deployment& server, const std::filesystem::path& dir,
                                    int probes, const SecureBytes& key) {
  VisibilityResult out;
  const std::string password = "a long enough benchmark password";
  const std::string manager = check(
      server.admin().create_worker("Manager", Role::team_manager, server.team()), "manager");
  check(server.admin().set_password(manager, password, server::AccessOptions{}), "password");
  const std::string worker = check(
      server.admin().create_worker("Probe Worker", Role::social_worker, server.team()), "worker");
  Device d = make_device(server, dir / "probe.db", worker, false, key);
  platform::HttpTransportOptions to;
  to.base_url = server.servers().url(1);
  d.transport = std::make_unique<platform::HttpTransport>(to);
  httplib::Client a("127.0.0.1", server.servers().port(0));
  a.set_read_timeout(15, 0);
  auto signed_in = a.Post("/v1/session",
                          nlohmann::json{{"worker_id", manager}, {"password", password}}.dump(),
                          "application/json");
  if (!signed_in || signed_in->status != 200) throw std::runtime_error("manager sign-in");
  const std::string set_cookie = signed_in->get_header_value("Set-Cookie");
  const httplib::Headers headers{{"Cookie", set_cookie.substr(0, set_cookie.find(';'))}};
  auto version_now = [&]() -> std::uint64_t {
    auto r = a.Get("/v1/figures/changes", headers);
    if (!r || r->status != 200) throw std::runtime_error("figures changes");
    return nlohmann::json::parse(r->body)["version"].get<std::uint64_t>();
  };
  std::mt19937 rng(11);
  for (int p = 0; p < probes; ++p) {
    const std::uint64_t since = version_now();
    std::atomic<bool> changed{false};
    std::chrono::steady_clock::time_point answered{};
    std::thread poll([&] {
      httplib::Client held("127.0.0.1", server.servers().port(0));
      held.set_read_timeout(15, 0);
      auto r = held.Get("/v1/figures/changes?since=" + std::to_string(since) + "&timeout=10",
                        headers);
      answered = std::chrono::steady_clock::now();
      changed = r && r->status == 200 && nlohmann::json::parse(r->body)["changed"].get<bool>();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 100));
    check(d.records->write([&](RecordStore::Writer& w) -> Status {
      auto child = w.create(RecordKind::child, "", child_fields(10000 + p));
      if (!child.ok()) return child.status();
      auto visit = w.create(RecordKind::visit, *child,
                            {{"visit_type", std::string("child_in_need")},
                             {"start_at", iso_ago(std::chrono::minutes(90))},
                             {"end_at", iso_ago(std::chrono::minutes(45))},
                             {"child_seen", true},
                             {"observations", words(rng, 200)}});
      if (!visit.ok()) return visit.status();
      return w.create(RecordKind::assessment, *child,
                      {{"assessment_kind", std::string("single")},
                       {"start_date", iso_ago(std::chrono::hours(24 * 3)).substr(0, 10)},
                       {"status", std::string("in_progress")}})
          .status();
    }), "probe records");
    const auto sent = std::chrono::steady_clock::now();
    d.sync();
    poll.join();
    if (!changed) {
      ++out.missed;
      continue;
    }
    if (answered < sent) {
      ++out.early;
      continue;
    }
    out.ms.push_back(std::chrono::duration<double, std::milli>(answered - sent).count());
  }
  return out;
}

template <typename T>
double median_of(const std::vector<T>& v) {
  std::vector<double> d(v.begin(), v.end());
  return median(std::move(d));
}

// Microseconds of CPU per field operation.
double us_per_op(double seconds, std::size_t ops) {
  return ops == 0 ? 0.0 : seconds * 1e6 / static_cast<double>(ops);
}

nlohmann::json cpu_json(const Deployment::Cpu& c, std::size_t ops) {
  return {{"server_cpu_s", c.server},
          {"database_cpu_s", c.database},
          {"balancer_cpu_s", c.balancer},
          {"server_us_per_op", us_per_op(c.server, ops)},
          {"database_us_per_op", us_per_op(c.database, ops)},
          {"balancer_us_per_op", us_per_op(c.balancer, ops)}};
}

// Runs every workload on one deployment; appends its results.
void run_deployment(const DeploymentSpec& spec, const std::filesystem::path& dir, int reps,
                    int devices, int notes, int years, bool bootstrap, int probes,
                    const SecureBytes& key, nlohmann::json& results) {
  Deployment server(spec, dir, server::HttpOptions{}.threads);
  const std::string name = spec.name();
  for (bool encrypted : {true, false}) {
    DayResult r = measure_day(server, dir, encrypted, reps, key);
    nlohmann::json j{{"deployment", name},
                     {"workload", "day"},
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
                     {"max_ms", *std::max_element(r.ms.begin(), r.ms.end())},
                     {"field_ops", r.ops}};
    j.update(cpu_json(r.cpu, r.ops));
    results.push_back(j);
  }
  ThroughputResult tp = measure_throughput(server, dir, devices, notes, key);
  nlohmann::json t{{"deployment", name},
                   {"workload", "throughput"},
                   {"devices", tp.devices},
                   {"transactions", tp.transactions},
                   {"field_ops", tp.ops},
                   {"round_trips", tp.round_trips},
                   {"seconds", tp.seconds},
                   {"device_cpu_s", tp.cpu_seconds},
                   {"field_ops_per_s", static_cast<double>(tp.ops) / tp.seconds}};
  t.update(cpu_json(tp.server_cpu, tp.ops));
  results.push_back(t);
  if (bootstrap) {
    BootstrapResult bs = measure_bootstrap(server, dir, 40, years, key);
    nlohmann::json b{{"deployment", name},
                     {"workload", "bootstrap"},
                     {"children", bs.children},
                     {"years", bs.years},
                     {"records", bs.records},
                     {"changes_received", bs.report.changes_received},
                     {"round_trips", bs.report.round_trips},
                     {"bytes_sent", bs.report.bytes_sent},
                     {"bytes_received", bs.report.bytes_received},
                     {"ms", bs.ms},
                     {"device_cpu_ms", bs.cpu_ms}};
    b.update(cpu_json(bs.server_cpu, bs.report.changes_received));
    results.push_back(b);
  }
  if (spec.instances > 1 && probes > 0) {
    VisibilityResult v = measure_visibility(server, dir, probes, key);
    std::vector<double> sorted = v.ms;
    std::sort(sorted.begin(), sorted.end());
    auto at = [&](double q) {
      return sorted.empty() ? -1.0
                            : sorted[std::min(sorted.size() - 1,
                                              static_cast<std::size_t>(q * static_cast<double>(sorted.size())))];
    };
    results.push_back({{"deployment", name},
                       {"workload", "visibility"},
                       {"probes", probes},
                       {"missed", v.missed},
                       {"early", v.early},
                       {"median_ms", at(0.5)},
                       {"p99_ms", at(0.99)},
                       {"max_ms", sorted.empty() ? -1.0 : sorted.back()}});
  }
}

void print_text(const nlohmann::json& results) {
  auto num = [](const nlohmann::json& j, const char* k) { return j[k].get<double>(); };
  std::cout << std::fixed;
  for (const auto& r : results) {
    const std::string dep = r["deployment"].get<std::string>();
    const std::string w = r["workload"].get<std::string>();
    std::cout << std::left << std::setw(20) << dep << std::setw(11) << w << std::right;
    if (w == "day") {
      std::cout << r["engine"].get<std::string>() << ": " << std::setprecision(0)
                << num(r, "transactions") << " txs, " << num(r, "round_trips")
                << " round trips, " << num(r, "bytes_sent") << " B sent, "
                << num(r, "raw_request_bytes") << " B raw; median " << std::setprecision(2)
                << num(r, "median_ms") << " ms, max " << num(r, "max_ms") << " ms";
    } else if (w == "throughput") {
      std::cout << r["devices"].get<int>() << " devices, " << r["field_ops"].get<std::size_t>()
                << " field ops in " << std::setprecision(2) << num(r, "seconds") << " s: "
                << std::setprecision(0) << num(r, "field_ops_per_s") << " field ops/s";
    } else if (w == "bootstrap") {
      std::cout << r["records"].get<std::size_t>() << " records, "
                << r["changes_received"].get<std::size_t>() << " changes in "
                << r["round_trips"].get<int>() << " round trips: " << std::setprecision(1)
                << num(r, "ms") << " ms";
    } else {
      std::cout << r["probes"].get<int>() << " probes, " << r["missed"].get<int>()
                << " missed, " << r["early"].get<int>() << " early (saw another change); median " << std::setprecision(1) << num(r, "median_ms")
                << " ms, p99 " << num(r, "p99_ms") << " ms, max " << num(r, "max_ms") << " ms\n";
      continue;
    }
    std::cout << "; server " << std::setprecision(1) << num(r, "server_us_per_op")
              << " us/op, PostgreSQL " << num(r, "database_us_per_op") << " us/op, nginx "
              << num(r, "balancer_us_per_op") << " us/op\n";
  }
}

}  // namespace

int run_sync_command(Args args) {
  bool quick = false, json = false;
  int reps = 15, devices = 100, notes = 200, years = 5, probes = 100;
  std::size_t instances = 3;
  bool bootstrap = true;
  std::string store = "sqlite";
  std::filesystem::path dir;
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--help" || args[i] == "-h") {
        std::cout << "usage: fieldcase-bench sync [--store sqlite|postgres|all] [--instances N]\n"
                     "                           [--quick] [--json] [--reps N] [--devices N]\n"
                     "                           [--notes N] [--years N] [--probes N]\n"
                     "                           [--no-bootstrap] [--dir DIR]\n\n"
                     "Syncs over HTTP (gzip) on loopback to fieldcase-server processes of this\n"
                     "build. --store sqlite: one instance on a SQLite file; postgres: one\n"
                     "instance on a throw-away PostgreSQL cluster, then --instances (3) behind\n"
                     "nginx (docs/deploy/nginx/fieldcase-instances.conf) on it; all: both.\n"
                     "day: a day's work from one device (8 visits, 25 notes, 2 assessments\n"
                     "edited, 1 completed), on the encrypted and plain device stores: round\n"
                     "trips, bytes, median latency over --reps days. throughput: --devices\n"
                     "devices (100), one thread each, push a new case and --notes notes (200)\n"
                     "at once: field operations applied per second. bootstrap: a new device\n"
                     "receives a 40-case caseload with --years (5) of history. visibility (with\n"
                     "several instances): --probes (100) syncs to one instance, each timed until\n"
                     "a dashboard long-poll held on another sees the figures change. Each\n"
                     "workload reports the server processes' CPU per field operation (per change\n"
                     "received for bootstrap), PostgreSQL's (postmaster and backends) and\n"
                     "nginx's, from the kernel's counts (/proc/PID/stat).\n";
        return kExitOk;
      } else if (args[i] == "--quick") {
        quick = true;
      } else if (args[i] == "--json") {
        json = true;
      } else if (args[i] == "--store" && i + 1 < args.size()) {
        store = std::string(args[++i]);
        if (store != "sqlite" && store != "postgres" && store != "all") {
          throw UsageError("--store is sqlite, postgres or all");
        }
      } else if (args[i] == "--instances" && i + 1 < args.size()) {
        instances = static_cast<std::size_t>(parse_positive(args[++i], "--instances"));
      } else if (args[i] == "--reps" && i + 1 < args.size()) {
        reps = parse_positive(args[++i], "--reps");
      } else if (args[i] == "--devices" && i + 1 < args.size()) {
        devices = parse_positive(args[++i], "--devices");
      } else if (args[i] == "--notes" && i + 1 < args.size()) {
        notes = parse_positive(args[++i], "--notes");
      } else if (args[i] == "--years" && i + 1 < args.size()) {
        years = parse_positive(args[++i], "--years");
      } else if (args[i] == "--probes" && i + 1 < args.size()) {
        probes = parse_positive(args[++i], "--probes");
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
    probes = std::min(probes, 10);
  }
  std::vector<DeploymentSpec> specs;
  if (store == "sqlite" || store == "all") specs.push_back({"sqlite", 1, false});
  if (store == "postgres" || store == "all") {
    specs.push_back({"postgres", 1, false});
    if (instances > 1) specs.push_back({"postgres", instances, true});
  }
  try {
    if (!crypto_init().ok()) throw std::runtime_error("libsodium");
    ScratchDir scratch(dir, "fieldcase-bench-sync");
    auto key = check(SecureBytes::random(kKeySize), "key");
    nlohmann::json results = nlohmann::json::array();
    for (std::size_t k = 0; k < specs.size(); ++k) {
      run_deployment(specs[k], scratch.path() / ("deployment-" + std::to_string(k)), reps,
                     devices, notes, years, bootstrap, probes, key, results);
      if (!json) {
        print_text(nlohmann::json(std::vector<nlohmann::json>(
            results.end() - static_cast<std::ptrdiff_t>(
                                std::count_if(results.begin(), results.end(),
                                              [&](const nlohmann::json& r) {
                                                return r["deployment"] == specs[k].name();
                                              })),
            results.end())));
      }
    }
    if (json) std::cout << nlohmann::json{{"results", results}}.dump() << "\n";
    return kExitOk;
  } catch (const std::exception& e) {
    std::cerr << "fieldcase-bench sync: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace fieldcase::bench
