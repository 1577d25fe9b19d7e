// The device session's policy against a scripted server: setup order (a refused PIN leaves the
// enrollment code unused), unlock attempts down to the erase, idle lock, server-ordered wipes
// and their reports at the next contact, re-enrollment after re-creation, and sync.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fake_clock.hpp"
#include "fieldcase/device_session.hpp"
#include "fieldcase/platform/file_keystore.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "record_fixture.hpp"
#include "temp_dir.hpp"

using namespace fieldcase;
using namespace fieldcase::test;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPin = "246813";

// The server's side of enrollment, sync and wipe reports, in memory. Devices are keyed by their
// token; a revoked device is answered 403 with a wipe instruction.
class ScriptedServer final : public Transport {
 public:
  struct Device {
    Identity identity;
    bool revoked = false;
    bool reported_wiped = false;
  };

  // Issues a one-time enrollment code for `who`.
  std::string issue_code(const Identity& who) {
    const std::string code = "CODE" + std::to_string(codes_.size() + 1);
    codes_[code] = who;
    return code;
  }
  void revoke(const std::string& device_id) {
    for (auto& [token, d] : devices_) {
      if (d.identity.device_id == device_id) d.revoked = true;
    }
  }
  const Device* device(const std::string& device_id) const {
    for (const auto& [token, d] : devices_) {
      if (d.identity.device_id == device_id) return &d;
    }
    return nullptr;
  }
  std::size_t devices() const { return devices_.size(); }

  bool online = true;
  int enroll_posts = 0;
  int sync_posts = 0;
  int wipe_reports = 0;
  std::set<std::string> accepted;  // transaction ids
  int offline_limit_days = 0;

  Result<HttpResponse> post(std::string_view path, std::string_view body,
                            std::string_view bearer) override {
    if (!online) return Status(Errc::io, "cannot reach the server: connection refused");
    HttpResponse res;
    if (path == "/v1/enroll") {
      ++enroll_posts;
      // Only the fields the session sends: {"code": ..., "device_name": ...}.
      std::string code;
      for (const auto& [c, who] : codes_) {
        if (body.find("\"" + c + "\"") != std::string_view::npos) code = c;
      }
      auto it = codes_.find(code);
      if (it == codes_.end()) {
        res.status = 401;
        res.body = sync::encode_error("unauthenticated", "the enrollment code is not valid");
        return res;
      }
      const Identity who = it->second;
      codes_.erase(it);
      const std::string token = "token-" + who.device_id;
      devices_[token] = Device{who};
      res.status = 201;
      res.body = "{\"device_id\":\"" + who.device_id + "\",\"worker_id\":\"" + who.worker_id +
                 "\",\"role\":\"social_worker\",\"token\":\"" + token + "\"}";
      return res;
    }
    if (path == sync::kWipeReportPath) {
      for (auto& [token, d] : devices_) {
        if (sync::wipe_proof(token) == bearer) {
          ++wipe_reports;
          d.revoked = true;
          d.reported_wiped = true;
          res.status = 200;
          res.body = "{}";
          return res;
        }
      }
      res.status = 401;
      res.body = sync::encode_error("unauthenticated", "unknown device");
      return res;
    }
    if (path == "/v1/sync") {
      ++sync_posts;
      auto it = devices_.find(std::string(bearer));
      if (it == devices_.end()) {
        res.status = 401;
        res.body = sync::encode_error("unauthenticated", "the device token is not valid");
        return res;
      }
      if (it->second.revoked) {
        res.status = 403;
        res.body = sync::encode_error(
            sync::kErrorDeviceRevoked, "this device has been revoked",
            {sync::Instruction{sync::Instruction::Type::wipe, "", "this device has been revoked"}});
        return res;
      }
      auto request = sync::decode_request(body);
      if (!request.ok()) return request.status();
      sync::SyncResponse answer;
      answer.server_time = "2027-01-15T08:00:00Z";
      for (const auto& tx : request->transactions) {
        accepted.insert(tx.tx_id);
        answer.accepted.push_back(tx.tx_id);
      }
      answer.cursor = static_cast<std::int64_t>(accepted.size());
      answer.offline_limit_days = offline_limit_days;
      res.status = 200;
      res.body = sync::encode(answer);
      return res;
    }
    res.status = 404;
    res.body = sync::encode_error("not_found", "no such path");
    return res;
  }

 private:
  std::map<std::string, Identity> codes_;
  std::map<std::string, Device> devices_;  // by token
};

struct Env {
  TempDir dir;
  platform::FileKeyStore keys{dir / "keys"};
  FakeClock clock;
  ScriptedServer server;
  std::vector<std::string> log;

