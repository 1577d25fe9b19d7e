// ServerStore on PostgreSQL (libpq), for several stateless server processes on one database.
//
// Thread-safety and connections: unlike the SQLite store, one PostgresServerStore is safe to
// call from several threads. It owns a pool of at most `pool_size` connections. An outermost
// transaction() leases one connection for its whole duration (kept in a thread-local keyed by
// the store, so the calls inside it and nested transactions, which are savepoints, use it); a
// call outside any transaction leases one for that call only. A call waits up to
// `lease_timeout` for a free connection, then fails with Errc::busy. A connection found broken
// is dropped and replaced at the next lease.
//
// Concurrency contract (several processes on one database):
// - Writer lock. Every outermost transaction() takes one transaction-scoped advisory lock, the
//   writer lock, right after BEGIN and holds it until it commits or rolls back (transaction()
//   cannot know in advance whether its unit of work will write; as with SQLite's BEGIN
//   IMMEDIATE, every unit of work is taken as a write). So units of work run one at a time
//   across all processes, and each sees everything committed before it (READ COMMITTED, each
//   statement reading the newest commits): the read-then-write logic above the store (is this
//   transaction or operation known, what is the field's stamp, who holds the case) keeps the
//   single-writer meaning it has on SQLite.
// - Sequence numbers. reserve_seqs() runs under the writer lock, so commit order is sequence
//   order: when a reader sees head() = H, every entry up to H is committed and visible, and a
//   device's cursor can never pass an entry that commits later with a lower number.
// - Audit chain. append_audit() reads the head and appends under the writer lock (a call
//   outside a transaction takes it too), so the chain never forks.
// - Idempotency. Transaction outcomes and applied operations are unique keys inserted with ON
//   CONFLICT DO NOTHING; a duplicate is refused (Errc::validation, as SQLite's constraint)
//   rather than recorded twice, and under the writer lock the second writer has already seen
//   the first one's outcome and answers as for a retry.
// - Reads outside transaction() (figures, log pages, look-ups) take no lock and run
//   concurrently at READ COMMITTED, each statement on its own snapshot of committed data.
// Why one lock rather than a visibility watermark (concurrent writers, readers held back to
// the lowest uncommitted seq): it keeps every existing rule correct without re-proving each
// read-then-write under concurrency, and a unit of work holds the lock only for its own
// statements; the CPU spent per field operation (validation, merge, figures) runs in each
// instance and is what scales with instances. More writers at once would need per-device or
// per-case locks for the read-then-write rules, sequence numbers from a sequence with a
// watermark for readers, and an audit chain per instance anchored to a common one.
//
// Failures: a lost connection, a serialization failure (40001), a deadlock (40P01), an
// administrator or crash shutdown or a server not accepting connections yet (class 08,
// 57P01..57P03, 53300) are Errc::unavailable, retryable (HTTP 503 with Retry-After). A wait for
// the writer lock beyond `lock_timeout` is Errc::busy. A transaction is retried automatically
// only when nothing of it has run (its connection failed before or at BEGIN); otherwise the
// error is returned. Text may not hold NUL characters (PostgreSQL refuses them):
// Errc::invalid_argument.
//
// Schema: the migrations/NNNN_*.sql files embedded at build time, with the SQLite store's
// version numbers (one number, one schema), recorded in table fieldcase_schema. migrate()
// applies the pending ones under a session advisory lock, so instances starting together
// migrate once. Opening refuses a schema newer than this build's.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "fieldcase/server/server_store.hpp"

