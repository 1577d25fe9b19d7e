// The Children in Need census export ([figures][cin][export]): hand-built children whose census
// items are worked out in the comments, the file validated by `xmllint --noout --schema`
// against the 2024 schema (FIELDCASE_CIN_XSD; the test fails when the schema or xmllint is
// missing), deliberately broken records reported and never written invalid, the admin command
// and the HTTP endpoints.
#include <httplib.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fieldcase/server/cin_census.hpp"
#include "fieldcase/server/demo.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "server_fixture.hpp"
#include "server_process.hpp"
#include "web_sign_in.hpp"

#ifndef FC_CIN_XSD
#error "FC_CIN_XSD must name the CIN census schema (CMake cache variable FIELDCASE_CIN_XSD)"
#endif

namespace fieldcase::test {
namespace {

namespace cin = server::cin;
using json = nlohmann::json;

constexpr const char* kPassword = "correct horse battery staple";

// Runs xmllint on `xml` against the census schema: its exit code and messages.
Run validate(const TempDir& dir, const std::string& xml) {
  const std::filesystem::path schema = FC_CIN_XSD;
  INFO("the CIN census schema must exist at "
       << schema << " (set the CMake cache variable FIELDCASE_CIN_XSD)");
  REQUIRE(std::filesystem::exists(schema));
  const auto file = dir / "census.xml";
  {
    std::ofstream out(file, std::ios::binary);
    out << xml;
  }
  Run r = run_program("xmllint", {"--noout", "--schema", schema.string(), file.string()}, dir);
  INFO("xmllint (Debian package libxml2-utils, installed by scripts/bootstrap) must be on PATH");
  REQUIRE(r.exit_code != 127);
  return r;
}

class CensusFixture : public RecordingFixture {
 public:
  CensusFixture() {
    at("2024-05-01T09:00:00Z");
    d1 = device(sw1, "d1");
    dm = device(manager, "dm");
  }

  std::string child(const std::string& local_id, Fields extra = {}) {
    const std::string id = new_id();
    Fields f = child_fields();
    f["local_id"] = local_id;
    for (auto& [k, v] : extra) {
      if (is_null(v)) {
        f.erase(k);  // leave the field out
      } else {
        f[k] = v;
      }
    }
    accept(d1, create_tx(d1, RecordKind::child, id, id, f, now_text()));
    return id;
  }

  using RecordingFixture::create;
  // A record on d1, the social worker's device.
  std::string create(RecordKind kind, const std::string& case_id, const Fields& fields) {
    return create(d1, kind, case_id, fields);
  }

  std::string referral(const std::string& case_id, const std::string& date,
                       const std::string& source, Fields extra = {}) {
    Fields f{{"referral_date", date}, {"source", source}};
    for (auto& [k, v] : extra) f[k] = v;
    return create(RecordKind::referral, case_id, f);
  }

  // A stored value written past validation, as a legacy import or a fault might leave it.
  void corrupt(const std::string& record_id, const std::string& field, Value value) {
    REQUIRE(store->put_field(record_id, field, {std::move(value), "0", "server"}).ok());
  }

  cin::CensusExport census(int year) {
    auto c = cin::export_census(*store, year, "2024-05-01T09:00:00Z");
    INFO(c.status().to_string());
    REQUIRE(c.ok());
    return std::move(*c);
  }

