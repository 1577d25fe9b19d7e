#include "fieldcase/server/sqlite_server_store.hpp"

#include <algorithm>
#include <limits>

#include "fieldcase/server/audit_chain.hpp"
#include "sql/migration_files.hpp"
#include "sql/reading.hpp"
#include "sql/rows.hpp"
#include "sql/statements.hpp"

namespace fieldcase::server {
namespace {

using namespace storage;
namespace q = storage::sql;

// Leaves a cached statement reset (and so releases its read snapshot) when a call returns.
class Use {
 public:
  explicit Use(Statement* s) : s_(s) {}
  ~Use() { s_->reset(); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  Statement& operator*() const { return *s_; }
  Statement* operator->() const { return s_; }

 private:
  Statement* s_;
};

// Every row the statement gives, each made by `make` from the statement.
template <typename Make>
auto all_rows(Statement& st, Make make) -> Result<std::vector<decltype(make(st))>> {
  std::vector<decltype(make(st))> out;
  for (;;) {
    auto row = st.step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(make(st));
  }
  return out;
}

// Every row the statement gives, each read by `read` (which may fail) from the statement.
template <typename Read>
auto read_rows(Statement& st, Read read)
    -> Result<std::vector<std::remove_cvref_t<decltype(read(st).value())>>> {
  std::vector<std::remove_cvref_t<decltype(read(st).value())>> out;
  for (;;) {
    auto row = st.step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto item = read(st);
    if (!item.ok()) return item.status();
    out.push_back(std::move(*item));
  }
  return out;
}

Status insert_audit_row(Statement& ins, const AuditEvent& e) {
  ins.bind(1, e.seq).bind(2, e.id).bind(3, e.at).bind(4, e.event).bind(5, e.outcome);
  ins.bind(6, e.worker_id).bind(7, e.device_id).bind(8, e.case_id).bind(9, e.record_id);
  ins.bind(10, e.tx_id).bind(11, e.relation).bind(12, e.detail).bind(13, e.prev_hash);
  ins.bind(14, e.hash);
  return ins.run();
}

// Version 2, after its SQL: chains the version-1 entries (audit_v1), oldest first, into the new
// log. Code, not SQL: the chain's hash is BLAKE2b (audit_chain.hpp).
Status chain_v1_audit(Store& s) {
  auto old = s.prepare(q::kLegacyAudit);
  if (!old.ok()) return old.status();
  auto ins = s.prepare(q::kInsertAudit);
  if (!ins.ok()) return ins.status();
  std::string prev(kAuditGenesisHash);
  std::int64_t seq = 0;
  for (;;) {
    auto row = old->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    AuditEvent e;
    e.id = old->column_text(0);
    e.at = old->column_text(1);
    e.event = old->column_text(2);
    e.device_id = old->column_text(3);
    e.worker_id = old->column_text(4);
    e.case_id = old->column_text(5);
    e.tx_id = old->column_text(6);
    e.detail = old->column_text(7);
    e.outcome = legacy_audit_outcome(e.event);
    chain_audit_entry(e, seq, prev);
    seq = e.seq;
    prev = e.hash;
    FC_TRY(insert_audit_row(*ins, e));
    ins->reset();
  }
  old->reset();
  auto head = s.prepare(q::kInsertAuditHead);
  if (!head.ok()) return head.status();
  head->bind(1, seq).bind(2, prev);
  FC_TRY(head->run());
  return s.exec(q::kDropLegacyAudit);
}

// The schema: the embedded migrations/NNNN_*.sql files, each followed by its code step if it
// has one.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> m = [] {
    std::vector<Migration> out;
    for (const MigrationFile& file : sqlite_migration_files()) {
      const std::string_view sql = file.sql;
      const int version = file.version;
      out.push_back({version, std::string(file.description()), [sql, version](Store& s) {
                       FC_TRY(s.exec(sql));
                       return version == 2 ? chain_v1_audit(s) : Status();
                     }});
    }
    return out;
  }();
  return m;
}

}  // namespace

Result<std::unique_ptr<SqliteServerStore>> SqliteServerStore::open(
    const std::filesystem::path& path) {
  StoreOptions options;
  options.path = path;
  options.journal = JournalMode::wal;
  options.durability = Durability::full;
  auto store = Store::open_plain(options);
  if (!store.ok()) return store.status();
  FC_TRY((*store)->migrate(migrations()));
  return std::unique_ptr<SqliteServerStore>(new SqliteServerStore(std::move(store.value())));
}

int SqliteServerStore::latest_schema_version() {
  return static_cast<int>(sqlite_migration_files().size());
}

Result<int> SqliteServerStore::schema_version() { return store_->schema_version(); }

SqliteServerStore::SqliteServerStore(std::unique_ptr<Store> store) : store_(std::move(store)) {}

SqliteServerStore::~SqliteServerStore() {
  cache_.clear();  // statements before the connection
}

Result<Statement*> SqliteServerStore::stmt(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->reset();
    return it->second.get();
  }
  auto prepared = store_->prepare(sql);
  if (!prepared.ok()) return prepared.status();
  auto owned = std::make_unique<Statement>(std::move(prepared.value()));
  Statement* raw = owned.get();
  cache_.emplace(sql, std::move(owned));
  return raw;
}

