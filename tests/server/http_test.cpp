// The real fieldcase-server process on a loopback port: admin commands, gzip in both
// directions, the documented HTTP statuses and error bodies, and a clean stop on SIGTERM.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "fieldcase/ids.hpp"
#include "fieldcase/platform/http_transport.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/http_server.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/server/sync_service.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "server_process.hpp"
#include "temp_dir.hpp"

namespace {

// Milliseconds of the system clock (the real server's): what a device's stamps are made of.
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using namespace fieldcase;
using namespace fieldcase::test;

std::string gzip(const std::string& data) {
  auto gz = fieldcase::platform::gzip_compress(data);
  REQUIRE(gz.ok());
  return *gz;
}

std::string gunzip(const std::string& data) {
  auto plain = fieldcase::platform::gzip_decompress(data, 256u << 20);
  REQUIRE(plain.ok());
  return *plain;
}

std::string error_code(const std::string& body) {
  auto pos = body.find("\"code\":\"");
  if (pos == std::string::npos) return {};
  pos += 8;
  return body.substr(pos, body.find('"', pos) - pos);
}

}  // namespace

TEST_CASE("server http: the real process answers sync over gzip with the documented statuses",
          "[sync][http]") {
  test::TempDir dir;
  admin(dir, {"authority", "create", "--name", "City", "--la-code", "123"});
  const std::string area = admin(dir, {"area", "create", "--name", "North"});
  const std::string team = admin(dir, {"team", "create", "--name", "Team 1", "--area", area});
  const std::string worker =
      admin(dir, {"worker", "create", "--name", "Ann", "--role", "social_worker", "--team", team});
  const std::string issued = admin(dir, {"device", "issue", "--worker", worker});
  REQUIRE(issued.find(' ') != std::string::npos);
  const std::string device_id = issued.substr(0, issued.find(' '));
  const std::string token = issued.substr(issued.find(' ') + 1);
  REQUIRE(token.size() == 43);
  const std::string child = new_uuid_v7(SystemClock::instance());
  Run allocated = run_binary({"admin", "--database", (dir / "server.db").string(), "allocate",
                              "--case", child, "--worker", worker},
                             dir);
  CHECK(allocated.exit_code == 0);
  CHECK(allocated.out == "case " + child + " allocated to worker " + worker + "\n");

  ServerProcess server(dir, {"FIELDCASE_MAX_BODY_BYTES=65536"});
  CHECK_THAT(server.first_line(), Catch::StartsWith("fieldcase-server ") &&
                                      Catch::Contains(" listening on http://127.0.0.1:"));
  httplib::Client cli("127.0.0.1", server.port());
  cli.set_decompress(false);
  cli.set_read_timeout(10, 0);
  const httplib::Headers auth{{"Authorization", "Bearer " + token}};

  auto health = cli.Get("/v1/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK_THAT(health->body, Catch::Contains("\"status\":\"ok\""));
  auto ready = cli.Get("/v1/ready");  // the SQLite file answers and its schema is current
  REQUIRE(ready);
  CHECK(ready->status == 200);

  // A gzip-compressed request with one transaction, answered in gzip.
  const std::string now = format_iso_datetime(std::chrono::system_clock::now());
  auto op = [&](FieldChange::Op kind_of_op, const std::string& field, Value value) {
    sync::Op o;
    o.op_id = new_uuid_v7(SystemClock::instance());
    o.op = kind_of_op;
    o.record_id = child;
    o.kind = RecordKind::child;
    o.case_id = child;
    o.field = field;
    o.value = std::move(value);
    static std::uint32_t counter = 0;
    o.hlc = HlcStamp{now_ms(), ++counter, device_id}.to_string();
    o.at = now;
    return o;
  };
  sync::SyncRequest req;
  req.device_time = now;
  sync::Transaction tx;
  tx.tx_id = new_uuid_v7(SystemClock::instance());
  tx.ops = {op(FieldChange::Op::create, "", {}),
            op(FieldChange::Op::set, "local_id", std::string("C-1")),
            op(FieldChange::Op::set, "first_name", std::string("Alex")),
            op(FieldChange::Op::set, "last_name", std::string("Smith")),
            op(FieldChange::Op::set, "gender", std::string("1")),
            op(FieldChange::Op::set, "date_of_birth", std::string("2015-03-02"))};
  sync::Transaction invalid;
  invalid.tx_id = new_uuid_v7(SystemClock::instance());
  invalid.ops = {op(FieldChange::Op::set, "gender", std::string("X"))};
  req.transactions = {tx, invalid};
  httplib::Headers gz = auth;
  gz.emplace("Content-Encoding", "gzip");
  gz.emplace("Accept-Encoding", "gzip");
  auto res = cli.Post("/v1/sync", gz, gzip(sync::encode(req)), "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Encoding") == "gzip");
  auto answer = sync::decode_response(gunzip(res->body));
  REQUIRE(answer.ok());
  CHECK(answer->accepted == std::vector<std::string>{tx.tx_id});
  REQUIRE(answer->rejected.size() == 1);
  CHECK(answer->rejected[0].code == "validation");
  CHECK(answer->cursor > 0);

  // Retrying the same request is harmless: the same answer, nothing applied twice.
  auto retry = cli.Post("/v1/sync", auth, sync::encode(req), "application/json");
  REQUIRE(retry);
  CHECK(retry->status == 200);
  CHECK(retry->get_header_value("Content-Encoding").empty());
  auto again = sync::decode_response(retry->body);
  REQUIRE(again.ok());
  CHECK(again->accepted == answer->accepted);
  CHECK(again->rejected.size() == 1);

  // 401: no token, or a token the server does not know.
  auto no_token = cli.Post("/v1/sync", sync::encode(req), "application/json");
  REQUIRE(no_token);
  CHECK(no_token->status == 401);
  CHECK(error_code(no_token->body) == "unauthenticated");
  auto wrong = cli.Post("/v1/sync", {{"Authorization", "Bearer " + std::string(43, 'A')}},
                        sync::encode(req), "application/json");
  REQUIRE(wrong);
  CHECK(wrong->status == 401);

  // 400: malformed JSON, wrong types, unknown kinds, invalid UTF-8, another protocol, bad gzip.
  const std::string t = "\"device_time\":\"" + now + "\"";
  for (const auto& [body, code] : std::vector<std::pair<std::string, std::string>>{
           {"{\"protocol\":1,", "bad_request"},
           {"{\"protocol\":1," + t + ",\"cursor\":\"zero\"}", "bad_request"},
           {"{\"protocol\":1," + t + ",\"cursor\":0,\"transactions\":[{\"tx_id\":\"" + tx.tx_id +
                "\",\"ops\":[{\"op_id\":\"" + tx.ops[0].op_id +
                "\",\"op\":\"create\",\"record_id\":\"" + child +
                "\",\"kind\":\"spaceship\",\"hlc\":\"" + tx.ops[0].hlc + "\",\"at\":\"" + now +
                "\"}]}]}",
            "bad_request"},
           {"{\"protocol\":1," + t + ",\"cursor\":0,\"x\":\"\xff\xfe\"}", "bad_request"},
           {"{\"protocol\":2," + t + ",\"cursor\":0}", "unsupported_protocol"}}) {
    INFO(body);
    auto r = cli.Post("/v1/sync", auth, body, "application/json");
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(error_code(r->body) == code);
  }
  httplib::Headers bad_gz = auth;
  bad_gz.emplace("Content-Encoding", "gzip");
  auto not_gzip = cli.Post("/v1/sync", bad_gz, "this is not gzip", "application/json");
  REQUIRE(not_gzip);
  CHECK(not_gzip->status == 400);
  CHECK(error_code(not_gzip->body) == "bad_request");

  // 413: a body over the limit, and a small gzip body that expands over it.
  auto big = cli.Post("/v1/sync", auth, std::string(100'000, ' '), "application/json");
  REQUIRE(big);
  CHECK(big->status == 413);
  CHECK(error_code(big->body) == "too_large");
  const std::string bomb = gzip("{\"pad\":\"" + std::string(1'000'000, 'a') + "\"}");
  REQUIRE(bomb.size() < 65536);
  auto expanded = cli.Post("/v1/sync", bad_gz, bomb, "application/json");
  REQUIRE(expanded);
  CHECK(expanded->status == 413);
  CHECK(error_code(expanded->body) == "too_large");

  // Unknown paths get the JSON error body too.
  auto missing = cli.Get("/v1/nothing");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(error_code(missing->body) == "not_found");

  // A revoked device is refused and told to wipe.
  CHECK(admin(dir, {"device", "revoke", "--device", device_id}).empty());  // --quiet
  auto wiped = cli.Post("/v1/sync", auth,
                        sync::encode(sync::SyncRequest{sync::kProtocolVersion, now, 0, 10, {}}),
                        "application/json");
  REQUIRE(wiped);
  CHECK(wiped->status == 403);
  auto wipe = sync::decode_error(wiped->body);
  REQUIRE(wipe.ok());
  CHECK(wipe->code == "device_revoked");
  REQUIRE(wipe->instructions.size() == 1);
  CHECK(wipe->instructions[0].type == sync::Instruction::Type::wipe);

  CHECK(server.stop() == 0);
  const std::string log = server.stderr_text();
  CHECK_THAT(log, Catch::Contains("POST /v1/sync 200"));
  CHECK_THAT(log, Catch::Contains("stopped"));
  CHECK(log.find(token) == std::string::npos);
}

TEST_CASE("server http: admin commands report usage errors and failures", "[sync][http]") {
  test::TempDir dir;
  const std::string db = (dir / "server.db").string();
  Run help = run_binary({"admin", "--help"}, dir);
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::Contains("device issue --worker WORKER_ID"));
  Run no_cmd = run_binary({"admin", "--database", db}, dir);
  CHECK(no_cmd.exit_code == 2);
  CHECK_THAT(no_cmd.err, Catch::Contains("admin needs a command"));
  Run missing = run_binary({"admin", "--database", db, "team", "create", "--name", "T"}, dir);
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("--area is required"));
  Run bad_role = run_binary(
      {"admin", "--database", db, "worker", "create", "--name", "X", "--role", "wizard"}, dir);
  CHECK(bad_role.exit_code == 2);
  Run unknown = run_binary({"admin", "--database", db, "device", "issue", "--worker",
                            "01890a5d-ac96-774b-bcce-b302099a8057"},
                           dir);
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.err, Catch::Contains("no worker"));
  CHECK(unknown.out.empty());
  Run bad_option = run_binary({"serve", "--port", "1"}, dir);
  CHECK(bad_option.exit_code == 2);
  Run bad_listen = run_binary({"serve", "--listen", "nowhere"}, dir);
  CHECK(bad_listen.exit_code == 2);
}

