// The sync endpoint's logic, independent of HTTP: authenticates device tokens and answers one
// SyncRequest with one SyncResponse (docs/sync-protocol.md describes every rule).
//
// For each transaction, in order: a tx_id seen before gets the stored answer again; otherwise
// the transaction is applied in one savepoint (the permission matrix of permissions.hpp for
// each record's kind and the case's relation to the worker, field-by-field merge by HLC,
// validate_record() on every touched record with the worker's role) or rejected as a whole
// with a machine-readable code. Accepted operations go to the server-ordered log; the outcome
// is stored; the whole request commits durably before the answer is returned. Then the page
// of visible changes after the request's cursor, the open conflicts, and purge/wipe
// instructions. Clock offset and claimed-time plausibility are recorded on the way. The audit
// log gets one case_write entry per case an accepted transaction wrote, one case_read entry per
// case whose changes or conflicts the answer carries, and one entry per refused transaction.
//
// Thread-safe: calls are serialised by an internal mutex (the store is one connection). The
// store and clock must outlive the service.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "fieldcase/clock.hpp"
#include "fieldcase/ids.hpp"
#include "fieldcase/server/case_merge.hpp"
#include "fieldcase/server/claimed_times.hpp"
#include "fieldcase/server/clock_offset.hpp"
#include "fieldcase/server/server_store.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "fieldcase/timescales.hpp"

namespace fieldcase::server {

namespace detail {
struct SyncDeps;
struct SyncRequestContext;
}  // namespace detail

struct ServiceOptions {
  // |clock offset| above which claimed times are flagged large_offset.
  std::chrono::seconds offset_threshold{300};
  // Slack for after_receipt and before_start comparisons (estimates are not exact).
  std::chrono::seconds plausibility_slack{60};
  // How long after a case is reallocated away a device that held it may still deliver
  // changes to it (its unsynced work from before the reallocation).
  std::chrono::hours reallocation_grace{24 * 7};
  ClockEstimatorOptions clock;
  // How far ahead of the server's receipt time a device's clock stamp may be; further ahead,
  // its transaction is refused (kRejectClockAhead). Deliberately not widened by the device's
  // estimated clock offset: that estimate comes from the device's own claim of its time.
  std::chrono::seconds max_stamp_ahead{kHlcMaxAhead};
  // A page of changes stops growing once its values reach this size (at least one change).
  std::size_t max_page_bytes = 4u << 20;
  // Days a device may stay out of contact before it locks its case data; sent in every
  // answer (0: no limit).
  int offline_limit_days = 14;
  // The statutory timescales the derived fields follow (derive_fields()): the server keeps its
  // own derivation of every Maintained::derived field, whatever a device sent.
  Timescales timescales;
  // Keep the figure facts of every case a transaction changes current inside that
  // transaction. A bulk load may turn it off and run figures::recompute() once afterwards.
  bool maintain_figures = true;
};

struct AuthenticatedDevice {
  std::string device_id;
  std::string worker_id;
  bool revoked = false;  // refused: revoked, or retired (see DeviceStatus)
  DeviceStatus status = DeviceStatus::active;
};

class SyncService {
 public:
  SyncService(ServerStore& store, const Clock& clock, ServiceOptions options = {});

  // The device a bearer token belongs to (revoked devices included, flagged), nullopt for an
  // unknown token, or a storage failure.
  Result<std::optional<AuthenticatedDevice>> authenticate(std::string_view token);

  // Answers one request. `receipt` is when the server received it. A failure is a storage or
  // internal error (nothing of this request is acknowledged; the device retries), or
  // Errc::unauthenticated when the device is refused (revoked or retired meanwhile: answer
  // with refuse()). A retiring device's answer carries a wipe instruction; its first request
  // with no transactions makes it retired (audited device_retired).
  Result<sync::SyncResponse> handle(const AuthenticatedDevice& device,
                                    const sync::SyncRequest& request,
                                    std::chrono::system_clock::time_point receipt);

  // The wipe instruction for a refused (revoked or retired) device; audits wipe_sent.
  Result<sync::Instruction> refuse(const AuthenticatedDevice& device,
                                   std::chrono::system_clock::time_point receipt);

  // A device's report that it erased itself (POST sync::kWipeReportPath, see
  // sync::wipe_proof): the device whose token the proof names is revoked if it was active or
  // retiring (a retired or revoked one stays so), and the report is audited as device_wiped.
  // Returns the device's status afterwards; nullopt when the proof names no device.
  Result<std::optional<DeviceStatus>> report_wipe(std::string_view proof,
                                                  std::chrono::system_clock::time_point receipt);

  // Appends an audit event about a request (hostile or refused input). `device` may be null
  // for requests that named no valid device. `detail` must hold no case data or tokens.
  Status audit(std::string_view event, const AuthenticatedDevice* device, std::string_view detail,
               std::chrono::system_clock::time_point at);

  // Counts a request of the device against its rate, in the database's fixed windows
  // (ports/request_counters.hpp), so every instance sharing the database counts the same
  // requests: at most `per_minute` in each clock minute and `burst` in each 10 seconds.
  // nullopt: admitted; otherwise the seconds until the window that refused it ends.
  // per_minute 0: no limit. Now and then also forgets old windows and figure changes.
  Result<std::optional<int>> admit_request(std::string_view device_id, int per_minute,
                                           int burst);

  const ServiceOptions& options() const { return options_; }

  // The node of this service's clock stamps: unique to this instance (new_server_node()).
  const std::string& hlc_node() const { return hlc_.device(); }

  // Called after a request commits that changed figure facts (the dashboard's change feed),
  // with the cases whose facts it refreshed, on the request's thread, outside the service's
  // lock. Set it before serving.
  void on_figures_changed(std::function<void(const std::vector<std::string>&)> listener) {
    figures_listener_ = std::move(listener);
  }

 private:
  detail::SyncDeps deps();
  Status handle_locked(detail::SyncRequestContext& ctx, const sync::SyncRequest& request,
                       sync::SyncResponse& response);
  Status process_transaction(detail::SyncRequestContext& ctx, const sync::Transaction& tx,
                             sync::SyncResponse& response);

  ServerStore& store_;
  const Clock& clock_;
  ServiceOptions options_;
  HybridClock hlc_;
  std::mutex mu_;
  std::int64_t last_prune_ms_ = 0;  // under mu_
  std::function<void(const std::vector<std::string>&)> figures_listener_;
};

}  // namespace fieldcase::server
