#include "sync/write_access.hpp"

#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/clock_offset.hpp"

namespace fieldcase::server::detail {

Result<bool> WriteAccess::allowed(const std::string& case_id, const sync::Op& op) {
  const Action action = write_action(op.kind);
  if (new_cases_.contains(case_id)) return permits(ctx_.worker.role, action, Relation::own);
  auto relation = ctx_.relation(deps_.store, case_id);
  if (!relation.ok()) return relation.status();
  if (permits(ctx_.worker.role, action, *relation)) return true;
  if (!permits(ctx_.worker.role, action, Relation::own)) return false;
  if (ctx_.held.contains(case_id)) {
    auto grace = within_grace(case_id, action);
    if (!grace.ok()) return grace.status();
    if (*grace) {
      grace_cases_.insert(case_id);
      return true;
    }
  }
  return is_new_child(case_id, op);
}

Result<bool> WriteAccess::within_grace(const std::string& case_id, Action action) {
  if (auto it = grace_ok_.find(case_id); it != grace_ok_.end()) return it->second;
  // Reallocated away: the device's work on it from before the reallocation is still accepted
  // for a grace period, if the worker could write it then.
  bool ok = false;
  auto allocation = deps_.store.find_allocation(case_id);
  if (!allocation.ok()) return allocation.status();
  if (*allocation) {
    auto since = parse_iso_millis((*allocation)->allocated_at);
    const auto grace =
        std::chrono::duration_cast<std::chrono::milliseconds>(deps_.options.reallocation_grace);
    ok = since && ctx_.receipt_ms - *since <= grace.count();
  }
  if (ok) {
    auto previous = deps_.store.previous_worker(case_id);
    if (!previous.ok()) return previous.status();
    auto before = worker_relation(deps_.store, ctx_.worker, *previous);
    if (!before.ok()) return before.status();
    ok = permits(ctx_.worker.role, action, *before);
  }
  grace_ok_.emplace(case_id, ok);
  return ok;
}

Result<bool> WriteAccess::is_new_child(const std::string& case_id, const sync::Op& op) {
  if (op.kind != RecordKind::child || op.op != FieldChange::Op::create) return false;
  // A child the server has never seen nor allocated (a device picks a new child's id itself):
  // recorded in the field by this worker, so the case becomes theirs.
  auto allocation = deps_.store.find_allocation(case_id);
  if (!allocation.ok()) return allocation.status();
  auto existing = deps_.store.find_record(case_id);
  if (!existing.ok()) return existing.status();
  if (*allocation || *existing) return false;
  new_cases_.insert(case_id);
  return true;
}

}  // namespace fieldcase::server::detail
