// The device's side of sync (RecordStore + SyncEngine from the core) against the server's
// SyncService, through an in-process Transport that speaks the same JSON as HTTP: the two
// halves written separately must converge.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "fieldcase/record_schema.hpp"
#include "fieldcase/record_store.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/server/sync_service.hpp"
#include "fieldcase/server/tokens.hpp"
#include "fieldcase/platform/file_keystore.hpp"
#include "fieldcase/vault.hpp"
#include "fieldcase/sync_engine.hpp"
#include "fieldcase/transport.hpp"
#include "temp_dir.hpp"

using namespace fieldcase;

namespace {

// POST /v1/sync without sockets: authentication, decoding, handling and encoding as the
// HTTP layer does them.
class LoopbackTransport final : public Transport {
 public:
  explicit LoopbackTransport(server::SyncService& service) : service_(service) {}
  int rate_limited = 0;  // answer this many requests with 429 first
  int requests = 0;      // requests that reached the service
  int wipe_reports = 0;  // POST /v1/device/wiped
  Result<HttpResponse> post(std::string_view path, std::string_view body,
                            std::string_view token) override {
    const auto receipt = std::chrono::system_clock::now();
    if (path == sync::kWipeReportPath) {
      ++wipe_reports;
      auto status = service_.report_wipe(token, receipt);
      if (!status.ok()) return status.status();
      if (!*status) return HttpResponse{401, sync::encode_error("unauthenticated", ""), 0, 0};
      return HttpResponse{200, "{\"status\":\"" + std::string(to_string(**status)) + "\"}", 0, 0};
    }
    if (path != "/v1/sync") return HttpResponse{404, sync::encode_error("not_found", ""), 0, 0};
    if (rate_limited > 0) {
      --rate_limited;
      return HttpResponse{429, sync::encode_error("rate_limited", "retry after 1 s"), 0, 0};
    }
    auto device = service_.authenticate(token);
    if (!device.ok()) return device.status();
    if (!*device) return HttpResponse{401, sync::encode_error("unauthenticated", ""), 0, 0};
    ++requests;
    auto refuse = [&]() -> Result<HttpResponse> {
      auto wipe = service_.refuse(**device, receipt);
      if (!wipe.ok()) return wipe.status();
      return HttpResponse{403, sync::encode_error("device_revoked", wipe->reason, {*wipe}), 0, 0};
    };
    if ((*device)->revoked) return refuse();
    auto request = sync::decode_request(body);
    if (!request.ok()) {
      return HttpResponse{400, sync::encode_error("bad_request", request.status().message()), 0, 0};
    }
    auto response = service_.handle(**device, *request, receipt);
    if (response.code() == Errc::unauthenticated) return refuse();
    if (!response.ok()) return HttpResponse{500, sync::encode_error("internal", ""), 0, 0};
    std::string json = sync::encode(*response);
    const std::size_t n = json.size();
    return HttpResponse{200, std::move(json), body.size(), n};
  }

 private:
  server::SyncService& service_;
};

// One device: its own database, record store and sync engine.
struct Device {
  std::unique_ptr<Store> store;
  std::unique_ptr<RecordStore> records;
  std::string token;

