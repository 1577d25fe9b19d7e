#include "fieldcase/server/reports_service.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <utility>

#include "fieldcase/ids.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/permissions.hpp"

namespace fieldcase::server {

namespace fg = figures;

Status audit_case_reads(ServerStore& store, const Clock& clock, std::string_view actor_id,
                        const std::vector<std::pair<std::string, std::string>>& case_relations,
                        std::string_view detail) {
  if (case_relations.empty()) return {};
  const std::string at = format_iso_datetime(clock.wall());
  const std::string full = std::string(detail) + (actor_id.empty() ? "; by console" : "");
  return store.transaction([&]() -> Status {
    for (const auto& [case_id, relation] : case_relations) {
      AuditEvent e;
      e.id = new_uuid_v7(clock);
      e.at = at;
      e.event = "case_read";
      e.worker_id = std::string(actor_id);
      e.case_id = case_id;
      e.detail = full;
      e.relation = relation;
      FC_TRY(store.append_audit(e));
    }
    return {};
  });
}

ReportsService::ReportsService(ServerStore& store, const Clock& clock, fg::FiguresConfig config)
    : store_(store), clock_(clock), config_(std::move(config)) {}

Status ReportsService::audit(AuditEvent event) {
  event.id = new_uuid_v7(clock_);
  event.at = format_iso_datetime(clock_.wall());
  return store_.append_audit(event);
}

Result<reports::Unit> ReportsService::authorise(const Worker& actor, fg::Level level,
                                                std::string_view unit_id, std::string_view what) {
  auto unit = reports::resolve_unit(store_, level, unit_id);
  if (!unit.ok()) return unit.status();
  auto allowed = reports::may_view(store_, actor, *unit);
  if (!allowed.ok()) return allowed.status();
  if (!*allowed) {
    FC_TRY(audit({"", "", "permission_refused", "", actor.id, "", "",
                  std::string(what) + " of " + std::string(fg::to_string(level)) +
                      (unit_id.empty() ? "" : " " + std::string(unit_id)) + " (" +
                      std::string(to_string(actor.role)) + ")",
                  "", "refused"}));
    return Status(Errc::forbidden, "your role does not permit the figures of this " +
                                       std::string(fg::to_string(level)));
  }
  return unit;
}

Result<reports::PerformanceReport> ReportsService::performance(const Worker& actor, fg::Level level,
                                                               std::string_view unit_id,
                                                               const fg::Period& period,
                                                               Date as_of) {
  std::lock_guard lock(mu_);
  auto unit = authorise(actor, level, unit_id, "performance report");
  if (!unit.ok()) return unit.status();
  if (figures_ == nullptr)
    return reports::performance_report(store_, config_, *unit, period, as_of);
  std::optional<reports::PerformanceReport> report;
  Status st = figures_->with_facts([&](fg::FactsCache& facts) -> Status {
    auto r = reports::performance_report(facts, config_, *unit, period, as_of);
    if (!r.ok()) return r.status();
    report = std::move(*r);
    return {};
  });
  if (!st.ok()) return st;
  return std::move(*report);
}

Result<reports::DataQualityList> ReportsService::data_quality(const Worker& actor, fg::Level level,
                                                              std::string_view unit_id,
                                                              const fg::Period& period, Date as_of,
                                                              std::string_view what) {
  std::lock_guard lock(mu_);
  auto unit = authorise(actor, level, unit_id, "data-quality list");
  if (!unit.ok()) return unit.status();
  std::optional<reports::DataQualityList> list;
  Status st = store_.transaction([&]() -> Status {
    Result<reports::DataQualityList> l = Status(Errc::internal, "no data-quality list");
    if (figures_ == nullptr) {
      l = reports::data_quality(store_, config_, *unit, period, as_of);
    } else {
      FC_TRY(figures_->with_facts([&](fg::FactsCache& facts) -> Status {
        l = reports::data_quality(store_, facts, config_, *unit, period, as_of);
        return {};
      }));
    }
    if (!l.ok()) return l.status();
    std::map<std::string, std::size_t> per_case;
    for (const auto& r : l->records) ++per_case[r.case_id];
    std::vector<std::pair<std::string, std::string>> reads;
    for (const auto& [case_id, n] : per_case) {
      auto relation = case_relation(store_, actor, case_id);
      if (!relation.ok()) return relation.status();
      reads.emplace_back(case_id, std::string(to_string(*relation)));
    }
    FC_TRY(audit_case_reads(store_, clock_, actor.id, reads,
                            "data-quality list: " + std::string(what)));
    list = std::move(*l);
    return {};
  });
  if (!st.ok()) return st;
  return std::move(*list);
}

Result<cin::CensusExport> ReportsService::cin_census(const Worker& actor, int year) {
  std::lock_guard lock(mu_);
  if (!permits(actor.role, Action::export_returns, Relation::none)) {
    FC_TRY(audit({"", "", "permission_refused", "", actor.id, "", "",
                  "CIN census export " + std::to_string(year) + " (" +
                      std::string(to_string(actor.role)) + ")",
                  "", "refused"}));
    return Status(Errc::forbidden, "your role does not permit statutory returns");
  }
  std::optional<cin::CensusExport> census;
  Status st = store_.transaction([&]() -> Status {
    auto c = cin::export_census(store_, year, format_iso_datetime(clock_.wall()));
    if (!c.ok()) return c.status();
    std::vector<std::pair<std::string, std::string>> reads;
    for (const auto& case_id : c->cases_read) {
      auto relation = case_relation(store_, actor, case_id);
      if (!relation.ok()) return relation.status();
      reads.emplace_back(case_id, std::string(to_string(*relation)));
    }
    FC_TRY(audit_case_reads(store_, clock_, actor.id, reads,
                            "CIN census export " + std::to_string(year)));
    census = std::move(*c);
    return {};
  });
  if (!st.ok()) return st;
  return std::move(*census);
}

Result<std::string> ReportsService::authority_name() {
  std::lock_guard lock(mu_);
  auto authority = store_.find_authority();
  if (!authority.ok()) return authority.status();
  return *authority ? (*authority)->name : std::string();
}

Date ReportsService::today() const { return figures::reporting_day(clock_.wall()); }

}  // namespace fieldcase::server
