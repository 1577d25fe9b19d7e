// Who is asking: the device's token, the device and worker behind a request, its clock sample,
// and the device's own end (refused, wiped, retiring).
#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/tokens.hpp"
#include "fieldcase/record_schema.hpp"
#include "sync/context.hpp"

namespace fieldcase::server {
namespace detail {
namespace {

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The clock: one more sample for the running offset estimate. "Not in the future" is judged
// against the later of the server's clock and the device's: a device whose clock runs fast is
// not refused work its own clock allowed; its claimed times are corrected and flagged instead.
Status sample_clock(SyncDeps deps, SyncRequestContext& ctx, const sync::SyncRequest& request) {
  auto device_ms = parse_iso_millis(request.device_time);
  if (!device_ms) return {Errc::invalid_argument, "request.device_time must be a UTC time"};
  ClockEstimate estimate = update_clock_estimate(
      ctx.device.clock_samples, ClockSample{ctx.receipt_ms, *device_ms - ctx.receipt_ms},
      deps.options.clock);
  ctx.device.clock_samples = estimate.samples;
  ctx.device.clock_offset_ms = estimate.offset_ms;
  ctx.device.last_sync_at = ctx.receipt_text;
  FC_TRY(deps.store.update_device(ctx.device));
  ctx.offset_ms = estimate.offset_ms;
  ctx.validation_now = std::max(
      ctx.receipt, std::chrono::system_clock::time_point(std::chrono::milliseconds(*device_ms)));
  return {};
}

}  // namespace

Result<Relation> SyncRequestContext::relation(ServerStore& store, const std::string& case_id) {
  if (auto it = relations.find(case_id); it != relations.end()) return it->second;
  auto r = case_relation(store, worker, case_id);
  if (!r.ok()) return r.status();
  relations.emplace(case_id, *r);
  return *r;
}

std::string audit_detail(std::string_view detail) {
  std::string clean;
  for (unsigned char c : detail.substr(0, 300)) {
    clean += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  if (!is_valid_utf8(clean)) clean = "(not UTF-8)";
  return clean;
}

Status open_request(SyncDeps deps, SyncRequestContext& ctx, const sync::SyncRequest& request) {
  ctx.receipt_ms = to_ms(ctx.receipt);
  ctx.receipt_text = format_iso_datetime(ctx.receipt);
  ctx.device_time = request.device_time;
  auto device = deps.store.find_device(ctx.device.id);
  if (!device.ok()) return device.status();
  if (!*device) return {Errc::unauthenticated, "the device is not known to this server"};
  ctx.device = std::move(**device);
  if (ctx.device.status == DeviceStatus::revoked || ctx.device.status == DeviceStatus::retired) {
    // Revoked or retired since the token was checked: nothing is applied (see refuse()).
    return {Errc::unauthenticated,
            "this device has been " + std::string(to_string(ctx.device.status))};
  }
  auto worker = deps.store.find_worker(ctx.device.worker_id);
  if (!worker.ok()) return worker.status();
  if (!*worker) return {Errc::integrity, "a device names an unknown worker"};
  ctx.worker = std::move(**worker);
  FC_TRY(sample_clock(deps, ctx, request));
  auto visible = deps.store.visible_cases(ctx.worker);
  if (!visible.ok()) return visible.status();
  ctx.visible = std::move(*visible);
  auto held = deps.store.device_cases(ctx.device.id);
  if (!held.ok()) return held.status();
  ctx.held = std::move(*held);
  return {};
}

Status finish_retiring(SyncDeps deps, SyncRequestContext& ctx, const sync::SyncRequest& request,
                       sync::SyncResponse& response) {
  if (ctx.device.status != DeviceStatus::retiring) return {};
  // Staff leaving: the work of the request was accepted as usual; the device is told to erase
  // itself and, once it has nothing left to send, is retired.
  response.instructions.push_back(
      {sync::Instruction::Type::wipe, "", "this device has been retired"});
  FC_TRY(deps.store.append_audit({new_uuid_v7(deps.clock), ctx.receipt_text, "wipe_sent",
                                  ctx.device.id, ctx.worker.id, "", "", "retiring"}));
  if (!request.transactions.empty()) return {};
  ctx.device.status = DeviceStatus::retired;
  ctx.device.revoked_at = ctx.receipt_text;
  FC_TRY(deps.store.update_device(ctx.device));
  return deps.store.append_audit({new_uuid_v7(deps.clock), ctx.receipt_text, "device_retired",
                                  ctx.device.id, ctx.worker.id, "", "", ""});
}

}  // namespace detail

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

Result<std::optional<int>> SyncService::admit_request(std::string_view device_id, int per_minute,
                                                      int burst) {
  if (per_minute <= 0) return std::optional<int>();
  constexpr std::int64_t kMinute = 60'000;
  constexpr std::int64_t kBurstWindow = 10'000;
  const std::int64_t now_ms = detail::to_ms(clock_.wall());
  std::lock_guard lock(mu_);
  if (now_ms - last_prune_ms_ >= 10 * kMinute) {
    // Windows that have ended, and figure changes every dashboard has long since read.
    last_prune_ms_ = now_ms;
    FC_TRY(store_.forget_request_windows(now_ms - 2 * kMinute));
    FC_TRY(store_.prune_figure_changes(now_ms - 60 * kMinute));
  }
  struct Window {
    const char* suffix;
    std::int64_t length;
    int limit;
  };
  for (const Window& w : {Window{"/m", kMinute, per_minute}, Window{"/10s", kBurstWindow, burst}}) {
    if (w.limit <= 0) continue;
    const std::int64_t start = now_ms - now_ms % w.length;
    auto counted = store_.count_request("sync:" + std::string(device_id) + w.suffix, start);
    if (!counted.ok()) return counted.status();
    if (counted->count > w.limit) {
      const std::int64_t left = counted->window_start_ms + w.length - now_ms;
      return std::optional<int>(static_cast<int>(std::max<std::int64_t>(1, (left + 999) / 1000)));
    }
  }
  return std::optional<int>();
}

Result<sync::Instruction> SyncService::refuse(const AuthenticatedDevice& device,
                                              std::chrono::system_clock::time_point receipt) {
  const std::string reason = device.status == DeviceStatus::retired
                                 ? "this device has been retired"
                                 : "this device has been revoked";
  FC_TRY(audit("wipe_sent", &device, to_string(device.status), receipt));
  return sync::Instruction{sync::Instruction::Type::wipe, "", reason};
}

Result<std::optional<DeviceStatus>> SyncService::report_wipe(
    std::string_view proof, std::chrono::system_clock::time_point receipt) {
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
                          std::string_view detail, std::chrono::system_clock::time_point at) {
  const std::string clean = detail::audit_detail(detail);
  std::lock_guard lock(mu_);
  return store_.transaction([&] {
    return store_.append_audit({new_uuid_v7(clock_), format_iso_datetime(at), std::string(event),
                                device ? device->device_id : std::string(),
                                device ? device->worker_id : std::string(), "", "", clean});
  });
}

}  // namespace fieldcase::server
