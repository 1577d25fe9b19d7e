#include "fieldcase/server/sync_service.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "fieldcase/calendar.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/figures.hpp"
#include "fieldcase/server/permissions.hpp"
#include "fieldcase/server/tokens.hpp"
#include "server_changes.hpp"

namespace fieldcase::server {
namespace {

using std::chrono::system_clock;

std::int64_t to_ms(system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::int64_t ms_of(std::chrono::seconds s) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(s).count();
}

std::optional<std::string_view> text_field(const StoredRecord& r, std::string_view field) {
  auto it = r.fields.find(field);
  if (it == r.fields.end()) return std::nullopt;
  if (auto s = std::get_if<std::string>(&it->second.value)) return std::string_view(*s);
  return std::nullopt;
}

// Completed notes and authorised assessments are facts: no later change may alter them.
bool is_immutable(const StoredRecord& r) {
  auto status = text_field(r, "status");
  if (!status) return false;
  return (r.kind == RecordKind::case_note && *status == "completed") ||
         (r.kind == RecordKind::assessment && *status == kAssessmentAuthorised);
}

std::optional<std::int64_t> date_start_ms(std::string_view date) {
  auto d = Date::parse(date);
  if (!d.ok()) return std::nullopt;
  return std::int64_t{d->days_since_epoch()} * 86'400'000;
}

// Audit details quote hostile input too (field names, decoder messages): bounded, control
// characters replaced, valid UTF-8.
std::string audit_detail(std::string_view detail) {
  std::string clean;
  for (unsigned char c : detail.substr(0, 300)) {
    clean += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  if (!is_valid_utf8(clean)) clean = "(not UTF-8)";
  return clean;
}

// A record as a transaction sees it while its operations are applied.
struct Work {
  bool existed = false;  // in the store before this transaction
  StoredRecord before;   // valid when existed
  StoredRecord after;
  bool exists = false;  // existed, or created by this transaction
  bool touched = false;
  std::set<std::string> changed_fields;
  std::set<std::string> claimed_fields;  // time fields this device's winning operations set
};

struct PendingEntry {
  LogEntry entry;
  bool resolves = false;  // a sequential write: settles the field's open conflicts
};

}  // namespace

bool is_claimed_time(RecordKind kind, std::string_view field) noexcept {
  switch (kind) {
    case RecordKind::assessment:
      return field == "completed_at" || field == "authorised_at";
    case RecordKind::visit:
      return field == "start_at";
    case RecordKind::case_note:
      return field == "contact_at";
    default:
      return false;
  }
}

struct SyncService::RequestContext {
  Device device;
  Worker worker;
  std::set<std::string> visible;
  std::map<std::string, HeldState> held;
  system_clock::time_point receipt;
  std::string receipt_text;
  std::int64_t receipt_ms = 0;
  std::string device_time;
  std::int64_t offset_ms = 0;
  system_clock::time_point validation_now;
  std::set<std::string> request_tx_ids;
  std::map<std::string, Relation> relations;  // case -> how it relates to the worker
  std::set<std::string> figure_cases;         // cases whose figure facts a transaction refreshed

