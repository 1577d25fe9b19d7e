// The Children in Need census export (docs/exports.md): records to the 2024 schema's XML.
#include "fieldcase/server/cin_census.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/reports.hpp"
#include "fieldcase/version.hpp"

namespace fieldcase::server::cin {

namespace {

std::string text(const StoredRecord& r, std::string_view field) {
  auto it = r.fields.find(field);
  if (it == r.fields.end()) return {};
  const auto* s = std::get_if<std::string>(&it->second.value);
  return s ? *s : std::string();
}

CodeList codes(const StoredRecord& r, std::string_view field) {
  auto it = r.fields.find(field);
  if (it == r.fields.end()) return {};
  const auto* list = std::get_if<CodeList>(&it->second.value);
  return list ? *list : CodeList{};
}

bool flag(const StoredRecord& r, std::string_view field) {
  auto it = r.fields.find(field);
  if (it == r.fields.end()) return false;
  const auto* b = std::get_if<bool>(&it->second.value);
  return b != nullptr && *b;
}

// A field that holds a date: absent (nullopt, ok), or a readable date, or unreadable.
struct DateField {
  bool present = false;
  std::optional<Date> date;  // set when present and readable
  bool bad() const { return present && !date; }
};
DateField date_field(const StoredRecord& r, std::string_view field) {
  DateField d;
  const std::string v = text(r, field);
  if (v.empty()) return d;
  d.present = true;
  // Times (an authorisation) are read at their UTC date.
  auto parsed = Date::parse(v.size() > 10 && v[10] == 'T' ? v.substr(0, 10) : v);
  if (parsed.ok()) d.date = *parsed;
  return d;
}

// Whether `value` is in the code list the record schema gives `field` (the census's lists).
bool is_code(RecordKind kind, std::string_view field, std::string_view value) {
  const FieldSpec* spec = find_field(kind_spec(kind), field);
  if (spec == nullptr) return false;
  return std::find(spec->allowed.begin(), spec->allowed.end(), value) != spec->allowed.end();
}

// XML character data; nullopt when the text holds a character XML 1.0 cannot carry.
std::optional<std::string> xml_text(std::string_view s) {
  if (!is_valid_utf8(s)) return std::nullopt;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') return std::nullopt;
  }
  return reports::html_escape(s);
}

// An indented element tree written as it is built.
class Xml {
 public:
  explicit Xml(int depth) : depth_(depth) {}
  void open(std::string_view name) {
    indent();
    out_ += "<" + std::string(name) + ">\n";
    ++depth_;
  }
  void close(std::string_view name) {
    --depth_;
    indent();
    out_ += "</" + std::string(name) + ">\n";
  }
  // `value` must already be XML-safe (dates, codes, xml_text()).
  void leaf(std::string_view name, std::string_view value) {
    indent();
    out_ += "<" + std::string(name) + ">" + std::string(value) + "</" + std::string(name) + ">\n";
  }
  // Elements built by another Xml at the depth inside this one's open element.
  void raw(const std::string& elements) { out_ += elements; }
  const std::string& str() const { return out_; }

 private:
  void indent() { out_.append(static_cast<std::size_t>(depth_) * 2, ' '); }
  int depth_;
  std::string out_;
};

// A referral of the child: a CIN episode from its date to its closure (open when none).
struct Episode {
  const StoredRecord* referral = nullptr;
  Date start;
  std::optional<Date> end;
  bool in_year = false;
  std::vector<const StoredRecord*> assessments, cin_plans, s47s, cp_plans;

  bool contains(Date d) const { return d >= start && (!end || d <= *end); }
};

bool overlaps(Date start, std::optional<Date> end, const CensusYear& y) {
  return start <= y.last && (!end || *end >= y.first);
}

// Exports one child's case, appending to `xml` when the child is in the file.
class ChildExporter {
 public:
  ChildExporter(const CensusYear& year, const std::map<std::string, std::string>& authorised,
                std::vector<Exception>& exceptions)
      : year_(year), authorised_(authorised), exceptions_(exceptions) {}

