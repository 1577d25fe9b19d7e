// The sync server's storage, behind a small domain-level interface.
//
// Everything the server keeps lives behind ServerStore: the organisation (authority, areas,
// teams, workers), devices and their token hashes and clock estimates, case allocations, the
// current records with a stamp per field, the server-ordered change log, transaction outcomes
// (for idempotent retries), conflicts, what each device may hold, the claimed times with their
// plausibility flags, and an audit trail. SqliteServerStore is the embedded implementation; a
// PostgreSQL one must implement the same contract, including the scope rule below.
//
// Scope rule (visible_cases, log_after, conflicts_for), the read rows of the permission matrix
// (permissions.hpp): a worker sees the cases allocated to them; a team_manager also every case
// allocated to a worker of their team; an area_manager every case allocated to a worker of a
// team in their team's area; a service_lead every allocated case; an administrator none. A
// contact_centre worker sees their own allocations, and of them only child, contact and
// referral records (log_after and conflicts_for leave the other kinds out).
//
// Sequence numbers: one counter orders the change log and allocation events; reserve_seqs()
// hands out consecutive numbers inside the caller's transaction, so commit order is seq order.
//
// Thread-safety: an implementation is one connection and is NOT thread-safe; the caller
// (SyncService, Admin) serialises access. Every method must be called inside transaction()
// when it is part of a larger change; transaction() commits durably before it returns.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/record.hpp"
#include "fieldcase/status.hpp"
#include "fieldcase/sync_protocol.hpp"

namespace fieldcase::server {

struct Authority {
  std::string id;
  std::string name;
  std::string la_code;
  std::string created_at;
};

struct Area {
  std::string id;
  std::string name;
  std::string authority_id;
  std::string created_at;
};

struct Team {
  std::string id;
  std::string name;
  std::string area_id;
  std::string created_at;
};

struct Worker {
  std::string id;
  std::string name;
  Role role = Role::social_worker;
  std::string team_id;  // empty when the worker belongs to no team
  bool active = true;
  std::string created_at;
};

// active: syncs normally. revoked (lost or stolen): every request is refused with a wipe
// instruction. retiring (staff leaving): syncs normally and every answer carries a wipe
// instruction; it becomes retired at its first request with no transactions left to send.
// retired: refused like a revoked device.
enum class DeviceStatus : std::uint8_t { active, revoked, retiring, retired };
std::string_view to_string(DeviceStatus status) noexcept;
std::optional<DeviceStatus> parse_device_status(std::string_view text) noexcept;

// One clock observation: device time minus server receipt time, in milliseconds.
struct ClockSample {
  std::int64_t receipt_ms = 0;  // server receipt time, Unix milliseconds
  std::int64_t offset_ms = 0;   // device clock minus server clock as observed
};

struct Device {
  std::string id;
  std::string worker_id;
  std::string name;  // what the worker called it at enrollment; empty for issued tokens
  DeviceStatus status = DeviceStatus::active;
  std::string created_at;
  std::string revoked_at;                       // when it was revoked or retired; empty otherwise
  std::string last_sync_at;                     // empty before the first sync
  std::vector<ClockSample> clock_samples;       // oldest first
  std::optional<std::int64_t> clock_offset_ms;  // the running estimate (device minus server)
};

struct Allocation {
  std::string case_id;
  std::string worker_id;
  std::int64_t seq = 0;  // the server sequence number of the allocation event
  std::string allocated_at;
};

// A field's current value with the stamp and author of the change that set it. A cleared field
// keeps its state with a null value, so its stamp still orders later changes.
struct FieldState {
  Value value;
  std::string hlc;
  std::string author;  // worker id, or "server" for server-maintained values
};

struct StoredRecord {
  std::string id;
  RecordKind kind = RecordKind::child;
  std::string case_id;  // a child's case is its own id
  std::map<std::string, FieldState, std::less<>> fields;
  std::string created_at;
  std::string created_by;
  std::string created_hlc;
  std::string updated_at;
  std::string updated_by;
  bool deleted = false;
  std::string deleted_hlc;