  // How `case_id` relates to the worker (permissions.hpp), computed once per request.
  Result<Relation> relation(ServerStore& store, const std::string& case_id) {
    if (auto it = relations.find(case_id); it != relations.end()) return it->second;
    auto r = case_relation(store, worker, case_id);
    if (!r.ok()) return r.status();
    relations.emplace(case_id, *r);
    return *r;
  }
};

SyncService::SyncService(ServerStore& store, const Clock& clock, ServiceOptions options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      hlc_(clock, "server",
           std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_stamp_ahead)) {}

Result<std::optional<AuthenticatedDevice>> SyncService::authenticate(std::string_view token) {
  if (!looks_like_token(token)) return std::optional<AuthenticatedDevice>();
  const std::string hash = token_hash(token);
  std::lock_guard lock(mu_);
  auto device = store_.find_device_by_token_hash(hash);
  if (!device.ok()) return device.status();
  if (!*device) return std::optional<AuthenticatedDevice>();
  const DeviceStatus status = (*device)->status;
  return std::optional<AuthenticatedDevice>(AuthenticatedDevice{
      (*device)->id, (*device)->worker_id,
      status == DeviceStatus::revoked || status == DeviceStatus::retired, status});
}

Result<sync::Instruction> SyncService::refuse(const AuthenticatedDevice& device,
                                              system_clock::time_point receipt) {
  const std::string reason = device.status == DeviceStatus::retired
                                 ? "this device has been retired"
                                 : "this device has been revoked";
  FC_TRY(audit("wipe_sent", &device, to_string(device.status), receipt));
  return sync::Instruction{sync::Instruction::Type::wipe, "", reason};
}

Result<std::optional<DeviceStatus>> SyncService::report_wipe(std::string_view proof,
                                                             system_clock::time_point receipt) {
  // The proof is the token's hash as the server stores it (sync::wipe_proof).
  if (!sync::looks_like_wipe_proof(proof)) return std::optional<DeviceStatus>();
  std::lock_guard lock(mu_);
  std::optional<DeviceStatus> after;
  Status st = store_.transaction([&]() -> Status {
    after.reset();
    auto found = store_.find_device_by_token_hash(proof);
    if (!found.ok()) return found.status();
    if (!*found) return {};
    Device device = std::move(**found);
    const std::string at = format_iso_datetime(receipt);
    const std::string before(to_string(device.status));
    if (device.status == DeviceStatus::active || device.status == DeviceStatus::retiring) {
      // Its token went with its data: nothing it sent from now on could be trusted.
      device.status = DeviceStatus::revoked;
      device.revoked_at = at;
      FC_TRY(store_.update_device(device));
    }
    after = device.status;
    return store_.append_audit({new_uuid_v7(clock_), at, "device_wiped", device.id,
                                device.worker_id, "", "", "reported by the device; was " + before});
  });
  if (!st.ok()) return st;
  return after;
}

Status SyncService::audit(std::string_view event, const AuthenticatedDevice* device,
                          std::string_view detail, system_clock::time_point at) {
  const std::string clean = audit_detail(detail);
  std::lock_guard lock(mu_);
  return store_.transaction([&] {
    return store_.append_audit({new_uuid_v7(clock_), format_iso_datetime(at), std::string(event),
                                device ? device->device_id : std::string(),
                                device ? device->worker_id : std::string(), "", "", clean});
  });
}

Result<sync::SyncResponse> SyncService::handle(const AuthenticatedDevice& device,
                                               const sync::SyncRequest& request,
                                               system_clock::time_point receipt) {
  if (request.protocol != sync::kProtocolVersion) {
    return Status(Errc::unsupported,
                  "protocol version " + std::to_string(request.protocol) + " is not supported");
  }
  std::unique_lock lock(mu_);
  sync::SyncResponse response;
  std::vector<std::string> figure_cases;
  Status st = store_.transaction([&]() -> Status {
    response = sync::SyncResponse{};
    RequestContext ctx;
    ctx.device.id = device.device_id;
    ctx.receipt = receipt;
    ctx.receipt_ms = to_ms(receipt);
    ctx.receipt_text = format_iso_datetime(receipt);
    ctx.device_time = request.device_time;
    Status handled = handle_locked(ctx, request, response);
    figure_cases.assign(ctx.figure_cases.begin(), ctx.figure_cases.end());
    return handled;
  });
  if (!st.ok()) return st;
  lock.unlock();
  if (!figure_cases.empty() && figures_listener_) figures_listener_(figure_cases);
  response.server_time = format_iso_datetime(clock_.wall());
  return response;
}

Status SyncService::handle_locked(RequestContext& ctx, const sync::SyncRequest& request,
                                  sync::SyncResponse& response) {
  auto device = store_.find_device(ctx.device.id);
  if (!device.ok()) return device.status();
  if (!*device) return {Errc::unauthenticated, "the device is not known to this server"};
  ctx.device = std::move(**device);
  response.cursor = request.cursor;

  if (ctx.device.status == DeviceStatus::revoked || ctx.device.status == DeviceStatus::retired) {
    // Revoked or retired since the token was checked: nothing is applied (see refuse()).
    return {Errc::unauthenticated,
            "this device has been " + std::string(to_string(ctx.device.status))};
  }
  auto worker = store_.find_worker(ctx.device.worker_id);
  if (!worker.ok()) return worker.status();
  if (!*worker) return {Errc::integrity, "a device names an unknown worker"};
  ctx.worker = std::move(**worker);

  // The clock: one more sample for the running offset estimate.
  auto device_ms = parse_iso_millis(request.device_time);
  if (!device_ms) return {Errc::invalid_argument, "request.device_time must be a UTC time"};
  ClockEstimate estimate = update_clock_estimate(
      ctx.device.clock_samples, ClockSample{ctx.receipt_ms, *device_ms - ctx.receipt_ms},
      options_.clock);
  ctx.device.clock_samples = estimate.samples;
  ctx.device.clock_offset_ms = estimate.offset_ms;
  ctx.device.last_sync_at = ctx.receipt_text;
  FC_TRY(store_.update_device(ctx.device));
  ctx.offset_ms = estimate.offset_ms;
  // "Not in the future" is judged against the later of the server's clock and the device's:
  // a device whose clock runs fast is not refused work its own clock allowed; its claimed
  // times are corrected and flagged instead.
  ctx.validation_now =
      std::max(ctx.receipt, system_clock::time_point(std::chrono::milliseconds(*device_ms)));

  auto visible = store_.visible_cases(ctx.worker);
  if (!visible.ok()) return visible.status();
  ctx.visible = std::move(*visible);
  auto held = store_.device_cases(ctx.device.id);
  if (!held.ok()) return held.status();
  ctx.held = std::move(*held);

  for (const auto& tx : request.transactions) {
    ctx.request_tx_ids.insert(tx.tx_id);
    FC_TRY(process_transaction(ctx, tx, response));
  }
  FC_TRY(pull(ctx, request, response));
  response.offline_limit_days = options_.offline_limit_days;

  if (ctx.device.status == DeviceStatus::retiring) {
    // Staff leaving: the work above was accepted as usual; the device is told to erase itself
    // and, once it has nothing left to send, is retired.
    response.instructions.push_back(
        {sync::Instruction::Type::wipe, "", "this device has been retired"});
    FC_TRY(store_.append_audit({new_uuid_v7(clock_), ctx.receipt_text, "wipe_sent", ctx.device.id,
                                ctx.worker.id, "", "", "retiring"}));
    if (request.transactions.empty()) {
      ctx.device.status = DeviceStatus::retired;
      ctx.device.revoked_at = ctx.receipt_text;
      FC_TRY(store_.update_device(ctx.device));
      FC_TRY(store_.append_audit({new_uuid_v7(clock_), ctx.receipt_text, "device_retired",
                                  ctx.device.id, ctx.worker.id, "", "", ""}));
    }
  }
  return {};
}

Status SyncService::process_transaction(RequestContext& ctx, const sync::Transaction& tx,
                                        sync::SyncResponse& response) {
  auto previous = store_.find_tx(tx.tx_id);
  if (!previous.ok()) return previous.status();
  if (*previous) {
    const TxOutcome& p = **previous;
    if (p.device_id != ctx.device.id) {
      response.rejected.push_back({tx.tx_id, std::string(kRejectBadRequest),
                                   "this transaction id was already used by another device"});
    } else if (p.accepted) {
      response.accepted.push_back(tx.tx_id);
    } else {
      response.rejected.push_back({tx.tx_id, p.code, p.reason});
    }
    return {};
  }

  std::optional<sync::Rejection> rejection;
  std::string refused_case;
  Status applied =
      store_.transaction([&] { return apply_transaction(ctx, tx, rejection, refused_case); });
  if (!applied.ok() && !rejection) return applied;

  TxOutcome outcome;
  outcome.tx_id = tx.tx_id;
  outcome.device_id = ctx.device.id;
  outcome.accepted = !rejection.has_value();
  outcome.op_count = static_cast<std::int64_t>(tx.ops.size());
  outcome.device_time = ctx.device_time;
  outcome.received_at = ctx.receipt_text;
  if (rejection) {
    outcome.code = rejection->code;
    outcome.reason = rejection->reason;
  }
  FC_TRY(store_.put_tx(outcome));
  if (rejection) {
    // Every refusal is audited; the reason names a field and a rule, never a value.
    const bool refused_access =
        rejection->code == kRejectOutOfScope || rejection->code == kRejectForbidden;
    FC_TRY(store_.append_audit(
        {new_uuid_v7(clock_), ctx.receipt_text, refused_access ? rejection->code : "tx_rejected",
         ctx.device.id, ctx.worker.id, refused_case, tx.tx_id,
         audit_detail(refused_access ? rejection->reason
                                     : rejection->code + ": " + rejection->reason),
         "", "refused"}));
    response.rejected.push_back(std::move(*rejection));
  } else {
    response.accepted.push_back(tx.tx_id);
  }
  return {};
}

Status SyncService::apply_transaction(RequestContext& ctx, const sync::Transaction& tx,
                                      std::optional<sync::Rejection>& rejection,
                                      std::string& refused_case) {
  auto reject = [&](std::string_view code, std::string reason) -> Status {
    rejection = sync::Rejection{tx.tx_id, std::string(code), reason};
    return {Errc::validation, std::move(reason)};
  };

  std::map<std::string, Work> work;
  std::vector<std::string> order;  // records in the order the transaction first touched them
  std::vector<PendingEntry> entries;
  std::vector<StoredConflict> conflicts;
  std::vector<std::string> new_ops;
  std::set<std::string> seen_ops;
  std::set<std::string> grace_cases;
  std::set<std::string> new_cases;  // brand-new children: allocated to this worker on commit

  // Whether this worker may write `op` on the case: the permission matrix for the record's
  // kind and the case's relation to the worker, the grace period after a reallocation, or a
  // brand-new child recorded in the field.
  std::map<std::string, bool> grace_ok;  // case -> held and within the grace period
  auto case_allowed = [&](const std::string& case_id, const sync::Op& op) -> Result<bool> {
    if (new_cases.contains(case_id))
      return permits(ctx.worker.role, write_action(op.kind), Relation::own);
    auto relation = ctx.relation(store_, case_id);
    if (!relation.ok()) return relation.status();
    const Action action = write_action(op.kind);
    if (permits(ctx.worker.role, action, *relation)) return true;
    if (!permits(ctx.worker.role, action, Relation::own)) return false;
    if (ctx.held.contains(case_id)) {
      auto it = grace_ok.find(case_id);
      if (it == grace_ok.end()) {
        // Reallocated away: the device's work on it from before the reallocation is still
        // accepted for a grace period, if the worker could write it then.
        bool ok = false;
        auto allocation = store_.find_allocation(case_id);
        if (!allocation.ok()) return allocation.status();
        if (*allocation) {
          auto since = parse_iso_millis((*allocation)->allocated_at);
          auto grace =
              std::chrono::duration_cast<std::chrono::milliseconds>(options_.reallocation_grace)
                  .count();
          ok = since && ctx.receipt_ms - *since <= grace;
        }
        if (ok) {
          auto previous = store_.previous_worker(case_id);
          if (!previous.ok()) return previous.status();
          auto before = worker_relation(store_, ctx.worker, *previous);
          if (!before.ok()) return before.status();
          ok = permits(ctx.worker.role, action, *before);
        }
        it = grace_ok.emplace(case_id, ok).first;
      }
      if (it->second) {
        grace_cases.insert(case_id);
        return true;
      }
    }
    if (op.kind == RecordKind::child && op.op == FieldChange::Op::create) {
      // A child the server has never seen nor allocated (a device picks a new child's id
      // itself): recorded in the field by this worker, so the case becomes theirs.
      auto allocation = store_.find_allocation(case_id);
      if (!allocation.ok()) return allocation.status();
      auto existing = store_.find_record(case_id);
      if (!existing.ok()) return existing.status();
      if (!*allocation && !*existing) {
        new_cases.insert(case_id);
        return true;
      }
    }
    return false;
  };

  auto load = [&](const std::string& id) -> Result<Work*> {
    if (auto it = work.find(id); it != work.end()) return &it->second;
    auto found = store_.find_record(id);
    if (!found.ok()) return found.status();
    Work w;
    if (*found) {
      w.existed = w.exists = true;
      w.before = **found;
      w.after = std::move(**found);
    }
    order.push_back(id);
    return &work.emplace(id, std::move(w)).first->second;
  };

  auto add_conflict = [&](const StoredRecord& r, const std::string& field, const Value& kept,
                          const std::string& kept_hlc, const Value& lost,
                          const std::string& lost_hlc, const std::string& lost_author,
                          const std::string& lost_device) {
    StoredConflict c;
    c.conflict.conflict_id = new_uuid_v7(clock_);
    c.conflict.record_id = r.id;
    c.conflict.case_id = r.case_id;
    c.conflict.field = field;
    c.conflict.kept = kept;
    c.conflict.kept_hlc = kept_hlc;
    c.conflict.lost = lost;
    c.conflict.lost_hlc = lost_hlc;
    c.conflict.lost_author = lost_author;
    c.lost_device = lost_device;
    c.detected_at = ctx.receipt_text;
    conflicts.push_back(std::move(c));
  };

  for (std::size_t i = 0; i < tx.ops.size(); ++i) {
    const sync::Op& op = tx.ops[i];
    const std::string where = "ops[" + std::to_string(i) + "]";
    refused_case.clear();
    if (!seen_ops.insert(op.op_id).second) continue;  // repeated within the transaction
    auto applied = store_.op_applied(op.op_id);
    if (!applied.ok()) return applied.status();
    if (*applied) continue;  // delivered before in another transaction
    new_ops.push_back(op.op_id);

    // Clock stamps: the sending device's own, and not beyond the skew allowed ahead of now.
    {
      auto stamp = HlcStamp::parse(op.hlc);
      if (!stamp.ok()) return reject(kRejectBadRequest, where + ".hlc is not a clock stamp");
      if (stamp->device != ctx.device.id) {
        return reject(kRejectForeignStamp,
                      where + ".hlc: the stamp's node is not this device (a device stamps its "
                              "changes with its own id)");
      }
      if (stamp->wall_ms - ctx.receipt_ms > ms_of(options_.max_stamp_ahead)) {
        return reject(kRejectClockAhead,
                      where + ".hlc: the stamp is more than " +
                          std::to_string(options_.max_stamp_ahead.count()) +
                          " s ahead of the server's time; set the device's clock right");
      }
    }

    const KindSpec& spec = kind_spec(op.kind);
    if (!spec.case_scoped) {
      return reject(kRejectOutOfScope, where + ": " + std::string(to_string(op.kind)) +
                                           " records are maintained by administrators");
    }
    if (op.kind == RecordKind::child && !op.case_id.empty() && op.case_id != op.record_id) {
      return reject(kRejectBadRequest, where + ": a child's case_id is its own id");
    }
    const std::string case_id = op.kind == RecordKind::child ? op.record_id : op.case_id;
    refused_case = case_id;  // a refusal from here on targets this case
    if (case_id.empty()) {
      return reject(kRejectBadRequest, where + ".case_id is required for " +
                                           std::string(to_string(op.kind)) + " records");
    }
    auto allowed = case_allowed(case_id, op);
    if (!allowed.ok()) return allowed.status();
    // The server-ordered log entry of this device operation, attributed to worker and device.
    auto device_entry = [&](const sync::Op& o) {
      LogEntry e;
      e.op_id = o.op_id;
      e.tx_id = tx.tx_id;
      e.op = o.op;
      e.record_id = o.record_id;
      e.kind = o.kind;
      e.case_id = case_id;
      e.hlc = o.hlc;
      e.author = ctx.worker.id;
      e.device_id = ctx.device.id;
      e.at = o.at;
      e.received_at = ctx.receipt_text;
      return e;
    };
    if (!*allowed) {
      return reject(kRejectOutOfScope,
                    where + ": case " + case_id + " is not allocated to this device's worker");
    }

    auto loaded = load(op.record_id);
    if (!loaded.ok()) return loaded.status();
    Work& w = **loaded;
    if (w.exists) {
      if (w.after.kind != op.kind) {
        return reject(kRejectBadRequest, where + ": record " + op.record_id + " is a " +
                                             std::string(to_string(w.after.kind)) + ", not a " +
                                             std::string(to_string(op.kind)));
      }
      if (w.after.case_id != case_id) {
        return reject(kRejectBadRequest,
                      where + ": record " + op.record_id + " belongs to another case");
      }
    }

    switch (op.op) {
      case FieldChange::Op::create: {
        if (w.exists) break;  // already there: creating it again changes nothing
        if (op.kind != RecordKind::child) {
          // A record belongs to a child that exists (on the server or earlier in this
          // transaction), as on the device.
          auto child = load(case_id);
          if (!child.ok()) return child.status();
          const Work& c = **child;
          if (!c.exists || c.after.kind != RecordKind::child || c.after.deleted) {
            return reject(kRejectValidation,
                          std::string(to_string(op.kind)) + ".case_id: names no child");
          }
        }
        w.exists = w.touched = true;
        w.after.id = op.record_id;
        w.after.kind = op.kind;
        w.after.case_id = case_id;
        w.after.created_at = w.after.updated_at = op.at;
        w.after.created_by = w.after.updated_by = ctx.worker.id;
        w.after.created_hlc = op.hlc;
        LogEntry e = device_entry(op);
        entries.push_back({std::move(e), false});
        break;
      }
      case FieldChange::Op::remove: {
        if (!w.exists) {
          return reject(kRejectBadRequest, where + ": record " + op.record_id + " does not exist");
        }
        if (w.after.deleted) break;
        if (is_immutable(w.after)) {
          return reject(kRejectImmutable, where + ": " + std::string(to_string(op.kind)) +
                                              (op.kind == RecordKind::case_note
                                                   ? " is completed and cannot be deleted"
                                                   : " is authorised and cannot be deleted"));
        }
        w.after.deleted = true;
        w.after.deleted_hlc = op.hlc;
        w.after.updated_at = op.at;
        w.after.updated_by = ctx.worker.id;
        w.touched = true;
        LogEntry e = device_entry(op);
        entries.push_back({std::move(e), false});
        break;
      }
      case FieldChange::Op::set: {
        if (!w.exists) {
          return reject(kRejectBadRequest,
                        where + ": record " + op.record_id + " does not exist (create it first)");
        }
        const FieldSpec* fs = find_field(spec, op.field);
        if (fs == nullptr) {
          return reject(kRejectValidation, std::string(to_string(op.kind)) + "." + op.field +
                                               ": is not a field of this kind of record");
        }
        auto it = w.after.fields.find(op.field);
        const bool has_current = it != w.after.fields.end();
        if (fs->maintained == Maintained::at_creation && w.existed &&
            (has_current ? it->second.value : Value{}) != op.value) {
          // Stamped by the device that created the record, from what only it had: a later
          // change can only be a rewrite of history.
          return reject(kRejectMaintained,
                        std::string(to_string(op.kind)) + "." + op.field +
                            ": is set when the record is created and cannot be changed");
        }
        // Derived fields follow the fields they derive from (the server derives them again
        // below): they change without conflicts of their own, like the server's fields.
        const bool server_field = detail::is_server_field(op.kind, op.field) ||
                                  fs->maintained == Maintained::derived;
        if (w.after.deleted) {
          // A change to a deleted record cannot take effect; its value is kept as a conflict.
          if (!is_null(op.value) && !server_field) {
            add_conflict(w.after, op.field, Value{}, w.after.deleted_hlc, op.value, op.hlc,
                         ctx.worker.id, ctx.device.id);
          }
          break;
        }
        const std::string current_hlc = has_current ? it->second.hlc : std::string();
        if (op.hlc == current_hlc) break;  // this very change is already the current value
        // The device wrote over a value it had not seen: the two edits were concurrent.
        const bool concurrent = has_current && op.base != current_hlc;
        if (op.hlc > current_hlc) {
          if (concurrent && !server_field && it->second.value != op.value) {
            add_conflict(w.after, op.field, op.value, op.hlc, it->second.value, it->second.hlc,
                         it->second.author, "");
          }
          w.after.fields[op.field] = FieldState{op.value, op.hlc, ctx.worker.id};
          w.after.updated_at = op.at;
          w.after.updated_by = ctx.worker.id;
          w.touched = true;
          w.changed_fields.insert(op.field);
          if (is_claimed_time(op.kind, op.field)) w.claimed_fields.insert(op.field);
          LogEntry e = device_entry(op);
          e.field = op.field;
          e.value = op.value;
          // A sequential write to a field that had a value settles its open conflicts.
          entries.push_back({std::move(e), has_current && !concurrent});
        } else if (!server_field && it->second.value != op.value) {
          // The incoming value lost to a later stamp: kept as a conflict, never dropped.
          add_conflict(w.after, op.field, it->second.value, it->second.hlc, op.value, op.hlc,
                       ctx.worker.id, ctx.device.id);
        }
        break;
      }
    }
  }

  for (const auto& case_id : new_cases) {
    auto seq = store_.reserve_seqs(1);
    if (!seq.ok()) return seq.status();
    FC_TRY(store_.put_allocation({case_id, ctx.worker.id, *seq, ctx.receipt_text}, ""));
    FC_TRY(store_.append_audit({new_uuid_v7(clock_), ctx.receipt_text, "allocate", ctx.device.id,
                                ctx.worker.id, case_id, tx.tx_id,
                                "a new child recorded on the device"}));
  }

  // Server-maintained fields, then the shared validation of every record the transaction
  // changed, judged as the worker's role on this device.
  for (const auto& id : order) {
    Work& w = work.at(id);
    if (!w.touched || !w.exists || w.after.deleted) continue;
    refused_case = w.after.case_id;
    auto apply_fixups = [&](std::vector<detail::ServerFieldChange>& fixups) {
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
        e.at = ctx.receipt_text;
        e.received_at = ctx.receipt_text;
        entries.push_back({std::move(e), false});
        w.changed_fields.insert(f.field);
        w.after.fields[f.field] = std::move(f.state);
      }
    };
    if (w.after.kind == RecordKind::child) {
      auto fixups = detail::allocation_fixups(store_, hlc_, w.after);
      if (!fixups.ok()) return fixups.status();
      apply_fixups(*fixups);
    }
    auto derived = detail::derived_fixups(hlc_, w.after, options_.timescales);
    apply_fixups(derived);
    const Record after = w.after.to_record();
    const Record before = w.before.to_record();
    ValidationContext vc;
    vc.role = ctx.worker.role;
    vc.now = ctx.validation_now;
    vc.before = w.existed ? &before : nullptr;
    vc.writer_id = ctx.worker.id;
    Status valid = validate_record(after, vc);
    if (!valid.ok()) {
      const bool immutable = w.existed && is_immutable(w.before);
      return reject(immutable ? kRejectImmutable : kRejectValidation, valid.message());
    }
    // A valid move to authorised or returned still needs the matrix's permission for this case.
    if (w.after.kind == RecordKind::assessment && w.changed_fields.contains("status")) {
      auto status = text_field(w.after, "status");
      auto was = w.existed ? text_field(w.before, "status") : std::nullopt;
      if (status && (*status == kAssessmentAuthorised || *status == kAssessmentReturned) &&
          status != was) {
        auto relation = ctx.relation(store_, w.after.case_id);
        if (!relation.ok()) return relation.status();
        if (!permits(ctx.worker.role, Action::authorise_assessment, *relation)) {
          return reject(kRejectForbidden,
                        "assessment.status: a " + std::string(to_string(ctx.worker.role)) +
                            " may not authorise or return assessments of this case");
        }
      }
    }
  }