  // Returns the number of episodes written (0: the child is not in the file); `read` tells
  // whether the case concerns the census at all.
  int run(const std::string& case_id, const std::vector<StoredRecord>& records, Xml& xml,
          bool& read) {
    case_id_ = case_id;
    const StoredRecord* child = nullptr;
    std::vector<Episode> episodes;
    for (const auto& r : records) {
      if (r.deleted) continue;
      if (r.kind == RecordKind::child && r.id == case_id) child = &r;
      if (r.kind != RecordKind::referral) continue;
      const DateField date = date_field(r, "referral_date");
      const DateField closed = date_field(r, "closure_date");
      if (!date.date || closed.bad()) {
        // Whether it falls in the year cannot be known: say so.
        note(r, Outcome::episode_left_out,
             !date.date ? "CINreferralDate: the referral date is missing or not a date"
                        : "CINclosureDate: the closure date is not a date");
        continue;
      }
      Episode e;
      e.referral = &r;
      e.start = *date.date;
      e.end = closed.date;
      e.in_year = overlaps(e.start, e.end, year_);
      episodes.push_back(e);
    }
    const bool any_in_year =
        std::any_of(episodes.begin(), episodes.end(), [](const Episode& e) { return e.in_year; });
    read = any_in_year || had_exceptions_;
    if (!any_in_year) return 0;
    if (child == nullptr) {
      child_out(case_id,
                "the case has referrals in the year but no child record (it may not "
                "have been synced yet)");
      return 0;
    }
    child_ = child;
    la_child_id_ = text(*child, "local_id");
    for (auto& e : exceptions_) {
      if (e.case_id == case_id_ && e.la_child_id.empty()) e.la_child_id = la_child_id_;
    }
    std::sort(episodes.begin(), episodes.end(), [](const Episode& a, const Episode& b) {
      return std::tie(a.start, a.referral->id) < std::tie(b.start, b.referral->id);
    });
    attach(records, episodes);

    Xml body(3);
    if (!identifiers(body) || !characteristics(body)) return 0;
    int written = 0;
    for (const auto& e : episodes) {
      if (!e.in_year) continue;
      if (episode(e, body)) ++written;
    }
    if (written == 0) {
      child_out(child->id,
                "no referral of the year could be exported (see the episodes' "
                "exceptions)");
      return 0;
    }
    xml.open("Child");
    xml.raw(body.str());  // built one level deeper than <Child>
    xml.close("Child");
    return written;
  }

 private:
  void note(const StoredRecord& r, Outcome outcome, std::string reason) {
    had_exceptions_ = true;
    exceptions_.push_back({case_id_, la_child_id_, r.id, r.kind, outcome, std::move(reason)});
  }
  void child_out(const std::string& record_id, std::string reason) {
    had_exceptions_ = true;
    exceptions_.push_back({case_id_, la_child_id_, record_id, RecordKind::child,
                           Outcome::child_left_out, std::move(reason)});
  }

  // Each assessment, CIN plan, section 47 enquiry and plan goes to one episode: an assessment
  // to the referral it names; otherwise the latest-starting episode whose dates contain its
  // start. Records open in the year that fall in no episode are reported.
  void attach(const std::vector<StoredRecord>& records, std::vector<Episode>& episodes) {
    for (const auto& r : records) {
      if (r.deleted) continue;
      const bool kind_ok = r.kind == RecordKind::assessment || r.kind == RecordKind::cin_plan ||
                           r.kind == RecordKind::s47_enquiry || r.kind == RecordKind::cp_plan;
      if (!kind_ok) continue;
      const DateField start = date_field(r, "start_date");
      Episode* home = nullptr;
      if (r.kind == RecordKind::assessment) {
        const std::string ref = text(r, "referral_id");
        for (auto& e : episodes) {
          if (!ref.empty() && e.referral->id == ref) home = &e;
        }
      }
      if (home == nullptr && start.date) {
        for (auto& e : episodes) {
          if (e.contains(*start.date) && (home == nullptr || e.start >= home->start)) home = &e;
        }
      }
      if (home == nullptr) {
        if (!start.date) {
          note(r, Outcome::record_left_out, "the start date is missing or not a date");
        } else if (open_in_year(r, *start.date)) {
          note(r, Outcome::record_left_out,
               "it started on " + start.date->to_string() +
                   ", outside every referral of the child: the census holds it only within a "
                   "CIN episode. Link it to its referral or correct the dates.");
        }
        continue;
      }
      if (!home->in_year) {
        // Its episode ended before the year: an open record there is a contradiction to fix.
        if (start.date && open_in_year(r, *start.date)) {
          note(r, Outcome::record_left_out,
               "it was still open in the year, but its referral (CIN episode) closed on " +
                   home->end->to_string() +
                   ", before the year began. Close the record or correct the referral.");
        }
        continue;
      }
      switch (r.kind) {
        case RecordKind::assessment:
          home->assessments.push_back(&r);
          break;
        case RecordKind::cin_plan:
          home->cin_plans.push_back(&r);
          break;
        case RecordKind::s47_enquiry:
          home->s47s.push_back(&r);
          break;
        default:
          home->cp_plans.push_back(&r);
          break;
      }
    }
    plans_ = {};
    for (const auto& r : records) {
      if (r.deleted || r.kind != RecordKind::cp_plan) continue;
      if (auto s = date_field(r, "start_date").date) plans_.push_back(*s);
    }
  }

