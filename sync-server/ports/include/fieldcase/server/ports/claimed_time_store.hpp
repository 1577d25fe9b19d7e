// The completion, authorisation and visit times devices claim, with their corrected value and
// plausibility flags, one per record and field. Isolation: every method is atomic on its own; inside UnitOfWork::transaction() the calls see
// each other's writes and commit or roll back together.
#pragma once

#include <optional>
#include <string_view>

#include "fieldcase/server/case_records.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class ClaimedTimeStore {
 public:
  virtual ~ClaimedTimeStore() = default;

  virtual Status put_claimed_time(const ClaimedTime& claim) = 0;
  virtual Status delete_claimed_time(std::string_view record_id, std::string_view field) = 0;
  virtual Result<std::optional<ClaimedTime>> find_claimed_time(std::string_view record_id,
                                                               std::string_view field) = 0;
};

}  // namespace fieldcase::server
