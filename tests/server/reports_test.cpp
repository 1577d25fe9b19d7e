// The reports ([figures][reports]): the performance report and the data-quality list on
// hand-built cases whose answers are worked out in the comments, CSV cells, the admin
// commands, and the HTTP endpoints against the real fieldcase-server (sessions, scope by the
// permission matrix, audit, the printable page's headers, usage errors).
#include <httplib.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "fieldcase/server/reports.hpp"
#include "server_fixture.hpp"
#include "server_process.hpp"
#include "web_sign_in.hpp"

namespace fieldcase::test {
namespace {

namespace fg = server::figures;
namespace rp = server::reports;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kPassword = "correct horse battery staple";

// Syncs from hand-driven devices on a fake clock; a second team in a second area.
class ReportsFixture : public RecordingFixture {
 public:
  ReportsFixture() {
    at("2023-04-03T09:00:00Z");
    d1 = device(sw1, "d1");
    auto a2 = admin->create_area("South");
    REQUIRE(a2.ok());
    area2 = *a2;
    auto t2 = admin->create_team("Assessment 2", area2);
    REQUIRE(t2.ok());
    team2 = *t2;
    auto w3 = admin->create_worker("Cat", Role::social_worker, team2);
    REQUIRE(w3.ok());
    sw3 = *w3;
    d3 = device(sw3, "d3");
  }

  std::string child(TestDevice& d) {
    const std::string id = new_id();
    accept(d, create_tx(d, RecordKind::child, id, id, child_fields(), now_text()));
    return id;
  }

  // An initial assessment referred on `referral_date`, started on `start`.
  std::string initial(TestDevice& d, const std::string& case_id, const std::string& referral_date,
                      const std::string& start) {
    const std::string ref =
        create(d, RecordKind::referral, case_id,
               {{"referral_date", referral_date}, {"source", std::string("1A")}});
    return create(d, RecordKind::assessment, case_id,
                  {{"assessment_kind", std::string("initial")},
                   {"start_date", start},
                   {"status", std::string("in_progress")},
                   {"referral_id", ref}});
  }

  // Completes at `iso` (the clock moves there); the device's clock may be skewed.
  void complete(TestDevice& d, const std::string& id, const std::string& case_id,
                const std::string& iso, std::chrono::seconds skew = 0s) {
    at(iso);
    set(d, RecordKind::assessment, id, case_id,
        {{"status", std::string("completed")}, {"completed_at", now_text(skew)}}, skew);
  }

  rp::Unit unit(fg::Level level, const std::string& id) {
    auto u = rp::resolve_unit(*store, level, id);
    REQUIRE(u.ok());
    return *u;
  }

