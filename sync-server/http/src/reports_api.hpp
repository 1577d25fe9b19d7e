// The reports' HTTP endpoints, registered on the cpp-httplib server by http_server.cpp.
// Internal header.
//   GET /v1/reports/performance   the performance report, JSON or CSV (?format=csv)
//   GET /reports/performance      the same as a printable, self-contained HTML page
//   GET /v1/data-quality          the records to fix, per team, JSON or CSV
//   GET /v1/exports/cin           the Children in Need census XML (service leads)
//   GET /v1/exports/cin/report    the census export's exceptions report, JSON or CSV
// All need a signed-in web session; scope and audit are ReportsService's.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>

#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/reports_service.hpp"

namespace fieldcase::server::detail {

// Registers the endpoints; `access` and `reports` must outlive the server. `log` writes one
// line (never case data).
void register_reports_api(httplib::Server& server, AccessService& access, ReportsService& reports,
                          std::function<void(const std::string&)> log);

}  // namespace fieldcase::server::detail
