#include "fieldcase/server/permissions.hpp"

namespace fieldcase::server {

std::string_view to_string(Action action) noexcept {
  switch (action) {
    case Action::read_intake:
      return "read_intake";
    case Action::write_intake:
      return "write_intake";
    case Action::read_casework:
      return "read_casework";
    case Action::write_casework:
      return "write_casework";
    case Action::authorise_assessment:
      return "authorise_assessment";
    case Action::view_team_figures:
      return "view_team_figures";
    case Action::view_area_figures:
      return "view_area_figures";
    case Action::view_all_figures:
      return "view_all_figures";
    case Action::export_returns:
      return "export_returns";
    case Action::administer:
      return "administer";
    case Action::read_audit:
      return "read_audit";
    case Action::approve_roles:
      return "approve_roles";
  }
  return "unknown";
}

std::optional<Action> parse_action(std::string_view name) noexcept {
  for (Action a : kAllActions) {
    if (to_string(a) == name) return a;
  }
  return std::nullopt;
}

std::string_view to_string(Relation relation) noexcept {
  switch (relation) {
    case Relation::none:
      return "none";
    case Relation::own:
      return "own";
    case Relation::team:
      return "team";
    case Relation::area:
      return "area";
    case Relation::other:
      return "other";
  }
  return "none";
}

bool is_case_action(Action action) noexcept {
  switch (action) {
    case Action::read_intake:
    case Action::write_intake:
    case Action::read_casework:
    case Action::write_casework:
    case Action::authorise_assessment:
      return true;
    default:
      return false;
  }
}

bool is_intake_kind(RecordKind kind) noexcept {
  return kind == RecordKind::child || kind == RecordKind::contact || kind == RecordKind::referral;
}

bool permits(Role role, Action action, Relation relation) noexcept {
  if (is_case_action(action) && relation == Relation::none) return false;
  // How far a role's case work reaches: own < team < area < other.
  auto within = [relation](Relation reach) {
    return static_cast<int>(relation) <= static_cast<int>(reach);
  };
  switch (action) {
    case Action::read_intake:
    case Action::read_casework:
    case Action::write_intake:
    case Action::write_casework: {
      const bool write = action == Action::write_intake || action == Action::write_casework;
      const bool intake = action == Action::read_intake || action == Action::write_intake;
      switch (role) {
        case Role::social_worker:
          return within(Relation::own);
        case Role::team_manager:
          return within(Relation::team);
        case Role::area_manager:
          return within(Relation::area);
        // The lead reads every case for figures and quality work; writes only their own.
        case Role::service_lead:
          return write ? within(Relation::own) : true;
        case Role::contact_centre:
          return intake && within(Relation::own);
        case Role::administrator:
          return false;
      }
      return false;
    }
    case Action::authorise_assessment:
      if (role == Role::team_manager) return within(Relation::team);
      if (role == Role::area_manager) return within(Relation::area);
      return false;
    case Action::view_team_figures:
      return role == Role::team_manager || role == Role::area_manager || role == Role::service_lead;
    case Action::view_area_figures:
      return role == Role::area_manager || role == Role::service_lead;
    case Action::view_all_figures:
    case Action::export_returns:
      return role == Role::service_lead;
    case Action::administer:
    case Action::read_audit:
      return role == Role::administrator;
    // The second person of a role grant: another administrator, or the service lead.
    case Action::approve_roles:
      return role == Role::administrator || role == Role::service_lead;
  }
  return false;
}

namespace {

// The actions about case data: case content, figures (their drill-down lists records) and
// returns. Administration, the audit and approvals are not.
bool about_case_data(Action action) noexcept {
  return action != Action::administer && action != Action::read_audit &&
         action != Action::approve_roles;
}

}  // namespace

bool reads_case_data(Role role) noexcept { return widens_case_access(Role::administrator, role); }

bool widens_case_access(Role from, Role to) noexcept {
  for (Action action : kAllActions) {
    if (!about_case_data(action)) continue;
    if (!is_case_action(action)) {
      if (permits(to, action, Relation::none) && !permits(from, action, Relation::none)) {
        return true;
      }
      continue;
    }
    for (Relation relation : kCaseRelations) {
      if (permits(to, action, relation) && !permits(from, action, relation)) return true;
    }
  }
  return false;
}

}  // namespace fieldcase::server
