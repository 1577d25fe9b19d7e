// The server's configuration: defaults, then a config file, then environment variables, then
// command-line options, each overriding the one before.
//
// The file holds `key = value` lines; blank lines and lines starting with '#' are ignored.
// Every key can also come from the environment as FIELDCASE_<KEY IN UPPER CASE> (for example
// FIELDCASE_LISTEN, FIELDCASE_DATABASE, FIELDCASE_OFFSET_THRESHOLD_SECONDS). Keys:
//   listen                      HOST:PORT to listen on (port 0: any free port)
//   database                    where the data lives: a postgresql:// or postgres:// URI
//                               (libpq syntax) means PostgreSQL, for several instances on one
//                               database; anything else is the path of the SQLite file, the
//                               embedded default (fieldcase-server.db)
//   database_pool_size          PostgreSQL connections of one instance (default 8)
//   threads                     HTTP worker threads: connections served at once (each open
//                               connection holds one; more wait in the accept queue)
//   max_queued_connections      connections that may wait for a thread; more get 503 busy
//   keep_alive_seconds          how long an idle connection keeps its thread
//   max_body_bytes              largest request body accepted, after decompression
//   read_timeout_seconds, write_timeout_seconds
//   offset_threshold_seconds    |clock offset| flagged as large
//   plausibility_slack_seconds  slack for after_receipt / before_start
//   reallocation_grace_hours    how long a device may deliver work on a reallocated case
//   clock_window                samples in the clock-offset estimate
//   clock_step_seconds          a drop this large restarts the estimate (clock set back)
//   clock_max_age_hours         samples older than this are forgotten
//   max_page_bytes              a page of changes stops growing at about this size
//   enrollment_ttl_hours        how long an enrollment code stays usable (default 72)
//   enrollment_attempts         wrong guesses that lock one code (default 5)
//   session_idle_minutes        a web session ends after this long unused (default 30)
//   session_absolute_hours      ... and this long after sign-in in any case (default 12)
//   signin_lockout_failures     failed sign-ins in a row that lock an account (default 5)
//   signin_lockout_minutes      how long the lock lasts (default 15)
//   body_deadline_seconds       the whole request body must arrive within this time
//   head_timeout_seconds        the request head must arrive within this time (default 5)
//   max_head_bytes              largest request head, request line and headers (default 16384)
//   max_web_body_bytes          largest body of every endpoint but sync (default 65536)
//   max_inflight_body_bytes     the declared bodies of all requests in hand (default 64 MiB)
//   max_pending_per_address     connections of one address waiting for their head (default 64)
//   code_secret_file            the server secret that keys stored enrollment codes (created,
//                               mode 0600, when missing; default <database>.code-secret for
//                               SQLite; required with PostgreSQL; keep it out of database
//                               backups, see docs/security.md)
//   tls_cert, tls_key           PEM certificate chain and private key: HTTPS when set
//   allow_plain_http            true: plain HTTP on a non-loopback address (loud warning)
//   rate_limit_per_minute       per-device sync requests per minute (0: no limit)
//   rate_limit_burst            per-device sync requests in each 10 seconds
//   offline_limit_days          days a device may go without syncing before it locks (0: none)
//   population_under_18         the authority's under-18 population, for the looked-after
//                               rate per 10,000 (0: unknown, no rate)
//   max_stamp_ahead_seconds     how far ahead of the server's time a device's clock stamp may
//                               be (default 43200, 12 hours; 60 to 604800)
// Value types; thread-safe to copy.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/sync_service.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

struct ServerConfig {
  std::string listen = "127.0.0.1:8480";
  std::string database = "fieldcase-server.db";  // a PostgreSQL URI or a SQLite file path
  std::size_t database_pool_size = 8;
  std::filesystem::path code_secret_file;  // empty: <database>.code-secret (SQLite only)
  int threads = 64;
  std::size_t max_queued_connections = 256;
  std::chrono::seconds keep_alive{2};
  std::size_t max_body_bytes = 8u << 20;
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds write_timeout{30};
  std::chrono::seconds body_deadline{60};
  std::chrono::seconds head_timeout{5};
  std::size_t max_head_bytes = 16u << 10;
  std::size_t max_web_body_bytes = 64u << 10;
  std::size_t max_inflight_body_bytes = 64u << 20;
  std::size_t max_pending_per_address = 64;
  std::string tls_cert;
  std::string tls_key;
  bool allow_plain_http = false;
  int rate_limit_per_minute = 600;
  int rate_limit_burst = 120;
  std::int64_t population_under_18 = 0;
  ServiceOptions service;
  AccessOptions access;
};

// Sets one key; an unknown key or a malformed value is Errc::invalid_argument.
Status set_config_value(ServerConfig& config, std::string_view key, std::string_view value);
// Reads a config file; errors name the file and line.
Status load_config_file(const std::filesystem::path& path, ServerConfig& config);
// Applies FIELDCASE_<KEY> variables found through `getenv` (std::getenv in the binary).
Status apply_environment(ServerConfig& config,
                         const std::function<const char*(const char*)>& getenv);
// The file of the server secret: code_secret_file, or <database>.code-secret for a SQLite
// database; with PostgreSQL code_secret_file must be set (Errc::invalid_argument otherwise).
Result<std::filesystem::path> code_secret_path(const ServerConfig& config);
// Both TLS files or neither.
Status check_config(const ServerConfig& config);
// Splits "HOST:PORT" (port 0..65535; "[::1]:80" for IPv6).
Status parse_listen(std::string_view listen, std::string& host, int& port);

}  // namespace fieldcase::server