Status SqliteServerStore::transaction(const std::function<Status()>& fn) {
  return store_->transaction(fn);
}

// ---------------------------------------------------------------------------------------------
// Organisation

Status SqliteServerStore::insert_authority(const Authority& a) {
  auto s = stmt(q::kInsertAuthority);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, a.id).bind(2, a.name).bind(3, a.la_code).bind(4, a.created_at);
  return u->run();
}

Result<std::optional<Authority>> SqliteServerStore::find_authority() {
  auto s = stmt(q::kFindAuthority);
  if (!s.ok()) return s.status();
  Use u(*s);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Authority>();
  return std::optional<Authority>(
      Authority{u->column_text(0), u->column_text(1), u->column_text(2), u->column_text(3)});
}

Status SqliteServerStore::insert_area(const Area& a) {
  auto s = stmt(q::kInsertArea);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, a.id).bind(2, a.name).bind(3, a.authority_id).bind(4, a.created_at);
  return u->run();
}

Result<std::optional<Area>> SqliteServerStore::find_area(std::string_view id) {
  auto s = stmt(q::kFindArea);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Area>();
  return std::optional<Area>(
      Area{u->column_text(0), u->column_text(1), u->column_text(2), u->column_text(3)});
}

Status SqliteServerStore::insert_team(const Team& t) {
  auto s = stmt(q::kInsertTeam);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, t.id).bind(2, t.name).bind(3, t.area_id).bind(4, t.created_at);
  return u->run();
}

Result<std::optional<Team>> SqliteServerStore::find_team(std::string_view id) {
  auto s = stmt(q::kFindTeam);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Team>();
  return std::optional<Team>(
      Team{u->column_text(0), u->column_text(1), u->column_text(2), u->column_text(3)});
}

Result<std::vector<Area>> SqliteServerStore::list_areas() {
  auto s = stmt(q::kListAreas);
  if (!s.ok()) return s.status();
  Use u(*s);
  return all_rows(*u, [](Statement& r) {
    return Area{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3)};
  });
}

Result<std::vector<Team>> SqliteServerStore::list_teams() {
  auto s = stmt(q::kListTeams);
  if (!s.ok()) return s.status();
  Use u(*s);
  return all_rows(*u, [](Statement& r) {
    return Team{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3)};
  });
}

Status SqliteServerStore::insert_worker(const Worker& w) {
  auto s = stmt(q::kInsertWorker);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, w.id).bind(2, w.name).bind(3, to_string(w.role)).bind(5, w.active ? 1 : 0);
  if (w.team_id.empty()) {
    u->bind_null(4);
  } else {
    u->bind(4, w.team_id);
  }
  u->bind(6, w.created_at);
  return u->run();
}

Result<std::optional<Worker>> SqliteServerStore::find_worker(std::string_view id) {
  auto s = stmt(q::kFindWorker);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Worker>();
  auto w = read_worker(*u);
  if (!w.ok()) return w.status();
  return std::optional<Worker>(std::move(*w));
}

Result<std::vector<Worker>> SqliteServerStore::list_workers() {
  auto s = stmt(q::kListWorkers);
  if (!s.ok()) return s.status();
  Use u(*s);
  return read_rows(*u, [](Statement& r) { return read_worker(r); });
}

Status SqliteServerStore::set_worker_active(std::string_view id, bool active) {
  auto s = stmt(q::kSetWorkerActive);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id).bind(2, active ? 1 : 0);
  FC_TRY(u->run());
  if (store_->changes() == 0) return {Errc::not_found, "no worker " + std::string(id)};
  return {};
}

Status SqliteServerStore::set_worker_role(std::string_view id, Role role) {
  auto s = stmt(q::kSetWorkerRole);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id).bind(2, to_string(role));
  FC_TRY(u->run());
  if (store_->changes() == 0) return {Errc::not_found, "no worker " + std::string(id)};
  return {};
}

Result<WorkerCredentials> SqliteServerStore::find_credentials(std::string_view worker_id) {
  auto s = stmt(q::kFindCredentials);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, worker_id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(Errc::not_found, "no worker " + std::string(worker_id));
  return WorkerCredentials{u->column_text(0), u->column_int(1), u->column_text(2)};
}

Status SqliteServerStore::put_credentials(std::string_view worker_id, const WorkerCredentials& c) {
  auto s = stmt(q::kPutCredentials);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, worker_id).bind(2, c.password_hash).bind(3, c.failed_signins);
  u->bind(4, c.locked_until);
  FC_TRY(u->run());
  if (store_->changes() == 0) return {Errc::not_found, "no worker " + std::string(worker_id)};
  return {};
}

Result<std::optional<SignInAttempt>> SqliteServerStore::begin_sign_in(std::string_view worker_id,
                                                                      std::string_view now,
                                                                      std::int64_t limit,
                                                                      std::string_view lock_until) {
  auto s = stmt(q::kBeginSignIn);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, worker_id).bind(2, now).bind(3, limit).bind(4, lock_until);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<SignInAttempt>();
  SignInAttempt attempt{u->column_int(0), u->column_text(1)};
  // RETURNING rows are produced as the statement runs; finish it so the change is made.
  auto rest = u->step();
  if (!rest.ok()) return rest.status();
  return std::optional<SignInAttempt>(std::move(attempt));
}