  TestDevice d1, d3;
  std::string area2, team2, sw3;
  fg::FiguresConfig config;
};

const rp::PerformanceRow& row_of(const rp::PerformanceReport& r, std::string_view id) {
  for (const auto& row : r.rows) {
    if (row.definition->id == id) return row;
  }
  FAIL("no row " << id);
  return r.rows.front();
}

// The case_read audit entries a data-quality list left for a case (syncs leave others).
std::vector<server::AuditEvent> list_reads(server::ServerStore& store, const std::string& case_id) {
  server::AuditQuery q;
  q.case_id = case_id;
  q.event = "case_read";
  auto all = store.query_audit(q);
  REQUIRE(all.ok());
  std::vector<server::AuditEvent> out;
  for (auto& e : *all) {
    if (e.detail.rfind("data-quality list", 0) == 0) out.push_back(std::move(e));
  }
  return out;
}

fg::Period period(const std::string& text) {
  auto p = fg::parse_period(text);
  REQUIRE(p.ok());
  return *p;
}

// NI 59 for team 1: in FY2023-24 one of two in time (50%); in April 2024 three of four (75%,
// amber against 80: at least 72); team 2 one late assessment in April 2024.
struct Ni59Cases {
  std::string c1, c3, late_sync;
};
Ni59Cases ni59_cases(ReportsFixture& f) {
  Ni59Cases out;
  f.at("2024-03-01T09:00:00Z");
  out.c1 = f.child(f.d1);
  // FY2023-24: referred Mon 4 Mar 2024, completed Tue 12 Mar = 6 working days: in time;
  // referred Mon 4 Mar, completed Thu 14 Mar = 8: late.
  const auto p1 = f.initial(f.d1, out.c1, "2024-03-04", "2024-03-04");
  const auto p2 = f.initial(f.d1, out.c1, "2024-03-04", "2024-03-04");
  f.complete(f.d1, p1, out.c1, "2024-03-12T10:00:00Z");
  f.complete(f.d1, p2, out.c1, "2024-03-14T10:00:00Z");
  // April 2024: referred Thu 28 Mar (before Easter), completed Mon 8 Apr: 2, 3, 4, 5, 8 April
  // = 5 (Good Friday 29 Mar and Easter Monday 1 Apr are bank holidays): in time.
  f.at("2024-03-28T09:00:00Z");
  const auto q1 = f.initial(f.d1, out.c1, "2024-03-28", "2024-03-28");
  const auto q2 = f.initial(f.d1, out.c1, "2024-04-02", "2024-04-02");
  const auto q3 = f.initial(f.d1, out.c1, "2024-04-02", "2024-04-02");
  const auto q4 = f.initial(f.d1, out.c1, "2024-04-02", "2024-04-02");
  f.complete(f.d1, q1, out.c1, "2024-04-08T10:00:00Z");
  // Referred Tue 2 Apr: by Thu 11 Apr = 7 (in time); Fri 12 Apr = 8 (late).
  f.complete(f.d1, q2, out.c1, "2024-04-11T10:00:00Z");
  f.complete(f.d1, q3, out.c1, "2024-04-12T10:00:00Z");
  // q4 was completed on Wed 3 Apr (1 day: in time) but reached the server on 19 April: it
  // counts, and is flagged synced_late (more than 7 days).
  f.at("2024-04-19T10:00:00Z");
  f.set(f.d1, RecordKind::assessment, q4, out.c1,
        {{"status", std::string("completed")},
         {"completed_at", std::string("2024-04-03T10:00:00Z")}});
  out.late_sync = q4;
  // Team 2: referred Tue 2 Apr, completed Mon 22 Apr = 13: late.
  out.c3 = f.child(f.d3);
  const auto t2 = f.initial(f.d3, out.c3, "2024-04-02", "2024-04-02");
  f.complete(f.d3, t2, out.c3, "2024-04-22T10:00:00Z");
  return out;
}

}  // namespace

TEST_CASE("reports: the registry carries the performance report's columns", "[figures][reports]") {
  std::set<std::string_view> refs;
  for (const auto& d : fg::definitions()) {
    CHECK(!d.reference.empty());
    CHECK(refs.insert(d.reference).second);  // one reference per indicator
    CHECK(!d.owner.empty());
  }
  CHECK(fg::find_definition("ni59")->reference == "NI 59");
  CHECK(fg::find_definition("ni64")->frequency == fg::Frequency::quarterly);
  CHECK(fg::to_string(fg::Frequency::annually) == "annually");
}

TEST_CASE("reports: the previous year is the financial year before the period's own",
          "[figures][reports]") {
  CHECK(rp::previous_financial_year(period("FY2024-25")).label == "FY2023-24");
  CHECK(rp::previous_financial_year(period("2024-04")).label == "FY2023-24");
  // March 2024 is in FY2023-24, so its previous year is FY2022-23; so is January-March 2024.
  CHECK(rp::previous_financial_year(period("2024-03")).label == "FY2022-23");
  CHECK(rp::previous_financial_year(period("2024-Q1")).label == "FY2022-23");
  CHECK(rp::previous_financial_year(period("2024-Q2")).label == "FY2023-24");
}

TEST_CASE("reports: the performance report for a team, a month, and the year before",
          "[figures][reports]") {
  ReportsFixture f;
  const auto cases = ni59_cases(f);
  const auto as_of = Date::parse("2024-04-30").value();
  auto report = rp::performance_report(*f.store, f.config, f.unit(fg::Level::team, f.team),
                                       period("2024-04"), as_of);
  REQUIRE(report.ok());
  CHECK(report->rows.size() == fg::definitions().size());
  CHECK(report->unit.name == "Assessment 1");
  CHECK(report->previous_year.label == "FY2023-24");
  const auto& ni59 = row_of(*report, "ni59");
  // April: q1 5, q2 7, q3 8, q4 1: 3 of 4 = 75%; amber (at least 90% of the 80% target).
  CHECK(ni59.current.numerator == 3);
  CHECK(ni59.current.denominator == 4);
  CHECK(*ni59.current.value == Approx(75.0));
  CHECK(ni59.current.rag == fg::Rag::amber);
  // FY2023-24: p1 6 in time, p2 8 late: 50%.
  CHECK(*ni59.previous.value == Approx(50.0));
  CHECK(ni59.current.quality.note == "4 records; 1 flagged (1 synced_late)");
  CHECK(ni59.current.records.empty());  // aggregates only

  // Team 2 alone: 0 of 1, red; the authority: 3 of 5 = 60%, red (below 72).
  auto team2 = rp::performance_report(*f.store, f.config, f.unit(fg::Level::team, f.team2),
                                      period("2024-04"), as_of);
  REQUIRE(team2.ok());
  CHECK(row_of(*team2, "ni59").current.rag == fg::Rag::red);
  auto all = rp::performance_report(*f.store, f.config, f.unit(fg::Level::authority, ""),
                                    period("2024-04"), as_of);
  REQUIRE(all.ok());
  CHECK(*row_of(*all, "ni59").current.value == Approx(60.0));
  CHECK(row_of(*all, "ni59").current.rag == fg::Rag::red);
  // Bell-shaped and target-less indicators have no RAG.
  CHECK(row_of(*all, "ni65").current.rag == fg::Rag::none);
  CHECK(row_of(*all, "single45").current.rag == fg::Rag::none);
  // As of Wed 10 April only q1 and q4 had been completed in April (q4 was received later, but
  // its completion time is what counts): 2 of 2.
  auto early = rp::performance_report(*f.store, f.config, f.unit(fg::Level::team, f.team),
                                      period("2024-04"), Date::parse("2024-04-10").value());
  REQUIRE(early.ok());
  CHECK(row_of(*early, "ni59").current.denominator == 2);

  const std::string csv = rp::performance_csv(*report);
  CHECK_THAT(csv, Catch::StartsWith("reference,indicator,title,owner,frequency,measure,unit,"
                                    "direction,baseline,previous_year,target,this_period,"
                                    "numerator,denominator,data_quality,rag\r\n"));
  CHECK_THAT(csv,
             Catch::Contains("NI 59,ni59,Initial assessments completed within 7 working days of "
                             "referral (NI 59),Head of assessment services,monthly,percentage,%,"
                             "rise is good,59.0,50.0,80.0,75.0,3,4,4 records; 1 flagged (1 "
                             "synced_late),amber\r\n"));
  const std::string text = rp::performance_text(*report);
  CHECK_THAT(text, Catch::StartsWith("Performance report: team Assessment 1, 2024-04 (2024-04-01 "
                                     "to 2024-04-30); previous year FY2023-24\n"));
  CHECK_THAT(text, Catch::Contains("\t59.0%\t50.0%\t80.0%\t75.0% (3/4)\t"));
  const std::string html = rp::performance_html(*report, "City <&> Council");
  CHECK_THAT(html, Catch::Contains("City &lt;&amp;&gt; Council"));
  CHECK_THAT(html, Catch::Contains("<td class=\"rag amber\">amber</td>"));
  CHECK_THAT(html, Catch::Contains("@media print"));
  CHECK(html.find("<script") == std::string::npos);
  (void)cases;
}

TEST_CASE("reports: RAG boundaries are exact", "[figures][reports]") {
  const auto& ni59 = *fg::find_definition("ni59");  // rise is good, target 80
  const auto& ni60 = *fg::find_definition("ni60");  // rise is good, target 84
  CHECK(fg::rag_for(ni59, 80.0) == fg::Rag::green);
  CHECK(fg::rag_for(ni59, 100.0 * 18 / 25) == fg::Rag::amber);  // 72%: 90% of the target
  CHECK(fg::rag_for(ni59, 71.9) == fg::Rag::red);
  CHECK(fg::rag_for(ni59, 79.99) == fg::Rag::amber);
  // 378 of 500 is 75.6%, exactly 90% of 84%, though 84 x 0.9 is not 75.6 in binary.
  CHECK(fg::rag_for(ni60, 100.0 * 378 / 500) == fg::Rag::amber);
  CHECK(fg::rag_for(ni60, 100.0 * 377 / 500) == fg::Rag::red);
  CHECK(fg::rag_for(ni60, std::nullopt) == fg::Rag::none);
  CHECK(fg::rag_for(*fg::find_definition("single45"), 50.0) == fg::Rag::none);  // no target
  fg::IndicatorDefinition fall;  // a fall-is-good indicator with a target of 10
  fall.direction = fg::Direction::fall_is_good;
  fall.target = 10.0;
  CHECK(fg::rag_for(fall, 10.0) == fg::Rag::green);
  CHECK(fg::rag_for(fall, 11.0) == fg::Rag::amber);
  CHECK(fg::rag_for(fall, 11.01) == fg::Rag::red);
  fall.direction = fg::Direction::bell_shaped;
  CHECK(fg::rag_for(fall, 10.0) == fg::Rag::none);
}

TEST_CASE("reports: CSV cells are quoted and formula-like cells neutralised", "[reports]") {
  CHECK(rp::csv_cell("plain") == "plain");
  CHECK(rp::csv_cell("") == "");
  CHECK(rp::csv_cell("a,b") == "\"a,b\"");
  CHECK(rp::csv_cell("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(rp::csv_cell("two\nlines") == "\"two\nlines\"");
  CHECK(rp::csv_cell("=SUM(A1:A9)") == "'=SUM(A1:A9)");
  CHECK(rp::csv_cell("+44 20") == "'+44 20");
  CHECK(rp::csv_cell("-1") == "'-1");
  CHECK(rp::csv_cell("@cmd") == "'@cmd");
  CHECK(rp::csv_cell("\tx") == "'\tx");
  CHECK(rp::csv_cell("=HYPERLINK(\"x\",\"y\")") == "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
  CHECK(rp::csv_cell("a=b") == "a=b");  // only the first character matters
}

TEST_CASE("reports: the data-quality list names the records to fix, per team, with reasons",
          "[figures][reports]") {
  ReportsFixture f;
  const auto cases = ni59_cases(f);
  // A record with its dates the wrong way round: referred on 10 April, but the assessment
  // started and was completed on 5 April: left out of NI 59.
  f.at("2024-04-05T09:00:00Z");
  const std::string bad = f.initial(f.d1, cases.c1, "2024-04-10", "2024-04-05");
  f.complete(f.d1, bad, cases.c1, "2024-04-05T15:00:00Z");
  // A completion from a tablet whose clock is an hour fast, in team 2.
  f.at("2024-04-15T09:00:00Z");
  const std::string skewed = f.initial(f.d3, cases.c3, "2024-04-15", "2024-04-15");
  f.complete(f.d3, skewed, cases.c3, "2024-04-16T09:00:00Z", 3600s);

  const auto as_of = Date::parse("2024-04-30").value();
  auto team1 = rp::data_quality(*f.store, f.config, f.unit(fg::Level::team, f.team),
                                period("2024-04"), as_of);
  REQUIRE(team1.ok());
  REQUIRE(team1->records.size() == 2);
  // In record id order within the case: q4 (created first) then `bad`.
  const auto& late = team1->records[0];
  CHECK(late.record_id == cases.late_sync);
  CHECK(late.case_id == cases.c1);
  CHECK(late.kind == RecordKind::assessment);
  CHECK(late.team_id == f.team);
  CHECK(late.team_name == "Assessment 1");
  CHECK(late.worker_name == "Ann");
  CHECK(late.flags == std::vector<std::string>{"synced_late"});
  CHECK(late.indicators == std::vector<std::string>{"ni59"});
  CHECK_FALSE(late.left_out);
  CHECK_THAT(late.reasons.at(0), Catch::StartsWith("The record reached the server more than 7 "
                                                   "days after the work was done"));
  const auto& wrong = team1->records[1];
  CHECK(wrong.record_id == bad);
  CHECK(wrong.flags == std::vector<std::string>{"end_before_start"});
  CHECK(wrong.left_out);
  CHECK(wrong.start == "2024-04-10");
  CHECK_THAT(wrong.reasons.at(0), Catch::Contains("left out of the figure"));

  // The authority's list: team 1 ("Assessment 1") before team 2, whose record carries the
  // clock flag.
  auto all = rp::data_quality(*f.store, f.config, f.unit(fg::Level::authority, ""),
                              period("2024-04"), as_of);
  REQUIRE(all.ok());
  REQUIRE(all->records.size() == 3);
  CHECK(all->records[2].record_id == skewed);
  CHECK(all->records[2].team_id == f.team2);
  CHECK(all->records[2].flags == std::vector<std::string>{"clock_large_offset"});
  // Reallocating c3 to no team of its own is not possible; reallocating it into team 1 moves
  // its record to team 1's list.
  REQUIRE(f.admin->allocate(cases.c3, f.sw2).ok());
  auto moved = rp::data_quality(*f.store, f.config, f.unit(fg::Level::team, f.team),
                                period("2024-04"), as_of);
  REQUIRE(moved.ok());
  CHECK(moved->records.size() == 3);

  const std::string csv = rp::data_quality_csv(*team1);
  CHECK_THAT(csv, Catch::StartsWith("team_id,team,worker_id,worker,case_id,record_id,"
                                    "record_kind,start,end,flags,reasons,indicators,left_out\r\n"));
  CHECK_THAT(csv, Catch::Contains("," + bad + ",assessment,2024-04-10,"));
  CHECK_THAT(csv, Catch::Contains(",end_before_start,"));
}

TEST_CASE("reports: units resolve, and managers see only their own", "[figures][reports]") {
  ReportsFixture f;
  using fg::Level;
  CHECK(rp::resolve_unit(*f.store, Level::team, "").status().code() == Errc::invalid_argument);
  CHECK(rp::resolve_unit(*f.store, Level::authority, f.team).status().code() ==
        Errc::invalid_argument);
  CHECK(rp::resolve_unit(*f.store, Level::team, f.area).status().code() == Errc::not_found);
  CHECK(f.unit(Level::authority, "").name == "City");
  auto worker = [&](const std::string& id) { return f.store->find_worker(id).value().value(); };
  auto area_manager_id = f.admin->create_worker("Ada", Role::area_manager, f.team);
  auto lead_id = f.admin->create_worker("Lee", Role::service_lead, "");
  REQUIRE(area_manager_id.ok());
  REQUIRE(lead_id.ok());
  struct Case {
    std::string who;
    Level level;
    std::string id;
    bool allowed;
  };
  const std::vector<Case> cases{
      {f.manager, Level::team, f.team, true},
      {f.manager, Level::worker, f.sw1, true},
      {f.manager, Level::team, f.team2, false},
      {f.manager, Level::worker, f.sw3, false},
      {f.manager, Level::area, f.area, false},
      {f.manager, Level::authority, "", false},
      {*area_manager_id, Level::area, f.area, true},
      {*area_manager_id, Level::team, f.team, true},
      {*area_manager_id, Level::area, f.area2, false},
      {*area_manager_id, Level::team, f.team2, false},
      {*area_manager_id, Level::authority, "", false},
      {*lead_id, Level::authority, "", true},
      {*lead_id, Level::worker, f.sw3, true},
      {f.sw1, Level::worker, f.sw1, false},
      {f.sw1, Level::team, f.team, false},
  };
  for (const auto& c : cases) {
    INFO(c.who << " " << fg::to_string(c.level) << " " << c.id);
    auto allowed = rp::may_view(*f.store, worker(c.who), f.unit(c.level, c.id));
    REQUIRE(allowed.ok());
    CHECK(*allowed == c.allowed);
  }
}

TEST_CASE("reports: the admin commands print the report and the data-quality list",
          "[figures][reports]") {
  ReportsFixture f;
  const auto cases = ni59_cases(f);
  const std::string db = (f.dir / "server.db").string();
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"admin", "--database", db});
    return run_binary(args, f.dir);
  };
  Run text = run({"report", "performance", "--period", "2024-04", "--level", "team", "--id", f.team,
                  "--as-of", "2024-04-30"});
  INFO(text.err);
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("NI 59\tInitial assessments completed within 7 working "
                                       "days of referral (NI 59)\tHead of assessment services\t"
                                       "monthly\tpercentage\trise is good\t59.0%\t50.0%\t80.0%\t"
                                       "75.0% (3/4)\t"));
  Run csv = run(
      {"report", "performance", "--period", "2024-04", "--as-of", "2024-04-30", "--format", "csv"});
  CHECK(csv.exit_code == 0);
  CHECK_THAT(csv.out, Catch::Contains(",60.0,3,5,"));
  Run page = run({"report", "performance", "--period", "2024-04", "--format", "html"});
  CHECK(page.exit_code == 0);
  CHECK_THAT(page.out, Catch::StartsWith("<!DOCTYPE html>"));
  CHECK_THAT(page.out, Catch::Contains("<title>Performance report: City, 2024-04</title>"));
  CHECK(run({"data-quality", "--format", "html"}).exit_code == 2);
  Run dq = run({"data-quality", "--period", "2024-04", "--as-of", "2024-04-30", "--format", "csv"});
  CHECK(dq.exit_code == 0);
  CHECK_THAT(dq.out, Catch::Contains(cases.late_sync + ",assessment,"));
  // The console's read of the listed case is audited.
  auto entries = list_reads(*f.store, cases.c1);
  REQUIRE(entries.size() == 1);
  CHECK_THAT(entries.front().detail, Catch::StartsWith("data-quality list 2024-04 authority"));
  CHECK_THAT(entries.front().detail, Catch::EndsWith("by console"));
  // Usage errors: 2; an unknown unit: 1.
  CHECK(run({"report", "performance", "--period", "2024-Q5"}).exit_code == 2);
  CHECK(run({"report", "performance", "--level", "region", "--id", "x"}).exit_code == 2);
  CHECK(run({"report", "performance", "--level", "team"}).exit_code == 2);
  CHECK(run({"report", "performance", "--id", f.team}).exit_code == 2);
  CHECK(run({"report", "performance", "--format", "xml"}).exit_code == 2);
  CHECK(run({"report", "performance", "--as-of", "2024-02-30"}).exit_code == 2);
  CHECK(run({"report", "summary"}).exit_code == 2);
  CHECK(run({"data-quality", "extra"}).exit_code == 2);
  Run unknown = run({"report", "performance", "--level", "team", "--id", f.area});
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.err, Catch::Contains("no team"));
}

