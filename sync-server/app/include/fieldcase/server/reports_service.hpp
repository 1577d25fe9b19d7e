// The reports as the web asks for them: on behalf of a signed-in worker, scoped by the
// permission matrix, and audited.
//
// Scope (reports::may_view): a service lead any unit; an area manager their area, its teams and
// their workers; a team manager their team and its workers. A unit outside the actor's scope is
// Errc::forbidden, audited as permission_refused; an unknown unit is Errc::not_found. The
// performance report is aggregates only. The data-quality list names cases, so each case on it
// is audited as case_read with its relation to the reader (the same entry GET /v1/cases/{id}
// leaves), in one transaction with the read. The Children in Need census export needs the
// export_returns permission (service leads); every case it reads is audited as case_read.
//
// Thread-safe: calls are serialised by an internal mutex (the store is one connection, which
// must not be used by others in this process). `store` and `clock` must outlive the service.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "fieldcase/calendar.hpp"
#include "fieldcase/clock.hpp"
#include "fieldcase/server/cin_census.hpp"
#include "fieldcase/server/figures.hpp"
#include "fieldcase/server/figures_service.hpp"
#include "fieldcase/server/reports.hpp"
#include "fieldcase/server/server_store.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class ReportsService {
 public:
  ReportsService(ServerStore& store, const Clock& clock, figures::FiguresConfig config = {});
  ReportsService(const ReportsService&) = delete;
  ReportsService& operator=(const ReportsService&) = delete;

  // The performance report of a unit for a period, taken as of `as_of`.
  Result<reports::PerformanceReport> performance(const Worker& actor, figures::Level level,
                                                 std::string_view unit_id,
                                                 const figures::Period& period, Date as_of);
  // The data-quality list of a unit; `what` (the request, no case data) goes in the audit
  // entries' detail.
  Result<reports::DataQualityList> data_quality(const Worker& actor, figures::Level level,
                                                std::string_view unit_id,
                                                const figures::Period& period, Date as_of,
                                                std::string_view what);

  // The Children in Need census of the collection year ending 31 March `year`.
  Result<cin::CensusExport> cin_census(const Worker& actor, int year);

  // Compute the performance report and the data-quality list from the dashboard's facts
  // (kept current by `figures`, which must outlive this service) instead of reading every
  // fact for each request.
  void use_facts_of(FiguresService& figures) { figures_ = &figures; }

  // The authority's name (for page headings).
  Result<std::string> authority_name();
  // The server's current day (UTC): the default as-of day and period of a request.
  Date today() const;
  const figures::FiguresConfig& config() const { return config_; }

 private:
  Result<reports::Unit> authorise(const Worker& actor, figures::Level level,
                                  std::string_view unit_id, std::string_view what);
  Status audit(AuditEvent event);

  ServerStore& store_;
  const Clock& clock_;
  figures::FiguresConfig config_;
  FiguresService* figures_ = nullptr;  // whose facts the reports read, if set
  std::mutex mu_;
};

// Audits a read of the listed cases by `actor_id` (a worker id, or empty for the console):
// one case_read entry per case with `detail`, and the relation when known. Runs in one store
// transaction. For the admin commands and ReportsService.
Status audit_case_reads(ServerStore& store, const Clock& clock, std::string_view actor_id,
                        const std::vector<std::pair<std::string, std::string>>& case_relations,
                        std::string_view detail);

}  // namespace fieldcase::server
