// End-to-end tests of the `fieldcase` device commands against the real `fieldcase-server` on a
// loopback port: workspaces set up from admin-issued device tokens, offline work, sync,
// conflicts, reallocation, a wrong PIN, and each command's --help and usage errors.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

fs::path built(const std::string& relative) {
  const char* build_dir = std::getenv("FIELDCASE_BUILD_DIR");
  INFO("FIELDCASE_BUILD_DIR must name the build directory (CTest sets it)");
  REQUIRE(build_dir != nullptr);
  fs::path p = fs::path(build_dir) / relative;
  REQUIRE(fs::exists(p));
  return p;
}

std::string slurp(const fs::path& path) {
  auto bytes = fieldcase::test::read_file(path);
  return {bytes.begin(), bytes.end()};
}

// The current environment plus `extra` ("NAME=value"), without FIELDCASE_PIN and friends
// unless `extra` sets them.
std::vector<std::string> environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.starts_with("FIELDCASE_PIN=") || entry.starts_with("FIELDCASE_DEVICE_TOKEN=") ||
        entry.starts_with("FIELDCASE_HOME=")) {
      continue;
    }
    env.emplace_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// Runs `binary` with `args` and environment `env` to completion; stdin from /dev/null and no
// controlling terminal, so a missing secret cannot block on a prompt.
Run run(const fs::path& binary, const std::vector<std::string>& args,
        const std::vector<std::string>& env, const fieldcase::test::TempDir& dir) {
  const fs::path out = dir / "run.out", err = dir / "run.err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  const std::string bin = binary.string();
  std::vector<std::string> argv_strings{bin};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = env;
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  REQUIRE(posix_spawn(&pid, bin.c_str(), &fa, &attr, argv.data(), envp.data()) == 0);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return {WEXITSTATUS(status), slurp(out), slurp(err)};
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// `fieldcase-server serve` on a free loopback port, killed at the end.
class Server {
 public:
  // `extra_env` ("NAME=value") configures it, e.g. FIELDCASE_TLS_CERT and FIELDCASE_TLS_KEY.
  explicit Server(const fieldcase::test::TempDir& dir,
                  const std::vector<std::string>& extra_env = {}) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    const fs::path err = dir / "serve.err";
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const std::string bin = built("sync-server/fieldcase-server").string();
    const std::string db = (dir / "server.db").string();
    std::vector<std::string> args{bin, "serve", "--listen", "127.0.0.1:0", "--database", db};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = environment(extra_env);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), envp.data()) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    fd_ = fds[0];
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos) {
      INFO(slurp(err));
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      const ssize_t n = read(fd_, buf, sizeof buf);
      REQUIRE(n > 0);
      line.append(buf, static_cast<std::size_t>(n));
    }
    line = first_line(line);
    url_ = (extra_env.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") +
           line.substr(line.rfind(':') + 1);
  }
  ~Server() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    close(fd_);
  }
  const std::string& url() const { return url_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string url_;
};

// A temporary server database, the real server, and helpers for admin and device commands.
struct Org {
  fieldcase::test::TempDir dir;
  std::string team;

  std::string admin(const std::vector<std::string>& args) {
    std::vector<std::string> full{"admin", "--database", (dir / "server.db").string(), "--quiet"};
    full.insert(full.end(), args.begin(), args.end());
    Run r = run(built("sync-server/fieldcase-server"), full, environment({}), dir);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return first_line(r.out);
  }

  Org() {
    admin({"authority", "create", "--name", "City", "--la-code", "123"});
    const std::string area = admin({"area", "create", "--name", "North"});
    team = admin({"team", "create", "--name", "Team 1", "--area", area});
  }

  std::string worker(const std::string& name) {
    return admin({"worker", "create", "--name", name, "--role", "social_worker", "--team", team});
  }
};

// A device workspace set up for `worker` against `server_url`.
struct Device {
  Org& org;
  fs::path home;
  std::string pin = "246813";
  std::string device_id;
  std::string token;

