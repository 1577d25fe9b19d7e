#include "web_api.hpp"

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "fieldcase/json_bounds.hpp"
#include "fieldcase/record.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "error_mapping.hpp"

namespace fieldcase::server::detail {
namespace {

using nlohmann::json;

constexpr const char* kJson = "application/json";
constexpr std::string_view kCookie = "__Host-fieldcase_session";

void error(httplib::Response& res, int status, std::string_view code, std::string_view message) {
  res.status = status;
  res.set_content(sync::encode_error(code, message), kJson);
}

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), kJson);
}


// The JSON object of a request body, within the bounds every body meets (its size is bounded
// before it is read, by the HTTP front: HttpOptions::max_web_body_bytes).
Result<json> body_object(const httplib::Request& req) {
  FC_TRY(check_json_bounds(req.body, JsonBounds{req.body.size(), JsonBounds{}.max_depth}));
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return Status(Errc::invalid_argument, "the body must be a JSON object");
  }
  return body;
}

// A string member ("" when absent and not required).
Result<std::string> string_member(const json& body, const char* name, bool required) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) return Status(Errc::invalid_argument, std::string(name) + " is required");
    return std::string();
  }
  if (!it->is_string()) {
    return Status(Errc::invalid_argument, std::string(name) + " must be a string");
  }
  return it->get<std::string>();
}

std::string session_cookie(const httplib::Request& req) {
  const std::string header = req.get_header_value("Cookie");
  std::string_view rest(header);
  while (!rest.empty()) {
    auto semi = rest.find(';');
    std::string_view part = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > kCookie.size() && part.substr(0, kCookie.size()) == kCookie &&
        part[kCookie.size()] == '=') {
      return std::string(part.substr(kCookie.size() + 1));
    }
  }
  return {};
}

// An Origin header, when present, must name this server (the Host the client addressed).
bool origin_ok(const httplib::Request& req) {
  if (!req.has_header("Origin")) return true;
  const std::string origin = req.get_header_value("Origin");
  const std::string host = req.get_header_value("Host");
  return !host.empty() && (origin == "https://" + host || origin == "http://" + host);
}

json worker_json(const Worker& w) {
  return {{"id", w.id},           {"name", w.name},     {"role", std::string(to_string(w.role))},
          {"team_id", w.team_id}, {"active", w.active}, {"created_at", w.created_at}};
}

json grant_json(const RoleGrant& g) {
  return {{"id", g.id},
          {"worker_id", g.worker_id},
          {"role", std::string(to_string(g.role))},
          {"from_role", g.from_role},
          {"requested_by", g.requested_by},
          {"requested_at", g.requested_at},
          {"state", g.state},
          {"decided_by", g.decided_by},
          {"decided_at", g.decided_at}};
}

json device_json(const Device& d) {
  json j{{"id", d.id},
         {"worker_id", d.worker_id},
         {"name", d.name},
         {"status", std::string(to_string(d.status))},
         {"created_at", d.created_at},
         {"revoked_at", d.revoked_at},
         {"last_sync_at", d.last_sync_at}};
  j["clock_offset_ms"] = d.clock_offset_ms ? json(*d.clock_offset_ms) : json(nullptr);
  return j;
}

json audit_json(const AuditEvent& e) {
  return {{"seq", e.seq},
          {"id", e.id},
          {"at", e.at},
          {"action", e.event},
          {"outcome", e.outcome},
          {"worker_id", e.worker_id},
          {"device_id", e.device_id},
          {"case_id", e.case_id},
          {"record_id", e.record_id},
          {"tx_id", e.tx_id},
          {"relation", e.relation},
          {"detail", e.detail},
          {"hash", e.hash}};
}

json record_json(const StoredRecord& r) {
  json fields = json::object();
  for (const auto& [name, state] : r.fields) {
    if (is_null(state.value)) continue;
    fields[name] = json::parse(value_to_json(state.value), nullptr, false);
  }
  return {{"id", r.id},
          {"kind", std::string(to_string(r.kind))},
          {"case_id", r.case_id},
          {"fields", fields},
          {"created_at", r.created_at},
          {"created_by", r.created_by},
          {"updated_at", r.updated_at},
          {"updated_by", r.updated_by}};
}

