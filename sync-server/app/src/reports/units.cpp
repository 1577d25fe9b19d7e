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
    if (!id.empty()) return Status(Errc::invalid_argument, "the authority level takes no unit id");
    auto authority = store.find_authority();
    if (!authority.ok()) return authority.status();
    if (*authority) unit.name = (*authority)->name;
    return unit;
  }
  const std::string what(fg::to_string(level));
  if (id.empty())
    return Status(Errc::invalid_argument, "the " + what + " level needs the unit's id");
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

bool may_view_place(Role role, std::string_view actor_team, std::string_view actor_area,
                    const UnitPlace& unit) {
  if (permits(role, Action::view_all_figures, Relation::none)) return true;
  const bool area_view = permits(role, Action::view_area_figures, Relation::none);
  const bool team_view = permits(role, Action::view_team_figures, Relation::none);
  if ((!area_view && !team_view) || actor_team.empty()) return false;
  switch (unit.level) {
    case fg::Level::authority:
      return false;
    case fg::Level::area:
      return area_view && !actor_area.empty() && unit.id == actor_area;
    case fg::Level::team:
    case fg::Level::worker:
      if (unit.team_id.empty()) return false;
      if (unit.team_id == actor_team) return true;
      return area_view && !actor_area.empty() && unit.area_id == actor_area;
  }
  return false;
}

fg::FigureQuery unit_query(const fg::IndicatorDefinition& definition, const Unit& unit,
                           const fg::Period& period, Date as_of) {
  fg::FigureQuery q;
  q.indicator = std::string(definition.id);
  q.level = unit.level;
  q.id = unit.id;
  q.period = period;
  q.as_of = as_of;
  return q;
}

Result<bool> may_view(ServerStore& store, const Worker& actor, const Unit& unit) {
  if (permits(actor.role, Action::view_all_figures, Relation::none)) return true;
  auto area_of = [&](const std::string& team_id) -> Result<std::string> {
    if (team_id.empty()) return std::string();
    auto team = store.find_team(team_id);
    if (!team.ok()) return team.status();
    return *team ? (*team)->area_id : std::string();
  };
  auto own_area = area_of(actor.team_id);
  if (!own_area.ok()) return own_area.status();
  UnitPlace place{unit.level, unit.id, "", ""};
  switch (unit.level) {
    case fg::Level::authority:
      break;
    case fg::Level::area:
      place.area_id = unit.id;
      break;
    case fg::Level::team:
      place.team_id = unit.id;
      break;
    case fg::Level::worker: {
      auto worker = store.find_worker(unit.id);
      if (!worker.ok()) return worker.status();
      if (!*worker) return false;
      place.team_id = (*worker)->team_id;
      break;
    }
  }
  if (unit.level == fg::Level::team || unit.level == fg::Level::worker) {
    auto area = area_of(place.team_id);
    if (!area.ok()) return area.status();
    place.area_id = *area;
  }
  return may_view_place(actor.role, actor.team_id, *own_area, place);
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
