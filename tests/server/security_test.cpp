// Server-side security ([security]): every cell of the permission matrix over HTTP against the
// real fieldcase-server, device enrollment with one-time codes, web sessions (cookies, CSRF,
// lockout, expiry, security headers), the audit entries each action leaves, and detection of
// edited or deleted audit rows by `fieldcase-server admin audit verify`.
#include <httplib.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/permissions.hpp"
#include "fieldcase/server/tokens.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "server_fixture.hpp"
#include "server_process.hpp"
#include "web_sign_in.hpp"

namespace {

using namespace fieldcase;
using namespace fieldcase::server;
using namespace fieldcase::test;
using json = nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;

constexpr const char* kPassword = "correct horse battery staple";

// The permission matrix as docs/security.md states it: for each role and case action, "Y" or
// "-" for the relations own, team, area, other; for other actions one letter.
struct Row {
  Role role;
  std::map<Action, std::string> cells;
};
const std::vector<Row>& expected_matrix() {
  static const std::vector<Row> rows{
      {Role::social_worker,
       {{Action::read_intake, "Y---"},
        {Action::write_intake, "Y---"},
        {Action::read_casework, "Y---"},
        {Action::write_casework, "Y---"},
        {Action::authorise_assessment, "----"},
        {Action::view_team_figures, "-"},
        {Action::view_area_figures, "-"},
        {Action::view_all_figures, "-"},
        {Action::export_returns, "-"},
        {Action::administer, "-"},
        {Action::read_audit, "-"},
        {Action::approve_roles, "-"}}},
      {Role::team_manager,
       {{Action::read_intake, "YY--"},
        {Action::write_intake, "YY--"},
        {Action::read_casework, "YY--"},
        {Action::write_casework, "YY--"},
        {Action::authorise_assessment, "YY--"},
        {Action::view_team_figures, "Y"},
        {Action::view_area_figures, "-"},
        {Action::view_all_figures, "-"},
        {Action::export_returns, "-"},
        {Action::administer, "-"},
        {Action::read_audit, "-"},
        {Action::approve_roles, "-"}}},
      {Role::area_manager,
       {{Action::read_intake, "YYY-"},
        {Action::write_intake, "YYY-"},
        {Action::read_casework, "YYY-"},
        {Action::write_casework, "YYY-"},
        {Action::authorise_assessment, "YYY-"},
        {Action::view_team_figures, "Y"},
        {Action::view_area_figures, "Y"},
        {Action::view_all_figures, "-"},
        {Action::export_returns, "-"},
        {Action::administer, "-"},
        {Action::read_audit, "-"},
        {Action::approve_roles, "-"}}},
      {Role::service_lead,
       {{Action::read_intake, "YYYY"},
        {Action::write_intake, "Y---"},
        {Action::read_casework, "YYYY"},
        {Action::write_casework, "Y---"},
        {Action::authorise_assessment, "----"},
        {Action::view_team_figures, "Y"},
        {Action::view_area_figures, "Y"},
        {Action::view_all_figures, "Y"},
        {Action::export_returns, "Y"},
        {Action::administer, "-"},
        {Action::read_audit, "-"},
        {Action::approve_roles, "Y"}}},
      {Role::contact_centre,
       {{Action::read_intake, "Y---"},
        {Action::write_intake, "Y---"},
        {Action::read_casework, "----"},
        {Action::write_casework, "----"},
        {Action::authorise_assessment, "----"},
        {Action::view_team_figures, "-"},
        {Action::view_area_figures, "-"},
        {Action::view_all_figures, "-"},
        {Action::export_returns, "-"},
        {Action::administer, "-"},
        {Action::read_audit, "-"},
        {Action::approve_roles, "-"}}},
      {Role::administrator,
       {{Action::read_intake, "----"},
        {Action::write_intake, "----"},
        {Action::read_casework, "----"},
        {Action::write_casework, "----"},
        {Action::authorise_assessment, "----"},
        {Action::view_team_figures, "-"},
        {Action::view_area_figures, "-"},
        {Action::view_all_figures, "-"},
        {Action::export_returns, "-"},
        {Action::administer, "Y"},
        {Action::read_audit, "Y"},
        {Action::approve_roles, "Y"}}},
  };
  return rows;
}

bool expected(Role role, Action action, Relation relation) {
  for (const auto& row : expected_matrix()) {
    if (row.role != role) continue;
    const std::string& cell = row.cells.at(action);
    if (!is_case_action(action)) return cell == "Y";
    const auto i = static_cast<std::size_t>(relation) - 1;  // own=1 .. other=4
    return cell.at(i) == 'Y';
  }
  return false;
}

json parse(const std::string& body) { return json::parse(body, nullptr, false); }

std::string code_of(const httplib::Result& r) {
  if (!r) return "no answer";
  auto j = parse(r->body);
  if (!j.is_object() || !j.contains("error")) return {};
  return j["error"].value("code", "");
}

WebUser sign_in(httplib::Client& c, const std::string& worker_id) {
  WebUser u = web_sign_in(c, worker_id, kPassword);
  REQUIRE(!u.csrf.empty());
  return u;
}

// One sync exchange over HTTP with a device token; returns the decoded answer.
sync::SyncResponse sync_http(httplib::Client& c, const std::string& token,
                             std::vector<sync::Transaction> txs) {
  sync::SyncRequest req;
  req.device_time = format_iso_datetime(std::chrono::system_clock::now());
  req.transactions = std::move(txs);
  auto r = c.Post("/v1/sync", {{"Authorization", "Bearer " + token}}, sync::encode(req),
                  "application/json");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  auto res = sync::decode_response(r->body);
  REQUIRE(res.ok());
  return *res;
}

Fields contact_fields(const std::string& now) {
  return {{"received_at", now}, {"source", std::string("1A")}};
}

std::string now_text() { return format_iso_datetime(std::chrono::system_clock::now()); }

// Entries appended after `after` (a seq), oldest first.
std::vector<AuditEvent> audit_after(ServerStore& store, std::int64_t after) {
  AuditQuery q;
  q.limit = 100000;
  auto all = store.query_audit(q);
  REQUIRE(all.ok());
  std::vector<AuditEvent> out;
  for (auto& e : *all) {
    if (e.seq > after) out.push_back(std::move(e));
  }
  return out;
}

std::int64_t audit_head(ServerStore& store) {
  AuditQuery q;
  q.limit = 100000;
  auto all = store.query_audit(q);
  REQUIRE(all.ok());
  return all->empty() ? 0 : all->back().seq;
}

}  // namespace

