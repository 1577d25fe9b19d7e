// The figures API over HTTP against the real fieldcase-server ([figures][http]): who may see
// which unit (the permission matrix's figures rows, refusals audited), the records behind a
// figure audited as case reads, CSV that is safe to open in a spreadsheet, clear errors for bad
// input, the change feed, and the dashboard's pages with their Content-Security-Policy.
#include <httplib.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/figures.hpp"
#include "fieldcase/server/figures_service.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/sync_protocol.hpp"
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

// A signed-in web client.
struct Web {
  httplib::Client& c;
  std::string cookie;

  httplib::Result get(const std::string& path) { return c.Get(path.c_str(), {{"Cookie", cookie}}); }
  int status(const std::string& path) {
    auto r = get(path);
    REQUIRE(r);
    return r->status;
  }
};

Web sign_in(httplib::Client& c, const std::string& worker_id) {
  return Web{c, web_sign_in(c, worker_id, kPassword).cookie};
}

std::int64_t audit_count(ServerStore& store, const std::string& worker, const std::string& event) {
  AuditQuery q;
  q.worker_id = worker;
  q.event = event;
  q.limit = 100000;
  auto all = store.query_audit(q);
  REQUIRE(all.ok());
  return static_cast<std::int64_t>(all->size());
}

// An organisation: North (team A: sw1, sw2, manager; team B: bo) and South (team C: cy), an
// area manager and a service lead in team A, with passwords; one case of sw1 with a completed
// initial assessment (in time) and one of bo (late).
struct Org {
  ServerFixture f;
  std::string team_b, team_c, south, bo, cy, area_manager, lead, contact, admin_id;
  std::string case_a, case_b;

  Org() {
    f.clock.set_wall(std::chrono::system_clock::now());
    auto tb = f.admin->create_team("North 2", f.area);
    auto s = f.admin->create_area("South");
    REQUIRE((tb.ok() && s.ok()));
    team_b = *tb;
    south = *s;
    auto tc = f.admin->create_team("South 1", south);
    REQUIRE(tc.ok());
    team_c = *tc;
    bo = make("Bo", Role::social_worker, team_b);
    cy = make("Cy", Role::social_worker, team_c);
    area_manager = f.worker("Ed", Role::area_manager);
    lead = f.worker("Flo", Role::service_lead);
    contact = f.worker("Cat", Role::contact_centre);
    admin_id = make("Ada", Role::administrator, "");
    for (const auto& w :
         {f.sw1, f.manager, area_manager, lead, contact, admin_id, std::string(f.sw2)}) {
      REQUIRE(f.admin->set_password(w, kPassword, AccessOptions{}).ok());
    }
    auto writer = f.device(f.sw1, "dev-w");
    case_a = make_case(writer, f.sw1, 2);
    case_b = make_case(writer, bo, 20);
  }

  std::string make(const std::string& name, Role role, const std::string& team) {
    auto w = f.admin->create_worker(name, role, team);
    REQUIRE(w.ok());
    return *w;
  }

  // A child with an initial assessment started `days` ago and completed now.
  std::string make_case(TestDevice& writer, const std::string& owner, int days) {
    const std::string child = f.new_id();
    REQUIRE(f.admin->allocate(child, f.sw1).ok());
    const std::string a = f.new_id();
    auto res = f.sync(
        writer, {create_tx(writer, RecordKind::child, child, child, child_fields(), f.now_text()),
                 create_tx(writer, RecordKind::assessment, a, child,
                           {{"assessment_kind", std::string("initial")},
                            {"start_date", f.today(-days)},
                            {"status", std::string("in_progress")}},
                           f.now_text())});
    REQUIRE(res.accepted.size() == 2);
    sync::Transaction done;
    done.tx_id = f.new_id();
    done.ops.push_back(set_op(writer, RecordKind::assessment, a, child, "status",
                              std::string("completed"), server_stamp_of(f, a, "status"),
                              f.now_text()));
    done.ops.push_back(set_op(writer, RecordKind::assessment, a, child, "completed_at",
                              f.now_text(), "", f.now_text()));
    res = f.sync(writer, {done});
    REQUIRE(res.accepted.size() == 1);
    if (owner != f.sw1) REQUIRE(f.admin->allocate(child, owner).ok());
    return child;
  }
};

}  // namespace

