// The merge of one field by hybrid logical clock: the single rule the device follows when it
// applies the server's changes (RecordStore::apply_sync_response) and the server follows when it
// applies a device's transaction (server domain, case_merge.hpp). docs/sync-protocol.md states it.
//
// Stamps compare as strings (HlcStamp::to_string: lexicographic order is HLC order, so equal
// wall time and counter fall to the node id). The later stamp wins; the same stamp is the same
// change; a field never set takes any change; no field change takes effect on a deleted record.
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace fieldcase {

enum class FieldMergeOutcome : std::uint8_t {
  take,       // the incoming change is later: it becomes the field's value
  unchanged,  // the incoming change is the one already current (same stamp)
  keep,       // the current value's stamp is later: it stays, the incoming change lost
  deleted,    // the record is deleted: the incoming change cannot take effect
};

struct FieldMergeInput {
  std::optional<std::string_view> current_hlc;  // nullopt: the field was never set here
  std::string_view incoming_hlc;
  // The stamp of the value the writer saw when it wrote (sync::Op::base); nullopt when the
  // change carries none (the server's changes as a device receives them).
  std::optional<std::string_view> incoming_base;
  bool record_deleted = false;
};

struct FieldMerge {
  FieldMergeOutcome outcome = FieldMergeOutcome::take;
  // The writer had not seen the current value: the two changes were concurrent.
  bool concurrent = false;

  // Whether the value that did not prevail is kept as a conflict, given whether the two values
  // differ: a lost change, a change to a deleted record, or a concurrent change that won.
  bool conflict(bool values_differ) const noexcept {
    switch (outcome) {
      case FieldMergeOutcome::take:
        return concurrent && values_differ;
      case FieldMergeOutcome::keep:
      case FieldMergeOutcome::deleted:
        return values_differ;
      case FieldMergeOutcome::unchanged:
        return false;
    }
    return false;
  }
};

FieldMerge merge_field(const FieldMergeInput& in) noexcept;

}  // namespace fieldcase
