// Several fieldcase-server processes on one database behind nginx (tests/support/instances.hpp,
// docs/deploy/nginx/fieldcase-instances.conf), with devices (Store + RecordStore + SyncEngine
// over HTTP) syncing through nginx while instances are SIGKILLed and restarted at random:
// every transaction a device had acknowledged is on the server exactly once, and the devices
// of one worker converge to the server's records. On PostgreSQL ([multi][pg], CTest pg.multi)
// also: a dashboard long-poll held on one instance sees a sync applied on another within 1 s;
// a rate limit of N a minute admits N in all; the database stopped in the middle of syncing
// gives devices retryable answers, loses nothing, and they carry on when it is back.
#include <catch2/catch.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fieldcase/ids.hpp"
#include "fieldcase/platform/http_transport.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/record_store.hpp"
#include "fieldcase/server/open_store.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/store.hpp"
#include "fieldcase/sync_engine.hpp"
#include "instances.hpp"
#include "pg_cluster.hpp"
#include "test_store.hpp"
#include "web_sign_in.hpp"
#include "temp_dir.hpp"

using namespace fieldcase;
using namespace fieldcase::test;
using namespace std::chrono_literals;

namespace {

template <typename T>
T need(Result<T> r, const char* what) {
  INFO(what << ": " << r.status().message());
  REQUIRE(r.ok());
  return std::move(r.value());
}
void need(const Status& s, const char* what) {
  INFO(what << ": " << s.message());
  REQUIRE(s.ok());
}

// The database the instances share: a SQLite file in `dir`, or a database on a throw-away
// PostgreSQL cluster, migrated.
struct SharedDatabase {
  TempDir dir;
  std::unique_ptr<PgCluster> pg;  // null: SQLite
  std::string database;

  SharedDatabase() : database((dir / "server.db").string()) {}

  // Null (after a warning) where PostgreSQL is not installed and not required.
  static std::unique_ptr<SharedDatabase> postgres() {
    if (!PgCluster::available()) {
      if (pg_required()) FAIL("PostgreSQL is required (FIELDCASE_REQUIRE_PG=1) but not installed");
      WARN("no PostgreSQL binaries: skipped");
      return nullptr;
    }
    auto db = std::make_unique<SharedDatabase>();
    db->pg = need(PgCluster::start(), "PostgreSQL starts");
    need(db->pg->create_database("fc"), "create the database");
    db->database = db->pg->uri("fc");
    need(server::migrate_server_store({db->database, 2}), "migrate");
    return db;
  }

  std::int64_t scalar(const std::string& sql) {
    if (pg) {
      auto rows = need(pg->query("fc", sql), "query");
      REQUIRE(rows.size() == 1);
      return std::stoll(rows[0].at(0));
    }
    auto store = need(server::SqliteServerStore::open(database), "open the shared database");
    auto st = need(store->store().prepare(sql), "prepare");
    REQUIRE(need(st.step(), "step"));
    return st.column_int(0);
  }
};

// An organisation: one authority, one team, `workers` social workers.
std::vector<std::string> make_organisation(ServerInstances& servers, int workers) {
  need(servers.admin({"authority", "create", "--name", "City", "--la-code", "123"}), "authority");
  const std::string area = need(servers.admin({"area", "create", "--name", "North"}), "area");
  const std::string team =
      need(servers.admin({"team", "create", "--name", "A", "--area", area}), "team");
  std::vector<std::string> out;
  for (int i = 0; i < workers; ++i) {
    out.push_back(need(servers.admin({"worker", "create", "--name", "W" + std::to_string(i),
                                      "--role", "social_worker", "--team", team}),
                       "worker"));
  }
  return out;
}

// A device of `worker` syncing through `url`.
struct Device {
  std::string worker, device_id, token;
  std::unique_ptr<Store> store;
  std::unique_ptr<RecordStore> records;
  std::unique_ptr<platform::HttpTransport> transport;