  // `setup_extra`: more options for `fieldcase setup` (--ca-file, --pin).
  Device(Org& o, const std::string& name, const std::string& worker, const std::string& url,
         const std::vector<std::string>& setup_extra = {})
      : org(o), home(o.dir / name) {
    const std::string issued = org.admin({"device", "issue", "--worker", worker});
    device_id = issued.substr(0, issued.find(' '));
    token = issued.substr(issued.find(' ') + 1);
    std::vector<std::string> args{"setup",    "--server", url,     "--worker",   worker,
                                  "--device", device_id,  "--dir", home.string()};
    args.insert(args.end(), setup_extra.begin(), setup_extra.end());
    Run r = run(built("platform/cli/fieldcase"), args,
                environment({"FIELDCASE_PIN=" + pin, "FIELDCASE_DEVICE_TOKEN=" + token,
                             "FIELDCASE_KDF=minimum"}),
                org.dir);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find(token) == std::string::npos);
  }

  Run cli(std::vector<std::string> args, const std::string& with_pin = {}) {
    args.push_back("--dir");
    args.push_back(home.string());
    return run(built("platform/cli/fieldcase"), args,
               environment({"FIELDCASE_PIN=" + (with_pin.empty() ? pin : with_pin),
                            "FIELDCASE_KDF=minimum"}),
               org.dir);
  }

  // Runs a command that must succeed; returns its standard output.
  std::string ok(const std::vector<std::string>& args) {
    Run r = cli(args);
    INFO("fieldcase " << Catch::Detail::stringify(args) << "\n" << r.err);
    REQUIRE(r.exit_code == 0);
    return r.out;
  }

  std::string field(const std::string& id, const std::string& name) {
    const std::string shown = ok({"show", id});
    const std::string key = "\n" + name + ": ";
    const auto pos = shown.find(key);
    if (pos == std::string::npos) return {};
    return first_line(shown.substr(pos + key.size()));
  }
};

const std::string kChild[] = {"child", "add",   "--first",    "Alex",     "--last",
                              "Smith", "--dob", "2015-03-02", "--gender", "1"};

std::string add_child(Device& d) {
  return first_line(d.ok(std::vector<std::string>(std::begin(kChild), std::end(kChild))));
}

// Every file under `dir` whose bytes hold `secret`.
std::vector<std::string> files_holding(const fs::path& dir, const std::string& secret) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && slurp(entry.path()).find(secret) != std::string::npos) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

// What `admin device list` prints.
std::string device_list(Org& org) {
  Run r = run(built("sync-server/fieldcase-server"),
              {"admin", "--database", (org.dir / "server.db").string(), "device", "list"},
              environment({}), org.dir);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

// The `admin device list` row of `device_id`.
std::string device_row(Org& org, const std::string& device_id) {
  const std::string list = device_list(org);
  const auto at = list.find(device_id + "\t");
  if (at == std::string::npos) return {};
  return first_line(list.substr(at));
}

}  // namespace

