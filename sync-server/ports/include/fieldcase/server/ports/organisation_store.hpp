// The organisation: the authority, its areas and teams, and workers with their role and team.
// Isolation: every method is atomic on its own; inside UnitOfWork::transaction() the calls see
// each other's writes and commit or roll back together.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "fieldcase/server/organisation.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class OrganisationStore {
 public:
  virtual ~OrganisationStore() = default;

  virtual Status insert_authority(const Authority& authority) = 0;
  virtual Result<std::optional<Authority>> find_authority() = 0;  // there is at most one
  virtual Status insert_area(const Area& area) = 0;
  virtual Result<std::optional<Area>> find_area(std::string_view id) = 0;
  virtual Status insert_team(const Team& team) = 0;
  virtual Result<std::optional<Team>> find_team(std::string_view id) = 0;
  // Every area and every team of the authority, by name.
  virtual Result<std::vector<Area>> list_areas() = 0;
  virtual Result<std::vector<Team>> list_teams() = 0;
  virtual Status insert_worker(const Worker& worker) = 0;
  virtual Result<std::optional<Worker>> find_worker(std::string_view id) = 0;
  virtual Result<std::vector<Worker>> list_workers() = 0;
  virtual Status set_worker_active(std::string_view id, bool active) = 0;
  virtual Status set_worker_role(std::string_view id, Role role) = 0;
};

}  // namespace fieldcase::server
