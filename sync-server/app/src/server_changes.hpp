// Changes the server authors itself (internal to fieldcase_server): the allocation fields a
// child record carries, and the snapshot of a case appended to the log when it is reallocated.
// Called with the store inside a transaction; not thread-safe (the caller serialises).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/ids.hpp"
#include "fieldcase/server/case_merge.hpp"
#include "fieldcase/server/server_store.hpp"
#include "fieldcase/timescales.hpp"

namespace fieldcase::server::detail {

inline constexpr std::string_view kServerAuthor = "server";

// A stamp from the server's clock that is later than `current` (which may be empty).
std::string server_stamp(HybridClock& hlc, std::string_view current);

struct ServerFieldChange {
  std::string field;
  FieldState state;
};

// The changes that make a child record's allocation fields match its case allocation (none
// when they already do, or when the case is not allocated).
Result<std::vector<ServerFieldChange>> allocation_fixups(ServerStore& store, HybridClock& hlc,
                                                         const StoredRecord& child);

// The changes that make `record`'s Maintained::derived fields (derive_fields()) what the
// server derives from its other fields: whatever a device sent for them, the stored value is
// the server's derivation (none when they already agree).
std::vector<ServerFieldChange> derived_fixups(HybridClock& hlc, const StoredRecord& record,
                                              const Timescales& timescales);

// Applies server changes to `record` in the store and appends them to the log.
Status apply_server_changes(ServerStore& store, StoredRecord& record,
                            const std::vector<ServerFieldChange>& changes, std::string_view now);

// Appends the case's complete current state (a create and every non-null field of each live
// record, with their original stamps and authors) to the log, so that a device for which the
// case has just come into scope receives all of it whatever its cursor.
Status append_case_snapshot(ServerStore& store, std::string_view case_id, std::string_view now);

}  // namespace fieldcase::server::detail