TEST_CASE("figures API: each role sees the units the permission matrix gives it",
          "[figures][http][security]") {
  Org o;
  ServerProcess server(o.f.dir, {});
  httplib::Client c("127.0.0.1", server.port());
  const std::string team_a = "level=team&unit=" + o.f.team;
  const std::string team_b = "level=team&unit=" + o.team_b;
  const std::string team_c = "level=team&unit=" + o.team_c;
  const std::string north = "level=area&unit=" + o.f.area;
  const std::string south = "level=area&unit=" + o.south;
  const std::string sw1 = "level=worker&unit=" + o.f.sw1;
  const std::string bo = "level=worker&unit=" + o.bo;
  const std::string authority = "level=authority";

  struct Expect {
    std::string who;
    std::string home;  // name of the home unit; empty: no figures at all
    std::vector<std::string> allowed, refused;
  };
  const std::vector<Expect> expectations{
      {o.f.sw1, "", {}, {team_a, sw1, authority}},
      {o.contact, "", {}, {team_a, authority}},
      {o.admin_id, "", {}, {authority, team_a}},
      {o.f.manager, "Assessment 1", {team_a, sw1}, {team_b, bo, north, authority}},
      {o.area_manager, "North", {north, team_a, team_b, bo}, {south, team_c, authority}},
      {o.lead, "City", {authority, north, south, team_c, bo}, {}},
  };
  for (const auto& e : expectations) {
    INFO("worker " << e.who << " home " << e.home);
    Web web = sign_in(c, e.who);
    auto scope = web.get("/v1/figures/scope");
    REQUIRE(scope);
    if (e.home.empty()) {
      CHECK(scope->status == 403);
      CHECK(web.status("/v1/figures/overview") == 403);
      CHECK(web.status("/v1/figures/changes") == 403);
    } else {
      REQUIRE(scope->status == 200);
      CHECK(parse(scope->body)["home"]["name"] == e.home);
      CHECK(web.status("/v1/figures/overview?months=1") == 200);  // the home unit
    }
    for (const auto& q : e.allowed) {
      INFO(q);
      CHECK(web.status("/v1/figures/overview?months=1&" + q) == 200);
      CHECK(web.status("/v1/figures/indicators/ni59?" + q) == 200);
      CHECK(web.status("/v1/figures/backlog?months=1&" + q) == 200);
      CHECK(web.status("/v1/figures/recording-delay?" + q) == 200);
      CHECK(web.status("/v1/figures/indicators/ni59/records?" + q) == 200);
    }
    for (const auto& q : e.refused) {
      INFO(q);
      const auto before = audit_count(*o.f.store, e.who, "permission_refused");
      auto r = web.get("/v1/figures/overview?months=1&" + q);
      REQUIRE(r);
      CHECK(r->status == 403);
      CHECK(parse(r->body)["error"]["code"] == "forbidden");
      CHECK(web.status("/v1/figures/indicators/ni59/records?" + q) == 403);
      CHECK(web.status("/v1/figures/overview.csv?" + q) == 403);
      CHECK(audit_count(*o.f.store, e.who, "permission_refused") >= before + 3);
    }
  }
  // Without a session: 401. A service lead asking for a unit that does not exist: 404.
  CHECK(c.Get("/v1/figures/overview")->status == 401);
  Web lead = sign_in(c, o.lead);
  CHECK(lead.status("/v1/figures/overview?level=team&unit=0000-0000") == 404);

  // A team created today, with nobody in it yet, is a unit from the start: listed in the
  // scope and in its area's breakdown, with no data.
  auto fresh = o.f.admin->create_team("Assessment New", o.south);
  REQUIRE(fresh.ok());
  auto scope = lead.get("/v1/figures/scope");
  REQUIRE(scope);
  bool listed = false;
  const auto scope_json = parse(scope->body);
  for (const auto& u : scope_json["units"]) listed = listed || u["id"] == *fresh;
  CHECK(listed);
  CHECK(lead.status("/v1/figures/overview?months=1&level=team&unit=" + *fresh) == 200);
  auto south_ni59 = lead.get("/v1/figures/indicators/ni59?level=area&unit=" + o.south);
  REQUIRE(south_ni59);
  bool in_breakdown = false;
  const auto south_json = parse(south_ni59->body);
  for (const auto& b : south_json["breakdown"]) {
    in_breakdown = in_breakdown || b["unit"]["id"] == *fresh;
  }
  CHECK(in_breakdown);
}