TEST_CASE("reports: over HTTP, scoped by role, audited, with a printable page",
          "[figures][reports][http]") {
  ReportsFixture f;
  const auto cases = ni59_cases(f);
  auto lead = f.admin->create_worker("Lee", Role::service_lead, "");
  REQUIRE(lead.ok());
  server::AccessOptions cheap;
  cheap.pwhash_memlimit = 8192 * 1024;
  cheap.pwhash_opslimit = 1;
  for (const auto& w : {f.manager, *lead, f.sw1}) {
    REQUIRE(f.admin->set_password(w, kPassword, cheap).ok());
  }
  ServerProcess server(f.dir, {});
  REQUIRE_FALSE(server.exited());
  httplib::Client c("127.0.0.1", server.port());
  auto sign_in = [&](const std::string& worker) {
    return web_sign_in(c, worker, kPassword).headers();
  };
  const auto manager = sign_in(f.manager);
  const std::string team_query = "?period=2024-04&as_of=2024-04-30&level=team&unit=" + f.team;

  auto r = c.Get("/v1/reports/performance" + team_query, manager);
  REQUIRE(r);
  INFO(r->body);
  CHECK(r->status == 200);
  auto body = json::parse(r->body);
  CHECK(body["unit"]["name"] == "Assessment 1");
  CHECK(body["previous_year"]["label"] == "FY2023-24");
  const auto& first = body["rows"][0];
  CHECK(first["reference"] == "NI 59");
  CHECK(first["numerator"] == 3);
  CHECK(first["denominator"] == 4);
  CHECK(first["rag"] == "amber");
  CHECK(first["previous_year"] == 50.0);

  r = c.Get("/v1/reports/performance" + team_query + "&format=csv", manager);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "text/csv; charset=utf-8");
  CHECK_THAT(r->get_header_value("Content-Disposition"),
             Catch::Contains("performance-2024-04.csv"));
  CHECK_THAT(r->body, Catch::StartsWith("reference,indicator,"));

  // The printable page: HTML, no scripts, a CSP that allows only its own stylesheet.
  r = c.Get("/reports/performance" + team_query, manager);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "text/html; charset=utf-8");
  const std::string csp = r->get_header_value("Content-Security-Policy");
  CHECK_THAT(csp, Catch::StartsWith("default-src 'none'; style-src 'sha256-"));
  CHECK_THAT(csp, Catch::Contains("frame-ancestors 'none'"));
  CHECK(csp.find("script-src") == std::string::npos);
  CHECK(r->get_header_value("X-Frame-Options") == "DENY");
  CHECK(r->get_header_value("Cache-Control") == "no-store");
  CHECK(r->body.find("<script") == std::string::npos);
  CHECK_THAT(r->body, Catch::Contains("Performance report: team Assessment 1, 2024-04"));
  // Without a session: 401, as a page.
  r = c.Get("/reports/performance" + team_query);
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK_THAT(r->body, Catch::Contains("Sign in"));

  // Failure paths: no session, another team, the authority, unknown units, bad parameters.
  auto status_of = [&](const std::string& path, const httplib::Headers& h) {
    auto res = c.Get(path, h);
    REQUIRE(res);
    return res->status;
  };
  CHECK(status_of("/v1/reports/performance" + team_query, {}) == 401);
  CHECK(status_of("/v1/reports/performance?period=2024-04&level=team&unit=" + f.team2, manager) ==
        403);
  CHECK(status_of("/v1/reports/performance?period=2024-04", manager) == 403);
  CHECK(status_of("/v1/reports/performance?period=2024-04&level=team&unit=" + f.area, manager) ==
        404);
  CHECK(status_of("/v1/reports/performance?period=2024-13", manager) == 400);
  CHECK(status_of("/v1/reports/performance?level=region", manager) == 400);
  CHECK(status_of("/v1/reports/performance?level=team", manager) == 400);
  CHECK(status_of("/v1/reports/performance?as_of=yesterday", manager) == 400);
  CHECK(status_of("/v1/reports/performance?format=xml", manager) == 400);
  CHECK(status_of("/v1/data-quality?level=team&unit=" + f.team2, manager) == 403);
  CHECK(status_of("/reports/performance?level=team&unit=" + f.team2, manager) == 403);
  CHECK(status_of("/v1/reports/performance?level=worker&unit=" + f.sw1, sign_in(f.sw1)) == 403);
  // The refusal is on record.
  server::AuditQuery refused;
  refused.worker_id = f.manager;
  refused.event = "permission_refused";
  auto refusals = f.store->query_audit(refused);
  REQUIRE(refusals.ok());
  CHECK(refusals->size() >= 3);

  // The data-quality list: the team's flagged record, and the case read on record with its
  // relation to the manager (team).
  r = c.Get("/v1/data-quality" + team_query, manager);
  REQUIRE(r);
  CHECK(r->status == 200);
  body = json::parse(r->body);
  REQUIRE(body["records"].size() == 1);
  CHECK(body["records"][0]["record_id"] == cases.late_sync);
  CHECK(body["records"][0]["flags"] == json::array({"synced_late"}));
  CHECK(body["records"][0]["indicators"] == json::array({"ni59"}));
  auto entries = list_reads(*f.store, cases.c1);
  REQUIRE(entries.size() == 1);
  CHECK(entries.front().worker_id == f.manager);
  CHECK(entries.front().relation == "team");
  CHECK_THAT(entries.front().detail, Catch::Contains("/v1/data-quality?level=team&unit="));
  r = c.Get("/v1/data-quality" + team_query + "&format=csv", manager);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK_THAT(r->body, Catch::Contains(cases.late_sync));

  // The service lead sees the authority.
  const auto lead_headers = sign_in(*lead);
  r = c.Get("/v1/reports/performance?period=2024-04&as_of=2024-04-30", lead_headers);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["rows"][0]["denominator"] == 5);
  CHECK(server.stop() == 0);
}

}  // namespace fieldcase::test
