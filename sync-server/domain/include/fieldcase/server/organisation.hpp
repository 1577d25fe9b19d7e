// The organisation a server serves: its authority, areas, teams and workers (domain entities,
// no I/O). Workers carry the role the permission matrix (permissions.hpp) reads.
#pragma once

#include <string>

#include "fieldcase/record.hpp"

namespace fieldcase::server {

struct Authority {
  std::string id;
  std::string name;
  std::string la_code;
  std::string created_at;
};

struct Area {
  std::string id;
  std::string name;
  std::string authority_id;
  std::string created_at;
};

struct Team {
  std::string id;
  std::string name;
  std::string area_id;
  std::string created_at;
};

struct Worker {
  std::string id;
  std::string name;
  Role role = Role::social_worker;
  std::string team_id;  // empty when the worker belongs to no team
  bool active = true;
  std::string created_at;
};

}  // namespace fieldcase::server
