// One-time enrollment codes (kept only as keyed hashes) and failed enrollments per network
// address. Contract: failures are counted in the database, so every server process sharing it
// sees the same count; add_enrollment_failure is atomic on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "fieldcase/server/credentials.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class EnrollmentStore {
 public:
  virtual ~EnrollmentStore() = default;

  virtual Status insert_enrollment(const EnrollmentCode& code) = 0;
  // The unused or used code whose first group is `lookup` (newest first), or nullopt.
  virtual Result<std::optional<EnrollmentCode>> find_enrollment(std::string_view lookup) = 0;
  // Stores used_at, device_id and failed_attempts.
  virtual Status update_enrollment(const EnrollmentCode& code) = 0;
  // How many enrollments from the network address `source` failed at or after `since_ms`.
  virtual Result<std::int64_t> enrollment_failures(std::string_view source,
                                                   std::int64_t since_ms) = 0;
  // Records a failed enrollment from `source` and forgets every one before `forget_before_ms`.
  virtual Status add_enrollment_failure(std::string_view source, std::int64_t at_ms,
                                        std::int64_t forget_before_ms) = 0;
};

}  // namespace fieldcase::server