  // Whether a record was open at some point of the census year.
  bool open_in_year(const StoredRecord& r, Date start) const {
    switch (r.kind) {
      case RecordKind::assessment: {
        auto done = authorised_date(r);
        return overlaps(start, done, year_);
      }
      case RecordKind::s47_enquiry: {
        const DateField icpc = date_field(r, "initial_conference_date");
        if (icpc.date) return overlaps(start, icpc.date, year_);
        if (flag(r, "conference_not_required")) return start >= year_.first && start <= year_.last;
        return overlaps(start, std::nullopt, year_);
      }
      default:
        return overlaps(start, date_field(r, "end_date").date, year_);
    }
  }

  std::optional<Date> authorised_date(const StoredRecord& r) const {
    std::string value = text(r, "authorised_at");
    if (auto it = authorised_.find(r.id); it != authorised_.end() && !it->second.empty()) {
      value = it->second;  // the server's offset-corrected time, as the figures read it
    }
    if (value.size() < 10) return std::nullopt;
    auto d = Date::parse(value.substr(0, 10));
    return d.ok() ? std::optional<Date>(*d) : std::nullopt;
  }

  bool identifiers(Xml& x) {
    const StoredRecord& c = *child_;
    auto id = xml_text(la_child_id_);
    if (la_child_id_.empty() || !id) {
      child_out(c.id,
                "LAchildID: the child's local id is missing or holds characters the "
                "census file cannot carry");
      return false;
    }
    const std::string gender = text(c, "gender");
    if (!is_code(RecordKind::child, "gender", gender)) {
      child_out(c.id, "GenderCurrent: '" + gender + "' is not a census gender code");
      return false;
    }
    const DateField dob = date_field(c, "date_of_birth");
    const DateField expected = date_field(c, "expected_date_of_birth");
    if (dob.bad() || expected.bad() || (!dob.date && !expected.date)) {
      child_out(c.id,
                "PersonBirthDate: the date of birth (or expected date of birth) is "
                "missing or not a date");
      return false;
    }
    x.open("ChildIdentifiers");
    x.leaf("LAchildID", *id);
    if (dob.date) {
      x.leaf("PersonBirthDate", dob.date->to_string());
    } else {
      x.leaf("ExpectedPersonBirthDate", expected.date->to_string());
    }
    x.leaf("GenderCurrent", gender);
    x.close("ChildIdentifiers");
    return true;
  }

  bool characteristics(Xml& x) {
    const StoredRecord& c = *child_;
    std::string ethnicity = text(c, "ethnicity");
    if (!ethnicity.empty() && !is_code(RecordKind::child, "ethnicity", ethnicity)) {
      child_out(c.id, "Ethnicity: '" + ethnicity + "' is not a census ethnicity code");
      return false;
    }
    CodeList disabilities = codes(c, "disabilities");
    for (const auto& d : disabilities) {
      if (!is_code(RecordKind::child, "disabilities", d)) {
        child_out(c.id, "Disability: '" + d + "' is not a census disability code");
        return false;
      }
    }
    if (ethnicity.empty()) {
      ethnicity = "NOBT";
      note(c, Outcome::exported_with_note,
           "Ethnicity: not recorded, so written as NOBT (information not yet obtained), which "
           "the census requires in its place. Record the child's ethnicity.");
    }
    if (disabilities.size() > 1 &&
        std::find(disabilities.begin(), disabilities.end(), "NONE") != disabilities.end()) {
      std::erase(disabilities, "NONE");
      note(c, Outcome::exported_with_note,
           "Disability: NONE (no disability) is recorded alongside disabilities; NONE is left "
           "out. Correct the child's disabilities.");
    }
    x.open("ChildCharacteristics");
    x.leaf("Ethnicity", ethnicity);
    if (!disabilities.empty()) {
      x.open("Disabilities");
      for (const auto& d : disabilities) x.leaf("Disability", d);
      x.close("Disabilities");
    }
    x.close("ChildCharacteristics");
    return true;
  }