namespace fieldcase::server {

struct PostgresOptions {
  std::string conninfo;  // a libpq URI (postgresql://...) or keyword string (host=... dbname=...)
  std::size_t pool_size = 4;                    // connections at most
  std::chrono::milliseconds lock_timeout{5000};  // waiting for the writer lock: then busy
  std::chrono::milliseconds lease_timeout{10000};  // waiting for a free connection: then busy
  std::chrono::seconds connect_timeout{5};
  bool migrate = true;  // apply pending migrations at open; false: an older schema is refused
};

// The schema versions before and after a migration.
struct SchemaMigration {
  int before = 0;
  int after = 0;
};

class PostgresServerStore final : public ServerStore {
 public:
  // Connects (checking the server is reachable), migrates if asked and checks the schema.
  static Result<std::unique_ptr<PostgresServerStore>> open(const PostgresOptions& options);
  // Applies the pending migrations under the migration lock.
  static Result<SchemaMigration> migrate(const PostgresOptions& options);
  // The schema version this build creates (its newest migration).
  static int latest_schema_version();
  // The database's schema version (0 before the first migration).
  Result<int> schema_version();
  ~PostgresServerStore() override;
  PostgresServerStore(const PostgresServerStore&) = delete;
  PostgresServerStore& operator=(const PostgresServerStore&) = delete;

  Status transaction(const std::function<Status()>& fn) override;

  Status insert_authority(const Authority& authority) override;
  Result<std::optional<Authority>> find_authority() override;
  Status insert_area(const Area& area) override;
  Result<std::optional<Area>> find_area(std::string_view id) override;
  Status insert_team(const Team& team) override;
  Result<std::optional<Team>> find_team(std::string_view id) override;
  Result<std::vector<Area>> list_areas() override;
  Result<std::vector<Team>> list_teams() override;
  Status insert_worker(const Worker& worker) override;
  Result<std::optional<Worker>> find_worker(std::string_view id) override;
  Result<std::vector<Worker>> list_workers() override;
  Status set_worker_active(std::string_view id, bool active) override;
  Status set_worker_role(std::string_view id, Role role) override;
  Result<WorkerCredentials> find_credentials(std::string_view worker_id) override;
  Status put_credentials(std::string_view worker_id, const WorkerCredentials& c) override;
  Result<std::optional<SignInAttempt>> begin_sign_in(std::string_view worker_id,
                                                     std::string_view now, std::int64_t limit,
                                                     std::string_view lock_until) override;
  Result<bool> end_sign_in(std::string_view worker_id, std::int64_t number,
                           std::string_view now) override;

  Status insert_role_grant(const RoleGrant& grant) override;
  Result<std::optional<RoleGrant>> find_role_grant(std::string_view id) override;
  Result<std::optional<RoleGrant>> pending_role_grant(std::string_view worker_id) override;
  Result<std::vector<RoleGrant>> pending_role_grants() override;
  Status decide_role_grant(const RoleGrant& grant) override;
  Status insert_enrollment(const EnrollmentCode& code) override;
  Result<std::optional<EnrollmentCode>> find_enrollment(std::string_view lookup) override;
  Status update_enrollment(const EnrollmentCode& code) override;
  Result<std::int64_t> enrollment_failures(std::string_view source,
                                           std::int64_t since_ms) override;
  Status add_enrollment_failure(std::string_view source, std::int64_t at_ms,
                                std::int64_t forget_before_ms) override;
  Status insert_session(const WebSession& session) override;
  Result<std::optional<WebSession>> find_session(std::string_view id_hash) override;
  Status touch_session(std::string_view id_hash, std::string_view last_seen_at) override;
  Status delete_session(std::string_view id_hash) override;
  Status delete_sessions_of(std::string_view worker_id) override;

  Status insert_device(const Device& device, std::string_view token_hash) override;
  Result<std::optional<Device>> find_device(std::string_view id) override;
  Result<std::optional<Device>> find_device_by_token_hash(std::string_view hash) override;
  Result<std::vector<Device>> list_devices() override;
  Status update_device(const Device& device) override;

  Result<std::int64_t> reserve_seqs(std::int64_t n) override;
  Result<std::int64_t> head() override;
  Status put_allocation(const Allocation& allocation, std::string_view previous_worker_id) override;
  Result<std::optional<Allocation>> find_allocation(std::string_view case_id) override;
  Result<std::vector<Allocation>> allocations_after(std::int64_t seq, std::size_t limit) override;
  Result<std::string> previous_worker(std::string_view case_id) override;
  Result<std::set<std::string>> visible_cases(const Worker& viewer) override;

