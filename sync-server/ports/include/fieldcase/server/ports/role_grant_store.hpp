// Role grants waiting for a second person (admin.hpp, "Separation of duties").
// Contract: at most one pending grant per worker; decide_role_grant changes only a pending grant.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "fieldcase/server/credentials.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class RoleGrantStore {
 public:
  virtual ~RoleGrantStore() = default;

  virtual Status insert_role_grant(const RoleGrant& grant) = 0;
  virtual Result<std::optional<RoleGrant>> find_role_grant(std::string_view id) = 0;
  // The worker's pending grant, if any.
  virtual Result<std::optional<RoleGrant>> pending_role_grant(std::string_view worker_id) = 0;
  // The pending grants, oldest first.
  virtual Result<std::vector<RoleGrant>> pending_role_grants() = 0;
  // Decides a pending grant: stores state, decided_by and decided_at (not_found when the
  // grant is not pending).
  virtual Status decide_role_grant(const RoleGrant& grant) = 0;
};

}  // namespace fieldcase::server