TEST_CASE("cli devices: work recorded offline syncs and converges on two devices", "[cli]") {
  Org org;
  Server server(org.dir);
  const std::string ann = org.worker("Ann");
  Device a(org, "a", ann, server.url());
  Device b(org, "b", ann, server.url());

  const std::string child = add_child(a);
  CHECK(a.ok({"caseload"}).find(child) != std::string::npos);
  const std::string visit = first_line(
      a.ok({"visit", "record", "--case", child, "--type", "child_in_need", "--start",
            "2024-05-01T10:00:00Z", "--seen", "--alone", "--observations", "Calm and chatty",
            "--note", "Discussed school", "--note", "Met grandmother"}));
  CHECK(a.ok({"status"}).find("pending transactions: 2") != std::string::npos);

  const std::string synced = a.ok({"sync"});
  CHECK(synced.find("accepted: 2") != std::string::npos);
  CHECK(synced.find("rejected: 0") != std::string::npos);
  const std::string status = a.ok({"status"});
  CHECK(status.find("pending transactions: 0") != std::string::npos);
  CHECK(status.find("last sync: never") == std::string::npos);

  b.ok({"sync"});
  CHECK(b.ok({"caseload"}).find(child) != std::string::npos);
  CHECK(b.field(visit, "observations") == "Calm and chatty");

  SECTION("the same field edited on both: one winner everywhere and a conflict on both") {
    a.ok({"set", visit, "observations", "Seen at home"});
    b.ok({"set", visit, "observations", "Seen at school"});
    a.ok({"sync"});
    b.ok({"sync"});
    a.ok({"sync"});
    const std::string winner = a.field(visit, "observations");
    CHECK(winner == b.field(visit, "observations"));
    CHECK((winner == "Seen at home" || winner == "Seen at school"));
    const std::string loser = winner == "Seen at home" ? "Seen at school" : "Seen at home";
    std::string conflict_id;
    for (Device* d : {&a, &b}) {
      const std::string listed = d->ok({"conflicts"});
      CHECK(listed.find(visit + "\tobservations\t" + winner + "\t" + loser) != std::string::npos);
      conflict_id = listed.substr(0, listed.find('\t'));
    }

    // Settling it: b puts the losing value back; once synced the conflict is closed on both
    // devices and the value is the same everywhere.
    Run bad = b.cli({"resolve", conflict_id, "--keep", "--take-lost"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("exactly one of") != std::string::npos);
    Run unknown = b.cli({"resolve", "not-a-conflict", "--keep"});
    CHECK(unknown.exit_code == 1);
    CHECK(unknown.err.find("no open conflict") != std::string::npos);
    CHECK(b.ok({"resolve", conflict_id, "--take-lost"}).find("observations = " + loser) !=
          std::string::npos);
    CHECK(b.ok({"conflicts"}) == "no open conflicts\n");
    CHECK(b.ok({"status"}).find("pending transactions: 1") != std::string::npos);
    b.ok({"sync"});
    a.ok({"sync"});
    for (Device* d : {&a, &b}) {
      CHECK(d->field(visit, "observations") == loser);
      CHECK(d->ok({"conflicts"}) == "no open conflicts\n");
    }

    SECTION("keeping the kept value also closes it") {
      a.ok({"set", visit, "observations", "Seen in the garden"});
      b.ok({"set", visit, "observations", "Seen in the kitchen"});
      a.ok({"sync"});
      b.ok({"sync"});
      a.ok({"sync"});
      const std::string listed = a.ok({"conflicts"});
      REQUIRE(listed != "no open conflicts\n");
      const std::string kept = a.field(visit, "observations");
      a.ok({"resolve", listed.substr(0, listed.find('\t')), "--keep"});
      a.ok({"sync"});
      b.ok({"sync"});
      for (Device* d : {&a, &b}) {
        CHECK(d->field(visit, "observations") == kept);
        CHECK(d->ok({"conflicts"}) == "no open conflicts\n");
      }
    }
  }

  SECTION("different fields edited on both: both kept") {
    a.ok({"set", visit, "observations", "Seen at home"});
    b.ok({"set", visit, "location", "Grandmother's flat"});
    a.ok({"sync"});
    b.ok({"sync"});
    a.ok({"sync"});
    for (Device* d : {&a, &b}) {
      CHECK(d->field(visit, "observations") == "Seen at home");
      CHECK(d->field(visit, "location") == "Grandmother's flat");
      CHECK(d->ok({"conflicts"}) == "no open conflicts\n");
    }
  }
}

TEST_CASE("cli devices: a reallocated case leaves the old device and reaches the new one",
          "[cli]") {
  Org org;
  Server server(org.dir);
  const std::string ann = org.worker("Ann");
  const std::string bea = org.worker("Bea");
  Device a(org, "a", ann, server.url());
  Device b(org, "b", bea, server.url());
  const std::string child = add_child(a);
  a.ok({"sync"});
  b.ok({"sync"});
  CHECK(b.ok({"caseload"}).find(child) == std::string::npos);

  org.admin({"allocate", "--case", child, "--worker", bea});
  const std::string purged = a.ok({"sync"});
  CHECK(purged.find("cases purged: 1") != std::string::npos);
  CHECK(a.ok({"caseload"}).find(child) == std::string::npos);
  b.ok({"sync"});
  CHECK(b.ok({"caseload"}).find(child) != std::string::npos);
}

TEST_CASE("cli devices: setup enrolls with a one-time code and syncs", "[cli][security]") {
  Org org;
  Server server(org.dir);
  const std::string ann = org.worker("Ann");
  const std::string issued = org.admin({"enrollment", "issue", "--worker", ann});
  const std::string code = issued.substr(0, issued.find(' '));
  const fs::path home = org.dir / "enrolled";
  auto setup = [&](const fs::path& dir) {
    return run(built("platform/cli/fieldcase"),
               {"setup", "--server", server.url(), "--enroll", code, "--name", "tablet 1", "--dir",
                dir.string()},
               environment({"FIELDCASE_PIN=246813", "FIELDCASE_KDF=minimum"}), org.dir);
  };
  Run r = setup(home);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("of worker " + ann + " (social_worker)") != std::string::npos);
  // The token is in the workspace's key store, not printed.
  CHECK(r.out.find("token") == std::string::npos);
  const std::string devices = org.admin({"device", "list"});
  CHECK(devices.find("tablet 1") != std::string::npos);
  Run synced = run(built("platform/cli/fieldcase"), {"sync", "--dir", home.string()},
                   environment({"FIELDCASE_PIN=246813", "FIELDCASE_KDF=minimum"}), org.dir);
  INFO(synced.err);
  CHECK(synced.exit_code == 0);
  CHECK(synced.out.find("rejected: 0") != std::string::npos);

  // The code works once.
  Run again = setup(org.dir / "second");
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("not valid") != std::string::npos);
  Run mixed = run(built("platform/cli/fieldcase"),
                  {"setup", "--server", server.url(), "--enroll", code, "--worker", ann},
                  environment({}), org.dir);
  CHECK(mixed.exit_code == 2);
}