class WebApi {
 public:
  WebApi(AccessService& access, std::function<void(const std::string&)> log)
      : access_(access), log_(std::move(log)) {}

  std::optional<Session> authenticate(const httplib::Request& req, httplib::Response& res) {
    return web_session(access_, req, res, log_);
  }

  // The session of an actor allowed to take `action`, or nullopt after answering.
  std::optional<Session> allowed(const httplib::Request& req, httplib::Response& res,
                                 Action action) {
    auto session = authenticate(req, res);
    if (!session) return std::nullopt;
    Status st = access_.require(session->worker, action, req.method + " " + req.path);
    if (!st.ok()) {
      reply_error(res, st, log_);
      return std::nullopt;
    }
    return session;
  }

  void enroll(const httplib::Request& req, httplib::Response& res) {
    auto body = body_object(req);
    if (!body.ok()) return reply_error(res, body.status(), log_);
    auto code = string_member(*body, "code", true);
    if (!code.ok()) return reply_error(res, code.status(), log_);
    auto name = string_member(*body, "device_name", true);
    if (!name.ok()) return reply_error(res, name.status(), log_);
    auto enrolled = access_.enroll(*code, *name, req.remote_addr);
    if (!enrolled.ok()) return reply_error(res, enrolled.status(), log_);
    reply(res, 201,
          {{"device_id", enrolled->device_id},
           {"worker_id", enrolled->worker_id},
           {"role", std::string(to_string(enrolled->role))},
           {"token", enrolled->token}});
  }

  void sign_in(const httplib::Request& req, httplib::Response& res) {
    if (!origin_ok(req)) return error(res, 403, "csrf", "the request comes from another site");
    auto body = body_object(req);
    if (!body.ok()) return reply_error(res, body.status(), log_);
    auto worker = string_member(*body, "worker_id", true);
    if (!worker.ok()) return reply_error(res, worker.status(), log_);
    auto password = string_member(*body, "password", true);
    if (!password.ok()) return reply_error(res, password.status(), log_);
    auto signed_in = access_.sign_in(*worker, *password, req.remote_addr);
    if (!signed_in.ok()) return reply_error(res, signed_in.status(), log_);
    const auto max_age =
        std::chrono::duration_cast<std::chrono::seconds>(access_.options().session_absolute)
            .count();
    res.set_header("Set-Cookie", std::string(kCookie) + "=" + signed_in->session_id +
                                     "; Path=/; Max-Age=" + std::to_string(max_age) +
                                     "; Secure; HttpOnly; SameSite=Strict");
    reply(res, 200,
          {{"worker", worker_json(signed_in->worker)},
           {"csrf_token", signed_in->csrf_token},
           {"expires_at", signed_in->expires_at}});
  }

  void who_am_i(const httplib::Request& req, httplib::Response& res) {
    auto session = authenticate(req, res);
    if (!session) return;
    reply(res, 200,
          {{"worker", worker_json(session->worker)},
           {"csrf_token", session->csrf_token},
           {"expires_at", session->expires_at}});
  }

  void sign_out(const httplib::Request& req, httplib::Response& res) {
    auto session = authenticate(req, res);
    if (!session) return;
    Status st = access_.sign_out(session_cookie(req));
    if (!st.ok()) return reply_error(res, st, log_);
    res.set_header("Set-Cookie", std::string(kCookie) +
                                     "=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict");
    res.status = 204;
  }

  void read_case(const httplib::Request& req, httplib::Response& res) {
    auto session = authenticate(req, res);
    if (!session) return;
    auto content = access_.read_case(session->worker, req.matches[1].str());
    if (!content.ok()) return reply_error(res, content.status(), log_);
    json records = json::array();
    for (const auto& r : content->records) records.push_back(record_json(r));
    reply(res, 200,
          {{"case_id", content->case_id},
           {"relation", std::string(to_string(content->relation))},
           {"records", records}});
  }

  // --- /v1/admin ---