  // One CINdetails; false (with the exception noted) when the episode cannot be written.
  bool episode(const Episode& e, Xml& out) {
    const StoredRecord& r = *e.referral;
    const std::string source = text(r, "source");
    if (!is_code(RecordKind::referral, "source", source)) {
      note(r, Outcome::episode_left_out,
           "ReferralSource: '" + source + "' is not a census referral source code");
      return false;
    }
    const bool closed = e.end && *e.end <= year_.last;
    const std::string reason = text(r, "closure_reason");
    if (closed && !is_code(RecordKind::referral, "closure_reason", reason)) {
      note(r, Outcome::episode_left_out,
           "ReasonForClosure: the referral closed on " + e.end->to_string() +
               " without a census reason for closure ('" + reason + "')");
      return false;
    }
    std::string need = text(r, "primary_need");
    if (!need.empty() && !is_code(RecordKind::referral, "primary_need", need)) {
      note(r, Outcome::exported_with_note,
           "PrimaryNeedCode: '" + need + "' is not a census code and is left out");
      need.clear();
    }
    Xml x(4);
    x.leaf("CINreferralDate", e.start.to_string());
    x.leaf("ReferralSource", source);
    if (!need.empty()) x.leaf("PrimaryNeedCode", need);
    if (closed) {
      x.leaf("CINclosureDate", e.end->to_string());
      x.leaf("ReasonForClosure", reason);
    }
    // The episode's initial conference: the earliest held by the reference date.
    std::optional<Date> first_icpc;
    Xml s47(4);
    for (const auto* s : e.s47s) {
      if (auto held = section47(*s, s47); held && (!first_icpc || *held < *first_icpc)) {
        first_icpc = held;
      }
    }
    if (first_icpc) x.leaf("DateOfInitialCPC", first_icpc->to_string());
    for (const auto* a : e.assessments) assessment(*a, x);
    for (const auto* p : e.cin_plans) cin_plan(*p, x);
    x.raw(s47.str());
    x.leaf("ReferralNFA", flag(r, "no_further_action") ? "true" : "false");
    for (const auto* p : e.cp_plans) cp_plan(*p, x);
    out.open("CINdetails");
    out.raw(x.str());
    out.close("CINdetails");
    return true;
  }

  void assessment(const StoredRecord& a, Xml& x) {
    const DateField start = date_field(a, "start_date");
    if (!start.date) {
      note(a, Outcome::record_left_out,
           "AssessmentActualStartDate: the start date is missing or not a date");
      return;
    }
    const auto authorised = authorised_date(a);
    if (!overlaps(*start.date, authorised, year_)) return;
    CodeList factors = codes(a, "factors");
    for (const auto& f : factors) {
      if (!is_code(RecordKind::assessment, "factors", f)) {
        note(a, Outcome::record_left_out,
             "FactorsIdentifiedAtAssessment: '" + f + "' is not a census factor code");
        return;
      }
    }
    if (factors.size() > 1 && std::find(factors.begin(), factors.end(), "21") != factors.end()) {
      std::erase(factors, "21");
      note(a, Outcome::exported_with_note,
           "FactorsIdentifiedAtAssessment: 21 (no factors identified) is recorded alongside "
           "other factors; 21 is left out. Correct the assessment's factors.");
    }
    const bool authorised_in_year = authorised && *authorised <= year_.last;
    x.open("Assessments");
    x.leaf("AssessmentActualStartDate", start.date->to_string());
    if (authorised_in_year) {
      x.leaf("AssessmentAuthorisationDate", authorised->to_string());
      // Factors are those identified at the assessment's end (its authorisation).
      if (!factors.empty()) {
        x.open("FactorsIdentifiedAtAssessment");
        for (const auto& f : factors) x.leaf("AssessmentFactors", f);
        x.close("FactorsIdentifiedAtAssessment");
      }
    }
    x.close("Assessments");
  }

  void cin_plan(const StoredRecord& p, Xml& x) {
    const DateField start = date_field(p, "start_date");
    const DateField end = date_field(p, "end_date");
    if (!start.date || end.bad()) {
      note(p, Outcome::record_left_out, "CINPlanStartDate or CINPlanEndDate is not a date");
      return;
    }
    if (!overlaps(*start.date, end.date, year_)) return;
    x.open("CINPlanDates");
    x.leaf("CINPlanStartDate", start.date->to_string());
    if (end.date && *end.date <= year_.last) x.leaf("CINPlanEndDate", end.date->to_string());
    x.close("CINPlanDates");
  }

