// The real fieldcase-server on a throw-away PostgreSQL: `migrate` prepares the schema, `serve`
// refuses any schema but its own, and the admin commands use the database the config names.
#include <catch2/catch.hpp>

#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fieldcase/server/sqlite_server_store.hpp"
#include "pg_cluster.hpp"
#include "server_process.hpp"
#include "temp_dir.hpp"

using namespace fieldcase;
using namespace fieldcase::test;

namespace {

std::string latest_version() {
  return std::to_string(server::SqliteServerStore::latest_schema_version());
}

}  // namespace

TEST_CASE("fieldcase-server on PostgreSQL: migrate, then serve; other schemas are refused",
          "[pg][http]") {
  if (!PgCluster::available()) {
    WARN("no PostgreSQL binaries: skipped");
    return;
  }
  auto cluster = PgCluster::start();
  REQUIRE(cluster.ok());
  PgCluster& pg = **cluster;
  REQUIRE(pg.create_database("fc").ok());
  TempDir dir;
  const std::string db = "FIELDCASE_DATABASE=" + pg.uri("fc");
  const std::string secret = "FIELDCASE_CODE_SECRET_FILE=" + (dir / "code-secret").string();

  // An empty database: serve refuses it and tells the operator what to do.
  {
    ServerProcess unmigrated(dir, {db, secret});
    REQUIRE(unmigrated.exited());
    CHECK(unmigrated.exit_code() == 1);
    CHECK_THAT(unmigrated.stderr_text(), Catch::Contains("fieldcase-server migrate"));
  }
  Run admin_early = run_binary({"admin", "worker", "list"}, dir, {db});
  CHECK(admin_early.exit_code == 1);
  CHECK_THAT(admin_early.err, Catch::Contains("fieldcase-server migrate"));

  Run first = run_binary({"migrate"}, dir, {db});
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.out == "schema migrated from version 0 to " + latest_version() + "\n");
  Run again = run_binary({"migrate"}, dir, {db});
  REQUIRE(again.exit_code == 0);
  CHECK(again.out == "schema already at version " + latest_version() + "\n");

  // Without a named server secret there is no <database>.code-secret beside a URI.
  {
    ServerProcess no_secret(dir, {db});
    REQUIRE(no_secret.exited());
    CHECK(no_secret.exit_code() == 2);
    CHECK_THAT(no_secret.stderr_text(), Catch::Contains("code_secret_file"));
  }

  // The admin commands and the server work on the same PostgreSQL database.
  Run authority =
      run_binary({"admin", "--quiet", "authority", "create", "--name", "Northshire",
                  "--la-code", "931"},
                 dir, {db});
  INFO(authority.err);
  REQUIRE(authority.exit_code == 0);
  CHECK(pg.query("fc", "SELECT count(*) FROM authority").value().at(0).at(0) == "1");
  {
    ServerProcess server(dir, {db, secret});
    REQUIRE_FALSE(server.exited());
    httplib::Client cli("127.0.0.1", server.port());
    auto health = cli.Get("/v1/health");
    REQUIRE(health);
    CHECK(health->status == 200);
    auto ready = cli.Get("/v1/ready");
    REQUIRE(ready);
    CHECK(ready->status == 200);
    CHECK_THAT(ready->body, Catch::Contains("\"status\":\"ready\""));
    // A schema this build does not know (a newer build migrated): not ready, still alive.
    REQUIRE(pg.query("fc", "UPDATE fieldcase_schema SET version = version + 1").ok());
    ready = cli.Get("/v1/ready");
    REQUIRE(ready);
    CHECK(ready->status == 503);
    CHECK_FALSE(ready->get_header_value("Retry-After").empty());
    REQUIRE(pg.query("fc", "UPDATE fieldcase_schema SET version = version - 1").ok());
    ready = cli.Get("/v1/ready");
    REQUIRE(ready);
    CHECK(ready->status == 200);
    // The database stopped: not ready, and liveness needs no database.
    REQUIRE(pg.stop_fast().ok());
    ready = cli.Get("/v1/ready");
    REQUIRE(ready);
    CHECK(ready->status == 503);
    CHECK_THAT(ready->body, Catch::Contains("unavailable"));
    CHECK_FALSE(ready->get_header_value("Retry-After").empty());
    health = cli.Get("/v1/health");
    REQUIRE(health);
    CHECK(health->status == 200);
    REQUIRE(pg.restart().ok());
    bool back = false;
    for (int i = 0; i < 50 && !back; ++i) {
      ready = cli.Get("/v1/ready");
      back = ready && ready->status == 200;
      if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(back);
    CHECK(server.stop() == 0);
  }
  CHECK(fs::exists(dir / "code-secret"));

  // A schema from a newer build is refused too.
  REQUIRE(pg.query("fc", "UPDATE fieldcase_schema SET version = version + 1").ok());
  {
    ServerProcess newer(dir, {db, secret});
    REQUIRE(newer.exited());
    CHECK(newer.exit_code() == 1);
    CHECK_THAT(newer.stderr_text(), Catch::Contains("newer"));
  }
  Run downgrade = run_binary({"migrate"}, dir, {db});
  CHECK(downgrade.exit_code == 1);
  CHECK_THAT(downgrade.err, Catch::Contains("newer"));
}
