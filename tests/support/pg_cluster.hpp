// A throw-away PostgreSQL cluster for tests: initdb into a private temporary directory, then
// pg_ctl start with the server listening on a Unix socket in that directory only (no TCP, no
// system service). As root (CI), initdb, pg_ctl and postgres run as the `postgres` user through
// runuser, with the directory given to that user. Stopped and removed with the object.
//
// The server binaries are taken from $FIELDCASE_PG_BIN, else /usr/lib/postgresql/15/bin; tests
// that need PostgreSQL do nothing (with a note) where neither exists (PgCluster::available()).
// Not thread-safe to start or stop; uri() and query() may be called from any thread.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/status.hpp"

namespace fieldcase::test {

class PgCluster {
 public:
  // The directory of initdb, pg_ctl and postgres, when there is one.
  static std::optional<std::filesystem::path> bin_dir();
  static bool available() { return bin_dir().has_value(); }

  // Creates and starts a cluster; the failure names the step and where its log is.
  static Result<std::unique_ptr<PgCluster>> start();
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // The libpq URI of database `dbname` on this cluster, as the superuser "postgres" (trust
  // authentication on the private socket): postgresql:///dbname?host=<dir>&port=<port>&user=...
  std::string uri(std::string_view dbname) const;
  // CREATE DATABASE `name` (a plain identifier).
  Status create_database(std::string_view name) const;
  // Runs `sql` on `dbname` as the superuser: every row of the last statement's result, each
  // column as text ("" for NULL).
  Result<std::vector<std::vector<std::string>>> query(std::string_view dbname,
                                                      std::string_view sql) const;
  // Stops the server (immediately: nothing of a test cluster needs a checkpoint). Idempotent.
  void stop();
  // `pg_ctl stop -m fast` (clients are disconnected, the server shuts down cleanly), and
  // `pg_ctl start` again on the same directory and socket: the database in the middle of a
  // test going away and coming back.
  Status stop_fast();
  Status restart();
  // The postmaster's process id (its backends are its children), or -1 when it is not running.
  int postmaster_pid() const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  PgCluster() = default;
  // Runs one of the cluster's binaries (as `postgres` when root); output goes to `log`.
  Status run(const std::string& binary, const std::string& args, const std::string& log) const;

  std::filesystem::path bin_;
  std::filesystem::path dir_;
  int port_ = 5432;
  bool as_postgres_ = false;
  bool running_ = false;
  std::string options_;  // postgres's options, the same at every start
};

}  // namespace fieldcase::test
