#include "pg_cluster.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <system_error>

namespace fieldcase::test {
namespace {

void chown_tree(const std::filesystem::path& root, uid_t uid, gid_t gid) {
  (void)::chown(root.c_str(), uid, gid);
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root, ec)) {
    (void)::chown(e.path().c_str(), uid, gid);
  }
}

}  // namespace

std::optional<std::filesystem::path> PgCluster::bin_dir() {
  std::filesystem::path dir = "/usr/lib/postgresql/15/bin";
  if (const char* env = std::getenv("FIELDCASE_PG_BIN"); env != nullptr && *env != '\0') dir = env;
  std::error_code ec;
  if (!std::filesystem::exists(dir / "initdb", ec) || !std::filesystem::exists(dir / "pg_ctl", ec)) {
    return std::nullopt;
  }
  return dir;
}

Status PgCluster::run(const std::string& binary, const std::string& args,
                      const std::string& log) const {
  std::string cmd = (as_postgres_ ? "runuser -u postgres -- " : "") + (bin_ / binary).string() +
                    " " + args + " >>" + (dir_ / log).string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    return {Errc::io, binary + " failed (status " + std::to_string(rc) + "); see " +
                          (dir_ / log).string()};
  }
  return {};
}

Result<std::unique_ptr<PgCluster>> PgCluster::start() {
  auto bin = bin_dir();
  if (!bin) return Status(Errc::not_found, "no PostgreSQL server binaries (FIELDCASE_PG_BIN)");
  std::unique_ptr<PgCluster> c(new PgCluster());
  c->bin_ = *bin;
  // Short: the socket's path must fit in sun_path.
  std::string tmpl = "/tmp/fcpg-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return Status(Errc::io, "mkdtemp failed");
  c->dir_ = tmpl;
  if (::geteuid() == 0) {
    // initdb refuses to run as root.
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) return Status(Errc::not_found, "running as root and no postgres user");
    c->as_postgres_ = true;
    chown_tree(c->dir_, pw->pw_uid, pw->pw_gid);
  }
  const std::string data = (c->dir_ / "data").string();
  FC_TRY(c->run("initdb", "-D " + data + " -U postgres -A trust -E UTF8 --no-locale --no-sync",
                "initdb.log"));
  c->options_ = "-k " + c->dir_.string() + " -c listen_addresses='' -p " +
                std::to_string(c->port_) + " -c fsync=off -c max_connections=60";
  FC_TRY(c->restart());
  return c;
}

Status PgCluster::restart() {
  if (running_) return {};
  FC_TRY(run("pg_ctl", "-D " + (dir_ / "data").string() + " -l " + (dir_ / "server.log").string() +
                           " -w -t 60 -o \"" + options_ + "\" start",
             "pg_ctl.log"));
  running_ = true;
  return {};
}

Status PgCluster::stop_fast() {
  if (!running_) return {};
  running_ = false;
  return run("pg_ctl", "-D " + (dir_ / "data").string() + " -m fast -w stop", "pg_ctl.log");
}

int PgCluster::postmaster_pid() const {
  if (!running_) return -1;
  std::ifstream in(dir_ / "data" / "postmaster.pid");
  int pid = -1;
  in >> pid;
  return in ? pid : -1;
}

PgCluster::~PgCluster() {
  stop();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

void PgCluster::stop() {
  if (!running_) return;
  running_ = false;
  (void)run("pg_ctl", "-D " + (dir_ / "data").string() + " -m immediate -w stop", "pg_ctl.log");
}

std::string PgCluster::uri(std::string_view dbname) const {
  return "postgresql:///" + std::string(dbname) + "?host=" + dir_.string() +
         "&port=" + std::to_string(port_) + "&user=postgres";
}

Result<std::vector<std::vector<std::string>>> PgCluster::query(std::string_view dbname,
                                                               std::string_view sql) const {
  PGconn* conn = PQconnectdb(uri(dbname).c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn);
    PQfinish(conn);
    return Status(Errc::unavailable, "cannot connect to the test cluster: " + why);
  }
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  PGresult* r = PQexec(conn, std::string(sql).c_str());
  const ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string why = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(conn);
    return Status(Errc::io, "test cluster query failed: " + why);
  }
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < PQntuples(r); ++i) {
    std::vector<std::string> row;
    for (int j = 0; j < PQnfields(r); ++j) row.emplace_back(PQgetvalue(r, i, j));
    rows.push_back(std::move(row));
  }
  PQclear(r);
  PQfinish(conn);
  return rows;
}

Status PgCluster::create_database(std::string_view name) const {
  return query("postgres", "CREATE DATABASE " + std::string(name)).status();
}

}  // namespace fieldcase::test