  // The record as validate_record() sees it: cleared fields are absent.
  Record to_record() const;
};

// One entry of the server-ordered log: a change that became the server's current state.
// Replaying the log in seq order reproduces the server's records.
struct LogEntry {
  std::int64_t seq = 0;
  std::string op_id;  // the device operation it came from; empty for server-authored entries
  std::string tx_id;  // empty for server-authored entries
  FieldChange::Op op = FieldChange::Op::set;
  std::string record_id;
  RecordKind kind = RecordKind::child;
  std::string case_id;
  std::string field;  // set only
  Value value;        // set only
  std::string hlc;
  std::string author;     // worker id, or "server"
  std::string device_id;  // empty for server-authored entries
  std::string at;         // the device's wall time of the change (server time if authored here)
  std::string received_at;
};

struct LogPage {
  std::vector<LogEntry> entries;
  bool more = false;
};

// What the server answered for a transaction, kept so a retry gets the same answer.
struct TxOutcome {
  std::string tx_id;
  std::string device_id;
  bool accepted = false;
  std::string code;    // rejections only
  std::string reason;  // rejections only
  std::int64_t op_count = 0;
  std::string device_time;  // the request's device_time
  std::string received_at;  // server receipt time
};

struct StoredConflict {
  sync::Conflict conflict;  // conflict.resolved mirrors resolved_seq
  std::string lost_device;
  std::int64_t detected_seq = 0;  // the log head when the conflict was recorded
  std::string detected_at;
  std::int64_t resolved_seq = 0;  // 0 while open
  std::string resolved_at;
};

// A completion, authorisation or visit time claimed by a device, as figures will read it.
struct ClaimedTime {
  std::string record_id;
  std::string field;
  std::string case_id;
  RecordKind kind = RecordKind::assessment;
  std::string claimed;      // as the device wrote it
  std::string corrected;    // claimed minus the device's estimated clock offset
  std::string received_at;  // server receipt time of the transaction
  std::int64_t offset_ms = 0;
  std::string device_id;
  std::string worker_id;
  std::string tx_id;
  bool after_receipt = false;  // corrected claim later than receipt
  bool before_start = false;   // corrected claim earlier than the work it belongs to started
  bool large_offset = false;   // |offset| beyond the configured threshold
};

// One record's raw events for one indicator (figures.hpp derives them; the store keeps them).
// Dates are "YYYY-MM-DD" or ISO datetimes as the record holds them; empty when absent.
struct FigureFact {
  std::string indicator;
  std::string record_id;
  std::string case_id;
  std::string start;
  std::string end;
  std::string end_received_at;  // when the server received the end event, if known
  std::string detail;           // indicator-specific (the visit type of a recording delay)
  bool hit = false;             // proportion and count measures: counted in the numerator
  std::string flags;            // data-quality flags, comma separated, sorted

