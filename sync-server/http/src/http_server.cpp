#include "fieldcase/server/http_server.hpp"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "fieldcase/record_schema.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "fieldcase/version.hpp"
#include "error_mapping.hpp"
#include "figures_api.hpp"
#include "http_front.hpp"
#include "reports_api.hpp"
#include "web_api.hpp"

namespace fieldcase::server {
namespace {

constexpr const char* kJson = "application/json";

void error(httplib::Response& res, int status, std::string_view code, std::string_view message,
           const std::vector<sync::Instruction>& instructions = {}) {
  res.status = status;
  res.set_content(sync::encode_error(code, message, instructions), kJson);
}

bool is_wildcard(std::string_view host) {
  return host.empty() || host == "0.0.0.0" || host == "::";
}

// The token of an "Authorization: Bearer <token>" header, or empty.
std::string bearer_token(const httplib::Request& req) {
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return {};
  }
  std::string_view token(header);
  token.remove_prefix(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return std::string(token);
}

std::string_view reason_for(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthenticated";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 408:
      return "timeout";
    case 405:
      return "method_not_allowed";
    case 413:
      return "too_large";
    case 503:
      return "busy";
    default:
      return status >= 500 ? "internal" : "error";
  }
}

}  // namespace

bool is_loopback_address(std::string_view a) noexcept {
  if (a.starts_with("::ffff:")) a.remove_prefix(7);
  return a == "localhost" || a == "::1" || a.starts_with("127.");
}

struct HttpServer::Impl {
  SyncService& service;
  FiguresService* figures = nullptr;
  AccessService* access = nullptr;  // the web's sessions, when there is a web front
  const Clock& clock;
  HttpOptions options;
  bool tls = false;
  bool tls_unusable = false;  // TLS configured, but its files could not be used
  std::unique_ptr<detail::FrontServer> owned;
  detail::FrontServer& server;
  std::atomic<bool> stop_requested{false};
  std::mutex log_mu;
  std::mutex ready_mu;  // one readiness check at a time (its store may be one connection)

  std::unique_ptr<detail::FrontServer> make_server() {
    SSL_CTX* ctx = nullptr;
    if (tls) {
      ctx = detail::make_tls_context(options.tls_cert, options.tls_key);
      tls_unusable = ctx == nullptr;
    }
    detail::FrontOptions f;
    f.max_head_bytes = options.max_head_bytes;
    f.head_timeout = options.head_timeout;
    f.keep_alive = options.keep_alive;
    f.read_timeout = options.read_timeout;
    f.write_timeout = options.write_timeout;
    f.body_deadline = options.body_deadline;
    f.max_pending = options.max_pending_connections;
    f.max_pending_per_address = options.max_pending_per_address;
    f.max_inflight_body_bytes = options.max_inflight_body_bytes;
    f.threads = static_cast<std::size_t>(std::max(1, options.threads));
    f.max_queued = options.max_queued_connections;
    // Only a sync carries a large body; every other endpoint takes a small JSON object.
    auto limit = [this](std::string_view method, std::string_view path) {
      return method == "POST" && path == "/v1/sync" ? options.max_body_bytes
                                                    : options.max_web_body_bytes;
    };
    auto refused = [this](std::string_view event, const std::string& peer,
                          const std::string& detail) { audit(event, peer, detail); };
    return std::make_unique<detail::FrontServer>(f, limit, refused, ctx);
  }

  Impl(SyncService& s, const Clock& c, HttpOptions o)
      : service(s),
        clock(c),
        options(std::move(o)),
        tls(!options.tls_cert.empty() || !options.tls_key.empty()),
        owned(make_server()),
        server(*owned) {}

  void audit(std::string_view event, const AuthenticatedDevice* device, const httplib::Request& req,
             std::string_view detail) {
    audit(event, device, req.remote_addr, detail);
  }
  void audit(std::string_view event, const std::string& peer, std::string_view detail) {
    audit(event, nullptr, peer, detail);
  }
  void audit(std::string_view event, const AuthenticatedDevice* device, const std::string& peer,
             std::string_view detail) {
    Status st =
        service.audit(event, device, std::string(detail) + " (peer " + peer + ")", clock.wall());
    if (!st.ok()) log("audit failed: " + st.to_string());
  }

