// Credentials under attack ([security]), against the real fieldcase-server process:
// - [signin] a burst of parallel sign-ins is counted exactly: the configured number of wrong
//   passwords reaches a password check, every other attempt is refused as locked (the correct
//   password too), and a locked account answers exactly like an unknown one;
// - [enroll] a copy of the server database does not yield an enrollment code: no plaintext
//   part of a code is stored and the stored values are keyed with a secret kept outside it.
#include <sys/stat.h>

#include <httplib.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "fieldcase/ids.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/tokens.hpp"
#include "fieldcase/store.hpp"
#include "server_process.hpp"

namespace {

using namespace fieldcase;
using namespace fieldcase::test;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kPassword = "correct horse battery staple";
constexpr const char* kWrong = "not the password at all";

// An organisation made with the console commands: one team and its manager, with a password.
struct Org {
  TempDir dir;
  std::string team;

  Org() {
    admin(dir, {"authority", "create", "--name", "City", "--la-code", "123"});
    const std::string area = admin(dir, {"area", "create", "--name", "North"});
    team = admin(dir, {"team", "create", "--name", "Team 1", "--area", area});
  }
  std::string manager(const std::string& name) {
    const std::string id =
        admin(dir, {"worker", "create", "--name", name, "--role", "team_manager", "--team", team});
    Run r = run_binary({"admin", "--database", (dir / "server.db").string(), "--quiet", "worker",
                        "set-password", "--worker", id},
                       dir, {std::string("FIELDCASE_PASSWORD=") + kPassword});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return id;
  }
  // The detail column of every sign_in audit entry of the worker, oldest first.
  std::vector<std::string> sign_in_details(const std::string& worker) {
    Run r = run_binary({"admin", "--database", (dir / "server.db").string(), "--quiet", "audit",
                        "list",
                        "--worker", worker, "--action", "sign_in", "--limit", "10000"},
                       dir);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < r.out.size()) {
      auto end = r.out.find('\n', at);
      if (end == std::string::npos) end = r.out.size();
      const std::string line = r.out.substr(at, end - at);
      at = end + 1;
      if (line.empty()) continue;
      out.push_back(line.substr(line.rfind('\t') + 1));
    }
    return out;
  }
};

struct Answer {
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
  double seconds = 0;
};

Answer sign_in(int port, const std::string& worker, const std::string& password) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(120, 0);
  const auto start = Clock::now();
  auto r = c.Post("/v1/session", json{{"worker_id", worker}, {"password", password}}.dump(),
                  "application/json");
  Answer a;
  a.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!r) a.body = "no answer: " + httplib::to_string(r.error());
  if (r) {
    a.status = r->status;
    a.body = r->body;
    a.retry_after = r->get_header_value("Retry-After");
  }
  return a;
}

// `n` sign-ins at once, each on its own connection, released together.
std::vector<Answer> burst(int port, const std::string& worker,
                          const std::vector<std::string>& passwords) {
  std::vector<Answer> answers(passwords.size());
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < passwords.size(); ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      // A connection the server's accept queue dropped under the burst is tried again (the
      // audit count below tells whether any attempt was answered twice).
      for (int tries = 0; tries < 5; ++tries) {
        answers[i] = sign_in(port, worker, passwords[i]);
        if (answers[i].status != 0) break;
      }
    });
  }
  go.store(true);
  for (auto& t : threads) t.join();
  return answers;
}

