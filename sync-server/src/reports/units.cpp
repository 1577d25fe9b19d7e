// Units a report is taken for, who may see them, and CSV cells.
#include <string>

#include "fieldcase/server/permissions.hpp"
#include "fieldcase/server/reports.hpp"

namespace fieldcase::server::reports {

namespace fg = figures;

Result<Unit> resolve_unit(ServerStore& store, fg::Level level, std::string_view id) {
  Unit unit;
  unit.level = level;
  unit.id = std::string(id);
  if (level == fg::Level::authority) {
    if (!id.empty()) return Status(Errc::invalid_argument, "the authority level takes no id");
    auto authority = store.find_authority();
    if (!authority.ok()) return authority.status();
    if (*authority) unit.name = (*authority)->name;
    return unit;
  }
  const std::string what(fg::to_string(level));
  if (id.empty()) return Status(Errc::invalid_argument, "the " + what + " level needs an id");
  const Status missing(Errc::not_found, "no " + what + " " + std::string(id));
  switch (level) {
    case fg::Level::area: {
      auto area = store.find_area(id);
      if (!area.ok()) return area.status();
      if (!*area) return missing;
      unit.name = (*area)->name;
      break;
    }
    case fg::Level::team: {
      auto team = store.find_team(id);
      if (!team.ok()) return team.status();
      if (!*team) return missing;
      unit.name = (*team)->name;
      break;
    }
    case fg::Level::worker: {
      auto worker = store.find_worker(id);
      if (!worker.ok()) return worker.status();
      if (!*worker) return missing;
      unit.name = (*worker)->name;
      break;
    }
    case fg::Level::authority:
      break;
  }
  return unit;
}

Result<bool> may_view(ServerStore& store, const Worker& actor, const Unit& unit) {
  if (permits(actor.role, Action::view_all_figures, Relation::none)) return true;
  const bool area_view = permits(actor.role, Action::view_area_figures, Relation::none);
  const bool team_view = permits(actor.role, Action::view_team_figures, Relation::none);
  if ((!area_view && !team_view) || actor.team_id.empty()) return false;
  auto own_team = store.find_team(actor.team_id);
  if (!own_team.ok()) return own_team.status();
  if (!*own_team) return false;
  const std::string own_area = (*own_team)->area_id;
  // The team a unit belongs to (its own for a team, the worker's for a worker).
  std::string team_id;
  switch (unit.level) {
    case fg::Level::authority:
      return false;
    case fg::Level::area:
      return area_view && unit.id == own_area;
    case fg::Level::team:
      team_id = unit.id;
      break;
    case fg::Level::worker: {
      auto worker = store.find_worker(unit.id);
      if (!worker.ok()) return worker.status();
      if (!*worker) return false;
      team_id = (*worker)->team_id;
      break;
    }
  }
  if (team_id.empty()) return false;
  if (team_id == actor.team_id) return true;
  if (!area_view) return false;
  auto team = store.find_team(team_id);
  if (!team.ok()) return team.status();
  return *team && (*team)->area_id == own_area;
}

std::string csv_cell(std::string_view text) {
  std::string cell;
  if (!text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@' ||
                        text[0] == '\t' || text[0] == '\r')) {
    cell += '\'';
  }
  cell += text;
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

}  // namespace fieldcase::server::reports