  // Everything holds: make it durable state. Records first (fields refer to them).
  for (const auto& id : order) {
    Work& w = work.at(id);
    if (!w.touched) continue;
    FC_TRY(store_.put_record(w.after));
    for (const auto& f : w.changed_fields) FC_TRY(store_.put_field(id, f, w.after.fields.at(f)));
  }
  std::int64_t last_seq = 0;
  if (!entries.empty()) {
    auto first = store_.reserve_seqs(static_cast<std::int64_t>(entries.size()));
    if (!first.ok()) return first.status();
    std::int64_t seq = *first;
    for (auto& p : entries) {
      p.entry.seq = seq++;
      FC_TRY(store_.append_log(p.entry));
      if (p.resolves) {
        FC_TRY(store_.resolve_conflicts(p.entry.record_id, p.entry.field, p.entry.seq,
                                        ctx.receipt_text));
      }
    }
    last_seq = seq - 1;
  } else {
    auto head = store_.head();
    if (!head.ok()) return head.status();
    last_seq = *head;
  }
  for (auto& c : conflicts) {
    c.detected_seq = last_seq;
    FC_TRY(store_.insert_conflict(c));
  }
  for (const auto& op_id : new_ops) FC_TRY(store_.put_op(op_id, tx.tx_id));
  for (const auto& case_id : grace_cases) {
    FC_TRY(store_.append_audit({new_uuid_v7(clock_), ctx.receipt_text, "reallocation_grace",
                                ctx.device.id, ctx.worker.id, case_id, tx.tx_id,
                                "accepted for a case no longer allocated to the worker"}));
  }