TEST_CASE("figures API: numbers, drill-down and audited records", "[figures][http]") {
  Org o;
  ServerProcess server(o.f.dir, {});
  httplib::Client c("127.0.0.1", server.port());
  Web lead = sign_in(c, o.lead);

  // Authority: the two initial assessments, one in time (2 days) and one late (20 days).
  auto overview = lead.get("/v1/figures/overview?months=3");
  REQUIRE(overview);
  REQUIRE(overview->status == 200);
  json o_body = parse(overview->body);
  json ni59;
  for (const auto& f : o_body["figures"]) {
    if (f["indicator"] == "ni59") ni59 = f;
  }
  REQUIRE(ni59.is_object());
  CHECK(ni59["numerator"] == 1);
  CHECK(ni59["denominator"] == 2);
  CHECK(ni59["value"] == 50.0);
  CHECK(ni59["rag"] == "red");
  CHECK(ni59["trend"].size() == 3);
  CHECK(ni59["trend"].back()["denominator"] == 2);
  CHECK(o_body["figures"].size() == fieldcase::server::figures::definitions().size());

  // One level down: the areas; North's teams; team A's workers.
  auto by_area = parse(lead.get("/v1/figures/indicators/ni59")->body);
  REQUIRE(by_area["breakdown"].size() == 2);
  CHECK(by_area["breakdown"][0]["unit"]["name"] == "North");
  CHECK(by_area["breakdown"][0]["figure"]["denominator"] == 2);
  CHECK(by_area["breakdown"][1]["unit"]["name"] == "South");
  CHECK(by_area["breakdown"][1]["figure"]["denominator"] == 0);
  auto by_team = parse(lead.get("/v1/figures/indicators/ni59?level=area&unit=" + o.f.area)->body);
  REQUIRE(by_team["breakdown"].size() == 2);
  CHECK(by_team["breakdown"][0]["unit"]["name"] == "Assessment 1");
  CHECK(by_team["breakdown"][0]["figure"]["value"] == 100.0);
  CHECK(by_team["breakdown"][1]["unit"]["name"] == "North 2");
  CHECK(by_team["breakdown"][1]["figure"]["value"] == 0.0);

  // The records behind team B's figure: bo's late assessment, audited as a read of that case
  // by the lead, with the relation ("area": another team of the lead's area).
  const auto reads_before = audit_count(*o.f.store, o.lead, "case_read");
  auto records =
      parse(lead.get("/v1/figures/indicators/ni59/records?level=team&unit=" + o.team_b)->body);
  REQUIRE(records["total"] == 1);
  REQUIRE(records["records"].size() == 1);
  CHECK(records["records"][0]["case_id"] == o.case_b);
  CHECK(records["records"][0]["in_numerator"] == false);
  CHECK(records["records"][0]["measured"].get<double>() > 7);
  CHECK(records["records"][0]["relation"] == "area");
  AuditQuery q;
  q.worker_id = o.lead;
  q.event = "case_read";
  auto reads = o.f.store->query_audit(q);
  REQUIRE(reads.ok());
  REQUIRE(static_cast<std::int64_t>(reads->size()) == reads_before + 1);
  CHECK(reads->back().case_id == o.case_b);
  CHECK(reads->back().relation == "area");
  CHECK(reads->back().detail.find("behind a figure: ni59 team") != std::string::npos);

  // Paging: offset past the end gives an empty page (and no audit entry).
  auto empty = parse(lead.get("/v1/figures/indicators/ni59/records?offset=5&limit=1")->body);
  CHECK(empty["total"] == 2);
  CHECK(empty["records"].empty());
  CHECK(audit_count(*o.f.store, o.lead, "case_read") == reads_before + 1);

  // Backlog: nothing outstanding; the series has one point per month.
  auto backlog = parse(lead.get("/v1/figures/backlog?months=4")->body);
  CHECK(backlog["unit"]["name"] == "City");
  REQUIRE(backlog["series"].size() == 4);
  CHECK(backlog["series"].back()["outstanding"] == 0);
}

