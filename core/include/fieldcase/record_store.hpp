// The worker's records on the device, and the one write path every change goes through.
//
// A write (RecordStore::write) is one local transaction: it validates each record with
// validate_record(), stores it, and appends its field-level operations, stamped with the
// device's hybrid logical clock, to the change log inside the same SQLite transaction, so a
// record and its log entries exist together or not at all. The sync engine ships the log.
// Deletes are tombstones; completed case notes are immutable and corrected by appended notes;
// full field history is kept in the log.
//
// Owns no thread; use from the thread that owns the Store.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fieldcase/calendar.hpp"
#include "fieldcase/clock.hpp"
#include "fieldcase/ids.hpp"
#include "fieldcase/record.hpp"
#include "fieldcase/status.hpp"
#include "fieldcase/store.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "fieldcase/timescales.hpp"

namespace fieldcase {

namespace detail {
class RemoteApply;
}

// What is due for the signed-in worker.
struct DueItem {
  enum class What : std::uint8_t { assessment, cp_visit, lac_visit };
  What what;
  std::string record_id;  // the assessment, or the plan/episode the visit is due under
  std::string case_id;
  std::string child_name;
  std::string label;       // e.g. "single assessment", "child protection visit"
  Date due;
  std::int32_t working_days_left;  // negative when overdue
};

struct MyDay {
  Date today;
  std::vector<DueItem> overdue;
  std::vector<DueItem> due_today;
  std::vector<DueItem> due_this_week;  // the next five working days
  std::int64_t changes_waiting = 0;    // local transactions not yet accepted by the server
};

// The schema migrations of the record store (for Store::migrate).
std::span<const Migration> record_migrations();

class RecordStore {
 public:
  // Migrates the schema if needed. `store` and `clock` must outlive the RecordStore. A worker
  // id that is not a record id, or an empty device id, is invalid_argument.
  static Result<std::unique_ptr<RecordStore>> open(Store& store, Identity who, const Clock& clock,
                                                   Timescales timescales);

  // Writes inside one local transaction. Every method validates first and writes nothing on
  // failure; a failure anywhere rolls back the whole transaction: write() returns the first
  // failure of any Writer method even when `fn` carries on and returns success, and after a
  // failure every further Writer call returns that failure without doing anything.
  class Writer {
   public:
    // Returns the new record's id. For a child, case_id is ignored (a child is its own case).
    Result<std::string> create(RecordKind kind, std::string_view case_id, Fields fields);
    // Sets the given fields; a null value clears a field. Unchanged fields write nothing.
    Status update(std::string_view id, const Fields& changes);
    Status remove(std::string_view id);
    // A completed note's correction: a new completed note that names the one it corrects.
    Result<std::string> append_correction(std::string_view note_id, std::string text);
    // Stores a photo or document (encrypted with the database) and returns its record id.
    Result<std::string> attach(std::string_view parent_id, std::string filename,
                               std::string media_type, std::span<const std::uint8_t> bytes,
                               std::string caption = {});

   private:
    friend class RecordStore;
    Writer(RecordStore& rs, std::string tx_id) : rs_(rs), tx_id_(std::move(tx_id)) {}
    Status remember(Status st);
    Result<std::string> remember(Result<std::string> r);
    RecordStore& rs_;
    std::string tx_id_;
    Status failed_;  // the first failure; the transaction can then only roll back
  };
  Status write(const std::function<Status(Writer&)>& fn);

  // Single-operation conveniences, each its own transaction.
  Result<std::string> create(RecordKind kind, std::string_view case_id, Fields fields);
  Status update(std::string_view id, const Fields& changes);
  Status remove(std::string_view id);

  // Reads. get() returns tombstones too (deleted = true); list() does not.
  Result<std::optional<Record>> get(std::string_view id);
  Result<std::vector<Record>> list(RecordKind kind, std::string_view case_id = {});
  // The children allocated to the signed-in worker.
  Result<std::vector<Record>> caseload();
  Result<std::vector<std::uint8_t>> attachment_bytes(std::string_view attachment_id);
  // Every operation on the record, oldest first.
  Result<std::vector<FieldChange>> history(std::string_view record_id);
  // Operations not yet acknowledged by the server, oldest first, at most `limit`.
  Result<std::vector<FieldChange>> unsent_changes(std::size_t limit);
  Result<std::int64_t> pending_transactions();

  Result<MyDay> my_day(Date today);

  // --- Sync (used by SyncEngine) ---
  // Local transactions not yet acknowledged, oldest first, within the given limits.
  Result<std::vector<sync::Transaction>> outbox(std::size_t max_transactions,
                                                std::size_t max_ops);
  // Applies one sync answer in one local transaction: acknowledgements, rejections, the page
  // of changes (a field keeps a newer local stamp), conflicts, purges and the new cursor.
  Status apply_sync_response(const sync::SyncResponse& response);
  Result<std::int64_t> sync_cursor();
  // Open conflicts on this device's cases (the losing values kept for the worker to see).
  Result<std::vector<sync::Conflict>> conflicts();
  // Settles a conflict by writing `chosen` (the kept value, the lost one or a new one) to its
  // field as a sequential edit, in its own local transaction, even when it equals the current
  // value: once the server accepts it, the field's open conflicts are resolved everywhere.
  // The conflict (and any other on that field) leaves this device's list at once; if the
  // server refuses the write, the next sync brings it back. Errc::not_found for an unknown id.
  Status resolve_conflict(std::string_view conflict_id, const Value& chosen);
  // Transactions the server refused, with its reasons.
  Result<std::vector<sync::Rejection>> rejections();
  // Removes every trace of a case: records, attachments, history, conflicts.
  Status purge_case(std::string_view case_id);

  const Identity& identity() const { return who_; }
  const Timescales& timescales() const { return timescales_; }

 private:
  RecordStore(Store& store, Identity who, const Clock& clock, Timescales timescales);
  Result<std::string> do_create(const std::string& tx, RecordKind kind, std::string_view case_id,
                                Fields fields);
  // rewrite: also record the fields of `changes` whose value does not change (a resolution).
  Status do_update(const std::string& tx, std::string_view id, const Fields& changes,
                   bool rewrite = false);
  Status do_remove(const std::string& tx, std::string_view id);
  Status derive(Record& r, const Record* before);
  Status save(const std::string& tx, const Record& r, const Record* before, bool removing,
              const Fields* rewrite = nullptr);
  Status write_row(const Record& r);
  friend class detail::RemoteApply;  // applies the server's changes (record_sync.cpp)

  Store& store_;
  Identity who_;
  const Clock& clock_;
  Timescales timescales_;
  HybridClock hlc_;
};

}  // namespace fieldcase
