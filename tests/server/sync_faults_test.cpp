// Sync under faults, end to end: a real fieldcase-server process, devices driven through the
// core's SyncEngine over HTTP. The server is SIGKILLed while it applies requests, a 10,000-
// operation outbox crosses in bounded chunks (also through a small body limit), and a bootstrap
// cut off half way resumes where it stopped.
#include <httplib.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fieldcase/platform/http_transport.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/record_store.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/store.hpp"
#include "fieldcase/sync_engine.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "fieldcase/timescales.hpp"
#include "server_process.hpp"
#include "temp_dir.hpp"

namespace {

using namespace fieldcase;
using test::admin;
using test::ServerProcess;

// An organisation in the server database of `dir`: one team; returns its id.
std::string make_team(const test::TempDir& dir) {
  admin(dir, {"authority", "create", "--name", "City", "--la-code", "123"});
  const std::string area = admin(dir, {"area", "create", "--name", "North"});
  return admin(dir, {"team", "create", "--name", "Team 1", "--area", area});
}

std::string make_worker(const test::TempDir& dir, const std::string& team,
                        const std::string& name) {
  return admin(dir,
               {"worker", "create", "--name", name, "--role", "social_worker", "--team", team});
}

// Wraps the HTTP transport: counts requests and failures, records what each request carried,
// and can lose the connection on purpose.
class ProbeTransport final : public Transport {
 public:
  explicit ProbeTransport(std::string url) {
    platform::HttpTransportOptions o;
    o.base_url = std::move(url);
    o.connect_timeout = std::chrono::seconds(2);
    o.read_timeout = std::chrono::seconds(20);
    http_ = std::make_unique<platform::HttpTransport>(o);
  }

  Result<HttpResponse> post(std::string_view path, std::string_view body,
                            std::string_view token) override {
    std::lock_guard lock(mu_);
    ++posts;
    if (auto request = sync::decode_request(body); request.ok()) {
      std::size_t ops = 0;
      for (const auto& tx : request->transactions) ops += tx.ops.size();
      sent.push_back({body.size(), request->transactions.size(), ops});
    }
    // The server never sees this request: as if the network dropped it.
    if (fail_before_send_after >= 0 && posts > fail_before_send_after) {
      ++failures;
      return Status(Errc::io, "connection lost (test)");
    }
    auto answer = http_->post(path, body, token);
    if (!answer.ok() || answer->status >= 500) ++failures;
    if (answer.ok() && answer->status == 413) ++too_large;
    // The server committed and answered, but the answer never arrives.
    if (drop_answer_after >= 0 && posts > drop_answer_after) {
      ++failures;
      return Status(Errc::io, "connection reset before the answer arrived (test)");
    }
    return answer;
  }
  void release_connection() override { http_->release_connection(); }

  struct Sent {
    std::size_t bytes = 0, transactions = 0, ops = 0;
  };
  std::mutex mu_;
  int posts = 0;
  int failures = 0;
  int too_large = 0;
  int fail_before_send_after = -1;
  int drop_answer_after = -1;
  std::vector<Sent> sent;

 private:
  std::unique_ptr<platform::HttpTransport> http_;
};

// A device of `worker` with its own plain store in `dir`, issued a token by the server's admin.
struct Device {
  std::unique_ptr<Store> store;
  std::unique_ptr<RecordStore> records;
  std::string token;

  Device(const test::TempDir& dir, const std::string& name, const std::string& worker) {
    const std::string issued = admin(dir, {"device", "issue", "--worker", worker});
    const std::string device_id = issued.substr(0, issued.find(' '));
    token = issued.substr(issued.find(' ') + 1);
    StoreOptions so;
    so.path = dir / (name + ".db");
    auto opened = Store::open_plain(so);
    REQUIRE(opened.ok());
    store = std::move(opened.value());
    auto rs = RecordStore::open(*store, Identity{worker, device_id, Role::social_worker},
                                SystemClock::instance(), Timescales());
    REQUIRE(rs.ok());
    records = std::move(rs.value());
  }

  Result<SyncReport> sync(Transport& transport, SyncOptions o = {}) {
    if (!o.sleep) o.sleep = [](std::chrono::milliseconds) {};
    SyncEngine engine(*records, transport, token, o);
    return engine.run();
  }

  std::int64_t scalar(const std::string& sql) {
    auto st = store->prepare(sql);
    REQUIRE(st.ok());
    auto row = st->step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    return st->column_int(0);
  }

