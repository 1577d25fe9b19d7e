// The figures API (/v1/figures/...) and the dashboard's static pages (/dashboard/), registered
// on the cpp-httplib server by http_server.cpp. Internal header; docs/openapi.yaml describes
// every endpoint and docs/dashboard.md the pages.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>
#include <string_view>

#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/figures_service.hpp"

namespace fieldcase::server::detail {

// The Content-Security-Policy of the dashboard's pages: scripts, styles and requests from this
// server only; no inline script or style, no frames, no plugins.
inline constexpr std::string_view kDashboardCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

// Registers /v1/figures/...; `access` and `figures` must outlive the server.
void register_figures_api(httplib::Server& server, AccessService& access, FiguresService& figures,
                          std::function<void(const std::string&)> log);

// Registers /dashboard/ (the pages and their scripts, styles and chart library, embedded in the
// binary at build time) and the redirect of / to it.
void register_dashboard(httplib::Server& server);

}  // namespace fieldcase::server::detail