TEST_CASE("server http: work acknowledged before a SIGKILL survives and a retry is not doubled",
          "[sync][http]") {
  test::TempDir dir;
  admin(dir, {"authority", "create", "--name", "City", "--la-code", "123"});
  const std::string area = admin(dir, {"area", "create", "--name", "North"});
  const std::string team = admin(dir, {"team", "create", "--name", "Team 1", "--area", area});
  const std::string worker =
      admin(dir, {"worker", "create", "--name", "Ann", "--role", "social_worker", "--team", team});
  const std::string issued = admin(dir, {"device", "issue", "--worker", worker});
  const std::string device_id = issued.substr(0, issued.find(' '));
  const std::string token = issued.substr(issued.find(' ') + 1);
  const std::string child = new_uuid_v7(SystemClock::instance());
  CHECK(admin(dir, {"allocate", "--case", child, "--worker", worker}).empty());

  const std::string now = format_iso_datetime(std::chrono::system_clock::now());
  sync::SyncRequest req;
  req.device_time = now;
  sync::Transaction tx;
  tx.tx_id = new_uuid_v7(SystemClock::instance());
  std::uint32_t counter = 0;
  auto op = [&](FieldChange::Op o, const std::string& field, Value value) {
    sync::Op x;
    x.op_id = new_uuid_v7(SystemClock::instance());
    x.op = o;
    x.record_id = child;
    x.kind = RecordKind::child;
    x.case_id = child;
    x.field = field;
    x.value = std::move(value);
    x.hlc = HlcStamp{now_ms(), ++counter, device_id}.to_string();
    x.at = now;
    return x;
  };
  tx.ops = {op(FieldChange::Op::create, "", {}),
            op(FieldChange::Op::set, "local_id", std::string("C-2")),
            op(FieldChange::Op::set, "first_name", std::string("Sam")),
            op(FieldChange::Op::set, "last_name", std::string("Lee")),
            op(FieldChange::Op::set, "gender", std::string("2")),
            op(FieldChange::Op::set, "date_of_birth", std::string("2016-07-01"))};
  req.transactions = {tx};
  const httplib::Headers auth{{"Authorization", "Bearer " + token}};
  {
    ServerProcess server(dir, {});
    httplib::Client cli("127.0.0.1", server.port());
    auto res = cli.Post("/v1/sync", auth, sync::encode(req), "application/json");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    server.crash();  // the answer was received; the process dies at once
  }
  {
    ServerProcess server(dir, {});
    httplib::Client cli("127.0.0.1", server.port());
    auto res = cli.Post("/v1/sync", auth, sync::encode(req), "application/json");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    auto answer = sync::decode_response(res->body);
    REQUIRE(answer.ok());
    CHECK(answer->accepted == std::vector<std::string>{tx.tx_id});
    CHECK(server.stop() == 0);
  }
  auto store = server::SqliteServerStore::open(dir / "server.db");
  REQUIRE(store.ok());
  auto st = (*store)->store().prepare("SELECT COUNT(*) FROM change_log WHERE tx_id = ?1");
  REQUIRE(st.ok());
  st->bind(1, tx.tx_id);
  auto row = st->step();
  REQUIRE(row.ok());
  REQUIRE(*row);
  CHECK(st->column_int(0) == static_cast<std::int64_t>(tx.ops.size()));
}

