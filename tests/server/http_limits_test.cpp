// The bounds of the HTTP front against the real fieldcase-server process, and through the
// shipped nginx configuration (docs/deploy/nginx/fieldcase.conf) in front of it: an oversized
// header line, a chunked body, nested JSON bodies and a body declared far too large are each
// refused at once while the server's peak memory (VmHWM) stays within kMemoryBound of what it
// was; 200 connections dripping their heads never keep an honest device, syncing every
// 200 ms meanwhile, from a 100% success rate with a p99 under 2 s.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fieldcase/ids.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "instances.hpp"
#include "server_process.hpp"

using namespace fieldcase;
using namespace fieldcase::test;

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// How much the server's peak resident memory may grow while it refuses every hostile input
// of a test (docs/security.md, "Request limits").
#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer keeps freed memory in quarantine and adds redzones and shadow pages, so a
// server built with it grows more for the same work: four times the bound of a plain build.
constexpr long kMemoryBoundKiB = 4 * 32 * 1024;
#else
constexpr long kMemoryBoundKiB = 32 * 1024;
#endif

long peak_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  FAIL("no VmHWM in /proc/" << pid << "/status");
  return 0;
}

std::string now_text() { return format_iso_datetime(std::chrono::system_clock::now()); }

// A TCP connection to 127.0.0.1:port from `source` (another loopback address for attackers).
int connect_from(const char* source, int port, bool blocking = true) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  if (!blocking) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  return fd;
}

// Sends a request head (and as much of `body` as the server takes) and returns the answer the
// server sends, and how long it took to come after the head was sent.
struct Answer {
  std::string text;
  SteadyClock::duration took{};
  int status() const { return text.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(text.c_str() + 9) : 0; }
};

