// The C API seen from C++ ([C]): its codes are the core's, and fc_device_sync through a host
// transport that hands each request to the in-process sync service — progress over several
// rounds, a call from a second thread refused as busy while a sync runs, cancellation from
// another thread, a release while a call is running, and the offline lock.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "fieldcase.h"
#include "fieldcase/version.hpp"
#include "server_fixture.hpp"

namespace {

using fieldcase::Errc;
using fieldcase::test::ServerFixture;
using fieldcase::test::TempDir;

// A transport answering from the in-process service; it can hold a request at a gate.
struct InProcess {
  ServerFixture* fixture = nullptr;
  fieldcase::server::AuthenticatedDevice auth;
  std::mutex mutex;
  std::condition_variable changed;
  bool hold = false;     // the next post waits at the gate
  bool waiting = false;  // a post is waiting
  int posts = 0;
  int destroyed = 0;

  void open_gate() {
    std::lock_guard lock(mutex);
    hold = false;
    changed.notify_all();
  }
  void wait_until_waiting() {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return waiting; });
  }
};

bool post(void* context, const fc_http_request* request, fc_http_response* response,
          fc_error* out_error) {
  auto* t = static_cast<InProcess*>(context);
  {
    std::unique_lock lock(t->mutex);
    ++t->posts;
    if (t->hold) {
      t->waiting = true;
      t->changed.notify_all();
      t->changed.wait(lock, [&] { return !t->hold; });
      t->waiting = false;
    }
  }
  auto decoded = fieldcase::sync::decode_request(
      std::string_view(reinterpret_cast<const char*>(request->body), request->body_size));
  if (!decoded.ok()) {
    fc_error_set(out_error, FC_DOMAIN_HOST, 400, "bad request");
    return false;
  }
  auto answer = t->fixture->service->handle(t->auth, *decoded, t->fixture->clock.wall());
  if (!answer.ok()) {
    fc_error_set(out_error, FC_DOMAIN_HOST, 500, "service failed");
    return false;
  }
  const std::string body = fieldcase::sync::encode(*answer);
  return fc_http_response_set_status(response, 200, out_error) &&
         fc_http_response_set_body(response, reinterpret_cast<const uint8_t*>(body.data()),
                                   body.size(), out_error);
}

void destroy(void* context) { ++static_cast<InProcess*>(context)->destroyed; }

struct Rounds {
  int calls = 0;
  int last_round = 0;
  std::uint64_t last_sent = 0;
  bool monotonic = true;
};

bool on_progress(void* context, const fc_sync_progress* p) {
  auto* r = static_cast<Rounds*>(context);
  if (p->round < r->last_round || p->transactions_sent < r->last_sent) r->monotonic = false;
  ++r->calls;
  r->last_round = p->round;
  r->last_sent = p->transactions_sent;
  return true;
}

std::string take(char* text) {
  std::string out = text == nullptr ? std::string() : std::string(text);
  fc_string_release(text);
  return out;
}

// `n` visits of the case, each its own local transaction.
void record_visits(fc_device* device, const std::string& child, int n) {
  fc_error err;
  const std::string fields =
      R"({"visit_type": "child_in_need", "start_at": "2024-05-01T10:00:00Z", "child_seen": true})";
  for (int i = 0; i < n; ++i) {
    char* id = fc_device_create_record(device, "visit", child.c_str(), fields.c_str(), &err);
    INFO(err.message);
    REQUIRE(id != nullptr);
    fc_string_release(id);
  }
}

// A new device for `worker` in `dir` with the device token of `issued`, syncing through
// `transport` (one attempt per sync), on the host's `clock` when given.
fc_device* create_device(const TempDir& dir, const std::string& worker,
                         const fieldcase::test::TestDevice& issued, const fc_transport& transport,
                         const fc_clock* clock = nullptr) {
  const std::string db = (dir / "case.db").string(), keys = (dir / "keys").string();
  fc_device_config config;
  fc_device_config_init(&config);
  config.database = db.c_str();
  config.keystore_dir = keys.c_str();
  config.worker_id = worker.c_str();
  config.device_id = issued.auth.device_id.c_str();
  config.kdf = FC_KDF_MINIMUM;
  config.sync_attempts = 1;
  config.transport = &transport;
  config.clock = clock;
  fc_error err;
  fc_device* device = fc_device_create(&config, "246813", &err);
  INFO(err.message);
  REQUIRE(device != nullptr);
  REQUIRE(fc_device_set_token(device, issued.token.c_str(), &err));
  return device;
}

}  // namespace