  SyncReport sync(Transport& transport, std::size_t per_request = 100) {
    SyncOptions o;
    o.max_transactions_per_request = per_request;
    o.sleep = [](std::chrono::milliseconds) {};
    SyncEngine engine(*records, transport, token, o);
    auto report = engine.run();
    INFO(report.status().to_string());
    REQUIRE(report.ok());
    return std::move(report.value());
  }
  std::optional<Record> get(const std::string& id) {
    auto r = records->get(id);
    REQUIRE(r.ok());
    return *r;
  }
  Value field(const std::string& id, const std::string& name) {
    auto r = get(id);
    REQUIRE(r.has_value());
    auto it = r->fields.find(name);
    return it == r->fields.end() ? Value{} : it->second;
  }
  std::vector<sync::Conflict> conflicts() {
    auto c = records->conflicts();
    REQUIRE(c.ok());
    return *c;
  }
};

class World {
 public:
  World() {
    auto opened = server::SqliteServerStore::open(dir / "server.db");
    REQUIRE(opened.ok());
    server_store = std::move(opened.value());
    admin = std::make_unique<server::Admin>(*server_store, SystemClock::instance());
    service = std::make_unique<server::SyncService>(*server_store, SystemClock::instance());
    transport = std::make_unique<LoopbackTransport>(*service);
    REQUIRE(admin->create_authority("City", "123").ok());
    auto area = admin->create_area("North");
    REQUIRE(area.ok());
    auto team = admin->create_team("Team 1", *area);
    REQUIRE(team.ok());
    for (auto [name, role, out] : {std::tuple{"Ann", Role::social_worker, &sw1},
                                   std::tuple{"Bea", Role::social_worker, &sw2},
                                   std::tuple{"Meg", Role::team_manager, &manager}}) {
      auto w = admin->create_worker(name, role, *team);
      REQUIRE(w.ok());
      *out = *w;
    }
  }

  Device device(const std::string& worker, Role role, const std::string& name) {
    auto issued = admin->issue_device(worker);
    REQUIRE(issued.ok());
    Device d;
    StoreOptions o;
    o.path = dir / (name + ".db");
    auto store = Store::open_plain(o);
    REQUIRE(store.ok());
    d.store = std::move(store.value());
    auto records = RecordStore::open(*d.store, Identity{worker, issued->device_id, role},
                                     SystemClock::instance(), Timescales());
    REQUIRE(records.ok());
    d.records = std::move(records.value());
    d.token = issued->token;
    return d;
  }

  test::TempDir dir;
  std::unique_ptr<server::SqliteServerStore> server_store;
  std::unique_ptr<server::Admin> admin;
  std::unique_ptr<server::SyncService> service;
  std::unique_ptr<LoopbackTransport> transport;
  std::string sw1, sw2, manager;
};

Fields child_fields() {
  return {{"local_id", std::string("C-1")},
          {"first_name", std::string("Alex")},
          {"last_name", std::string("Smith")},
          {"gender", std::string("1")},
          {"date_of_birth", std::string("2015-03-02")}};
}

}  // namespace