Result<bool> SqliteServerStore::end_sign_in(std::string_view worker_id, std::int64_t number,
                                            std::string_view now) {
  auto s = stmt(q::kEndSignIn);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, worker_id).bind(2, now).bind(3, number);
  FC_TRY(u->run());
  return store_->changes() == 1;
}

// ---------------------------------------------------------------------------------------------
// Role grants, enrollment codes and web sessions

Status SqliteServerStore::insert_role_grant(const RoleGrant& g) {
  auto s = stmt(q::kInsertRoleGrant);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, g.id).bind(2, g.worker_id).bind(3, to_string(g.role)).bind(4, g.from_role);
  u->bind(5, g.requested_by).bind(6, g.requested_at).bind(7, g.state).bind(8, g.decided_by);
  u->bind(9, g.decided_at);
  return u->run();
}

Result<std::optional<RoleGrant>> SqliteServerStore::find_role_grant(std::string_view id) {
  auto s = stmt(q::kFindRoleGrant);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<RoleGrant>();
  auto g = read_role_grant(*u);
  if (!g.ok()) return g.status();
  return std::optional<RoleGrant>(std::move(*g));
}

Result<std::optional<RoleGrant>> SqliteServerStore::pending_role_grant(std::string_view worker_id) {
  auto s = stmt(q::kPendingRoleGrant);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, worker_id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<RoleGrant>();
  auto g = read_role_grant(*u);
  if (!g.ok()) return g.status();
  return std::optional<RoleGrant>(std::move(*g));
}

Result<std::vector<RoleGrant>> SqliteServerStore::pending_role_grants() {
  auto s = stmt(q::kPendingRoleGrants);
  if (!s.ok()) return s.status();
  Use u(*s);
  return read_rows(*u, [](Statement& r) { return read_role_grant(r); });
}

Status SqliteServerStore::decide_role_grant(const RoleGrant& g) {
  auto s = stmt(q::kDecideRoleGrant);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, g.id).bind(2, g.state).bind(3, g.decided_by).bind(4, g.decided_at);
  FC_TRY(u->run());
  if (store_->changes() == 0) return {Errc::not_found, "no pending role grant " + g.id};
  return {};
}

Status SqliteServerStore::insert_enrollment(const EnrollmentCode& c) {
  auto s = stmt(q::kInsertEnrollment);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, c.id).bind(2, c.lookup).bind(3, c.code_hash).bind(4, c.worker_id);
  u->bind(5, c.created_at).bind(6, c.expires_at);
  return u->run();
}

Result<std::optional<EnrollmentCode>> SqliteServerStore::find_enrollment(std::string_view lookup) {
  auto s = stmt(q::kFindEnrollment);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, lookup);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<EnrollmentCode>();
  return std::optional<EnrollmentCode>(read_enrollment(*u));
}

Status SqliteServerStore::update_enrollment(const EnrollmentCode& c) {
  auto s = stmt(q::kUpdateEnrollment);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, c.id).bind(2, c.used_at).bind(3, c.device_id).bind(4, c.failed_attempts);
  FC_TRY(u->run());
  if (store_->changes() == 0) return {Errc::not_found, "no enrollment code " + c.id};
  return {};
}

Result<std::int64_t> SqliteServerStore::enrollment_failures(std::string_view source,
                                                            std::int64_t since_ms) {
  auto s = stmt(q::kEnrollmentFailures);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, source).bind(2, since_ms);
  auto row = u->step();
  if (!row.ok()) return row.status();
  return *row ? u->column_int(0) : std::int64_t{0};
}

Status SqliteServerStore::add_enrollment_failure(std::string_view source, std::int64_t at_ms,
                                                 std::int64_t forget_before_ms) {
  {
    auto s = stmt(q::kForgetEnrollmentFailures);
    if (!s.ok()) return s.status();
    Use u(*s);
    u->bind(1, forget_before_ms);
    FC_TRY(u->run());
  }
  auto s = stmt(q::kAddEnrollmentFailure);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, source).bind(2, at_ms);
  return u->run();
}

Status SqliteServerStore::insert_session(const WebSession& w) {
  auto s = stmt(q::kInsertSession);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, w.id_hash).bind(2, w.worker_id).bind(3, w.created_at).bind(4, w.last_seen_at);
  u->bind(5, w.expires_at);
  return u->run();
}

Result<std::optional<WebSession>> SqliteServerStore::find_session(std::string_view id_hash) {
  auto s = stmt(q::kFindSession);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id_hash);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<WebSession>();
  return std::optional<WebSession>(WebSession{u->column_text(0), u->column_text(1),
                                              u->column_text(2), u->column_text(3),
                                              u->column_text(4)});
}

Status SqliteServerStore::touch_session(std::string_view id_hash, std::string_view last_seen_at) {
  auto s = stmt(q::kTouchSession);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id_hash).bind(2, last_seen_at);
  return u->run();
}

Status SqliteServerStore::delete_session(std::string_view id_hash) {
  auto s = stmt(q::kDeleteSession);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id_hash);
  return u->run();
}

