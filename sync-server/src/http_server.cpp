#include "fieldcase/server/http_server.hpp"

#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <mutex>

#include "fieldcase/record_schema.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "fieldcase/version.hpp"
#include "web_api.hpp"

namespace fieldcase::server {
namespace {

constexpr const char* kJson = "application/json";

void error(httplib::Response& res, int status, std::string_view code, std::string_view message) {
  res.status = status;
  res.set_content(sync::encode_error(code, message), kJson);
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

struct HttpServer::Impl {
  SyncService& service;
  const Clock& clock;
  HttpOptions options;
  httplib::Server server;
  std::atomic<bool> stop_requested{false};
  std::mutex log_mu;

  Impl(SyncService& s, const Clock& c, HttpOptions o) : service(s), clock(c), options(o) {}

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
    std::string body;
    bool too_large = false;
    const bool read = reader([&](const char* data, std::size_t n) {
      if (body.size() + n > options.max_body_bytes) {
        too_large = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    // The rest of an unread body would be taken for the next request on this connection:
    // ask the client to close it (cpp-httplib, OkHttp and URLSession all honour this).
    if (too_large || !read) res.set_header("Connection", "close");
    if (too_large || (!read && res.status == 413)) {
      return error(
          res, 413, "too_large",
          "the request body is larger than " + std::to_string(options.max_body_bytes) + " bytes");
    }
    if (!read) {
      return error(res, 400, "bad_request", "the request body could not be read or decompressed");
    }

    const std::string token = bearer_token(req);
    if (token.empty()) {
      return error(res, 401, "unauthenticated", "an Authorization: Bearer token is required");
    }
    auto device = service.authenticate(token);
    if (!device.ok()) return internal(res, device.status());
    if (!*device) return error(res, 401, "unauthenticated", "the device token is not valid");

    auto request = sync::decode_request(body);
    if (!request.ok()) {
      if (request.code() == Errc::unsupported) {
        return error(res, 400, "unsupported_protocol", request.status().message());
      }
      return error(res, 400, "bad_request", request.status().message());
    }
    auto response = service.handle(**device, *request, receipt);
    if (!response.ok()) {
      switch (response.code()) {
        case Errc::unauthenticated:
          return error(res, 401, "unauthenticated", "the device token is not valid");
        case Errc::unsupported:
          return error(res, 400, "unsupported_protocol", response.status().message());
        case Errc::invalid_argument:
          return error(res, 400, "bad_request", response.status().message());
        default:
          return internal(res, response.status());
      }
    }
    res.status = 200;
    res.set_content(sync::encode(*response), kJson);
  }

  void internal(httplib::Response& res, const Status& st) {
    // Storage failures carry SQLite's words, never case data; the client gets no detail.
    log("sync failed: " + st.to_string());
    if (st.code() == Errc::busy) {
      res.set_header("Retry-After", "1");
      return error(res, 503, "busy", "the server is busy; retry shortly");
    }
    error(res, 500, "internal", "the server could not process the request; retry later");
  }
};

HttpServer::HttpServer(SyncService& service, const Clock& clock, HttpOptions options)
    : HttpServer(service, nullptr, clock, options) {}

HttpServer::HttpServer(SyncService& service, AccessService* access, const Clock& clock,
                       HttpOptions options)
    : impl_(std::make_unique<Impl>(service, clock, options)) {
  auto& svr = impl_->server;
  Impl* impl = impl_.get();
  const auto threads = static_cast<std::size_t>(std::max(1, options.threads));
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_payload_max_length(options.max_body_bytes);
  svr.set_read_timeout(static_cast<time_t>(options.read_timeout.count()), 0);
  svr.set_write_timeout(static_cast<time_t>(options.write_timeout.count()), 0);
  svr.set_keep_alive_timeout(static_cast<time_t>(options.keep_alive.count()));
  svr.set_tcp_nodelay(true);  // answers must not wait for the client's delayed ACK

  svr.Get("/v1/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        std::string(R"({"status":"ok","version":")") + std::string(fieldcase::version()) + "\"}",
        kJson);
  });
  svr.Post("/v1/sync",
           [impl](const httplib::Request& req, httplib::Response& res,
                  const httplib::ContentReader& reader) { impl->sync(req, res, reader); });
  if (access != nullptr) {
    detail::register_web_api(svr, *access, [impl](const std::string& line) { impl->log(line); });
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

Result<int> HttpServer::bind(const std::string& host, int port) {
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
  if (!impl_->server.listen_after_bind() && !impl_->stop_requested.load()) {
    return {Errc::io, "the HTTP server stopped unexpectedly"};
  }
  return {};
}

void HttpServer::stop() {
  impl_->stop_requested.store(true);
  impl_->server.stop();
}

}  // namespace fieldcase::server