TEST_CASE("server and devices: edits made offline on several devices converge", "[sync]") {
  World w;
  Device tablet = w.device(w.sw1, Role::social_worker, "tablet");
  Device phone = w.device(w.sw1, Role::social_worker, "phone");
  Device manager = w.device(w.manager, Role::team_manager, "manager");

  // A new child and a visit recorded on the tablet; the server makes the case the worker's.
  auto child = tablet.records->create(RecordKind::child, "", child_fields());
  REQUIRE(child.ok());
  auto visit = tablet.records->create(
      RecordKind::visit, *child,
      {{"visit_type", std::string("child_in_need")},
       {"start_at", format_iso_datetime(std::chrono::system_clock::now() - std::chrono::hours(1))},
       {"child_seen", true}});
  REQUIRE(visit.ok());
  auto first = tablet.sync(*w.transport);
  CHECK(first.accepted == 2);
  CHECK(first.rejected == 0);
  CHECK(tablet.field(*child, "allocated_worker") == Value{w.sw1});
  auto caseload = tablet.records->caseload();
  REQUIRE(caseload.ok());
  REQUIRE(caseload->size() == 1);

  // The phone and the manager receive the case.
  phone.sync(*w.transport);
  manager.sync(*w.transport);
  REQUIRE(phone.get(*visit).has_value());
  CHECK(phone.field(*child, "last_name") == Value{std::string("Smith")});
  REQUIRE(manager.get(*child).has_value());

  // Offline: the same field on both devices, and a different field on each.
  REQUIRE(tablet.records
              ->update(*child, {{"address", std::string("1 High Street")},
                                {"first_name", std::string("Alexa")}})
              .ok());
  REQUIRE(phone.records
              ->update(*child,
                       {{"address", std::string("2 Low Road")}, {"ethnicity", std::string("WBRI")}})
              .ok());
  tablet.sync(*w.transport);
  phone.sync(*w.transport);
  tablet.sync(*w.transport);
  manager.sync(*w.transport);

  // One winner everywhere, both other edits kept, the losing value visible to all three.
  const Value winner = phone.field(*child, "address");
  for (Device* d : {&tablet, &phone, &manager}) {
    CHECK(d->field(*child, "address") == winner);
    CHECK(d->field(*child, "first_name") == Value{std::string("Alexa")});
    CHECK(d->field(*child, "ethnicity") == Value{std::string("WBRI")});
    auto conflicts = d->conflicts();
    REQUIRE(conflicts.size() == 1);
    CHECK(conflicts[0].field == "address");
    CHECK(conflicts[0].kept == winner);
    CHECK(conflicts[0].lost != winner);
  }
  auto server_child = w.server_store->find_record(*child);
  REQUIRE(server_child.ok());
  CHECK((*server_child)->fields.at("address").value == winner);

  // Reallocation while the tablet holds an unsynced change to the case: the change is
  // accepted, then the case leaves the tablet and the phone, and reaches the new worker.
  Device other = w.device(w.sw2, Role::social_worker, "other");
  other.sync(*w.transport);
  REQUIRE(w.admin->allocate(*child, w.sw2).ok());
  REQUIRE(tablet.records
              ->update(*visit, {{"observations", std::string("Playing happily in the garden.")}})
              .ok());
  auto moved = tablet.sync(*w.transport);
  CHECK(moved.rejected == 0);
  CHECK_FALSE(tablet.get(*child).has_value());
  CHECK_FALSE(tablet.get(*visit).has_value());
  phone.sync(*w.transport);
  CHECK_FALSE(phone.get(*child).has_value());
  other.sync(*w.transport);
  CHECK(other.field(*visit, "observations") ==
        Value{std::string("Playing happily in the garden.")});
  CHECK(other.field(*child, "address") == winner);
  CHECK(other.field(*child, "allocated_worker") == Value{w.sw2});
  auto their_caseload = other.records->caseload();
  REQUIRE(their_caseload.ok());
  CHECK(their_caseload->size() == 1);
  // The manager of the team still sees it (both workers are in the team).
  manager.sync(*w.transport);
  CHECK(manager.get(*child).has_value());
}

TEST_CASE("server and devices: a retiring device sends its whole outbox before it is told to wipe",
          "[sync][security]") {
  World w;
  Device a = w.device(w.sw1, Role::social_worker, "a");
  std::vector<std::string> children;
  for (int i = 0; i < 5; ++i) {
    auto id = a.records->create(RecordKind::child, {}, child_fields());
    REQUIRE(id.ok());
    children.push_back(*id);
  }
  auto device_id = a.records->identity().device_id;
  REQUIRE(w.admin->retire_device(device_id).ok());
  w.transport->rate_limited = 2;                // 429 is waited out and retried
  SyncReport report = a.sync(*w.transport, 2);  // three requests to empty the outbox
  CHECK(report.wipe_requested);
  CHECK_FALSE(report.device_revoked);
  CHECK(report.wipe_reason == "this device has been retired");
  CHECK(report.accepted == 5);
  CHECK(report.round_trips == 4);  // 2 + 2 + 1 transactions, then the empty request
  for (const auto& id : children) {
    auto r = w.server_store->find_record(id);
    REQUIRE(r.ok());
    CHECK(r->has_value());
  }
  auto device = w.server_store->find_device(device_id);
  REQUIRE(device.ok());
  CHECK((*device)->status == server::DeviceStatus::retired);
  // Any later request is refused with the wipe instruction.
  SyncReport again = a.sync(*w.transport);
  CHECK(again.wipe_requested);
  CHECK(again.device_revoked);
  CHECK(again.wipe_reason == "this device has been retired");
}