TEST_CASE("figures API: CSV is UTF-8, quoted, and safe from formula injection", "[figures][http]") {
  Org o;
  // Workers whose names a spreadsheet would misread.
  const std::string formula = o.make("=HYPERLINK(\"http://x\")", Role::social_worker, o.f.team);
  const std::string comma = o.make("Smith, \"Jo\"", Role::social_worker, o.f.team);
  o.make("-2+3", Role::social_worker, o.f.team);
  o.make("Zoë @home", Role::social_worker, o.f.team);
  (void)formula;
  (void)comma;
  ServerProcess server(o.f.dir, {});
  httplib::Client c("127.0.0.1", server.port());
  Web lead = sign_in(c, o.lead);

  for (const std::string path : {"/v1/figures/indicators/ni59.csv?level=team&unit=",
                                 "/v1/figures/indicators/ni59?format=csv&level=team&unit="}) {
    auto r = lead.get(path + o.f.team);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    CHECK(r->get_header_value("Content-Type") == "text/csv; charset=utf-8");
    CHECK(r->get_header_value("Content-Disposition")
              .find("attachment; filename=\"fieldcase-ni59-team-") == 0);
    const std::string& body = r->body;
    CHECK(body.rfind("\xEF\xBB\xBF"
                     "level,unit_id,unit_name,value,",
                     0) == 0);
    CHECK(body.find("\r\n") != std::string::npos);
    CHECK(body.find(",\"'=HYPERLINK(\"\"http://x\"\")\",") != std::string::npos);
    CHECK(body.find(",\"Smith, \"\"Jo\"\"\",") != std::string::npos);
    CHECK(body.find(",'-2+3,") != std::string::npos);
    CHECK(body.find(",Zoë @home,") != std::string::npos);
    CHECK(body.find(",=HYPERLINK") == std::string::npos);
  }
  // Every table has its CSV.
  for (const std::string path :
       {"/v1/figures/overview.csv", "/v1/figures/backlog.csv", "/v1/figures/recording-delay.csv",
        "/v1/figures/indicators/ni59/records.csv"}) {
    INFO(path);
    auto r = lead.get(path);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("Content-Type") == "text/csv; charset=utf-8");
    CHECK(r->body.rfind("\xEF\xBB\xBF", 0) == 0);
  }
  // Records: one line per record after the header.
  auto records = lead.get("/v1/figures/indicators/ni59/records.csv");
  REQUIRE(records);
  std::size_t lines = 0;
  for (std::size_t p = 0; (p = records->body.find("\r\n", p)) != std::string::npos; p += 2) ++lines;
  CHECK(lines == 3);
}

TEST_CASE("figures API: bad input is refused with a clear error", "[figures][http]") {
  Org o;
  ServerProcess server(o.f.dir, {});
  httplib::Client c("127.0.0.1", server.port());
  Web lead = sign_in(c, o.lead);
  struct Case {
    std::string path;
    int status;
    std::string words;  // in the message
  };
  const std::vector<Case> cases{
      {"/v1/figures/overview?level=county", 400, "level is authority, area, team or worker"},
      {"/v1/figures/overview?level=team", 400, "needs a unit"},
      {"/v1/figures/overview?unit=abc", 400, "unit needs a level"},
      {"/v1/figures/overview?level=team&unit=a%20b", 400, "unit is an id"},
      {"/v1/figures/overview?period=2024-13", 400, "a period is"},
      {"/v1/figures/overview?as_of=yesterday", 400, "as_of is a date"},
      {"/v1/figures/overview?months=0", 400, "months is a whole number from 1 to 36"},
      {"/v1/figures/overview?months=99", 400, "months is a whole number from 1 to 36"},
      {"/v1/figures/overview?format=xml", 400, "format is json or csv"},
      {"/v1/figures/indicators/ni59/records?limit=0", 400, "limit is a whole number from 1"},
      {"/v1/figures/indicators/ni59/records?offset=-1", 400, "offset is a whole number"},
      {"/v1/figures/indicators/ni99", 404, "no indicator ni99"},
      {"/v1/figures/changes?since=abc", 400, "since is a version"},
      {"/v1/figures/changes?since=1&timeout=60", 400, "timeout is a whole number from 0 to 25"},
  };
  for (const auto& k : cases) {
    INFO(k.path);
    auto r = lead.get(k.path);
    REQUIRE(r);
    CHECK(r->status == k.status);
    const json body = parse(r->body);
    REQUIRE(body.contains("error"));
    CHECK(body["error"]["message"].get<std::string>().find(k.words) != std::string::npos);
  }
}