  // One audit entry per case the transaction wrote, naming its record when it wrote one.
  std::map<std::string, std::vector<std::string>> written;  // case -> records
  for (const auto& id : order) {
    const Work& w = work.at(id);
    if (w.touched) written[w.after.case_id].push_back(id);
  }
  for (const auto& [case_id, records] : written) {
    std::string relation = "own";
    if (!new_cases.contains(case_id)) {
      auto r = ctx.relation(store_, case_id);
      if (!r.ok()) return r.status();
      relation = std::string(to_string(*r));
    }
    FC_TRY(store_.append_audit(
        {new_uuid_v7(clock_), ctx.receipt_text, "case_write", ctx.device.id, ctx.worker.id, case_id,
         tx.tx_id, std::to_string(records.size()) + " records",
         records.size() == 1 ? records.front() : std::string(), "ok", relation}));
  }

  // The new cases are this worker's for the rest of the request (savepoint failures after
  // this point abort the whole request).
  ctx.visible.insert(new_cases.begin(), new_cases.end());
  for (const auto& case_id : new_cases) ctx.relations[case_id] = Relation::own;

  // Claimed times: corrected by the device's offset and checked for plausibility.
  auto corrected_of = [&](const std::string& record_id,
                          std::string_view field) -> Result<std::optional<std::int64_t>> {
    if (auto it = work.find(record_id);
        it != work.end() && it->second.claimed_fields.count(std::string(field)) != 0) {
      auto t = text_field(it->second.after, field);
      auto ms = t ? parse_iso_millis(*t) : std::nullopt;
      return ms ? std::optional<std::int64_t>(*ms - ctx.offset_ms) : std::nullopt;
    }
    auto claim = store_.find_claimed_time(record_id, field);
    if (!claim.ok()) return claim.status();
    if (*claim) return parse_iso_millis((*claim)->corrected);
    auto record = store_.find_record(record_id);
    if (!record.ok()) return record.status();
    if (!*record) return std::optional<std::int64_t>();
    auto t = text_field(**record, field);
    return t ? parse_iso_millis(*t) : std::nullopt;
  };
  auto date_of_record = [&](const std::string& record_id,
                            std::string_view field) -> Result<std::optional<std::int64_t>> {
    if (auto it = work.find(record_id); it != work.end()) {
      auto t = text_field(it->second.after, field);
      return t ? date_start_ms(*t) : std::nullopt;
    }
    auto record = store_.find_record(record_id);
    if (!record.ok()) return record.status();
    if (!*record) return std::optional<std::int64_t>();
    auto t = text_field(**record, field);
    return t ? date_start_ms(*t) : std::nullopt;
  };