  TestDevice d1, dm;
};

bool has(const std::string& xml, const std::string& text) {
  return xml.find(text) != std::string::npos;
}

// The exceptions of one record.
std::vector<cin::Exception> about(const cin::CensusExport& c, const std::string& record_id) {
  std::vector<cin::Exception> out;
  for (const auto& e : c.exceptions) {
    if (e.record_id == record_id) out.push_back(e);
  }
  return out;
}

// The census items of the fixture's children, worked out by hand (year 2024: 1 April 2023 to
// 31 March 2024).
struct Children {
  std::string a, a_r0, a_r1, a_assessment, a_s47, a_plan1, a_plan2, a_cin_plan;
  std::string b, b_r, b_assessment, b_s47;
  std::string c;
  std::string d;
  std::string e, e_r;
  std::string f, f_r;
};

Children build(CensusFixture& fx) {
  Children k;
  // A: referred 2 May 2023 by a school (2A), abuse or neglect (N1), closed 28 Feb 2024 (RC7).
  // An earlier referral (2021) is outside the year. Disabilities NONE and AUT: NONE is left out.
  k.a = fx.child("C-A",
                 {{"ethnicity", std::string("WBRI")}, {"disabilities", CodeList{"NONE", "AUT"}}});
  k.a_r0 = fx.referral(
      k.a, "2021-01-04", "1A",
      {{"closure_date", std::string("2021-06-01")}, {"closure_reason", std::string("RC8")}});
  k.a_r1 = fx.referral(k.a, "2023-05-02", "2A",
                       {{"primary_need", std::string("N1")},
                        {"closure_date", std::string("2024-02-28")},
                        {"closure_reason", std::string("RC7")}});
  // Its single assessment: started 3 May 2023, completed 1 June, authorised 2 June with
  // factors 21 and 3A (21, "no factors", is left out beside another factor).
  k.a_assessment = fx.create(RecordKind::assessment, k.a,
                             {{"assessment_kind", std::string("single")},
                              {"start_date", std::string("2023-05-03")},
                              {"status", std::string("in_progress")},
                              {"referral_id", k.a_r1},
                              {"factors", CodeList{"21", "3A"}}});
  fx.set(fx.d1, RecordKind::assessment, k.a_assessment, k.a,
         {{"status", std::string("completed")},
          {"completed_at", std::string("2023-06-01T10:00:00Z")}});
  fx.set(fx.dm, RecordKind::assessment, k.a_assessment, k.a,
         {{"status", std::string("authorised")},
          {"authorised_at", std::string("2023-06-02T15:00:00Z")},
          {"authorised_by", fx.manager}});
  // Section 47 from 5 June 2023, conference due 26 June, held 20 June.
  k.a_s47 = fx.create(RecordKind::s47_enquiry, k.a,
                      {{"start_date", std::string("2023-06-05")},
                       {"strategy_discussion_date", std::string("2023-06-05")},
                       {"initial_conference_target", std::string("2023-06-26")},
                       {"initial_conference_date", std::string("2023-06-20")}});
  // First plan 20 June 2023 to 10 January 2024: no earlier plan, which the 2024 schema cannot
  // carry (NumberOfPreviousCPP is a positive integer): left out and reported.
  k.a_plan1 = fx.create(RecordKind::cp_plan, k.a,
                        {{"start_date", std::string("2023-06-20")},
                         {"end_date", std::string("2024-01-10")},
                         {"initial_category", std::string("NEG")},
                         {"review_dates", CodeList{"2023-09-15", "2024-01-05"}}});
  // Second plan from 20 January 2024 (one earlier plan), physical then emotional abuse; a
  // review on 10 March 2024 (in the year) and 15 April 2024 (after the reference date).
  k.a_plan2 = fx.create(RecordKind::cp_plan, k.a,
                        {{"start_date", std::string("2024-01-20")},
                         {"initial_category", std::string("PHY")},
                         {"latest_category", std::string("EMO")},
                         {"review_dates", CodeList{"2024-04-15", "2024-03-10"}}});
  k.a_cin_plan = fx.create(
      RecordKind::cin_plan, k.a,
      {{"start_date", std::string("2023-07-01")}, {"end_date", std::string("2023-12-01")}});

  // B: no ethnicity recorded (written as NOBT, noted); referred by the police on 15 March 2024
  // with no further action; a core assessment not linked to the referral, started 20 March
  // (placed in the episode by its date); a section 47 enquiry that says no conference was
  // required yet records one: left out and reported.
  k.b = fx.child("C-B");
  k.b_r = fx.referral(k.b, "2024-03-15", "6", {{"no_further_action", true}});
  k.b_assessment = fx.create(RecordKind::assessment, k.b,
                             {{"assessment_kind", std::string("core")},
                              {"start_date", std::string("2024-03-20")},
                              {"status", std::string("in_progress")}});
  k.b_s47 = fx.create(RecordKind::s47_enquiry, k.b,
                      {{"start_date", std::string("2024-03-18")},
                       {"conference_not_required", true},
                       {"initial_conference_date", std::string("2024-03-28")}});

  // C: referred after the reference date: not in the 2024 census.
  k.c = fx.child("C-C", {{"ethnicity", std::string("AIND")}});
  fx.referral(k.c, "2024-04-02", "1C");

  // D: a gender code outside the census's list reached the store: the child is left out.
  k.d = fx.child("C-D", {{"ethnicity", std::string("WBRI")}});
  fx.referral(k.d, "2023-09-01", "2A");
  fx.corrupt(k.d, "gender", std::string("7"));

  // E: its only referral has a source outside the census's list: the referral, and so the
  // child, are left out.
  k.e = fx.child("C-E", {{"ethnicity", std::string("WBRI")}});
  k.e_r = fx.referral(k.e, "2023-09-01", "2A");
  fx.corrupt(k.e_r, "source", std::string("ZZ"));

  // F: referred 1 March 2023 (before the year), closed 1 May 2024 (after it): open during the
  // year, so in the census with no closure.
  k.f = fx.child("C-F", {{"ethnicity", std::string("CHNE")},
                         {"date_of_birth", Value{}},
                         {"expected_date_of_birth", std::string("2024-06-01")}});
  k.f_r = fx.referral(
      k.f, "2023-03-01", "3B",
      {{"closure_date", std::string("2024-05-01")}, {"closure_reason", std::string("RC7")}});
  return k;
}

}  // namespace

TEST_CASE("cin: a census year runs from 1 April to the 31 March it is named after",
          "[figures][cin][export]") {
  auto y = cin::census_year(2024);
  REQUIRE(y.ok());
  CHECK(y->first.to_string() == "2023-04-01");
  CHECK(y->last.to_string() == "2024-03-31");
  CHECK(cin::census_year(1999).status().code() == Errc::invalid_argument);
  CHECK(cin::census_year(9999).status().code() == Errc::invalid_argument);
}

TEST_CASE("cin: the census file validates against the 2024 schema and maps each item",
          "[figures][cin][export]") {
  CensusFixture fx;
  const auto k = build(fx);
  const auto c = fx.census(2024);
  INFO(c.xml);
  Run lint = validate(fx.dir, c.xml);
  INFO(lint.err);
  CHECK(lint.exit_code == 0);

  // Header.
  CHECK(has(c.xml, "<Collection>CIN</Collection>"));
  CHECK(has(c.xml, "<Year>2024</Year>"));
  CHECK(has(c.xml, "<ReferenceDate>2024-03-31</ReferenceDate>"));
  CHECK(has(c.xml, "<LEA>123</LEA>"));
  // A, B and F are in the file; C (referred after the year), D and E (broken) are not.
  CHECK(c.children == 3);
  CHECK(c.episodes == 3);
  CHECK(has(c.xml, "<LAchildID>C-A</LAchildID>"));
  CHECK(has(c.xml, "<LAchildID>C-B</LAchildID>"));
  CHECK(has(c.xml, "<LAchildID>C-F</LAchildID>"));
  CHECK_FALSE(has(c.xml, "C-C"));
  CHECK_FALSE(has(c.xml, "C-D"));
  CHECK_FALSE(has(c.xml, "C-E"));
  CHECK(c.xml.find("C-A") < c.xml.find("C-B"));  // in LAchildID order

  // A: one episode (2021's referral is outside the year), every item in schema order.
  const std::string a_episode =
      "        <CINreferralDate>2023-05-02</CINreferralDate>\n"
      "        <ReferralSource>2A</ReferralSource>\n"
      "        <PrimaryNeedCode>N1</PrimaryNeedCode>\n"
      "        <CINclosureDate>2024-02-28</CINclosureDate>\n"
      "        <ReasonForClosure>RC7</ReasonForClosure>\n"
      "        <DateOfInitialCPC>2023-06-20</DateOfInitialCPC>\n"
      "        <Assessments>\n"
      "          <AssessmentActualStartDate>2023-05-03</AssessmentActualStartDate>\n"
      "          <AssessmentAuthorisationDate>2023-06-02</AssessmentAuthorisationDate>\n"
      "          <FactorsIdentifiedAtAssessment>\n"
      "            <AssessmentFactors>3A</AssessmentFactors>\n"
      "          </FactorsIdentifiedAtAssessment>\n"
      "        </Assessments>\n"
      "        <CINPlanDates>\n"
      "          <CINPlanStartDate>2023-07-01</CINPlanStartDate>\n"
      "          <CINPlanEndDate>2023-12-01</CINPlanEndDate>\n"
      "        </CINPlanDates>\n"
      "        <Section47>\n"
      "          <S47ActualStartDate>2023-06-05</S47ActualStartDate>\n"
      "          <InitialCPCtarget>2023-06-26</InitialCPCtarget>\n"
      "          <DateOfInitialCPC>2023-06-20</DateOfInitialCPC>\n"
      "          <ICPCnotRequired>false</ICPCnotRequired>\n"
      "        </Section47>\n"
      "        <ReferralNFA>false</ReferralNFA>\n"
      "        <ChildProtectionPlans>\n"
      "          <CPPstartDate>2024-01-20</CPPstartDate>\n"
      "          <InitialCategoryOfAbuse>PHY</InitialCategoryOfAbuse>\n"
      "          <LatestCategoryOfAbuse>EMO</LatestCategoryOfAbuse>\n"
      "          <NumberOfPreviousCPP>1</NumberOfPreviousCPP>\n"
      "          <Reviews>\n"
      "            <CPPreviewDate>2024-03-10</CPPreviewDate>\n"
      "          </Reviews>\n"
      "        </ChildProtectionPlans>\n";
  CHECK(has(c.xml, a_episode));
  CHECK(has(c.xml, "<Disabilities>\n          <Disability>AUT</Disability>\n"));
  CHECK_FALSE(has(c.xml, "<Disability>NONE</Disability>"));
  CHECK_FALSE(has(c.xml, "2021-01-04"));
  CHECK_FALSE(has(c.xml, "<CPPstartDate>2023-06-20</CPPstartDate>"));
  // B: NOBT; NFA; the unlinked core assessment placed in the episode, not yet authorised.
  CHECK(has(c.xml, "<Ethnicity>NOBT</Ethnicity>"));
  CHECK(has(c.xml,
            "        <CINreferralDate>2024-03-15</CINreferralDate>\n"
            "        <ReferralSource>6</ReferralSource>\n"
            "        <Assessments>\n"
            "          <AssessmentActualStartDate>2024-03-20</AssessmentActualStartDate>\n"
            "        </Assessments>\n"
            "        <ReferralNFA>true</ReferralNFA>\n"));
  // F: the expected date of birth; the closure after the reference date is not written.
  CHECK(has(c.xml, "<ExpectedPersonBirthDate>2024-06-01</ExpectedPersonBirthDate>"));
  CHECK(has(c.xml,
            "        <CINreferralDate>2023-03-01</CINreferralDate>\n"
            "        <ReferralSource>3B</ReferralSource>\n"
            "        <ReferralNFA>false</ReferralNFA>\n"));

  // The exceptions: each with its outcome and reason.
  auto one = [&](const std::string& record_id) {
    auto e = about(c, record_id);
    INFO(record_id);
    REQUIRE(e.size() == 1);
    return e.front();
  };
  CHECK(one(k.a_plan1).outcome == cin::Outcome::record_left_out);
  CHECK_THAT(one(k.a_plan1).reason, Catch::StartsWith("NumberOfPreviousCPP"));
  CHECK(one(k.a_plan1).la_child_id == "C-A");
  CHECK(one(k.a_assessment).outcome == cin::Outcome::exported_with_note);
  CHECK_THAT(one(k.a_assessment).reason, Catch::Contains("21 (no factors identified)"));
  auto a_notes = about(c, k.a);
  REQUIRE(a_notes.size() == 1);
  CHECK_THAT(a_notes[0].reason, Catch::StartsWith("Disability: NONE"));
  CHECK(one(k.b).outcome == cin::Outcome::exported_with_note);
  CHECK_THAT(one(k.b).reason, Catch::StartsWith("Ethnicity: not recorded, so written as NOBT"));
  CHECK(one(k.b_s47).outcome == cin::Outcome::record_left_out);
  CHECK_THAT(one(k.b_s47).reason, Catch::StartsWith("ICPCnotRequired"));
  CHECK(one(k.d).outcome == cin::Outcome::child_left_out);
  CHECK(one(k.d).reason == "GenderCurrent: '7' is not a census gender code");
  CHECK(one(k.e_r).outcome == cin::Outcome::episode_left_out);
  CHECK_THAT(one(k.e_r).reason, Catch::StartsWith("ReferralSource: 'ZZ'"));
  CHECK(one(k.e).outcome == cin::Outcome::child_left_out);
  CHECK(c.exceptions.size() == 8);
  CHECK(about(c, k.c).empty());
  // Every case of the census was read (and is audited by the caller); C was not.
  CHECK(c.cases_read.size() == 5);
  CHECK(std::find(c.cases_read.begin(), c.cases_read.end(), k.c) == c.cases_read.end());

  const std::string csv = cin::exceptions_csv(c);
  CHECK_THAT(csv,
             Catch::StartsWith("case_id,la_child_id,record_id,record_kind,outcome,reason\r\n"));
  CHECK_THAT(csv, Catch::Contains(k.d + ",C-D," + k.d +
                                  ",child,child left out,GenderCurrent: "
                                  "'7' is not a census gender code\r\n"));

  // The validator is not a formality: the same file with D's gender written in is refused.
  std::string broken = c.xml;
  broken.replace(broken.find("<GenderCurrent>1</GenderCurrent>"), 32,
                 "<GenderCurrent>7</GenderCurrent>");
  CHECK(validate(fx.dir, broken).exit_code != 0);
}

TEST_CASE("cin: year edges, plans across the reference date, and an empty census",
          "[figures][cin][export]") {
  CensusFixture fx;
  const std::string g = fx.child("C-G", {{"ethnicity", std::string("WBRI")}});
  // Referred on 31 March 2024, the reference date itself: in the 2024 census, not in 2025's
  // (closed that day). Referred 1 April 2024: in 2025's only.
  fx.referral(g, "2024-03-31", "1A",
              {{"closure_date", std::string("2024-03-31")},
               {"closure_reason", std::string("RC8")},
               {"no_further_action", true}});
  auto y2024 = fx.census(2024);
  CHECK(y2024.children == 1);
  CHECK(has(y2024.xml, "<CINclosureDate>2024-03-31</CINclosureDate>"));
  CHECK(validate(fx.dir, y2024.xml).exit_code == 0);
  // No child in 2025's census: the schema needs at least one Child, so there is no valid file
  // and none is made (the command and the endpoint say so).
  auto y2025 = fx.census(2025);
  CHECK(y2025.children == 0);
  CHECK(y2025.xml.empty());
  // An authorisation's date is its UTC date (a manager authorising at 00:30 BST on 1 April
  // 2024 authorised on 31 March in UTC): it is then in the 2024 census.
  const std::string r = fx.referral(g, "2024-03-01", "1A");
  const std::string a = fx.create(RecordKind::assessment, g,
                                  {{"assessment_kind", std::string("single")},
                                   {"start_date", std::string("2024-03-01")},
                                   {"status", std::string("in_progress")},
                                   {"referral_id", r},
                                   {"factors", CodeList{"16A"}}});
  fx.set(fx.d1, RecordKind::assessment, a, g,
         {{"status", std::string("completed")},
          {"completed_at", std::string("2024-03-29T12:00:00Z")}});
  fx.set(fx.dm, RecordKind::assessment, a, g,
         {{"status", std::string("authorised")},
          {"authorised_at", std::string("2024-03-31T23:30:00Z")},
          {"authorised_by", fx.manager}});
  auto again = fx.census(2024);
  CHECK(has(again.xml,
            "<AssessmentAuthorisationDate>2024-03-31</AssessmentAuthorisationDate>\n"
            "          <FactorsIdentifiedAtAssessment>\n"
            "            <AssessmentFactors>16A</AssessmentFactors>"));
  CHECK(validate(fx.dir, again.xml).exit_code == 0);
  // Codes that reached the store past validation: a closure reason outside the census list
  // leaves its referral out; an unknown primary need is left out with a note; an unknown
  // factor leaves its assessment out.
  const std::string h = fx.child("C-H", {{"ethnicity", std::string("WBRI")}});
  const std::string closed = fx.referral(
      h, "2023-10-02", "4",
      {{"closure_date", std::string("2023-11-01")}, {"closure_reason", std::string("RC7")}});
  fx.corrupt(closed, "closure_reason", std::string("RC0"));
  const std::string open = fx.referral(h, "2023-12-01", "5D");
  fx.corrupt(open, "primary_need", std::string("N10"));
  const std::string odd = fx.create(RecordKind::assessment, h,
                                    {{"assessment_kind", std::string("single")},
                                     {"start_date", std::string("2023-12-02")},
                                     {"status", std::string("in_progress")},
                                     {"referral_id", open}});
  fx.corrupt(odd, "factors", CodeList{"25A"});
  // A plan still open in the year whose referral closed before it began is reported.
  const std::string old_ref = fx.referral(
      h, "2021-01-04", "1A",
      {{"closure_date", std::string("2021-06-01")}, {"closure_reason", std::string("RC7")}});
  const std::string stale_plan = fx.create(
      RecordKind::cp_plan, h,
      {{"start_date", std::string("2021-02-01")}, {"initial_category", std::string("NEG")}});
  auto coded = fx.census(2024);
  CHECK(validate(fx.dir, coded.xml).exit_code == 0);
  auto only = [&](const std::string& record_id) {
    auto e = about(coded, record_id);
    INFO(record_id);
    REQUIRE(e.size() == 1);
    return e.front();
  };
  CHECK(only(closed).outcome == cin::Outcome::episode_left_out);
  CHECK_THAT(only(closed).reason, Catch::StartsWith("ReasonForClosure: the referral closed on "
                                                    "2023-11-01 without a census reason"));
  CHECK(only(open).outcome == cin::Outcome::exported_with_note);
  CHECK(only(open).reason == "PrimaryNeedCode: 'N10' is not a census code and is left out");
  CHECK(only(odd).outcome == cin::Outcome::record_left_out);
  CHECK(only(stale_plan).outcome == cin::Outcome::record_left_out);
  CHECK_THAT(only(stale_plan).reason, Catch::Contains("closed on 2021-06-01"));
  CHECK(about(coded, old_ref).empty());
  CHECK_FALSE(has(coded.xml, "2023-10-02"));
  CHECK(has(coded.xml,
            "<CINreferralDate>2023-12-01</CINreferralDate>\n"
            "        <ReferralSource>5D</ReferralSource>\n"
            "        <ReferralNFA>false</ReferralNFA>\n"));
  // A year before 2000 and an unreadable export time are refused.
  CHECK(cin::export_census(*fx.store, 1999, "2024-05-01T09:00:00Z").status().code() ==
        Errc::invalid_argument);
  CHECK(cin::export_census(*fx.store, 2024, "yesterday").status().code() == Errc::invalid_argument);
}

TEST_CASE("cin: the admin command and the HTTP endpoints", "[figures][cin][export][http]") {
  CensusFixture fx;
  const auto k = build(fx);
  const std::string db = (fx.dir / "server.db").string();
  const auto xml_path = fx.dir / "out" / "cin-2024.xml";
  const auto report_path = fx.dir / "out" / "cin-2024-exceptions.csv";
  std::filesystem::create_directories(xml_path.parent_path());
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"admin", "--database", db});
    return run_binary(args, fx.dir);
  };
  Run done = run({"export", "cin", "--year", "2024", "--out", xml_path.string(), "--report",
                  report_path.string()});
  INFO(done.err);
  CHECK(done.exit_code == 0);
  CHECK(done.out ==
        "CIN census 2024 (2023-04-01 to 2024-03-31), LA 123: 3 children, 3 "
        "referrals, 8 exceptions; written to " +
            xml_path.string() + "\n");
  CHECK(validate(fx.dir, slurp(xml_path)).exit_code == 0);
  CHECK_THAT(slurp(report_path), Catch::Contains(",C-D,"));
  // Without --report the exceptions go to standard output.
  Run listed = run({"export", "cin", "--year", "2024", "--out", xml_path.string(), "--quiet"});
  CHECK(listed.exit_code == 0);
  CHECK_THAT(listed.out, Catch::Contains(k.d + "\tC-D\t" + k.d +
                                         "\tchild\tchild left out\tGenderCurrent: '7' is not a "
                                         "census gender code\n"));
  // Each case read is on record, by the console.
  server::AuditQuery q;
  q.case_id = k.d;
  q.event = "case_read";
  auto entries = fx.store->query_audit(q);
  REQUIRE(entries.ok());
  CHECK(std::count_if(entries->begin(), entries->end(), [](const server::AuditEvent& e) {
          return e.detail == "CIN census export 2024; by console";
        }) == 2);
  // Usage errors.
  CHECK(run({"export", "cin", "--out", xml_path.string()}).exit_code == 2);
  CHECK(run({"export", "cin", "--year", "2024"}).exit_code == 2);
  CHECK(run({"export", "cin", "--year", "24", "--out", xml_path.string()}).exit_code == 2);
  CHECK(run({"export", "ssda903", "--year", "2024", "--out", xml_path.string()}).exit_code == 2);
  CHECK(run({"export", "cin", "--year", "1999", "--out", xml_path.string()}).exit_code == 1);
  Run empty = run({"export", "cin", "--year", "2000", "--out", (fx.dir / "none.xml").string()});
  CHECK(empty.exit_code == 1);
  CHECK_THAT(empty.err, Catch::Contains("no child is in the census of 2000"));
  CHECK_FALSE(std::filesystem::exists(fx.dir / "none.xml"));

  // Over HTTP: service leads only.
  auto lead = fx.admin->create_worker("Lee", Role::service_lead, "");
  REQUIRE(lead.ok());
  server::AccessOptions cheap;
  cheap.pwhash_memlimit = 8192 * 1024;
  cheap.pwhash_opslimit = 1;
  REQUIRE(fx.admin->set_password(*lead, kPassword, cheap).ok());
  REQUIRE(fx.admin->set_password(fx.manager, kPassword, cheap).ok());
  ServerProcess server(fx.dir, {});
  REQUIRE_FALSE(server.exited());
  httplib::Client c("127.0.0.1", server.port());
  auto sign_in = [&](const std::string& worker) {
    return web_sign_in(c, worker, kPassword).headers();
  };
  const auto lead_h = sign_in(*lead);
  auto r = c.Get("/v1/exports/cin?year=2024", lead_h);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "application/xml; charset=utf-8");
  CHECK_THAT(r->get_header_value("Content-Disposition"),
             Catch::Contains("cin-census-2024-123.xml"));
  CHECK(validate(fx.dir, r->body).exit_code == 0);
  r = c.Get("/v1/exports/cin/report?year=2024", lead_h);
  REQUIRE(r);
  CHECK(r->status == 200);
  auto body = json::parse(r->body);
  CHECK(body["children"] == 3);
  CHECK(body["reference_date"] == "2024-03-31");
  CHECK(body["exceptions"].size() == 8);
  r = c.Get("/v1/exports/cin/report?year=2024&format=csv", lead_h);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK_THAT(r->body, Catch::StartsWith("case_id,la_child_id,"));
  auto status_of = [&](const std::string& path, const httplib::Headers& h) {
    auto res = c.Get(path, h);
    REQUIRE(res);
    return res->status;
  };
  CHECK(status_of("/v1/exports/cin?year=2024", {}) == 401);
  CHECK(status_of("/v1/exports/cin?year=2024", sign_in(fx.manager)) == 403);
  CHECK(status_of("/v1/exports/cin", lead_h) == 400);
  CHECK(status_of("/v1/exports/cin?year=20x4", lead_h) == 400);
  CHECK(status_of("/v1/exports/cin?year=2024&format=csv", lead_h) == 400);
  CHECK(status_of("/v1/exports/cin/report?year=2024&format=xml", lead_h) == 400);
  CHECK(status_of("/v1/exports/cin?year=1999", lead_h) == 400);
  CHECK(status_of("/v1/exports/cin?year=2000", lead_h) == 404);
  CHECK(server.stop() == 0);
}

}  // namespace fieldcase::test