  friend bool operator==(const FigureFact&, const FigureFact&) = default;
};

// What figures read of the records: those of `kinds` and those named in `records` (every
// record when both are empty), each with only the fields named in `fields` (every field when
// empty), and the claimed times of those fields. Deleted records are included (with the
// selected fields they still hold).
struct FigureInputSelection {
  std::set<RecordKind> kinds;
  std::set<std::string, std::less<>> records;
  std::set<std::string, std::less<>> fields;
};

// One case's records as a FigureInputSelection selects them, in id order, and their claimed
// times. Records carry id, kind, case_id, deleted and the selected fields only.
struct CaseFigureInputs {
  std::string case_id;
  std::vector<StoredRecord> records;
  std::vector<ClaimedTime> claims;
};

// A figure fact with the current attribution of its case (see figures.hpp, "Attribution").
struct AttributedFact {
  FigureFact fact;
  std::string worker;  // the case's current allocation; empty when unallocated
  std::string team;    // that worker's team, and the team's area
  std::string area;
};

// Whether a device may still hold a case: held until it acknowledges a purge instruction.
enum class HeldState : std::uint8_t { held, purged };

struct AuditEvent {
  std::string id;
  std::string at;
  std::string event;  // the action, e.g. "case_read", "case_write", "sign_in", "enroll",
                      // "permission_refused", "out_of_scope", "allocate", "device_revoke"
  std::string device_id;
  std::string worker_id;  // the user who acted (or whom an administrative action concerns)
  std::string case_id;
  std::string tx_id;
  std::string detail;          // never case data, passwords, codes or tokens
  std::string record_id{};     // the record read or written, when the entry is about one
  std::string outcome = "ok";  // "ok", "refused" or "failed"
  std::string relation{};      // for case access: own, team, area or other (see permissions.hpp)
  // Kept by the store: the entry's position in the chain and its hashes (lower-case hex).
  std::int64_t seq = 0;
  std::string prev_hash{};
  std::string hash{};
};

// What an audit query selects; empty fields match everything.
struct AuditQuery {
  std::string case_id;
  std::string worker_id;
  std::string device_id;
  std::string event;
  // Only reads and writes of case data to cases not allocated to the person at the time.
  bool not_allocated = false;
  std::size_t limit = 1000;
};

// The result of checking the audit chain from its first entry.
struct AuditVerification {
  bool intact = true;
  std::int64_t entries = 0;
  std::int64_t first_bad_seq = 0;  // where the chain breaks (0 when intact)
  std::string problem;             // what is wrong there
  std::string head_hash;           // the hash of the last entry: keep a copy outside the server
};

// A worker's web sign-in state. The password is only ever kept as an Argon2id string.
struct WorkerCredentials {
  std::string password_hash;  // crypto_pwhash_str output; empty: no web sign-in
  std::int64_t failed_signins = 0;
  std::string locked_until;  // ISO time; empty when not locked
};

// One sign-in attempt, counted before its password is checked (ServerStore::begin_sign_in).
struct SignInAttempt {
  // The attempts counted since the last success or the end of the last lock, this one
  // included; the attempt whose number reaches the limit locked the account.
  std::int64_t number = 0;
  std::string password_hash;  // the worker's, to check this attempt against
};

// A one-time enrollment code. The code is never stored: `lookup` is the keyed hash of its first
// group (to count attempts per code) and `code_hash` the keyed hash of the whole normalised
// code, both keyed with the server secret (stored_enrollment_code).
struct EnrollmentCode {
  std::string id;
  std::string lookup;
  std::string code_hash;
  std::string worker_id;
  std::string created_at;
  std::string expires_at;
  std::string used_at;    // empty until used
  std::string device_id;  // the device it enrolled
  std::int64_t failed_attempts = 0;
};

// A role that reaches case data, granted over the web and waiting for a second person
// (admin.hpp, "Separation of duties"). At most one grant per worker is pending.
struct RoleGrant {
  std::string id;
  std::string worker_id;  // whom it concerns
  Role role = Role::social_worker;
  std::string from_role;     // the worker's role when asked; empty when the grant creates them
  std::string requested_by;  // the administrator who asked
  std::string requested_at;
  std::string state = "pending";  // "pending", "approved" or "refused"
  std::string decided_by;         // the approver's worker id, or "console"
  std::string decided_at;
};

// A web session; the session id itself is never stored, only its hash.
struct WebSession {
  std::string id_hash;
  std::string worker_id;
  std::string created_at;
  std::string last_seen_at;
  std::string expires_at;  // the absolute expiry
};

class ServerStore {
 public:
  virtual ~ServerStore() = default;

  // Runs fn atomically (a savepoint when nested): commits if it returns ok, rolls back
  // otherwise. An outermost commit is durable (fsynced) before this returns.
  virtual Status transaction(const std::function<Status()>& fn) = 0;

