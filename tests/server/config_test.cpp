// Server configuration: file, environment overrides, validation of values.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>

#include "fieldcase/server/config.hpp"
#include "fieldcase/server/http_server.hpp"
#include "fieldcase/server/ports/store_engine.hpp"
#include "temp_dir.hpp"

using namespace fieldcase;
using namespace fieldcase::server;

TEST_CASE("server config: a file then the environment override the defaults", "[sync]") {
  test::TempDir dir;
  {
    std::ofstream out(dir / "server.conf");
    out << "# fieldcase-server\n\n"
           "listen = 0.0.0.0:9000\n"
           "database = /var/lib/fieldcase/server.db\n"
           "  offset_threshold_seconds=120  \n"
           "reallocation_grace_hours = 48\n"
           "threads = 4\n";
  }
  ServerConfig c;
  REQUIRE(load_config_file(dir / "server.conf", c).ok());
  CHECK(c.listen == "0.0.0.0:9000");
  CHECK(c.database == "/var/lib/fieldcase/server.db");
  CHECK(c.service.offset_threshold == std::chrono::seconds(120));
  CHECK(c.service.reallocation_grace == std::chrono::hours(48));
  CHECK(c.threads == 4);
  CHECK(c.max_body_bytes == 8u << 20);

  std::map<std::string, std::string> env{{"FIELDCASE_LISTEN", "127.0.0.1:0"},
                                         {"FIELDCASE_MAX_BODY_BYTES", "65536"}};
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  REQUIRE(apply_environment(c, getenv).ok());
  CHECK(c.listen == "127.0.0.1:0");
  CHECK(c.max_body_bytes == 65536);
  CHECK(c.database == "/var/lib/fieldcase/server.db");

  env["FIELDCASE_THREADS"] = "many";
  Status bad = apply_environment(c, getenv);
  CHECK(bad.code() == Errc::invalid_argument);
  CHECK_THAT(bad.message(), Catch::Contains("FIELDCASE_THREADS"));
}

TEST_CASE("server config: mistakes name the file line and the setting", "[sync]") {
  test::TempDir dir;
  {
    std::ofstream out(dir / "bad.conf");
    out << "listen = 127.0.0.1:8480\nlisten_on 127.0.0.1\n";
  }
  ServerConfig c;
  Status st = load_config_file(dir / "bad.conf", c);
  CHECK(st.code() == Errc::invalid_argument);
  CHECK_THAT(st.message(), Catch::Contains("bad.conf:2"));
  CHECK(set_config_value(c, "colour", "blue").code() == Errc::invalid_argument);
  CHECK(set_config_value(c, "listen", "no-port").code() == Errc::invalid_argument);
  CHECK(set_config_value(c, "listen", "host:70000").code() == Errc::invalid_argument);
  CHECK(set_config_value(c, "max_body_bytes", "-1").code() == Errc::invalid_argument);
  CHECK(load_config_file(dir / "missing.conf", c).code() == Errc::not_found);

  std::string host;
  int port = -1;
  REQUIRE(parse_listen("[::1]:8080", host, port).ok());
  CHECK(host == "::1");
  CHECK(port == 8080);
}

