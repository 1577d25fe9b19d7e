// The HTTP front of the sync service (cpp-httplib, kept out of this header).
//
//   GET  /v1/health  {"status":"ok","version":...}
//   POST /v1/sync    Authorization: Bearer <device token>; a JSON SyncRequest, optionally
//                    Content-Encoding: gzip; answered with a SyncResponse, gzip-compressed when
//                    the client sends Accept-Encoding: gzip.
//
// With an AccessService (docs/openapi.yaml describes each endpoint):
//   POST /v1/enroll                 a device enrolls with a one-time code, receives its token
//   POST|GET|DELETE /v1/session     web sign-in, who am I, sign-out (cookie
//                                   __Host-fieldcase_session: HttpOnly, Secure, SameSite=Strict)
//   GET  /v1/cases/{id}             a case's records, as far as the role may read them
//   /v1/admin/...                   workers and roles, areas, teams, allocations, enrollment codes,
//                                   devices, audit queries and chain verification (administrators)
// Every state-changing request of a session needs its CSRF token in X-CSRF-Token, and an
// Origin header, when sent, must be this server's. Every response carries the security
// headers (Content-Security-Policy with frame-ancestors 'none', Strict-Transport-Security,
// X-Content-Type-Options: nosniff, X-Frame-Options, Referrer-Policy, Cache-Control: no-store).
//
// Errors carry {"error":{"code":...,"message":...}}: 400 bad_request / unsupported_protocol,
// 401 unauthenticated, 403 forbidden / csrf, 404 not_found, 409 conflict, 413 too_large (the
// limit applies to the body as sent and once decompressed), 429 too_many_attempts, 503 busy,
// 500 internal. Requests run on a thread pool with read and
// write timeouts. Request logs name the time, method, path and status only: never tokens or
// bodies.
//
// bind() and run() are called from one thread; stop() may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "fieldcase/clock.hpp"
#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/sync_service.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

struct HttpOptions {
  // cpp-httplib gives each open connection a thread for its whole life (keep-alive included),
  // so `threads` is the number of connections served at once.
  int threads = 64;
  std::chrono::seconds keep_alive{2};
  std::size_t max_body_bytes = 8u << 20;
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds write_timeout{30};
  bool log_requests = true;  // one line per request on stderr
};

class HttpServer {
 public:
  // `service` and `clock` must outlive the server. Without an AccessService only the health
  // and sync endpoints exist.
  HttpServer(SyncService& service, const Clock& clock, HttpOptions options);
  // `access` (may be null) must outlive the server too.
  HttpServer(SyncService& service, AccessService* access, const Clock& clock,
             HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts listening; port 0 picks a free port. Returns the bound port.
  Result<int> bind(const std::string& host, int port);
  // Serves until stop(); returns at once if stop() was already called.
  Status run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldcase::server