TEST_CASE("security: the permission function is the documented matrix", "[security]") {
  for (Role role : kAllRoles) {
    for (Action action : kAllActions) {
      if (is_case_action(action)) {
        for (Relation relation : kCaseRelations) {
          INFO(to_string(role) << " " << to_string(action) << " " << to_string(relation));
          CHECK(permits(role, action, relation) == expected(role, action, relation));
        }
        CHECK_FALSE(permits(role, action, Relation::none));
      } else {
        INFO(to_string(role) << " " << to_string(action));
        CHECK(permits(role, action, Relation::none) == expected(role, action, Relation::none));
      }
    }
  }
  for (Action action : kAllActions) CHECK(parse_action(to_string(action)) == action);
}

TEST_CASE("security: every cell of the permission matrix over HTTP", "[security][http]") {
  ServerFixture f;
  f.clock.set_wall(std::chrono::system_clock::now());
  // Actors of every role in team A (North); case owners in team A, team B (North) and
  // team C (South).
  std::map<Role, std::string> actor{{Role::social_worker, f.sw1}, {Role::team_manager, f.manager}};
  actor[Role::area_manager] = f.worker("Ed", Role::area_manager);
  actor[Role::service_lead] = f.worker("Flo", Role::service_lead);
  actor[Role::contact_centre] = f.worker("Cat", Role::contact_centre);
  actor[Role::administrator] = f.worker("Ada", Role::administrator);
  auto team_b = f.admin->create_team("North 2", f.area);
  auto south = f.admin->create_area("South");
  REQUIRE((team_b.ok() && south.ok()));
  auto team_c = f.admin->create_team("South 1", *south);
  REQUIRE(team_c.ok());
  auto bo = f.admin->create_worker("Bo", Role::social_worker, *team_b);
  auto cy = f.admin->create_worker("Cy", Role::social_worker, *team_c);
  REQUIRE((bo.ok() && cy.ok()));
  for (const auto& [role, id] : actor) {
    REQUIRE(f.admin->set_password(id, kPassword, AccessOptions{}).ok());
  }

  // Every case is recorded by sw1's device (child, contact, one completed assessment per
  // actor), then allocated to its owner.
  auto writer = f.device(f.sw1, "dev-w");
  std::map<std::string, std::map<Role, std::string>> assessment_for;  // case -> role -> id
  auto make_case = [&](const std::string& owner) {
    const std::string child = f.new_id();
    REQUIRE(f.admin->allocate(child, f.sw1).ok());
    std::vector<sync::Transaction> txs{
        create_tx(writer, RecordKind::child, child, child, child_fields(), f.now_text()),
        create_tx(writer, RecordKind::contact, f.new_id(), child, contact_fields(f.now_text()),
                  f.now_text())};
    for (const auto& [role, id] : actor) {
      const std::string a = f.new_id();
      assessment_for[child][role] = a;
      txs.push_back(create_tx(writer, RecordKind::assessment, a, child,
                              {{"assessment_kind", std::string("single")},
                               {"start_date", f.today(-10)},
                               {"status", std::string("in_progress")}},
                              f.now_text()));
    }
    auto res = f.sync(writer, txs);
    INFO((res.rejected.empty() ? std::string() : res.rejected[0].reason));
    REQUIRE(res.accepted.size() == txs.size());
    std::vector<sync::Transaction> done;
    for (const auto& [role, a] : assessment_for[child]) {
      sync::Transaction tx;
      tx.tx_id = f.new_id();
      tx.ops.push_back(set_op(writer, RecordKind::assessment, a, child, "status",
                              std::string("completed"), server_stamp_of(f, a, "status"),
                              f.now_text()));
      tx.ops.push_back(set_op(writer, RecordKind::assessment, a, child, "completed_at",
                              f.now_text(-hours(1)), "", f.now_text()));
      done.push_back(std::move(tx));
    }
    res = f.sync(writer, done);
    INFO((res.rejected.empty() ? std::string() : res.rejected[0].reason));
    REQUIRE(res.accepted.size() == done.size());
    if (owner != f.sw1) REQUIRE(f.admin->allocate(child, owner).ok());
    return child;
  };
  std::map<Role, std::string> own_case;
  for (const auto& [role, id] : actor) {
    if (role != Role::administrator) own_case[role] = make_case(id);
  }
  const std::string team_case = make_case(f.sw2);
  const std::string area_case = make_case(*bo);
  const std::string other_case = make_case(*cy);
  auto case_for = [&](Role role, Relation relation) -> std::string {
    switch (relation) {
      case Relation::own:
        return own_case.count(role) != 0 ? own_case[role] : std::string();
      case Relation::team:
        return team_case;
      case Relation::area:
        return area_case;
      default:
        return other_case;
    }
  };
  std::map<Role, TestDevice> devices;
  for (const auto& [role, id] : actor) {
    devices.emplace(role, f.device(id, "dev-" + std::string(to_string(role))));
  }

  ServerProcess server(f.dir, {});
  httplib::Client c("127.0.0.1", server.port());
  std::map<Role, WebUser> users;
  for (const auto& [role, id] : actor) users[role] = sign_in(c, id);

  int cells = 0;
  for (Role role : kAllRoles) {
    for (Relation relation : kCaseRelations) {
      const std::string case_id = case_for(role, relation);
      if (case_id.empty()) continue;  // an administrator holds no cases: no "own" case exists
      INFO(to_string(role) << " on a case related " << to_string(relation));

      // Reads: GET /v1/cases/{id} returns the kinds the role may read, or 403.
      const bool intake = expected(role, Action::read_intake, relation);
      const bool casework = expected(role, Action::read_casework, relation);
      auto r = c.Get(("/v1/cases/" + case_id).c_str(), users[role].headers(false));
      REQUIRE(r);
      if (!intake && !casework) {
        CHECK(r->status == 403);
        CHECK(code_of(r) == "forbidden");
      } else {
        REQUIRE(r->status == 200);
        std::set<std::string> kinds;
        const json body = parse(r->body);
        for (const auto& rec : body["records"]) kinds.insert(rec["kind"].get<std::string>());
        CHECK(kinds.count("child") == (intake ? 1u : 0u));
        CHECK(kinds.count("contact") == (intake ? 1u : 0u));
        CHECK(kinds.count("assessment") == (casework ? 1u : 0u));
      }
      cells += 2;

      // Writes over POST /v1/sync: a new contact (intake), a new visit (casework).
      TestDevice& d = devices.at(role);
      auto contact = create_tx(d, RecordKind::contact, f.new_id(), case_id,
                               contact_fields(now_text()), now_text());
      auto res = sync_http(c, d.token, {contact});
      CHECK(res.accepted.size() == (expected(role, Action::write_intake, relation) ? 1u : 0u));
      auto visit = create_tx(
          d, RecordKind::visit, f.new_id(), case_id,
          {{"visit_type", std::string("other")}, {"start_at", now_text()}, {"child_seen", true}},
          now_text());
      res = sync_http(c, d.token, {visit});
      CHECK(res.accepted.size() == (expected(role, Action::write_casework, relation) ? 1u : 0u));
      if (!res.rejected.empty()) CHECK(res.rejected[0].code == "out_of_scope");

      // Authorising this actor's completed assessment on the case.
      const std::string a = assessment_for[case_id][role];
      sync::Transaction authorise;
      authorise.tx_id = f.new_id();
      authorise.ops.push_back(set_op(d, RecordKind::assessment, a, case_id, "status",
                                     std::string("authorised"), server_stamp_of(f, a, "status"),
                                     now_text()));
      authorise.ops.push_back(set_op(d, RecordKind::assessment, a, case_id, "authorised_at",
                                     now_text(), "", now_text()));
      authorise.ops.push_back(set_op(d, RecordKind::assessment, a, case_id, "authorised_by",
                                     actor[role], "", now_text()));
      res = sync_http(c, d.token, {authorise});
      const bool may = expected(role, Action::authorise_assessment, relation);
      INFO((res.rejected.empty() ? std::string() : res.rejected[0].reason));
      CHECK(res.accepted.size() == (may ? 1u : 0u));
      CHECK(f.field(a, "status") == Value{std::string(may ? "authorised" : "completed")});
      cells += 3;
    }

    // Administration and audit: only an administrator; refusals are 403 and audited.
    INFO(to_string(role));
    const bool admin = expected(role, Action::administer, Relation::none);
    auto workers = c.Get("/v1/admin/workers", users[role].headers(false));
    REQUIRE(workers);
    CHECK(workers->status == (admin ? 200 : 403));
    auto area = c.Post("/v1/admin/areas", users[role].headers(true),
                       json{{"name", "Area by " + std::string(to_string(role))}}.dump(),
                       "application/json");
    REQUIRE(area);
    CHECK(area->status == (admin ? 201 : 403));
    const bool auditor = expected(role, Action::read_audit, Relation::none);
    auto audit = c.Get("/v1/admin/audit", users[role].headers(false));
    REQUIRE(audit);
    CHECK(audit->status == (auditor ? 200 : 403));
    auto verify = c.Get("/v1/admin/audit/verify", users[role].headers(false));
    REQUIRE(verify);
    CHECK(verify->status == (auditor ? 200 : 403));
    if (auditor) CHECK(parse(verify->body)["intact"] == true);
    const bool approver = expected(role, Action::approve_roles, Relation::none);
    auto grants = c.Get("/v1/admin/role-grants", users[role].headers(false));
    REQUIRE(grants);
    CHECK(grants->status == (approver ? 200 : 403));
    cells += 3;
  }
  CHECK(cells == 6 * 3 + 23 * 5);

  // What each device is sent follows the read rows: every change it receives is on a case and
  // of a kind its role may read there (the contact centre only intake records, the
  // administrator nothing), and it receives every case it may read.
  for (const auto& [role, id] : actor) {
    INFO("pull by " << to_string(role));
    std::map<std::string, Relation> relation_of{
        {team_case, Relation::team}, {area_case, Relation::area}, {other_case, Relation::other}};
    for (const auto& [r, owned] : own_case) {
      relation_of[owned] = r == role ? Relation::own : Relation::team;
    }
    std::set<std::string> seen;
    std::int64_t cursor = 0;
    for (int page = 0; page < 1000; ++page) {
      sync::SyncRequest req;
      req.device_time = now_text();
      req.cursor = cursor;
      auto r = c.Post("/v1/sync", {{"Authorization", "Bearer " + devices.at(role).token}},
                      sync::encode(req), "application/json");
      REQUIRE(r);
      REQUIRE(r->status == 200);
      auto res = sync::decode_response(r->body);
      REQUIRE(res.ok());
      for (const auto& change : res->changes) {
        const Relation rel = relation_of.at(change.case_id);
        INFO(to_string(change.kind) << " on a case related " << to_string(rel));
        CHECK(expected(role, read_action(change.kind), rel));
        seen.insert(change.case_id);
      }
      cursor = res->cursor;
      if (!res->more) break;
    }
    for (const auto& [case_id, rel] : relation_of) {
      const bool readable = expected(role, Action::read_intake, rel);
      CHECK(seen.contains(case_id) == readable);
    }
  }

  // Refusals were audited: one permission_refused per refused web read and admin call.
  auto refused = f.store->audit_events("permission_refused");
  REQUIRE(refused.ok());
  CHECK(refused->size() > 0);
  for (const auto& e : *refused) CHECK(e.outcome == "refused");

  // An administrator cannot be given cases.
  CHECK(f.admin->allocate(f.new_id(), actor[Role::administrator]).code() == Errc::invalid_argument);
}

