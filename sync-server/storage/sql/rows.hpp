// How the stores turn rows into the ServerStore's values and values into column text, for
// every SQL store alike. A Row is anything with column_text(i), column_int(i) and
// column_is_null(i), columns numbered from 0 (fieldcase::Statement, the PostgreSQL result row).
// The column orders are those of the column lists in statements.hpp. Pure; thread-safe.
#pragma once

#include <charconv>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "fieldcase/record.hpp"
#include "fieldcase/server/server_store.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server::storage {

inline const char* op_text(FieldChange::Op op) {
  switch (op) {
    case FieldChange::Op::create:
      return "create";
    case FieldChange::Op::set:
      return "set";
    case FieldChange::Op::remove:
      return "remove";
  }
  return "set";
}

inline Result<FieldChange::Op> op_from_text(const std::string& s) {
  if (s == "create") return FieldChange::Op::create;
  if (s == "set") return FieldChange::Op::set;
  if (s == "remove") return FieldChange::Op::remove;
  return Status(Errc::integrity, "unknown operation '" + s + "' in the server database");
}

inline Result<RecordKind> kind_from_text(const std::string& s) {
  auto k = parse_record_kind(s);
  if (!k) return Status(Errc::integrity, "unknown record kind '" + s + "' in the server database");
  return *k;
}

inline Result<Value> value_from_text(const std::string& s) {
  auto v = value_from_json(s);
  if (!v) return Status(Errc::integrity, "unreadable value in the server database");
  return *v;
}

inline const char* held_text(HeldState s) { return s == HeldState::held ? "held" : "purged"; }
inline HeldState held_from_text(const std::string& s) {
  return s == "held" ? HeldState::held : HeldState::purged;
}

inline std::string samples_to_text(const std::vector<ClockSample>& samples) {
  std::string out;
  for (const auto& s : samples) {
    if (!out.empty()) out += ';';
    out += std::to_string(s.receipt_ms) + ':' + std::to_string(s.offset_ms);
  }
  return out;
}

inline std::vector<ClockSample> samples_from_text(const std::string& text) {
  std::vector<ClockSample> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ';')) {
    auto colon = item.find(':');
    if (colon == std::string::npos) continue;
    ClockSample sample;
    auto a = std::from_chars(item.data(), item.data() + colon, sample.receipt_ms);
    auto b = std::from_chars(item.data() + colon + 1, item.data() + item.size(), sample.offset_ms);
    // A malformed sample is dropped; the estimator carries on with the others.
    if (a.ec == std::errc() && b.ec == std::errc()) out.push_back(sample);
  }
  return out;
}

// About how many bytes a value takes in JSON, without writing it (escapes not counted).
inline std::size_t approx_json_size(const Value& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return text->size() + 2;
  if (const auto* list = std::get_if<CodeList>(&value)) {
    std::size_t n = 2;
    for (const auto& code : *list) n += code.size() + 3;
    return n;
  }
  return 8;
}

// About how many bytes a log entry adds to a page: the value's text dominates; ids and stamps
// add about 200 bytes.
inline std::size_t approx_entry_size(const LogEntry& e) {
  return 200 + (e.op == FieldChange::Op::set ? approx_json_size(e.value) : 0);
}

// The outcome a version-1 audit entry (before the chain) is given when it is chained.
inline std::string legacy_audit_outcome(const std::string& event) {
  return event == "out_of_scope" ? "refused" : "ok";
}

template <typename Row>
AuditEvent read_audit(const Row& s) {
  AuditEvent e;
  e.seq = s.column_int(0);
  e.id = s.column_text(1);
  e.at = s.column_text(2);
  e.event = s.column_text(3);
  e.outcome = s.column_text(4);
  e.worker_id = s.column_text(5);
  e.device_id = s.column_text(6);
  e.case_id = s.column_text(7);
  e.record_id = s.column_text(8);
  e.tx_id = s.column_text(9);
  e.relation = s.column_text(10);
  e.detail = s.column_text(11);
  e.prev_hash = s.column_text(12);
  e.hash = s.column_text(13);
  return e;
}

template <typename Row>
Device read_device(const Row& s) {
  Device d;
  d.id = s.column_text(0);
  d.worker_id = s.column_text(1);
  d.status = parse_device_status(s.column_text(2)).value_or(DeviceStatus::revoked);
  d.created_at = s.column_text(3);
  d.revoked_at = s.column_text(4);
  d.last_sync_at = s.column_text(5);
  if (!s.column_is_null(6)) d.clock_offset_ms = s.column_int(6);
  d.clock_samples = samples_from_text(s.column_text(7));
  d.name = s.column_text(8);
  return d;
}

template <typename Row>
Result<LogEntry> read_log(const Row& s) {
  LogEntry e;
  e.seq = s.column_int(0);
  e.op_id = s.column_text(1);
  e.tx_id = s.column_text(2);
  auto op = op_from_text(s.column_text(3));
  if (!op.ok()) return op.status();
  e.op = *op;
  e.record_id = s.column_text(4);
  auto kind = kind_from_text(s.column_text(5));
  if (!kind.ok()) return kind.status();
  e.kind = *kind;
  e.case_id = s.column_text(6);
  e.field = s.column_text(7);
  if (!s.column_is_null(8)) {
    auto v = value_from_text(s.column_text(8));
    if (!v.ok()) return v.status();
    e.value = std::move(*v);
  }
  e.hlc = s.column_text(9);
  e.author = s.column_text(10);
  e.device_id = s.column_text(11);
  e.at = s.column_text(12);
  e.received_at = s.column_text(13);
  return e;
}