  DeviceSessionOptions options(Identity who = worker_identity()) {
    DeviceSessionOptions o;
    o.database = dir / "case.db";
    o.services.keystore = &keys;
    o.services.transport = &server;
    o.services.clock = &clock;
    o.services.log = [this](LogLevel, const std::string& line) { log.push_back(line); };
    o.identity = std::move(who);
    o.kdf = KdfCost::minimum();
    o.max_failed_unlocks = 3;
    o.idle_timeout = std::chrono::seconds(300);
    o.sync.sleep = [](std::chrono::milliseconds) {};
    o.sync.max_attempts = 1;
    return o;
  }

  std::unique_ptr<DeviceSession> enroll(const Identity& who = worker_identity()) {
    SetupRequest request;
    request.enrollment_code = server.issue_code(who);
    request.device_name = "tablet";
    auto session = DeviceSession::setup(options(), kPin, request);
    INFO(session.status().message());
    REQUIRE(session.ok());
    return std::move(session.value());
  }
};

void add_child(DeviceSession& session) {
  auto records = session.records();
  REQUIRE(records.ok());
  REQUIRE((*records)->create(RecordKind::child, {}, child_fields()).ok());
}


}  // namespace

TEST_CASE("device session: setup enrolls after the PIN is accepted, and a refused PIN leaves "
          "the code unused",
          "[session][security]") {
  Env env;
  const std::string code = env.server.issue_code(worker_identity());
  SetupRequest request;
  request.enrollment_code = code;
  request.device_name = "tablet";

  auto weak = DeviceSession::setup(env.options(), "123456", request);
  CHECK(weak.code() == Errc::weak_pin);
  CHECK(env.server.enroll_posts == 0);
  CHECK_FALSE(fs::exists(env.dir / "case.db"));

  bool committed = false;
  request.commit = [&](const Identity& who) {
    committed = who.device_id == worker_identity().device_id;
    return Status();
  };
  auto session = DeviceSession::setup(env.options(Identity{}), kPin, request);
  INFO(session.status().message());
  REQUIRE(session.ok());
  CHECK(committed);
  CHECK(env.server.enroll_posts == 1);
  CHECK((*session)->state() == SessionState::unlocked);
  CHECK((*session)->identity().worker_id == kWorkerId);
  auto token = (*session)->has_device_token();
  REQUIRE(token.ok());
  CHECK(*token);

  // A second setup in the same place is refused before anything is redeemed.
  const std::string other = env.server.issue_code(worker_identity());
  request.enrollment_code = other;
  auto again = DeviceSession::setup(env.options(), kPin, request);
  CHECK(again.code() == Errc::already_exists);
  CHECK(env.server.enroll_posts == 1);
}

TEST_CASE("device session: a failure after the vault exists erases it and says so",
          "[session][security]") {
  Env env;
  SECTION("the server refuses the code") {
    SetupRequest request;
    request.enrollment_code = "NOT-A-CODE";
    auto session = DeviceSession::setup(env.options(), kPin, request);
    CHECK(session.code() == Errc::unauthenticated);
    CHECK(session.status().message().find("not valid") != std::string::npos);
    CHECK(session.status().message().find("erased") != std::string::npos);
  }
  SECTION("the host cannot keep its configuration: the enrolled device is reported wiped") {
    SetupRequest request;
    request.enrollment_code = env.server.issue_code(worker_identity());
    request.commit = [](const Identity&) { return Status(Errc::disk_full, "device.conf"); };
    auto session = DeviceSession::setup(env.options(), kPin, request);
    CHECK(session.code() == Errc::disk_full);
    CHECK(session.status().message().find("enrollment code is used up") != std::string::npos);
    const auto* device = env.server.device(worker_identity().device_id);
    REQUIRE(device != nullptr);
    CHECK(device->reported_wiped);
    CHECK(Vault::pending_wipe_reports(env.dir / "case.db").empty());
  }
  SECTION("the identity is not valid: nothing is redeemed and nothing stays") {
    auto session = DeviceSession::setup(env.options(Identity{"not-a-worker-id", "tablet"}), kPin,
                                        SetupRequest{});
    CHECK(session.code() == Errc::invalid_argument);
    CHECK(session.status().message().find("erased") != std::string::npos);
    CHECK(env.server.enroll_posts == 0);
  }
  // Nothing claims to be a workspace: a new setup works in the same place.
  CHECK_FALSE(fs::exists(env.dir / "case.db"));
  CHECK_FALSE(fs::exists(env.dir / "case.db.wiped"));
  auto opened = DeviceSession::open(env.options());
  CHECK(opened.code() == Errc::not_found);
  env.enroll();
}