TEST_CASE("security: device enrollment with one-time codes", "[security][http]") {
  ServerFixture f;
  f.clock.set_wall(std::chrono::system_clock::now());
  ServerProcess server(f.dir, {});
  httplib::Client c("127.0.0.1", server.port());
  auto enroll = [&](const std::string& code, const std::string& name = "Ann's tablet") {
    return c.Post("/v1/enroll", json{{"code", code}, {"device_name", name}}.dump(),
                  "application/json");
  };
  auto issue = [&](const std::string& worker, hours ttl = hours(72)) {
    auto issued = f.admin->issue_enrollment_code(worker, ttl);
    REQUIRE(issued.ok());
    return issued->code;
  };
  auto last_enroll = [&]() {
    auto entries = f.store->audit_events("enroll");
    REQUIRE(entries.ok());
    REQUIRE(!entries->empty());
    return entries->back();
  };

  SECTION("a code enrolls one device, whose token syncs; the code works once") {
    const std::string code = issue(f.sw1);
    CHECK(code.size() == 11);
    CHECK(code[5] == '-');
    CHECK(normalise_enrollment_code(code).has_value());
    // Typed in lower case without the dash, it still works.
    std::string typed;
    for (char ch : code) {
      if (ch != '-') typed += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    auto r = enroll(typed);
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 201);
    auto body = parse(r->body);
    CHECK(body["worker_id"] == f.sw1);
    CHECK(body["role"] == "social_worker");
    const std::string token = body["token"];
    CHECK(looks_like_token(token));
    auto e = last_enroll();
    CHECK(e.outcome == "ok");
    CHECK(e.device_id == body["device_id"]);
    CHECK(e.worker_id == f.sw1);
    // Neither the code nor the token is stored.
    CHECK(f.count("SELECT COUNT(*) FROM enrollment_code WHERE code_hash = '" + code +
                  "' OR lookup = '" + code + "' OR lookup = '" + typed + "'") == 0);
    CHECK(f.count("SELECT COUNT(*) FROM device WHERE token_hash = '" + token + "'") == 0);
    CHECK(sync_http(c, token, {}).instructions.empty());

    auto again = enroll(code);
    REQUIRE(again);
    CHECK(again->status == 401);
    CHECK(code_of(again) == "unauthenticated");
    CHECK(last_enroll().outcome == "refused");
    CHECK_THAT(last_enroll().detail, Catch::Contains("already used"));
  }
  SECTION("an expired code is refused") {
    const std::string code = issue(f.sw1, hours(0));
    auto r = enroll(code);
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK_THAT(last_enroll().detail, Catch::Contains("expired"));
    CHECK(f.count("SELECT COUNT(*) FROM device") == 0);
  }
  SECTION("guessing locks the code, even for the right code afterwards") {
    const std::string code = issue(f.sw1);
    const std::string alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    for (int i = 0; i < 5; ++i) {
      std::string guess = code;
      char& last = guess.back();
      last = alphabet[(alphabet.find(last) + 1 + static_cast<std::size_t>(i)) % alphabet.size()];
      auto r = enroll(guess);
      REQUIRE(r);
      CHECK(r->status == 401);
      CHECK_THAT(last_enroll().detail, Catch::Contains("wrong code"));
    }
    auto r = enroll(code);
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK_THAT(last_enroll().detail, Catch::Contains("locked"));
  }
  SECTION("an address that keeps failing is locked out") {
    const std::string code = issue(f.sw1);
    for (int i = 0; i < 10; ++i) {
      auto r = enroll("ZZZZZ-ZZZZZ");
      REQUIRE(r);
      CHECK(r->status == 401);
    }
    auto r = enroll(code);  // even a good code, from this address, for now
    REQUIRE(r);
    CHECK(r->status == 429);
    CHECK(code_of(r) == "too_many_attempts");
    CHECK(last_enroll().outcome == "refused");
  }
  SECTION("a deactivated worker cannot enroll, nor be given a code") {
    const std::string code = issue(f.sw1);
    REQUIRE(f.admin->deactivate_worker(f.sw1).ok());
    auto r = enroll(code);
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK_THAT(last_enroll().detail, Catch::Contains("not active"));
    CHECK(f.admin->issue_enrollment_code(f.sw1, hours(72)).code() == Errc::invalid_argument);
  }
  SECTION("enrolling a new tablet leaves the old one working") {
    auto first = enroll(issue(f.sw1), "old tablet");
    REQUIRE(first);
    REQUIRE(first->status == 201);
    auto second = enroll(issue(f.sw1), "new tablet");
    REQUIRE(second);
    REQUIRE(second->status == 201);
    CHECK(parse(first->body)["device_id"] != parse(second->body)["device_id"]);
    CHECK(sync_http(c, parse(first->body)["token"], {}).instructions.empty());
    CHECK(sync_http(c, parse(second->body)["token"], {}).instructions.empty());
    auto devices = f.store->list_devices();
    REQUIRE(devices.ok());
    REQUIRE(devices->size() == 2);
    for (const auto& d : *devices) CHECK(d.status == DeviceStatus::active);
  }
  SECTION("malformed requests") {
    auto r = c.Post("/v1/enroll", "[1]", "application/json");
    REQUIRE(r);
    CHECK(r->status == 400);
    r = enroll(issue(f.sw1), "");
    REQUIRE(r);
    CHECK(r->status == 400);
  }
}

