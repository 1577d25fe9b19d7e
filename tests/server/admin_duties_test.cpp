// Separation of duties for administrators ([security][admin]): an administrator reaches no case
// data by changing roles. Nobody changes their own role; a role that reaches case data, granted
// over the web (a new worker or a raised one), waits for a second person (another administrator
// or the service lead, never the requester nor the worker it concerns) and, meanwhile, no
// enrollment code is issued or redeemed for the worker. The console acts at once and decides
// pending grants. Each request, approval and refusal is audited. Also: refusals that targeted a
// case are listed by `admin audit case` for that case.
#include <httplib.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/permissions.hpp"
#include "server_fixture.hpp"
#include "server_process.hpp"
#include "web_sign_in.hpp"

namespace {

using namespace fieldcase;
using namespace fieldcase::server;
using namespace fieldcase::test;
using json = nlohmann::json;

constexpr const char* kPassword = "correct horse battery staple";

json parse(const std::string& body) { return json::parse(body, nullptr, false); }

// An organisation (ServerFixture's) with two administrators and a service lead who can sign
// in, and one child recorded by sw1's device.
struct DutiesFixture {
  DutiesFixture() {
    f.clock.set_wall(std::chrono::system_clock::now());
    admin_a = f.worker("Ada", Role::administrator);
    admin_b = f.worker("Bob", Role::administrator);
    lead = f.worker("Flo", Role::service_lead);
    for (const auto& id : {admin_a, admin_b, lead, f.sw1}) {
      REQUIRE(f.admin->set_password(id, kPassword, AccessOptions{}).ok());
    }
    auto d = f.device(f.sw1, "dev-ann");
    child = f.new_id();
    auto res =
        f.sync(d, {create_tx(d, RecordKind::child, child, child, child_fields(), f.now_text())});
    REQUIRE(res.accepted.size() == 1);
  }

  Worker worker(const std::string& id) {
    auto w = f.store->find_worker(id);
    REQUIRE(w.ok());
    REQUIRE(w->has_value());
    return **w;
  }

  // Audit entries of `event` about `worker_id` with `outcome`.
  std::vector<AuditEvent> audited(const std::string& event, const std::string& worker_id,
                                  const std::string& outcome) {
    auto all = f.store->audit_events(event);
    REQUIRE(all.ok());
    std::vector<AuditEvent> out;
    for (auto& e : *all) {
      if (e.worker_id == worker_id && e.outcome == outcome) out.push_back(std::move(e));
    }
    return out;
  }

  ServerFixture f;
  std::string admin_a, admin_b, lead, child;
};

httplib::Result post(httplib::Client& c, const WebUser& u, const std::string& path,
                     const json& body = json::object()) {
  return c.Post(path.c_str(), u.headers(true), body.dump(), "application/json");
}

std::string issue_code(httplib::Client& c, const WebUser& u, const std::string& worker,
                       int expected_status) {
  auto r = post(c, u, "/v1/admin/enrollment-codes", {{"worker_id", worker}});
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == expected_status);
  return expected_status == 201 ? parse(r->body)["code"].get<std::string>() : std::string();
}

// `fieldcase-server admin --database <dir>/server.db --quiet ARGS`, whatever its outcome.
Run console(const TempDir& dir, const std::vector<std::string>& args) {
  std::vector<std::string> full{"admin", "--database", (dir / "server.db").string(), "--quiet"};
  full.insert(full.end(), args.begin(), args.end());
  return run_binary(full, dir);
}

}  // namespace