TEST_CASE("device session: wrong PINs count down to the erase", "[session][security]") {
  Env env;
  auto session = env.enroll();
  add_child(*session);
  session.reset();
  auto opened = DeviceSession::open(env.options());
  REQUIRE(opened.ok());
  DeviceSession& s = **opened;
  CHECK(s.state() == SessionState::locked);
  CHECK(s.records().code() == Errc::locked);
  CHECK(s.attempts_left() == 3);

  // An unlocked session still checks the PIN: a wrong one leaves it locked.
  REQUIRE(s.unlock(kPin).ok());
  CHECK(s.state() == SessionState::unlocked);
  auto wrong = s.unlock("975318");
  CHECK(wrong.code() == Errc::wrong_pin);
  CHECK(wrong.message().find("attempts left") != std::string::npos);
  CHECK(s.state() == SessionState::locked);
  CHECK(s.attempts_left() == 2);
  CHECK(s.snapshot().attempts_left == 2);
  CHECK(s.unlock("975319").code() == Errc::wrong_pin);
  CHECK(s.attempts_left() == 1);
  CHECK(s.unlock("975310").code() == Errc::wiped);
  CHECK(s.state() == SessionState::wiped);
  CHECK(s.snapshot().state == SessionState::wiped);
  CHECK(s.unlock(kPin).code() == Errc::wiped);
  CHECK(s.records().code() == Errc::wiped);
  CHECK_FALSE(fs::exists(env.dir / "case.db"));
  CHECK(std::find(env.log.begin(), env.log.end(), "unlock failed: wrong_pin") != env.log.end());

  // Opened again it stays erased, and its next contact tells the server.
  auto reopened = DeviceSession::open(env.options());
  REQUIRE(reopened.ok());
  CHECK((*reopened)->state() == SessionState::wiped);
  auto synced = (*reopened)->sync();
  CHECK(synced.code() == Errc::wiped);
  CHECK(synced.status().message().find("the server has been told") != std::string::npos);
  CHECK(env.server.device(worker_identity().device_id)->reported_wiped);
  CHECK(env.server.sync_posts == 0);
}

TEST_CASE("device session: idle lock", "[session]") {
  Env env;
  auto s = env.enroll();
  REQUIRE(s->records().ok());
  env.clock.advance(std::chrono::seconds(200));
  CHECK_FALSE(s->poll_idle());
  REQUIRE(s->records().ok());  // activity restarts the idle time
  env.clock.advance(std::chrono::seconds(301));
  CHECK(s->poll_idle());
  CHECK(s->state() == SessionState::locked);
  CHECK(s->snapshot().state == SessionState::locked);
  CHECK(s->records().code() == Errc::locked);
  REQUIRE(s->unlock(kPin).ok());
  // Noticed by records() too, without a timer.
  env.clock.advance(std::chrono::seconds(301));
  CHECK(s->records().code() == Errc::locked);
  CHECK(s->state() == SessionState::locked);
}

TEST_CASE("device session: sync through the session records the contact", "[session][sync]") {
  Env env;
  env.server.offline_limit_days = 14;
  auto s = env.enroll();
  add_child(*s);
  add_child(*s);
  std::vector<SyncProgress> progress;
  auto report = s->sync([&](const SyncProgress& p) { progress.push_back(p); });
  INFO(report.status().message());
  REQUIRE(report.ok());
  CHECK(report->accepted == 2);
  CHECK_FALSE(report->wipe_requested);
  REQUIRE_FALSE(progress.empty());
  CHECK(progress.back().transactions_total == 2);
  auto pending = (*s->records())->pending_transactions();
  REQUIRE(pending.ok());
  CHECK(*pending == 0);
  auto contact = s->contact();
  REQUIRE(contact.ok());
  CHECK(contact->offline_limit_days == 14);
  CHECK(contact->last == env.clock.wall());

  SECTION("offline: fails fast without calling the transport") {
    env.server.sync_posts = 0;
    auto o = env.options();
    o.services.online = [] { return false; };
    s.reset();
    auto reopened = DeviceSession::open(o);
    REQUIRE(reopened.ok());
    REQUIRE((*reopened)->unlock(kPin).ok());
    auto offline = (*reopened)->sync();
    CHECK(offline.code() == Errc::io);
    CHECK(env.server.sync_posts == 0);
  }
  SECTION("unreachable: the work stays waiting") {
    env.server.online = false;
    add_child(*s);
    CHECK(s->sync().code() == Errc::io);
    CHECK(*s->changes_waiting() == 1);
    CHECK(*(*s->records())->pending_transactions() == 1);
  }
  SECTION("out of contact past the limit: only sync works, and lifts the lock") {
    env.clock.advance(std::chrono::hours(24 * 15));
    REQUIRE(s->unlock(kPin).ok());
    CHECK(s->records().code() == Errc::offline_locked);
    CHECK(*s->changes_waiting() == 0);  // the sync state stays visible
    REQUIRE(s->sync().ok());
    CHECK(s->records().ok());
  }
  SECTION("cancelled before a round") {
    add_child(*s);
    auto cancelled = s->sync([&](const SyncProgress&) { s->cancel_sync(); });
    // The one round finished; the run stops before the next (there is none left here), or says
    // it was cancelled: either way nothing is lost.
    CHECK((cancelled.ok() || cancelled.code() == Errc::cancelled));
    REQUIRE(s->sync().ok());  // cancelling is not sticky
    CHECK(*(*s->records())->pending_transactions() == 0);
  }
}

