// The SQL text the SQLite and PostgreSQL stores share: every statement on which the dialects
// agree, written once with ?N placeholders (the PostgreSQL store turns them into $N), and the
// builders of the statements that differ only by planner hints. Constant data and pure
// functions; thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fieldcase/record.hpp"
#include "fieldcase/server/server_store.hpp"

namespace fieldcase::server::storage {

// Which store a builder writes for: the SQLite text carries SQLite's planner hints (a unary
// `+` keeps a column off an index), which PostgreSQL does not accept.
enum class Dialect { sqlite, postgres };

// `column` as an expression the SQLite planner does not use an index for.
inline std::string unindexed(Dialect d, std::string_view column) {
  return (d == Dialect::sqlite ? "+" : "") + std::string(column);
}

namespace sql {

// --- Organisation
inline constexpr const char* kInsertAuthority =
    "INSERT INTO authority(id, name, la_code, created_at) VALUES (?1, ?2, ?3, ?4)";
inline constexpr const char* kFindAuthority =
    "SELECT id, name, la_code, created_at FROM authority ORDER BY id LIMIT 1";
inline constexpr const char* kInsertArea =
    "INSERT INTO area(id, name, authority_id, created_at) VALUES (?1, ?2, ?3, ?4)";
inline constexpr const char* kFindArea =
    "SELECT id, name, authority_id, created_at FROM area WHERE id = ?1";
inline constexpr const char* kListAreas =
    "SELECT id, name, authority_id, created_at FROM area ORDER BY name, id";
inline constexpr const char* kInsertTeam =
    "INSERT INTO team(id, name, area_id, created_at) VALUES (?1, ?2, ?3, ?4)";
inline constexpr const char* kFindTeam =
    "SELECT id, name, area_id, created_at FROM team WHERE id = ?1";
inline constexpr const char* kListTeams =
    "SELECT id, name, area_id, created_at FROM team ORDER BY name, id";
inline constexpr const char* kInsertWorker =
    "INSERT INTO worker(id, name, role, team_id, active, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline constexpr const char* kFindWorker =
    "SELECT id, name, role, team_id, active, created_at FROM worker WHERE id = ?1";
inline constexpr const char* kListWorkers =
    "SELECT id, name, role, team_id, active, created_at FROM worker ORDER BY id";
inline constexpr const char* kSetWorkerActive = "UPDATE worker SET active = ?2 WHERE id = ?1";
inline constexpr const char* kSetWorkerRole = "UPDATE worker SET role = ?2 WHERE id = ?1";
inline constexpr const char* kFindCredentials =
    "SELECT password_hash, failed_signins, locked_until FROM worker WHERE id = ?1";
inline constexpr const char* kPutCredentials =
    "UPDATE worker SET password_hash = ?2, failed_signins = ?3, locked_until = ?4 WHERE id = ?1";
// The count and the lock change in the statement that reads them, so no other attempt (on
// this connection or another) can come between: both dialects evaluate every SET expression on
// the row as it was, and PostgreSQL re-reads a row another transaction changed meanwhile.
// ISO times of one fixed width compare as text.
inline constexpr const char* kBeginSignIn =
    "UPDATE worker SET "
    "failed_signins = CASE WHEN locked_until <> '' THEN 1 ELSE failed_signins + 1 END, "
    "locked_until = CASE WHEN (CASE WHEN locked_until <> '' THEN 1 ELSE failed_signins + 1 END)"
    " >= ?3 THEN ?4 ELSE '' END "
    "WHERE id = ?1 AND (locked_until = '' OR locked_until <= ?2) "
    "RETURNING failed_signins, password_hash";
// Locked by this very attempt (its number is the last counted: none is counted while locked),
// or not locked: the attempt may succeed.
inline constexpr const char* kEndSignIn =
    "UPDATE worker SET failed_signins = 0, locked_until = '' WHERE id = ?1 AND "
    "(locked_until = '' OR locked_until <= ?2 OR failed_signins = ?3)";

// --- Role grants
inline constexpr const char* kRoleGrantColumns =
    "id, worker_id, role, from_role, requested_by, requested_at, state, decided_by, decided_at";
inline const std::string kInsertRoleGrant = std::string("INSERT INTO role_grant(") +
                                            kRoleGrantColumns +
                                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
inline const std::string kFindRoleGrant =
    std::string("SELECT ") + kRoleGrantColumns + " FROM role_grant WHERE id = ?1";
inline const std::string kPendingRoleGrant = std::string("SELECT ") + kRoleGrantColumns +
                                             " FROM role_grant WHERE worker_id = ?1 AND "
                                             "state = 'pending'";
inline const std::string kPendingRoleGrants =
    std::string("SELECT ") + kRoleGrantColumns +
    " FROM role_grant WHERE state = 'pending' ORDER BY requested_at, id";
inline constexpr const char* kDecideRoleGrant =
    "UPDATE role_grant SET state = ?2, decided_by = ?3, decided_at = ?4 "
    "WHERE id = ?1 AND state = 'pending'";

// --- Enrollment codes, failed enrollments, web sessions
inline constexpr const char* kInsertEnrollment =
    "INSERT INTO enrollment_code(id, lookup, code_hash, worker_id, created_at, expires_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline constexpr const char* kFindEnrollment =
    "SELECT id, lookup, code_hash, worker_id, created_at, expires_at, used_at, device_id, "
    "failed_attempts FROM enrollment_code WHERE lookup = ?1 ORDER BY used_at = '' DESC, id DESC "
    "LIMIT 1";
inline constexpr const char* kUpdateEnrollment =
    "UPDATE enrollment_code SET used_at = ?2, device_id = ?3, failed_attempts = ?4 WHERE id = ?1";
inline constexpr const char* kEnrollmentFailures =
    "SELECT count(*) FROM enrollment_failure WHERE source = ?1 AND at_ms >= ?2";
inline constexpr const char* kForgetEnrollmentFailures =
    "DELETE FROM enrollment_failure WHERE at_ms < ?1";
inline constexpr const char* kAddEnrollmentFailure =
    "INSERT INTO enrollment_failure(source, at_ms) VALUES (?1, ?2)";
inline constexpr const char* kInsertSession =
    "INSERT INTO web_session(id_hash, worker_id, created_at, last_seen_at, expires_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
inline constexpr const char* kFindSession =
    "SELECT id_hash, worker_id, created_at, last_seen_at, expires_at FROM web_session "
    "WHERE id_hash = ?1";
inline constexpr const char* kTouchSession =
    "UPDATE web_session SET last_seen_at = ?2 WHERE id_hash = ?1";
inline constexpr const char* kDeleteSession = "DELETE FROM web_session WHERE id_hash = ?1";
inline constexpr const char* kDeleteSessionsOf = "DELETE FROM web_session WHERE worker_id = ?1";

// --- Devices
inline constexpr const char* kDeviceColumns =
    "id, worker_id, status, created_at, revoked_at, last_sync_at, clock_offset_ms, "
    "clock_samples, name";
inline constexpr const char* kInsertDevice =
    "INSERT INTO device(id, worker_id, token_hash, status, created_at, name) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline const std::string kFindDevice =
    std::string("SELECT ") + kDeviceColumns + " FROM device WHERE id = ?1";
inline const std::string kFindDeviceByToken =
    std::string("SELECT ") + kDeviceColumns + " FROM device WHERE token_hash = ?1";
inline const std::string kListDevices =
    std::string("SELECT ") + kDeviceColumns + " FROM device ORDER BY id";
inline constexpr const char* kUpdateDevice =
    "UPDATE device SET status = ?2, revoked_at = ?3, last_sync_at = ?4, clock_offset_ms = ?5, "
    "clock_samples = ?6 WHERE id = ?1";

// --- Sequence and allocation
inline constexpr const char* kHead = "SELECT value FROM server_seq WHERE id = 1";
inline constexpr const char* kPutAllocation =
    "INSERT INTO allocation(case_id, worker_id, seq, allocated_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(case_id) DO UPDATE SET worker_id = excluded.worker_id, seq = excluded.seq, "
    "allocated_at = excluded.allocated_at";
inline constexpr const char* kInsertAllocationHistory =
    "INSERT INTO allocation_history(seq, case_id, worker_id, previous_worker_id, allocated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
inline constexpr const char* kFindAllocation =
    "SELECT case_id, worker_id, seq, allocated_at FROM allocation WHERE case_id = ?1";
inline constexpr const char* kAllocationsAfter =
    "SELECT case_id, worker_id, seq, allocated_at FROM allocation_history WHERE seq > ?1 "
    "ORDER BY seq LIMIT ?2";
inline constexpr const char* kPreviousWorker =
    "SELECT h.previous_worker_id FROM allocation a JOIN allocation_history h ON h.seq = a.seq "
    "WHERE a.case_id = ?1";

// --- Records
inline constexpr const char* kRecordColumns =
    "id, kind, case_id, created_at, created_by, created_hlc, updated_at, updated_by, deleted, "
    "deleted_hlc";
// The records matching `where` (a condition on record's columns with the argument ?1), by id,
// and every field of those records.
inline std::string records_where(std::string_view where) {
  return std::string("SELECT ") + kRecordColumns + " FROM record WHERE " + std::string(where) +
         " ORDER BY id";
}
inline std::string fields_where(std::string_view where) {
  return "SELECT f.record_id, f.name, f.value, f.hlc, f.author FROM record r "
         "JOIN record_field f ON f.record_id = r.id WHERE r." +
         std::string(where);
}
// Inserting records and field states, and what an existing row takes from the new one (the
// rows come from VALUES here, or from arrays in one statement on PostgreSQL).
inline constexpr const char* kInsertRecord = "INSERT INTO record(id, kind, case_id, created_at, "
    "created_by, created_hlc, updated_at, updated_by, deleted, deleted_hlc) ";
inline constexpr const char* kRecordUpsert =
    " ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at, "
    "updated_by = excluded.updated_by, deleted = excluded.deleted, "
    "deleted_hlc = excluded.deleted_hlc";
inline const std::string kPutRecord = std::string(kInsertRecord) +
                                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)" +
                                      kRecordUpsert;
inline constexpr const char* kInsertField =
    "INSERT INTO record_field(record_id, name, value, hlc, author) ";
inline constexpr const char* kFieldUpsert =
    " ON CONFLICT(record_id, name) DO UPDATE SET value = excluded.value, hlc = excluded.hlc, "
    "author = excluded.author";
inline const std::string kPutField =
    std::string(kInsertField) + "VALUES (?1, ?2, ?3, ?4, ?5)" + kFieldUpsert;
inline constexpr const char* kCaseIds =
    "SELECT DISTINCT case_id FROM record WHERE case_id <> '' ORDER BY case_id";

// --- Log
inline constexpr const char* kLogColumns =
    "seq, op_id, tx_id, op, record_id, kind, case_id, field, value, hlc, author, device_id, at, "
    "received_at";
inline const std::string kAppendLog = std::string("INSERT INTO change_log(") + kLogColumns +
                                      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                                      "?12, ?13, ?14)";

// --- Idempotency
inline constexpr const char* kFindTx =
    "SELECT tx_id, device_id, outcome, code, reason, op_count, device_time, received_at "
    "FROM sync_transaction WHERE tx_id = ?1";
inline constexpr const char* kPutTx =
    "INSERT INTO sync_transaction(tx_id, device_id, outcome, code, reason, op_count, "
    "device_time, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
inline constexpr const char* kOpApplied = "SELECT 1 FROM applied_op WHERE op_id = ?1";
inline constexpr const char* kPutOp = "INSERT INTO applied_op(op_id, tx_id) VALUES (?1, ?2)";

// --- Conflicts
inline constexpr const char* kConflictColumns =
    "id, record_id, case_id, field, kept, kept_hlc, lost, lost_hlc, lost_author, lost_device, "
    "detected_seq, detected_at, resolved_seq, resolved_at";
inline const std::string kInsertConflict =
    std::string("INSERT INTO conflict(") + kConflictColumns +
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
inline constexpr const char* kResolveConflicts =
    "UPDATE conflict SET resolved_seq = ?3, resolved_at = ?4 "
    "WHERE record_id = ?1 AND field = ?2 AND resolved_seq = 0";

// --- Device holdings
inline constexpr const char* kDeviceCases =
    "SELECT case_id, state FROM device_case WHERE device_id = ?1";
inline constexpr const char* kPutDeviceCase =
    "INSERT INTO device_case(device_id, case_id, state) VALUES (?1, ?2, ?3) "
    "ON CONFLICT(device_id, case_id) DO UPDATE SET state = excluded.state";

// --- Claimed times
inline constexpr const char* kClaimColumns =
    "record_id, field, case_id, kind, claimed, corrected, received_at, offset_ms, device_id, "
    "worker_id, tx_id, after_receipt, before_start, large_offset";
inline const std::string kPutClaimedTime =
    std::string("INSERT INTO claimed_time(") + kClaimColumns +
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
    "ON CONFLICT(record_id, field) DO UPDATE SET claimed = excluded.claimed, "
    "corrected = excluded.corrected, received_at = excluded.received_at, "
    "offset_ms = excluded.offset_ms, device_id = excluded.device_id, "
    "worker_id = excluded.worker_id, tx_id = excluded.tx_id, "
    "after_receipt = excluded.after_receipt, before_start = excluded.before_start, "
    "large_offset = excluded.large_offset";
inline constexpr const char* kDeleteClaimedTime =
    "DELETE FROM claimed_time WHERE record_id = ?1 AND field = ?2";
inline const std::string kFindClaimedTime =
    std::string("SELECT ") + kClaimColumns + " FROM claimed_time WHERE record_id = ?1 AND field = ?2";

// --- Figure facts
inline constexpr const char* kFactColumns =
    "indicator, record_id, case_id, start_at, end_at, end_received_at, detail, hit, flags";
inline const std::string kInsertFact =
    std::string("INSERT INTO figure_fact(") + kFactColumns +
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
inline constexpr const char* kDeleteFact =
    "DELETE FROM figure_fact WHERE indicator = ?1 AND record_id = ?2";
inline constexpr const char* kClearFacts = "DELETE FROM figure_fact";
// Sorted by the caller: "ORDER BY record_id" led SQLite to read every fact of the indicator in
// key order instead of the case's through its index.
inline const std::string kCaseIndicatorFacts =
    std::string("SELECT ") + kFactColumns + " FROM figure_fact WHERE case_id = ?1 AND indicator = ?2";
inline const std::string kRecordFact =
    std::string("SELECT ") + kFactColumns +
    " FROM figure_fact WHERE indicator = ?1 AND record_id = ?2 AND case_id = ?3";
inline const std::string kCaseFacts =
    std::string("SELECT ") + kFactColumns + " FROM figure_fact WHERE case_id = ?1";
inline constexpr const char* kFactCaseIndex =
    "CREATE INDEX figure_fact_case_indicator ON figure_fact(case_id, indicator)";
inline constexpr const char* kDropFactCaseIndex = "DROP INDEX IF EXISTS figure_fact_case_indicator";
// A fact and its case's current allocation.
inline constexpr const char* kAttributedFacts =
    "SELECT f.indicator, f.record_id, f.case_id, f.start_at, f.end_at, f.end_received_at, "
    "f.detail, f.hit, f.flags, coalesce(a.worker_id, ''), coalesce(w.team_id, ''), "
    "coalesce(t.area_id, '') FROM figure_fact f LEFT JOIN allocation a ON a.case_id = f.case_id "
    "LEFT JOIN worker w ON w.id = a.worker_id LEFT JOIN team t ON t.id = w.team_id ";
// One statement per form: "indicator = ?1 OR ?1 = ''" kept SQLite off the primary key, so
// each indicator's query read every fact.
inline const std::string kAllAttributedFacts =
    std::string(kAttributedFacts) + "ORDER BY f.indicator, f.record_id";
inline const std::string kIndicatorAttributedFacts =
    std::string(kAttributedFacts) + "WHERE f.indicator = ?1 ORDER BY f.indicator, f.record_id";
inline const std::string kCaseAttributedFacts =
    std::string(kAttributedFacts) + "WHERE f.case_id = ?1 ORDER BY f.indicator, f.record_id";

// --- Audit
inline constexpr const char* kAuditColumns =
    "seq, id, at, event, outcome, worker_id, device_id, case_id, record_id, tx_id, relation, "
    "detail, prev_hash, hash";
inline const std::string kInsertAudit =
    std::string("INSERT INTO audit(") + kAuditColumns +
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
inline constexpr const char* kAuditHead = "SELECT seq, hash FROM audit_head WHERE id = 1";
inline constexpr const char* kInsertAuditHead =
    "INSERT INTO audit_head(id, seq, hash) VALUES (1, ?1, ?2)";
inline constexpr const char* kUpdateAuditHead =
    "UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1";
inline const std::string kQueryAudit =
    std::string("SELECT ") + kAuditColumns +
    " FROM audit WHERE (?1 = '' OR case_id = ?1) AND (?2 = '' OR worker_id = ?2) "
    "AND (?3 = '' OR device_id = ?3) AND (?4 = '' OR event = ?4) "
    "AND (?5 = 0 OR (event IN ('case_read', 'case_write') AND outcome = 'ok' "
    "AND relation NOT IN ('own', ''))) ORDER BY seq LIMIT ?6";
inline const std::string kAllAudit =
    std::string("SELECT ") + kAuditColumns + " FROM audit ORDER BY seq";
// Version 2 chains the entries of the version-1 log (renamed audit_v1), oldest first.
inline constexpr const char* kLegacyAudit =
    "SELECT id, at, event, device_id, worker_id, case_id, tx_id, detail FROM audit_v1 "
    "ORDER BY at, id";
inline constexpr const char* kDropLegacyAudit = "DROP TABLE audit_v1";

// --- Builders

// The cases `viewer` may see, as a subquery with the viewer's id bound to ?1. PostgreSQL must
// be able to type every parameter up to the highest, so its service-lead scope names ?1 too
// (the planner folds the condition away); SQLite's leaves it out and unbound.
inline std::string scope(Role role, Dialect d = Dialect::sqlite) {
  switch (role) {
    case Role::service_lead:
      return d == Dialect::sqlite
                 ? "SELECT case_id FROM allocation"
                 : "SELECT case_id FROM allocation WHERE ?1::text IS NULL OR TRUE";
    // Each branch of the UNION can use an index (worker_team, allocation_worker); one WHERE
    // with OR read the whole allocation table at every sync of a manager.
    case Role::team_manager:
      return "SELECT case_id FROM allocation WHERE worker_id = ?1 UNION "
             "SELECT a.case_id FROM worker w JOIN allocation a ON a.worker_id = w.id "
             "WHERE w.team_id = (SELECT team_id FROM worker WHERE id = ?1)";
    case Role::area_manager:
      return "SELECT case_id FROM allocation WHERE worker_id = ?1 UNION "
             "SELECT a.case_id FROM team t JOIN worker w ON w.team_id = t.id "
             "JOIN allocation a ON a.worker_id = w.id WHERE t.area_id = "
             "(SELECT mt.area_id FROM worker m JOIN team mt ON mt.id = m.team_id WHERE m.id = ?1)";
    case Role::administrator:
      // No case content at all (the ?1 stays so every scope binds the same parameters).
      return "SELECT case_id FROM allocation WHERE 1 = 0 AND worker_id = ?1";
    case Role::social_worker:
    case Role::contact_centre:
      break;
  }
  return "SELECT case_id FROM allocation WHERE worker_id = ?1";
}

// Whether SQLite's scope of `role` binds the viewer's id (?1); PostgreSQL's always does.
inline bool scope_binds_viewer(Role role) { return role != Role::service_lead; }

// The record kinds a role may read within its scope, as SQL (empty: every kind).
inline std::string kind_filter(Role role, const char* kind_column) {
  if (role != Role::contact_centre) return {};
  return std::string(" AND ") + kind_column + " IN ('child', 'contact', 'referral')";
}

// One window of the visible log: ?2 < seq <= ?4, at most ?3 entries. The log is walked in seq
// order (SQLite's `+` keeps it off the case index, which would gather and sort every visible
// entry after the cursor for each page).
inline std::string log_window(Dialect d, Role role) {
  return std::string("SELECT ") + kLogColumns + " FROM change_log WHERE seq > ?2 AND seq <= ?4 AND " +
         unindexed(d, "case_id") + " IN (" + scope(role, d) + ")" + kind_filter(role, "kind") +
         " ORDER BY seq LIMIT ?3";
}

// Open conflicts visible to the viewer (?1) and those resolved after the cursor (?2).
inline std::string conflicts_for(Dialect d, Role role) {
  return std::string("SELECT ") + kConflictColumns + " FROM conflict WHERE case_id IN (" +
         scope(role, d) + ")" +
         (role == Role::contact_centre
              ? " AND record_id IN (SELECT id FROM record WHERE case_id = conflict.case_id" +
                    kind_filter(role, "kind") + ")"
              : std::string()) +
         " AND (resolved_seq = 0 OR resolved_seq > ?2) ORDER BY id";
}

// " AND <column> IN (?n, ...)" for a non-empty list, numbering parameters from `next`.
inline std::string in_list(std::string_view column, std::size_t count, int& next) {
  if (count == 0) return {};
  std::string out = " AND " + std::string(column) + " IN (";
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out += ", ";
    out += "?" + std::to_string(next++);
  }
  return out + ")";
}

