// The web and administration endpoints of the HTTP server (enrollment, sessions, case reads,
// /v1/admin/...), registered on the cpp-httplib server by http_server.cpp. Internal header.
#pragma once

#include <httplib.h>

#include <functional>
#include <optional>
#include <string>

#include "fieldcase/server/access_service.hpp"

namespace fieldcase::server::detail {

// The signed-in session of a request (the __Host-fieldcase_session cookie), or nullopt after
// answering 401 (no or ended session) or 403 csrf (a state-changing method without the
// session's X-CSRF-Token, or from another Origin). The request restarts the session's idle
// clock unless `background` is set or it says "X-Fieldcase-Background: 1" (a page polling or
// redrawing by itself, not its reader).
std::optional<Session> web_session(AccessService& access, const httplib::Request& req,
                                   httplib::Response& res,
                                   const std::function<void(const std::string&)>& log,
                                   bool background = false);

// The security headers every response carries.
void set_security_headers(httplib::Response& res);

// Registers the endpoints; `access` must outlive the server. `log` writes one line.
void register_web_api(httplib::Server& server, AccessService& access,
                      std::function<void(const std::string&)> log);

}  // namespace fieldcase::server::detail