  for (const auto& id : order) {
    const Work& w = work.at(id);
    for (const auto& field : w.claimed_fields) {
      auto text = text_field(w.after, field);
      auto claimed_ms = text ? parse_iso_millis(*text) : std::nullopt;
      if (!claimed_ms) {
        FC_TRY(store_.delete_claimed_time(id, field));  // cleared (e.g. a returned assessment)
        continue;
      }
      ClaimedTime c;
      c.record_id = id;
      c.field = field;
      c.case_id = w.after.case_id;
      c.kind = w.after.kind;
      c.claimed = std::string(*text);
      const std::int64_t corrected = *claimed_ms - ctx.offset_ms;
      c.corrected = format_iso_millis(corrected);
      c.received_at = ctx.receipt_text;
      c.offset_ms = ctx.offset_ms;
      c.device_id = ctx.device.id;
      c.worker_id = ctx.worker.id;
      c.tx_id = tx.tx_id;
      const std::int64_t slack = ms_of(options_.plausibility_slack);
      c.after_receipt = corrected > ctx.receipt_ms + slack;
      c.large_offset = std::abs(ctx.offset_ms) > ms_of(options_.offset_threshold);
      // When did the work this time belongs to start?
      Result<std::optional<std::int64_t>> start = std::optional<std::int64_t>();
      if (w.after.kind == RecordKind::assessment && field == "completed_at") {
        start = date_of_record(id, "start_date");
      } else if (w.after.kind == RecordKind::assessment && field == "authorised_at") {
        start = corrected_of(id, "completed_at");
      } else if (w.after.kind == RecordKind::visit) {
        if (auto a = text_field(w.after, "assessment_id")) {
          start = date_of_record(std::string(*a), "start_date");
        }
      } else if (w.after.kind == RecordKind::case_note) {
        if (auto v = text_field(w.after, "visit_id")) {
          auto visit_start = corrected_of(std::string(*v), "start_at");
          if (!visit_start.ok()) return visit_start.status();
          // A note belongs to the day of its visit: compare with the start of that day.
          if (*visit_start) {
            std::int64_t day = 86'400'000;
            std::int64_t t = **visit_start;
            start = std::optional<std::int64_t>(t - ((t % day) + day) % day);
          }
        }
      }
      if (!start.ok()) return start.status();
      c.before_start = start->has_value() && corrected < **start - slack;
      FC_TRY(store_.put_claimed_time(c));
    }
  }