TEST_CASE("server config: transport security, limits and the offline limit", "[sync][security]") {
  ServerConfig c;
  CHECK(c.tls_cert.empty());
  CHECK_FALSE(c.allow_plain_http);
  CHECK(c.service.offline_limit_days == 14);
  REQUIRE(check_config(c).ok());
  REQUIRE(set_config_value(c, "tls_cert", "/etc/fieldcase/server.pem").ok());
  Status half = check_config(c);
  CHECK(half.code() == Errc::invalid_argument);
  CHECK(half.message() == "tls_cert and tls_key must be set together");
  REQUIRE(set_config_value(c, "tls_key", "/etc/fieldcase/server.key").ok());
  CHECK(check_config(c).ok());
  REQUIRE(set_config_value(c, "allow_plain_http", "true").ok());
  CHECK(c.allow_plain_http);
  CHECK(set_config_value(c, "allow_plain_http", "yes").code() == Errc::invalid_argument);
  REQUIRE(set_config_value(c, "rate_limit_per_minute", "0").ok());
  CHECK(c.rate_limit_per_minute == 0);
  CHECK(set_config_value(c, "rate_limit_burst", "0").code() == Errc::invalid_argument);
  CHECK(c.max_queued_connections == 256);
  REQUIRE(set_config_value(c, "max_queued_connections", "0").ok());
  CHECK(c.max_queued_connections == 0);
  CHECK(set_config_value(c, "max_queued_connections", "-1").code() == Errc::invalid_argument);
  REQUIRE(set_config_value(c, "body_deadline_seconds", "5").ok());
  CHECK(c.body_deadline == std::chrono::seconds(5));
  // The HTTP front's request limits.
  CHECK(c.head_timeout == std::chrono::seconds(5));
  CHECK(c.max_head_bytes == 16384);
  CHECK(c.max_web_body_bytes == 65536);
  CHECK(c.max_inflight_body_bytes == std::size_t{64} << 20);
  CHECK(c.max_pending_per_address == 64);
  REQUIRE(set_config_value(c, "head_timeout_seconds", "2").ok());
  CHECK(c.head_timeout == std::chrono::seconds(2));
  CHECK(set_config_value(c, "head_timeout_seconds", "0").code() == Errc::invalid_argument);
  REQUIRE(set_config_value(c, "max_head_bytes", "8192").ok());
  CHECK(c.max_head_bytes == 8192);
  CHECK(set_config_value(c, "max_head_bytes", "100").code() == Errc::invalid_argument);
  REQUIRE(set_config_value(c, "max_web_body_bytes", "131072").ok());
  CHECK(c.max_web_body_bytes == 131072);
  REQUIRE(set_config_value(c, "max_inflight_body_bytes", "33554432").ok());
  CHECK(c.max_inflight_body_bytes == std::size_t{32} << 20);
  REQUIRE(set_config_value(c, "max_pending_per_address", "8").ok());
  CHECK(c.max_pending_per_address == 8);
  CHECK(set_config_value(c, "max_pending_per_address", "0").code() == Errc::invalid_argument);
  REQUIRE(set_config_value(c, "offline_limit_days", "0").ok());
  CHECK(c.service.offline_limit_days == 0);
  CHECK(set_config_value(c, "offline_limit_days", "-3").code() == Errc::invalid_argument);
  std::map<std::string, std::string> env{{"FIELDCASE_OFFLINE_LIMIT_DAYS", "30"},
                                         {"FIELDCASE_ALLOW_PLAIN_HTTP", "false"}};
  REQUIRE(apply_environment(c, [&](const char* name) -> const char* {
            auto it = env.find(name);
            return it == env.end() ? nullptr : it->second.c_str();
          }).ok());
  CHECK(c.service.offline_limit_days == 30);
  CHECK_FALSE(c.allow_plain_http);
}

TEST_CASE("server config: the under-18 population for the looked-after rate", "[sync][figures]") {
  ServerConfig c;
  CHECK(c.population_under_18 == 0);
  REQUIRE(set_config_value(c, "population_under_18", "52000").ok());
  CHECK(c.population_under_18 == 52000);
  CHECK(set_config_value(c, "population_under_18", "-1").code() == Errc::invalid_argument);
  CHECK(set_config_value(c, "population_under_18", "many").code() == Errc::invalid_argument);
  std::map<std::string, std::string> env{{"FIELDCASE_POPULATION_UNDER_18", "61000"}};
  REQUIRE(apply_environment(c, [&](const char* name) -> const char* {
            auto it = env.find(name);
            return it == env.end() ? nullptr : it->second.c_str();
          }).ok());
  CHECK(c.population_under_18 == 61000);
}