TEST_CASE("figures API: the change feed moves on when a sync changes figures", "[figures][http]") {
  Org o;
  auto token = o.f.admin->issue_device(o.f.sw1);
  REQUIRE(token.ok());
  ServerProcess server(o.f.dir, {});
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(40, 0);
  Web lead = sign_in(c, o.lead);

  auto now = parse(lead.get("/v1/figures/changes")->body);
  const auto version = now["version"].get<std::uint64_t>();
  CHECK(now["changed"] == false);
  // An older version is answered at once.
  auto behind = parse(lead.get("/v1/figures/changes?since=" + std::to_string(version - 1))->body);
  CHECK(behind["changed"] == true);
  CHECK(behind["version"] == version);
  // Nothing changes: the wait ends after its timeout, unchanged.
  const auto t0 = std::chrono::steady_clock::now();
  auto idle =
      parse(lead.get("/v1/figures/changes?timeout=1&since=" + std::to_string(version))->body);
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(900));
  CHECK(idle["changed"] == false);

  // A waiting page is answered as soon as a sync changes a figure.
  auto waiting = std::async(std::launch::async, [&] {
    httplib::Client w("127.0.0.1", server.port());
    w.set_read_timeout(40, 0);
    const auto start = std::chrono::steady_clock::now();
    auto r = w.Get(("/v1/figures/changes?since=" + std::to_string(version)).c_str(),
                   {{"Cookie", lead.cookie}});
    return std::make_pair(r ? parse(r->body) : json(), std::chrono::steady_clock::now() - start);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  TestDevice d;
  d.hlc_name = token->device_id;  // a device stamps with its own id, on the server's clock
  d.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  const std::string visit = o.f.new_id();
  sync::SyncRequest req;
  req.device_time = format_iso_datetime(std::chrono::system_clock::now());
  req.transactions.push_back(create_tx(d, RecordKind::visit, visit, o.case_a,
                                       {{"visit_type", std::string("child_in_need")},
                                        {"start_at", o.f.now_text(std::chrono::seconds(-600))},
                                        {"child_seen", true}},
                                       o.f.now_text()));
  auto synced = c.Post("/v1/sync", {{"Authorization", "Bearer " + token->token}}, sync::encode(req),
                       "application/json");
  REQUIRE(synced);
  INFO(synced->body);
  REQUIRE(synced->status == 200);
  REQUIRE(sync::decode_response(synced->body)->accepted.size() == 1);
  auto [answer, took] = waiting.get();
  CHECK(answer["changed"] == true);
  CHECK(answer["version"].get<std::uint64_t>() > version);
  CHECK(took < std::chrono::seconds(10));
}

TEST_CASE("dashboard: pages are served with their own Content-Security-Policy", "[figures][http]") {
  Org o;
  ServerProcess server(o.f.dir, {});
  httplib::Client c("127.0.0.1", server.port());
  auto root = c.Get("/");
  REQUIRE(root);
  CHECK(root->status == 302);
  CHECK(root->get_header_value("Location") == "/dashboard/");
  for (const std::string path : {"/dashboard/", "/dashboard/app.js", "/dashboard/style.css",
                                 "/dashboard/chart.umd.min.js"}) {
    INFO(path);
    auto r = c.Get(path.c_str());
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body.size() > 100);
    const std::string csp = r->get_header_value("Content-Security-Policy");
    CHECK(csp.find("script-src 'self'") != std::string::npos);
    CHECK(csp.find("unsafe-inline") == std::string::npos);
    CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
    CHECK(r->get_header_value("X-Frame-Options") == "DENY");
    CHECK(r->get_header_value("X-Content-Type-Options") == "nosniff");
  }
  CHECK(c.Get("/dashboard/app.js")->get_header_value("Content-Type").find("text/javascript") == 0);
  CHECK(c.Get("/dashboard/index.html")->body.find("<script>") == std::string::npos);
  CHECK(c.Get("/dashboard/nothing.js")->status == 404);
  // The API keeps the strict policy.
  CHECK(
      c.Get("/v1/health")->get_header_value("Content-Security-Policy").find("default-src 'none'") ==
      0);
}

