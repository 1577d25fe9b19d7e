// The pure rules figures and reports share ([figures], [http]): the indicator registry as data,
// the one reader of units, periods and days (the HTTP API and the commands both use it), the
// reporting day, and the one mapping from an error value to an HTTP answer.
#include <catch2/catch.hpp>

#include <httplib.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "error_mapping.hpp"
#include "fieldcase/server/indicators.hpp"
#include "fieldcase/server/reporting.hpp"

namespace fieldcase::test {
namespace {

namespace fg = server::figures;

TEST_CASE("figure rules: the registry is a table of unique ids whose sources exist", "[figures]") {
  const auto& defs = fg::definitions();
  REQUIRE(defs.size() == 17);
  std::set<std::string_view> ids;
  for (const auto& d : defs) {
    INFO(d.id);
    CHECK(ids.insert(d.id).second);
    CHECK(!d.title.empty());
    CHECK(!d.unit.empty());
    CHECK(!d.counting.empty());
    CHECK(!d.reference.empty());
    CHECK(fg::find_definition(d.id) == &d);
    for (auto source : d.sources) {
      const auto* s = fg::find_definition(source);
      REQUIRE(s != nullptr);
      CHECK(s->sources.empty());  // a source has facts of its own
    }
    // An indicator without sources derives its own facts, so it names where they come from.
    if (d.sources.empty() && !d.span_kind) CHECK(!d.start.field.empty());
    if (d.span_kind) CHECK(!d.span_start.field.empty());
  }
  CHECK(fg::find_definition("ni99") == nullptr);
  const auto* ni59 = fg::find_definition("ni59");
  REQUIRE(ni59 != nullptr);
  CHECK(ni59->start.via == "referral_id");
  CHECK(ni59->start.via_kind == RecordKind::referral);
  CHECK(ni59->limit == fg::LimitKind::initial_assessment);
  CHECK(ni59->target == 80.0);
  CHECK(fg::rag_for(*ni59, 80.0) == fg::Rag::green);
  CHECK(fg::rag_for(*ni59, 72.0) == fg::Rag::amber);
  CHECK(fg::rag_for(*ni59, 71.9) == fg::Rag::red);
  CHECK(fg::rag_for(*ni59, std::nullopt) == fg::Rag::none);
}

// The rows of docs/indicators.md's "The indicators" table, each as its cells.
std::vector<std::vector<std::string>> documented_indicators() {
  std::ifstream in(FC_INDICATORS_MD);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  bool in_section = false;
  while (std::getline(in, line)) {
    if (line.rfind("### ", 0) == 0) in_section = line == "### The indicators";
    if (!in_section || line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream cells_in(line.substr(1));
    for (std::string cell; std::getline(cells_in, cell, '|');) {
      const auto b = cell.find_first_not_of(' ');
      const auto e = cell.find_last_not_of(' ');
      cells.push_back(b == std::string::npos ? std::string() : cell.substr(b, e - b + 1));
    }
    rows.push_back(std::move(cells));
  }
  return rows;
}

// "80% (59%)", "100%", "none": the target and baseline column as the registry would print it.
std::string target_text(const fg::IndicatorDefinition& d) {
  auto number = [](double v) {
    std::ostringstream o;
    o << v;
    return o.str();
  };
  if (!d.target) return "none";
  std::string s = number(*d.target) + "%";
  if (d.baseline) s += " (" + number(*d.baseline) + "%)";
  return s;
}

std::string direction_text(fg::Direction d) {
  switch (d) {
    case fg::Direction::rise_is_good:
      return "rise is good";
    case fg::Direction::fall_is_good:
      return "fall is good";
    case fg::Direction::bell_shaped:
      return "bell-shaped";
  }
  return "";
}

TEST_CASE("figure rules: the registry agrees with docs/indicators.md", "[figures]") {
  const auto rows = documented_indicators();
  const auto& defs = fg::definitions();
  REQUIRE(rows.size() == defs.size());
  for (std::size_t i = 0; i < defs.size(); ++i) {
    const auto& row = rows[i];
    REQUIRE(row.size() >= 8);
    INFO(row[0]);
    // Same ids in the same order, the same direction and the same target and baseline.
    CHECK(row[0] == "`" + std::string(defs[i].id) + "`");
    CHECK(row[6] == direction_text(defs[i].direction));
    CHECK(row[7] == target_text(defs[i]));
  }
}

TEST_CASE("figure rules: one reader of units for the API and the commands", "[figures]") {
  auto none = fg::parse_unit("", "");
  REQUIRE(none.ok());
  CHECK(!*none);
  auto authority = fg::parse_unit("authority", "");
  REQUIRE(authority.ok());
  REQUIRE(*authority);
  CHECK((*authority)->level == fg::Level::authority);
  auto team = fg::parse_unit("team", "T-1");
  REQUIRE(team.ok());
  CHECK((*team)->level == fg::Level::team);
  CHECK((*team)->id == "T-1");

  struct Bad {
    const char* level;
    const char* unit;
    const char* says;
  };
  const std::string long_id(65, 'w');
  for (const Bad& b : {Bad{"county", "", "level is authority, area, team or worker, not 'county'"},
                       Bad{"team", "", "level team needs a unit"},
                       Bad{"", "abc", "unit needs a level"},
                       Bad{"authority", "abc", "unit needs level area, team or worker"},
                       Bad{"team", "a b", "unit is an id"},
                       Bad{"worker", long_id.c_str(), "unit is an id"}}) {
    INFO(b.level << " " << b.unit);
    auto r = fg::parse_unit(b.level, b.unit);
    REQUIRE(!r.ok());
    CHECK(r.code() == Errc::invalid_argument);
    CHECK_THAT(r.status().message(), Catch::Contains(b.says));
  }
  // The commands name their options in the same rule's messages.
  auto cli = fg::parse_unit("area", "", {"--level", "--id"});
  REQUIRE(!cli.ok());
  CHECK(cli.status().message() == "--level area needs a --id");
}

TEST_CASE("figure rules: periods, days and the reporting day", "[figures]") {
  auto fy = fg::parse_period("FY2025-26");
  REQUIRE(fy.ok());
  CHECK(fy->first.to_string() == "2025-04-01");
  CHECK(fy->last.to_string() == "2026-03-31");
  auto q = fg::parse_period("2025-Q3");
  REQUIRE(q.ok());
  CHECK(q->first.to_string() == "2025-07-01");
  CHECK(q->last.to_string() == "2025-09-30");
  auto m = fg::parse_period("2024-02");
  REQUIRE(m.ok());
  CHECK(m->last.to_string() == "2024-02-29");
  for (const char* bad : {"2025", "FY2025-27", "2025-Q5", "2025-13", "july"}) {
    INFO(bad);
    CHECK(fg::parse_period(bad).code() == Errc::invalid_argument);
  }
  auto day = fg::parse_day("2025-07-31", "as_of");
  REQUIRE(day.ok());
  CHECK(day->to_string() == "2025-07-31");
  auto bad_day = fg::parse_day("yesterday", "--as-of");
  REQUIRE(!bad_day.ok());
  CHECK(bad_day.status().message() == "--as-of is a date YYYY-MM-DD");

  using std::chrono::seconds;
  using std::chrono::system_clock;
  // 2025-07-31T23:59:59Z and the second after it; and a moment before 1970 keeps its own day.
  CHECK(fg::reporting_day(system_clock::time_point(seconds(1'754'006'399))).to_string() ==
        "2025-07-31");
  CHECK(fg::reporting_day(system_clock::time_point(seconds(1'754'006'400))).to_string() ==
        "2025-08-01");
  CHECK(fg::reporting_day(system_clock::time_point(seconds(-1))).to_string() == "1969-12-31");
}

TEST_CASE("figure rules: one mapping from an error value to an HTTP answer", "[http]") {
  using server::detail::http_error;
  struct Row {
    Errc code;
    int status;
    std::string_view name;
    int retry_after;
    bool logged;
  };
  for (const Row& r : {Row{Errc::invalid_argument, 400, "bad_request", 0, false},
                       Row{Errc::validation, 400, "bad_request", 0, false},
                       Row{Errc::unsupported, 400, "unsupported_protocol", 0, false},
                       Row{Errc::unauthenticated, 401, "unauthenticated", 0, false},
                       Row{Errc::forbidden, 403, "forbidden", 0, false},
                       Row{Errc::not_found, 404, "not_found", 0, false},
                       Row{Errc::already_exists, 409, "conflict", 0, false},
                       Row{Errc::too_many_attempts, 429, "too_many_attempts", 60, false},
                       Row{Errc::busy, 503, "busy", 1, false},
                       Row{Errc::unavailable, 503, "unavailable", 2, true},
                       Row{Errc::io, 500, "internal", 0, true}}) {
    const auto e = http_error(Status(r.code, "the detail"));
    INFO(e.code);
    CHECK(e.status == r.status);
    CHECK(e.code == r.name);
    CHECK(e.retry_after_seconds == r.retry_after);
    CHECK(e.logged == r.logged);
    // A client hears the detail of its own mistakes, never of the server's failures.
    CHECK((e.message == "the detail") == (r.status < 500));
  }

  httplib::Response res;
  std::string logged;
  server::detail::reply_error(res, Status(Errc::unavailable, "database gone"),
                              [&](const std::string& line) { logged = line; });
  CHECK(res.status == 503);
  CHECK(res.get_header_value("Retry-After") == "2");
  CHECK(res.body.find("database gone") == std::string::npos);
  CHECK(logged.find("database gone") != std::string::npos);
}

}  // namespace
}  // namespace fieldcase::test