Answer converse(int port, const std::string& head, const std::string& body = {},
                std::size_t body_repeat = 1) {
  Answer a;
  const int fd = connect_from("127.0.0.1", port);
  REQUIRE(fd >= 0);
  const auto started = SteadyClock::now();
  std::atomic<bool> done{false};
  // Send on a thread: the server may answer (and stop reading) before everything is sent.
  std::thread sender([&] {
    if (::send(fd, head.data(), head.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(head.size())) {
      return;
    }
    for (std::size_t i = 0; i < body_repeat && !done.load(); ++i) {
      std::string_view rest(body);
      while (!rest.empty() && !done.load()) {
        const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
        if (n <= 0) return;
        rest.remove_prefix(static_cast<std::size_t>(n));
      }
    }
  });
  const auto deadline = started + 30s;
  while (SteadyClock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    if (a.text.empty()) a.took = SteadyClock::now() - started;
    a.text.append(buf, static_cast<std::size_t>(n));
    if (a.text.find("\r\n\r\n") != std::string::npos) break;  // the head of the answer is enough
  }
  done.store(true);
  shutdown(fd, SHUT_RDWR);
  sender.join();
  close(fd);
  return a;
}

// An organisation with one device whose child record exists.
struct Org {
  TempDir dir;
  std::string token, child, name = "honest";
  std::uint32_t counter = 0;
  Org() {
    admin(dir, {"authority", "create", "--name", "City", "--la-code", "123"});
    const std::string area = admin(dir, {"area", "create", "--name", "North"});
    const std::string team = admin(dir, {"team", "create", "--name", "A", "--area", area});
    const std::string w = admin(
        dir, {"worker", "create", "--name", "Ann", "--role", "social_worker", "--team", team});
    const std::string issued = admin(dir, {"device", "issue", "--worker", w});
    name = issued.substr(0, issued.find(' '));  // the device's id: its stamps' node
    token = issued.substr(issued.find(' ') + 1);
    child = new_uuid_v7(SystemClock::instance());
    admin(dir, {"allocate", "--case", child, "--worker", w});
  }
  sync::Op op(FieldChange::Op kind, const std::string& field = {}, Value value = {}) {
    sync::Op o;
    o.op_id = new_uuid_v7(SystemClock::instance());
    o.op = kind;
    o.record_id = child;
    o.kind = RecordKind::child;
    o.case_id = child;
    o.field = field;
    o.value = std::move(value);
    o.hlc = HlcStamp{std::chrono::duration_cast<std::chrono::milliseconds>(
                         SystemClock::instance().wall().time_since_epoch())
                         .count(),
                     ++counter, name}
                .to_string();
    o.at = now_text();
    return o;
  }
  // A sync request for round `round`: the child's creation first, then one edit a round.
  std::pair<std::string, std::string> request(int round) {
    sync::Transaction tx;
    tx.tx_id = new_uuid_v7(SystemClock::instance());
    if (round == 0) {
      tx.ops = {op(FieldChange::Op::create),
                op(FieldChange::Op::set, "local_id", std::string("C")),
                op(FieldChange::Op::set, "first_name", std::string("Alex")),
                op(FieldChange::Op::set, "last_name", std::string("Smith")),
                op(FieldChange::Op::set, "gender", std::string("1")),
                op(FieldChange::Op::set, "date_of_birth", std::string("2015-03-02"))};
    } else {
      tx.ops = {op(FieldChange::Op::set, "last_name", "N" + std::to_string(round))};
    }
    sync::SyncRequest req;
    req.device_time = now_text();
    req.transactions = {tx};
    return {tx.tx_id, sync::encode(req)};
  }
};

// The honest device: a sync every 200 ms, each on a new connection, timed.
class HonestDevice {
 public:
  HonestDevice(Org& org, int port) : org_(org), port_(port) {
    thread_ = std::thread([this] { loop(); });
  }
  ~HonestDevice() { finish(); }
  HonestDevice(const HonestDevice&) = delete;
  HonestDevice& operator=(const HonestDevice&) = delete;

  void finish() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // Call after finish().
  void check(std::size_t min_rounds) const {
    INFO(Catch::Detail::stringify(failures_));
    CHECK(failures_.empty());
    REQUIRE(latencies_.size() >= min_rounds);
    std::vector<SteadyClock::duration> sorted = latencies_;
    std::sort(sorted.begin(), sorted.end());
    const auto p99 =
        sorted[(sorted.size() * 99) / 100 == sorted.size() ? sorted.size() - 1
                                                           : (sorted.size() * 99) / 100];
    INFO("p99 " << std::chrono::duration_cast<std::chrono::milliseconds>(p99).count() << " ms of "
                << sorted.size() << " syncs");
    CHECK(p99 < 2s);
  }

 private:
  void loop() {
    for (int round = 0; !stop_.load(); ++round) {
      auto [tx_id, body] = org_.request(round);
      httplib::Client cli("127.0.0.1", port_);
      cli.set_connection_timeout(10, 0);
      cli.set_read_timeout(10, 0);
      const auto started = SteadyClock::now();
      auto res = cli.Post("/v1/sync", {{"Authorization", "Bearer " + org_.token}}, body,
                          "application/json");
      latencies_.push_back(SteadyClock::now() - started);
      std::string problem;
      if (!res) {
        problem = "no answer: " + httplib::to_string(res.error());
      } else if (res->status != 200) {
        problem = "status " + std::to_string(res->status) + ": " + res->body.substr(0, 200);
      } else {
        auto answer = sync::decode_response(res->body);
        if (!answer.ok() || answer->accepted != std::vector<std::string>{tx_id}) {
          problem = "not accepted: " + res->body.substr(0, 200);
        }
      }
      if (!problem.empty()) failures_.push_back("round " + std::to_string(round) + ": " + problem);
      std::this_thread::sleep_for(200ms);
    }
  }

  Org& org_;
  int port_;
  std::atomic<bool> stop_{false};
  std::vector<SteadyClock::duration> latencies_;
  std::vector<std::string> failures_;
  std::thread thread_;
};

// `count` connections from 127.0.0.2, each sending one more byte of a request head every
// 500 ms and opening again as soon as the server closes it.
class SlowDrip {
 public:
  SlowDrip(int port, int count) : port_(port), fds_(static_cast<std::size_t>(count), -1) {
    thread_ = std::thread([this] { loop(); });
  }
  ~SlowDrip() {
    stop_.store(true);
    thread_.join();
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  SlowDrip(const SlowDrip&) = delete;
  SlowDrip& operator=(const SlowDrip&) = delete;
  int opened() const { return opened_.load(); }

 private:
  void loop() {
    const std::string start = "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Drip: ";
    while (!stop_.load()) {
      for (int& fd : fds_) {
        if (fd >= 0) {
          char b;
          const ssize_t peek = recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
          const bool closed = peek == 0 || (peek < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
          if (closed || peek > 0 || ::send(fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
            close(fd);
            fd = -1;
          }
        }
        if (fd < 0) {
          fd = connect_from("127.0.0.2", port_, false);
          if (fd < 0) continue;
          ++opened_;
          [[maybe_unused]] const auto sent =
              ::send(fd, start.data(), start.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
      }
      std::this_thread::sleep_for(500ms);
    }
  }

  int port_;
  std::vector<int> fds_;
  std::atomic<bool> stop_{false};
  std::atomic<int> opened_{0};
  std::thread thread_;
};

// The hostile inputs of issue 14, item 5, against `port`; `direct` when that is the server
// itself (the answers' wording is then the server's). Checks that each is refused in time.
void refuse_hostile_inputs(int port, bool direct) {
  // A 64 MiB header line.
  {
    const Answer a = converse(
        port, "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Pad: ", std::string(1 << 20, 'a'), 64);
    INFO(a.text);
    CHECK((a.status() == (direct ? 431 : 400)));
  }
  // A 64 MiB chunked body to the sign-in.
  {
    std::string chunk = "100000\r\n" + std::string(0x100000, 'a') + "\r\n";
    const Answer a = converse(port,
                              "POST /v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: "
                              "application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                              chunk, 64);
    INFO(a.text);
    CHECK((a.status() == (direct ? 411 : 413)));
    if (direct) CHECK_THAT(a.text, Catch::Contains("\"length_required\""));
  }
  // Four 8 MiB nested JSON bodies to the enrollment at once.
  {
    const std::string nested = std::string(4 << 20, '[') + std::string(4 << 20, ']');
    std::vector<std::thread> senders;
    std::vector<Answer> answers(4);
    for (auto& answer : answers) {
      senders.emplace_back([&] {
        answer = converse(port,
                          "POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          "application/json\r\nContent-Length: " +
                              std::to_string(nested.size()) + "\r\n\r\n",
                          nested);
      });
    }
    for (auto& t : senders) t.join();
    for (const auto& a : answers) {
      INFO(a.text);
      CHECK(a.status() == 413);
    }
  }
  // A body declared far larger than any endpoint takes is refused on its declaration, at once.
  for (const std::string path : {"/v1/sync", "/v1/enroll"}) {
    INFO(path);
    const Answer a = converse(port, "POST " + path +
                                        " HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                        "application/json\r\nContent-Length: 900000000\r\n\r\n");
    INFO(a.text);
    CHECK(a.status() == 413);
    CHECK(a.took < 1s);
  }
  // Small, but nested beyond the bound: refused by the shared JSON bounds (by the server).
  {
    const std::string nested = std::string(30'000, '[') + std::string(30'000, ']');
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(10, 0);
    auto res = cli.Post("/v1/enroll", nested, "application/json");
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK_THAT(res->body, Catch::Contains("nested too deeply"));
  }
}

}  // namespace

TEST_CASE("http limits: hostile heads and bodies are refused at once, with bounded memory",
          "[security][http]") {
  Org org;
  ServerProcess server(org.dir, {"FIELDCASE_READ_TIMEOUT_SECONDS=10"});
  REQUIRE_FALSE(server.exited());
  const long before = peak_kib(server.pid());
  {
    HonestDevice honest(org, server.port());
    refuse_hostile_inputs(server.port(), true);
    std::this_thread::sleep_for(1s);
    honest.finish();
    honest.check(5);
  }
  const long after = peak_kib(server.pid());
  INFO("peak resident memory " << before << " KiB before, " << after << " KiB after");
  CHECK(after - before < kMemoryBoundKiB);
  CHECK(server.stop() == 0);
}

TEST_CASE("http limits: 200 slow-drip connections do not starve an honest device",
          "[security][http]") {
  Org org;
  ServerProcess server(org.dir, {});
  REQUIRE_FALSE(server.exited());
  {
    SlowDrip attack(server.port(), 200);
    std::this_thread::sleep_for(1s);  // every attacking connection is open
    HonestDevice honest(org, server.port());
    std::this_thread::sleep_for(7s);  // past the head deadline: the attack reconnects
    honest.finish();
    honest.check(20);
    CHECK(attack.opened() > 200);
  }
  CHECK(server.stop() == 0);
}

TEST_CASE("http limits: the same attacks through the shipped nginx configuration",
          "[security][http]") {
  Org org;
  ServerProcess server(org.dir, {});
  REQUIRE_FALSE(server.exited());
  // The shipped configuration, made to run here: on a loopback port, plain HTTP (TLS is
  // nginx's own business and tested by nginx), in the foreground, every file it writes in the
  // test's directory, in front of this one server.
  fieldcase::test::BalancerOptions options;
  options.dir = org.dir / "nginx";
  options.upstream = {server.port()};
  options.reference = FC_NGINX_CONF;
  auto balancer = fieldcase::test::Balancer::start(options);
  INFO((balancer.ok() ? std::string() : balancer.status().message()));
  REQUIRE(balancer.ok());
  auto& nginx = **balancer;
  const long server_before = peak_kib(server.pid());
  const long nginx_before = peak_kib(nginx.pid());
  {
    HonestDevice honest(org, nginx.port());
    refuse_hostile_inputs(nginx.port(), false);
    {
      SlowDrip attack(nginx.port(), 200);
      std::this_thread::sleep_for(7s);
      CHECK(attack.opened() > 200);  // nginx closed the dripping connections in time
    }
    honest.finish();
    honest.check(20);
  }
  const long server_after = peak_kib(server.pid());
  const long nginx_after = peak_kib(nginx.pid());
  INFO("server " << server_before << " -> " << server_after << " KiB, nginx " << nginx_before
                 << " -> " << nginx_after << " KiB");
  CHECK(server_after - server_before < kMemoryBoundKiB);
  CHECK(nginx_after - nginx_before < kMemoryBoundKiB);
  CHECK(nginx.stop().ok());
  CHECK(server.stop() == 0);
}
