#include "fieldcase/server/postgres_server_store.hpp"

#include <algorithm>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "fieldcase/server/audit_chain.hpp"
#include "pg_connection.hpp"
#include "sql/migration_files.hpp"
#include "sql/reading.hpp"
#include "sql/rows.hpp"
#include "sql/statements.hpp"

namespace fieldcase::server {
namespace {

using namespace storage;
namespace q = storage::sql;
using pg::flag;
using pg::num;
using pg::text;

// The advisory lock keys ("fcwriter", "fcmigrat"): one per database, shared by every process.
constexpr std::int64_t kWriterLock = 0x6663777269746572;
constexpr std::int64_t kMigrationLock = 0x66636d6967726174;

// Each statement's result read the way the readers of rows.hpp read, whether they can fail or
// not.
template <typename T>
Result<T> lift(T value) {
  return value;
}
template <typename T>
Result<T> lift(Result<T> value) {
  return value;
}

template <typename Read>
auto first_row(Result<pg::Rows> rows, Read read)
    -> Result<std::optional<std::remove_cvref_t<decltype(lift(read(rows.value()[0])).value())>>> {
  using T = std::remove_cvref_t<decltype(lift(read(rows.value()[0])).value())>;
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<T>();
  auto item = lift(read((*rows)[0]));
  if (!item.ok()) return item.status();
  return std::optional<T>(std::move(*item));
}

template <typename Read>
auto every_row(Result<pg::Rows> rows, Read read)
    -> Result<std::vector<std::remove_cvref_t<decltype(lift(read(rows.value()[0])).value())>>> {
  using T = std::remove_cvref_t<decltype(lift(read(rows.value()[0])).value())>;
  if (!rows.ok()) return rows.status();
  std::vector<T> out;
  out.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) {
    auto item = lift(read((*rows)[i]));
    if (!item.ok()) return item.status();
    out.push_back(std::move(*item));
  }
  return out;
}

// A bounded pool of connections; thread-safe.
class Pool {
 public:
  explicit Pool(const PostgresOptions& o) : o_(o) {}

  Result<std::unique_ptr<pg::Connection>> lease() {
    std::unique_ptr<pg::Connection> c;
    {
      std::unique_lock lock(m_);
      const bool free = cv_.wait_for(lock, o_.lease_timeout, [&] {
        return !idle_.empty() || leased_ + idle_.size() < std::max<std::size_t>(o_.pool_size, 1);
      });
      if (!free) return Status(Errc::busy, "every database connection is in use; retry shortly");
      if (!idle_.empty()) {
        c = std::move(idle_.back());
        idle_.pop_back();
      }
      ++leased_;
    }
    // A connection the server ended while it was idle is replaced before anything runs on it.
    if (c && c->alive()) return c;
    c.reset();
    auto opened = pg::Connection::open(o_.conninfo, o_.connect_timeout, o_.lock_timeout);
    if (!opened.ok()) {
      give_back(nullptr);
      return opened.status();
    }
    return std::move(*opened);
  }

  // Returns a leased connection; a broken one, or one left in a transaction, is closed.
  void give_back(std::unique_ptr<pg::Connection> c) {
    if (c && !c->broken() && !c->idle()) {
      if (!c->exec_script("ROLLBACK").ok() || !c->idle()) c.reset();
    }
    std::lock_guard lock(m_);
    --leased_;
    if (c && !c->broken()) idle_.push_back(std::move(c));
    cv_.notify_one();
  }

 private:
  const PostgresOptions& o_;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pg::Connection>> idle_;
  std::size_t leased_ = 0;
};

Result<int> read_schema_version(pg::Connection& c) {
  auto exists = c.exec_once("SELECT to_regclass('fieldcase_schema') IS NOT NULL");
  if (!exists.ok()) return exists.status();
  if ((*exists)[0].column_text(0) != "t") return 0;
  auto v = c.exec_once("SELECT version FROM fieldcase_schema WHERE id = 1");
  if (!v.ok()) return v.status();
  if (v->empty()) return 0;
  return static_cast<int>((*v)[0].column_int(0));
}

// Version 2, after its SQL: chains the version-1 entries (audit_v1), oldest first, into the new
// log. Code, not SQL: the chain's hash is BLAKE2b (audit_chain.hpp).
Status chain_v1_audit(pg::Connection& c) {
  auto old = c.exec_once(q::kLegacyAudit);
  if (!old.ok()) return old.status();
  std::string prev(kAuditGenesisHash);
  std::int64_t seq = 0;
  for (int i = 0; i < old->size(); ++i) {
    const pg::Row r = (*old)[i];
    AuditEvent e;
    e.id = r.column_text(0);
    e.at = r.column_text(1);
    e.event = r.column_text(2);
    e.device_id = r.column_text(3);
    e.worker_id = r.column_text(4);
    e.case_id = r.column_text(5);
    e.tx_id = r.column_text(6);
    e.detail = r.column_text(7);
    e.outcome = legacy_audit_outcome(e.event);
    chain_audit_entry(e, seq, prev);
    seq = e.seq;
    prev = e.hash;
    auto ins = c.exec(q::kInsertAudit,
                      {num(e.seq), text(e.id), text(e.at), text(e.event), text(e.outcome),
                       text(e.worker_id), text(e.device_id), text(e.case_id), text(e.record_id),
                       text(e.tx_id), text(e.relation), text(e.detail), text(e.prev_hash),
                       text(e.hash)});
    if (!ins.ok()) return ins.status();
  }
  auto head = c.exec(q::kInsertAuditHead, {num(seq), text(prev)});
  if (!head.ok()) return head.status();
  return c.exec_script(q::kDropLegacyAudit);
}

Status schema_too_new(int found) {
  return {Errc::schema, "the database schema is version " + std::to_string(found) +
                            ", newer than this build understands (" +
                            std::to_string(PostgresServerStore::latest_schema_version()) + ")"};
}

struct Frame {
  const void* store;
  pg::Connection* conn;
  int depth;
};
// The outermost transaction each store has open on this thread, and its connection.
thread_local std::vector<Frame> t_frames;

}  // namespace

struct PostgresServerStore::Impl {
  explicit Impl(PostgresOptions o) : options(std::move(o)), pool(options) {}

  Frame* frame() {
    for (auto& f : t_frames) {
      if (f.store == this) return &f;
    }
    return nullptr;
  }

  // Runs f(connection) on this thread's transaction connection, or on one leased for the call.
  template <typename F>
  auto with_conn(F&& f) -> decltype(f(std::declval<pg::Connection&>())) {
    if (Frame* fr = frame()) return f(*fr->conn);
    auto c = pool.lease();
    if (!c.ok()) return c.status();
    auto result = f(**c);
    pool.give_back(std::move(*c));
    return result;
  }