  Device(ServerInstances& servers, const TempDir& dir, const std::string& name,
         const std::string& worker_id, const std::string& url)
      : worker(worker_id) {
    const std::string issued = need(servers.admin({"device", "issue", "--worker", worker}), "device");
    device_id = issued.substr(0, issued.find(' '));
    token = issued.substr(issued.find(' ') + 1);
    StoreOptions so;
    so.path = dir / (name + ".db");
    store = need(Store::open_plain(so), "device store");
    records = need(RecordStore::open(*store, Identity{worker, device_id, Role::social_worker},
                                     SystemClock::instance(), Timescales()),
                   "record store");
    platform::HttpTransportOptions to;
    to.base_url = url;
    to.read_timeout = std::chrono::seconds(20);
    transport = std::make_unique<platform::HttpTransport>(to);
  }

  // One engine run with short waits between attempts.
  Result<SyncReport> sync() {
    SyncOptions o;
    o.first_backoff = 100ms;
    o.max_attempts = 8;
    SyncEngine engine(*records, *transport, token, o);
    return engine.run();
  }
};

// The records a device holds: id -> every field as JSON text.
std::map<std::string, std::string> holdings(RecordStore& records) {
  std::map<std::string, std::string> out;
  for (RecordKind kind : {RecordKind::child, RecordKind::case_note}) {
    for (const auto& r : need(records.list(kind), "list")) {
      std::string fields;
      for (const auto& [name, value] : r.fields) fields += name + "=" + value_to_json(value) + ";";
      out[r.id] = fields;
    }
  }
  return out;
}

// Instances down at random: SIGKILL one, bring it back a moment later; at times two are down.
// Returns how many were killed.
int kill_at_random(ServerInstances& servers, std::chrono::seconds for_how_long) {
  std::mt19937 rng(2026);
  int kills = 0;
  const auto until = std::chrono::steady_clock::now() + for_how_long;
  while (std::chrono::steady_clock::now() < until) {
    const std::size_t victim = rng() % servers.size();
    servers.kill(victim);
    ++kills;
    if (rng() % 3 == 0) {
      const std::size_t second = (victim + 1) % servers.size();
      servers.kill(second);
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 400));
      need(servers.restart(second), "restart");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 600));
    need(servers.restart(victim), "restart");
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
  }
  return kills;
}