  // Runs an administrative action for a signed-in actor allowed `action`. The answer's status
  // is read after `fn` ran, so `fn` may change the variable `ok_status` refers to.
  void admin_action(const httplib::Request& req, httplib::Response& res,
                    const std::function<Status(Admin&, json&)>& fn, const int& ok_status = 200,
                    Action action = Action::administer) {
    auto session = allowed(req, res, action);
    if (!session) return;
    json out = json::object();
    Status st = access_.administer(session->worker, [&](Admin& admin) { return fn(admin, out); });
    if (!st.ok()) return reply_error(res, st, log_);
    reply(res, ok_status, out);
  }

  void list_workers(const httplib::Request& req, httplib::Response& res) {
    admin_action(req, res, [](Admin& admin, json& out) -> Status {
      auto workers = admin.list_workers();
      if (!workers.ok()) return workers.status();
      out["workers"] = json::array();
      for (const auto& w : *workers) out["workers"].push_back(worker_json(w));
      return {};
    });
  }

  // The body's string members, or the first error.
  static Result<std::vector<std::string>> members(const httplib::Request& req,
                                                  std::initializer_list<const char*> required,
                                                  std::initializer_list<const char*> optional) {
    auto body = body_object(req);
    if (!body.ok()) return body.status();
    std::vector<std::string> out;
    for (const char* name : required) {
      auto v = string_member(*body, name, true);
      if (!v.ok()) return v.status();
      out.push_back(std::move(*v));
    }
    for (const char* name : optional) {
      auto v = string_member(*body, name, false);
      if (!v.ok()) return v.status();
      out.push_back(std::move(*v));
    }
    return out;
  }

  void create_worker(const httplib::Request& req, httplib::Response& res) {
    admin_action(
        req, res,
        [&](Admin& admin, json& out) -> Status {
          auto m = members(req, {"name", "role"}, {"team_id"});
          if (!m.ok()) return m.status();
          auto role = parse_role((*m)[1]);
          if (!role) return {Errc::invalid_argument, "unknown role '" + (*m)[1] + "'"};
          auto id = admin.create_worker((*m)[0], *role, (*m)[2]);
          if (!id.ok()) return id.status();
          out["id"] = *id;
          // A worker who reaches case data waits, inactive, for a second person.
          auto grant = admin.pending_grant(*id);
          if (!grant.ok()) return grant.status();
          out["active"] = !*grant;
          if (*grant) out["grant"] = grant_json(**grant);
          return {};
        },
        201);
  }