Status SqliteServerStore::delete_sessions_of(std::string_view worker_id) {
  auto s = stmt(q::kDeleteSessionsOf);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, worker_id);
  return u->run();
}

// ---------------------------------------------------------------------------------------------
// Devices

Status SqliteServerStore::insert_device(const Device& d, std::string_view token_hash) {
  auto s = stmt(q::kInsertDevice);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, d.id).bind(2, d.worker_id).bind(3, token_hash).bind(4, to_string(d.status));
  u->bind(5, d.created_at).bind(6, d.name);
  return u->run();
}

Result<std::optional<Device>> SqliteServerStore::find_device(std::string_view id) {
  auto s = stmt(q::kFindDevice);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Device>();
  return std::optional<Device>(read_device(*u));
}

Result<std::optional<Device>> SqliteServerStore::find_device_by_token_hash(std::string_view hash) {
  auto s = stmt(q::kFindDeviceByToken);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, hash);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Device>();
  return std::optional<Device>(read_device(*u));
}

Result<std::vector<Device>> SqliteServerStore::list_devices() {
  auto s = stmt(q::kListDevices);
  if (!s.ok()) return s.status();
  Use u(*s);
  return all_rows(*u, [](Statement& r) { return read_device(r); });
}

Status SqliteServerStore::update_device(const Device& d) {
  auto s = stmt(q::kUpdateDevice);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, d.id).bind(2, to_string(d.status)).bind(3, d.revoked_at).bind(4, d.last_sync_at);
  if (d.clock_offset_ms) {
    u->bind(5, *d.clock_offset_ms);
  } else {
    u->bind_null(5);
  }
  u->bind(6, samples_to_text(d.clock_samples));
  FC_TRY(u->run());
  if (store_->changes() == 0) return {Errc::not_found, "no device " + d.id};
  return {};
}

// ---------------------------------------------------------------------------------------------
// Sequence, allocation, scope

Result<std::int64_t> SqliteServerStore::reserve_seqs(std::int64_t n) {
  if (n < 1) return Status(Errc::invalid_argument, "reserve at least one sequence number");
  auto up = stmt("UPDATE server_seq SET value = value + ?1 WHERE id = 1");
  if (!up.ok()) return up.status();
  {
    Use u(*up);
    u->bind(1, n);
    FC_TRY(u->run());
  }
  auto last = head();
  if (!last.ok()) return last.status();
  return *last - n + 1;
}

Result<std::int64_t> SqliteServerStore::head() {
  auto s = stmt(q::kHead);
  if (!s.ok()) return s.status();
  Use u(*s);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(Errc::integrity, "the server sequence is missing");
  return u->column_int(0);
}

Status SqliteServerStore::put_allocation(const Allocation& a, std::string_view previous) {
  FC_TRY(append_figure_change(a.case_id));
  auto s = stmt(q::kPutAllocation);
  if (!s.ok()) return s.status();
  {
    Use u(*s);
    u->bind(1, a.case_id).bind(2, a.worker_id).bind(3, a.seq).bind(4, a.allocated_at);
    FC_TRY(u->run());
  }
  auto h = stmt(q::kInsertAllocationHistory);
  if (!h.ok()) return h.status();
  Use u(*h);
  u->bind(1, a.seq).bind(2, a.case_id).bind(3, a.worker_id).bind(4, previous);
  u->bind(5, a.allocated_at);
  return u->run();
}

Result<std::optional<Allocation>> SqliteServerStore::find_allocation(std::string_view case_id) {
  auto s = stmt(q::kFindAllocation);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, case_id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Allocation>();
  return std::optional<Allocation>(
      Allocation{u->column_text(0), u->column_text(1), u->column_int(2), u->column_text(3)});
}

Result<std::vector<Allocation>> SqliteServerStore::allocations_after(std::int64_t seq,
                                                                     std::size_t limit) {
  auto s = stmt(q::kAllocationsAfter);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, seq).bind(2, static_cast<std::int64_t>(limit));
  return all_rows(*u, [](Statement& r) {
    return Allocation{r.column_text(0), r.column_text(1), r.column_int(2), r.column_text(3)};
  });
}

Result<std::string> SqliteServerStore::previous_worker(std::string_view case_id) {
  auto s = stmt(q::kPreviousWorker);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, case_id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  return *row ? u->column_text(0) : std::string();
}

Result<std::set<std::string>> SqliteServerStore::visible_cases(const Worker& viewer) {
  auto s = stmt(q::scope(viewer.role));
  if (!s.ok()) return s.status();
  Use u(*s);
  if (q::scope_binds_viewer(viewer.role)) u->bind(1, viewer.id);
  std::set<std::string> out;
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.insert(u->column_text(0));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Records

Result<std::vector<StoredRecord>> SqliteServerStore::load_records(const std::string& where_sql,
                                                                  std::string_view arg) {
  std::vector<StoredRecord> out;
  {
    auto s = stmt(q::records_where(where_sql));
    if (!s.ok()) return s.status();
    Use u(*s);
    u->bind(1, arg);
    auto rows = read_rows(*u, [](Statement& r) { return read_record(r); });
    if (!rows.ok()) return rows.status();
    out = std::move(*rows);
  }
  if (out.empty()) return out;
  // Every field of the selected records in one statement (one per record made reading a
  // case's records cost a statement per record).
  std::unordered_map<std::string, StoredRecord*> by_id;
  for (auto& r : out) by_id.emplace(r.id, &r);
  auto f = stmt(q::fields_where(where_sql));
  if (!f.ok()) return f.status();
  Use u(*f);
  u->bind(1, arg);
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto it = by_id.find(u->column_text(0));
    if (it == by_id.end()) continue;
    auto v = value_from_text(u->column_text(2));
    if (!v.ok()) return v.status();
    it->second->fields.emplace(u->column_text(1),
                               FieldState{std::move(*v), u->column_text(3), u->column_text(4)});
  }
  return out;
}

