// Crash safety: a writer process is SIGKILLed at random moments; every commit it reported
// must survive and the database must stay consistent, in WAL and rollback-journal modes.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

#include "store_fixture.hpp"
#include "temp_dir.hpp"

using namespace fieldcase;
using namespace fieldcase::test;

namespace {

// Child: commits transactions forever, each touching several pages, and reports each
// committed id on the pipe after the commit returns.
[[noreturn]] void writer_child(const StoreMode& mode, const std::filesystem::path& path, int fd) {
  auto store = open_store(mode, path, 256);
  if (!store.ok()) _exit(3);
  Store& s = **store;
  std::int64_t next = query_int(s, "SELECT coalesce(max(id), -1) + 1 FROM t");
  std::mt19937 rng(static_cast<unsigned>(getpid()));
  for (;;) {
    std::int64_t id = next++;
    Status st = s.transaction([&]() -> Status {
      auto ins = s.prepare("INSERT INTO t(id, v, check_v) VALUES (?1, ?2, ?3)");
      if (!ins.ok()) return ins.status();
      std::string v(1000 + rng() % 6000, static_cast<char>('a' + id % 26));
      ins->bind(1, id).bind(2, v).bind(3, static_cast<std::int64_t>(v.size()));
      FC_TRY(ins->run());
      // A second table in the same transaction: both or neither must survive.
      return s.exec("UPDATE counter SET n = n + 1");
    });
    if (!st.ok()) _exit(4);
    if (write(fd, &id, sizeof id) != sizeof id) _exit(5);
  }
}

void crash_loop(const StoreMode& mode, int iterations) {
  TempDir dir;
  const auto path = dir / "crash.db";
  {
    auto store = open_store(mode, path);
    REQUIRE(store.ok());
    REQUIRE((*store)->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, check_v INTEGER);"
                           "CREATE TABLE counter(n INTEGER); INSERT INTO counter VALUES (0);")
                .ok());
  }
  std::mt19937 rng(static_cast<unsigned>(iterations * 7919 + (mode.journal == JournalMode::wal)));
  std::int64_t reported = -1;
  for (int i = 0; i < iterations; ++i) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      writer_child(mode, path, fds[1]);
    }
    close(fds[1]);
    // Let it commit a random number of transactions, then kill it at a random moment.
    int want = 1 + static_cast<int>(rng() % 20);
    for (int got = 0; got < want; ++got) {
      std::int64_t id;
      if (read(fds[0], &id, sizeof id) != sizeof id) break;
      reported = std::max(reported, id);
    }
    usleep(static_cast<useconds_t>(rng() % 3000));
    kill(pid, SIGKILL);
    std::int64_t id;
    while (read(fds[0], &id, sizeof id) == sizeof id) reported = std::max(reported, id);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFSIGNALED(status));  // it was killed, not failed

    auto store = open_store(mode, path);
    REQUIRE(store.ok());
    Store& s = **store;
    REQUIRE(integrity_check(s) == "ok");
    // Every reported commit is there, whole: the rows and the counter agree.
    std::int64_t rows = query_int(s, "SELECT count(*) FROM t");
    REQUIRE(query_int(s, "SELECT count(*) FROM t WHERE id <= " + std::to_string(reported)) ==
            reported + 1);
    REQUIRE(query_int(s, "SELECT n FROM counter") == rows);
    REQUIRE(query_int(s, "SELECT count(*) FROM t WHERE length(v) != check_v") == 0);
  }
  CHECK(reported > iterations);
}

int iterations_from_env(int fallback) {
  const char* v = std::getenv("FIELDCASE_CRASH_ITERATIONS");
  return v != nullptr ? std::max(1, std::atoi(v)) : fallback;
}

}  // namespace

TEST_CASE("committed transactions survive SIGKILL at random moments", "[store][faults]") {
  for (JournalMode journal : {JournalMode::wal, JournalMode::rollback}) {
    for (bool encrypted : {true, false}) {
      const StoreMode mode{encrypted, journal};
      SECTION(mode.name()) { crash_loop(mode, encrypted ? 50 : 10); }
    }
  }
}

TEST_CASE("crash stress: many more kills", "[.stress][store][faults]") {
  for (JournalMode journal : {JournalMode::wal, JournalMode::rollback}) {
    const StoreMode mode{true, journal};
    SECTION(mode.name()) { crash_loop(mode, iterations_from_env(1000)); }
  }
}