  // --- Organisation ---
  virtual Status insert_authority(const Authority& authority) = 0;
  virtual Result<std::optional<Authority>> find_authority() = 0;  // there is at most one
  virtual Status insert_area(const Area& area) = 0;
  virtual Result<std::optional<Area>> find_area(std::string_view id) = 0;
  virtual Status insert_team(const Team& team) = 0;
  virtual Result<std::optional<Team>> find_team(std::string_view id) = 0;
  // Every area and every team of the authority, by name.
  virtual Result<std::vector<Area>> list_areas() = 0;
  virtual Result<std::vector<Team>> list_teams() = 0;
  virtual Status insert_worker(const Worker& worker) = 0;
  virtual Result<std::optional<Worker>> find_worker(std::string_view id) = 0;
  virtual Result<std::vector<Worker>> list_workers() = 0;
  virtual Status set_worker_active(std::string_view id, bool active) = 0;
  virtual Status set_worker_role(std::string_view id, Role role) = 0;
  virtual Result<WorkerCredentials> find_credentials(std::string_view worker_id) = 0;
  // Stores the whole sign-in state of an existing worker.
  virtual Status put_credentials(std::string_view worker_id, const WorkerCredentials& c) = 0;
  // Counts a sign-in attempt of the worker before its password is checked, in one atomic
  // statement (so concurrent attempts, in this process or another on the same database, are
  // all counted): nullopt, nothing counted, when the worker does not exist or is locked at
  // `now`. A lock that has run out ends and the count starts again. The attempt whose number
  // reaches `limit` locks the account until `lock_until`. Times are ISO (format_iso_datetime).
  virtual Result<std::optional<SignInAttempt>> begin_sign_in(std::string_view worker_id,
                                                             std::string_view now,
                                                             std::int64_t limit,
                                                             std::string_view lock_until) = 0;
  // Ends attempt `number` as a success, in one atomic statement: clears the count and the lock,
  // unless the account is locked at `now` by an attempt counted after this one (then false,
  // and nothing changes: the sign-in must be refused).
  virtual Result<bool> end_sign_in(std::string_view worker_id, std::int64_t number,
                                   std::string_view now) = 0;

  // --- Role grants awaiting a second person ---
  virtual Status insert_role_grant(const RoleGrant& grant) = 0;
  virtual Result<std::optional<RoleGrant>> find_role_grant(std::string_view id) = 0;
  // The worker's pending grant, if any.
  virtual Result<std::optional<RoleGrant>> pending_role_grant(std::string_view worker_id) = 0;
  // The pending grants, oldest first.
  virtual Result<std::vector<RoleGrant>> pending_role_grants() = 0;
  // Decides a pending grant: stores state, decided_by and decided_at (not_found when the
  // grant is not pending).
  virtual Status decide_role_grant(const RoleGrant& grant) = 0;

  // --- Enrollment codes and web sessions ---
  virtual Status insert_enrollment(const EnrollmentCode& code) = 0;
  // The unused or used code whose first group is `lookup` (newest first), or nullopt.
  virtual Result<std::optional<EnrollmentCode>> find_enrollment(std::string_view lookup) = 0;
  // Stores used_at, device_id and failed_attempts.
  virtual Status update_enrollment(const EnrollmentCode& code) = 0;
  // How many enrollments from the network address `source` failed at or after `since_ms`.
  virtual Result<std::int64_t> enrollment_failures(std::string_view source,
                                                   std::int64_t since_ms) = 0;
  // Records a failed enrollment from `source` and forgets every one before `forget_before_ms`.
  virtual Status add_enrollment_failure(std::string_view source, std::int64_t at_ms,
                                        std::int64_t forget_before_ms) = 0;
  virtual Status insert_session(const WebSession& session) = 0;
  virtual Result<std::optional<WebSession>> find_session(std::string_view id_hash) = 0;
  virtual Status touch_session(std::string_view id_hash, std::string_view last_seen_at) = 0;
  virtual Status delete_session(std::string_view id_hash) = 0;
  // Ends every session of a worker (deactivation, password change).
  virtual Status delete_sessions_of(std::string_view worker_id) = 0;