std::size_t count_starting(const std::vector<std::string>& details, const std::string& prefix) {
  return static_cast<std::size_t>(std::count_if(
      details.begin(), details.end(), [&](const std::string& d) { return d.rfind(prefix, 0) == 0; }));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

TEST_CASE("security: a burst of parallel sign-ins is counted exactly and a locked account "
          "refuses the correct password",
          "[security][signin]") {
  Org org;
  const std::string target = org.manager("Mo");
  const std::string other = org.manager("Bea");
  constexpr int kLimit = 5;
  ServerProcess server(org.dir, {"FIELDCASE_SIGNIN_LOCKOUT_FAILURES=" + std::to_string(kLimit)});
  REQUIRE_FALSE(server.exited());

  // 40 wrong passwords at once.
  const auto first = burst(server.port(), target, std::vector<std::string>(40, kWrong));
  for (const auto& a : first) {
    INFO(a.body);
    CHECK(a.status == 401);
  }
  // Exactly the configured number reached a password check; every other one was refused as
  // locked without one.
  auto details = org.sign_in_details(target);
  CHECK(details.size() == 40);
  CHECK(count_starting(details, "wrong password") == kLimit);
  CHECK(count_starting(details, "locked") == 40 - kLimit);

  // Locked: a second burst with the correct password among wrong ones gets nothing, and the
  // correct password alone is refused too.
  std::vector<std::string> mixed(20, kWrong);
  for (std::size_t i = 0; i < mixed.size(); i += 4) mixed[i] = kPassword;
  for (const auto& a : burst(server.port(), target, mixed)) {
    INFO(a.body);
    CHECK(a.status == 401);
  }
  const Answer locked = sign_in(server.port(), target, kPassword);
  CHECK(locked.status == 401);
  details = org.sign_in_details(target);
  CHECK(count_starting(details, "wrong password") == kLimit);  // no check while locked
  CHECK(count_starting(details, "locked") == details.size() - kLimit);
  // None of them signed in: every entry is a counted wrong password or a locked refusal.
  CHECK(count_starting(details, "wrong password") + count_starting(details, "locked") ==
        details.size());
  CHECK(details.size() == 40 + mixed.size() + 1);

  // A locked account, an unknown worker and a malformed id get the very same answer.
  const Answer unknown = sign_in(server.port(), new_uuid_v7(SystemClock::instance()), kPassword);
  const Answer malformed = sign_in(server.port(), "no-such-worker", kPassword);
  const Answer wrong = sign_in(server.port(), other, kWrong);
  CHECK(unknown.status == locked.status);
  CHECK(unknown.body == locked.body);
  CHECK(malformed.status == locked.status);
  CHECK(malformed.body == locked.body);
  CHECK(wrong.status == locked.status);
  CHECK(wrong.body == locked.body);
  CHECK(unknown.retry_after == locked.retry_after);
  CHECK(wrong.retry_after == locked.retry_after);

  // ... and take about as long: the Argon2id check runs for unknown and locked accounts too.
  std::vector<double> t_wrong, t_unknown, t_locked;
  for (int i = 0; i < 3; ++i) {
    t_wrong.push_back(sign_in(server.port(), other, kWrong).seconds);
    t_unknown.push_back(
        sign_in(server.port(), new_uuid_v7(SystemClock::instance()), kPassword).seconds);
    t_locked.push_back(sign_in(server.port(), target, kPassword).seconds);
  }
  INFO("wrong " << median(t_wrong) << " s, unknown " << median(t_unknown) << " s, locked "
                << median(t_locked) << " s");
  CHECK(median(t_unknown) > 0.5 * median(t_wrong));
  CHECK(median(t_locked) > 0.5 * median(t_wrong));
}


namespace {

// Every value of every row of the enrollment_code table, read from the database file itself
// as someone with a copy of it would.
std::vector<std::map<std::string, std::string>> enrollment_rows(const fs::path& db) {
  StoreOptions o;
  o.path = db;
  auto store = Store::open_plain(o);
  REQUIRE(store.ok());
  auto s = (*store)->prepare("SELECT * FROM enrollment_code");
  REQUIRE(s.ok());
  std::vector<std::map<std::string, std::string>> rows;
  const char* names[] = {"id",         "lookup",  "code_hash", "worker_id",      "created_at",
                         "expires_at", "used_at", "device_id", "failed_attempts"};
  for (;;) {
    auto row = s->step();
    REQUIRE(row.ok());
    if (!*row) break;
    std::map<std::string, std::string> r;
    for (int i = 0; i < 9; ++i) r[names[i]] = s->column_text(i);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

TEST_CASE("security: a copy of the server database does not yield an enrollment code",
          "[security][enroll]") {
  Org org;
  const std::string worker =
      admin(org.dir, {"worker", "create", "--name", "Ann", "--role", "social_worker", "--team",
                      org.team});
  const std::string printed = admin(org.dir, {"enrollment", "issue", "--worker", worker});
  const std::string code = printed.substr(0, printed.find(' '));
  const auto normal = server::normalise_enrollment_code(code);
  REQUIRE(normal.has_value());
  const std::string head = normal->substr(0, 5), tail = normal->substr(5);

  const auto rows = enrollment_rows(org.dir / "server.db");
  REQUIRE(rows.size() == 1);
  // No column holds any plaintext part of the code (either group, in any case).
  for (const auto& [column, value] : rows[0]) {
    INFO(column << " = " << value);
    CHECK(upper(value).find(head) == std::string::npos);
    CHECK(upper(value).find(tail) == std::string::npos);
  }
  // Nothing stored is the unkeyed hash of the code or of a part of it: a guess cannot be
  // checked against the copy.
  std::vector<std::string> unkeyed{server::token_hash(*normal), server::token_hash(head),
                                   server::token_hash(tail), server::token_hash(code)};
  for (const auto& [column, value] : rows[0]) {
    for (const auto& h : unkeyed) CHECK(value != h);
  }

  // The stored values are keyed with the server secret, which lives in its own private file:
  // computed with it they match, with any other key nothing matches.
  const fs::path secret_file = org.dir / "server.db.code-secret";
  struct stat st{};
  REQUIRE(::lstat(secret_file.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  auto secret = server::ServerSecret::load_or_create(secret_file);
  REQUIRE(secret.ok());
  const auto keyed = server::stored_enrollment_code(*secret, *normal);
  CHECK(rows[0].at("lookup") == keyed.lookup);
  CHECK(rows[0].at("code_hash") == keyed.code_hash);
  std::array<unsigned char, server::kServerSecretBytes> zero{}, guess{};
  guess.fill(0x5a);
  for (const auto& wrong_key : {zero, guess}) {
    const auto other = server::stored_enrollment_code(server::ServerSecret::from_bytes(wrong_key),
                                                      *normal);
    for (const auto& [column, value] : rows[0]) {
      CHECK(value != other.lookup);
      CHECK(value != other.code_hash);
    }
  }
  // Nothing of the secret is in the database either.
  const std::string secret_text = slurp(secret_file).substr(0, 64);
  REQUIRE(secret_text.size() == 64);
  const std::string db_bytes = slurp(org.dir / "server.db");
  CHECK(db_bytes.find(secret_text) == std::string::npos);

  // The server reads the same secret: the code enrolls a device. A server given another
  // secret (rotation) refuses outstanding codes: they must be issued again.
  const std::string second_printed = admin(org.dir, {"enrollment", "issue", "--worker", worker});
  const std::string second = second_printed.substr(0, second_printed.find(' '));
  auto enroll = [](int port, const std::string& c) {
    httplib::Client client("127.0.0.1", port);
    auto r = client.Post("/v1/enroll", json{{"code", c}, {"device_name", "tablet"}}.dump(),
                         "application/json");
    REQUIRE(r);
    return r->status;
  };
  {
    ServerProcess server(org.dir, {});
    REQUIRE_FALSE(server.exited());
    CHECK(enroll(server.port(), code) == 201);
  }
  const fs::path rotated = org.dir / "rotated.code-secret";
  {
    ServerProcess server(org.dir, {"FIELDCASE_CODE_SECRET_FILE=" + rotated.string()});
    REQUIRE_FALSE(server.exited());
    CHECK(enroll(server.port(), second) == 401);
    REQUIRE(fs::exists(rotated));
    CHECK((fs::status(rotated).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));
  }
  // A secret file others may read, or a symbolic link, is refused: the server does not start.
  fs::permissions(rotated, fs::perms::group_read, fs::perm_options::add);
  {
    ServerProcess server(org.dir, {"FIELDCASE_CODE_SECRET_FILE=" + rotated.string()});
    CHECK(server.exited());
    CHECK_THAT(server.stderr_text(), Catch::Contains("readable by its owner only"));
  }
  const fs::path link = org.dir / "link.code-secret";
  fs::create_symlink(secret_file, link);
  {
    ServerProcess server(org.dir, {"FIELDCASE_CODE_SECRET_FILE=" + link.string()});
    CHECK(server.exited());
    CHECK_THAT(server.stderr_text(), Catch::Contains("symbolic link"));
  }
}

TEST_CASE("security: codes stored before the server secret are retired by the migration",
          "[security][enroll]") {
  Org org;
  const std::string worker =
      admin(org.dir, {"worker", "create", "--name", "Ann", "--role", "social_worker", "--team",
                      org.team});
  // A code as the old schema kept it: its first group in clear and the unkeyed hash.
  const std::string code = "7KQ2MXH9PD";
  {
    StoreOptions o;
    o.path = org.dir / "server.db";
    auto store = Store::open_plain(o);
    REQUIRE(store.ok());
    auto ins = (*store)->prepare(
        "INSERT INTO enrollment_code(id, lookup, code_hash, worker_id, created_at, expires_at) "
        "VALUES (?1, ?2, ?3, ?4, '2026-01-01T00:00:00.000Z', '9999-01-01T00:00:00.000Z')");
    REQUIRE(ins.ok());
    ins->bind(1, new_uuid_v7(SystemClock::instance()))
        .bind(2, code.substr(0, 5))
        .bind(3, server::token_hash(code))
        .bind(4, worker);
    REQUIRE(ins->run().ok());
    // Back to schema 5, as a server of before the secret left it (without the tables of
    // migrations 6 and 7).
    REQUIRE((*store)
                ->exec("DROP TABLE enrollment_failure; DROP TABLE figure_change; "
                       "DROP TABLE figure_change_pruned; DROP TABLE request_window; "
                       "PRAGMA user_version=5")
                .ok());
  }
  {
    ServerProcess server(org.dir, {});
    REQUIRE_FALSE(server.exited());
    httplib::Client client("127.0.0.1", server.port());
    auto r = client.Post("/v1/enroll", json{{"code", code}, {"device_name", "tablet"}}.dump(),
                         "application/json");
    REQUIRE(r);
    CHECK(r->status == 401);
  }
  const auto rows = enrollment_rows(org.dir / "server.db");
  REQUIRE(rows.size() == 1);
  for (const auto& [column, value] : rows[0]) {
    INFO(column << " = " << value);
    CHECK(upper(value).find(code.substr(0, 5)) == std::string::npos);
    CHECK(value != server::token_hash(code));
  }
  CHECK(rows[0].at("expires_at") < format_iso_datetime(std::chrono::system_clock::now() +
                                                       std::chrono::seconds(1)));
}

TEST_CASE("security: failed enrollments from one address are counted across server processes",
          "[security][enroll]") {
  Org org;
  const std::string worker =
      admin(org.dir, {"worker", "create", "--name", "Ann", "--role", "social_worker", "--team",
                      org.team});
  const std::string printed = admin(org.dir, {"enrollment", "issue", "--worker", worker});
  const std::string code = printed.substr(0, printed.find(' '));
  // Two server processes on one database, as a scaled-out deployment runs them.
  ServerProcess a(org.dir, {});
  ServerProcess b(org.dir, {});
  REQUIRE_FALSE(a.exited());
  REQUIRE_FALSE(b.exited());
  auto enroll = [](int port, const std::string& c) {
    httplib::Client client("127.0.0.1", port);
    auto r = client.Post("/v1/enroll", json{{"code", c}, {"device_name", "tablet"}}.dump(),
                         "application/json");
    REQUIRE(r);
    return r->status;
  };
  // Ten wrong codes from this address, alternately to each process: all counted together.
  for (int i = 0; i < 10; ++i) {
    CHECK(enroll(i % 2 == 0 ? a.port() : b.port(), "ZZZZZ-ZZZZ" + std::to_string(2 + i % 8)) ==
          401);
  }
  // The address is now refused by both, even with the right code.
  CHECK(enroll(a.port(), code) == 429);
  CHECK(enroll(b.port(), code) == 429);
  // A restarted process remembers.
  REQUIRE(a.stop() == 0);
  ServerProcess again(org.dir, {});
  REQUIRE_FALSE(again.exited());
  CHECK(enroll(again.port(), code) == 429);
}
