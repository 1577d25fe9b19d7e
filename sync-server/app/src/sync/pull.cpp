// The answer's half of a sync: what the device must purge, the changes and conflicts it may
// see after its cursor, and the case_read audit of what the answer carries.
#include <algorithm>
#include <map>
#include <utility>

#include "sync/context.hpp"

namespace fieldcase::server::detail {
namespace {

// Purge instructions: cases this device may hold that its worker no longer sees. Repeated
// until the device's cursor shows it has processed an answer past the reallocation.
Status instruct_purges(SyncDeps deps, SyncRequestContext& ctx, const sync::SyncRequest& request,
                       sync::SyncResponse& response) {
  for (const auto& [case_id, state] : ctx.held) {
    if (ctx.visible.contains(case_id)) {
      if (state == HeldState::purged) {
        FC_TRY(deps.store.put_device_case(ctx.device.id, case_id, HeldState::held));
      }
      continue;
    }
    if (state == HeldState::purged) continue;
    auto allocation = deps.store.find_allocation(case_id);
    if (!allocation.ok()) return allocation.status();
    const std::int64_t moved_at = *allocation ? (*allocation)->seq : 0;
    if (request.cursor >= moved_at) {
      FC_TRY(deps.store.put_device_case(ctx.device.id, case_id, HeldState::purged));
    } else {
      response.instructions.push_back({sync::Instruction::Type::purge_case, case_id,
                                       "the case is no longer allocated to this worker"});
    }
  }
  for (const auto& case_id : ctx.visible) {
    if (!ctx.held.contains(case_id)) {
      FC_TRY(deps.store.put_device_case(ctx.device.id, case_id, HeldState::held));
    }
  }
  return {};
}

// One page of the log after the cursor, and the conflicts the device should know of.
Status page_of_changes(SyncDeps deps, SyncRequestContext& ctx, const sync::SyncRequest& request,
                       sync::SyncResponse& response) {
  const std::size_t limit =
      std::clamp<std::size_t>(request.max_changes, 1, sync::kMaxChangesPerPage);
  auto page = deps.store.log_after(ctx.worker, request.cursor, limit, deps.options.max_page_bytes);
  if (!page.ok()) return page.status();
  auto head = deps.store.head();
  if (!head.ok()) return head.status();
  // The cursor is the last sequence number considered: the last entry of a partial page, or
  // the head when everything up to it has been seen.
  response.more = page->more;
  response.cursor = response.more ? page->entries.back().seq : *head;
  for (auto& e : page->entries) {
    // The operations this request just delivered are already on the device.
    if (e.device_id == ctx.device.id && ctx.request_tx_ids.contains(e.tx_id)) continue;
    sync::Change c;
    c.seq = e.seq;
    c.op_id = std::move(e.op_id);
    c.op = e.op;
    c.record_id = std::move(e.record_id);
    c.kind = e.kind;
    c.case_id = std::move(e.case_id);
    c.field = std::move(e.field);
    c.value = std::move(e.value);
    c.hlc = std::move(e.hlc);
    c.author = std::move(e.author);
    response.changes.push_back(std::move(c));
  }
  auto conflicts = deps.store.conflicts_for(ctx.worker, request.cursor);
  if (!conflicts.ok()) return conflicts.status();
  for (auto& c : *conflicts) response.conflicts.push_back(std::move(c.conflict));
  return {};
}

// One audit entry per case whose content this answer carries (changes or conflicts).
Status audit_reads(SyncDeps deps, SyncRequestContext& ctx, const sync::SyncResponse& response) {
  std::map<std::string, std::pair<std::size_t, std::size_t>> read;  // case -> changes, conflicts
  for (const auto& c : response.changes) ++read[c.case_id].first;
  for (const auto& c : response.conflicts) ++read[c.case_id].second;
  for (const auto& [case_id, counts] : read) {
    auto relation = ctx.relation(deps.store, case_id);
    if (!relation.ok()) return relation.status();
    FC_TRY(deps.store.append_audit(
        {new_uuid_v7(deps.clock), ctx.receipt_text, "case_read", ctx.device.id, ctx.worker.id,
         case_id, "",
         std::to_string(counts.first) + " changes, " + std::to_string(counts.second) + " conflicts",
         "", "ok", std::string(to_string(*relation))}));
  }
  return {};
}

}  // namespace

Status pull(SyncDeps deps, SyncRequestContext& ctx, const sync::SyncRequest& request,
            sync::SyncResponse& response) {
  FC_TRY(instruct_purges(deps, ctx, request, response));
  FC_TRY(page_of_changes(deps, ctx, request, response));
  return audit_reads(deps, ctx, response);
}

}  // namespace fieldcase::server::detail