  // --- Devices ---
  virtual Status insert_device(const Device& device, std::string_view token_hash) = 0;
  virtual Result<std::optional<Device>> find_device(std::string_view id) = 0;
  virtual Result<std::optional<Device>> find_device_by_token_hash(std::string_view hash) = 0;
  virtual Result<std::vector<Device>> list_devices() = 0;
  // Stores status, revoked_at, last_sync_at and the clock estimate.
  virtual Status update_device(const Device& device) = 0;

  // --- Sequence, allocation, scope ---
  // Reserves n consecutive sequence numbers and returns the first.
  virtual Result<std::int64_t> reserve_seqs(std::int64_t n) = 0;
  // The last sequence number handed out (0 on an empty server).
  virtual Result<std::int64_t> head() = 0;
  // Makes `allocation` the case's current allocation and records the event in its history.
  virtual Status put_allocation(const Allocation& allocation,
                                std::string_view previous_worker_id) = 0;
  virtual Result<std::optional<Allocation>> find_allocation(std::string_view case_id) = 0;
  // The worker the case was allocated to before its current allocation ("" if none).
  virtual Result<std::string> previous_worker(std::string_view case_id) = 0;
  // The allocation events after sequence number `seq`, oldest first, at most `limit` (how
  // the figures follow reallocations made by any process, the admin commands included).
  virtual Result<std::vector<Allocation>> allocations_after(std::int64_t seq,
                                                            std::size_t limit) = 0;
  virtual Result<std::set<std::string>> visible_cases(const Worker& viewer) = 0;

  // --- Records ---
  // The record with every field state, deleted or not.
  virtual Result<std::optional<StoredRecord>> find_record(std::string_view id) = 0;
  // Inserts or updates the record's own columns (not its fields).
  virtual Status put_record(const StoredRecord& record) = 0;
  virtual Status put_field(std::string_view record_id, std::string_view name,
                           const FieldState& state) = 0;
  // Every record of a case, deleted ones included, in id order.
  virtual Result<std::vector<StoredRecord>> case_records(std::string_view case_id) = 0;

  // --- The server-ordered log ---
  virtual Status append_log(const LogEntry& entry) = 0;  // entry.seq from reserve_seqs()
  // Entries with seq > cursor on cases visible to `viewer`, in seq order: at most
  // `max_entries`, and no more once the values read reach `max_bytes` (at least one entry is
  // always returned when there is one). `more` tells whether visible entries remain.
  virtual Result<LogPage> log_after(const Worker& viewer, std::int64_t cursor,
                                    std::size_t max_entries, std::size_t max_bytes) = 0;

  // --- Idempotency ---
  virtual Result<std::optional<TxOutcome>> find_tx(std::string_view tx_id) = 0;
  virtual Status put_tx(const TxOutcome& outcome) = 0;
  virtual Result<bool> op_applied(std::string_view op_id) = 0;
  virtual Status put_op(std::string_view op_id, std::string_view tx_id) = 0;

  // --- Conflicts ---
  virtual Status insert_conflict(const StoredConflict& conflict) = 0;
  // Marks every open conflict on the field resolved by the log entry `seq`.
  virtual Status resolve_conflicts(std::string_view record_id, std::string_view field,
                                   std::int64_t seq, std::string_view at) = 0;
  // Open conflicts on cases visible to `viewer`, plus those resolved after `cursor` (so a
  // device that holds them as open learns they were resolved).
  virtual Result<std::vector<StoredConflict>> conflicts_for(const Worker& viewer,
                                                            std::int64_t cursor) = 0;