TEST_CASE("server and devices: a revoked device is refused and told to wipe, nothing applied",
          "[sync][security]") {
  World w;
  Device a = w.device(w.sw1, Role::social_worker, "a");
  auto child = a.records->create(RecordKind::child, {}, child_fields());
  REQUIRE(child.ok());
  REQUIRE(w.admin->revoke_device(a.records->identity().device_id).ok());
  SyncReport report = a.sync(*w.transport);
  CHECK(report.wipe_requested);
  CHECK(report.device_revoked);
  CHECK(report.wipe_reason == "this device has been revoked");
  CHECK(report.accepted == 0);
  CHECK(report.round_trips == 1);
  CHECK(report.contacted);
  auto r = w.server_store->find_record(*child);
  REQUIRE(r.ok());
  CHECK_FALSE(r->has_value());
  // An active device learns the offline limit from every answer.
  Device b = w.device(w.sw2, Role::social_worker, "b");
  SyncReport ok = b.sync(*w.transport);
  CHECK_FALSE(ok.wipe_requested);
  CHECK(ok.contacted);
  CHECK(ok.offline_limit_days == 14);
}

TEST_CASE("server and devices: a wiped device reports the wipe and the server revokes it",
          "[sync][security][vault]") {
  World w;
  auto issued = w.admin->issue_device(w.sw1);
  REQUIRE(issued.ok());
  // The proof is the token's hash as the server keeps it, and reveals nothing of the token.
  CHECK(sync::wipe_proof(issued->token) == server::token_hash(issued->token));
  CHECK(sync::wipe_proof(issued->token).find(issued->token) == std::string::npos);

  platform::FileKeyStore keys(w.dir / "keys");
  VaultOptions o;
  o.database = w.dir / "tablet.db";
  o.keystore = &keys;
  o.kdf = KdfCost::minimum();
  o.max_failed_unlocks = 3;
  auto vault = Vault::create(o, "246813");
  REQUIRE(vault.ok());
  REQUIRE((*vault)->set_device_token(issued->token).ok());
  // Nothing to report while the vault is alive.
  auto none = report_wipes(*w.transport, o.database);
  REQUIRE(none.ok());
  CHECK(*none == 0);
  CHECK(w.transport->wipe_reports == 0);

  // The last wrong PIN erases the data and the token; the next contact reports it.
  (*vault)->lock();
  for (int i = 0; i < 3; ++i) (void)(*vault)->unlock("0000");
  CHECK((*vault)->device_token().code() == Errc::wiped);
  auto before = w.server_store->find_device(issued->device_id);
  REQUIRE(before.ok());
  CHECK((*before)->status == server::DeviceStatus::active);
  auto reported = report_wipes(*w.transport, o.database);
  REQUIRE(reported.ok());
  CHECK(*reported == 1);
  auto after = w.server_store->find_device(issued->device_id);
  REQUIRE(after.ok());
  CHECK((*after)->status == server::DeviceStatus::revoked);
  CHECK_FALSE((*after)->revoked_at.empty());
  CHECK(Vault::pending_wipe_reports(o.database).empty());
  server::AuditQuery q;
  q.event = "device_wiped";
  q.device_id = issued->device_id;
  auto audit = w.server_store->query_audit(q);
  REQUIRE(audit.ok());
  REQUIRE(audit->size() == 1);
  CHECK((*audit)[0].detail == "reported by the device; was active");

  // A copy of the token taken before the wipe no longer syncs.
  Device copy = w.device(w.sw1, Role::social_worker, "copy");
  copy.token = issued->token;
  SyncReport refused = copy.sync(*w.transport);
  CHECK(refused.device_revoked);
  CHECK(refused.accepted == 0);

  // A proof the server does not know is refused and not kept; nothing else changes.
  auto other = w.device(w.sw2, Role::social_worker, "other");
  auto unknown = w.service->report_wipe(std::string(64, 'a'), std::chrono::system_clock::now());
  REQUIRE(unknown.ok());
  CHECK_FALSE(unknown->has_value());
  auto malformed = w.service->report_wipe(other.token, std::chrono::system_clock::now());
  REQUIRE(malformed.ok());
  CHECK_FALSE(malformed->has_value());  // a token is not a proof
  SyncReport fine = other.sync(*w.transport);
  CHECK_FALSE(fine.wipe_requested);
}