  void deactivate_worker(const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1].str();
    admin_action(req, res, [&](Admin& admin, json& out) -> Status {
      FC_TRY(admin.deactivate_worker(id));
      out = {{"id", id}, {"active", false}};
      return {};
    });
  }

  // 200 when the role changed; 202 with the grant when it waits for a second person.
  void set_role(const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1].str();
    int status = 200;
    admin_action(
        req, res,
        [&](Admin& admin, json& out) -> Status {
          auto m = members(req, {"role"}, {});
          if (!m.ok()) return m.status();
          auto role = parse_role((*m)[0]);
          if (!role) return {Errc::invalid_argument, "unknown role '" + (*m)[0] + "'"};
          auto grant = admin.set_role(id, *role);
          if (!grant.ok()) return grant.status();
          out = {{"id", id}, {"role", (*m)[0]}};
          if (*grant) {
            out["grant"] = grant_json(**grant);
            status = 202;
          }
          return {};
        },
        status);
  }

  void list_grants(const httplib::Request& req, httplib::Response& res) {
    admin_action(
        req, res,
        [](Admin& admin, json& out) -> Status {
          auto grants = admin.pending_grants();
          if (!grants.ok()) return grants.status();
          out["grants"] = json::array();
          for (const auto& g : *grants) out["grants"].push_back(grant_json(g));
          return {};
        },
        200, Action::approve_roles);
  }

  void decide_grant(const httplib::Request& req, httplib::Response& res, bool approve) {
    const std::string id = req.matches[1].str();
    admin_action(
        req, res,
        [&](Admin& admin, json& out) -> Status {
          FC_TRY(approve ? admin.approve_grant(id) : admin.refuse_grant(id));
          out = {{"id", id}, {"state", approve ? "approved" : "refused"}};
          return {};
        },
        200, Action::approve_roles);
  }
  void approve_grant(const httplib::Request& req, httplib::Response& res) {
    decide_grant(req, res, true);
  }
  void refuse_grant(const httplib::Request& req, httplib::Response& res) {
    decide_grant(req, res, false);
  }

  void create_area(const httplib::Request& req, httplib::Response& res) {
    admin_action(
        req, res,
        [&](Admin& admin, json& out) -> Status {
          auto m = members(req, {"name"}, {});
          if (!m.ok()) return m.status();
          auto id = admin.create_area((*m)[0]);
          if (!id.ok()) return id.status();
          out["id"] = *id;
          return {};
        },
        201);
  }

  void create_team(const httplib::Request& req, httplib::Response& res) {
    admin_action(
        req, res,
        [&](Admin& admin, json& out) -> Status {
          auto m = members(req, {"name", "area_id"}, {});
          if (!m.ok()) return m.status();
          auto id = admin.create_team((*m)[0], (*m)[1]);
          if (!id.ok()) return id.status();
          out["id"] = *id;
          return {};
        },
        201);
  }

  void allocate(const httplib::Request& req, httplib::Response& res) {
    admin_action(req, res, [&](Admin& admin, json& out) -> Status {
      auto m = members(req, {"case_id", "worker_id"}, {});
      if (!m.ok()) return m.status();
      FC_TRY(admin.allocate((*m)[0], (*m)[1]));
      out = {{"case_id", (*m)[0]}, {"worker_id", (*m)[1]}};
      return {};
    });
  }

  void issue_code(const httplib::Request& req, httplib::Response& res) {
    const auto ttl = access_.options().enrollment_ttl;
    admin_action(
        req, res,
        [&](Admin& admin, json& out) -> Status {
          auto m = members(req, {"worker_id"}, {});
          if (!m.ok()) return m.status();
          auto issued = admin.issue_enrollment_code((*m)[0], ttl);
          if (!issued.ok()) return issued.status();
          out = {{"id", issued->id},
                 {"code", issued->code},
                 {"worker_id", issued->worker_id},
                 {"expires_at", issued->expires_at}};
          return {};
        },
        201);
  }

  void list_devices(const httplib::Request& req, httplib::Response& res) {
    admin_action(req, res, [](Admin& admin, json& out) -> Status {
      auto devices = admin.list_devices();
      if (!devices.ok()) return devices.status();
      out["devices"] = json::array();
      for (const auto& d : *devices) out["devices"].push_back(device_json(d));
      return {};
    });
  }

  void revoke_device(const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1].str();
    admin_action(req, res, [&](Admin& admin, json& out) -> Status {
      FC_TRY(admin.revoke_device(id));
      out = {{"id", id}, {"status", "revoked"}};
      return {};
    });
  }

  void audit(const httplib::Request& req, httplib::Response& res) {
    auto session = allowed(req, res, Action::read_audit);
    if (!session) return;
    AuditQuery q;
    q.case_id = req.get_param_value("case_id");
    q.worker_id = req.get_param_value("worker_id");
    q.device_id = req.get_param_value("device_id");
    q.event = req.get_param_value("action");
    const std::string not_allocated = req.get_param_value("not_allocated");
    if (!not_allocated.empty() && not_allocated != "true" && not_allocated != "false") {
      return error(res, 400, "bad_request", "not_allocated is true or false");
    }
    q.not_allocated = not_allocated == "true";
    if (req.has_param("limit")) {
      const std::string text = req.get_param_value("limit");
      if (text.empty() || text.size() > 6 ||
          text.find_first_not_of("0123456789") != std::string::npos || std::stoi(text) < 1) {
        return error(res, 400, "bad_request", "limit is a whole number from 1 to 999999");
      }
      q.limit = static_cast<std::size_t>(std::stoi(text));
    }
    auto entries = access_.query_audit(q);
    if (!entries.ok()) return reply_error(res, entries.status(), log_);
    json out{{"entries", json::array()}};
    for (const auto& e : *entries) out["entries"].push_back(audit_json(e));
    reply(res, 200, out);
  }

  void verify(const httplib::Request& req, httplib::Response& res) {
    auto session = allowed(req, res, Action::read_audit);
    if (!session) return;
    auto v = access_.verify_audit();
    if (!v.ok()) return reply_error(res, v.status(), log_);
    reply(res, 200,
          {{"intact", v->intact},
           {"entries", v->entries},
           {"first_bad_seq", v->first_bad_seq},
           {"problem", v->problem},
           {"head_hash", v->head_hash}});
  }

 private:
  AccessService& access_;
  std::function<void(const std::string&)> log_;
};

}  // namespace