namespace fieldcase::test {

TEST_CASE("cin: the demo authority's census validates, and what is left out is reported",
          "[figures][cin][export][demo]") {
  TempDir dir;
  auto opened = server::SqliteServerStore::open(dir / "server.db");
  REQUIRE(opened.ok());
  auto& store = **opened;
  server::demo::DemoOptions options;
  options.seed = 11;
  options.scale = 0.02;  // about 300 referrals a year
  options.years = 3;
  options.today = Date::from_ymd(2026, 11, 26).value();
  auto summary = server::demo::generate(store, options);
  INFO(summary.status().to_string());
  REQUIRE(summary.ok());

  // The last complete census year before the demo's today: April 2025 to March 2026.
  auto census = cin::export_census(store, 2026, "2026-11-26T09:00:00Z");
  INFO(census.status().to_string());
  REQUIRE(census.ok());
  CHECK(census->children > 50);
  CHECK(census->episodes >= census->children);
  Run lint = validate(dir, census->xml);
  INFO(lint.err.substr(0, 2000));
  CHECK(lint.exit_code == 0);
  // Every exception names its record and says why, in words.
  for (const auto& e : census->exceptions) {
    CHECK(!e.case_id.empty());
    CHECK(!e.record_id.empty());
    CHECK(e.reason.size() > 10);
  }
  // The exceptions report lists each one, one CSV line each after the header.
  const std::string csv = cin::exceptions_csv(*census);
  CHECK(static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n')) ==
        census->exceptions.size() + 1);
}

}  // namespace fieldcase::test