  // Writes the enquiry; returns its initial conference date when held by the reference date.
  std::optional<Date> section47(const StoredRecord& s, Xml& x) {
    const DateField start = date_field(s, "start_date");
    const DateField target = date_field(s, "initial_conference_target");
    const DateField held = date_field(s, "initial_conference_date");
    if (!start.date || target.bad() || held.bad()) {
      note(s, Outcome::record_left_out,
           "S47ActualStartDate, InitialCPCtarget or DateOfInitialCPC is not a date");
      return std::nullopt;
    }
    const bool not_required = flag(s, "conference_not_required");
    if (not_required && held.date) {
      note(s, Outcome::record_left_out,
           "ICPCnotRequired: the enquiry says no conference was required, yet a conference "
           "date is recorded (" +
               held.date->to_string() + "). Correct one of them.");
      return std::nullopt;
    }
    if (!open_in_year(s, *start.date)) return std::nullopt;
    x.open("Section47");
    x.leaf("S47ActualStartDate", start.date->to_string());
    if (target.date) x.leaf("InitialCPCtarget", target.date->to_string());
    const bool held_in_year = held.date && *held.date <= year_.last;
    if (held_in_year) x.leaf("DateOfInitialCPC", held.date->to_string());
    x.leaf("ICPCnotRequired", not_required ? "true" : "false");
    x.close("Section47");
    return held_in_year ? held.date : std::nullopt;
  }

  void cp_plan(const StoredRecord& p, Xml& x) {
    const DateField start = date_field(p, "start_date");
    const DateField end = date_field(p, "end_date");
    if (!start.date || end.bad()) {
      note(p, Outcome::record_left_out, "CPPstartDate or CPPendDate is not a date");
      return;
    }
    if (!overlaps(*start.date, end.date, year_)) return;
    const std::string initial = text(p, "initial_category");
    std::string latest = text(p, "latest_category");
    if (!is_code(RecordKind::cp_plan, "initial_category", initial)) {
      note(p, Outcome::record_left_out,
           "InitialCategoryOfAbuse: '" + initial + "' is not a census category of abuse");
      return;
    }
    if (latest.empty()) latest = initial;  // the category has not changed since the start
    if (!is_code(RecordKind::cp_plan, "latest_category", latest)) {
      note(p, Outcome::record_left_out,
           "LatestCategoryOfAbuse: '" + latest + "' is not a census category of abuse");
      return;
    }
    const auto previous =
        std::count_if(plans_.begin(), plans_.end(), [&](Date s) { return s < *start.date; });
    if (previous < 1) {
      note(p, Outcome::record_left_out,
           "NumberOfPreviousCPP: the child had no earlier plan, and the 2024 schema accepts only "
           "a positive number here, so the plan cannot be written without misstating it");
      return;
    }
    const Date until = end.date && *end.date < year_.last ? *end.date : year_.last;
    std::vector<Date> reviews;
    for (const auto& text_date : codes(p, "review_dates")) {
      auto d = Date::parse(text_date);
      if (!d.ok() || *d < *start.date) {
        note(p, Outcome::exported_with_note,
             "CPPreviewDate: the review date " + text_date +
                 " is before the plan started and is left out. Correct the review dates.");
        continue;
      }
      if (*d >= year_.first && *d <= until) reviews.push_back(*d);
    }
    std::sort(reviews.begin(), reviews.end());
    x.open("ChildProtectionPlans");
    x.leaf("CPPstartDate", start.date->to_string());
    if (end.date && *end.date <= year_.last) x.leaf("CPPendDate", end.date->to_string());
    x.leaf("InitialCategoryOfAbuse", initial);
    x.leaf("LatestCategoryOfAbuse", latest);
    x.leaf("NumberOfPreviousCPP", std::to_string(previous));
    if (!reviews.empty()) {
      x.open("Reviews");
      for (Date d : reviews) x.leaf("CPPreviewDate", d.to_string());
      x.close("Reviews");
    }
    x.close("ChildProtectionPlans");
  }