Result<std::optional<StoredRecord>> SqliteServerStore::find_record(std::string_view id) {
  auto found = load_records("id = ?1", id);
  if (!found.ok()) return found.status();
  if (found->empty()) return std::optional<StoredRecord>();
  return std::optional<StoredRecord>(std::move(found->front()));
}

Result<std::vector<StoredRecord>> SqliteServerStore::case_records(std::string_view case_id) {
  return load_records("case_id = ?1", case_id);
}

Status SqliteServerStore::put_record(const StoredRecord& r) {
  auto s = stmt(q::kPutRecord);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, r.id).bind(2, to_string(r.kind)).bind(3, r.case_id).bind(4, r.created_at);
  u->bind(5, r.created_by).bind(6, r.created_hlc).bind(7, r.updated_at).bind(8, r.updated_by);
  u->bind(9, r.deleted ? 1 : 0).bind(10, r.deleted_hlc);
  return u->run();
}

Status SqliteServerStore::put_field(std::string_view record_id, std::string_view name,
                                    const FieldState& f) {
  auto s = stmt(q::kPutField);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, record_id).bind(2, name).bind(3, value_to_json(f.value)).bind(4, f.hlc);
  u->bind(5, f.author);
  return u->run();
}

// ---------------------------------------------------------------------------------------------
// Log

Status SqliteServerStore::append_log(const LogEntry& e) {
  auto s = stmt(q::kAppendLog);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, e.seq).bind(2, e.op_id).bind(3, e.tx_id).bind(4, op_text(e.op));
  u->bind(5, e.record_id).bind(6, to_string(e.kind)).bind(7, e.case_id).bind(8, e.field);
  if (e.op == FieldChange::Op::set) {
    u->bind(9, value_to_json(e.value));
  } else {
    u->bind_null(9);
  }
  u->bind(10, e.hlc).bind(11, e.author).bind(12, e.device_id).bind(13, e.at);
  u->bind(14, e.received_at);
  return u->run();
}

Result<LogPage> SqliteServerStore::log_after(const Worker& viewer, std::int64_t cursor,
                                             std::size_t max_entries, std::size_t max_bytes) {
  auto s = stmt(q::log_window(Dialect::sqlite, viewer.role));
  if (!s.ok()) return s.status();
  auto last = head();
  if (!last.ok()) return last.status();
  Statement* st = *s;
  return page_log(*last, cursor, max_entries, max_bytes,
                  [&](std::int64_t lo, std::int64_t hi, std::int64_t limit,
                      const AcceptEntry& accept) -> Status {
                    Use u(st);
                    if (q::scope_binds_viewer(viewer.role)) u->bind(1, viewer.id);
                    u->bind(2, lo).bind(4, hi).bind(3, limit);
                    for (;;) {
                      auto row = u->step();
                      if (!row.ok()) return row.status();
                      if (!*row) return {};
                      auto e = read_log(*u);
                      if (!e.ok()) return e.status();
                      if (!accept(std::move(*e))) return {};
                    }
                  });
}

// ---------------------------------------------------------------------------------------------
// Idempotency

Result<std::optional<TxOutcome>> SqliteServerStore::find_tx(std::string_view tx_id) {
  auto s = stmt(q::kFindTx);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, tx_id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<TxOutcome>();
  return std::optional<TxOutcome>(read_tx(*u));
}

Status SqliteServerStore::put_tx(const TxOutcome& t) {
  auto s = stmt(q::kPutTx);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, t.tx_id).bind(2, t.device_id).bind(3, t.accepted ? "accepted" : "rejected");
  u->bind(4, t.code).bind(5, t.reason).bind(6, t.op_count).bind(7, t.device_time);
  u->bind(8, t.received_at);
  return u->run();
}

Result<bool> SqliteServerStore::op_applied(std::string_view op_id) {
  auto s = stmt(q::kOpApplied);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, op_id);
  return u->step();
}

Status SqliteServerStore::put_op(std::string_view op_id, std::string_view tx_id) {
  auto s = stmt(q::kPutOp);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, op_id).bind(2, tx_id);
  return u->run();
}

// ---------------------------------------------------------------------------------------------
// Conflicts