  Result<std::optional<StoredRecord>> find_record(std::string_view id) override;
  Result<std::vector<StoredRecord>> find_records(std::span<const std::string> ids) override;
  Status put_records(std::span<const StoredRecord* const> records) override;
  Status put_fields(std::span<const FieldWrite> fields) override;
  Status put_record(const StoredRecord& record) override;
  Status put_field(std::string_view record_id, std::string_view name,
                   const FieldState& state) override;
  Result<std::vector<StoredRecord>> case_records(std::string_view case_id) override;

  Status append_log(const LogEntry& entry) override;
  Status append_log_entries(std::span<const LogEntry> entries) override;
  Result<LogPage> log_after(const Worker& viewer, std::int64_t cursor, std::size_t max_entries,
                            std::size_t max_bytes) override;

  Result<std::optional<TxOutcome>> find_tx(std::string_view tx_id) override;
  Status put_tx(const TxOutcome& outcome) override;
  Result<bool> op_applied(std::string_view op_id) override;
  Status put_op(std::string_view op_id, std::string_view tx_id) override;
  Result<std::set<std::string>> applied_ops(std::span<const std::string> op_ids) override;
  Status put_ops(std::span<const std::string> op_ids, std::string_view tx_id) override;

  Status insert_conflict(const StoredConflict& conflict) override;
  Status resolve_conflicts(std::string_view record_id, std::string_view field, std::int64_t seq,
                           std::string_view at) override;
  Result<std::vector<StoredConflict>> conflicts_for(const Worker& viewer,
                                                    std::int64_t cursor) override;

  Result<std::map<std::string, HeldState>> device_cases(std::string_view device_id) override;
  Status put_device_case(std::string_view device_id, std::string_view case_id,
                         HeldState state) override;

  Status put_claimed_time(const ClaimedTime& claim) override;
  Status delete_claimed_time(std::string_view record_id, std::string_view field) override;
  Result<std::optional<ClaimedTime>> find_claimed_time(std::string_view record_id,
                                                       std::string_view field) override;

  Result<CaseFigureInputs> case_figure_inputs(std::string_view case_id,
                                              const FigureInputSelection& select) override;
  Status each_case_figure_inputs(const FigureInputSelection& select,
                                 const std::function<Status(CaseFigureInputs&)>& fn) override;
  Result<std::vector<FigureFact>> case_figure_facts(std::string_view case_id,
                                                    std::string_view indicator) override;
  Status replace_figure_facts(std::string_view case_id,
                              const std::set<std::string, std::less<>>& indicators,
                              const std::set<std::string, std::less<>>& records,
                              const std::vector<FigureFact>& facts) override;
  Status rebuild_figure_facts(const std::function<Status(const FigureFactSink&)>& fill) override;
  Result<std::vector<FigureFact>> figure_facts(std::string_view indicator) override;
  Result<std::vector<AttributedFact>> attributed_figure_facts(std::string_view indicator) override;
  Result<std::vector<AttributedFact>> attributed_case_figure_facts(
      std::string_view case_id) override;
  Status clear_figure_facts() override;
  Result<std::vector<std::string>> case_ids() override;

  Status append_audit(const AuditEvent& event) override;
  Result<std::vector<AuditEvent>> audit_events(std::string_view event) override;
  Result<std::vector<AuditEvent>> query_audit(const AuditQuery& query) override;
  Result<AuditVerification> verify_audit() override;

  Status append_figure_change(std::string_view case_id) override;
  Result<std::int64_t> figure_change_head() override;
  Result<FigureChangePage> figure_changes_after(std::int64_t cursor, std::size_t limit) override;
  Status prune_figure_changes(std::int64_t before_ms) override;

  Result<WindowCount> count_request(std::string_view key, std::int64_t window_start_ms) override;
  Status forget_request_windows(std::int64_t before_ms) override;

  struct Impl;

 private:
  explicit PostgresServerStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `conninfo` with any password removed, for messages and logs.
std::string redact_conninfo(std::string_view conninfo);

}  // namespace fieldcase::server