  const CensusYear& year_;
  const std::map<std::string, std::string>& authorised_;
  std::vector<Exception>& exceptions_;
  std::string case_id_;
  std::string la_child_id_;
  const StoredRecord* child_ = nullptr;
  std::vector<Date> plans_;  // start dates of every plan of the child
  bool had_exceptions_ = false;
};

}  // namespace

std::string_view to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::child_left_out:
      return "child left out";
    case Outcome::episode_left_out:
      return "referral left out";
    case Outcome::record_left_out:
      return "record left out";
    case Outcome::exported_with_note:
      return "exported with a note";
  }
  return "record left out";
}

Result<CensusYear> census_year(int year) {
  if (year < 2000 || year > 9998) {
    return Status(Errc::invalid_argument,
                  "a census year is a year from 2000, the year of the 31 March it ends on");
  }
  CensusYear y;
  y.year = year;
  y.first = Date::from_ymd(year - 1, 4, 1).value();
  y.last = Date::from_ymd(year, 3, 31).value();
  return y;
}

Result<CensusExport> export_census(ServerStore& store, int year, std::string_view generated_at) {
  auto y = census_year(year);
  if (!y.ok()) return y.status();
  auto authority = store.find_authority();
  if (!authority.ok()) return authority.status();
  if (!*authority) {
    return Status(Errc::not_found,
                  "create the authority first: its LA code is the census header's LEA");
  }
  CensusExport out;
  out.year = *y;
  out.la_code = (*authority)->la_code;
  if (!parse_iso_datetime(generated_at)) {
    return Status(Errc::invalid_argument, "the export time must be an ISO date and time");
  }
  // Authorisation times as the figures read them: corrected by the device's clock offset.
  std::map<std::string, std::string> authorised;
  auto facts = store.figure_facts("authorisation_delay");
  if (!facts.ok()) return facts.status();
  for (const auto& f : *facts) authorised.emplace(f.record_id, f.end);

  auto ids = store.case_ids();
  if (!ids.ok()) return ids.status();
  // Children in LAchildID order (then case id), as the file lists them.
  std::vector<std::tuple<std::string, std::string, std::string>> children;  // id, case, xml
  for (const auto& case_id : *ids) {
    auto records = store.case_records(case_id);
    if (!records.ok()) return records.status();
    ChildExporter exporter(out.year, authorised, out.exceptions);
    Xml child(2);
    bool read = false;
    const int episodes = exporter.run(case_id, *records, child, read);
    if (read) out.cases_read.push_back(case_id);
    if (episodes == 0) continue;
    out.episodes += episodes;
    std::string la_child_id;
    for (const auto& r : *records) {
      if (r.kind == RecordKind::child && r.id == case_id) la_child_id = text(r, "local_id");
    }
    children.emplace_back(la_child_id, case_id, child.str());
  }
  std::sort(children.begin(), children.end());
  out.children = static_cast<std::int64_t>(children.size());

  Xml x(0);
  x.open("Message");
  x.open("Header");
  x.open("CollectionDetails");
  x.leaf("Collection", "CIN");
  x.leaf("Year", std::to_string(out.year.year));
  x.leaf("ReferenceDate", out.year.last.to_string());
  x.close("CollectionDetails");
  x.open("Source");
  x.leaf("SourceLevel", "L");
  x.leaf("LEA", out.la_code);
  x.leaf("SoftwareCode", "fieldcase");
  x.leaf("Release", *xml_text(version()));
  x.leaf("DateTime", std::string(generated_at));
  x.close("Source");
  x.close("Header");
  x.open("Children");
  for (const auto& [id, case_id, xml] : children) x.raw(xml);
  x.close("Children");
  x.close("Message");
  if (!children.empty()) out.xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + x.str();
  std::stable_sort(out.exceptions.begin(), out.exceptions.end(),
                   [](const Exception& a, const Exception& b) {
                     return std::tie(a.case_id, a.record_id) < std::tie(b.case_id, b.record_id);
                   });
  return out;
}

std::string exceptions_csv(const CensusExport& census) {
  std::string out = "case_id,la_child_id,record_id,record_kind,outcome,reason\r\n";
  for (const auto& e : census.exceptions) {
    out += reports::csv_cell(e.case_id) + "," + reports::csv_cell(e.la_child_id) + "," +
           reports::csv_cell(e.record_id) + "," + reports::csv_cell(to_string(e.kind)) + "," +
           reports::csv_cell(to_string(e.outcome)) + "," + reports::csv_cell(e.reason) + "\r\n";
  }
  return out;
}

}  // namespace fieldcase::server::cin
