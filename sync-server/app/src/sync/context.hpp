// What the sync use cases share while one request is answered (internal to the app layer): the
// service's collaborators, and the request's device, worker, clock estimate and the cases it
// may see. Called under the service's lock inside the request's store transaction.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "fieldcase/clock.hpp"
#include "fieldcase/ids.hpp"
#include "fieldcase/server/permissions.hpp"
#include "fieldcase/server/server_store.hpp"
#include "fieldcase/server/sync_service.hpp"

namespace fieldcase::server::detail {

struct SyncDeps {
  ServerStore& store;
  const Clock& clock;
  const ServiceOptions& options;
  HybridClock& hlc;
};

struct SyncRequestContext {
  Device device;
  Worker worker;
  std::set<std::string> visible;
  std::map<std::string, HeldState> held;
  std::chrono::system_clock::time_point receipt;
  std::string receipt_text;
  std::int64_t receipt_ms = 0;
  std::string device_time;
  std::int64_t offset_ms = 0;
  std::chrono::system_clock::time_point validation_now;
  std::set<std::string> request_tx_ids;
  std::map<std::string, Relation> relations;  // case -> how it relates to the worker
  std::set<std::string> figure_cases;         // cases whose figure facts a transaction refreshed

  // How `case_id` relates to the worker (permissions.hpp), computed once per request.
  Result<Relation> relation(ServerStore& store, const std::string& case_id);
};

// Audit details quote hostile input too (field names, decoder messages): bounded, control
// characters replaced, valid UTF-8.
std::string audit_detail(std::string_view detail);

inline std::int64_t ms_of(std::chrono::milliseconds d) { return d.count(); }

// The use cases of one request, in the order handle() runs them.
// Authenticates the request's device again inside the transaction, records the clock sample and
// loads what the worker may see; Errc::unauthenticated for a refused device.
Status open_request(SyncDeps deps, SyncRequestContext& ctx, const sync::SyncRequest& request);
// Applies one new transaction in its own savepoint; on a refusal, `rejection` is set and
// `refused_case` names the case of the operation or record refused (empty when the refusal is
// not about one case), for the audit entry.
Status apply_transaction(SyncDeps deps, SyncRequestContext& ctx, const sync::Transaction& tx,
                         std::optional<sync::Rejection>& rejection, std::string& refused_case);
// Purge instructions, one page of visible changes after the cursor, the open conflicts, and
// the case_read audit entries.
Status pull(SyncDeps deps, SyncRequestContext& ctx, const sync::SyncRequest& request,
            sync::SyncResponse& response);
// A retiring device: the wipe instruction, and retirement once it has nothing left to send.
Status finish_retiring(SyncDeps deps, SyncRequestContext& ctx, const sync::SyncRequest& request,
                       sync::SyncResponse& response);

}  // namespace fieldcase::server::detail
