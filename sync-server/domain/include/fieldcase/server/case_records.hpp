// A case's records as the server keeps them: allocations, field states with their stamps, the
// server-ordered change log, transaction outcomes, conflicts and claimed times (domain
// entities, no I/O).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fieldcase/record.hpp"
#include "fieldcase/sync_protocol.hpp"

namespace fieldcase::server {

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

}  // namespace fieldcase::server