TEST_CASE("C API codes are the core's Errc numbers and names", "[C]") {
  const std::pair<int, Errc> codes[] = {
      {FC_ERR_INVALID_ARGUMENT, Errc::invalid_argument},
      {FC_ERR_NOT_FOUND, Errc::not_found},
      {FC_ERR_ALREADY_EXISTS, Errc::already_exists},
      {FC_ERR_UNSUPPORTED, Errc::unsupported},
      {FC_ERR_INTERNAL, Errc::internal},
      {FC_ERR_IO, Errc::io},
      {FC_ERR_DISK_FULL, Errc::disk_full},
      {FC_ERR_BUSY, Errc::busy},
      {FC_ERR_VALIDATION, Errc::validation},
      {FC_ERR_UNAUTHENTICATED, Errc::unauthenticated},
      {FC_ERR_CANCELLED, Errc::cancelled},
      {FC_ERR_FORBIDDEN, Errc::forbidden},
      {FC_ERR_TOO_MANY_ATTEMPTS, Errc::too_many_attempts},
      {FC_ERR_UNAVAILABLE, Errc::unavailable},
      {FC_ERR_INTEGRITY, Errc::integrity},
      {FC_ERR_WRONG_KEY, Errc::wrong_key},
      {FC_ERR_WRONG_PIN, Errc::wrong_pin},
      {FC_ERR_WIPED, Errc::wiped},
      {FC_ERR_LOCKED, Errc::locked},
      {FC_ERR_NOT_A_DATABASE, Errc::not_a_database},
      {FC_ERR_SCHEMA, Errc::schema},
      {FC_ERR_OFFLINE_LOCKED, Errc::offline_locked},
      {FC_ERR_WEAK_PIN, Errc::weak_pin},
  };
  for (const auto& [c, errc] : codes) {
    CHECK(c == static_cast<int>(errc));
    CHECK(std::string(fc_error_code_name(FC_DOMAIN_FIELDCASE, c)) == fieldcase::errc_name(errc));
  }
  // Every Errc up to the highest number has a C code (none forgotten).
  int named = 0;
  for (int c = 1; c <= 200; ++c) {
    if (fieldcase::errc_name(static_cast<Errc>(c)) != "unknown") {
      ++named;
      CHECK(std::string(fc_error_code_name(FC_DOMAIN_FIELDCASE, c)) != "unknown");
    }
  }
  CHECK(named == static_cast<int>(std::size(codes)));
  CHECK(std::string(fc_version()) == fieldcase::version());
}