TEST_CASE("cli devices: a revoked device is refused, wipes itself and cannot be opened again",
          "[cli][security]") {
  Org org;
  Server server(org.dir);
  const std::string ann = org.worker("Ann");
  Device a(org, "a", ann, server.url());
  const std::string child = add_child(a);
  CHECK(a.ok({"status"}).find("offline limit: none") != std::string::npos);
  a.ok({"sync"});
  CHECK(a.ok({"status"}).find("offline limit: 14 days without a sync") != std::string::npos);
  // Work recorded after the device was reported stolen is never accepted.
  org.admin({"device", "revoke", "--device", a.device_id});
  a.ok({"visit", "record", "--case", child, "--type", "child_in_need", "--start",
        "2024-05-01T10:00:00Z", "--seen", "--note", "after the theft"});
  const std::string out = a.ok({"sync"});
  CHECK(out.find("the server ordered this device wiped (this device has been revoked)") !=
        std::string::npos);
  CHECK(out.find("accepted:") == std::string::npos);
  CHECK_FALSE(fs::exists(a.home / "case.db"));
  CHECK_FALSE(fs::exists(a.home / "case.db.key"));
  Run after = a.cli({"caseload"});
  CHECK(after.exit_code == 1);
  CHECK(after.err.find("erased") != std::string::npos);
  Run again = a.cli({"sync"});
  CHECK(again.exit_code == 1);
  const std::string devices = org.admin({"device", "list"});
  CHECK(devices.find("\trevoked\t") != std::string::npos);
}

TEST_CASE("cli devices: a retired device delivers its pending work before it wipes itself",
          "[cli][security]") {
  Org org;
  Server server(org.dir);
  const std::string ann = org.worker("Ann");
  const std::string meg = org.admin(
      {"worker", "create", "--name", "Meg", "--role", "team_manager", "--team", org.team});
  Device a(org, "a", ann, server.url());
  Device m(org, "m", meg, server.url());
  m.ok({"sync"});
  // Offline work, never synced, when the worker leaves.
  const std::string child = add_child(a);
  org.admin({"device", "retire", "--device", a.device_id});
  const std::string out = a.ok({"sync"});
  CHECK(out.find("accepted: 1") != std::string::npos);
  CHECK(out.find("this device has been retired") != std::string::npos);
  CHECK_FALSE(fs::exists(a.home / "case.db"));
  CHECK(a.cli({"caseload"}).exit_code == 1);
  // The manager receives the work the retired device delivered.
  m.ok({"sync"});
  CHECK(m.field(child, "last_name") == "Smith");
  Run list = run(built("sync-server/fieldcase-server"),
                 {"admin", "--database", (org.dir / "server.db").string(), "device", "list"},
                 environment({}), org.dir);
  CHECK(list.out.find(a.device_id + "\t" + ann + "\tretired\t") != std::string::npos);
  // Deactivating Ann revokes only her devices that still work; a retired one stays retired.
  org.admin({"worker", "deactivate", "--worker", ann});
  list = run(built("sync-server/fieldcase-server"),
             {"admin", "--database", (org.dir / "server.db").string(), "device", "list"},
             environment({}), org.dir);
  CHECK(list.out.find(a.device_id + "\t" + ann + "\tretired\t") != std::string::npos);
  CHECK(list.out.find(m.device_id + "\t" + meg + "\tactive\t") != std::string::npos);
  Run again = run(
      built("sync-server/fieldcase-server"),
      {"admin", "--database", (org.dir / "server.db").string(), "device", "issue", "--worker", ann},
      environment({}), org.dir);
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("not active") != std::string::npos);
}