// Four devices (two per worker) write and sync through nginx in a loop while `disrupt` runs;
// then every device syncs until nothing waits, and every acknowledged transaction must be on
// the server exactly once, accepted, and the devices of a worker hold the same records.
void devices_converge(SharedDatabase& db,
                      const std::function<void(ServerInstances&, const Device&)>& disrupt,
                      int min_syncs = 20) {
  InstancesOptions io;
  io.count = 3;
  io.database = db.database;
  io.dir = db.dir.path();
  io.extra_env = {"FIELDCASE_RATE_LIMIT_PER_MINUTE=0"};
  // The organisation first, then the instances on it.
  auto servers = need(ServerInstances::start(io), "instances");
  const auto workers = make_organisation(*servers, 2);
  BalancerOptions bo;
  bo.dir = db.dir / "nginx";
  bo.upstream = servers->ports();
  auto nginx = need(Balancer::start(bo), "nginx");

  // Two devices per worker: each pair shares a caseload, so their records cross instances.
  std::vector<std::unique_ptr<Device>> devices;
  for (std::size_t i = 0; i < 4; ++i) {
    devices.push_back(std::make_unique<Device>(*servers, db.dir, "d" + std::to_string(i),
                                               workers[i / 2], nginx->url()));
  }
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::set<std::string> acknowledged;  // transactions of answers the devices received
  std::vector<std::string> failures;
  std::atomic<int> syncs_ok{0}, syncs_failed{0};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    threads.emplace_back([&, i] {
      Device& d = *devices[i];
      std::mt19937 rng(static_cast<unsigned>(i) + 1);
      std::string child;
      for (int round = 0; !stop.load(); ++round) {
        Status st = d.records->write([&](RecordStore::Writer& w) -> Status {
          if (child.empty()) {
            auto c = w.create(RecordKind::child, "",
                              {{"local_id", "C" + std::to_string(i)},
                               {"first_name", std::string("Alex")},
                               {"last_name", "D" + std::to_string(i)},
                               {"gender", std::string("1")},
                               {"date_of_birth", std::string("2015-03-02")}});
            if (!c.ok()) return c.status();
            child = *c;
          }
          for (int n = 0; n < 3; ++n) {
            auto note = w.create(
                RecordKind::case_note, child,
                {{"contact_at", format_iso_datetime(std::chrono::system_clock::now() - 1h)},
                 {"text", "round " + std::to_string(round) + " note " + std::to_string(n)},
                 {"status", std::string("completed")}});
            if (!note.ok()) return note.status();
          }
          return {};
        });
        if (!st.ok()) {
          std::lock_guard lock(mu);
          failures.push_back("device write: " + st.message());
          return;
        }
        auto outbox = d.records->outbox(1u << 20, 1u << 30);
        auto report = d.sync();
        if (report.ok()) {
          ++syncs_ok;
          std::lock_guard lock(mu);
          if (report->rejected != 0) {
            failures.push_back("rejected: " + report->rejections.front().reason);
          }
          // Whatever was in the outbox before a successful run has been acknowledged.
          if (outbox.ok()) {
            for (const auto& tx : *outbox) acknowledged.insert(tx.tx_id);
          }
        } else {
          // Every attempt met dead instances or no database: the work waits in the outbox, and
          // the engine must have been told to retry (never a refusal of the request).
          ++syncs_failed;
          if (report.code() != Errc::io) {
            std::lock_guard lock(mu);
            failures.push_back("not retryable: " + report.status().to_string());
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 150));
      }
    });
  }
  disrupt(*servers, *devices.front());
  stop.store(true);
  for (auto& t : threads) t.join();
  INFO(Catch::Detail::stringify(failures));
  REQUIRE(failures.empty());
  INFO(syncs_ok.load() << " syncs succeeded, " << syncs_failed.load() << " gave up");
  CHECK(syncs_ok.load() > min_syncs);

  // Quiescence: every instance up; each device syncs until nothing is waiting, twice over so
  // each has the other's last changes.
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& d : devices) {
      auto r = d->sync();
      INFO(r.status().message());
      REQUIRE(r.ok());
      CHECK(r->rejected == 0);
      CHECK(need(d->records->pending_transactions(), "pending") == 0);
    }
  }
  // Every acknowledged transaction is on the server exactly once, accepted, and no operation
  // was applied twice.
  const auto accepted = db.scalar("SELECT count(*) FROM sync_transaction WHERE outcome = 'accepted'");
  CHECK(static_cast<std::size_t>(accepted) >= acknowledged.size());
  std::size_t missing = 0;
  for (const auto& tx : acknowledged) {
    if (db.scalar("SELECT count(*) FROM sync_transaction WHERE tx_id = '" + tx + "'") != 1) {
      ++missing;
    }
  }
  CHECK(missing == 0);
  CHECK(db.scalar("SELECT count(*) FROM (SELECT op_id FROM change_log WHERE op_id <> '' "
                  "GROUP BY op_id HAVING count(*) > 1) AS twice") == 0);
  CHECK(db.scalar("SELECT count(*) FROM change_log WHERE op_id <> ''") ==
        db.scalar("SELECT count(*) FROM applied_op"));
  // The two devices of each worker hold the same records, field for field, and the server
  // has every one of them.
  for (std::size_t w = 0; w < 2; ++w) {
    const auto a = holdings(*devices[2 * w]->records);
    const auto b = holdings(*devices[2 * w + 1]->records);
    CHECK(a.size() > 10);
    CHECK(a == b);
    for (const auto& [id, fields] : a) {
      CHECK(db.scalar("SELECT count(*) FROM record WHERE id = '" + id + "'") == 1);
    }
  }
  need(nginx->stop(), "nginx stops");
  need(servers->stop_all(), "instances stop");
}

// A POST /v1/sync with no transactions from `token` straight to one instance.
httplib::Result post_empty_sync(const std::string& url, const std::string& token) {
  httplib::Client cli(url);
  cli.set_read_timeout(20, 0);
  sync::SyncRequest request;
  request.device_time = format_iso_datetime(std::chrono::system_clock::now());
  return cli.Post("/v1/sync", {{"Authorization", "Bearer " + token}}, sync::encode(request),
                  "application/json");
}

}  // namespace