template <typename Row>
Result<StoredConflict> read_conflict(const Row& s) {
  StoredConflict c;
  c.conflict.conflict_id = s.column_text(0);
  c.conflict.record_id = s.column_text(1);
  c.conflict.case_id = s.column_text(2);
  c.conflict.field = s.column_text(3);
  auto kept = value_from_text(s.column_text(4));
  if (!kept.ok()) return kept.status();
  c.conflict.kept = std::move(*kept);
  c.conflict.kept_hlc = s.column_text(5);
  auto lost = value_from_text(s.column_text(6));
  if (!lost.ok()) return lost.status();
  c.conflict.lost = std::move(*lost);
  c.conflict.lost_hlc = s.column_text(7);
  c.conflict.lost_author = s.column_text(8);
  c.lost_device = s.column_text(9);
  c.detected_seq = s.column_int(10);
  c.detected_at = s.column_text(11);
  c.resolved_seq = s.column_int(12);
  c.resolved_at = s.column_text(13);
  c.conflict.resolved = c.resolved_seq != 0;
  return c;
}

template <typename Row>
Result<ClaimedTime> read_claim(const Row& s) {
  ClaimedTime c;
  c.record_id = s.column_text(0);
  c.field = s.column_text(1);
  c.case_id = s.column_text(2);
  auto kind = kind_from_text(s.column_text(3));
  if (!kind.ok()) return kind.status();
  c.kind = *kind;
  c.claimed = s.column_text(4);
  c.corrected = s.column_text(5);
  c.received_at = s.column_text(6);
  c.offset_ms = s.column_int(7);
  c.device_id = s.column_text(8);
  c.worker_id = s.column_text(9);
  c.tx_id = s.column_text(10);
  c.after_receipt = s.column_int(11) != 0;
  c.before_start = s.column_int(12) != 0;
  c.large_offset = s.column_int(13) != 0;
  return c;
}

template <typename Row>
Result<Worker> read_worker(const Row& s) {
  Worker w;
  w.id = s.column_text(0);
  w.name = s.column_text(1);
  auto role = parse_role(s.column_text(2));
  if (!role) return Status(Errc::integrity, "unknown role in the server database");
  w.role = *role;
  w.team_id = s.column_text(3);
  w.active = s.column_int(4) != 0;
  w.created_at = s.column_text(5);
  return w;
}

template <typename Row>
Result<RoleGrant> read_role_grant(const Row& s) {
  RoleGrant g;
  g.id = s.column_text(0);
  g.worker_id = s.column_text(1);
  auto role = parse_role(s.column_text(2));
  if (!role) return Status(Errc::integrity, "unknown role in the server database");
  g.role = *role;
  g.from_role = s.column_text(3);
  g.requested_by = s.column_text(4);
  g.requested_at = s.column_text(5);
  g.state = s.column_text(6);
  g.decided_by = s.column_text(7);
  g.decided_at = s.column_text(8);
  return g;
}

template <typename Row>
EnrollmentCode read_enrollment(const Row& s) {
  EnrollmentCode c;
  c.id = s.column_text(0);
  c.lookup = s.column_text(1);
  c.code_hash = s.column_text(2);
  c.worker_id = s.column_text(3);
  c.created_at = s.column_text(4);
  c.expires_at = s.column_text(5);
  c.used_at = s.column_text(6);
  c.device_id = s.column_text(7);
  c.failed_attempts = s.column_int(8);
  return c;
}

template <typename Row>
TxOutcome read_tx(const Row& s) {
  TxOutcome t;
  t.tx_id = s.column_text(0);
  t.device_id = s.column_text(1);
  t.accepted = s.column_text(2) == "accepted";
  t.code = s.column_text(3);
  t.reason = s.column_text(4);
  t.op_count = s.column_int(5);
  t.device_time = s.column_text(6);
  t.received_at = s.column_text(7);
  return t;
}

// A record's own columns (kRecordColumns), without its fields.
template <typename Row>
Result<StoredRecord> read_record(const Row& s) {
  StoredRecord r;
  r.id = s.column_text(0);
  auto kind = kind_from_text(s.column_text(1));
  if (!kind.ok()) return kind.status();
  r.kind = *kind;
  r.case_id = s.column_text(2);
  r.created_at = s.column_text(3);
  r.created_by = s.column_text(4);
  r.created_hlc = s.column_text(5);
  r.updated_at = s.column_text(6);
  r.updated_by = s.column_text(7);
  r.deleted = s.column_int(8) != 0;
  r.deleted_hlc = s.column_text(9);
  return r;
}

template <typename Row>
FigureFact read_fact(const Row& u) {
  return FigureFact{u.column_text(0), u.column_text(1),     u.column_text(2),
                    u.column_text(3), u.column_text(4),     u.column_text(5),
                    u.column_text(6), u.column_int(7) != 0, u.column_text(8)};
}

// A fact (kAttributedFactColumns) with its case's current worker, team and area.
template <typename Row>
AttributedFact read_attributed_fact(const Row& u) {
  AttributedFact a;
  a.fact = read_fact(u);
  a.worker = u.column_text(9);
  a.team = u.column_text(10);
  a.area = u.column_text(11);
  return a;
}

}  // namespace fieldcase::server::storage