TEST_CASE("security: which role changes reach case data the worker did not reach",
          "[security][admin]") {
  for (Role role : kAllRoles) {
    INFO(to_string(role));
    CHECK(reads_case_data(role) == (role != Role::administrator));
    CHECK_FALSE(widens_case_access(role, role));
    CHECK_FALSE(widens_case_access(role, Role::administrator));
    CHECK(widens_case_access(Role::administrator, role) == reads_case_data(role));
  }
  CHECK(widens_case_access(Role::social_worker, Role::team_manager));
  CHECK(widens_case_access(Role::social_worker, Role::service_lead));
  CHECK(widens_case_access(Role::contact_centre, Role::social_worker));  // casework
  CHECK(widens_case_access(Role::team_manager, Role::area_manager));
  CHECK(widens_case_access(Role::area_manager, Role::service_lead));  // other cases, returns
  CHECK(widens_case_access(Role::service_lead, Role::area_manager));  // writes in the area
  CHECK_FALSE(widens_case_access(Role::team_manager, Role::social_worker));
  CHECK_FALSE(widens_case_access(Role::social_worker, Role::contact_centre));
}

TEST_CASE("security: an administrator cannot change their own role to read cases",
          "[security][admin]") {
  DutiesFixture x;
  ServerProcess server(x.f.dir, {});
  httplib::Client c("127.0.0.1", server.port());
  WebUser a = web_sign_in(c, x.admin_a, kPassword);

  for (const char* role : {"service_lead", "social_worker", "team_manager"}) {
    INFO(role);
    auto r = post(c, a, "/v1/admin/workers/" + x.admin_a + "/role", {{"role", role}});
    REQUIRE(r);
    CHECK(r->status == 403);
    CHECK(x.worker(x.admin_a).role == Role::administrator);
  }
  CHECK(x.audited("worker_role_set", x.admin_a, "refused").size() == 3);
  CHECK(x.audited("worker_role_set", x.admin_a, "ok").empty());

  // Signed in again, still an administrator: no case, no census.
  WebUser again = web_sign_in(c, x.admin_a, kPassword);
  auto read = c.Get(("/v1/cases/" + x.child).c_str(), again.headers(false));
  REQUIRE(read);
  CHECK(read->status == 403);
  auto census = c.Get("/v1/exports/cin?year=2027", again.headers(false));
  REQUIRE(census);
  CHECK(census->status == 403);
}

TEST_CASE(
    "security: a worker created over the web with a case-reading role waits for a "
    "second administrator",
    "[security][admin]") {
  DutiesFixture x;
  ServerProcess server(x.f.dir, {});
  httplib::Client c("127.0.0.1", server.port());
  WebUser a = web_sign_in(c, x.admin_a, kPassword);

  auto created = post(c, a, "/v1/admin/workers",
                      {{"name", "Eve"}, {"role", "service_lead"}, {"team_id", x.f.team}});
  REQUIRE(created);
  INFO(created->body);
  REQUIRE(created->status == 201);
  const json body = parse(created->body);
  const std::string eve = body["id"];
  CHECK(body["active"] == false);
  REQUIRE(body.contains("grant"));
  CHECK(body["grant"]["state"] == "pending");
  CHECK(body["grant"]["requested_by"] == x.admin_a);
  const std::string grant = body["grant"]["id"];
  CHECK_FALSE(x.worker(eve).active);
  CHECK(x.audited("role_grant_request", eve, "ok").size() == 1);

  // No enrollment code while the grant waits: over the web, nor at the console.
  issue_code(c, a, eve, 403);
  CHECK(x.audited("enrollment_code_issue", eve, "refused").size() == 1);
  Run at_console = console(x.f.dir, {"enrollment", "issue", "--worker", eve});
  CHECK(at_console.exit_code == 1);
  CHECK_THAT(at_console.err, Catch::Contains("awaits"));
  // Nor a device token, nor a case.
  CHECK(x.f.admin->issue_device(eve).status().code() == Errc::forbidden);
  CHECK_FALSE(x.f.admin->allocate(x.f.new_id(), eve).ok());

  // The requester cannot be the second person.
  auto own = post(c, a, "/v1/admin/role-grants/" + grant + "/approve");
  REQUIRE(own);
  CHECK(own->status == 403);
  CHECK(x.audited("role_grant_approve", eve, "refused").size() == 1);
  CHECK_FALSE(x.worker(eve).active);
  // A social worker may not decide at all.
  WebUser ann = web_sign_in(c, x.f.sw1, kPassword);
  auto by_worker = post(c, ann, "/v1/admin/role-grants/" + grant + "/approve");
  REQUIRE(by_worker);
  CHECK(by_worker->status == 403);

  // Another administrator approves: Eve becomes an active service lead, audited.
  WebUser b = web_sign_in(c, x.admin_b, kPassword);
  auto list = c.Get("/v1/admin/role-grants", b.headers(false));
  REQUIRE(list);
  REQUIRE(list->status == 200);
  REQUIRE(parse(list->body)["grants"].size() == 1);
  CHECK(parse(list->body)["grants"][0]["id"] == grant);
  auto approved = post(c, b, "/v1/admin/role-grants/" + grant + "/approve");
  REQUIRE(approved);
  INFO(approved->body);
  CHECK(approved->status == 200);
  CHECK(x.worker(eve).active);
  CHECK(x.worker(eve).role == Role::service_lead);
  auto approvals = x.audited("role_grant_approve", eve, "ok");
  REQUIRE(approvals.size() == 1);
  CHECK_THAT(approvals[0].detail, Catch::Contains("by " + x.admin_b));
  CHECK_THAT(approvals[0].detail, Catch::Contains("requested by " + x.admin_a));
  // Decided once only.
  auto twice = post(c, b, "/v1/admin/role-grants/" + grant + "/approve");
  REQUIRE(twice);
  CHECK(twice->status == 400);
  issue_code(c, a, eve, 201);

  // An administrator created over the web reads nothing, and needs no second person.
  auto admin_c = post(c, a, "/v1/admin/workers", {{"name", "Cal"}, {"role", "administrator"}});
  REQUIRE(admin_c);
  CHECK(admin_c->status == 201);
  CHECK(parse(admin_c->body)["active"] == true);
}

