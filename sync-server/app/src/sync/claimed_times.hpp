// The claimed times a transaction set (internal to the app layer): each kept with its value
// corrected by the device's clock offset and the plausibility flags of the claimed-time table
// (domain claimed_times.hpp); a cleared one is forgotten.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "fieldcase/server/case_merge.hpp"
#include "sync/context.hpp"

namespace fieldcase::server::detail {

Status record_claimed_times(SyncDeps deps, const SyncRequestContext& ctx,
                            const std::string& tx_id, const std::vector<std::string>& order,
                            const std::map<std::string, RecordDraft>& drafts);

}  // namespace fieldcase::server::detail
