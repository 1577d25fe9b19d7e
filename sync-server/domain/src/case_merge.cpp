#include "fieldcase/server/case_merge.hpp"

#include "fieldcase/field_merge.hpp"
#include "fieldcase/ids.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/claimed_times.hpp"

namespace fieldcase::server {

bool is_server_field(RecordKind kind, std::string_view field) noexcept {
  return kind == RecordKind::child && (field == "allocated_worker" || field == "allocated_team");
}

std::optional<std::string_view> text_field(const StoredRecord& r, std::string_view field) {
  auto it = r.fields.find(field);
  if (it == r.fields.end()) return std::nullopt;
  if (auto s = std::get_if<std::string>(&it->second.value)) return std::string_view(*s);
  return std::nullopt;
}

bool is_immutable(const StoredRecord& r) noexcept {
  auto status = text_field(r, "status");
  if (!status) return false;
  return (r.kind == RecordKind::case_note && *status == "completed") ||
         (r.kind == RecordKind::assessment && *status == kAssessmentAuthorised);
}

RecordDraft RecordDraft::loaded(std::optional<StoredRecord> record) {
  RecordDraft w;
  if (record) {
    w.existed = w.exists = true;
    w.before = *record;
    w.after = std::move(*record);
  }
  return w;
}

std::optional<MergeRefusal> CaseMerge::check_op(const sync::Op& op,
                                                std::string_view where) const {
  const std::string at(where);
  // Clock stamps: the sending device's own, and not beyond the skew allowed ahead of now.
  auto stamp = HlcStamp::parse(op.hlc);
  if (!stamp.ok()) return MergeRefusal{kRejectBadRequest, at + ".hlc is not a clock stamp"};
  if (stamp->device != author_.device_id) {
    return MergeRefusal{kRejectForeignStamp,
                        at + ".hlc: the stamp's node is not this device (a device stamps its "
                             "changes with its own id)"};
  }
  if (stamp->wall_ms - author_.received_ms > author_.max_stamp_ahead_ms) {
    return MergeRefusal{kRejectClockAhead,
                        at + ".hlc: the stamp is more than " +
                            std::to_string(author_.max_stamp_ahead_ms / 1000) +
                            " s ahead of the server's time; set the device's clock right"};
  }
  if (!kind_spec(op.kind).case_scoped) {
    return MergeRefusal{kRejectOutOfScope, at + ": " + std::string(to_string(op.kind)) +
                                               " records are maintained by administrators"};
  }
  if (op.kind == RecordKind::child && !op.case_id.empty() && op.case_id != op.record_id) {
    return MergeRefusal{kRejectBadRequest, at + ": a child's case_id is its own id"};
  }
  return std::nullopt;
}

std::string CaseMerge::case_of(const sync::Op& op) {
  return op.kind == RecordKind::child ? op.record_id : op.case_id;
}

std::optional<MergeRefusal> CaseMerge::check_case(const sync::Op& op, std::string_view where) {
  if (!case_of(op).empty()) return std::nullopt;
  return MergeRefusal{kRejectBadRequest, std::string(where) + ".case_id is required for " +
                                             std::string(to_string(op.kind)) + " records"};
}

std::optional<MergeRefusal> CaseMerge::apply(const sync::Op& op, std::string_view where,
                                             RecordDraft& w, const RecordDraft* child) {
  const std::string at(where);
  if (w.exists) {
    if (w.after.kind != op.kind) {
      return MergeRefusal{kRejectBadRequest, at + ": record " + op.record_id + " is a " +
                                                 std::string(to_string(w.after.kind)) +
                                                 ", not a " + std::string(to_string(op.kind))};
    }
    if (w.after.case_id != case_of(op)) {
      return MergeRefusal{kRejectBadRequest,
                          at + ": record " + op.record_id + " belongs to another case"};
    }
  }
  switch (op.op) {
    case FieldChange::Op::create:
      return create(op, w, child);
    case FieldChange::Op::remove:
      return remove(op, where, w);
    case FieldChange::Op::set:
      return set(op, where, w);
  }
  return std::nullopt;
}

LogEntry CaseMerge::device_entry(const sync::Op& op, const std::string& case_id) const {
  // The server-ordered log entry of this device operation, attributed to worker and device.
  LogEntry e;
  e.op_id = op.op_id;
  e.tx_id = author_.tx_id;
  e.op = op.op;
  e.record_id = op.record_id;
  e.kind = op.kind;
  e.case_id = case_id;
  e.hlc = op.hlc;
  e.author = author_.worker_id;
  e.device_id = author_.device_id;
  e.at = op.at;
  e.received_at = author_.received_at;
  return e;
}

void CaseMerge::add_conflict(const StoredRecord& r, const std::string& field, const Value& kept,
                             const std::string& kept_hlc, const Value& lost,
                             const std::string& lost_hlc, const std::string& lost_author,
                             const std::string& lost_device) {
  StoredConflict c;
  c.conflict.record_id = r.id;
  c.conflict.case_id = r.case_id;
  c.conflict.field = field;
  c.conflict.kept = kept;
  c.conflict.kept_hlc = kept_hlc;
  c.conflict.lost = lost;
  c.conflict.lost_hlc = lost_hlc;
  c.conflict.lost_author = lost_author;
  c.lost_device = lost_device;
  c.detected_at = author_.received_at;
  conflicts_.push_back(std::move(c));
}

std::optional<MergeRefusal> CaseMerge::create(const sync::Op& op, RecordDraft& w,
                                              const RecordDraft* child) {
  if (w.exists) return std::nullopt;  // already there: creating it again changes nothing
  const std::string case_id = case_of(op);
  if (op.kind != RecordKind::child) {
    // A record belongs to a child that exists (on the server or earlier in this transaction),
    // as on the device.
    if (child == nullptr || !child->exists || child->after.kind != RecordKind::child ||
        child->after.deleted) {
      return MergeRefusal{kRejectValidation,
                          std::string(to_string(op.kind)) + ".case_id: names no child"};
    }
  }
  w.exists = w.touched = true;
  w.after.id = op.record_id;
  w.after.kind = op.kind;
  w.after.case_id = case_id;
  w.after.created_at = w.after.updated_at = op.at;
  w.after.created_by = w.after.updated_by = author_.worker_id;
  w.after.created_hlc = op.hlc;
  entries_.push_back({device_entry(op, case_id), false});
  return std::nullopt;
}

std::optional<MergeRefusal> CaseMerge::remove(const sync::Op& op, std::string_view where,
                                              RecordDraft& w) {
  const std::string at(where);
  if (!w.exists) {
    return MergeRefusal{kRejectBadRequest, at + ": record " + op.record_id + " does not exist"};
  }
  if (w.after.deleted) return std::nullopt;
  if (is_immutable(w.after)) {
    return MergeRefusal{kRejectImmutable, at + ": " + std::string(to_string(op.kind)) +
                                              (op.kind == RecordKind::case_note
                                                   ? " is completed and cannot be deleted"
                                                   : " is authorised and cannot be deleted")};
  }
  w.after.deleted = true;
  w.after.deleted_hlc = op.hlc;
  w.after.updated_at = op.at;
  w.after.updated_by = author_.worker_id;
  w.touched = true;
  entries_.push_back({device_entry(op, case_of(op)), false});
  return std::nullopt;
}

std::optional<MergeRefusal> CaseMerge::set(const sync::Op& op, std::string_view where,
                                           RecordDraft& w) {
  if (!w.exists) {
    return MergeRefusal{kRejectBadRequest, std::string(where) + ": record " + op.record_id +
                                               " does not exist (create it first)"};
  }
  const FieldSpec* fs = find_field(kind_spec(op.kind), op.field);
  if (fs == nullptr) {
    return MergeRefusal{kRejectValidation, std::string(to_string(op.kind)) + "." + op.field +
                                               ": is not a field of this kind of record"};
  }
  auto it = w.after.fields.find(op.field);
  const bool has_current = it != w.after.fields.end();
  if (fs->maintained == Maintained::at_creation && w.existed &&
      (has_current ? it->second.value : Value{}) != op.value) {
    // Stamped by the device that created the record, from what only it had: a later change
    // can only be a rewrite of history.
    return MergeRefusal{kRejectMaintained,
                        std::string(to_string(op.kind)) + "." + op.field +
                            ": is set when the record is created and cannot be changed"};
  }
  // Derived fields follow the fields they derive from (the server derives them again after
  // the merge): they change without conflicts of their own, like the server's fields.
  const bool server_field =
      is_server_field(op.kind, op.field) || fs->maintained == Maintained::derived;
  const FieldMerge merge =
      merge_field({has_current ? std::optional<std::string_view>(it->second.hlc) : std::nullopt,
                   op.hlc, std::string_view(op.base), w.after.deleted});
  switch (merge.outcome) {
    case FieldMergeOutcome::unchanged:
      break;
    case FieldMergeOutcome::deleted:
      // A change to a deleted record cannot take effect; its value is kept as a conflict.
      if (!server_field && merge.conflict(!is_null(op.value))) {
        add_conflict(w.after, op.field, Value{}, w.after.deleted_hlc, op.value, op.hlc,
                     author_.worker_id, author_.device_id);
      }
      break;
    case FieldMergeOutcome::keep:
      // The incoming value lost to a later stamp: kept as a conflict, never dropped.
      if (!server_field && merge.conflict(it->second.value != op.value)) {
        add_conflict(w.after, op.field, it->second.value, it->second.hlc, op.value, op.hlc,
                     author_.worker_id, author_.device_id);
      }
      break;
    case FieldMergeOutcome::take: {
      if (has_current && !server_field && merge.conflict(it->second.value != op.value)) {
        add_conflict(w.after, op.field, op.value, op.hlc, it->second.value, it->second.hlc,
                     it->second.author, "");
      }
      w.after.fields[op.field] = FieldState{op.value, op.hlc, author_.worker_id};
      w.after.updated_at = op.at;
      w.after.updated_by = author_.worker_id;
      w.touched = true;
      w.changed_fields.insert(op.field);
      if (is_claimed_time(op.kind, op.field)) w.claimed_fields.insert(op.field);
      LogEntry e = device_entry(op, case_of(op));
      e.field = op.field;
      e.value = op.value;
      // A sequential write to a field that had a value settles its open conflicts.
      entries_.push_back({std::move(e), has_current && !merge.concurrent});
      break;
    }
  }
  return std::nullopt;
}

}  // namespace fieldcase::server