  Result<pg::Rows> query(const std::string& sql, const pg::Params& params = {}) {
    return with_conn([&](pg::Connection& c) { return c.exec(sql, params); });
  }
  Status run(const std::string& sql, const pg::Params& params = {}) {
    return query(sql, params).status();
  }
  // Runs a statement that must change a row: not_found (with `what`) when it changed none.
  Status change(const std::string& sql, const pg::Params& params, const std::string& what) {
    auto rows = query(sql, params);
    if (!rows.ok()) return rows.status();
    if (rows->affected() == 0) return {Errc::not_found, what};
    return {};
  }
  // Inserts a unique key with ON CONFLICT DO NOTHING: a duplicate is refused, never recorded.
  Status insert_unique(const std::string& sql, const pg::Params& params, const std::string& what) {
    auto rows = query(sql, params);
    if (!rows.ok()) return rows.status();
    if (rows->affected() == 0) return {Errc::validation, what + " is already recorded"};
    return {};
  }

  Status transaction(const std::function<Status()>& fn);
  Status outermost(const std::function<Status()>& fn);
  // Runs fn under the writer lock: in this thread's transaction, or in one of its own.
  Status locked(const std::function<Status()>& fn) { return frame() ? fn() : outermost(fn); }

  Result<std::vector<StoredRecord>> load_records(const std::string& where_sql,
                                                 std::string_view arg);
  Status insert_facts(const std::vector<FigureFact>& facts);

  PostgresOptions options;
  Pool pool;
};

// ---------------------------------------------------------------------------------------------
// Transactions

Status PostgresServerStore::Impl::transaction(const std::function<Status()>& fn) {
  Frame* fr = frame();
  if (fr == nullptr) return outermost(fn);
  pg::Connection& c = *fr->conn;
  const std::string name = "fc_sp" + std::to_string(fr->depth);
  FC_TRY(c.exec_script("SAVEPOINT " + name));
  ++fr->depth;
  Status st;
  try {
    st = fn();
  } catch (...) {
    --frame()->depth;
    (void)c.exec_script("ROLLBACK TO " + name + "; RELEASE " + name);
    throw;
  }
  --frame()->depth;
  if (st.ok()) return c.exec_script("RELEASE " + name);
  (void)c.exec_script("ROLLBACK TO " + name + "; RELEASE " + name);
  return st;
}

Status PostgresServerStore::Impl::outermost(const std::function<Status()>& fn) {
  // Nothing of the unit of work has run until BEGIN and the writer lock succeed: a connection
  // that fails there is replaced and the start tried again, once per pooled connection.
  const std::size_t attempts = std::max<std::size_t>(options.pool_size, 1) + 1;
  const std::string begin =
      "BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(kWriterLock) + ")";
  std::unique_ptr<pg::Connection> c;
  for (std::size_t attempt = 1;; ++attempt) {
    auto leased = pool.lease();
    if (!leased.ok()) return leased.status();
    c = std::move(*leased);
    Status begun = c->exec_script(begin);
    if (begun.ok()) break;
    pool.give_back(std::move(c));
    if (begun.code() != Errc::unavailable || attempt >= attempts) return begun;
  }
  t_frames.push_back(Frame{this, c.get(), 0});
  auto leave = [&] {
    auto it = std::find_if(t_frames.begin(), t_frames.end(),
                           [this](const Frame& f) { return f.store == this; });
    t_frames.erase(it);
  };
  Status st;
  try {
    st = fn();
  } catch (...) {
    leave();
    (void)c->exec_script("ROLLBACK");
    pool.give_back(std::move(c));
    throw;
  }
  leave();
  if (st.ok()) {
    // A commit whose answer is lost leaves its outcome unknown: the error is retryable and
    // the retry meets the idempotency keys.
    st = c->exec_script("COMMIT");
  } else {
    (void)c->exec_script("ROLLBACK");
  }
  pool.give_back(std::move(c));
  return st;
}

// ---------------------------------------------------------------------------------------------
// Opening and migrations

int PostgresServerStore::latest_schema_version() {
  return static_cast<int>(postgres_migration_files().size());
}

Result<SchemaMigration> PostgresServerStore::migrate(const PostgresOptions& options) {
  // No lock timeout: another instance's migration is waited for, however long it takes.
  auto opened = pg::Connection::open(options.conninfo, options.connect_timeout,
                                     std::chrono::milliseconds(0));
  if (!opened.ok()) return opened.status();
  pg::Connection& c = **opened;
  FC_TRY(c.exec_script("SELECT pg_advisory_lock(" + std::to_string(kMigrationLock) + ")"));
  auto migrate_locked = [&]() -> Result<SchemaMigration> {
    FC_TRY(c.exec_script(
        "CREATE TABLE IF NOT EXISTS fieldcase_schema (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "version INTEGER NOT NULL); "
        "INSERT INTO fieldcase_schema(id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING"));
    auto current = read_schema_version(c);
    if (!current.ok()) return current.status();
    SchemaMigration m{*current, *current};
    if (*current > latest_schema_version()) return schema_too_new(*current);
    for (const MigrationFile& file : postgres_migration_files()) {
      if (file.version <= m.after) continue;
      auto step = [&]() -> Status {
        // Serving processes of an older build wait while the schema changes under them.
        FC_TRY(c.exec_script("BEGIN; SELECT pg_advisory_xact_lock(" +
                             std::to_string(kWriterLock) + ")"));
        FC_TRY(c.exec_script(file.sql));
        if (file.version == 2) FC_TRY(chain_v1_audit(c));
        FC_TRY(c.exec_script("UPDATE fieldcase_schema SET version = " +
                             std::to_string(file.version) + " WHERE id = 1"));
        return c.exec_script("COMMIT");
      };
      if (Status st = step(); !st.ok()) {
        (void)c.exec_script("ROLLBACK");
        return Status(Errc::schema, "migration " + std::to_string(file.version) + " (" +
                                        std::string(file.description()) +
                                        ") failed; the schema stays at version " +
                                        std::to_string(m.after) + ": " + st.to_string());
      }
      m.after = file.version;
    }
    return m;
  };
  auto result = migrate_locked();
  (void)c.exec_script("SELECT pg_advisory_unlock(" + std::to_string(kMigrationLock) + ")");
  return result;
}

Result<std::unique_ptr<PostgresServerStore>> PostgresServerStore::open(
    const PostgresOptions& options) {
  if (options.migrate) {
    auto migrated = migrate(options);
    if (!migrated.ok()) return migrated.status();
  }
  std::unique_ptr<PostgresServerStore> store(
      new PostgresServerStore(std::make_unique<Impl>(options)));
  auto version = store->schema_version();
  if (!version.ok()) return version.status();
  if (*version > latest_schema_version()) return schema_too_new(*version);
  if (*version < latest_schema_version()) {
    return Status(Errc::schema, "the database schema is version " + std::to_string(*version) +
                                    "; this build needs version " +
                                    std::to_string(latest_schema_version()) +
                                    " (run fieldcase-server migrate)");
  }
  return store;
}

PostgresServerStore::PostgresServerStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresServerStore::~PostgresServerStore() = default;

Result<int> PostgresServerStore::schema_version() {
  return impl_->with_conn([](pg::Connection& c) { return read_schema_version(c); });
}

