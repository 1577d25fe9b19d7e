// Applying one device transaction: merge its operations (domain CaseMerge), allocate the new
// children, derive the server's fields and validate every record it changed, then store
// records, log entries, conflicts and claimed times, audit it and refresh the figures.
#include <map>
#include <vector>

#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/case_merge.hpp"
#include "fieldcase/server/figures.hpp"
#include "server_changes.hpp"
#include "sync/claimed_times.hpp"
#include "sync/context.hpp"
#include "sync/write_access.hpp"

namespace fieldcase::server::detail {
namespace {

class TransactionApply {
 public:
  TransactionApply(SyncDeps deps, SyncRequestContext& ctx, const sync::Transaction& tx,
                   std::optional<sync::Rejection>& rejection, std::string& refused_case)
      : deps_(deps),
        ctx_(ctx),
        tx_(tx),
        rejection_(rejection),
        refused_case_(refused_case),
        access_(deps, ctx),
        merge_({ctx.worker.id, ctx.device.id, tx.tx_id, ctx.receipt_text, ctx.receipt_ms,
                ms_of(deps.options.max_stamp_ahead)}) {}

  Status run() {
    for (std::size_t i = 0; i < tx_.ops.size(); ++i) FC_TRY(merge_operation(i));
    FC_TRY(allocate_new_cases());
    for (const auto& id : order_) FC_TRY(derive_and_validate(drafts_.at(id)));
    FC_TRY(store_records());
    FC_TRY(store_log_and_conflicts());
    FC_TRY(audit_writes());
    // The new cases are this worker's for the rest of the request (savepoint failures after
    // this point abort the whole request).
    ctx_.visible.insert(access_.new_cases().begin(), access_.new_cases().end());
    for (const auto& case_id : access_.new_cases()) ctx_.relations[case_id] = Relation::own;
    FC_TRY(record_claimed_times(deps_, ctx_, tx_.tx_id, order_, drafts_));
    return refresh_figures();
  }

 private:
  Status reject(std::string_view code, std::string reason) {
    rejection_ = sync::Rejection{tx_.tx_id, std::string(code), reason};
    return {Errc::validation, std::move(reason)};
  }
  Status reject(MergeRefusal refusal) { return reject(refusal.code, std::move(refusal.reason)); }

  Result<RecordDraft*> load(const std::string& id);
  Status merge_operation(std::size_t i);
  Status allocate_new_cases();
  Status apply_server_fixups(RecordDraft& w, std::vector<ServerFieldChange>& fixups);
  Status derive_and_validate(RecordDraft& w);
  Status check_authorisation(const RecordDraft& w);
  Status store_records();
  Status store_log_and_conflicts();
  Status audit_writes();
  Status refresh_figures();