TEST_CASE("security: web sessions, CSRF, lockout and security headers", "[security][http]") {
  ServerFixture f;
  f.clock.set_wall(std::chrono::system_clock::now());
  const std::string admin_id = f.worker("Ada", Role::administrator);
  REQUIRE(f.admin->set_password(admin_id, kPassword, AccessOptions{}).ok());
  REQUIRE(f.admin->set_password(f.manager, kPassword, AccessOptions{}).ok());
  CHECK(f.admin->set_password(f.sw1, "short", AccessOptions{}).code() == Errc::invalid_argument);
  // Only an Argon2id string is kept.
  auto creds = f.store->find_credentials(admin_id);
  REQUIRE(creds.ok());
  CHECK(creds->password_hash.rfind("$argon2id$", 0) == 0);

  ServerProcess server(f.dir, {});
  httplib::Client c("127.0.0.1", server.port());

  SECTION("the cookie and the headers") {
    json body{{"worker_id", f.manager}, {"password", kPassword}};
    auto r = c.Post("/v1/session", body.dump(), "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    const std::string cookie = r->get_header_value("Set-Cookie");
    CHECK(cookie.rfind("__Host-fieldcase_session=", 0) == 0);
    CHECK_THAT(cookie, Catch::Contains("; Secure") && Catch::Contains("; HttpOnly") &&
                           Catch::Contains("; SameSite=Strict") && Catch::Contains("; Path=/"));
    for (const char* path : {"/v1/health", "/v1/nothing-here", "/v1/session"}) {
      auto g = c.Get(path);
      REQUIRE(g);
      INFO(path);
      CHECK_THAT(g->get_header_value("Content-Security-Policy"),
                 Catch::Contains("frame-ancestors 'none'"));
      CHECK_THAT(g->get_header_value("Strict-Transport-Security"), Catch::Contains("max-age="));
      CHECK(g->get_header_value("X-Content-Type-Options") == "nosniff");
      CHECK(g->get_header_value("X-Frame-Options") == "DENY");
    }
  }
  SECTION("who am I, CSRF on every state change, sign-out") {
    WebUser u = sign_in(c, f.manager);
    auto me = c.Get("/v1/session", u.headers(false));
    REQUIRE(me);
    REQUIRE(me->status == 200);
    CHECK(parse(me->body)["worker"]["role"] == "team_manager");
    CHECK(parse(me->body)["csrf_token"] == u.csrf);

    auto no_csrf = c.Delete("/v1/session", u.headers(false));
    REQUIRE(no_csrf);
    CHECK(no_csrf->status == 403);
    CHECK(code_of(no_csrf) == "csrf");
    auto wrong = u.headers(false);
    wrong.emplace("X-CSRF-Token", u.csrf.substr(1) + "A");
    auto bad = c.Delete("/v1/session", wrong);
    REQUIRE(bad);
    CHECK(bad->status == 403);
    auto foreign = u.headers(true);
    foreign.emplace("Origin", "https://evil.example");
    auto cross = c.Delete("/v1/session", foreign);
    REQUIRE(cross);
    CHECK(cross->status == 403);
    // Another session's token does not do either.
    WebUser other = sign_in(c, admin_id);
    auto swapped = u.headers(false);
    swapped.emplace("X-CSRF-Token", other.csrf);
    auto mixed = c.Delete("/v1/session", swapped);
    REQUIRE(mixed);
    CHECK(mixed->status == 403);
    auto admin_post =
        c.Post("/v1/admin/areas", other.headers(false), R"({"name":"X"})", "application/json");
    REQUIRE(admin_post);
    CHECK(admin_post->status == 403);
    CHECK(code_of(admin_post) == "csrf");

    auto out = c.Delete("/v1/session", u.headers(true));
    REQUIRE(out);
    CHECK(out->status == 204);
    auto after = c.Get("/v1/session", u.headers(false));
    REQUIRE(after);
    CHECK(after->status == 401);
    auto none = c.Get("/v1/session");
    REQUIRE(none);
    CHECK(none->status == 401);
  }
  SECTION("five wrong passwords lock the account") {
    json wrong{{"worker_id", f.manager}, {"password", "not the password at all"}};
    for (int i = 0; i < 5; ++i) {
      auto r = c.Post("/v1/session", wrong.dump(), "application/json");
      REQUIRE(r);
      CHECK(r->status == 401);
    }
    json right{{"worker_id", f.manager}, {"password", kPassword}};
    auto r = c.Post("/v1/session", right.dump(), "application/json");
    REQUIRE(r);
    CHECK(r->status == 401);  // the same answer as a wrong password or an unknown worker
    CHECK(code_of(r) == "unauthenticated");
    // An administrator's new password lifts the lock.
    REQUIRE(f.admin->set_password(f.manager, kPassword, AccessOptions{}).ok());
    sign_in(c, f.manager);
  }
  SECTION("a deactivated worker's session ends") {
    WebUser u = sign_in(c, f.manager);
    REQUIRE(f.admin->deactivate_worker(f.manager).ok());
    auto me = c.Get("/v1/session", u.headers(false));
    REQUIRE(me);
    CHECK(me->status == 401);
    json right{{"worker_id", f.manager}, {"password", kPassword}};
    auto r = c.Post("/v1/session", right.dump(), "application/json");
    REQUIRE(r);
    CHECK(r->status == 401);
  }
  SECTION("the admin API: enrollment codes, devices, revocation, audit queries") {
    WebUser a = sign_in(c, admin_id);
    auto code = c.Post("/v1/admin/enrollment-codes", a.headers(true),
                       json{{"worker_id", f.sw1}}.dump(), "application/json");
    REQUIRE(code);
    REQUIRE(code->status == 201);
    auto enrolled = c.Post(
        "/v1/enroll", json{{"code", parse(code->body)["code"]}, {"device_name", "tablet 7"}}.dump(),
        "application/json");
    REQUIRE(enrolled);
    REQUIRE(enrolled->status == 201);
    const std::string device = parse(enrolled->body)["device_id"];
    auto devices = c.Get("/v1/admin/devices", a.headers(false));
    REQUIRE(devices);
    REQUIRE(devices->status == 200);
    CHECK(parse(devices->body)["devices"][0]["name"] == "tablet 7");
    auto revoke = c.Post(("/v1/admin/devices/" + device + "/revoke").c_str(), a.headers(true), "",
                         "application/json");
    REQUIRE(revoke);
    CHECK(revoke->status == 200);
    // A revoked device is refused outright, with the order to wipe itself.
    sync::SyncRequest after;
    after.device_time = format_iso_datetime(std::chrono::system_clock::now());
    auto refused =
        c.Post("/v1/sync",
               {{"Authorization", "Bearer " + parse(enrolled->body)["token"].get<std::string>()}},
               sync::encode(after), "application/json");
    REQUIRE(refused);
    CHECK(refused->status == 403);
    auto refusal = sync::decode_error(refused->body);
    REQUIRE(refusal.ok());
    CHECK(refusal->code == sync::kErrorDeviceRevoked);
    REQUIRE(refusal->instructions.size() == 1);
    CHECK(refusal->instructions[0].type == sync::Instruction::Type::wipe);

    auto created =
        c.Post("/v1/admin/workers", a.headers(true),
               json{{"name", "Nia"}, {"role", "social_worker"}, {"team_id", f.team}}.dump(),
               "application/json");
    REQUIRE(created);
    REQUIRE(created->status == 201);
    const std::string nia = parse(created->body)["id"];
    // A social worker reads cases: created inactive, until a second person approves.
    CHECK(parse(created->body)["active"] == false);
    REQUIRE(f.admin->approve_grant(parse(created->body)["grant"]["id"].get<std::string>()).ok());
    const std::string child = f.new_id();
    auto alloc = c.Post("/v1/admin/allocations", a.headers(true),
                        json{{"case_id", child}, {"worker_id", nia}}.dump(), "application/json");
    REQUIRE(alloc);
    CHECK(alloc->status == 200);
    auto to_admin = c.Post(("/v1/admin/workers/" + nia + "/role").c_str(), a.headers(true),
                           json{{"role", "administrator"}}.dump(), "application/json");
    REQUIRE(to_admin);
    CHECK(to_admin->status == 400);  // holds a case
    auto promoted = c.Post(("/v1/admin/workers/" + nia + "/role").c_str(), a.headers(true),
                           json{{"role", "team_manager"}}.dump(), "application/json");
    REQUIRE(promoted);
    CHECK(promoted->status == 202);  // a wider reach waits for a second person
    REQUIRE(f.admin->approve_grant(parse(promoted->body)["grant"]["id"].get<std::string>()).ok());
    auto nia_now = f.store->find_worker(nia);
    REQUIRE(nia_now.ok());
    CHECK((*nia_now)->role == Role::team_manager);
    auto roles = f.store->audit_events("worker_role_set");
    REQUIRE(roles.ok());
    REQUIRE(roles->size() == 1);
    CHECK_THAT(roles->front().detail, Catch::Contains("social_worker to team_manager"));
    auto deact = c.Post(("/v1/admin/workers/" + nia + "/deactivate").c_str(), a.headers(true), "",
                        "application/json");
    REQUIRE(deact);
    CHECK(deact->status == 200);
    auto bad_role = c.Post("/v1/admin/workers", a.headers(true),
                           json{{"name", "X"}, {"role", "king"}}.dump(), "application/json");
    REQUIRE(bad_role);
    CHECK(bad_role->status == 400);
    auto missing = c.Post("/v1/admin/devices/00000000-0000-7000-8000-000000000000/revoke",
                          a.headers(true), "", "application/json");
    REQUIRE(missing);
    CHECK(missing->status == 404);

    auto by_admin = c.Get(("/v1/admin/audit?action=device_revoke&device_id=" + device).c_str(),
                          a.headers(false));
    REQUIRE(by_admin);
    REQUIRE(by_admin->status == 200);
    auto entries = parse(by_admin->body)["entries"];
    REQUIRE(entries.size() == 1);
    CHECK_THAT(entries[0]["detail"].get<std::string>(), Catch::Contains("by " + admin_id));
    // An administrator reads no case content.
    auto read = c.Get(("/v1/cases/" + child).c_str(), a.headers(false));
    REQUIRE(read);
    CHECK(read->status == 403);
  }
}

TEST_CASE("security: session idle and absolute expiry", "[security]") {
  ServerFixture f;
  REQUIRE(f.admin->set_password(f.manager, kPassword, AccessOptions{}).ok());
  AccessService access(*f.store, f.clock, f.access_options());
  auto in = access.sign_in(f.manager, kPassword, "test");
  REQUIRE(in.ok());
  auto alive = [&](const std::string& id) {
    auto s = access.session(id);
    REQUIRE(s.ok());
    return s->has_value();
  };
  CHECK(alive(in->session_id));
  CHECK(AccessService::csrf_matches(in->session_id, in->csrf_token));
  CHECK_FALSE(AccessService::csrf_matches(in->session_id, ""));

  SECTION("idle") {
    f.clock.advance(minutes(29));
    CHECK(alive(in->session_id));  // use restarts the idle clock
    f.clock.advance(minutes(29));
    CHECK(alive(in->session_id));
    f.clock.advance(minutes(31));
    CHECK_FALSE(alive(in->session_id));
  }
  SECTION("absolute") {
    for (int i = 0; i < 35; ++i) {
      f.clock.advance(minutes(20));
      CHECK(alive(in->session_id));
    }
    f.clock.advance(minutes(20));  // 12 h after sign-in
    CHECK_FALSE(alive(in->session_id));
  }
  SECTION("the lock lifts after its time") {
    for (int i = 0; i < 5; ++i) {
      CHECK(access.sign_in(f.manager, "wrong password!!", "test").code() == Errc::unauthenticated);
    }
    CHECK(access.sign_in(f.manager, kPassword, "test").code() == Errc::unauthenticated);
    f.clock.advance(minutes(14));
    CHECK(access.sign_in(f.manager, kPassword, "test").code() == Errc::unauthenticated);
    f.clock.advance(minutes(2));
    CHECK(access.sign_in(f.manager, kPassword, "test").ok());
  }
}

TEST_CASE("security: each action leaves exactly the expected audit entry", "[security]") {
  ServerFixture f;
  REQUIRE(f.admin->set_password(f.manager, kPassword, AccessOptions{}).ok());
  AccessService access(*f.store, f.clock, f.access_options());
  auto d1 = f.device(f.sw1, "dev-a");
  auto dm = f.device(f.manager, "dev-m");
  struct Expect {
    std::string event, outcome, worker, device, case_id, relation;
  };
  auto expect = [&](std::int64_t before, const std::vector<Expect>& wanted) {
    auto got = audit_after(*f.store, before);
    std::string seen;
    for (const auto& e : got) seen += e.event + " " + e.relation + " " + e.detail + "; ";
    INFO(seen);
    REQUIRE(got.size() == wanted.size());
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      INFO(i << ": " << got[i].event << " " << got[i].detail);
      CHECK(got[i].event == wanted[i].event);
      CHECK(got[i].outcome == wanted[i].outcome);
      CHECK(got[i].worker_id == wanted[i].worker);
      CHECK(got[i].device_id == wanted[i].device);
      CHECK(got[i].case_id == wanted[i].case_id);
      CHECK(got[i].relation == wanted[i].relation);
      CHECK(!got[i].at.empty());
    }
    return got;
  };

  const std::string child = f.new_id();
  auto h = audit_head(*f.store);
  REQUIRE(f.admin->allocate(child, f.sw1).ok());
  expect(h, {{"allocate", "ok", f.sw1, "", child, ""}});

  h = audit_head(*f.store);
  auto tx = create_tx(d1, RecordKind::child, child, child, child_fields(), f.now_text());
  REQUIRE(f.sync(d1, {tx}).accepted.size() == 1);
  // The answer carries the server's allocation fields of the new child: a read of it.
  auto w = expect(h, {{"case_write", "ok", f.sw1, d1.auth.device_id, child, "own"},
                      {"case_read", "ok", f.sw1, d1.auth.device_id, child, "own"}});
  CHECK(w[0].record_id == child);
  CHECK(w[0].tx_id == tx.tx_id);

  // The manager's device pulls the team's case: one read, on a case not allocated to them.
  h = audit_head(*f.store);
  f.sync(dm, {});
  expect(h, {{"case_read", "ok", f.manager, dm.auth.device_id, child, "team"}});
  // Nothing new: no entry.
  h = audit_head(*f.store);
  auto again = f.sync(dm, {}, f.store->head().value());
  CHECK(again.changes.empty());
  expect(h, {});

  // A refused write.
  h = audit_head(*f.store);
  auto d2 = f.device(f.sw2, "dev-b");
  h = audit_head(*f.store);
  auto foreign = create_tx(d2, RecordKind::contact, f.new_id(), child, contact_fields(f.now_text()),
                           f.now_text());
  CHECK(f.sync(d2, {foreign}).rejected.size() == 1);
  // The refusal names the case it targeted (so `admin audit case` lists it).
  expect(h, {{"out_of_scope", "refused", f.sw2, d2.auth.device_id, child, ""}});

  // Web: sign-in (good and bad), a case read, a refused read.
  h = audit_head(*f.store);
  auto in = access.sign_in(f.manager, kPassword, "10.0.0.1");
  REQUIRE(in.ok());
  CHECK(access.sign_in(f.manager, "wrong password!!", "10.0.0.1").code() == Errc::unauthenticated);
  expect(h,
         {{"sign_in", "ok", f.manager, "", "", ""}, {"sign_in", "refused", f.manager, "", "", ""}});
  h = audit_head(*f.store);
  auto content = access.read_case(in->worker, child);
  REQUIRE(content.ok());
  CHECK(content->records.size() == 1);
  auto sw2 = f.store->find_worker(f.sw2);
  REQUIRE(sw2.ok());
  CHECK(access.read_case(**sw2, child).code() == Errc::forbidden);
  expect(h, {{"case_read", "ok", f.manager, "", child, "team"},
             {"permission_refused", "refused", f.sw2, "", child, "team"}});

  // Enrollment, revocation, deactivation.
  auto code = f.admin->issue_enrollment_code(f.sw2, hours(1));
  REQUIRE(code.ok());
  h = audit_head(*f.store);
  auto enrolled = access.enroll(code->code, "tablet", "10.0.0.2");
  REQUIRE(enrolled.ok());
  expect(h, {{"enroll", "ok", f.sw2, enrolled->device_id, "", ""}});
  h = audit_head(*f.store);
  REQUIRE(f.admin->revoke_device(enrolled->device_id).ok());
  REQUIRE(f.admin->deactivate_worker(f.sw2).ok());
  // Deactivation revokes the worker's remaining active device too.
  expect(h, {{"device_revoke", "ok", f.sw2, enrolled->device_id, "", ""},
             {"worker_deactivate", "ok", f.sw2, "", "", ""},
             {"device_revoke", "ok", f.sw2, d2.auth.device_id, "", ""}});

  // The two questions: who accessed this child's record; which accesses were to cases not
  // allocated to the person.
  AuditQuery who;
  who.case_id = child;
  auto accesses = f.store->query_audit(who);
  REQUIRE(accesses.ok());
  std::set<std::string> people;
  for (const auto& e : *accesses) people.insert(e.worker_id);
  CHECK(people == std::set<std::string>{f.sw1, f.sw2, f.manager});
  AuditQuery stray;
  stray.not_allocated = true;
  auto unallocated = f.store->query_audit(stray);
  REQUIRE(unallocated.ok());
  REQUIRE(unallocated->size() == 2);  // the manager's device pull and web read
  for (const auto& e : *unallocated) CHECK(e.worker_id == f.manager);

  auto v = f.store->verify_audit();
  REQUIRE(v.ok());
  CHECK(v->intact);
}

