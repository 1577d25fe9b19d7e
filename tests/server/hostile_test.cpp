// Hostile input against the real fieldcase-server process while an honest device keeps syncing:
// forged, malformed and replayed tokens, a revoked device's token, another team's case ids,
// path traversal in attachment names, SQL metacharacters and control characters in every string
// field, deeply nested, oversized and invalid UTF-8 bodies, slow-drip requests and a request
// flood. Each is refused with its documented status and error code and audited; the honest
// device's syncs all succeed meanwhile.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fieldcase/ids.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "server_process.hpp"

using namespace fieldcase;
using namespace fieldcase::test;

namespace {

std::string now_text() { return format_iso_datetime(std::chrono::system_clock::now()); }

std::string error_code(const std::string& body) {
  auto e = sync::decode_error(body);
  return e.ok() ? e->code : std::string();
}

// A device as the hostile tests drive it: its token and a counter for its clock stamps.
struct Dev {
  std::string id;
  std::string token;
  std::string name;
  std::uint32_t counter = 0;

  sync::Op op(FieldChange::Op kind_of_op, RecordKind kind, const std::string& record,
              const std::string& case_id, const std::string& field = {}, Value value = {}) {
    sync::Op o;
    o.op_id = new_uuid_v7(SystemClock::instance());
    o.op = kind_of_op;
    o.record_id = record;
    o.kind = kind;
    o.case_id = case_id;
    o.field = field;
    o.value = std::move(value);
    // A device stamps with its own id, on (about) the server's clock.
    o.hlc = HlcStamp{std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count(),
                     ++counter, id}
                .to_string();
    o.at = now_text();
    return o;
  }
  sync::Transaction child_tx(const std::string& child, const std::string& last_name = "Smith") {
    sync::Transaction tx;
    tx.tx_id = new_uuid_v7(SystemClock::instance());
    tx.ops = {
        op(FieldChange::Op::create, RecordKind::child, child, child),
        op(FieldChange::Op::set, RecordKind::child, child, child, "local_id", std::string("C-1")),
        op(FieldChange::Op::set, RecordKind::child, child, child, "first_name",
           std::string("Alex")),
        op(FieldChange::Op::set, RecordKind::child, child, child, "last_name", last_name),
        op(FieldChange::Op::set, RecordKind::child, child, child, "gender", std::string("1")),
        op(FieldChange::Op::set, RecordKind::child, child, child, "date_of_birth",
           std::string("2015-03-02"))};
    return tx;
  }
};

std::string request_of(std::vector<sync::Transaction> txs, std::int64_t cursor = 0) {
  sync::SyncRequest req;
  req.device_time = now_text();
  req.cursor = cursor;
  req.transactions = std::move(txs);
  return sync::encode(req);
}

Dev issue(const TempDir& dir, const std::string& worker, const std::string& name) {
  const std::string issued = admin(dir, {"device", "issue", "--worker", worker});
  return Dev{issued.substr(0, issued.find(' ')), issued.substr(issued.find(' ') + 1), name};
}

// A raw TCP connection for requests that httplib would not send (slow drip).
struct RawConnection {
  int fd = -1;
  explicit RawConnection(int port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~RawConnection() { close(fd); }
  bool send_text(const std::string& text) {
    return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  }
  // Everything the server sends until it closes the connection (or `limit` passes).
  std::string read_until_closed(std::chrono::seconds limit) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return got;
      got.append(buf, static_cast<std::size_t>(n));
    }
    return got + "\n<still open>";
  }
};

}  // namespace