  SyncDeps deps_;
  SyncRequestContext& ctx_;
  const sync::Transaction& tx_;
  std::optional<sync::Rejection>& rejection_;
  std::string& refused_case_;
  WriteAccess access_;
  CaseMerge merge_;
  std::map<std::string, RecordDraft> drafts_;
  std::vector<std::string> order_;  // records in the order the transaction first touched them
  std::vector<PendingEntry> server_entries_;  // fixups, after the merged entries
  std::vector<std::string> new_ops_;
  std::set<std::string> seen_ops_;
};

Result<RecordDraft*> TransactionApply::load(const std::string& id) {
  if (auto it = drafts_.find(id); it != drafts_.end()) return &it->second;
  auto found = deps_.store.find_record(id);
  if (!found.ok()) return found.status();
  order_.push_back(id);
  return &drafts_.emplace(id, RecordDraft::loaded(std::move(*found))).first->second;
}

Status TransactionApply::merge_operation(std::size_t i) {
  const sync::Op& op = tx_.ops[i];
  const std::string where = "ops[" + std::to_string(i) + "]";
  refused_case_.clear();
  if (!seen_ops_.insert(op.op_id).second) return {};  // repeated within the transaction
  auto applied = deps_.store.op_applied(op.op_id);
  if (!applied.ok()) return applied.status();
  if (*applied) return {};  // delivered before in another transaction
  new_ops_.push_back(op.op_id);

  if (auto refusal = merge_.check_op(op, where)) return reject(std::move(*refusal));
  const std::string case_id = CaseMerge::case_of(op);
  refused_case_ = case_id;  // a refusal from here on targets this case
  if (auto refusal = CaseMerge::check_case(op, where)) return reject(std::move(*refusal));
  auto allowed = access_.allowed(case_id, op);
  if (!allowed.ok()) return allowed.status();
  if (!*allowed) {
    return reject(kRejectOutOfScope,
                  where + ": case " + case_id + " is not allocated to this device's worker");
  }
  auto draft = load(op.record_id);
  if (!draft.ok()) return draft.status();
  RecordDraft& w = **draft;  // map nodes stay put while others are added
  const RecordDraft* child = nullptr;
  if (op.op == FieldChange::Op::create && !w.exists && op.kind != RecordKind::child) {
    auto loaded = load(case_id);
    if (!loaded.ok()) return loaded.status();
    child = *loaded;
  }
  if (auto refusal = merge_.apply(op, where, w, child)) return reject(std::move(*refusal));
  return {};
}

Status TransactionApply::allocate_new_cases() {
  for (const auto& case_id : access_.new_cases()) {
    auto seq = deps_.store.reserve_seqs(1);
    if (!seq.ok()) return seq.status();
    FC_TRY(deps_.store.put_allocation({case_id, ctx_.worker.id, *seq, ctx_.receipt_text}, ""));
    FC_TRY(deps_.store.append_audit({new_uuid_v7(deps_.clock), ctx_.receipt_text, "allocate",
                                     ctx_.device.id, ctx_.worker.id, case_id, tx_.tx_id,
                                     "a new child recorded on the device"}));
  }
  return {};
}

Status TransactionApply::apply_server_fixups(RecordDraft& w,
                                             std::vector<ServerFieldChange>& fixups) {
  for (auto& f : fixups) {
    LogEntry e;
    e.op = FieldChange::Op::set;
    e.record_id = w.after.id;
    e.kind = w.after.kind;
    e.case_id = w.after.case_id;
    e.field = f.field;
    e.value = f.state.value;
    e.hlc = f.state.hlc;
    e.author = f.state.author;
    e.at = ctx_.receipt_text;
    e.received_at = ctx_.receipt_text;
    server_entries_.push_back({std::move(e), false});
    w.changed_fields.insert(f.field);
    w.after.fields[f.field] = std::move(f.state);
  }
  return {};
}

// Server-maintained fields, then the shared validation of a record the transaction changed,
// judged as the worker's role on this device.
Status TransactionApply::derive_and_validate(RecordDraft& w) {
  if (!w.touched || !w.exists || w.after.deleted) return {};
  refused_case_ = w.after.case_id;
  if (w.after.kind == RecordKind::child) {
    auto fixups = allocation_fixups(deps_.store, deps_.hlc, w.after);
    if (!fixups.ok()) return fixups.status();
    FC_TRY(apply_server_fixups(w, *fixups));
  }
  auto derived = derived_fixups(deps_.hlc, w.after, deps_.options.timescales);
  FC_TRY(apply_server_fixups(w, derived));
  const Record after = w.after.to_record();
  const Record before = w.before.to_record();
  ValidationContext vc;
  vc.role = ctx_.worker.role;
  vc.now = ctx_.validation_now;
  vc.before = w.existed ? &before : nullptr;
  vc.writer_id = ctx_.worker.id;
  Status valid = validate_record(after, vc);
  if (!valid.ok()) {
    const bool immutable = w.existed && is_immutable(w.before);
    return reject(immutable ? kRejectImmutable : kRejectValidation, valid.message());
  }
  return check_authorisation(w);
}

// A valid move to authorised or returned still needs the matrix's permission for this case.
Status TransactionApply::check_authorisation(const RecordDraft& w) {
  if (w.after.kind != RecordKind::assessment || !w.changed_fields.contains("status")) return {};
  auto status = text_field(w.after, "status");
  auto was = w.existed ? text_field(w.before, "status") : std::nullopt;
  if (!status || (*status != kAssessmentAuthorised && *status != kAssessmentReturned) ||
      status == was) {
    return {};
  }
  auto relation = ctx_.relation(deps_.store, w.after.case_id);
  if (!relation.ok()) return relation.status();
  if (permits(ctx_.worker.role, Action::authorise_assessment, *relation)) return {};
  return reject(kRejectForbidden, "assessment.status: a " +
                                      std::string(to_string(ctx_.worker.role)) +
                                      " may not authorise or return assessments of this case");
}

// Everything holds: make it durable state. Records first (fields refer to them).
Status TransactionApply::store_records() {
  for (const auto& id : order_) {
    RecordDraft& w = drafts_.at(id);
    if (!w.touched) continue;
    FC_TRY(deps_.store.put_record(w.after));
    for (const auto& f : w.changed_fields) {
      FC_TRY(deps_.store.put_field(id, f, w.after.fields.at(f)));
    }
  }
  return {};
}

Status TransactionApply::store_log_and_conflicts() {
  std::vector<PendingEntry>& entries = merge_.entries();
  for (auto& e : server_entries_) entries.push_back(std::move(e));
  std::int64_t last_seq = 0;
  if (!entries.empty()) {
    auto first = deps_.store.reserve_seqs(static_cast<std::int64_t>(entries.size()));
    if (!first.ok()) return first.status();
    std::int64_t seq = *first;
    for (auto& p : entries) {
      p.entry.seq = seq++;
      FC_TRY(deps_.store.append_log(p.entry));
      if (p.resolves) {
        FC_TRY(deps_.store.resolve_conflicts(p.entry.record_id, p.entry.field, p.entry.seq,
                                             ctx_.receipt_text));
      }
    }
    last_seq = seq - 1;
  } else {
    auto head = deps_.store.head();
    if (!head.ok()) return head.status();
    last_seq = *head;
  }
  for (auto& c : merge_.conflicts()) {
    c.conflict.conflict_id = new_uuid_v7(deps_.clock);
    c.detected_seq = last_seq;
    FC_TRY(deps_.store.insert_conflict(c));
  }
  for (const auto& op_id : new_ops_) FC_TRY(deps_.store.put_op(op_id, tx_.tx_id));
  return {};
}

// One audit entry per case the transaction wrote, naming its record when it wrote one, and one
// per case written only by the reallocation grace.
Status TransactionApply::audit_writes() {
  for (const auto& case_id : access_.grace_cases()) {
    FC_TRY(deps_.store.append_audit({new_uuid_v7(deps_.clock), ctx_.receipt_text,
                                     "reallocation_grace", ctx_.device.id, ctx_.worker.id,
                                     case_id, tx_.tx_id,
                                     "accepted for a case no longer allocated to the worker"}));
  }
  std::map<std::string, std::vector<std::string>> written;  // case -> records
  for (const auto& id : order_) {
    const RecordDraft& w = drafts_.at(id);
    if (w.touched) written[w.after.case_id].push_back(id);
  }
  for (const auto& [case_id, records] : written) {
    std::string relation = "own";
    if (!access_.new_cases().contains(case_id)) {
      auto r = ctx_.relation(deps_.store, case_id);
      if (!r.ok()) return r.status();
      relation = std::string(to_string(*r));
    }
    FC_TRY(deps_.store.append_audit(
        {new_uuid_v7(deps_.clock), ctx_.receipt_text, "case_write", ctx_.device.id,
         ctx_.worker.id, case_id, tx_.tx_id, std::to_string(records.size()) + " records",
         records.size() == 1 ? records.front() : std::string(), "ok", relation}));
  }
  return {};
}

// The figures of every case the transaction changed, in the same store transaction. Only what
// the changed records feed is derived again (a visit leaves the assessments' facts, and the
// earlier visits', as they are).
Status TransactionApply::refresh_figures() {
  if (!deps_.options.maintain_figures) return {};
  std::vector<figures::ChangedRecord> changed;
  for (const auto& id : order_) {
    const RecordDraft& w = drafts_.at(id);
    if (w.touched && figures::affects_figures(w.after.kind)) {
      changed.push_back({w.after.case_id, id, w.after.kind});
      ctx_.figure_cases.insert(w.after.case_id);
    }
  }
  return figures::refresh_records(deps_.store, changed);
}

}  // namespace

Status apply_transaction(SyncDeps deps, SyncRequestContext& ctx, const sync::Transaction& tx,
                         std::optional<sync::Rejection>& rejection, std::string& refused_case) {
  TransactionApply apply(deps, ctx, tx, rejection, refused_case);
  return apply.run();
}

}  // namespace fieldcase::server::detail
