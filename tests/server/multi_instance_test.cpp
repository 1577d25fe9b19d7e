// Several fieldcase-server processes on one database behind nginx (tests/support/instances.hpp,
// docs/deploy/nginx/fieldcase-instances.conf), with devices (Store + RecordStore + SyncEngine
// over HTTP) syncing through nginx while instances are SIGKILLed and restarted at random:
// every transaction a device had acknowledged is on the server exactly once, and the devices
// of one worker converge to the server's records.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
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
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/store.hpp"
#include "fieldcase/sync_engine.hpp"
#include "instances.hpp"
#include "pg_cluster.hpp"
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

// The database the instances share: a SQLite file in `dir`.
struct SharedDatabase {
  TempDir dir;
  std::string database;

  SharedDatabase() : database((dir / "server.db").string()) {}

  std::int64_t scalar(const std::string& sql) {
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

}  // namespace

TEST_CASE("multi: the reference configuration lists every instance and retries syncs",
          "[multi]") {
  TempDir dir;
  BalancerOptions o;
  o.dir = dir.path();
  o.upstream = {41001, 41002, 41003};
  const std::string conf = need(balancer_config(FC_NGINX_INSTANCES_CONF, o, 40999), "config");
  for (int port : o.upstream) {
    CHECK_THAT(conf, Catch::Contains("server 127.0.0.1:" + std::to_string(port) +
                                     " max_fails=2 fail_timeout=5s;"));
  }
  CHECK_THAT(conf, !Catch::Contains("8481"));
  CHECK_THAT(conf, Catch::Contains("listen 127.0.0.1:40999;"));
  CHECK_THAT(conf, !Catch::Contains("ssl"));
  CHECK_THAT(conf, Catch::Contains(
                       "proxy_next_upstream error timeout http_502 http_503 non_idempotent;"));
  // Only the sync location may send a POST on after an instance received it.
  const auto sync_at = conf.find("location = /v1/sync");
  const auto next_location = conf.find("location", sync_at + 1);
  const auto retry_at = conf.find("non_idempotent;");
  CHECK(retry_at > sync_at);
  CHECK(retry_at < next_location);
  CHECK(conf.find("non_idempotent;", retry_at + 1) == std::string::npos);
  // A reference without an upstream is refused, not run half-generated.
  write_file(dir / "broken.conf", {'x'});
  CHECK_FALSE(balancer_config(dir / "broken.conf", o, 40999).ok());
}

TEST_CASE("multi: devices sync through nginx while instances are killed and restarted",
          "[multi]") {
  SharedDatabase db;
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
          ++syncs_failed;  // every attempt met dead instances: the work waits in the outbox
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 150));
      }
    });
  }
  // Chaos: SIGKILL a random instance, bring it back a moment later; at times two are down.
  std::mt19937 rng(2026);
  int kills = 0;
  const auto until = std::chrono::steady_clock::now() + 12s;
  while (std::chrono::steady_clock::now() < until) {
    const std::size_t victim = rng() % servers->size();
    servers->kill(victim);
    ++kills;
    if (rng() % 3 == 0) {
      const std::size_t second = (victim + 1) % servers->size();
      servers->kill(second);
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 400));
      need(servers->restart(second), "restart");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 600));
    need(servers->restart(victim), "restart");
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  INFO(Catch::Detail::stringify(failures));
  REQUIRE(failures.empty());
  INFO(syncs_ok.load() << " syncs succeeded, " << syncs_failed.load() << " gave up; " << kills
                       << " kills");
  CHECK(kills >= 6);
  CHECK(syncs_ok.load() > 20);

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