TEST_CASE("cli devices: sync over HTTPS checks the CA file and the pinned key", "[cli][security]") {
  Org org;
  const std::string p = (org.dir / "pki").string();
  const std::string ca = p + "-ca.pem", ca_key = p + "-ca.key", cert = p + "-server.pem",
                    key = p + "-server.key", csr = p + "-server.csr", ext = p + "-ext.cnf";
  auto openssl = [&](const std::vector<std::string>& args) {
    Run r = run("/usr/bin/openssl", args, environment({}), org.dir);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return r.out;
  };
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=fieldcase test CA"});
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
           "-out", csr, "-subj", "/CN=127.0.0.1"});
  { std::ofstream(ext) << "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"; }
  openssl({"x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
           "-days", "2", "-extfile", ext});
  // The pin as the documentation computes it, in steps (no shell).
  const std::string der = p + "-spki.der", digest = p + "-spki.sha256";
  { std::ofstream(p + "-spki.pem") << openssl({"x509", "-in", cert, "-pubkey", "-noout"}); }
  openssl({"pkey", "-pubin", "-in", p + "-spki.pem", "-outform", "der", "-out", der});
  openssl({"dgst", "-sha256", "-binary", "-out", digest, der});
  std::string pin = openssl({"base64", "-A", "-in", digest});
  REQUIRE(pin.size() == 44);

  Server server(org.dir, {"FIELDCASE_TLS_CERT=" + cert, "FIELDCASE_TLS_KEY=" + key});
  REQUIRE(server.url().starts_with("https://"));
  const std::string ann = org.worker("Ann");
  Device good(org, "good", ann, server.url(), {"--ca-file", ca, "--pin", pin});
  add_child(good);
  CHECK(good.ok({"sync"}).find("accepted: 1") != std::string::npos);

  std::string wrong_pin = pin;
  wrong_pin[0] = wrong_pin[0] == 'A' ? 'B' : 'A';
  Device pinned(org, "pinned", ann, server.url(), {"--ca-file", ca, "--pin", wrong_pin});
  Run refused = pinned.cli({"sync"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("does not match the pinned key") != std::string::npos);

  Device system(org, "system", ann, server.url());
  Run untrusted = system.cli({"sync"});
  CHECK(untrusted.exit_code == 1);
  CHECK(untrusted.err.find("certificate is not trusted") != std::string::npos);

  Run bad = run(built("platform/cli/fieldcase"),
                {"setup", "--server", server.url(), "--worker", ann, "--device", "d", "--pin",
                 "not-a-pin", "--dir", (org.dir / "bad").string()},
                environment({"FIELDCASE_PIN=246813", "FIELDCASE_DEVICE_TOKEN=t"}), org.dir);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--pin must be a base64 SHA-256") != std::string::npos);
}

TEST_CASE("cli devices: a wrong PIN fails and says how many attempts are left", "[cli]") {
  Org org;
  Device a(org, "a", org.worker("Ann"), "http://127.0.0.1:9");
  Run r = a.cli({"caseload"}, "1111");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("attempts left") != std::string::npos);
  CHECK(r.err.find("1111") == std::string::npos);
  CHECK(a.cli({"caseload"}).exit_code == 0);

  SECTION("setup refuses an existing workspace") {
    Run again = run(built("platform/cli/fieldcase"),
                    {"setup", "--server", "http://127.0.0.1:9", "--worker", "w", "--device", "d",
                     "--dir", a.home.string()},
                    environment({"FIELDCASE_PIN=1", "FIELDCASE_DEVICE_TOKEN=t"}), org.dir);
    CHECK(again.exit_code == 1);
    CHECK(again.err.find("already exists") != std::string::npos);
  }
  SECTION("without FIELDCASE_PIN or a terminal the command fails") {
    Run none = run(built("platform/cli/fieldcase"), {"caseload", "--dir", a.home.string()},
                   environment({}), org.dir);
    CHECK(none.exit_code == 1);
    CHECK(none.err.find("FIELDCASE_PIN") != std::string::npos);
  }
}