// The statements that read figure inputs: records with their selected fields, and claims, of
// one case (`one_case`, ?1) or of every case, each ordered by case. Parameters: ?1 the case
// (one case), then the kinds, the records and the fields (bind them in that order).
struct InputsSql {
  std::string records;
  std::string claims;
};

inline InputsSql inputs(Dialect d, const FigureInputSelection& select, bool one_case) {
  int next = one_case ? 2 : 1;
  const std::string kinds = in_list("r.kind", select.kinds.size(), next);
  const std::string ids = in_list("r.id", select.records.size(), next);
  // SQLite's "+f.name": the names filter each record's fields as they are read; as an index
  // term it made one seek per record and name.
  int fields_from = next;
  const std::string fields = in_list(unindexed(d, "f.name"), select.fields.size(), next);
  const std::string claim_fields = in_list("field", select.fields.size(), fields_from);
  InputsSql out;
  const std::string columns =
      "SELECT r.case_id, r.id, r.kind, r.deleted, f.name, f.value FROM record r "
      "LEFT JOIN record_field f ON f.record_id = r.id" +
      fields + " WHERE ";
  if (!one_case) {
    out.records = columns + "r.case_id <> ''" + kinds + " ORDER BY r.case_id";
    // A claim holds its record's kind.
    int kinds_from = 1;
    out.claims = std::string("SELECT ") + kClaimColumns +
                 " FROM claimed_time WHERE case_id <> ''" +
                 in_list("kind", select.kinds.size(), kinds_from) + claim_fields +
                 " ORDER BY case_id";
    return out;
  }
  // Of one case: the records of the kinds through the case's index by kind, and the named
  // records through their key (one statement with an OR read every record of the case).
  std::string by_kind = "r.case_id = ?1" + kinds;
  std::string ids_sql;
  if (!ids.empty()) {
    ids_sql = "r.case_id = ?1" + ids;
    if (!kinds.empty()) {
      std::string not_kinds = kinds;
      not_kinds.replace(not_kinds.find(" IN ("), 5, " NOT IN (");
      ids_sql += not_kinds;
    }
  }
  if (kinds.empty() && !ids.empty()) {
    out.records = columns + ids_sql;
  } else {
    out.records = columns + by_kind + (ids_sql.empty() ? "" : " UNION ALL " + columns + ids_sql);
  }
  std::string record_ids =
      kinds.empty() && !ids.empty()
          ? "SELECT r.id FROM record r WHERE " + ids_sql
          : "SELECT r.id FROM record r WHERE " + by_kind +
                (ids_sql.empty() ? "" : " UNION ALL SELECT r.id FROM record r WHERE " + ids_sql);
  out.claims = std::string("SELECT ") + kClaimColumns + " FROM claimed_time WHERE record_id IN (" +
               record_ids + ")" + claim_fields;
  return out;
}