TEST_CASE("multi: devices sync through nginx while instances are killed and restarted",
          "[multi]") {
  SharedDatabase db;
  int kills = 0;
  devices_converge(db, [&](ServerInstances& servers, const Device&) {
    kills = kill_at_random(servers, 12s);
  });
  CHECK(kills >= 6);
}

TEST_CASE("multi: on PostgreSQL, devices sync through nginx while instances are killed and "
          "restarted",
          "[multi][pg]") {
  auto db = SharedDatabase::postgres();
  if (!db) return;
  int kills = 0;
  devices_converge(*db, [&](ServerInstances& servers, const Device&) {
    kills = kill_at_random(servers, 12s);
  });
  CHECK(kills >= 6);
}

TEST_CASE("multi: PostgreSQL stopped in the middle of syncing: retryable answers, nothing lost",
          "[multi][pg]") {
  auto db = SharedDatabase::postgres();
  if (!db) return;
  auto status_of = [](const std::string& url, const char* path) {
    httplib::Client cli(url);
    cli.set_read_timeout(10, 0);
    auto res = cli.Get(path);
    return res ? res->status : -1;
  };
  devices_converge(
      *db,
      [&](ServerInstances& servers, const Device& probe) {
        std::this_thread::sleep_for(2s);
        need(db->pg->stop_fast(), "PostgreSQL stops");
        // Straight to each instance: a sync is answered 503 with Retry-After (the devices'
        // engines wait and retry); readiness follows the database, liveness does not.
        for (std::size_t i = 0; i < servers.size(); ++i) {
          auto res = post_empty_sync(servers.url(i), probe.token);
          REQUIRE(res);
          INFO(res->body);
          CHECK(res->status == 503);
          CHECK_FALSE(res->get_header_value("Retry-After").empty());
          auto error = sync::decode_error(res->body);
          REQUIRE(error.ok());
          CHECK((error->code == "unavailable" || error->code == "busy"));
          CHECK(status_of(servers.url(i), "/v1/ready") == 503);
          CHECK(status_of(servers.url(i), "/v1/health") == 200);
        }
        std::this_thread::sleep_for(2s);
        need(db->pg->restart(), "PostgreSQL starts again");
        // Every instance is ready again without a restart of its own.
        for (std::size_t i = 0; i < servers.size(); ++i) {
          bool ready = false;
          for (int k = 0; k < 50 && !ready; ++k) {
            ready = status_of(servers.url(i), "/v1/ready") == 200;
            if (!ready) std::this_thread::sleep_for(100ms);
          }
          CHECK(ready);
          CHECK(servers.up(i));
        }
        std::this_thread::sleep_for(3s);
      },
      10);
}