TEST_CASE("device session: a wipe instruction erases the data, and the server is told",
          "[session][security]") {
  Env env;
  auto s = env.enroll();
  add_child(*s);
  REQUIRE(s->sync().ok());
  env.server.revoke(worker_identity().device_id);
  auto report = s->sync();
  INFO(report.status().message());
  REQUIRE(report.ok());
  CHECK(report->wipe_requested);
  CHECK(report->device_revoked);
  CHECK(s->state() == SessionState::wiped);
  CHECK(s->records().code() == Errc::wiped);
  CHECK_FALSE(fs::exists(env.dir / "case.db"));
  CHECK(env.server.device(worker_identity().device_id)->reported_wiped);
  CHECK(Vault::pending_wipe_reports(env.dir / "case.db").empty());
  // Nothing is left to report.
  auto again = s->sync();
  CHECK(again.code() == Errc::wiped);
  CHECK(again.status().message().find("has been told") == std::string::npos);
}

TEST_CASE("device session: a wipe on the device is reported at the next contact",
          "[session][security]") {
  Env env;
  auto s = env.enroll();
  REQUIRE(s->sync().ok());
  env.server.online = false;
  REQUIRE(s->wipe("lost tablet").ok());
  CHECK(s->state() == SessionState::wiped);
  CHECK(s->sync().code() == Errc::wiped);  // unreachable: the report waits
  CHECK(Vault::pending_wipe_reports(env.dir / "case.db").size() == 1);
  env.server.online = true;
  auto reported = s->report_wipes();
  REQUIRE(reported.ok());
  CHECK(*reported == 1);
  CHECK(env.server.device(worker_identity().device_id)->reported_wiped);
}

TEST_CASE("device session: a workspace created again where one was erased must enroll again",
          "[session][security]") {
  Env env;
  auto s = env.enroll();
  REQUIRE(s->sync().ok());
  env.server.online = false;
  REQUIRE(s->wipe("lost tablet").ok());
  s.reset();
  env.server.online = true;

  // Created again with a known identity but no token: it cannot sync until it enrolls; its
  // first attempt still reports the erased vault.
  auto created = DeviceSession::setup(env.options(), kPin, SetupRequest{});
  REQUIRE(created.ok());
  auto token = (*created)->has_device_token();
  REQUIRE(token.ok());
  CHECK_FALSE(*token);
  auto refused = (*created)->sync();
  CHECK(refused.code() == Errc::not_found);
  CHECK(refused.status().message().find("no device token") != std::string::npos);
  CHECK(env.server.device(worker_identity().device_id)->reported_wiped);
  CHECK(env.server.sync_posts == 1);  // the sync before the wipe only
}

TEST_CASE("device session: an erased workspace is replaced by a new setup, which stays erased "
          "when that setup fails",
          "[session][security]") {
  Env env;
  auto s = env.enroll();
  REQUIRE(s->wipe("lost tablet").ok());
  s.reset();

  SetupRequest bad;
  bad.enrollment_code = "NOT-A-CODE";
  CHECK(DeviceSession::setup(env.options(), kPin, bad).code() == Errc::unauthenticated);
  auto still = DeviceSession::open(env.options());
  REQUIRE(still.ok());
  CHECK((*still)->state() == SessionState::wiped);
  still.value().reset();

  Identity next = worker_identity();
  next.device_id = "tablet-w2";
  auto replaced = env.enroll(next);
  CHECK(replaced->identity().device_id == "tablet-w2");
  REQUIRE(replaced->sync().ok());
  // The erased vault's token was reported at that first contact; the new device is active.
  CHECK(env.server.device(worker_identity().device_id)->reported_wiped);
  CHECK_FALSE(env.server.device("tablet-w2")->revoked);
}