TEST_CASE(
    "security: raising a worker's role over the web needs a second person; their "
    "enrollment codes are refused meanwhile",
    "[security][admin]") {
  DutiesFixture x;
  ServerProcess server(x.f.dir, {});
  httplib::Client c("127.0.0.1", server.port());
  WebUser a = web_sign_in(c, x.admin_a, kPassword);
  // A code issued before the raise.
  const std::string earlier = issue_code(c, a, x.f.sw1, 201);

  auto raised = post(c, a, "/v1/admin/workers/" + x.f.sw1 + "/role", {{"role", "service_lead"}});
  REQUIRE(raised);
  INFO(raised->body);
  REQUIRE(raised->status == 202);
  const std::string grant = parse(raised->body)["grant"]["id"];
  CHECK(parse(raised->body)["grant"]["from_role"] == "social_worker");
  CHECK(x.worker(x.f.sw1).role == Role::social_worker);
  // Still a social worker: the census is not theirs.
  WebUser ann = web_sign_in(c, x.f.sw1, kPassword);
  auto census = c.Get("/v1/exports/cin?year=2027", ann.headers(false));
  REQUIRE(census);
  CHECK(census->status == 403);

  // Issuing and redeeming codes are refused while the grant waits.
  issue_code(c, a, x.f.sw1, 403);
  auto enroll = c.Post("/v1/enroll", json{{"code", earlier}, {"device_name", "tab"}}.dump(),
                       "application/json");
  REQUIRE(enroll);
  CHECK(enroll->status == 401);
  auto refusals = x.audited("enroll", x.f.sw1, "refused");
  REQUIRE(refusals.size() == 1);
  CHECK_THAT(refusals[0].detail, Catch::Contains("awaits approval"));
  // A second request for the same worker waits for the first to be decided.
  auto again = post(c, a, "/v1/admin/workers/" + x.f.sw1 + "/role", {{"role", "team_manager"}});
  REQUIRE(again);
  CHECK(again->status == 409);

  // The worker a grant concerns cannot approve it, even as an administrator.
  auto raise_b = post(c, a, "/v1/admin/workers/" + x.admin_b + "/role", {{"role", "team_manager"}});
  REQUIRE(raise_b);
  REQUIRE(raise_b->status == 202);
  const std::string grant_b = parse(raise_b->body)["grant"]["id"];
  WebUser b = web_sign_in(c, x.admin_b, kPassword);
  auto self = post(c, b, "/v1/admin/role-grants/" + grant_b + "/approve");
  REQUIRE(self);
  CHECK(self->status == 403);
  CHECK(x.worker(x.admin_b).role == Role::administrator);
  // ...and refuses it instead: audited, the role stays.
  auto refused = post(c, b, "/v1/admin/role-grants/" + grant_b + "/refuse");
  REQUIRE(refused);
  CHECK(refused->status == 200);
  CHECK(x.worker(x.admin_b).role == Role::administrator);
  CHECK(x.audited("role_grant_refuse", x.admin_b, "ok").size() == 1);

  // The service lead is a second person too.
  WebUser flo = web_sign_in(c, x.lead, kPassword);
  auto approved = post(c, flo, "/v1/admin/role-grants/" + grant + "/approve");
  REQUIRE(approved);
  INFO(approved->body);
  CHECK(approved->status == 200);
  CHECK(x.worker(x.f.sw1).role == Role::service_lead);
  auto approvals = x.audited("role_grant_approve", x.f.sw1, "ok");
  REQUIRE(approvals.size() == 1);
  CHECK_THAT(approvals[0].detail, Catch::Contains("by " + x.lead));
  auto set = x.audited("worker_role_set", x.f.sw1, "ok");
  REQUIRE(set.size() == 1);
  CHECK_THAT(set[0].detail, Catch::Contains("social_worker to service_lead"));
  // The raise ended the old session; signed in again the lead reads the case.
  auto old = c.Get("/v1/session", ann.headers(false));
  REQUIRE(old);
  CHECK(old->status == 401);
  WebUser lead_now = web_sign_in(c, x.f.sw1, kPassword);
  auto read = c.Get(("/v1/cases/" + x.child).c_str(), lead_now.headers(false));
  REQUIRE(read);
  CHECK(read->status == 200);

  // Lowering a role (nothing new to read) takes effect at once.
  auto lowered =
      post(c, a, "/v1/admin/workers/" + x.f.manager + "/role", {{"role", "social_worker"}});
  REQUIRE(lowered);
  CHECK(lowered->status == 200);
  CHECK(x.worker(x.f.manager).role == Role::social_worker);
}