TEST_CASE("figures service: waits are bounded in number and end when the server stops",
          "[figures]") {
  ServerFixture f;
  auto store = SqliteServerStore::open(f.dir / "server.db");
  REQUIRE(store.ok());
  FiguresServiceOptions options;
  options.max_waiters = 1;
  FiguresService figures(**store, f.clock, options);
  const auto v = figures.version();

  // A changed version is answered at once; an unchanged one waits out its timeout.
  auto now = figures.wait_for_change(v - 1, std::chrono::seconds(5));
  REQUIRE(now.ok());
  CHECK(*now == v);
  auto idle = figures.wait_for_change(v, std::chrono::milliseconds(50));
  REQUIRE(idle.ok());
  CHECK(*idle == v);

  // One waiter at a time: the second is refused while the first waits; a change wakes it.
  auto first = std::async(std::launch::async,
                          [&] { return figures.wait_for_change(v, std::chrono::seconds(20)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto second = figures.wait_for_change(v, std::chrono::seconds(20));
  CHECK(second.status().code() == Errc::busy);
  // Another connection (another instance) commits a figure change; this one hears at once.
  REQUIRE(f.store->append_figure_change("").ok());
  figures.figures_changed();
  auto woken = first.get();
  REQUIRE(woken.ok());
  CHECK(*woken == v + 1);

  // close() ends a wait at once, and later waits do not start.
  auto waiting = std::async(
      std::launch::async, [&] { return figures.wait_for_change(v + 1, std::chrono::seconds(20)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto t0 = std::chrono::steady_clock::now();
  figures.close();
  REQUIRE(waiting.get().ok());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  const auto t1 = std::chrono::steady_clock::now();
  REQUIRE(figures.wait_for_change(v + 1, std::chrono::seconds(20)).ok());
  CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::seconds(1));
}

TEST_CASE("web sessions: requests a page makes by itself do not keep the session alive",
          "[security][figures]") {
  ServerFixture f;
  REQUIRE(f.admin->set_password(f.manager, kPassword, AccessOptions{}).ok());
  AccessService access(*f.store, f.clock);
  auto alive = [&](const std::string& id, bool activity) {
    auto s = access.session(id, activity);
    REQUIRE(s.ok());
    return s->has_value();
  };
  auto polled = access.sign_in(f.manager, kPassword, "test");
  auto used = access.sign_in(f.manager, kPassword, "test");
  REQUIRE((polled.ok() && used.ok()));
  f.clock.advance(std::chrono::minutes(20));
  CHECK(alive(polled->session_id, false));  // a page waiting for changes
  CHECK(alive(used->session_id, true));     // its reader opening a page
  f.clock.advance(std::chrono::minutes(11));
  CHECK_FALSE(alive(polled->session_id, false));  // 31 minutes without its reader
  CHECK(alive(used->session_id, true));           // 11 minutes since the reader's last request
}

TEST_CASE("figures service: a reallocation made elsewhere moves the figures and the feed",
          "[figures]") {
  Org o;
  // The service reads through a connection of its own; the admin writes through the fixture's.
  auto store = SqliteServerStore::open(o.f.dir / "server.db");
  REQUIRE(store.ok());
  FiguresService figures(**store, o.f.clock, {});
  REQUIRE(figures.warm().ok());
  auto lead = (*store)->find_worker(o.lead);
  REQUIRE((lead.ok() && lead->has_value()));
  auto ni59 = [&](figures::Level level, const std::string& unit) {
    FiguresRequest request;
    request.level = level;
    request.unit = unit;
    request.period = figures::financial_year_of(figures.today());
    auto r = figures.breakdown(**lead, "ni59", request);
    REQUIRE(r.ok());
    return r->figure.denominator;
  };
  CHECK(ni59(figures::Level::team, o.f.team) == 1);
  CHECK(ni59(figures::Level::team, o.team_b) == 1);
  CHECK(ni59(figures::Level::worker, o.bo) == 1);
  const auto before = figures.version();

  // Bo's case goes to sw1: a page waiting for changes hears of it, and the next figure reads
  // that case again.
  REQUIRE(o.f.admin->allocate(o.case_b, o.f.sw1).ok());
  auto moved = figures.wait_for_change(before, std::chrono::milliseconds(0));
  REQUIRE(moved.ok());
  CHECK(*moved > before);
  CHECK(ni59(figures::Level::team, o.f.team) == 2);
  CHECK(ni59(figures::Level::team, o.team_b) == 0);
  CHECK(ni59(figures::Level::worker, o.bo) == 0);
  CHECK(ni59(figures::Level::worker, o.f.sw1) == 2);
  CHECK(ni59(figures::Level::authority, "") == 2);
  const auto after = figures.version();
  CHECK(after == *moved);
  CHECK(ni59(figures::Level::team, o.f.team) == 2);
  CHECK(figures.version() == after);  // nothing new: the feed stays where it is
}