  // Every live record as "id data" lines, in id order: equal on two devices when they hold the
  // same records with the same fields.
  std::string contents() {
    auto st = store->prepare("SELECT id, data FROM record WHERE deleted = 0 ORDER BY id");
    REQUIRE(st.ok());
    std::string out;
    for (;;) {
      auto row = st->step();
      REQUIRE(row.ok());
      if (!*row) break;
      out += st->column_text(0) + " " + st->column_text(1) + "\n";
    }
    return out;
  }
};

Fields child_fields(int n) {
  return {{"local_id", "C-" + std::to_string(1000 + n)},
          {"first_name", std::string("Alex")},
          {"last_name", "Smith" + std::to_string(n)},
          {"gender", std::string("1")},
          {"date_of_birth", std::string("2015-03-02")}};
}

// `transactions` local transactions of `notes_each` completed notes on the case `child`: five
// operations a note (its creation and four fields, one of them derived).
void record_notes(Device& d, const std::string& child, int transactions, int notes_each) {
  std::mt19937 rng(11);
  const std::string at =
      format_iso_datetime(std::chrono::system_clock::now() - std::chrono::hours(1));
  for (int t = 0; t < transactions; ++t) {
    REQUIRE(d.records
                ->write([&](RecordStore::Writer& w) -> Status {
                  for (int n = 0; n < notes_each; ++n) {
                    std::string text = "Note " + std::to_string(t) + "." + std::to_string(n) + ":";
                    for (int k = 0; k < 30; ++k) text += " word" + std::to_string(rng() % 1000);
                    auto id = w.create(
                        RecordKind::case_note, child,
                        {{"contact_at", at}, {"text", text}, {"status", std::string("completed")}});
                    if (!id.ok()) return id.status();
                  }
                  return {};
                })
                .ok());
  }
}

std::int64_t server_scalar(const test::TempDir& dir, const std::string& sql) {
  auto store = server::SqliteServerStore::open(dir / "server.db");
  REQUIRE(store.ok());
  auto st = (*store)->store().prepare(sql);
  REQUIRE(st.ok());
  auto row = st->step();
  REQUIRE(row.ok());
  REQUIRE(*row);
  return st->column_int(0);
}

}  // namespace

TEST_CASE("sync faults: a server killed while it applies requests loses and doubles nothing",
          "[sync][http]") {
  test::TempDir dir;
  const std::string team = make_team(dir);
  const std::string ann = make_worker(dir, team, "Ann");
  Device device(dir, "device", ann);
  auto child = device.records->create(RecordKind::child, "", child_fields(1));
  REQUIRE(child.ok());
  record_notes(device, *child, 120, 5);
  const std::int64_t device_ops = device.scalar("SELECT count(*) FROM change_log");
  const std::int64_t device_txs = device.scalar("SELECT count(DISTINCT tx_id) FROM change_log");
  REQUIRE(device_ops == 6 + 120 * 5 * 5);

  auto server = std::make_unique<ServerProcess>(dir, std::vector<std::string>{});
  const std::string listen = "127.0.0.1:" + std::to_string(server->port());
  ProbeTransport transport("http://" + listen);

  // Small chunks, so the run is many requests long and the kills land inside it.
  SyncOptions o;
  o.max_transactions_per_request = 4;
  o.max_attempts = 400;
  o.first_backoff = std::chrono::milliseconds(5);
  o.sleep = [](std::chrono::milliseconds d) {
    std::this_thread::sleep_for(std::min(d, std::chrono::milliseconds(40)));
  };
  std::atomic<bool> done{false};
  Result<SyncReport> report(Status(Errc::internal, "not run"));
  std::thread syncing([&] {
    report = device.sync(transport, o);
    done = true;
  });
  std::mt19937 rng(Catch::rngSeed());
  int kills = 0;
  while (!done && kills < 6) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 120));
    if (done) break;
    server->crash();  // SIGKILL: whatever it was applying is cut off mid-way
    ++kills;
    server.reset();
    server = std::make_unique<ServerProcess>(dir, std::vector<std::string>{}, listen);
  }
  syncing.join();
  INFO(report.status().to_string());
  REQUIRE(report.ok());
  CHECK(kills >= 1);
  CHECK(transport.failures >= 1);  // at least one request was cut off and retried
  CHECK(report->rejected == 0);
  auto pending = device.records->pending_transactions();
  REQUIRE(pending.ok());
  CHECK(*pending == 0);
  CHECK(server->stop() == 0);

  // Every operation exactly once, every transaction accepted once.
  CHECK(server_scalar(dir, "SELECT count(*) FROM change_log WHERE op_id <> ''") == device_ops);
  CHECK(server_scalar(dir, "SELECT count(DISTINCT op_id) FROM change_log WHERE op_id <> ''") ==
        device_ops);
  CHECK(server_scalar(dir, "SELECT count(*) FROM sync_transaction WHERE outcome = 'accepted'") ==
        device_txs);
  CHECK(server_scalar(dir, "SELECT count(*) FROM record WHERE kind = 'case_note'") == 600);
}