TEST_CASE("security: the console decides pending role grants and acts at once itself",
          "[security][admin]") {
  DutiesFixture x;
  std::string nia, grant;
  {
    ServerProcess server(x.f.dir, {});
    httplib::Client c("127.0.0.1", server.port());
    WebUser a = web_sign_in(c, x.admin_a, kPassword);
    auto created = post(c, a, "/v1/admin/workers",
                        {{"name", "Nia"}, {"role", "social_worker"}, {"team_id", x.f.team}});
    REQUIRE(created);
    REQUIRE(created->status == 201);
    nia = parse(created->body)["id"];
    grant = parse(created->body)["grant"]["id"];
  }
  Run list = console(x.f.dir, {"grant", "list"});
  INFO(list.err);
  REQUIRE(list.exit_code == 0);
  CHECK_THAT(list.out, Catch::Contains(grant + "\t" + nia + "\t-\tsocial_worker\t" + x.admin_a));
  // Refused at the console too while it waits.
  Run code = console(x.f.dir, {"enrollment", "issue", "--worker", nia});
  CHECK(code.exit_code == 1);
  CHECK_THAT(code.err, Catch::Contains("awaits"));
  Run token = console(x.f.dir, {"device", "issue", "--worker", nia});
  CHECK(token.exit_code == 1);

  Run approved = console(x.f.dir, {"grant", "approve", "--grant", grant});
  INFO(approved.err);
  REQUIRE(approved.exit_code == 0);
  CHECK(x.worker(nia).active);
  Run audit = console(x.f.dir, {"audit", "list", "--action", "role_grant_approve"});
  REQUIRE(audit.exit_code == 0);
  CHECK_THAT(audit.out, Catch::Contains("by console"));
  Run twice = console(x.f.dir, {"grant", "approve", "--grant", grant});
  CHECK(twice.exit_code == 1);
  Run unknown = console(x.f.dir, {"grant", "refuse", "--grant", x.f.new_id()});
  CHECK(unknown.exit_code == 1);
  CHECK_FALSE(admin(x.f.dir, {"enrollment", "issue", "--worker", nia}).empty());

  // The console is the bootstrap path (the demo seeds its accounts through it): a worker it
  // creates, or a role it sets, takes effect at once and is audited "by console".
  const std::string lee =
      admin(x.f.dir, {"worker", "create", "--name", "Lee", "--role", "service_lead"});
  CHECK(x.worker(lee).active);
  CHECK_FALSE(admin(x.f.dir, {"enrollment", "issue", "--worker", lee}).empty());
  admin(x.f.dir, {"worker", "set-role", "--worker", x.f.sw2, "--role", "team_manager"});
  CHECK(x.worker(x.f.sw2).role == Role::team_manager);
  auto set = x.audited("worker_role_set", x.f.sw2, "ok");
  REQUIRE(set.size() == 1);
  CHECK_THAT(set[0].detail, Catch::Contains("by console"));
}