TEST_CASE("cli devices: every device command answers --help and refuses bad usage", "[cli]") {
  fieldcase::test::TempDir dir;
  const fs::path bin = built("platform/cli/fieldcase");
  const std::vector<std::vector<std::string>> commands = {{"setup"},
                                                          {"caseload"},
                                                          {"child", "add"},
                                                          {"visit", "record"},
                                                          {"assessment", "start"},
                                                          {"assessment", "complete"},
                                                          {"assessment", "authorise"},
                                                          {"assessment", "return"},
                                                          {"note", "add"},
                                                          {"note", "correct"},
                                                          {"set"},
                                                          {"show"},
                                                          {"conflicts"},
                                                          {"resolve"},
                                                          {"sync"},
                                                          {"status"},
                                                          {"my-day"}};
  for (const auto& command : commands) {
    INFO(Catch::Detail::stringify(command));
    auto help = command;
    help.push_back("--help");
    Run h = run(bin, help, environment({}), dir);
    CHECK(h.exit_code == 0);
    CHECK(h.out.starts_with("usage: fieldcase " + command[0]));
    auto bad = command;
    bad.push_back("--no-such-option");
    Run u = run(bin, bad, environment({}), dir);
    CHECK(u.exit_code == 2);
    CHECK(u.err.find("unknown option '--no-such-option'") != std::string::npos);
  }
  for (const std::string group : {"child", "visit", "assessment", "note"}) {
    Run missing = run(bin, {group}, environment({}), dir);
    CHECK(missing.exit_code == 2);
    Run unknown = run(bin, {group, "frobnicate"}, environment({}), dir);
    CHECK(unknown.exit_code == 2);
  }
  Run missing_option = run(bin, {"child", "add", "--first", "A"}, environment({}), dir);
  CHECK(missing_option.exit_code == 2);
  CHECK(missing_option.err.find("missing option --last") != std::string::npos);
  Run bad_url = run(bin, {"setup", "--server", "ftp://x", "--worker", "w", "--device", "d"},
                    environment({}), dir);
  CHECK(bad_url.exit_code == 2);
}

TEST_CASE("cli devices: no workspace file holds the token; an erased workspace cannot sync and "
          "reports the wipe",
          "[cli][security]") {
  Org org;
  Server server(org.dir);
  const std::string ann = org.worker("Ann");
  Device a(org, "a", ann, server.url());
  add_child(a);
  a.ok({"sync"});
  // A copy of the user's files does not yield the token.
  INFO(Catch::Detail::stringify(files_holding(a.home, a.token)));
  CHECK(files_holding(a.home, a.token).empty());

  // The last wrong PIN crypto-erases the workspace, and the token with it.
  Run last;
  for (int i = 0; i < 10; ++i) last = a.cli({"status"}, "1111");
  CHECK(last.exit_code == 1);
  CHECK(last.err.find("erased") != std::string::npos);
  CHECK(files_holding(a.home, a.token).empty());
  CHECK(device_row(org, a.device_id).find("\tactive\t") != std::string::npos);

  // Its next contact cannot sync, but tells the server, which revokes the device.
  Run synced = a.cli({"sync"});
  CHECK(synced.exit_code == 1);
  CHECK(synced.err.find("erased") != std::string::npos);
  CHECK(synced.out.find("the server has been told that this device was wiped") !=
        std::string::npos);
  CHECK(device_row(org, a.device_id).find("\trevoked\t") != std::string::npos);
  // A copy of the token taken earlier is refused from now on.
  Run stolen = run(built("platform/cli/fieldcase"),
                   {"setup", "--server", server.url(), "--worker", ann, "--device", a.device_id,
                    "--dir", (org.dir / "copy").string()},
                   environment({"FIELDCASE_PIN=246813", "FIELDCASE_DEVICE_TOKEN=" + a.token,
                                "FIELDCASE_KDF=minimum"}),
                   org.dir);
  REQUIRE(stolen.exit_code == 0);
  Run replay = run(built("platform/cli/fieldcase"), {"sync", "--dir", (org.dir / "copy").string()},
                   environment({"FIELDCASE_PIN=246813", "FIELDCASE_KDF=minimum"}), org.dir);
  CHECK(replay.out.find("this device has been revoked") != std::string::npos);
  CHECK(replay.out.find("changes received") == std::string::npos);
  // Reported once: a further sync has nothing left to report.
  Run again = a.cli({"sync"});
  CHECK(again.exit_code == 1);
  CHECK(again.out.find("has been told") == std::string::npos);
}