std::optional<Session> web_session(AccessService& access, const httplib::Request& req,
                                   httplib::Response& res,
                                   const std::function<void(const std::string&)>& log,
                                   bool background) {
  const std::string id = session_cookie(req);
  if (id.empty()) {
    error(res, 401, "unauthenticated", "sign in first");
    return std::nullopt;
  }
  background = background || req.get_header_value("X-Fieldcase-Background") == "1";
  auto session = access.session(id, !background);
  if (!session.ok()) {
    reply_error(res, session.status(), log);
    return std::nullopt;
  }
  if (!*session) {
    error(res, 401, "unauthenticated", "the session has ended; sign in again");
    return std::nullopt;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    if (!origin_ok(req)) {
      error(res, 403, "csrf", "the request comes from another site");
      return std::nullopt;
    }
    if (!AccessService::csrf_matches(id, req.get_header_value("X-CSRF-Token"))) {
      error(res, 403, "csrf", "the X-CSRF-Token header is missing or wrong");
      return std::nullopt;
    }
  }
  return std::move(**session);
}

void set_security_headers(httplib::Response& res) {
  static const std::pair<const char*, const char*> kHeaders[] = {
      {"Content-Security-Policy",
       "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
      {"Strict-Transport-Security", "max-age=31536000; includeSubDomains"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Cache-Control", "no-store"},
  };
  for (const auto& [name, value] : kHeaders) {
    if (!res.has_header(name)) res.set_header(name, value);
  }
}

void register_web_api(httplib::Server& svr, AccessService& access,
                      std::function<void(const std::string&)> log) {
  auto api = std::make_shared<WebApi>(access, std::move(log));
  using H = void (WebApi::*)(const httplib::Request&, httplib::Response&);
  auto bind = [api](H h) {
    return [api, h](const httplib::Request& req, httplib::Response& res) { ((*api).*h)(req, res); };
  };
  constexpr const char* kId = "([0-9a-fA-F-]{1,64})";
  svr.Post("/v1/enroll", bind(&WebApi::enroll));
  svr.Post("/v1/session", bind(&WebApi::sign_in));
  svr.Get("/v1/session", bind(&WebApi::who_am_i));
  svr.Delete("/v1/session", bind(&WebApi::sign_out));
  svr.Get(std::string("/v1/cases/") + kId, bind(&WebApi::read_case));
  svr.Get("/v1/admin/workers", bind(&WebApi::list_workers));
  svr.Post("/v1/admin/workers", bind(&WebApi::create_worker));
  svr.Post(std::string("/v1/admin/workers/") + kId + "/deactivate",
           bind(&WebApi::deactivate_worker));
  svr.Post(std::string("/v1/admin/workers/") + kId + "/role", bind(&WebApi::set_role));
  svr.Get("/v1/admin/role-grants", bind(&WebApi::list_grants));
  svr.Post(std::string("/v1/admin/role-grants/") + kId + "/approve", bind(&WebApi::approve_grant));
  svr.Post(std::string("/v1/admin/role-grants/") + kId + "/refuse", bind(&WebApi::refuse_grant));
  svr.Post("/v1/admin/areas", bind(&WebApi::create_area));
  svr.Post("/v1/admin/teams", bind(&WebApi::create_team));
  svr.Post("/v1/admin/allocations", bind(&WebApi::allocate));
  svr.Post("/v1/admin/enrollment-codes", bind(&WebApi::issue_code));
  svr.Get("/v1/admin/devices", bind(&WebApi::list_devices));
  svr.Post(std::string("/v1/admin/devices/") + kId + "/revoke", bind(&WebApi::revoke_device));
  svr.Get("/v1/admin/audit", bind(&WebApi::audit));
  svr.Get("/v1/admin/audit/verify", bind(&WebApi::verify));
}

}  // namespace fieldcase::server::detail