  // The figures of every case the transaction changed, in the same store transaction.
  if (!options_.maintain_figures) return {};
  // Only what the changed records feed is derived again (a visit leaves the assessments'
  // facts, and the earlier visits', as they are).
  std::vector<figures::ChangedRecord> changed;
  for (const auto& id : order) {
    const Work& w = work.at(id);
    if (w.touched && figures::affects_figures(w.after.kind)) {
      changed.push_back({w.after.case_id, id, w.after.kind});
      ctx.figure_cases.insert(w.after.case_id);
    }
  }
  return figures::refresh_records(store_, changed);
}

Status SyncService::pull(RequestContext& ctx, const sync::SyncRequest& request,
                         sync::SyncResponse& response) {
  // Purge instructions: cases this device may hold that its worker no longer sees. Repeated
  // until the device's cursor shows it has processed an answer past the reallocation.
  for (const auto& [case_id, state] : ctx.held) {
    if (ctx.visible.contains(case_id)) {
      if (state == HeldState::purged) {
        FC_TRY(store_.put_device_case(ctx.device.id, case_id, HeldState::held));
      }
      continue;
    }
    if (state == HeldState::purged) continue;
    auto allocation = store_.find_allocation(case_id);
    if (!allocation.ok()) return allocation.status();
    const std::int64_t moved_at = *allocation ? (*allocation)->seq : 0;
    if (request.cursor >= moved_at) {
      FC_TRY(store_.put_device_case(ctx.device.id, case_id, HeldState::purged));
    } else {
      response.instructions.push_back({sync::Instruction::Type::purge_case, case_id,
                                       "the case is no longer allocated to this worker"});
    }
  }
  for (const auto& case_id : ctx.visible) {
    if (!ctx.held.contains(case_id)) {
      FC_TRY(store_.put_device_case(ctx.device.id, case_id, HeldState::held));
    }
  }

  // One page of the log after the cursor.
  const std::size_t limit =
      std::clamp<std::size_t>(request.max_changes, 1, sync::kMaxChangesPerPage);
  auto page = store_.log_after(ctx.worker, request.cursor, limit, options_.max_page_bytes);
  if (!page.ok()) return page.status();
  auto head = store_.head();
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

  auto conflicts = store_.conflicts_for(ctx.worker, request.cursor);
  if (!conflicts.ok()) return conflicts.status();
  for (auto& c : *conflicts) response.conflicts.push_back(std::move(c.conflict));

  // One audit entry per case whose content this answer carries (changes or conflicts).
  std::map<std::string, std::pair<std::size_t, std::size_t>> read;  // case -> changes, conflicts
  for (const auto& c : response.changes) ++read[c.case_id].first;
  for (const auto& c : response.conflicts) ++read[c.case_id].second;
  for (const auto& [case_id, counts] : read) {
    auto relation = ctx.relation(store_, case_id);
    if (!relation.ok()) return relation.status();
    FC_TRY(store_.append_audit(
        {new_uuid_v7(clock_), ctx.receipt_text, "case_read", ctx.device.id, ctx.worker.id, case_id,
         "",
         std::to_string(counts.first) + " changes, " + std::to_string(counts.second) + " conflicts",
         "", "ok", std::string(to_string(*relation))}));
  }
  return {};
}

}  // namespace fieldcase::server