TEST_CASE("security: the verify command detects edited and deleted audit rows",
          "[security][http]") {
  ServerFixture f;
  for (int i = 0; i < 3; ++i) REQUIRE(f.admin->allocate(f.new_id(), f.sw1).ok());
  auto verify = [&] {
    return run_binary({"admin", "--database", (f.dir / "server.db").string(), "audit", "verify"},
                      f.dir);
  };
  auto ok = verify();
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::Contains("audit chain intact"));
  auto tamper = [&](const std::string& sql) { REQUIRE(f.store->store().exec(sql).ok()); };

  SECTION("an edited row") {
    tamper("UPDATE audit SET worker_id = 'someone else' WHERE seq = 3");
    auto r = verify();
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains("BROKEN at entry 3") && Catch::Contains("changed"));
  }
  SECTION("an edited row with its hash recomputed by hand still breaks the next link") {
    tamper("UPDATE audit SET hash = '00' || substr(hash, 3) WHERE seq = 2");
    auto r = verify();
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains("BROKEN at entry 2"));
  }
  SECTION("a deleted row") {
    tamper("DELETE FROM audit WHERE seq = 2");
    auto r = verify();
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains("entry 2 is missing"));
  }
  SECTION("the last row deleted") {
    auto last = audit_head(*f.store);
    tamper("DELETE FROM audit WHERE seq = " + std::to_string(last));
    auto r = verify();
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains("removed from the end"));
  }
  SECTION("the queries answer from the command line") {
    auto r = run_binary({"admin", "--database", (f.dir / "server.db").string(), "--quiet", "audit",
                         "list", "--action", "allocate"},
                        f.dir);
    CHECK(r.exit_code == 0);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 3);
  }
}

TEST_CASE("security: passwords are set from the environment or stdin, never argv",
          "[security][http]") {
  ServerFixture f;
  auto r = run_binary({"admin", "--database", (f.dir / "server.db").string(), "worker",
                       "set-password", "--worker", f.manager},
                      f.dir, {"FIELDCASE_PASSWORD=" + std::string(kPassword)});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  auto creds = f.store->find_credentials(f.manager);
  REQUIRE(creds.ok());
  CHECK(verify_password(creds->password_hash, kPassword));
  auto bad = run_binary({"admin", "--database", (f.dir / "server.db").string(), "worker",
                         "set-password", "--worker", f.manager, "--password", "x"},
                        f.dir);
  CHECK(bad.exit_code == 2);
}