TEST_CASE("hostile input is refused and audited while an honest device syncs", "[security]") {
  TempDir dir;
  admin(dir, {"authority", "create", "--name", "City", "--la-code", "123"});
  const std::string area = admin(dir, {"area", "create", "--name", "North"});
  const std::string team_a = admin(dir, {"team", "create", "--name", "A", "--area", area});
  const std::string team_b = admin(dir, {"team", "create", "--name", "B", "--area", area});
  auto worker = [&](const std::string& name, const std::string& team) {
    return admin(dir,
                 {"worker", "create", "--name", name, "--role", "social_worker", "--team", team});
  };
  const std::string ann = worker("Ann", team_a), hal = worker("Hal", team_a),
                    rex = worker("Rex", team_a), bob = worker("Bob", team_b);
  Dev honest = issue(dir, ann, "honest"), hostile = issue(dir, hal, "hostile"),
      stolen = issue(dir, rex, "stolen"), other = issue(dir, bob, "other"),
      flood = issue(dir, hal, "flood");
  const std::string honest_child = new_uuid_v7(SystemClock::instance());
  const std::string hostile_child = new_uuid_v7(SystemClock::instance());
  const std::string stolen_child = new_uuid_v7(SystemClock::instance());
  const std::string other_child = new_uuid_v7(SystemClock::instance());
  admin(dir, {"allocate", "--case", honest_child, "--worker", ann});
  admin(dir, {"allocate", "--case", hostile_child, "--worker", hal});
  admin(dir, {"allocate", "--case", stolen_child, "--worker", rex});
  admin(dir, {"allocate", "--case", other_child, "--worker", bob});

  ServerProcess server(dir,
                       {"FIELDCASE_MAX_BODY_BYTES=262144", "FIELDCASE_READ_TIMEOUT_SECONDS=2",
                        "FIELDCASE_BODY_DEADLINE_SECONDS=2", "FIELDCASE_RATE_LIMIT_PER_MINUTE=300",
                        "FIELDCASE_RATE_LIMIT_BURST=100"});
  REQUIRE_FALSE(server.exited());
  const int port = server.port();
  auto post = [&](const std::string& token, const std::string& body, httplib::Headers extra = {}) {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(20, 0);
    if (!token.empty()) extra.emplace("Authorization", "Bearer " + token);
    auto res = cli.Post("/v1/sync", extra, body, "application/json");
    REQUIRE(res);
    return std::make_pair(res->status, res->body);
  };

  // Setup: each device's own child exists on the server.
  for (auto* d : {&hostile, &stolen, &other}) {
    const std::string& child = d == &hostile  ? hostile_child
                               : d == &stolen ? stolen_child
                                              : other_child;
    auto [status, body] = post(d->token, request_of({d->child_tx(child)}));
    INFO(body);
    REQUIRE(status == 200);
  }

  // The honest device syncs in a loop on its own thread for the whole test.
  std::atomic<bool> stop{false};
  std::atomic<int> honest_ok{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  std::thread honest_thread([&] {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(20, 0);
    const httplib::Headers auth{{"Authorization", "Bearer " + honest.token}};
    int round = 0;
    while (!stop.load()) {
      sync::Transaction tx;
      if (round == 0) {
        tx = honest.child_tx(honest_child);
      } else {
        tx.tx_id = new_uuid_v7(SystemClock::instance());
        tx.ops = {honest.op(FieldChange::Op::set, RecordKind::child, honest_child, honest_child,
                            "last_name", std::string("N") + std::to_string(round))};
      }
      auto res = cli.Post("/v1/sync", auth, request_of({tx}), "application/json");
      std::string problem;
      if (!res) {
        problem = "no answer: " + httplib::to_string(res.error());
      } else if (res->status != 200) {
        problem = "status " + std::to_string(res->status) + ": " + res->body;
      } else {
        auto answer = sync::decode_response(res->body);
        if (!answer.ok() || answer->accepted != std::vector<std::string>{tx.tx_id}) {
          problem = "not accepted: " + res->body.substr(0, 300);
        }
      }
      if (problem.empty()) {
        ++honest_ok;
      } else {
        std::lock_guard lock(failures_mu);
        failures.push_back("round " + std::to_string(round) + ": " + problem);
      }
      ++round;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });

  // --- Tokens: forged, malformed, missing, replayed, revoked ---
  const std::string empty_request = request_of({});
  CHECK(
      post("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", empty_request) ==
      std::make_pair(401, sync::encode_error("unauthenticated", "the device token is not valid")));
  for (const std::string& forged :
       {std::string("'; DROP TABLE device; --"), hostile.token.substr(0, 42) + "B",
        hostile.token + "A", std::string(5000, 'A')}) {
    auto [status, body] = post(forged, empty_request);
    CHECK(status == 401);
    CHECK(error_code(body) == "unauthenticated");
  }
  {
    auto [status, body] = post("", empty_request);
    CHECK(status == 401);
    CHECK(error_code(body) == "unauthenticated");
  }
  // A replayed request is answered as before and applied once.
  sync::Transaction replayed_tx;
  replayed_tx.tx_id = new_uuid_v7(SystemClock::instance());
  replayed_tx.ops = {hostile.op(FieldChange::Op::set, RecordKind::child, hostile_child,
                                hostile_child, "first_name", std::string("Sam"))};
  const std::string replayed = request_of({replayed_tx});
  for (int i = 0; i < 3; ++i) {
    auto [status, body] = post(hostile.token, replayed);
    REQUIRE(status == 200);
    auto answer = sync::decode_response(body);
    REQUIRE(answer.ok());
    CHECK(answer->accepted == std::vector<std::string>{replayed_tx.tx_id});
  }
  // The stolen device's token, replayed after the device is revoked, is refused with a wipe.
  sync::Transaction stolen_tx;
  stolen_tx.tx_id = new_uuid_v7(SystemClock::instance());
  stolen_tx.ops = {stolen.op(FieldChange::Op::set, RecordKind::child, stolen_child, stolen_child,
                             "first_name", std::string("Stolen"))};
  admin(dir, {"device", "revoke", "--device", stolen.id});
  {
    auto [status, body] = post(stolen.token, request_of({stolen_tx}));
    CHECK(status == 403);
    auto e = sync::decode_error(body);
    REQUIRE(e.ok());
    CHECK(e->code == "device_revoked");
    REQUIRE(e->instructions.size() == 1);
    CHECK(e->instructions[0].type == sync::Instruction::Type::wipe);
  }

  // --- Direct object references: another team's case ---
  {
    sync::Transaction tx;
    tx.tx_id = new_uuid_v7(SystemClock::instance());
    tx.ops = {hostile.op(FieldChange::Op::set, RecordKind::child, other_child, other_child,
                         "last_name", std::string("Overwritten"))};
    sync::Transaction note;
    note.tx_id = new_uuid_v7(SystemClock::instance());
    const std::string note_id = new_uuid_v7(SystemClock::instance());
    note.ops = {hostile.op(FieldChange::Op::create, RecordKind::case_note, note_id, other_child)};
    auto [status, body] = post(hostile.token, request_of({tx, note}));
    REQUIRE(status == 200);
    auto answer = sync::decode_response(body);
    REQUIRE(answer.ok());
    CHECK(answer->accepted.empty());
    REQUIRE(answer->rejected.size() == 2);
    for (const auto& r : answer->rejected) CHECK(r.code == "out_of_scope");
    // Pulling from the start shows nothing of that case.
    for (const auto& c : answer->changes) CHECK(c.case_id != other_child);
  }

  // --- Path traversal in attachment names ---
  for (const std::string& name :
       std::vector<std::string>{"../../etc/passwd", "..\\..\\boot.ini", "/etc/shadow",
                                "C:report.pdf", ".htaccess", "a\x01.jpg", "photo.jpg."}) {
    INFO(name);
    const std::string att = new_uuid_v7(SystemClock::instance());
    sync::Transaction tx;
    tx.tx_id = new_uuid_v7(SystemClock::instance());
    auto set = [&](const std::string& field, Value v) {
      tx.ops.push_back(hostile.op(FieldChange::Op::set, RecordKind::attachment, att, hostile_child,
                                  field, std::move(v)));
    };
    tx.ops.push_back(
        hostile.op(FieldChange::Op::create, RecordKind::attachment, att, hostile_child));
    set("parent_id", hostile_child);
    set("filename", name);
    set("media_type", std::string("image/jpeg"));
    set("size_bytes", std::int64_t{3});
    set("sha256", std::string(64, 'a'));
    auto [status, body] = post(hostile.token, request_of({tx}));
    REQUIRE(status == 200);
    auto answer = sync::decode_response(body);
    REQUIRE(answer.ok());
    REQUIRE(answer->rejected.size() == 1);
    CHECK(answer->rejected[0].code == "validation");
    CHECK_THAT(answer->rejected[0].reason, Catch::StartsWith("attachment.filename: "));
  }

  // --- SQL metacharacters and control characters in every string field ---
  const std::string sql = "x'); DROP TABLE change_log; --";
  const std::string control = "a\\u0000b\\u001b[2J";  // as JSON escapes
  const std::string base_op = hostile
                                  .op(FieldChange::Op::set, RecordKind::child, hostile_child,
                                      hostile_child, "first_name", std::string("Jo"))
                                  .hlc;
  auto op_json = [&](const std::map<std::string, std::string>& over) {
    std::map<std::string, std::string> m{{"op_id", new_uuid_v7(SystemClock::instance())},
                                         {"op", "set"},
                                         {"record_id", hostile_child},
                                         {"kind", "child"},
                                         {"case_id", hostile_child},
                                         {"field", "first_name"},
                                         {"hlc", base_op},
                                         {"base", ""},
                                         {"at", now_text()}};
    for (const auto& [k, v] : over) m[k] = v;
    std::string out = "{";
    for (const auto& [k, v] : m) out += "\"" + k + "\":\"" + v + "\",";
    return out + "\"value\":\"Jo\"}";
  };
  auto body_with = [&](const std::string& tx_id, const std::string& op,
                       const std::string& device_time) {
    return "{\"protocol\":1,\"device_time\":\"" + device_time +
           "\",\"cursor\":0,\"transactions\":[{\"tx_id\":\"" + tx_id + "\",\"ops\":[" + op + "]}]}";
  };
  for (const std::string& bad : {sql, control}) {
    INFO("bad text " << bad);
    // Identifier, code and time fields are refused by the decoder.
    for (const char* field : {"op_id", "op", "record_id", "kind", "case_id", "hlc", "base", "at"}) {
      INFO(field);
      auto [status, body] = post(hostile.token, body_with(new_uuid_v7(SystemClock::instance()),
                                                          op_json({{field, bad}}), now_text()));
      CHECK(status == 400);
      CHECK(error_code(body) == "bad_request");
    }
    for (const std::string& b :
         {body_with(bad, op_json({}), now_text()),
          body_with(new_uuid_v7(SystemClock::instance()), op_json({}), bad)}) {
      auto [status, body] = post(hostile.token, b);
      CHECK(status == 400);
      CHECK(error_code(body) == "bad_request");
    }
    // A field name is checked against the kind's schema.
    auto [status, body] = post(hostile.token, body_with(new_uuid_v7(SystemClock::instance()),
                                                        op_json({{"field", bad}}), now_text()));
    REQUIRE(status == 200);
    auto answer = sync::decode_response(body);
    REQUIRE(answer.ok());
    REQUIRE(answer->rejected.size() == 1);
    CHECK(answer->rejected[0].code == "validation");
  }
  // In a value: control characters are refused, SQL metacharacters are just text.
  {
    sync::Transaction ctl;
    ctl.tx_id = new_uuid_v7(SystemClock::instance());
    ctl.ops = {hostile.op(FieldChange::Op::set, RecordKind::child, hostile_child, hostile_child,
                          "last_name", std::string("Smith\x1b[2J"))};
    sync::Transaction quoted;
    quoted.tx_id = new_uuid_v7(SystemClock::instance());
    quoted.ops = {hostile.op(FieldChange::Op::set, RecordKind::child, hostile_child, hostile_child,
                             "last_name", sql)};
    auto [status, body] = post(hostile.token, request_of({ctl, quoted}));
    REQUIRE(status == 200);
    auto answer = sync::decode_response(body);
    REQUIRE(answer.ok());
    REQUIRE(answer->rejected.size() == 1);
    CHECK(answer->rejected[0].tx_id == ctl.tx_id);
    CHECK(answer->rejected[0].reason == "child.last_name: contains control characters");
    CHECK(answer->accepted == std::vector<std::string>{quoted.tx_id});
  }

  // --- Malformed bodies: deeply nested, oversized, invalid UTF-8, not JSON, bad gzip ---
  {
    const std::string nested =
        "{\"protocol\":1,\"x\":" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
    auto [status, body] = post(hostile.token, nested);
    CHECK(status == 400);
    CHECK(error_code(body) == "bad_request");
    CHECK_THAT(body, Catch::Contains("nested too deeply"));
  }
  {
    auto [status, body] = post(hostile.token, "{\"pad\":\"" + std::string(300'000, 'a') + "\"}");
    CHECK(status == 413);
    CHECK(error_code(body) == "too_large");
  }
  for (const std::string& b :
       {std::string("{\"protocol\":1,\"device_time\":\"\xc3\x28\",\"cursor\":0}"),
        std::string("{\"protocol\":1,\"device_time\":\"\xed\xa0\x80\",\"cursor\":0}"),
        std::string("not json at all"), std::string("{\"protocol\":1e400}"),
        std::string("{\"protocol\":1,\"cursor\":-1,\"device_time\":\"") + now_text() + "\"}"}) {
    auto [status, body] = post(hostile.token, b);
    CHECK(status == 400);
    CHECK(error_code(body) == "bad_request");
  }
  {
    auto [status, body] = post(hostile.token, "\x1f\x8b garbage", {{"Content-Encoding", "gzip"}});
    CHECK(status == 400);
    CHECK(error_code(body) == "bad_request");
  }

  // --- Slow drip: a body trickling in, every byte within the read timeout, is cut off ---
  {
    RawConnection raw(port);
    REQUIRE(raw.send_text("POST /v1/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                          hostile.token +
                          "\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"));
    const auto started = std::chrono::steady_clock::now();
    std::string answer;
    for (int i = 0; i < 100 && answer.empty(); ++i) {
      if (!raw.send_text("{")) break;  // the server closed the connection
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      pollfd p{raw.fd, POLLIN, 0};
      if (poll(&p, 1, 0) > 0) answer = raw.read_until_closed(std::chrono::seconds(5));
    }
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(took < std::chrono::seconds(8));
    CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 408") && Catch::Contains("\"timeout\""));
  }
  // Headers that stop arriving: the connection is closed after the read timeout.
  {
    RawConnection raw(port);
    REQUIRE(raw.send_text("POST /v1/sync HTTP/1.1\r\nHost: x\r\nAuthor"));
    const auto started = std::chrono::steady_clock::now();
    const std::string answer = raw.read_until_closed(std::chrono::seconds(10));
    CHECK(answer.find("<still open>") == std::string::npos);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(8));
  }

  // --- A request flood from one device is rate-limited; others are unaffected ---
  {
    int limited = 0;
    httplib::Client cli("127.0.0.1", port);
    const httplib::Headers auth{{"Authorization", "Bearer " + flood.token}};
    for (int i = 0; i < 300; ++i) {
      auto res = cli.Post("/v1/sync", auth, empty_request, "application/json");
      REQUIRE(res);
      if (res->status == 429) {
        ++limited;
        CHECK(error_code(res->body) == "rate_limited");
        CHECK_FALSE(res->get_header_value("Retry-After").empty());
      } else {
        CHECK(res->status == 200);
      }
    }
    CHECK(limited > 0);
    // Another device is not limited by the flood.
    auto [status, body] = post(hostile.token, empty_request);
    CHECK(status == 200);
  }

  // Let the honest device sync a little longer after the last attack.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  stop.store(true);
  honest_thread.join();
  {
    std::lock_guard lock(failures_mu);
    INFO(Catch::Detail::stringify(failures));
    CHECK(failures.empty());
  }
  CHECK(honest_ok.load() >= 5);
  CHECK(server.stop() == 0);
  const std::string log = server.stderr_text();
  for (const auto* d : {&honest, &hostile, &stolen}) CHECK(log.find(d->token) == std::string::npos);

  // Everything refused left an audit entry; nothing hostile reached the data.
  auto store = server::SqliteServerStore::open(dir / "server.db");
  REQUIRE(store.ok());
  for (const char* event : {"auth_failed", "wipe_sent", "out_of_scope", "tx_rejected",
                            "bad_request", "too_large", "request_timeout", "rate_limited"}) {
    INFO(event);
    auto events = (*store)->audit_events(event);
    REQUIRE(events.ok());
    CHECK_FALSE(events->empty());
  }
  auto bad = (*store)->audit_events("bad_request");
  REQUIRE(bad.ok());
  for (const auto& e : *bad) {
    CHECK((e.device_id == hostile.id || e.device_id.empty()));  // empty: unreadable gzip
    for (unsigned char c : e.detail) CHECK(c >= 0x20);
  }
  auto rejected = (*store)->audit_events("tx_rejected");
  REQUIRE(rejected.ok());
  for (const auto& e : *rejected) {
    for (unsigned char c : e.detail) CHECK(c >= 0x20);
  }
  auto other_record = (*store)->find_record(other_child);
  REQUIRE(other_record.ok());
  REQUIRE(other_record->has_value());
  CHECK((*other_record)->fields.at("last_name").value == Value{std::string("Smith")});
  auto stolen_record = (*store)->find_record(stolen_child);
  REQUIRE(stolen_record.ok());
  CHECK((*stolen_record)->fields.at("first_name").value == Value{std::string("Alex")});
  auto hostile_record = (*store)->find_record(hostile_child);
  REQUIRE(hostile_record.ok());
  CHECK((*hostile_record)->fields.at("last_name").value == Value{sql});
  auto st = (*store)->store().prepare("SELECT COUNT(*) FROM change_log WHERE tx_id = ?1");
  REQUIRE(st.ok());
  st->bind(1, replayed_tx.tx_id);
  REQUIRE(*st->step());
  CHECK(st->column_int(0) == 1);
}

TEST_CASE("a connection flood is refused at once instead of queueing behind slow clients",
          "[security]") {
  TempDir dir;
  ServerProcess server(dir, {"FIELDCASE_THREADS=1", "FIELDCASE_MAX_QUEUED_CONNECTIONS=0",
                             "FIELDCASE_READ_TIMEOUT_SECONDS=3"});
  REQUIRE_FALSE(server.exited());
  httplib::Client first("127.0.0.1", server.port());
  auto ok = first.Get("/v1/health");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  first.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    // A slow client takes the only connection thread (its head is complete, its body is not:
    // a client slow with its head holds no thread at all)...
    RawConnection slow(server.port());
    REQUIRE(slow.send_text("POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    // ...so the next connection is told at once to come back later.
    const auto started = std::chrono::steady_clock::now();
    httplib::Client next("127.0.0.1", server.port());
    next.set_read_timeout(10, 0);
    auto busy = next.Get("/v1/health");
    REQUIRE(busy);
    CHECK(busy->status == 503);
    CHECK(error_code(busy->body) == "busy");
    CHECK(busy->get_header_value("Retry-After") == "1");
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
    // The slow client is cut off after the read timeout.
    CHECK(slow.read_until_closed(std::chrono::seconds(8)).find("<still open>") ==
          std::string::npos);
  }
  httplib::Client after("127.0.0.1", server.port());
  auto served = after.Get("/v1/health");
  REQUIRE(served);
  CHECK(served->status == 200);
  after.stop();
  CHECK(server.stop() == 0);
  CHECK_THAT(server.stderr_text(), Catch::Contains("refused a connection"));
}

TEST_CASE("admin: device retire and worker deactivate report usage errors and are audited",
          "[security]") {
  TempDir dir;
  const std::string db = (dir / "server.db").string();
  const std::string bin = server_binary().string();
  Run help = run_program(bin, {"admin", "--help"}, dir);
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::Contains("device retire --device DEVICE_ID") &&
                           Catch::Contains("worker deactivate --worker WORKER_ID"));
  Run missing = run_program(bin, {"admin", "--database", db, "device", "retire"}, dir);
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("--device is required"));
  Run unknown = run_program(
      bin, {"admin", "--database", db, "worker", "deactivate", "--worker", "nobody"}, dir);
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.err, Catch::Contains("no worker nobody"));

  admin(dir, {"authority", "create", "--name", "City", "--la-code", "123"});
  const std::string area = admin(dir, {"area", "create", "--name", "North"});
  const std::string team = admin(dir, {"team", "create", "--name", "A", "--area", area});
  const std::string ann =
      admin(dir, {"worker", "create", "--name", "Ann", "--role", "social_worker", "--team", team});
  const Dev kept = issue(dir, ann, "kept");
  const Dev lost = issue(dir, ann, "lost");
  Run retired =
      run_program(bin, {"admin", "--database", db, "device", "retire", "--device", kept.id}, dir);
  CHECK(retired.exit_code == 0);
  CHECK(retired.out == "device " + kept.id + " retiring: it wipes at its next sync\n");
  Run deactivated =
      run_program(bin, {"admin", "--database", db, "worker", "deactivate", "--worker", ann}, dir);
  CHECK(deactivated.exit_code == 0);
  CHECK(deactivated.out == "worker " + ann + " deactivated; their active devices revoked\n");
  Run list = run_program(bin, {"admin", "--database", db, "device", "list"}, dir);
  CHECK_THAT(list.out, Catch::Contains(kept.id + "\t" + ann + "\tretiring\t") &&
                           Catch::Contains(lost.id + "\t" + ann + "\trevoked\t"));
  Run again =
      run_program(bin, {"admin", "--database", db, "device", "retire", "--device", lost.id}, dir);
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.err, Catch::Contains("the device is revoked; it cannot be retired"));

  auto store = server::SqliteServerStore::open(dir / "server.db");
  REQUIRE(store.ok());
  for (const auto& [event, count] : std::vector<std::pair<std::string, std::size_t>>{
           {"device_retire", 1}, {"worker_deactivate", 1}, {"device_revoke", 1}}) {
    INFO(event);
    auto events = (*store)->audit_events(event);
    REQUIRE(events.ok());
    CHECK(events->size() == count);
  }
}