Status SqliteServerStore::insert_conflict(const StoredConflict& c) {
  auto s = stmt(q::kInsertConflict);
  if (!s.ok()) return s.status();
  Use u(*s);
  const sync::Conflict& k = c.conflict;
  u->bind(1, k.conflict_id).bind(2, k.record_id).bind(3, k.case_id).bind(4, k.field);
  u->bind(5, value_to_json(k.kept)).bind(6, k.kept_hlc).bind(7, value_to_json(k.lost));
  u->bind(8, k.lost_hlc).bind(9, k.lost_author).bind(10, c.lost_device);
  u->bind(11, c.detected_seq).bind(12, c.detected_at).bind(13, c.resolved_seq);
  u->bind(14, c.resolved_at);
  return u->run();
}

Status SqliteServerStore::resolve_conflicts(std::string_view record_id, std::string_view field,
                                            std::int64_t seq, std::string_view at) {
  auto s = stmt(q::kResolveConflicts);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, record_id).bind(2, field).bind(3, seq).bind(4, at);
  return u->run();
}

Result<std::vector<StoredConflict>> SqliteServerStore::conflicts_for(const Worker& viewer,
                                                                     std::int64_t cursor) {
  auto s = stmt(q::conflicts_for(Dialect::sqlite, viewer.role));
  if (!s.ok()) return s.status();
  Use u(*s);
  if (q::scope_binds_viewer(viewer.role)) u->bind(1, viewer.id);
  u->bind(2, cursor);
  return read_rows(*u, [](Statement& r) { return read_conflict(r); });
}

// ---------------------------------------------------------------------------------------------
// Device holdings

Result<std::map<std::string, HeldState>> SqliteServerStore::device_cases(
    std::string_view device_id) {
  auto s = stmt(q::kDeviceCases);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, device_id);
  std::map<std::string, HeldState> out;
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.emplace(u->column_text(0), held_from_text(u->column_text(1)));
  }
  return out;
}

Status SqliteServerStore::put_device_case(std::string_view device_id, std::string_view case_id,
                                          HeldState state) {
  auto s = stmt(q::kPutDeviceCase);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, device_id).bind(2, case_id).bind(3, held_text(state));
  return u->run();
}

// ---------------------------------------------------------------------------------------------
// Claimed times

Status SqliteServerStore::put_claimed_time(const ClaimedTime& c) {
  auto s = stmt(q::kPutClaimedTime);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, c.record_id).bind(2, c.field).bind(3, c.case_id).bind(4, to_string(c.kind));
  u->bind(5, c.claimed).bind(6, c.corrected).bind(7, c.received_at).bind(8, c.offset_ms);
  u->bind(9, c.device_id).bind(10, c.worker_id).bind(11, c.tx_id);
  u->bind(12, c.after_receipt ? 1 : 0).bind(13, c.before_start ? 1 : 0);
  u->bind(14, c.large_offset ? 1 : 0);
  return u->run();
}

Status SqliteServerStore::delete_claimed_time(std::string_view record_id, std::string_view field) {
  auto s = stmt(q::kDeleteClaimedTime);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, record_id).bind(2, field);
  return u->run();
}

Result<std::optional<ClaimedTime>> SqliteServerStore::find_claimed_time(std::string_view record_id,
                                                                        std::string_view field) {
  auto s = stmt(q::kFindClaimedTime);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, record_id).bind(2, field);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<ClaimedTime>();
  auto c = read_claim(*u);
  if (!c.ok()) return c.status();
  return std::optional<ClaimedTime>(std::move(*c));
}

// ---------------------------------------------------------------------------------------------
// Figure facts

namespace {

void bind_selection(Statement& s, const FigureInputSelection& select, bool one_case) {
  int next = one_case ? 2 : 1;
  for (RecordKind k : select.kinds) s.bind(next++, to_string(k));
  for (const auto& id : select.records) s.bind(next++, id);
  for (const auto& f : select.fields) s.bind(next++, f);
}

void bind_fact(Statement& u, const FigureFact& f) {
  u.bind(1, f.indicator).bind(2, f.record_id).bind(3, f.case_id).bind(4, f.start);
  u.bind(5, f.end).bind(6, f.end_received_at).bind(7, f.detail).bind(8, f.hit ? 1 : 0);
  u.bind(9, f.flags);
}

}  // namespace

Result<CaseFigureInputs> SqliteServerStore::case_figure_inputs(std::string_view case_id,
                                                               const FigureInputSelection& select) {
  const q::InputsSql sql = q::inputs(Dialect::sqlite, select, true);
  CaseFigureInputs in;
  in.case_id = std::string(case_id);
  {
    auto s = stmt(sql.records);
    if (!s.ok()) return s.status();
    Use u(*s);
    u->bind(1, case_id);
    bind_selection(*u, select, true);
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (*row) {
      auto more = read_case_records(*u, in.case_id, in.records);
      if (!more.ok()) return more.status();
    }
    sort_by_id(in.records);
  }
  auto s = stmt(sql.claims);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, case_id);
  bind_selection(*u, select, true);
  auto claims = read_rows(*u, [](Statement& r) { return read_claim(r); });
  if (!claims.ok()) return claims.status();
  in.claims = std::move(*claims);
  return in;
}