// --- Figure change log (ports/figure_change_log.hpp)
// The wall-clock time an entry is stamped with (used only to prune old entries).
inline std::int64_t figure_change_time_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
inline constexpr const char* kAppendFigureChange =
    "INSERT INTO figure_change(case_id, at_ms) VALUES (?1, ?2)";
inline constexpr const char* kFigureChangeHead =
    "SELECT COALESCE((SELECT MAX(id) FROM figure_change), "
    "(SELECT pruned_through FROM figure_change_pruned WHERE id = 1), 0)";
// One statement, so the entries and the pruning mark come from one snapshot.
inline constexpr const char* kFigureChangesAfter =
    "SELECT id, case_id, (SELECT pruned_through FROM figure_change_pruned WHERE id = 1) "
    "FROM figure_change WHERE id > ?1 ORDER BY id LIMIT ?2";
inline constexpr const char* kFigureChangesToPrune =
    "SELECT COALESCE(MAX(id), 0) FROM figure_change "
    "WHERE at_ms < ?1 AND id < (SELECT MAX(id) FROM figure_change)";
inline constexpr const char* kPruneFigureChanges = "DELETE FROM figure_change WHERE id <= ?1";
inline constexpr const char* kMarkFigureChangesPruned =
    "UPDATE figure_change_pruned SET pruned_through = ?1 WHERE id = 1 AND pruned_through < ?1";

// --- Request windows (ports/request_counters.hpp): ?1 the key, ?2 the window's start (ms).
// Returns the count and the window it was counted in.
inline constexpr const char* kCountRequest =
    "INSERT INTO request_window(bucket, window_start, requests) VALUES (?1, CAST(?2 AS BIGINT), 1) "
    "ON CONFLICT (bucket) DO UPDATE SET "
    "requests = CASE WHEN excluded.window_start > request_window.window_start THEN 1 "
    "ELSE request_window.requests + 1 END, "
    "window_start = CASE WHEN excluded.window_start > request_window.window_start "
    "THEN excluded.window_start ELSE request_window.window_start END "
    "RETURNING requests, window_start";
inline constexpr const char* kForgetRequestWindows =
    "DELETE FROM request_window WHERE window_start < ?1";

}  // namespace sql
}  // namespace fieldcase::server::storage
