// Cases: their allocation and its history, which cases a worker may see, and the current
// records with a state per field.
//
// Scope rule (visible_cases), the read rows of the permission matrix (permissions.hpp): a worker
// sees the cases allocated to them; a team_manager also every case allocated to a worker of
// their team; an area_manager every case allocated to a worker of a team in their team's area; a
// service_lead every allocated case; an administrator none. A contact_centre worker sees their
// own allocations, and of them only child, contact and referral records (log_after and
// conflicts_for leave the other kinds out). Isolation: every method is atomic on its own; inside UnitOfWork::transaction() the calls see
// each other's writes and commit or roll back together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/server/case_records.hpp"
#include "fieldcase/server/organisation.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

// One field state to store (the batch form of CaseStore::put_field); the pointers stay the
// caller's.
struct FieldWrite {
  std::string_view record_id;
  std::string_view name;
  const FieldState* state = nullptr;
};

class CaseStore {
 public:
  virtual ~CaseStore() = default;

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
  // The record with every field state, deleted or not.
  virtual Result<std::optional<StoredRecord>> find_record(std::string_view id) = 0;
  // Inserts or updates the record's own columns (not its fields).
  virtual Status put_record(const StoredRecord& record) = 0;
  virtual Status put_field(std::string_view record_id, std::string_view name,
                           const FieldState& state) = 0;

  // The batch forms a transaction uses (one statement where the engine can): the records of
  // `ids` that exist (any order), and putting records and field states, each as above.
  virtual Result<std::vector<StoredRecord>> find_records(std::span<const std::string> ids) {
    std::vector<StoredRecord> found;
    for (const auto& id : ids) {
      auto r = find_record(id);
      if (!r.ok()) return r.status();
      if (*r) found.push_back(std::move(**r));
    }
    return found;
  }
  virtual Status put_records(std::span<const StoredRecord* const> records) {
    for (const StoredRecord* r : records) FC_TRY(put_record(*r));
    return {};
  }
  virtual Status put_fields(std::span<const FieldWrite> fields) {
    for (const auto& f : fields) FC_TRY(put_field(f.record_id, f.name, *f.state));
    return {};
  }

  // Every record of a case, deleted ones included, in id order.
  virtual Result<std::vector<StoredRecord>> case_records(std::string_view case_id) = 0;
  // The distinct case ids of all records (deleted ones included), in order.
  virtual Result<std::vector<std::string>> case_ids() = 0;
};

}  // namespace fieldcase::server