Status SqliteServerStore::each_case_figure_inputs(
    const FigureInputSelection& select, const std::function<Status(CaseFigureInputs&)>& fn) {
  if (!select.records.empty()) {
    return Status(Errc::invalid_argument, "figure inputs of every case are selected by kind");
  }
  const q::InputsSql sql = q::inputs(Dialect::sqlite, select, false);
  auto records = stmt(sql.records);
  if (!records.ok()) return records.status();
  Use r(*records);
  bind_selection(*r, select, false);
  auto claims = stmt(sql.claims);
  if (!claims.ok()) return claims.status();
  Use c(*claims);
  bind_selection(*c, select, false);
  return each_case_inputs(*r, *c, fn);
}

Status SqliteServerStore::rebuild_figure_facts(
    const std::function<Status(const FigureFactSink&)>& fill) {
  FC_TRY(store_->exec(q::kDropFactCaseIndex));
  FC_TRY(clear_figure_facts());
  FC_TRY(fill([this](const std::vector<FigureFact>& facts) { return insert_figure_facts(facts); }));
  return store_->exec(q::kFactCaseIndex);
}

Status SqliteServerStore::insert_figure_facts(const std::vector<FigureFact>& facts) {
  auto ins = stmt(q::kInsertFact);
  if (!ins.ok()) return ins.status();
  for (const auto& f : facts) {
    Use u(*ins);
    bind_fact(*u, f);
    FC_TRY(u->run());
  }
  return {};
}

Result<std::vector<FigureFact>> SqliteServerStore::case_figure_facts(std::string_view case_id,
                                                                     std::string_view indicator) {
  auto s = stmt(q::kCaseIndicatorFacts);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, case_id).bind(2, indicator);
  auto out = all_rows(*u, [](Statement& r) { return read_fact(r); });
  if (!out.ok()) return out.status();
  std::sort(out->begin(), out->end(),
            [](const FigureFact& a, const FigureFact& b) { return a.record_id < b.record_id; });
  return out;
}

Status SqliteServerStore::replace_figure_facts(std::string_view case_id,
                                               const std::set<std::string, std::less<>>& indicators,
                                               const std::set<std::string, std::less<>>& records,
                                               const std::vector<FigureFact>& facts) {
  FC_TRY(append_figure_change(case_id));
  // Only the facts that changed are written: a sync usually changes one or two of a case's
  // facts, and rewriting all of them made a long-running case's every sync cost hundreds of
  // statements.
  std::map<std::pair<std::string, std::string>, FigureFact> before;
  if (!records.empty()) {
    // The named records' facts, each found by its key.
    auto s = stmt(q::kRecordFact);
    if (!s.ok()) return s.status();
    for (const auto& indicator : indicators) {
      for (const auto& record_id : records) {
        Use u(*s);
        u->bind(1, indicator).bind(2, record_id).bind(3, case_id);
        auto row = u->step();
        if (!row.ok()) return row.status();
        if (!*row) continue;
        FigureFact f = read_fact(*u);
        auto key = std::make_pair(f.indicator, f.record_id);
        before.emplace(std::move(key), std::move(f));
      }
    }
  } else {
    auto s = stmt(q::kCaseFacts);
    if (!s.ok()) return s.status();
    Use u(*s);
    u->bind(1, case_id);
    for (;;) {
      auto row = u->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      FigureFact f = read_fact(*u);
      if (!indicators.empty() && !indicators.contains(f.indicator)) continue;
      auto key = std::make_pair(f.indicator, f.record_id);
      before.emplace(std::move(key), std::move(f));
    }
  }
  auto del = stmt(q::kDeleteFact);
  if (!del.ok()) return del.status();
  auto ins = stmt(q::kInsertFact);
  if (!ins.ok()) return ins.status();
  auto remove = [&](const std::pair<std::string, std::string>& key) -> Status {
    Use u(*del);
    u->bind(1, key.first).bind(2, key.second);
    return u->run();
  };
  std::set<std::pair<std::string, std::string>> kept;
  for (const auto& f : facts) {
    auto key = std::make_pair(f.indicator, f.record_id);
    kept.insert(key);
    if (auto it = before.find(key); it != before.end()) {
      if (it->second == f) continue;
      FC_TRY(remove(key));
    }
    Use u(*ins);
    bind_fact(*u, f);
    FC_TRY(u->run());
  }
  for (const auto& [key, f] : before) {
    if (!kept.contains(key)) FC_TRY(remove(key));
  }
  return {};
}

Result<std::vector<FigureFact>> SqliteServerStore::figure_facts(std::string_view indicator) {
  auto attributed = attributed_figure_facts(indicator);
  if (!attributed.ok()) return attributed.status();
  std::vector<FigureFact> out;
  out.reserve(attributed->size());
  for (auto& a : *attributed) out.push_back(std::move(a.fact));
  return out;
}

Result<std::vector<AttributedFact>> SqliteServerStore::attributed_figure_facts(
    std::string_view indicator) {
  auto s = stmt(indicator.empty() ? q::kAllAttributedFacts : q::kIndicatorAttributedFacts);
  if (!s.ok()) return s.status();
  Use u(*s);
  if (!indicator.empty()) u->bind(1, indicator);
  return all_rows(*u, [](Statement& r) { return read_attributed_fact(r); });
}

Result<std::vector<AttributedFact>> SqliteServerStore::attributed_case_figure_facts(
    std::string_view case_id) {
  auto s = stmt(q::kCaseAttributedFacts);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, case_id);
  return all_rows(*u, [](Statement& r) { return read_attributed_fact(r); });
}