TEST_CASE("multi: a dashboard long-poll on one instance sees a sync on another within 1 s",
          "[multi][pg]") {
  auto db = SharedDatabase::postgres();
  if (!db) return;
  const std::string password = "correct horse battery staple";
  InstancesOptions io;
  io.count = 3;
  io.database = db->database;
  io.dir = db->dir.path();
  io.extra_env = {"FIELDCASE_PASSWORD=" + password};
  auto servers = need(ServerInstances::start(io), "instances");
  const auto workers = make_organisation(*servers, 1);
  const std::string team =
      need(db->pg->query("fc", "SELECT team_id FROM worker LIMIT 1"), "team").at(0).at(0);
  const std::string manager = need(servers->admin({"worker", "create", "--name", "M", "--role",
                                                   "team_manager", "--team", team}),
                                   "manager");
  need(servers->admin({"worker", "set-password", "--worker", manager}), "password");

  httplib::Client a(servers->url(0));
  a.set_read_timeout(30, 0);
  const WebUser web = web_sign_in(a, manager, password);
  auto version_on = [&](httplib::Client& cli, const std::string& query) {
    auto res = cli.Get("/v1/figures/changes" + query, web.headers());
    REQUIRE(res);
    INFO(res->body);
    REQUIRE(res->status == 200);
    return nlohmann::json::parse(res->body);
  };
  const auto before = version_on(a, "")["version"].get<std::uint64_t>();
  // Every instance answers the same version: it is the database's.
  for (std::size_t i = 1; i < servers->size(); ++i) {
    httplib::Client other(servers->url(i));
    CHECK(version_on(other, "")["version"].get<std::uint64_t>() == before);
  }

  // A page on instance A waits; a device syncs through instance B.
  std::atomic<std::int64_t> seen_at_ms{0};
  nlohmann::json answer;
  std::thread page([&] {
    answer = version_on(a, "?since=" + std::to_string(before) + "&timeout=20");
    seen_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now().time_since_epoch())
                     .count();
  });
  std::this_thread::sleep_for(1s);
  CHECK(seen_at_ms.load() == 0);  // still waiting: nothing changed yet
  Device device(*servers, db->dir, "d0", workers[0], servers->url(1));
  need(device.records->write([&](RecordStore::Writer& w) -> Status {
         auto c = w.create(RecordKind::child, "",
                           {{"local_id", std::string("C0")},
                            {"first_name", std::string("Alex")},
                            {"last_name", std::string("D")},
                            {"gender", std::string("1")},
                            {"date_of_birth", std::string("2015-03-02")}});
         return c.status();
       }),
       "write");
  auto report = need(device.sync(), "sync through instance B");
  const auto synced_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  CHECK(report.accepted == 1);
  page.join();
  CHECK(answer["changed"].get<bool>());
  const auto after = answer["version"].get<std::uint64_t>();
  CHECK(after != before);
  CHECK(seen_at_ms.load() - synced_ms < 1000);
  // A long-poll that the balancer sends to instance C with the version from A: current there.
  httplib::Client c(servers->url(2));
  c.set_read_timeout(30, 0);
  const auto started = std::chrono::steady_clock::now();
  const auto on_c = version_on(c, "?since=" + std::to_string(after) + "&timeout=1");
  CHECK_FALSE(on_c["changed"].get<bool>());
  CHECK(on_c["version"].get<std::uint64_t>() == after);
  CHECK(std::chrono::steady_clock::now() - started >= 900ms);  // it waited: nothing new
  need(servers->stop_all(), "instances stop");
}

TEST_CASE("multi: a rate limit of N a minute admits N in all across the instances",
          "[multi][pg]") {
  auto db = SharedDatabase::postgres();
  if (!db) return;
  constexpr int kLimit = 12;
  InstancesOptions io;
  io.count = 3;
  io.database = db->database;
  io.dir = db->dir.path();
  io.extra_env = {"FIELDCASE_RATE_LIMIT_PER_MINUTE=" + std::to_string(kLimit),
                  "FIELDCASE_RATE_LIMIT_BURST=1000"};
  auto servers = need(ServerInstances::start(io), "instances");
  const auto workers = make_organisation(*servers, 1);
  const std::string issued = need(servers->admin({"device", "issue", "--worker", workers[0]}),
                                  "device");
  const std::string token = issued.substr(issued.find(' ') + 1);
  const std::string other_issued =
      need(servers->admin({"device", "issue", "--worker", workers[0]}), "device");
  const std::string other_token = other_issued.substr(other_issued.find(' ') + 1);
  // The limit is per clock minute: start early in one, so the requests all fall in it.
  const auto in_minute = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count() %
                         60'000;
  if (in_minute > 40'000) std::this_thread::sleep_for(std::chrono::milliseconds(60'100 - in_minute));
  int admitted = 0, limited = 0, other = 0;
  for (int i = 0; i < 3 * kLimit; ++i) {
    auto res = post_empty_sync(servers->url(static_cast<std::size_t>(i) % servers->size()), token);
    REQUIRE(res);
    if (res->status == 200) {
      ++admitted;
    } else if (res->status == 429) {
      ++limited;
      CHECK_FALSE(res->get_header_value("Retry-After").empty());
      auto error = sync::decode_error(res->body);
      REQUIRE(error.ok());
      CHECK(error->code == "rate_limited");
    } else {
      ++other;
    }
  }
  CHECK(admitted == kLimit);
  CHECK(limited == 2 * kLimit);
  CHECK(other == 0);
  // Another device has a count of its own.
  auto res = post_empty_sync(servers->url(1), other_token);
  REQUIRE(res);
  CHECK(res->status == 200);
  need(servers->stop_all(), "instances stop");
}
