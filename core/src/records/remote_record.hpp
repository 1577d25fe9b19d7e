// Applying the server's changes to the record store, shared by the record store's sync side
// (record_sync.cpp, which the sync engine drives through RecordStore::apply_sync_response).
// Internal to the core.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "fieldcase/record.hpp"
#include "fieldcase/record_store.hpp"
#include "fieldcase/status.hpp"
#include "fieldcase/sync_protocol.hpp"

namespace fieldcase::detail {

// The record a run of incoming changes is working on: consecutive changes to one record (a page
// holds a record's create and its fields together) read and write it once.
struct RemoteRecord {
  std::optional<Record> record;
  bool dirty = false;
  std::map<std::string, std::string> clocks;  // field -> stamp of its current value
  std::set<std::string> dirty_clocks;
};

// Inside the record store's transaction: apply() one change (flushing the open record when the
// change is to another), flush() the open record's row and field stamps. Not thread-safe.
class RemoteApply {
 public:
  static Status apply(RecordStore& rs, const sync::Change& change, RemoteRecord& open);
  static Status flush(RecordStore& rs, RemoteRecord& open);
};

}  // namespace fieldcase::detail