TEST_CASE("sync faults: a 10,000-operation outbox crosses in bounded chunks", "[sync][http]") {
  test::TempDir dir;
  const std::string team = make_team(dir);
  const std::string ann = make_worker(dir, team, "Ann");
  Device device(dir, "device", ann);
  auto child = device.records->create(RecordKind::child, "", child_fields(1));
  REQUIRE(child.ok());
  record_notes(device, *child, 200, 10);
  const std::int64_t device_ops = device.scalar("SELECT count(*) FROM change_log");
  REQUIRE(device_ops == 10'006);

  std::vector<std::string> env;
  std::size_t body_limit = 8u << 20;
  SECTION("with the default limits") {}
  SECTION("through a server body limit smaller than a default chunk") {
    body_limit = 256u << 10;
    env.push_back("FIELDCASE_MAX_BODY_BYTES=" + std::to_string(body_limit));
  }
  ServerProcess server(dir, env);
  ProbeTransport transport("http://127.0.0.1:" + std::to_string(server.port()));
  SyncOptions o;  // the engine's defaults: 100 transactions, 2,000 operations a request
  auto report = device.sync(transport, o);
  INFO(report.status().to_string());
  REQUIRE(report.ok());
  CHECK(report->accepted == 201);
  CHECK(report->rejected == 0);

  std::size_t ops_sent = 0;
  std::size_t answered = 0;
  for (const auto& s : transport.sent) {
    CHECK(s.transactions <= o.max_transactions_per_request);
    CHECK(s.ops <= o.max_ops_per_request);
    ops_sent += s.ops;
  }
  answered = transport.sent.size() - static_cast<std::size_t>(transport.too_large);
  if (body_limit < (8u << 20)) {
    CHECK(transport.too_large >= 1);  // the first full-size chunk was refused, then halved
    CHECK(ops_sent > static_cast<std::size_t>(device_ops));
  } else {
    CHECK(transport.too_large == 0);
    CHECK(ops_sent == static_cast<std::size_t>(device_ops));
    CHECK(answered >= 6);  // 10,006 operations in chunks of at most 2,000
  }
  CHECK(static_cast<std::size_t>(report->round_trips) == answered);
  CHECK(server.stop() == 0);
  CHECK(server_scalar(dir, "SELECT count(*) FROM change_log WHERE op_id <> ''") == device_ops);
}

TEST_CASE("sync faults: a bootstrap cut off half way resumes where it stopped", "[sync][http]") {
  test::TempDir dir;
  const std::string team = make_team(dir);
  const std::string ann = make_worker(dir, team, "Ann");
  ServerProcess server(dir, {});
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());

  // The caseload: recorded on Ann's first tablet and synced.
  Device first(dir, "first", ann);
  for (int c = 0; c < 8; ++c) {
    auto child = first.records->create(RecordKind::child, "", child_fields(c));
    REQUIRE(child.ok());
    record_notes(first, *child, 10, 4);
  }
  ProbeTransport push(url);
  REQUIRE(first.sync(push).ok());
  const std::int64_t changes = 8 * (6 + 10 * 4 * 5);  // 1,648 changes to deliver

  // Her new tablet pulls it in pages of 100; the connection fails after five pages.
  Device second(dir, "second", ann);
  SyncOptions o;
  o.max_changes_per_page = 100;
  o.max_attempts = 2;
  ProbeTransport flaky(url);
  SECTION("the network drops the requests") { flaky.fail_before_send_after = 5; }
  SECTION("the answers are lost after the server sent them") { flaky.drop_answer_after = 5; }
  auto cut = second.sync(flaky, o);
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.code() == Errc::io);
  auto cursor = second.records->sync_cursor();
  REQUIRE(cursor.ok());
  CHECK(*cursor > 0);
  const std::int64_t half = second.scalar("SELECT count(*) FROM record");
  CHECK(half > 0);
  CHECK(half < 8 * 41);

  // The next run carries on from the cursor rather than starting again: it receives exactly
  // the changes the five delivered pages did not hold.
  ProbeTransport good(url);
  auto resumed = second.sync(good, o);
  INFO(resumed.status().to_string());
  REQUIRE(resumed.ok());
  CHECK(second.contents() == first.contents());
  CHECK(second.scalar("SELECT count(*) FROM record") == 8 * 41);
  CHECK(server.stop() == 0);
  const std::int64_t total = server_scalar(dir, "SELECT count(*) FROM change_log");
  CHECK(total >= changes);
  CHECK(static_cast<std::int64_t>(resumed->changes_received) == total - 5 * 100);
  CHECK(resumed->round_trips == (total - 5 * 100 + 99) / 100);
}