TEST_CASE("security: refusals appear in admin audit case for the case they targeted",
          "[security][admin][sync]") {
  DutiesFixture x;
  REQUIRE(x.f.admin->set_password(x.f.sw2, kPassword, AccessOptions{}).ok());
  // Bea's device writes to Ann's case: out of scope, refused.
  auto bea = x.f.device(x.f.sw2, "dev-bea");
  auto res =
      x.f.sync(bea, {create_tx(bea, RecordKind::contact, x.f.new_id(), x.child,
                               {{"received_at", x.f.now_text()}, {"source", std::string("1A")}},
                               x.f.now_text())});
  REQUIRE(res.rejected.size() == 1);
  CHECK(res.rejected[0].code == "out_of_scope");
  {
    // And over the web she asks for it.
    ServerProcess server(x.f.dir, {});
    httplib::Client c("127.0.0.1", server.port());
    WebUser u = web_sign_in(c, x.f.sw2, kPassword);
    auto read = c.Get(("/v1/cases/" + x.child).c_str(), u.headers(false));
    REQUIRE(read);
    CHECK(read->status == 403);
  }
  Run audit = console(x.f.dir, {"audit", "case", "--case", x.child});
  INFO(audit.err);
  REQUIRE(audit.exit_code == 0);
  std::vector<std::string> refused;
  std::size_t from = 0;
  while (from < audit.out.size()) {
    const auto end = audit.out.find('\n', from);
    const std::string line = audit.out.substr(from, end - from);
    if (line.find("\trefused\t") != std::string::npos) refused.push_back(line);
    from = end == std::string::npos ? audit.out.size() : end + 1;
  }
  INFO(audit.out);
  REQUIRE(refused.size() == 2);
  CHECK_THAT(refused[0], Catch::Contains("\tout_of_scope\t"));
  CHECK_THAT(refused[0], Catch::Contains(x.f.sw2));
  CHECK_THAT(refused[0], Catch::Contains(bea.auth.device_id));
  CHECK_THAT(refused[1], Catch::Contains("\tpermission_refused\t"));
  // The store's query by case (what GET /v1/admin/audit?case_id= answers) finds it too.
  AuditQuery q;
  q.case_id = x.child;
  q.event = "out_of_scope";
  auto by_case = x.f.store->query_audit(q);
  REQUIRE(by_case.ok());
  CHECK(by_case->size() == 1);
}