Status PostgresServerStore::transaction(const std::function<Status()>& fn) {
  return impl_->transaction(fn);
}

std::string redact_conninfo(std::string_view conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(std::string(conninfo).c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return "(an unreadable PostgreSQL connection string)";
  }
  std::string out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0') continue;
    const std::string_view key = o->keyword;
    if (key == "password" || key == "sslpassword" || key == "passfile") continue;
    if (!out.empty()) out += ' ';
    out += std::string(key) + "=" + o->val;
  }
  PQconninfoFree(options);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Organisation

namespace {

Authority read_authority(const pg::Row& r) {
  return Authority{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3)};
}
Area read_area(const pg::Row& r) {
  return Area{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3)};
}
Team read_team(const pg::Row& r) {
  return Team{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3)};
}
Allocation read_allocation(const pg::Row& r) {
  return Allocation{r.column_text(0), r.column_text(1), r.column_int(2), r.column_text(3)};
}

}  // namespace

Status PostgresServerStore::insert_authority(const Authority& a) {
  return impl_->run(q::kInsertAuthority,
                    {text(a.id), text(a.name), text(a.la_code), text(a.created_at)});
}

Result<std::optional<Authority>> PostgresServerStore::find_authority() {
  return first_row(impl_->query(q::kFindAuthority), read_authority);
}

Status PostgresServerStore::insert_area(const Area& a) {
  return impl_->run(q::kInsertArea,
                    {text(a.id), text(a.name), text(a.authority_id), text(a.created_at)});
}

Result<std::optional<Area>> PostgresServerStore::find_area(std::string_view id) {
  return first_row(impl_->query(q::kFindArea, {text(id)}), read_area);
}

Status PostgresServerStore::insert_team(const Team& t) {
  return impl_->run(q::kInsertTeam,
                    {text(t.id), text(t.name), text(t.area_id), text(t.created_at)});
}

Result<std::optional<Team>> PostgresServerStore::find_team(std::string_view id) {
  return first_row(impl_->query(q::kFindTeam, {text(id)}), read_team);
}

Result<std::vector<Area>> PostgresServerStore::list_areas() {
  return every_row(impl_->query(q::kListAreas), read_area);
}

Result<std::vector<Team>> PostgresServerStore::list_teams() {
  return every_row(impl_->query(q::kListTeams), read_team);
}

Status PostgresServerStore::insert_worker(const Worker& w) {
  return impl_->run(q::kInsertWorker,
                    {text(w.id), text(w.name), text(to_string(w.role)),
                     w.team_id.empty() ? pg::null() : text(w.team_id), flag(w.active),
                     text(w.created_at)});
}

Result<std::optional<Worker>> PostgresServerStore::find_worker(std::string_view id) {
  return first_row(impl_->query(q::kFindWorker, {text(id)}),
                   [](const pg::Row& r) { return read_worker(r); });
}

Result<std::vector<Worker>> PostgresServerStore::list_workers() {
  return every_row(impl_->query(q::kListWorkers), [](const pg::Row& r) { return read_worker(r); });
}

Status PostgresServerStore::set_worker_active(std::string_view id, bool active) {
  return impl_->change(q::kSetWorkerActive, {text(id), flag(active)},
                       "no worker " + std::string(id));
}

Status PostgresServerStore::set_worker_role(std::string_view id, Role role) {
  return impl_->change(q::kSetWorkerRole, {text(id), text(to_string(role))},
                       "no worker " + std::string(id));
}

Result<WorkerCredentials> PostgresServerStore::find_credentials(std::string_view worker_id) {
  auto found = first_row(impl_->query(q::kFindCredentials, {text(worker_id)}), [](const pg::Row& r) {
    return WorkerCredentials{r.column_text(0), r.column_int(1), r.column_text(2)};
  });
  if (!found.ok()) return found.status();
  if (!*found) return Status(Errc::not_found, "no worker " + std::string(worker_id));
  return std::move(**found);
}

Status PostgresServerStore::put_credentials(std::string_view worker_id,
                                            const WorkerCredentials& c) {
  return impl_->change(
      q::kPutCredentials,
      {text(worker_id), text(c.password_hash), num(c.failed_signins), text(c.locked_until)},
      "no worker " + std::string(worker_id));
}

Result<std::optional<SignInAttempt>> PostgresServerStore::begin_sign_in(
    std::string_view worker_id, std::string_view now, std::int64_t limit,
    std::string_view lock_until) {
  return first_row(
      impl_->query(q::kBeginSignIn, {text(worker_id), text(now), num(limit), text(lock_until)}),
      [](const pg::Row& r) { return SignInAttempt{r.column_int(0), r.column_text(1)}; });
}

Result<bool> PostgresServerStore::end_sign_in(std::string_view worker_id, std::int64_t number,
                                              std::string_view now) {
  auto rows = impl_->query(q::kEndSignIn, {text(worker_id), text(now), num(number)});
  if (!rows.ok()) return rows.status();
  return rows->affected() == 1;
}

// ---------------------------------------------------------------------------------------------
// Role grants, enrollment codes and web sessions

Status PostgresServerStore::insert_role_grant(const RoleGrant& g) {
  return impl_->run(q::kInsertRoleGrant,
                    {text(g.id), text(g.worker_id), text(to_string(g.role)), text(g.from_role),
                     text(g.requested_by), text(g.requested_at), text(g.state),
                     text(g.decided_by), text(g.decided_at)});
}

Result<std::optional<RoleGrant>> PostgresServerStore::find_role_grant(std::string_view id) {
  return first_row(impl_->query(q::kFindRoleGrant, {text(id)}),
                   [](const pg::Row& r) { return read_role_grant(r); });
}

Result<std::optional<RoleGrant>> PostgresServerStore::pending_role_grant(
    std::string_view worker_id) {
  return first_row(impl_->query(q::kPendingRoleGrant, {text(worker_id)}),
                   [](const pg::Row& r) { return read_role_grant(r); });
}

Result<std::vector<RoleGrant>> PostgresServerStore::pending_role_grants() {
  return every_row(impl_->query(q::kPendingRoleGrants),
                   [](const pg::Row& r) { return read_role_grant(r); });
}

Status PostgresServerStore::decide_role_grant(const RoleGrant& g) {
  return impl_->change(q::kDecideRoleGrant,
                       {text(g.id), text(g.state), text(g.decided_by), text(g.decided_at)},
                       "no pending role grant " + g.id);
}

Status PostgresServerStore::insert_enrollment(const EnrollmentCode& c) {
  return impl_->run(q::kInsertEnrollment, {text(c.id), text(c.lookup), text(c.code_hash),
                                           text(c.worker_id), text(c.created_at),
                                           text(c.expires_at)});
}

Result<std::optional<EnrollmentCode>> PostgresServerStore::find_enrollment(
    std::string_view lookup) {
  return first_row(impl_->query(q::kFindEnrollment, {text(lookup)}),
                   [](const pg::Row& r) { return read_enrollment(r); });
}