TEST_CASE("server config: loopback addresses are told from the others", "[sync][security]") {
  for (const char* a : {"127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "localhost"}) {
    INFO(a);
    CHECK(is_loopback_address(a));
  }
  for (const char* a : {"0.0.0.0", "::", "192.0.2.2", "10.0.0.127", "::ffff:10.0.0.1", "", "127",
                        "fe80::1", "localhost.example.org"}) {
    INFO(a);
    CHECK_FALSE(is_loopback_address(a));
  }
}

TEST_CASE("server config: the server secret's file", "[sync][security]") {
  ServerConfig c;
  c.database = "/var/lib/fieldcase/server.db";
  CHECK(code_secret_path(c).value() == "/var/lib/fieldcase/server.db.code-secret");
  REQUIRE(set_config_value(c, "code_secret_file", "/etc/fieldcase/code-secret").ok());
  CHECK(code_secret_path(c).value() == "/etc/fieldcase/code-secret");
  CHECK(set_config_value(c, "code_secret_file", "").code() == Errc::invalid_argument);
  std::map<std::string, std::string> env{{"FIELDCASE_CODE_SECRET_FILE", "/run/creds/secret"}};
  REQUIRE(apply_environment(c, [&](const char* name) -> const char* {
            auto it = env.find(name);
            return it == env.end() ? nullptr : it->second.c_str();
          }).ok());
  CHECK(code_secret_path(c).value() == "/run/creds/secret");
}

TEST_CASE("server config: with PostgreSQL the server secret's file must be named",
          "[sync][security]") {
  ServerConfig c;
  REQUIRE(set_config_value(c, "database", "postgresql://db.internal/fieldcase").ok());
  auto missing = code_secret_path(c);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Errc::invalid_argument);
  CHECK_THAT(missing.status().message(), Catch::Contains("code_secret_file"));
  REQUIRE(set_config_value(c, "code_secret_file", "/etc/fieldcase/code-secret").ok());
  CHECK(code_secret_path(c).value() == "/etc/fieldcase/code-secret");
}

TEST_CASE("server config: database names a PostgreSQL URI or a SQLite file", "[sync]") {
  ServerConfig c;
  CHECK(c.database == "fieldcase-server.db");
  CHECK(store_engine_of(c.database) == StoreEngine::sqlite);
  CHECK(c.database_pool_size == 8);

  for (const char* uri : {"postgresql://fc@db.internal:5432/fieldcase?sslmode=verify-full",
                          "postgres://db.internal/fieldcase",
                          "postgresql:///fieldcase?host=/run/postgresql"}) {
    INFO(uri);
    REQUIRE(set_config_value(c, "database", uri).ok());
    CHECK(c.database == uri);
    CHECK(store_engine_of(c.database) == StoreEngine::postgres);
  }
  for (const char* path : {"/var/lib/fieldcase/server.db", "server.db", "postgresql.db",
                           "./postgres://not-a-uri", "POSTGRESQL-backup.db"}) {
    INFO(path);
    REQUIRE(set_config_value(c, "database", path).ok());
    CHECK(store_engine_of(c.database) == StoreEngine::sqlite);
  }
  CHECK(set_config_value(c, "database", "").code() == Errc::invalid_argument);

  REQUIRE(set_config_value(c, "database_pool_size", "16").ok());
  CHECK(c.database_pool_size == 16);
  CHECK(set_config_value(c, "database_pool_size", "0").code() == Errc::invalid_argument);
  CHECK(set_config_value(c, "database_pool_size", "many").code() == Errc::invalid_argument);

  std::map<std::string, std::string> env{
      {"FIELDCASE_DATABASE", "postgres://fc@10.0.0.5/fieldcase"},
      {"FIELDCASE_DATABASE_POOL_SIZE", "3"}};
  REQUIRE(apply_environment(c, [&](const char* name) -> const char* {
            auto it = env.find(name);
            return it == env.end() ? nullptr : it->second.c_str();
          }).ok());
  CHECK(c.database == "postgres://fc@10.0.0.5/fieldcase");
  CHECK(store_engine_of(c.database) == StoreEngine::postgres);
  CHECK(c.database_pool_size == 3);
  env["FIELDCASE_DATABASE_POOL_SIZE"] = "1001";
  Status bad = apply_environment(c, [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  CHECK(bad.code() == Errc::invalid_argument);
  CHECK_THAT(bad.message(), Catch::Contains("FIELDCASE_DATABASE_POOL_SIZE"));
}
