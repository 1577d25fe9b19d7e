// The sync entry point: one request in one store transaction, its transactions each in a
// savepoint. The use cases it runs live in sync/ (context.hpp lists them).
#include "fieldcase/server/sync_service.hpp"
#include "fieldcase/server/tokens.hpp"

#include <vector>

#include "fieldcase/record_schema.hpp"
#include "sync/context.hpp"

namespace fieldcase::server {

SyncService::SyncService(ServerStore& store, const Clock& clock, ServiceOptions options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      hlc_(clock, new_server_node(),
           std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_stamp_ahead)) {}

detail::SyncDeps SyncService::deps() { return {store_, clock_, options_, hlc_}; }

Result<sync::SyncResponse> SyncService::handle(const AuthenticatedDevice& device,
                                               const sync::SyncRequest& request,
                                               std::chrono::system_clock::time_point receipt) {
  if (request.protocol != sync::kProtocolVersion) {
    return Status(Errc::unsupported,
                  "protocol version " + std::to_string(request.protocol) + " is not supported");
  }
  std::unique_lock lock(mu_);
  sync::SyncResponse response;
  std::vector<std::string> figure_cases;
  Status st = store_.transaction([&]() -> Status {
    response = sync::SyncResponse{};
    detail::SyncRequestContext ctx;
    ctx.device.id = device.device_id;
    ctx.receipt = receipt;
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

Status SyncService::handle_locked(detail::SyncRequestContext& ctx,
                                  const sync::SyncRequest& request,
                                  sync::SyncResponse& response) {
  response.cursor = request.cursor;
  FC_TRY(detail::open_request(deps(), ctx, request));
  for (const auto& tx : request.transactions) {
    ctx.request_tx_ids.insert(tx.tx_id);
    FC_TRY(process_transaction(ctx, tx, response));
  }
  FC_TRY(detail::pull(deps(), ctx, request, response));
  response.offline_limit_days = options_.offline_limit_days;
  return detail::finish_retiring(deps(), ctx, request, response);
}

Status SyncService::process_transaction(detail::SyncRequestContext& ctx,
                                        const sync::Transaction& tx,
                                        sync::SyncResponse& response) {
  auto previous = store_.find_tx(tx.tx_id);
  if (!previous.ok()) return previous.status();
  if (*previous) {
    // A retry gets the stored answer again.
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
  Status applied = store_.transaction(
      [&] { return detail::apply_transaction(deps(), ctx, tx, rejection, refused_case); });
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
  if (!rejection) {
    response.accepted.push_back(tx.tx_id);
    return {};
  }
  // Every refusal is audited; the reason names a field and a rule, never a value.
  const bool refused_access =
      rejection->code == kRejectOutOfScope || rejection->code == kRejectForbidden;
  FC_TRY(store_.append_audit(
      {new_uuid_v7(clock_), ctx.receipt_text, refused_access ? rejection->code : "tx_rejected",
       ctx.device.id, ctx.worker.id, refused_case, tx.tx_id,
       detail::audit_detail(refused_access ? rejection->reason
                                           : rejection->code + ": " + rejection->reason),
       "", "refused"}));
  response.rejected.push_back(std::move(*rejection));
  return {};
}

}  // namespace fieldcase::server
