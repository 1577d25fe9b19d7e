// The web and administration endpoints of the HTTP server (enrollment, sessions, case reads,
// /v1/admin/...), registered on the cpp-httplib server by http_server.cpp. Internal header.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>

#include "fieldcase/server/access_service.hpp"

namespace fieldcase::server::detail {

// The security headers every response carries.
void set_security_headers(httplib::Response& res);

// Registers the endpoints; `access` must outlive the server. `log` writes one line.
void register_web_api(httplib::Server& server, AccessService& access,
                      std::function<void(const std::string&)> log);

}  // namespace fieldcase::server::detail
