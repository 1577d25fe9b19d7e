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
  }
  return false;
}

}  // namespace fieldcase::server