Status SqliteServerStore::clear_figure_facts() {
  FC_TRY(append_figure_change(""));
  auto s = stmt(q::kClearFacts);
  if (!s.ok()) return s.status();
  Use u(*s);
  return u->run();
}

Result<std::vector<std::string>> SqliteServerStore::case_ids() {
  auto s = stmt(q::kCaseIds);
  if (!s.ok()) return s.status();
  Use u(*s);
  return all_rows(*u, [](Statement& r) { return r.column_text(0); });
}

// ---------------------------------------------------------------------------------------------
// Audit

Status SqliteServerStore::append_audit(const AuditEvent& event) {
  return store_->transaction([&]() -> Status {
    AuditEvent e = event;
    {
      auto h = stmt(q::kAuditHead);
      if (!h.ok()) return h.status();
      Use u(*h);
      auto row = u->step();
      if (!row.ok()) return row.status();
      if (!*row) return {Errc::integrity, "the audit chain has no head"};
      chain_audit_entry(e, u->column_int(0), u->column_text(1));
    }
    {
      auto s = stmt(q::kInsertAudit);
      if (!s.ok()) return s.status();
      Use u(*s);
      FC_TRY(insert_audit_row(*u, e));
    }
    auto up = stmt(q::kUpdateAuditHead);
    if (!up.ok()) return up.status();
    Use u(*up);
    u->bind(1, e.seq).bind(2, e.hash);
    return u->run();
  });
}

Result<std::vector<AuditEvent>> SqliteServerStore::audit_events(std::string_view event) {
  AuditQuery query;
  query.event = std::string(event);
  query.limit = std::numeric_limits<std::size_t>::max() / 2;
  return query_audit(query);
}

Result<std::vector<AuditEvent>> SqliteServerStore::query_audit(const AuditQuery& query) {
  auto s = stmt(q::kQueryAudit);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, query.case_id).bind(2, query.worker_id).bind(3, query.device_id);
  u->bind(4, query.event).bind(5, query.not_allocated ? 1 : 0);
  u->bind(6, static_cast<std::int64_t>(
                 std::min<std::size_t>(query.limit, std::numeric_limits<std::int64_t>::max())));
  return all_rows(*u, [](Statement& r) { return read_audit(r); });
}

Result<AuditVerification> SqliteServerStore::verify_audit() {
  std::string recorded_head;
  std::int64_t recorded_seq = 0;
  {
    auto h = stmt(q::kAuditHead);
    if (!h.ok()) return h.status();
    Use u(*h);
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (*row) {
      recorded_seq = u->column_int(0);
      recorded_head = u->column_text(1);
    }
  }
  auto s = stmt(q::kAllAudit);
  if (!s.ok()) return s.status();
  Use u(*s);
  AuditChainVerifier verifier;
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    verifier.add(read_audit(*u));
  }
  return verifier.finish(recorded_seq, recorded_head);
}

// --- Figure change log

Status SqliteServerStore::append_figure_change(std::string_view case_id) {
  auto s = stmt(q::kAppendFigureChange);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, case_id).bind(2, q::figure_change_time_ms());
  return u->run();
}

Result<std::int64_t> SqliteServerStore::figure_change_head() {
  auto s = stmt(q::kFigureChangeHead);
  if (!s.ok()) return s.status();
  Use u(*s);
  auto row = u->step();
  if (!row.ok()) return row.status();
  return *row ? u->column_int(0) : std::int64_t{0};
}

Result<FigureChangePage> SqliteServerStore::figure_changes_after(std::int64_t cursor,
                                                                 std::size_t limit) {
  auto s = stmt(q::kFigureChangesAfter);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, cursor).bind(2, static_cast<std::int64_t>(limit));
  FigureChangePage page;
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    page.complete = cursor >= u->column_int(2);
    page.changes.push_back({u->column_int(0), u->column_text(1)});
  }
  return page;
}

Status SqliteServerStore::prune_figure_changes(std::int64_t before_ms) {
  return transaction([&]() -> Status {
    std::int64_t through = 0;
    {
      auto s = stmt(q::kFigureChangesToPrune);
      if (!s.ok()) return s.status();
      Use u(*s);
      u->bind(1, before_ms);
      auto row = u->step();
      if (!row.ok()) return row.status();
      through = *row ? u->column_int(0) : 0;
    }
    if (through == 0) return {};
    for (const char* sql : {q::kPruneFigureChanges, q::kMarkFigureChangesPruned}) {
      auto s = stmt(sql);
      if (!s.ok()) return s.status();
      Use u(*s);
      u->bind(1, through);
      FC_TRY(u->run());
    }
    return {};
  });
}

// --- Request windows

Result<WindowCount> SqliteServerStore::count_request(std::string_view key,
                                                     std::int64_t window_start_ms) {
  auto s = stmt(q::kCountRequest);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, key).bind(2, window_start_ms);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(Errc::internal, "the request count returned no row");
  return WindowCount{u->column_int(0), u->column_int(1)};
}

Status SqliteServerStore::forget_request_windows(std::int64_t before_ms) {
  auto s = stmt(q::kForgetRequestWindows);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, before_ms);
  return u->run();
}

}  // namespace fieldcase::server