TEST_CASE("C API: sync through a host transport, busy and cancelled from another thread",
          "[C][sync]") {
  ServerFixture f;
  TempDir dir;
  auto d = f.device(f.sw1, "capi");
  InProcess t;
  t.fixture = &f;
  t.auth = d.auth;
  fc_transport transport{&t, post, destroy};
  fc_error err;
  fc_device* device = create_device(dir, f.sw1, d, transport);
  const std::string child_fields =
      R"({"first_name": "Alex", "last_name": "Smith", "date_of_birth": "2015-03-02",
          "gender": "1", "local_id": "C-1", "allocated_worker": ")" +
      f.sw1 + "\"}";
  const std::string child =
      take(fc_device_create_record(device, "child", nullptr, child_fields.c_str(), &err));
  REQUIRE(!child.empty());
  record_visits(device, child, 149);  // 150 transactions: two rounds of at most 100

  SECTION("progress over several rounds") {
    Rounds rounds;
    const std::string report = take(fc_device_sync(device, on_progress, &rounds, &err));
    INFO(err.message);
    REQUIRE(!report.empty());
    CHECK(report.find("\"accepted\":150") != std::string::npos);
    CHECK(rounds.last_round >= 2);
    CHECK(rounds.last_sent == 150);
    CHECK(rounds.monotonic);
    CHECK(f.count("SELECT COUNT(*) FROM record WHERE kind = 'visit'") == 149);
  }

  SECTION("a second thread is refused while a sync runs, and cancels it") {
    t.hold = true;
    fc_error sync_err;
    std::string report = "not run";
    std::thread syncing(
        [&] { report = take(fc_device_sync(device, nullptr, nullptr, &sync_err)); });
    t.wait_until_waiting();
    fc_error other;
    CHECK(fc_device_caseload(device, &other) == nullptr);
    CHECK(other.domain == FC_DOMAIN_API);
    CHECK(other.code == FC_API_BUSY);
    CHECK_FALSE(fc_device_lock(device, &other));
    CHECK(other.code == FC_API_BUSY);
    CHECK(fc_device_is_unlocked(device));  // answers without waiting
    CHECK(fc_device_cancel_sync(device));
    t.open_gate();
    syncing.join();
    CHECK(report.empty());
    CHECK(sync_err.domain == FC_DOMAIN_FIELDCASE);
    CHECK(sync_err.code == FC_ERR_CANCELLED);
    CHECK(t.posts == 1);  // the first round finished; the second never started
    int64_t pending = 0;
    REQUIRE(fc_device_pending_transactions(device, &pending, &err));
    CHECK(pending == 50);
    // Cancelling is not sticky: the next sync finishes the work.
    CHECK(!take(fc_device_sync(device, nullptr, nullptr, &err)).empty());
    REQUIRE(fc_device_pending_transactions(device, &pending, &err));
    CHECK(pending == 0);
  }

  SECTION("released while a call runs: the handle dies at once, the device when the call ends") {
    t.hold = true;
    fc_error sync_err;
    std::string report;
    std::thread syncing(
        [&] { report = take(fc_device_sync(device, nullptr, nullptr, &sync_err)); });
    t.wait_until_waiting();
    fc_device_release(device);
    fc_error other;
    CHECK(fc_device_caseload(device, &other) == nullptr);
    CHECK(other.code == FC_API_INVALID_HANDLE);
    CHECK(t.destroyed == 0);  // still in use by the sync
    t.open_gate();
    syncing.join();
    CHECK(sync_err.domain == FC_DOMAIN_NONE);
    CHECK(report.find("\"accepted\":150") != std::string::npos);
    CHECK(t.destroyed == 1);
    device = nullptr;
  }
  fc_device_release(device);
  CHECK(t.destroyed == 1);
}

namespace {

// A host clock the test moves: wall time in milliseconds since the epoch.
struct HostClock {
  std::atomic<int64_t> wall_ms{0};
};
int64_t host_wall_ms(void* context) { return static_cast<HostClock*>(context)->wall_ms.load(); }
int64_t host_monotonic_ns(void*) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("C API: the offline lock refuses case data until a sync succeeds", "[C][sync]") {
  ServerFixture f;
  TempDir dir;
  auto d = f.device(f.sw1, "capi");
  InProcess t;
  t.fixture = &f;
  t.auth = d.auth;
  fc_transport transport{&t, post, destroy};
  HostClock host;
  host.wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(f.clock.wall().time_since_epoch())
          .count();
  fc_clock clock{&host, host_wall_ms, host_monotonic_ns, nullptr};
  fc_error err;
  fc_device* device = create_device(dir, f.sw1, d, transport, &clock);

  // Before any contact there is no limit to break.
  constexpr int64_t kDay = 24LL * 3600 * 1000;
  host.wall_ms += 100 * kDay;
  CHECK(!take(fc_device_caseload(device, &err)).empty());

  const std::string report = take(fc_device_sync(device, nullptr, nullptr, &err));
  REQUIRE(!report.empty());
  CHECK(report.find("\"offline_limit_days\":14") != std::string::npos);
  host.wall_ms += 13 * kDay;
  CHECK(!take(fc_device_caseload(device, &err)).empty());

  host.wall_ms += 2 * kDay;  // 15 days since the last contact
  CHECK(fc_device_caseload(device, &err) == nullptr);
  CHECK(err.domain == FC_DOMAIN_FIELDCASE);
  CHECK(err.code == FC_ERR_OFFLINE_LOCKED);
  CHECK(std::string(err.message).find("connect and sync") != std::string::npos);
  CHECK(fc_device_my_day(device, "2024-05-01", &err) == nullptr);
  CHECK(err.code == FC_ERR_OFFLINE_LOCKED);

  // The sync still runs, and lifts the lock.
  CHECK(!take(fc_device_sync(device, nullptr, nullptr, &err)).empty());
  INFO(err.message);
  CHECK(!take(fc_device_caseload(device, &err)).empty());
  fc_device_release(device);
}