Status PostgresServerStore::update_enrollment(const EnrollmentCode& c) {
  return impl_->change(q::kUpdateEnrollment,
                       {text(c.id), text(c.used_at), text(c.device_id), num(c.failed_attempts)},
                       "no enrollment code " + c.id);
}

Result<std::int64_t> PostgresServerStore::enrollment_failures(std::string_view source,
                                                              std::int64_t since_ms) {
  auto rows = impl_->query(q::kEnrollmentFailures, {text(source), num(since_ms)});
  if (!rows.ok()) return rows.status();
  return rows->empty() ? std::int64_t{0} : (*rows)[0].column_int(0);
}

Status PostgresServerStore::add_enrollment_failure(std::string_view source, std::int64_t at_ms,
                                                   std::int64_t forget_before_ms) {
  return impl_->with_conn([&](pg::Connection& c) -> Status {
    FC_TRY(c.exec(q::kForgetEnrollmentFailures, {num(forget_before_ms)}).status());
    return c.exec(q::kAddEnrollmentFailure, {text(source), num(at_ms)}).status();
  });
}

Status PostgresServerStore::insert_session(const WebSession& w) {
  return impl_->run(q::kInsertSession, {text(w.id_hash), text(w.worker_id), text(w.created_at),
                                        text(w.last_seen_at), text(w.expires_at)});
}

Result<std::optional<WebSession>> PostgresServerStore::find_session(std::string_view id_hash) {
  return first_row(impl_->query(q::kFindSession, {text(id_hash)}), [](const pg::Row& r) {
    return WebSession{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3),
                      r.column_text(4)};
  });
}

Status PostgresServerStore::touch_session(std::string_view id_hash,
                                          std::string_view last_seen_at) {
  return impl_->run(q::kTouchSession, {text(id_hash), text(last_seen_at)});
}

Status PostgresServerStore::delete_session(std::string_view id_hash) {
  return impl_->run(q::kDeleteSession, {text(id_hash)});
}

Status PostgresServerStore::delete_sessions_of(std::string_view worker_id) {
  return impl_->run(q::kDeleteSessionsOf, {text(worker_id)});
}

// ---------------------------------------------------------------------------------------------
// Devices

Status PostgresServerStore::insert_device(const Device& d, std::string_view token_hash) {
  return impl_->run(q::kInsertDevice, {text(d.id), text(d.worker_id), text(token_hash),
                                       text(to_string(d.status)), text(d.created_at),
                                       text(d.name)});
}

Result<std::optional<Device>> PostgresServerStore::find_device(std::string_view id) {
  return first_row(impl_->query(q::kFindDevice, {text(id)}),
                   [](const pg::Row& r) { return read_device(r); });
}

Result<std::optional<Device>> PostgresServerStore::find_device_by_token_hash(
    std::string_view hash) {
  return first_row(impl_->query(q::kFindDeviceByToken, {text(hash)}),
                   [](const pg::Row& r) { return read_device(r); });
}

Result<std::vector<Device>> PostgresServerStore::list_devices() {
  return every_row(impl_->query(q::kListDevices), [](const pg::Row& r) { return read_device(r); });
}

Status PostgresServerStore::update_device(const Device& d) {
  return impl_->change(q::kUpdateDevice,
                       {text(d.id), text(to_string(d.status)), text(d.revoked_at),
                        text(d.last_sync_at),
                        d.clock_offset_ms ? num(*d.clock_offset_ms) : pg::null(),
                        text(samples_to_text(d.clock_samples))},
                       "no device " + d.id);
}

// ---------------------------------------------------------------------------------------------
// Sequence, allocation, scope

Result<std::int64_t> PostgresServerStore::reserve_seqs(std::int64_t n) {
  if (n < 1) return Status(Errc::invalid_argument, "reserve at least one sequence number");
  // Under the writer lock (a call outside a transaction takes it for itself), so numbers are
  // committed in the order they are handed out.
  std::int64_t first = 0;
  FC_TRY(impl_->locked([&]() -> Status {
    auto rows =
        impl_->query("UPDATE server_seq SET value = value + ?1 WHERE id = 1 RETURNING value",
                     {num(n)});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return {Errc::integrity, "the server sequence is missing"};
    first = (*rows)[0].column_int(0) - n + 1;
    return {};
  }));
  return first;
}

Result<std::int64_t> PostgresServerStore::head() {
  auto rows = impl_->query(q::kHead);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status(Errc::integrity, "the server sequence is missing");
  return (*rows)[0].column_int(0);
}

Status PostgresServerStore::put_allocation(const Allocation& a, std::string_view previous) {
  return impl_->locked([&]() -> Status {
    FC_TRY(append_figure_change(a.case_id));
    FC_TRY(impl_->run(q::kPutAllocation,
                      {text(a.case_id), text(a.worker_id), num(a.seq), text(a.allocated_at)}));
    return impl_->run(q::kInsertAllocationHistory, {num(a.seq), text(a.case_id), text(a.worker_id),
                                                    text(previous), text(a.allocated_at)});
  });
}

Result<std::optional<Allocation>> PostgresServerStore::find_allocation(std::string_view case_id) {
  return first_row(impl_->query(q::kFindAllocation, {text(case_id)}), read_allocation);
}

