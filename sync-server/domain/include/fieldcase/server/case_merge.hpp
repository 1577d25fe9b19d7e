// Merging a device transaction's operations onto the server's records of a case (no I/O).
//
// The caller loads the records an operation names and decides whether the worker may write the
// case (permissions.hpp, the reallocation grace); CaseMerge applies each operation in order to
// the drafts of those records with the one field-merge rule (fieldcase/field_merge.hpp), and
// collects what becomes durable: the server-ordered log entries and the conflicts kept. It
// answers a refusal (a rejection code of the sync protocol and a reason naming a field and a
// rule, never a value) instead when an operation breaks a rule; the transaction then applies
// nothing. Not thread-safe; one per transaction.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/server/case_records.hpp"
#include "fieldcase/sync_protocol.hpp"

namespace fieldcase::server {

// Rejection codes (sync::Rejection::code).
inline constexpr std::string_view kRejectValidation = "validation";
inline constexpr std::string_view kRejectOutOfScope = "out_of_scope";
inline constexpr std::string_view kRejectImmutable = "conflict_immutable";
inline constexpr std::string_view kRejectBadRequest = "bad_request";
// The role may write the case but not make this change (authorise or return an assessment).
inline constexpr std::string_view kRejectForbidden = "forbidden";
// A clock stamp further ahead of the server's receipt time than max_stamp_ahead (the device's
// clock is wrong, or the stamp is hostile).
inline constexpr std::string_view kRejectClockAhead = "clock_ahead";
// A clock stamp whose node is not the sending device (a device stamps only with its own id).
inline constexpr std::string_view kRejectForeignStamp = "foreign_stamp";
// A field the device's write path maintains was set against the rule the server keeps for it
// (FieldSpec::maintained; docs/sync-protocol.md lists them).
inline constexpr std::string_view kRejectMaintained = "maintained_field";

// child.allocated_worker and child.allocated_team follow the case allocation on the server.
bool is_server_field(RecordKind kind, std::string_view field) noexcept;
// Completed notes and authorised assessments are facts: no later change may alter them.
bool is_immutable(const StoredRecord& record) noexcept;
// A text field's value, or nullopt (absent, cleared or not text).
std::optional<std::string_view> text_field(const StoredRecord& record, std::string_view field);

struct MergeRefusal {
  std::string_view code;  // one of kReject*
  std::string reason;
};

// A record as a transaction sees it while its operations are applied.
struct RecordDraft {
  bool existed = false;  // in the store before this transaction
  StoredRecord before;   // valid when existed
  StoredRecord after;
  bool exists = false;  // existed, or created by this transaction
  bool touched = false;
  std::set<std::string> changed_fields;
  std::set<std::string> claimed_fields;  // claimed times this device's winning operations set

  // The draft of a record as loaded from the store (nullopt: not there).
  static RecordDraft loaded(std::optional<StoredRecord> record);
};

struct PendingEntry {
  LogEntry entry;
  bool resolves = false;  // a sequential write: settles the field's open conflicts
};

// Who a transaction's operations are attributed to, and when the server received them.
struct MergeAuthor {
  std::string worker_id;
  std::string device_id;
  std::string tx_id;
  std::string received_at;
  std::int64_t received_ms = 0;
  std::int64_t max_stamp_ahead_ms = 0;  // ServiceOptions::max_stamp_ahead
};

class CaseMerge {
 public:
  explicit CaseMerge(MergeAuthor author) : author_(std::move(author)) {}

  // The checks an operation passes before anything is loaded: its stamp is the sending
  // device's and not too far ahead, its kind is case content, and a child names itself as its
  // case. `where` names the operation in reasons ("ops[3]").
  std::optional<MergeRefusal> check_op(const sync::Op& op, std::string_view where) const;
  // The case an operation writes (a child's is its own id).
  static std::string case_of(const sync::Op& op);
  // That the operation names its case (a refusal of this is about that case).
  static std::optional<MergeRefusal> check_case(const sync::Op& op, std::string_view where);

  // Applies `op` to `draft` (the record it names). `child` is the draft of the case's child
  // record, needed only when `op` creates a record of another kind (null otherwise).
  std::optional<MergeRefusal> apply(const sync::Op& op, std::string_view where,
                                    RecordDraft& draft, const RecordDraft* child);

  // What the merged operations make durable, in the order they were applied. Conflicts carry
  // no conflict_id nor detected_seq yet (the caller assigns both when it stores them).
  std::vector<PendingEntry>& entries() { return entries_; }
  std::vector<StoredConflict>& conflicts() { return conflicts_; }

 private:
  std::optional<MergeRefusal> create(const sync::Op& op, RecordDraft& w, const RecordDraft* child);
  std::optional<MergeRefusal> remove(const sync::Op& op, std::string_view where, RecordDraft& w);
  std::optional<MergeRefusal> set(const sync::Op& op, std::string_view where, RecordDraft& w);
  LogEntry device_entry(const sync::Op& op, const std::string& case_id) const;
  void add_conflict(const StoredRecord& r, const std::string& field, const Value& kept,
                    const std::string& kept_hlc, const Value& lost, const std::string& lost_hlc,
                    const std::string& lost_author, const std::string& lost_device);

  MergeAuthor author_;
  std::vector<PendingEntry> entries_;
  std::vector<StoredConflict> conflicts_;
};

}  // namespace fieldcase::server