TEST_CASE("server http: concurrent devices are all served and nothing is lost", "[sync][http]") {
  test::TempDir dir;
  auto opened = server::SqliteServerStore::open(dir / "server.db");
  REQUIRE(opened.ok());
  auto& store = **opened;
  server::Admin admin(store, SystemClock::instance());
  server::SyncService service(store, SystemClock::instance());
  REQUIRE(admin.create_authority("City", "123").ok());
  auto area = admin.create_area("North");
  REQUIRE(area.ok());
  auto team = admin.create_team("T", *area);
  REQUIRE(team.ok());
  constexpr int kDevices = 6, kRequests = 10;
  std::vector<std::string> tokens, device_ids, children;
  for (int i = 0; i < kDevices; ++i) {
    auto w = admin.create_worker("W" + std::to_string(i), Role::social_worker, *team);
    REQUIRE(w.ok());
    auto d = admin.issue_device(*w);
    REQUIRE(d.ok());
    tokens.push_back(d->token);
    device_ids.push_back(d->device_id);
    children.push_back(new_uuid_v7(SystemClock::instance()));
    REQUIRE(admin.allocate(children.back(), *w).ok());
  }
  server::HttpOptions options;
  options.threads = 4;
  options.log_requests = false;
  server::HttpServer http(service, SystemClock::instance(), options);
  auto port = http.bind("127.0.0.1", 0);
  REQUIRE(port.ok());
  Status served;
  std::thread serving([&] { served = http.run(); });  // assertions stay on this thread

  std::vector<int> failures(kDevices, 0);
  std::vector<std::thread> clients;
  for (int i = 0; i < kDevices; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client cli("127.0.0.1", *port);
      std::uint32_t counter = 0;
      for (int r = 0; r < kRequests; ++r) {
        const std::string now = format_iso_datetime(std::chrono::system_clock::now());
        sync::SyncRequest req;
        req.device_time = now;
        sync::Transaction tx;
        tx.tx_id = new_uuid_v7(SystemClock::instance());
        auto op = [&](FieldChange::Op o, const std::string& field, Value value) {
          sync::Op x;
          x.op_id = new_uuid_v7(SystemClock::instance());
          x.op = o;
          x.record_id = children[i];
          x.kind = RecordKind::child;
          x.case_id = children[i];
          x.field = field;
          x.value = std::move(value);
          x.hlc = HlcStamp{now_ms(), ++counter, device_ids[i]}.to_string();
          x.at = now;
          return x;
        };
        if (r == 0) {
          tx.ops = {op(FieldChange::Op::create, "", {}),
                    op(FieldChange::Op::set, "local_id", std::string("C")),
                    op(FieldChange::Op::set, "first_name", std::string("A")),
                    op(FieldChange::Op::set, "gender", std::string("1")),
                    op(FieldChange::Op::set, "date_of_birth", std::string("2015-01-01"))};
        }
        tx.ops.push_back(
            op(FieldChange::Op::set, "last_name", std::string("N") + std::to_string(r)));
        req.transactions = {tx};
        auto res = cli.Post("/v1/sync", {{"Authorization", "Bearer " + tokens[i]}},
                            sync::encode(req), "application/json");
        auto answer = res && res->status == 200 ? sync::decode_response(res->body)
                                                : Result<sync::SyncResponse>(Errc::io, "");
        if (!answer.ok() || answer->accepted.size() != 1) ++failures[i];
      }
    });
  }
  for (auto& c : clients) c.join();
  http.stop();
  serving.join();
  CHECK(served.ok());
  for (int i = 0; i < kDevices; ++i) {
    INFO("device " << i);
    CHECK(failures[i] == 0);
    auto child = store.find_record(children[i]);
    REQUIRE(child.ok());
    REQUIRE(child->has_value());
    CHECK((*child)->fields.at("last_name").value ==
          Value{std::string("N") + std::to_string(kRequests - 1)});
  }
  auto st = store.store().prepare("SELECT COUNT(*) FROM sync_transaction");
  REQUIRE(st.ok());
  REQUIRE(*st->step());
  CHECK(st->column_int(0) == kDevices * kRequests);
}
