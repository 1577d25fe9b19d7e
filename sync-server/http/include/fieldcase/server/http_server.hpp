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
// With a FiguresService as well (docs/dashboard.md):
//   GET  /v1/figures/...            the managers' figures, scoped by the permission matrix, as
//                                   JSON or CSV, and a long-poll change feed
//   GET  /dashboard/                the dashboard's pages (/ redirects there); their
//                                   Content-Security-Policy allows this server's scripts and
//                                   styles only
// With a ReportsService as well (serve_reports(); docs/indicators.md, docs/exports.md):
//   GET  /v1/reports/performance    the performance report, JSON or CSV
//   GET  /reports/performance       the same as a printable HTML page (no scripts; its
//                                   Content-Security-Policy allows only its inline stylesheet)
//   GET  /v1/data-quality           the records to fix, per team, JSON or CSV
//   GET  /v1/exports/cin[/report]   the Children in Need census XML and its exceptions report
// Every state-changing request of a session needs its CSRF token in X-CSRF-Token, and an
// Origin header, when sent, must be this server's. Every response carries the security
// headers (Content-Security-Policy with frame-ancestors 'none', Strict-Transport-Security,
// X-Content-Type-Options: nosniff, X-Frame-Options, Referrer-Policy, Cache-Control: no-store).
//
// Errors carry {"error":{"code":...,"message":...}}: 400 bad_request / unsupported_protocol,
// 401 unauthenticated, 403 forbidden / csrf / device_revoked (with a wipe instruction in
// "instructions") / tls_required, 404 not_found, 408 timeout, 409 conflict, 411
// length_required (a chunked body), 413 too_large (the limit applies to the body as declared,
// as sent and once decompressed), 431 too_large (the request head), 429 too_many_attempts or
// rate_limited (Retry-After), 503 busy (also when every connection thread is taken and the
// queue is full, or the bodies in flight are at their limit), 503 unavailable (the database
// cannot be reached; Retry-After), 500 internal. Hostile and refused
// requests are audited (docs/security.md, "Limits" and "Request limits"). Request heads are
// read by one poll thread with a deadline and a size bound before a worker is committed
// (http_front.hpp); requests run on a thread pool with read and write timeouts and a deadline
// for the whole body. Request logs name the time, method, path and status only: never tokens
// or bodies.
//
// Transport security: with tls_cert and tls_key the server speaks HTTPS only. Without them it
// refuses to bind a specific non-loopback address unless allow_plain_http is set (which prints
// a warning), and on a wildcard address it serves plain HTTP to loopback peers only (others get
// 403 tls_required).
//
// bind() and run() are called from one thread; stop() may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <cstddef>
#include <memory>
#include <string>

#include "fieldcase/clock.hpp"
#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/figures_service.hpp"
#include "fieldcase/server/reports_service.hpp"
#include "fieldcase/server/sync_service.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

struct HttpOptions {
  // A connection holds a thread only while one of its requests is handled: its request head is
  // read first, by one poll thread for all connections (idle kept-alive connections wait
  // there too). `threads` requests are handled at once; at most `max_queued_connections` more
  // wait for a thread; any beyond are answered at once with 503 busy (Retry-After: 1).
  int threads = 64;
  std::size_t max_queued_connections = 256;
  std::chrono::seconds keep_alive{2};
  // The request head (request line and headers) must arrive within `head_timeout` (on a
  // kept-alive connection: from its first byte) and within `max_head_bytes` (else 431).
  std::chrono::seconds head_timeout{5};
  std::size_t max_head_bytes = 16u << 10;
  // Connections waiting for their head: in all, and from one peer address. Beyond, the oldest
  // waiting one (of that address, or of all) is closed.
  std::size_t max_pending_connections = 1024;
  std::size_t max_pending_per_address = 64;
  // The declared bodies of all requests in hand together; a request that would go beyond is
  // answered 503 busy before its body is read.
  std::size_t max_inflight_body_bytes = 64u << 20;
  // The largest body: of a sync (after decompression too), and of every other endpoint. A
  // declared Content-Length over the limit is refused with 413 at once; a chunked (or other
  // transfer-coded) body with 411.
  std::size_t max_body_bytes = 8u << 20;
  std::size_t max_web_body_bytes = 64u << 10;
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds write_timeout{30};
  // The whole request body must have arrived within this time after the headers (slow drip).
  std::chrono::seconds body_deadline{60};
  bool log_requests = true;  // one line per request on stderr
  // PEM files of the server's certificate chain and private key: HTTPS when both are set.
  std::string tls_cert;
  std::string tls_key;
  // Plain HTTP on a non-loopback address, for a trusted network or a TLS-terminating proxy.
  bool allow_plain_http = false;
  // Per-device limits on /v1/sync, counted in the database (SyncService::admit_request):
  // `rate_limit_per_minute` requests in each minute, `rate_limit_burst` in each 10 seconds.
  // A per-minute limit of 0 turns both off.
  // GET /v1/ready: the database answers and its schema is this build's (200), else 503 with
  // Retry-After. Called on the request's thread, one call at a time; unset, /v1/ready answers
  // as /v1/health does.
  std::function<Status()> readiness;
  int rate_limit_per_minute = 600;
  int rate_limit_burst = 120;
};

// Whether an address (as a listen host or a peer) is loopback: 127.0.0.0/8, ::1, an
// IPv4-mapped 127.x address, or "localhost".
bool is_loopback_address(std::string_view address) noexcept;

class HttpServer {
 public:
  // `service` and `clock` must outlive the server. Without an AccessService only the health
  // and sync endpoints exist.
  HttpServer(SyncService& service, const Clock& clock, HttpOptions options);
  // `access` (may be null) must outlive the server too.
  HttpServer(SyncService& service, AccessService* access, const Clock& clock, HttpOptions options);
  // `figures` (may be null; needs `access`) must outlive the server too. stop() closes its
  // change feed so that waiting long-polls answer at once.
  HttpServer(SyncService& service, AccessService* access, FiguresService* figures,
             const Clock& clock, HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Also serves the reports, for the sessions of the AccessService given at construction
  // (invalid_argument without one). `reports` must outlive the server. Call before bind().
  Status serve_reports(ReportsService& reports);

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