TEST_CASE("cli devices: a workspace set up again after a wipe must enroll again",
          "[cli][security]") {
  Org org;
  Server server(org.dir);
  const std::string ann = org.worker("Ann");
  Device a(org, "a", ann, server.url());
  a.ok({"sync"});
  // The server orders the wipe (the tablet was reported lost and then found).
  org.admin({"device", "revoke", "--device", a.device_id});
  REQUIRE(a.ok({"sync"}).find("its data has been erased") != std::string::npos);
  CHECK(files_holding(a.home, a.token).empty());
  CHECK(a.cli({"sync"}).exit_code == 1);

  // Setting the workspace up again needs a new enrollment; the old token does not come back.
  const std::string issued = org.admin({"enrollment", "issue", "--worker", ann});
  const std::string code = issued.substr(0, issued.find(' '));
  Run setup = run(built("platform/cli/fieldcase"),
                  {"setup", "--server", server.url(), "--enroll", code, "--dir", a.home.string()},
                  environment({"FIELDCASE_PIN=975318", "FIELDCASE_KDF=minimum"}), org.dir);
  INFO(setup.err);
  REQUIRE(setup.exit_code == 0);
  const std::string conf = slurp(a.home / "device.conf");
  CHECK(conf.find(a.device_id) == std::string::npos);
  CHECK(files_holding(a.home, a.token).empty());
  a.pin = "975318";
  CHECK(a.ok({"sync"}).find("rejected: 0") != std::string::npos);
  CHECK(device_row(org, a.device_id).find("\trevoked\t") != std::string::npos);
}

TEST_CASE("cli devices: a refused PIN leaves the enrollment code unused and no device",
          "[cli][security]") {
  Org org;
  Server server(org.dir);
  const std::string ann = org.worker("Ann");
  const std::string issued = org.admin({"enrollment", "issue", "--worker", ann});
  const std::string code = issued.substr(0, issued.find(' '));
  const fs::path home = org.dir / "tablet";
  auto setup = [&](const std::string& pin) {
    return run(built("platform/cli/fieldcase"),
               {"setup", "--server", server.url(), "--enroll", code, "--name", "tablet 1", "--dir",
                home.string()},
               environment({"FIELDCASE_PIN=" + pin, "FIELDCASE_KDF=minimum"}), org.dir);
  };
  Run refused = setup("12");
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("PIN") != std::string::npos);
  // No device on the server, no half-made workspace.
  CHECK(device_list(org).find("tablet 1") == std::string::npos);
  CHECK_FALSE(fs::exists(home / "device.conf"));
  CHECK_FALSE(fs::exists(home / "case.db"));
  // The code is still good.
  Run accepted = setup("246813");
  INFO(accepted.err);
  CHECK(accepted.exit_code == 0);
  CHECK(device_list(org).find("tablet 1") != std::string::npos);
}

TEST_CASE("cli devices: setup refuses a PIN the policy refuses", "[cli][security]") {
  fieldcase::test::TempDir dir;
  for (const char* weak : {"2468", "123456", "777777"}) {
    CAPTURE(weak);
    Run r = run(built("platform/cli/fieldcase"),
                {"setup", "--server", "http://127.0.0.1:9", "--worker", "w", "--device", "d",
                 "--dir", (dir / "home").string()},
                environment({std::string("FIELDCASE_PIN=") + weak, "FIELDCASE_DEVICE_TOKEN=t",
                             "FIELDCASE_KDF=minimum"}),
                dir);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("the PIN must") != std::string::npos);
    CHECK(r.err.find(std::string(": ") + weak) == std::string::npos);  // never echoed
    CHECK_FALSE(fs::exists(dir / "home" / "case.db"));
  }
}
