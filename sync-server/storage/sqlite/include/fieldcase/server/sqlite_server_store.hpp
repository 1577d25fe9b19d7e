// ServerStore on the embedded SQLite database (fieldcase::Store in plain mode).
//
// The database runs in WAL mode with synchronous=FULL, so every committed transaction is on
// disk before transaction() returns and a sync answer is only sent for durable work. The
// schema is created and upgraded with Store::migrate from the migrations/NNNN_*.sql files
// embedded at build time (the PostgreSQL store's have the same version numbers); statements the
// dialects share are in storage/sql/statements.hpp. Every outermost transaction begins
// IMMEDIATE: other processes (the admin commands) may use the same file at the same time and
// SQLite's locking serialises writers.
//
// One connection; NOT thread-safe: use from one thread at a time (SyncService holds a mutex).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>

#include "fieldcase/server/server_store.hpp"
#include "fieldcase/store.hpp"

namespace fieldcase::server {

class SqliteServerStore final : public ServerStore {
 public:
  // Opens (creating if needed) and migrates the database at `path`; a schema newer than this
  // build's is Errc::schema.
  static Result<std::unique_ptr<SqliteServerStore>> open(const std::filesystem::path& path);
  // The schema version this build creates (its newest migration).
  static int latest_schema_version();
  Result<int> schema_version();
  ~SqliteServerStore() override;

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
  Status put_record(const StoredRecord& record) override;
  Status put_field(std::string_view record_id, std::string_view name,
                   const FieldState& state) override;
  Result<std::vector<StoredRecord>> case_records(std::string_view case_id) override;

  Status append_log(const LogEntry& entry) override;
  Result<LogPage> log_after(const Worker& viewer, std::int64_t cursor, std::size_t max_entries,
                            std::size_t max_bytes) override;

  Result<std::optional<TxOutcome>> find_tx(std::string_view tx_id) override;
  Status put_tx(const TxOutcome& outcome) override;
  Result<bool> op_applied(std::string_view op_id) override;
  Status put_op(std::string_view op_id, std::string_view tx_id) override;

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

  // The underlying connection, for tests and read-only reports.
  Store& store() { return *store_; }

 private:
  explicit SqliteServerStore(std::unique_ptr<Store> store);
  // A prepared statement for `sql`, reset and ready to bind; kept for reuse.
  Result<Statement*> stmt(const std::string& sql);
  Status insert_figure_facts(const std::vector<FigureFact>& facts);
  Result<std::vector<StoredRecord>> load_records(const std::string& where_sql,
                                                 std::string_view arg);

  std::unique_ptr<Store> store_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
};

}  // namespace fieldcase::server