Result<std::vector<Allocation>> PostgresServerStore::allocations_after(std::int64_t seq,
                                                                       std::size_t limit) {
  const auto bounded = static_cast<std::int64_t>(
      std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
  return every_row(impl_->query(q::kAllocationsAfter, {num(seq), num(bounded)}), read_allocation);
}

Result<std::string> PostgresServerStore::previous_worker(std::string_view case_id) {
  auto rows = impl_->query(q::kPreviousWorker, {text(case_id)});
  if (!rows.ok()) return rows.status();
  return rows->empty() ? std::string() : (*rows)[0].column_text(0);
}

Result<std::set<std::string>> PostgresServerStore::visible_cases(const Worker& viewer) {
  auto rows = impl_->query(q::scope(viewer.role, Dialect::postgres), {text(viewer.id)});
  if (!rows.ok()) return rows.status();
  std::set<std::string> out;
  for (int i = 0; i < rows->size(); ++i) out.insert((*rows)[i].column_text(0));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Records

Result<std::vector<StoredRecord>> PostgresServerStore::Impl::load_records(
    const std::string& where_sql, std::string_view arg) {
  return with_conn([&](pg::Connection& c) -> Result<std::vector<StoredRecord>> {
    auto out = every_row(c.exec(q::records_where(where_sql), {text(arg)}),
                         [](const pg::Row& r) { return read_record(r); });
    if (!out.ok() || out->empty()) return out;
    std::unordered_map<std::string, StoredRecord*> by_id;
    for (auto& r : *out) by_id.emplace(r.id, &r);
    auto fields = c.exec(q::fields_where(where_sql), {text(arg)});
    if (!fields.ok()) return fields.status();
    for (int i = 0; i < fields->size(); ++i) {
      const pg::Row row = (*fields)[i];
      auto it = by_id.find(row.column_text(0));
      if (it == by_id.end()) continue;
      auto v = value_from_text(row.column_text(2));
      if (!v.ok()) return v.status();
      it->second->fields.emplace(row.column_text(1),
                                 FieldState{std::move(*v), row.column_text(3), row.column_text(4)});
    }
    return out;
  });
}

Result<std::optional<StoredRecord>> PostgresServerStore::find_record(std::string_view id) {
  auto found = impl_->load_records("id = ?1", id);
  if (!found.ok()) return found.status();
  if (found->empty()) return std::optional<StoredRecord>();
  return std::optional<StoredRecord>(std::move(found->front()));
}

Result<std::vector<StoredRecord>> PostgresServerStore::case_records(std::string_view case_id) {
  return impl_->load_records("case_id = ?1", case_id);
}

Status PostgresServerStore::put_record(const StoredRecord& r) {
  return impl_->run(q::kPutRecord,
                    {text(r.id), text(to_string(r.kind)), text(r.case_id), text(r.created_at),
                     text(r.created_by), text(r.created_hlc), text(r.updated_at),
                     text(r.updated_by), flag(r.deleted), text(r.deleted_hlc)});
}

// Rows for one multi-row statement: column i of every row, as arrays bound to $1..$n.
class Columns {
 public:
  explicit Columns(std::size_t n) : columns_(n) {}
  void add(pg::Params row) {
    for (std::size_t i = 0; i < columns_.size(); ++i) columns_[i].push_back(std::move(row[i]));
  }
  pg::Params arrays() const {
    pg::Params out;
    for (const auto& c : columns_) out.push_back(pg::array(c));
    return out;
  }

 private:
  std::vector<pg::Params> columns_;
};

Result<std::vector<StoredRecord>> PostgresServerStore::find_records(
    std::span<const std::string> ids) {
  if (ids.empty()) return std::vector<StoredRecord>();
  pg::Params list(ids.begin(), ids.end());
  return impl_->load_records("id = ANY(?1::text[])", *pg::array(list));
}

Status PostgresServerStore::put_records(std::span<const StoredRecord* const> records) {
  if (records.empty()) return {};
  static const std::string sql =
      std::string(q::kInsertRecord) +
      "SELECT * FROM unnest(?1::text[], ?2::text[], ?3::text[], ?4::text[], ?5::text[], "
      "?6::text[], ?7::text[], ?8::text[], ?9::integer[], ?10::text[])" + q::kRecordUpsert;
  Columns rows(10);
  for (const StoredRecord* r : records) {
    rows.add({text(r->id), text(to_string(r->kind)), text(r->case_id), text(r->created_at),
              text(r->created_by), text(r->created_hlc), text(r->updated_at), text(r->updated_by),
              flag(r->deleted), text(r->deleted_hlc)});
  }
  return impl_->run(sql, rows.arrays());
}

Status PostgresServerStore::put_fields(std::span<const FieldWrite> fields) {
  if (fields.empty()) return {};
  static const std::string sql =
      std::string(q::kInsertField) +
      "SELECT * FROM unnest(?1::text[], ?2::text[], ?3::text[], ?4::text[], ?5::text[])" +
      q::kFieldUpsert;
  Columns rows(5);
  for (const FieldWrite& f : fields) {
    rows.add({text(f.record_id), text(f.name), text(value_to_json(f.state->value)),
              text(f.state->hlc), text(f.state->author)});
  }
  return impl_->run(sql, rows.arrays());
}

Status PostgresServerStore::put_field(std::string_view record_id, std::string_view name,
                                      const FieldState& f) {
  return impl_->run(q::kPutField, {text(record_id), text(name), text(value_to_json(f.value)),
                                   text(f.hlc), text(f.author)});
}

// ---------------------------------------------------------------------------------------------
// Log

Status PostgresServerStore::append_log(const LogEntry& e) {
  return impl_->run(q::kAppendLog,
                    {num(e.seq), text(e.op_id), text(e.tx_id), text(op_text(e.op)),
                     text(e.record_id), text(to_string(e.kind)), text(e.case_id), text(e.field),
                     e.op == FieldChange::Op::set ? text(value_to_json(e.value)) : pg::null(),
                     text(e.hlc), text(e.author), text(e.device_id), text(e.at),
                     text(e.received_at)});
}

Status PostgresServerStore::append_log_entries(std::span<const LogEntry> entries) {
  if (entries.empty()) return {};
  static const std::string sql =
      std::string("INSERT INTO change_log(") + q::kLogColumns +
      ") SELECT * FROM unnest(?1::bigint[], ?2::text[], ?3::text[], ?4::text[], ?5::text[], "
      "?6::text[], ?7::text[], ?8::text[], ?9::text[], ?10::text[], ?11::text[], ?12::text[], "
      "?13::text[], ?14::text[])";
  Columns rows(14);
  for (const LogEntry& e : entries) {
    rows.add({num(e.seq), text(e.op_id), text(e.tx_id), text(op_text(e.op)), text(e.record_id),
              text(to_string(e.kind)), text(e.case_id), text(e.field),
              e.op == FieldChange::Op::set ? text(value_to_json(e.value)) : pg::null(),
              text(e.hlc), text(e.author), text(e.device_id), text(e.at), text(e.received_at)});
  }
  return impl_->run(sql, rows.arrays());
}

Result<LogPage> PostgresServerStore::log_after(const Worker& viewer, std::int64_t cursor,
                                               std::size_t max_entries, std::size_t max_bytes) {
  const std::string sql = q::log_window(Dialect::postgres, viewer.role);
  return impl_->with_conn([&](pg::Connection& c) -> Result<LogPage> {
    // Every entry up to the head is committed (the writer lock orders commits by seq).
    auto last = c.exec(q::kHead);
    if (!last.ok()) return last.status();
    if (last->empty()) return Status(Errc::integrity, "the server sequence is missing");
    return page_log((*last)[0].column_int(0), cursor, max_entries, max_bytes,
                    [&](std::int64_t lo, std::int64_t hi, std::int64_t limit,
                        const AcceptEntry& accept) -> Status {
                      auto rows = c.exec(sql, {text(viewer.id), num(lo), num(limit), num(hi)});
                      if (!rows.ok()) return rows.status();
                      for (int i = 0; i < rows->size(); ++i) {
                        auto e = read_log((*rows)[i]);
                        if (!e.ok()) return e.status();
                        if (!accept(std::move(*e))) break;
                      }
                      return {};
                    });
  });
}

// ---------------------------------------------------------------------------------------------
// Idempotency

Result<std::optional<TxOutcome>> PostgresServerStore::find_tx(std::string_view tx_id) {
  return first_row(impl_->query(q::kFindTx, {text(tx_id)}),
                   [](const pg::Row& r) { return read_tx(r); });
}

Status PostgresServerStore::put_tx(const TxOutcome& t) {
  return impl_->insert_unique(std::string(q::kPutTx) + " ON CONFLICT (tx_id) DO NOTHING",
                              {text(t.tx_id), text(t.device_id),
                               text(t.accepted ? "accepted" : "rejected"), text(t.code),
                               text(t.reason), num(t.op_count), text(t.device_time),
                               text(t.received_at)},
                              "transaction " + t.tx_id);
}

Result<bool> PostgresServerStore::op_applied(std::string_view op_id) {
  auto rows = impl_->query(q::kOpApplied, {text(op_id)});
  if (!rows.ok()) return rows.status();
  return !rows->empty();
}

Status PostgresServerStore::put_op(std::string_view op_id, std::string_view tx_id) {
  return impl_->insert_unique(std::string(q::kPutOp) + " ON CONFLICT (op_id) DO NOTHING",
                              {text(op_id), text(tx_id)}, "operation " + std::string(op_id));
}

Result<std::set<std::string>> PostgresServerStore::applied_ops(
    std::span<const std::string> op_ids) {
  std::set<std::string> applied;
  if (op_ids.empty()) return applied;
  pg::Params list(op_ids.begin(), op_ids.end());
  auto rows = impl_->query("SELECT op_id FROM applied_op WHERE op_id = ANY(?1::text[])",
                           {pg::array(list)});
  if (!rows.ok()) return rows.status();
  for (int i = 0; i < rows->size(); ++i) applied.insert((*rows)[i].column_text(0));
  return applied;
}

Status PostgresServerStore::put_ops(std::span<const std::string> op_ids, std::string_view tx_id) {
  if (op_ids.empty()) return {};
  pg::Params list(op_ids.begin(), op_ids.end());
  const std::set<std::string> distinct(op_ids.begin(), op_ids.end());
  auto rows = impl_->query(
      "INSERT INTO applied_op(op_id, tx_id) SELECT unnest(?1::text[]), ?2 "
      "ON CONFLICT (op_id) DO NOTHING",
      {pg::array(list), text(tx_id)});
  if (!rows.ok()) return rows.status();
  if (rows->affected() != static_cast<std::int64_t>(distinct.size()) ||
      distinct.size() != op_ids.size()) {
    return {Errc::validation, "an operation of transaction " + std::string(tx_id) +
                                  " is already recorded"};
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Conflicts

Status PostgresServerStore::insert_conflict(const StoredConflict& c) {
  const sync::Conflict& k = c.conflict;
  return impl_->run(q::kInsertConflict,
                    {text(k.conflict_id), text(k.record_id), text(k.case_id), text(k.field),
                     text(value_to_json(k.kept)), text(k.kept_hlc), text(value_to_json(k.lost)),
                     text(k.lost_hlc), text(k.lost_author), text(c.lost_device),
                     num(c.detected_seq), text(c.detected_at), num(c.resolved_seq),
                     text(c.resolved_at)});
}

Status PostgresServerStore::resolve_conflicts(std::string_view record_id, std::string_view field,
                                              std::int64_t seq, std::string_view at) {
  return impl_->run(q::kResolveConflicts, {text(record_id), text(field), num(seq), text(at)});
}

Result<std::vector<StoredConflict>> PostgresServerStore::conflicts_for(const Worker& viewer,
                                                                       std::int64_t cursor) {
  return every_row(
      impl_->query(q::conflicts_for(Dialect::postgres, viewer.role),
                   {text(viewer.id), num(cursor)}),
      [](const pg::Row& r) { return read_conflict(r); });
}

// ---------------------------------------------------------------------------------------------
// Device holdings

Result<std::map<std::string, HeldState>> PostgresServerStore::device_cases(
    std::string_view device_id) {
  auto rows = impl_->query(q::kDeviceCases, {text(device_id)});
  if (!rows.ok()) return rows.status();
  std::map<std::string, HeldState> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.emplace((*rows)[i].column_text(0), held_from_text((*rows)[i].column_text(1)));
  }
  return out;
}

Status PostgresServerStore::put_device_case(std::string_view device_id, std::string_view case_id,
                                            HeldState state) {
  return impl_->run(q::kPutDeviceCase, {text(device_id), text(case_id), text(held_text(state))});
}

// ---------------------------------------------------------------------------------------------
// Claimed times

Status PostgresServerStore::put_claimed_time(const ClaimedTime& c) {
  return impl_->run(q::kPutClaimedTime,
                    {text(c.record_id), text(c.field), text(c.case_id), text(to_string(c.kind)),
                     text(c.claimed), text(c.corrected), text(c.received_at), num(c.offset_ms),
                     text(c.device_id), text(c.worker_id), text(c.tx_id), flag(c.after_receipt),
                     flag(c.before_start), flag(c.large_offset)});
}

Status PostgresServerStore::delete_claimed_time(std::string_view record_id,
                                                std::string_view field) {
  return impl_->run(q::kDeleteClaimedTime, {text(record_id), text(field)});
}

Result<std::optional<ClaimedTime>> PostgresServerStore::find_claimed_time(
    std::string_view record_id, std::string_view field) {
  return first_row(impl_->query(q::kFindClaimedTime, {text(record_id), text(field)}),
                   [](const pg::Row& r) { return read_claim(r); });
}

// ---------------------------------------------------------------------------------------------
// Figure facts

namespace {

pg::Params selection_params(const FigureInputSelection& select, std::string_view case_id,
                            bool one_case) {
  pg::Params p;
  if (one_case) p.push_back(text(case_id));
  for (RecordKind k : select.kinds) p.push_back(text(to_string(k)));
  for (const auto& id : select.records) p.push_back(text(id));
  for (const auto& f : select.fields) p.push_back(text(f));
  return p;
}

pg::Params fact_params(const FigureFact& f) {
  return {text(f.indicator), text(f.record_id), text(f.case_id),         text(f.start),
          text(f.end),       text(f.end_received_at), text(f.detail), flag(f.hit),
          text(f.flags)};
}

// A query read through a cursor, a batch of rows at a time, as a Stream (reading.hpp).
// Needs the connection inside a transaction.
class CursorStream {
 public:
  CursorStream(pg::Connection& c, std::string name) : c_(c), name_(std::move(name)) {}
  ~CursorStream() {
    if (open_) (void)c_.exec_script("CLOSE " + name_);
  }
  CursorStream(const CursorStream&) = delete;
  CursorStream& operator=(const CursorStream&) = delete;

  Status open(const std::string& sql, const pg::Params& params) {
    auto declared = c_.exec_once("DECLARE " + name_ + " NO SCROLL CURSOR FOR " + sql, params);
    if (!declared.ok()) return declared.status();
    open_ = true;
    return {};
  }
  Result<bool> step() {
    if (++i_ < batch_.size()) return true;
    if (done_) return false;
    auto next = c_.exec("FETCH 2000 FROM " + name_);
    if (!next.ok()) return next.status();
    batch_ = std::move(*next);
    i_ = 0;
    done_ = batch_.size() < 2000;
    return !batch_.empty();
  }
  std::string column_text(int c) const { return batch_[i_].column_text(c); }
  std::int64_t column_int(int c) const { return batch_[i_].column_int(c); }
  bool column_is_null(int c) const { return batch_[i_].column_is_null(c); }

 private:
  pg::Connection& c_;
  std::string name_;
  pg::Rows batch_;
  int i_ = -1;
  bool done_ = false;
  bool open_ = false;
};

// The rows of a result as a Stream, for the algorithms written over one.
class RowsStream {
 public:
  explicit RowsStream(pg::Rows rows) : rows_(std::move(rows)) {}
  Result<bool> step() { return ++i_ < rows_.size(); }
  std::string column_text(int c) const { return rows_[i_].column_text(c); }
  std::int64_t column_int(int c) const { return rows_[i_].column_int(c); }
  bool column_is_null(int c) const { return rows_[i_].column_is_null(c); }

 private:
  pg::Rows rows_;
  int i_ = -1;
};

}  // namespace

Result<CaseFigureInputs> PostgresServerStore::case_figure_inputs(
    std::string_view case_id, const FigureInputSelection& select) {
  const q::InputsSql sql = q::inputs(Dialect::postgres, select, true);
  const pg::Params params = selection_params(select, case_id, true);
  return impl_->with_conn([&](pg::Connection& c) -> Result<CaseFigureInputs> {
    CaseFigureInputs in;
    in.case_id = std::string(case_id);
    auto records = c.exec(sql.records, params);
    if (!records.ok()) return records.status();
    RowsStream stream(std::move(*records));
    auto row = stream.step();
    if (*row) {
      auto more = read_case_records(stream, in.case_id, in.records);
      if (!more.ok()) return more.status();
    }
    sort_by_id(in.records);
    auto claims = every_row(c.exec(sql.claims, params),
                            [](const pg::Row& r) { return read_claim(r); });
    if (!claims.ok()) return claims.status();
    in.claims = std::move(*claims);
    return in;
  });
}

Status PostgresServerStore::each_case_figure_inputs(
    const FigureInputSelection& select, const std::function<Status(CaseFigureInputs&)>& fn) {
  if (!select.records.empty()) {
    return Status(Errc::invalid_argument, "figure inputs of every case are selected by kind");
  }
  const q::InputsSql sql = q::inputs(Dialect::postgres, select, false);
  const pg::Params params = selection_params(select, "", false);
  // Cursors live in a transaction: the scan runs in the caller's, or in one of its own.
  return impl_->transaction([&]() -> Status {
    return impl_->with_conn([&](pg::Connection& c) -> Status {
      CursorStream records(c, "fc_inputs_records");
      FC_TRY(records.open(sql.records, params));
      CursorStream claims(c, "fc_inputs_claims");
      FC_TRY(claims.open(sql.claims, params));
      return each_case_inputs(records, claims, fn);
    });
  });
}

Status PostgresServerStore::Impl::insert_facts(const std::vector<FigureFact>& facts) {
  // Many rows per statement: one round trip per fact made a recomputation wait on the network.
  constexpr std::size_t kBatch = 100;
  return with_conn([&](pg::Connection& c) -> Status {
    for (std::size_t from = 0; from < facts.size(); from += kBatch) {
      const std::size_t n = std::min(kBatch, facts.size() - from);
      std::string sql = std::string("INSERT INTO figure_fact(") + q::kFactColumns + ") VALUES ";
      pg::Params params;
      params.reserve(n * 9);
      for (std::size_t i = 0; i < n; ++i) {
        sql += i == 0 ? "(" : ", (";
        for (std::size_t k = 0; k < 9; ++k) {
          sql += (k == 0 ? "$" : ", $") + std::to_string(i * 9 + k + 1);
        }
        sql += ")";
        for (auto& p : fact_params(facts[from + i])) params.push_back(std::move(p));
      }
      FC_TRY(c.exec(sql, params).status());
    }
    return {};
  });
}

Status PostgresServerStore::rebuild_figure_facts(
    const std::function<Status(const FigureFactSink&)>& fill) {
  return impl_->transaction([&]() -> Status {
    FC_TRY(impl_->with_conn([](pg::Connection& c) { return c.exec_script(q::kDropFactCaseIndex); }));
    FC_TRY(clear_figure_facts());
    FC_TRY(fill([this](const std::vector<FigureFact>& facts) { return impl_->insert_facts(facts); }));
    return impl_->with_conn([](pg::Connection& c) { return c.exec_script(q::kFactCaseIndex); });
  });
}

Result<std::vector<FigureFact>> PostgresServerStore::case_figure_facts(std::string_view case_id,
                                                                       std::string_view indicator) {
  auto out = every_row(impl_->query(q::kCaseIndicatorFacts, {text(case_id), text(indicator)}),
                       [](const pg::Row& r) { return read_fact(r); });
  if (!out.ok()) return out.status();
  std::sort(out->begin(), out->end(),
            [](const FigureFact& a, const FigureFact& b) { return a.record_id < b.record_id; });
  return out;
}

Status PostgresServerStore::replace_figure_facts(
    std::string_view case_id, const std::set<std::string, std::less<>>& indicators,
    const std::set<std::string, std::less<>>& records, const std::vector<FigureFact>& facts) {
  // Only the facts that changed are written (as in the SQLite store).
  FC_TRY(append_figure_change(case_id));
  return impl_->with_conn([&](pg::Connection& c) -> Status {
    std::map<std::pair<std::string, std::string>, FigureFact> before;
    if (!records.empty()) {
      for (const auto& indicator : indicators) {
        for (const auto& record_id : records) {
          auto rows = c.exec(q::kRecordFact, {text(indicator), text(record_id), text(case_id)});
          if (!rows.ok()) return rows.status();
          if (rows->empty()) continue;
          FigureFact f = read_fact((*rows)[0]);
          auto key = std::make_pair(f.indicator, f.record_id);
          before.emplace(std::move(key), std::move(f));
        }
      }
    } else {
      auto rows = c.exec(q::kCaseFacts, {text(case_id)});
      if (!rows.ok()) return rows.status();
      for (int i = 0; i < rows->size(); ++i) {
        FigureFact f = read_fact((*rows)[i]);
        if (!indicators.empty() && !indicators.contains(f.indicator)) continue;
        auto key = std::make_pair(f.indicator, f.record_id);
        before.emplace(std::move(key), std::move(f));
      }
    }
    auto remove = [&](const std::pair<std::string, std::string>& key) -> Status {
      return c.exec(q::kDeleteFact, {text(key.first), text(key.second)}).status();
    };
    std::set<std::pair<std::string, std::string>> kept;
    for (const auto& f : facts) {
      auto key = std::make_pair(f.indicator, f.record_id);
      kept.insert(key);
      if (auto it = before.find(key); it != before.end()) {
        if (it->second == f) continue;
        FC_TRY(remove(key));
      }
      FC_TRY(c.exec(q::kInsertFact, fact_params(f)).status());
    }
    for (const auto& [key, f] : before) {
      if (!kept.contains(key)) FC_TRY(remove(key));
    }
    return {};
  });
}

Result<std::vector<FigureFact>> PostgresServerStore::figure_facts(std::string_view indicator) {
  auto attributed = attributed_figure_facts(indicator);
  if (!attributed.ok()) return attributed.status();
  std::vector<FigureFact> out;
  out.reserve(attributed->size());
  for (auto& a : *attributed) out.push_back(std::move(a.fact));
  return out;
}

Result<std::vector<AttributedFact>> PostgresServerStore::attributed_figure_facts(
    std::string_view indicator) {
  auto rows = indicator.empty() ? impl_->query(q::kAllAttributedFacts)
                                : impl_->query(q::kIndicatorAttributedFacts, {text(indicator)});
  return every_row(std::move(rows), [](const pg::Row& r) { return read_attributed_fact(r); });
}

Result<std::vector<AttributedFact>> PostgresServerStore::attributed_case_figure_facts(
    std::string_view case_id) {
  return every_row(impl_->query(q::kCaseAttributedFacts, {text(case_id)}),
                   [](const pg::Row& r) { return read_attributed_fact(r); });
}

Status PostgresServerStore::clear_figure_facts() {
  return impl_->locked([&]() -> Status {
    FC_TRY(append_figure_change(""));
    return impl_->run(q::kClearFacts);
  });
}

Result<std::vector<std::string>> PostgresServerStore::case_ids() {
  return every_row(impl_->query(q::kCaseIds), [](const pg::Row& r) { return r.column_text(0); });
}

// ---------------------------------------------------------------------------------------------
// Audit

Status PostgresServerStore::append_audit(const AuditEvent& event) {
  // A savepoint inside the caller's transaction, or a transaction of its own: either way under
  // the writer lock, so the head read here is the head the entry is appended to.
  return impl_->transaction([&]() -> Status {
    AuditEvent e = event;
    auto head_row = impl_->query(q::kAuditHead);
    if (!head_row.ok()) return head_row.status();
    if (head_row->empty()) return {Errc::integrity, "the audit chain has no head"};
    chain_audit_entry(e, (*head_row)[0].column_int(0), (*head_row)[0].column_text(1));
    FC_TRY(impl_->run(q::kInsertAudit,
                      {num(e.seq), text(e.id), text(e.at), text(e.event), text(e.outcome),
                       text(e.worker_id), text(e.device_id), text(e.case_id), text(e.record_id),
                       text(e.tx_id), text(e.relation), text(e.detail), text(e.prev_hash),
                       text(e.hash)}));
    return impl_->run(q::kUpdateAuditHead, {num(e.seq), text(e.hash)});
  });
}

Result<std::vector<AuditEvent>> PostgresServerStore::audit_events(std::string_view event) {
  AuditQuery query;
  query.event = std::string(event);
  query.limit = std::numeric_limits<std::size_t>::max() / 2;
  return query_audit(query);
}

Result<std::vector<AuditEvent>> PostgresServerStore::query_audit(const AuditQuery& query) {
  const auto limit = static_cast<std::int64_t>(
      std::min<std::size_t>(query.limit, std::numeric_limits<std::int64_t>::max()));
  return every_row(impl_->query(q::kQueryAudit,
                                {text(query.case_id), text(query.worker_id),
                                 text(query.device_id), text(query.event),
                                 flag(query.not_allocated), num(limit)}),
                   [](const pg::Row& r) { return read_audit(r); });
}

// ---------------------------------------------------------------------------------------------
// Figure change log: appended under the writer lock, so ids commit in order.

Status PostgresServerStore::append_figure_change(std::string_view case_id) {
  return impl_->locked([&]() -> Status {
    return impl_->run(q::kAppendFigureChange, {text(case_id), num(q::figure_change_time_ms())});
  });
}

Result<std::int64_t> PostgresServerStore::figure_change_head() {
  auto rows = impl_->query(q::kFigureChangeHead);
  if (!rows.ok()) return rows.status();
  return rows->empty() ? std::int64_t{0} : (*rows)[0].column_int(0);
}

Result<FigureChangePage> PostgresServerStore::figure_changes_after(std::int64_t cursor,
                                                                   std::size_t limit) {
  const auto bounded = static_cast<std::int64_t>(
      std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
  auto rows = impl_->query(q::kFigureChangesAfter, {num(cursor), num(bounded)});
  if (!rows.ok()) return rows.status();
  FigureChangePage page;
  for (int i = 0; i < rows->size(); ++i) {
    const pg::Row r = (*rows)[i];
    page.complete = cursor >= r.column_int(2);
    page.changes.push_back({r.column_int(0), r.column_text(1)});
  }
  return page;
}

Status PostgresServerStore::prune_figure_changes(std::int64_t before_ms) {
  return impl_->locked([&]() -> Status {
    auto rows = impl_->query(q::kFigureChangesToPrune, {num(before_ms)});
    if (!rows.ok()) return rows.status();
    const std::int64_t through = rows->empty() ? 0 : (*rows)[0].column_int(0);
    if (through == 0) return {};
    FC_TRY(impl_->run(q::kPruneFigureChanges, {num(through)}));
    return impl_->run(q::kMarkFigureChangesPruned, {num(through)});
  });
}

// ---------------------------------------------------------------------------------------------
// Request windows: one atomic upsert each, no writer lock (the row lock suffices).

Result<WindowCount> PostgresServerStore::count_request(std::string_view key,
                                                       std::int64_t window_start_ms) {
  auto rows = impl_->query(q::kCountRequest, {text(key), num(window_start_ms)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status(Errc::internal, "the request count returned no row");
  return WindowCount{(*rows)[0].column_int(0), (*rows)[0].column_int(1)};
}

Status PostgresServerStore::forget_request_windows(std::int64_t before_ms) {
  return impl_->run(q::kForgetRequestWindows, {num(before_ms)});
}

Result<AuditVerification> PostgresServerStore::verify_audit() {
  // The head and the entries from one snapshot: a repeatable-read transaction of its own.
  return impl_->with_conn([&](pg::Connection& c) -> Result<AuditVerification> {
    const bool own = impl_->frame() == nullptr;
    if (own) FC_TRY(c.exec_script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    auto verify = [&]() -> Result<AuditVerification> {
      auto head_row = c.exec(q::kAuditHead);
      if (!head_row.ok()) return head_row.status();
      const std::int64_t recorded_seq = head_row->empty() ? 0 : (*head_row)[0].column_int(0);
      const std::string recorded_hash = head_row->empty() ? "" : (*head_row)[0].column_text(1);
      CursorStream entries(c, "fc_audit_entries");
      FC_TRY(entries.open(q::kAllAudit, {}));
      AuditChainVerifier verifier;
      for (;;) {
        auto row = entries.step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        verifier.add(read_audit(entries));
      }
      return verifier.finish(recorded_seq, recorded_hash);
    };
    auto result = verify();
    if (own) (void)c.exec_script(result.ok() ? "COMMIT" : "ROLLBACK");
    return result;
  });
}

}  // namespace fieldcase::server
