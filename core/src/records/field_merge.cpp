#include "fieldcase/field_merge.hpp"

namespace fieldcase {

FieldMerge merge_field(const FieldMergeInput& in) noexcept {
  FieldMerge m;
  m.concurrent = in.current_hlc && in.incoming_base && *in.incoming_base != *in.current_hlc;
  if (in.record_deleted) {
    m.outcome = FieldMergeOutcome::deleted;
  } else if (!in.current_hlc) {
    m.outcome = FieldMergeOutcome::take;
  } else if (in.incoming_hlc == *in.current_hlc) {
    m.outcome = FieldMergeOutcome::unchanged;
  } else if (in.incoming_hlc > *in.current_hlc) {
    m.outcome = FieldMergeOutcome::take;
  } else {
    m.outcome = FieldMergeOutcome::keep;
  }
  return m;
}

}  // namespace fieldcase
