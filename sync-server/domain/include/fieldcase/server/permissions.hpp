// The permission matrix: what each role may do, in one pure function.
//
// A request is judged by the actor's role, the action and, for case content, how the case
// relates to the actor (who the case is allocated to). The HTTP layer and the sync service
// both ask permits(); the same table is rendered in docs/security.md ("Permission matrix")
// and every cell is tested over HTTP. Relations:
//   own    the case is allocated to the actor (or the actor records a child new to the server)
//   team   allocated to another worker of the actor's team
//   area   allocated to a worker of another team in the actor's area
//   other  allocated elsewhere in the authority, or not allocated at all
// Actions that are not about one case ignore the relation (pass Relation::none).
//
// Pure functions over values; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fieldcase/record.hpp"

namespace fieldcase::server {

enum class Action : std::uint8_t {
  read_intake,           // a case's child, contact and referral records
  write_intake,          // create or change them
  read_casework,         // every other record of a case: assessments, visits, notes, plans...
  write_casework,        // create or change them (conflicts are resolved by writing again)
  authorise_assessment,  // authorise or return a completed assessment
  view_team_figures,     // timeliness figures of the actor's team
  view_area_figures,     // ... of the actor's area
  view_all_figures,      // ... of the whole authority, by any level
  export_returns,        // statutory returns and exports
  administer,            // organisation, workers, roles, allocations, enrollment codes, devices
  read_audit,            // audit queries and chain verification
  approve_roles,         // approve or refuse a role grant awaiting a second person (admin.hpp)
};
inline constexpr std::array kAllActions{
    Action::read_intake,       Action::write_intake,         Action::read_casework,
    Action::write_casework,    Action::authorise_assessment, Action::view_team_figures,
    Action::view_area_figures, Action::view_all_figures,     Action::export_returns,
    Action::administer,        Action::read_audit,           Action::approve_roles};

enum class Relation : std::uint8_t { none, own, team, area, other };
inline constexpr std::array kCaseRelations{Relation::own, Relation::team, Relation::area,
                                           Relation::other};
inline constexpr std::array kAllRoles{Role::social_worker,  Role::team_manager,
                                      Role::area_manager,   Role::service_lead,
                                      Role::contact_centre, Role::administrator};

std::string_view to_string(Action action) noexcept;
std::optional<Action> parse_action(std::string_view name) noexcept;
std::string_view to_string(Relation relation) noexcept;

// Whether an action is about the content of one case (its relation matters).
bool is_case_action(Action action) noexcept;

// The matrix. For a case action, Relation::none is never permitted.
bool permits(Role role, Action action, Relation relation) noexcept;

// Whether a role reaches case data at all: any case action, any figures, or the returns.
bool reads_case_data(Role role) noexcept;
// Whether moving a worker from role `from` to role `to` lets them read or write case data,
// figures or returns that `from` did not (every cell of the matrix compared, relation by
// relation). Such a grant made over the web waits for a second person (admin.hpp).
bool widens_case_access(Role from, Role to) noexcept;

// Intake records (child, contact, referral) are the part of a case the contact centre works on.
bool is_intake_kind(RecordKind kind) noexcept;
inline Action read_action(RecordKind kind) noexcept {
  return is_intake_kind(kind) ? Action::read_intake : Action::read_casework;
}
inline Action write_action(RecordKind kind) noexcept {
  return is_intake_kind(kind) ? Action::write_intake : Action::write_casework;
}

}  // namespace fieldcase::server
