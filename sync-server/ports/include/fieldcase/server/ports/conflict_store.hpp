// Field conflicts found while merging, open until a later change to the field resolves them.
// Isolation: every method is atomic on its own; inside UnitOfWork::transaction() the calls see
// each other's writes and commit or roll back together.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "fieldcase/server/case_records.hpp"
#include "fieldcase/server/organisation.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class ConflictStore {
 public:
  virtual ~ConflictStore() = default;

  virtual Status insert_conflict(const StoredConflict& conflict) = 0;
  // Marks every open conflict on the field resolved by the log entry `seq`.
  virtual Status resolve_conflicts(std::string_view record_id, std::string_view field,
                                   std::int64_t seq, std::string_view at) = 0;
  // Open conflicts on cases visible to `viewer`, plus those resolved after `cursor` (so a
  // device that holds them as open learns they were resolved).
  virtual Result<std::vector<StoredConflict>> conflicts_for(const Worker& viewer,
                                                            std::int64_t cursor) = 0;
};

}  // namespace fieldcase::server