  // --- What each device may hold ---
  virtual Result<std::map<std::string, HeldState>> device_cases(std::string_view device_id) = 0;
  virtual Status put_device_case(std::string_view device_id, std::string_view case_id,
                                 HeldState state) = 0;

  // --- Claimed times ---
  virtual Status put_claimed_time(const ClaimedTime& claim) = 0;
  virtual Status delete_claimed_time(std::string_view record_id, std::string_view field) = 0;
  virtual Result<std::optional<ClaimedTime>> find_claimed_time(std::string_view record_id,
                                                               std::string_view field) = 0;

  // --- Figure facts ---
  // What figures derive one case's facts from, in one read of its records, fields and claims.
  virtual Result<CaseFigureInputs> case_figure_inputs(std::string_view case_id,
                                                      const FigureInputSelection& select) = 0;
  // The same for every case with records, case by case in case id order, read in a few
  // ordered scans (a recomputation streams through them); `select.records` must be empty.
  // `fn` may write figure facts.
  virtual Status each_case_figure_inputs(const FigureInputSelection& select,
                                         const std::function<Status(CaseFigureInputs&)>& fn) = 0;
  // The facts of one indicator of one case, by record id.
  virtual Result<std::vector<FigureFact>> case_figure_facts(std::string_view case_id,
                                                            std::string_view indicator) = 0;
  // Replaces the case's facts of `indicators` (every indicator when empty) with `facts`,
  // writing only the facts that changed; when `records` is not empty, only the facts of
  // those records (and `indicators` must name the indicators).
  virtual Status replace_figure_facts(std::string_view case_id,
                                      const std::set<std::string, std::less<>>& indicators,
                                      const std::set<std::string, std::less<>>& records,
                                      const std::vector<FigureFact>& facts) = 0;
  // Replaces every fact with those `fill` hands, batch by batch, to the function it is given
  // (a recomputation; call inside a transaction). The facts' index by case is built once at
  // the end rather than kept up to date row by row.
  using FigureFactSink = std::function<Status(const std::vector<FigureFact>&)>;
  virtual Status rebuild_figure_facts(const std::function<Status(const FigureFactSink&)>& fill) = 0;
  // The facts of one indicator (every fact when empty), by indicator then record id.
  virtual Result<std::vector<FigureFact>> figure_facts(std::string_view indicator) = 0;
  // The same, each with the worker its case is allocated to now and that worker's team and
  // area (empty when unallocated), read in one pass (figures attribute by these).
  virtual Result<std::vector<AttributedFact>> attributed_figure_facts(
      std::string_view indicator) = 0;
  // Every indicator's facts of one case, attributed likewise, by indicator then record id.
  virtual Result<std::vector<AttributedFact>> attributed_case_figure_facts(
      std::string_view case_id) = 0;
  virtual Status clear_figure_facts() = 0;
  // The distinct case ids of all records (deleted ones included), in order.
  virtual Result<std::vector<std::string>> case_ids() = 0;

  // --- Audit ---
  // The single way into the audit log. Appends the entry at the end of the hash chain:
  // seq is the next number, prev_hash the previous entry's hash (64 zeros for the first) and
  // hash = BLAKE2b-256(prev_hash || canonical bytes of the entry). Runs in its own savepoint,
  // so concurrent writers (other connections, the admin commands) cannot fork the chain.
  virtual Status append_audit(const AuditEvent& event) = 0;
  virtual Result<std::vector<AuditEvent>> audit_events(std::string_view event) = 0;
  // Matching entries, oldest first, at most query.limit.
  virtual Result<std::vector<AuditEvent>> query_audit(const AuditQuery& query) = 0;
  // Recomputes every hash from the first entry; reports the first break (an edited, deleted
  // or inserted row) and whether the last entry is still the recorded head.
  virtual Result<AuditVerification> verify_audit() = 0;
};

}  // namespace fieldcase::server