  void log(const std::string& line) {
    if (!options.log_requests) return;
    std::lock_guard lock(log_mu);
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  void sync(const httplib::Request& req, httplib::Response& res,
            const httplib::ContentReader& reader) {
    // Receipt is when the request arrived, before its body was read: the closest the server
    // gets to when the device sent it.
    const auto receipt = clock.wall();
    const auto started = std::chrono::steady_clock::now();
    std::string body;
    bool too_large = false, too_slow = false;
    const bool read = reader([&](const char* data, std::size_t n) {
      if (body.size() + n > options.max_body_bytes) {
        too_large = true;
        return false;
      }
      if (std::chrono::steady_clock::now() - started > options.body_deadline) {
        too_slow = true;  // a slow drip: every read arrives in time, the whole never does
        return false;
      }
      body.append(data, n);
      return true;
    });
    // The rest of an unread body would be taken for the next request on this connection:
    // ask the client to close it (cpp-httplib, OkHttp and URLSession all honour this).
    if (too_large || !read) res.set_header("Connection", "close");
    if (too_large || (!read && res.status == 413)) {
      audit("too_large", nullptr, req, "body over " + std::to_string(options.max_body_bytes));
      return error(
          res, 413, "too_large",
          "the request body is larger than " + std::to_string(options.max_body_bytes) + " bytes");
    }
    const auto waited = std::chrono::steady_clock::now() - started;
    if (too_slow || (!read && waited >= std::min(options.read_timeout, options.body_deadline))) {
      audit("request_timeout", nullptr, req, "the body did not arrive in time");
      res.set_header("Connection", "close");
      return error(res, 408, "timeout", "the request body did not arrive in time");
    }
    if (!read) {
      audit("bad_request", nullptr, req, "unreadable body");
      return error(res, 400, "bad_request", "the request body could not be read or decompressed");
    }

    const std::string token = bearer_token(req);
    if (token.empty()) {
      audit("auth_failed", nullptr, req, "no bearer token");
      return error(res, 401, "unauthenticated", "an Authorization: Bearer token is required");
    }
    auto device = service.authenticate(token);
    if (!device.ok()) return internal(res, device.status());
    if (!*device) {
      audit("auth_failed", nullptr, req, "unknown token");
      return error(res, 401, "unauthenticated", "the device token is not valid");
    }
    if ((*device)->revoked) return refuse(res, **device, receipt);
    auto admitted = service.admit_request((*device)->device_id, options.rate_limit_per_minute,
                                          options.rate_limit_burst);
    if (!admitted.ok()) return internal(res, admitted.status());
    if (auto wait = *admitted) {
      audit("rate_limited", &**device, req, "over the per-device request rate");
      res.set_header("Retry-After", std::to_string(*wait));
      return error(
          res, 429, sync::kErrorRateLimited,
          "too many requests from this device; retry after " + std::to_string(*wait) + " s");
    }

    auto request = sync::decode_request(body);
    if (!request.ok()) {
      audit("bad_request", &**device, req, request.status().message());
      const Status refused = request.code() == Errc::unsupported
                                 ? request.status()
                                 : Status(Errc::invalid_argument, request.status().message());
      return internal(res, refused);
    }
    auto response = service.handle(**device, *request, receipt);
    if (!response.ok()) {
      if (response.code() == Errc::unauthenticated) {
        AuthenticatedDevice refused = **device;
        refused.revoked = true;
        refused.status = DeviceStatus::revoked;
        return refuse(res, refused, receipt);
      }
      if (response.code() == Errc::invalid_argument) {
        audit("bad_request", &**device, req, response.status().message());
      }
      return internal(res, response.status());
    }
    res.status = 200;
    res.set_content(sync::encode(*response), kJson);
  }

  // A wiped device's report (sync::kWipeReportPath): its bearer credential is the wipe proof.
  void wiped(const httplib::Request& req, httplib::Response& res) {
    const auto receipt = clock.wall();
    const std::string proof = bearer_token(req);
    auto status = service.report_wipe(proof, receipt);
    if (!status.ok()) return internal(res, status.status());
    if (!*status) {
      audit("auth_failed", nullptr, req, "unknown wipe proof");
      return error(res, 401, "unauthenticated", "the wipe proof is not valid");
    }
    res.status = 200;
    res.set_content(std::string(R"({"status":")") + std::string(to_string(**status)) + "\"}",
                    kJson);
  }

  // 403 device_revoked with the wipe instruction: nothing of the request is applied.
  void refuse(httplib::Response& res, const AuthenticatedDevice& device,
              std::chrono::system_clock::time_point receipt) {
    auto wipe = service.refuse(device, receipt);
    if (!wipe.ok()) return internal(res, wipe.status());
    error(res, 403, sync::kErrorDeviceRevoked, wipe->reason, {*wipe});
  }

  // A failed Status answered through the one error mapping; storage failures carry the
  // engine's words, never case data, and the client gets no detail of them.
  void internal(httplib::Response& res, const Status& st) {
    detail::reply_error(res, st, [this](const std::string& line) { log(line); });
  }
};

HttpServer::HttpServer(SyncService& service, const Clock& clock, HttpOptions options)
    : HttpServer(service, nullptr, clock, options) {}

HttpServer::HttpServer(SyncService& service, AccessService* access, const Clock& clock,
                       HttpOptions options)
    : HttpServer(service, access, nullptr, clock, std::move(options)) {}

HttpServer::HttpServer(SyncService& service, AccessService* access, FiguresService* figures,
                       const Clock& clock, HttpOptions options)
    : impl_(std::make_unique<Impl>(service, clock, options)) {
  impl_->figures = figures;
  impl_->access = access;
  auto& svr = impl_->server;
  Impl* impl = impl_.get();
  const bool plain = !impl_->tls;
  svr.set_payload_max_length(options.max_body_bytes);
  svr.set_read_timeout(static_cast<time_t>(options.read_timeout.count()), 0);
  svr.set_write_timeout(static_cast<time_t>(options.write_timeout.count()), 0);
  svr.set_keep_alive_timeout(static_cast<time_t>(options.keep_alive.count()));
  svr.set_tcp_nodelay(true);  // answers must not wait for the client's delayed ACK

  // Connections the pool had no room for are told to come back; then plain HTTP reaches only
  // loopback peers unless explicitly allowed (a wildcard bind).
  svr.set_pre_routing_handler([impl, plain](const httplib::Request& req, httplib::Response& res) {
    if (detail::FrontServer::overflowing()) {
      impl->log("refused a connection: every connection thread is busy and the queue is full");
      res.set_header("Retry-After", "1");
      res.set_header("Connection", "close");
      error(res, 503, "busy", "the server is busy; retry shortly");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!plain || impl->options.allow_plain_http || is_loopback_address(req.remote_addr)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    impl->audit("tls_required", nullptr, req, "plain HTTP from a non-loopback peer");
    res.set_header("Connection", "close");
    error(res, 403, "tls_required",
          "this server accepts plain HTTP from this machine only; use HTTPS");
    return httplib::Server::HandlerResponse::Handled;
  });
  svr.Get("/v1/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        std::string(R"({"status":"ok","version":")") + std::string(fieldcase::version()) + "\"}",
        kJson);
  });
  svr.Get("/v1/ready", [impl](const httplib::Request&, httplib::Response& res) {
    Status ready;
    if (impl->options.readiness) {
      std::lock_guard lock(impl->ready_mu);
      ready = impl->options.readiness();
    }
    if (!ready.ok()) {
      impl->log("not ready: " + ready.to_string());
      res.set_header("Retry-After", "2");
      return error(res, 503, "unavailable",
                   ready.code() == Errc::schema ? "the database's schema is not this server's"
                                                : "the server's database is unavailable");
    }
    res.set_content(R"({"status":"ready"})", kJson);
  });
  svr.Post("/v1/sync",
           [impl](const httplib::Request& req, httplib::Response& res,
                  const httplib::ContentReader& reader) { impl->sync(req, res, reader); });
  svr.Post(std::string(sync::kWipeReportPath),
           [impl](const httplib::Request& req, httplib::Response& res) { impl->wiped(req, res); });
  if (access != nullptr) {
    detail::register_web_api(svr, *access, [impl](const std::string& line) { impl->log(line); });
    if (figures != nullptr) {
      detail::register_figures_api(svr, *access, *figures,
                                   [impl](const std::string& line) { impl->log(line); });
      detail::register_dashboard(svr);
    }
  }
  svr.set_post_routing_handler(
      [](const httplib::Request&, httplib::Response& res) { detail::set_security_headers(res); });
  // Every other error gets the same JSON error body.
  httplib::Server::HandlerWithResponse on_error = [](const httplib::Request&,
                                                     httplib::Response& res) {
    detail::set_security_headers(res);
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    // A request refused before its body was read leaves the body on the connection.
    if (res.status == 400 || res.status == 413) res.set_header("Connection", "close");
    res.set_content(
        sync::encode_error(reason_for(res.status), "HTTP " + std::to_string(res.status)), kJson);
    return httplib::Server::HandlerResponse::Handled;
  };
  svr.set_error_handler(std::move(on_error));
  svr.set_exception_handler(
      [impl](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        impl->log("sync failed: an exception escaped a handler");
        error(res, 500, "internal", "the server could not process the request; retry later");
      });
  svr.set_logger([impl](const httplib::Request& req, const httplib::Response& res) {
    impl->log(format_iso_datetime(impl->clock.wall()) + " " + req.method + " " + req.path + " " +
              std::to_string(res.status));
  });
}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::serve_reports(ReportsService& reports) {
  if (impl_->access == nullptr) {
    return {Errc::invalid_argument, "the reports need the web sign-in (an AccessService)"};
  }
  Impl* impl = impl_.get();
  detail::register_reports_api(impl_->server, *impl_->access, reports,
                               [impl](const std::string& line) { impl->log(line); });
  return {};
}

Result<int> HttpServer::bind(const std::string& host, int port) {
  if (impl_->tls_unusable || !impl_->server.is_valid()) {
    return Status(Errc::invalid_argument,
                  "TLS needs both tls_cert and tls_key, readable PEM files of a certificate and "
                  "its private key (" +
                      impl_->options.tls_cert + ", " + impl_->options.tls_key + ")");
  }
  if (!impl_->tls && !is_loopback_address(host)) {
    if (!impl_->options.allow_plain_http && !is_wildcard(host)) {
      return Status(Errc::invalid_argument,
                    "refusing to serve plain HTTP on the non-loopback address " + host +
                        ": configure tls_cert and tls_key, or set allow_plain_http = true");
    }
    if (impl_->options.allow_plain_http) {
      std::fprintf(stderr,
                   "fieldcase-server: WARNING: serving PLAIN HTTP on %s (allow_plain_http = true). "
                   "Device tokens and case data cross the network UNENCRYPTED. Use this only "
                   "behind a TLS-terminating proxy on a trusted network.\n",
                   host.c_str());
    }
  }
  if (port == 0) {
    int bound = impl_->server.bind_to_any_port(host);
    if (bound <= 0) return Status(Errc::io, "cannot listen on " + host + " (any port)");
    return bound;
  }
  if (!impl_->server.bind_to_port(host, port)) {
    return Status(Errc::io, "cannot listen on " + host + ":" + std::to_string(port));
  }
  return port;
}

Status HttpServer::run() {
  if (impl_->stop_requested.load()) return {};
  if (!impl_->server.serve() && !impl_->stop_requested.load()) {
    return {Errc::io, "the HTTP server stopped unexpectedly"};
  }
  return {};
}

void HttpServer::stop() {
  impl_->stop_requested.store(true);
  if (impl_->figures != nullptr) impl_->figures->close();  // long-polls answer at once
  impl_->server.stop();
}

}  // namespace fieldcase::server
