#include "reports_api.hpp"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "error_mapping.hpp"
#include "web_api.hpp"

namespace fieldcase::server::detail {
namespace {

using nlohmann::json;
namespace fg = figures;

constexpr const char* kJson = "application/json";
constexpr const char* kCsv = "text/csv; charset=utf-8";
constexpr const char* kHtml = "text/html; charset=utf-8";

json optional_json(std::optional<double> v) { return v ? json(*v) : json(nullptr); }

json period_json(const fg::Period& p) {
  return {{"label", p.label}, {"first", p.first.to_string()}, {"last", p.last.to_string()}};
}

json unit_json(const reports::Unit& u) {
  return {{"level", std::string(fg::to_string(u.level))}, {"id", u.id}, {"name", u.name}};
}

// The Content-Security-Policy of the printable pages: no scripts, nothing loaded, and only the
// page's own inline stylesheet (by its SHA-256).
const std::string& page_policy() {
  static const std::string policy = [] {
    if (sodium_init() < 0) return std::string("default-src 'none'; frame-ancestors 'none'");
    const std::string_view css = reports::performance_stylesheet();
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(css.data()),
                       css.size());
    constexpr int kVariant = sodium_base64_VARIANT_ORIGINAL;
    std::string b64(sodium_base64_ENCODED_LEN(digest.size(), kVariant), '\0');
    sodium_bin2base64(b64.data(), b64.size(), digest.data(), digest.size(), kVariant);
    b64.resize(b64.find('\0'));
    return "default-src 'none'; style-src 'sha256-" + b64 +
           "'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
  }();
  return policy;
}

// What a report request asks for: unit, period, as-of day and format.
struct ReportParams {
  fg::Level level = fg::Level::authority;
  std::string id;
  fg::Period period;
  Date as_of = Date::max();
  bool csv = false;
};

// Parses ?level=&unit=&period=&as_of=&format= (`unit` as in the figures API); the period defaults
// to the financial year of `today`, and the as-of day to today. An invalid value is
// Errc::invalid_argument.
Result<ReportParams> report_params(const httplib::Request& req, Date today) {
  ReportParams p;
  auto unit = fg::parse_unit(req.get_param_value("level"), req.get_param_value("unit"));
  if (!unit.ok()) return unit.status();
  if (*unit) {
    p.level = (*unit)->level;
    p.id = (*unit)->id;
  }
  const std::string period = req.get_param_value("period");
  if (period.empty()) {
    p.period = fg::financial_year_of(today);
  } else {
    auto parsed = fg::parse_period(period);
    if (!parsed.ok()) return parsed.status();
    p.period = *parsed;
  }
  p.as_of = today;
  if (const std::string as_of = req.get_param_value("as_of"); !as_of.empty()) {
    auto d = fg::parse_day(as_of, "as_of");
    if (!d.ok()) return d.status();
    p.as_of = *d;
  }
  const std::string format = req.get_param_value("format");
  if (!format.empty() && format != "json" && format != "csv") {
    return Status(Errc::invalid_argument, "format is json or csv");
  }
  p.csv = format == "csv";
  return p;
}

std::string query_text(const httplib::Request& req) {
  std::string what = req.path;
  const char* sep = "?";
  for (const char* name : {"level", "unit", "period", "as_of", "year"}) {
    if (req.has_param(name)) {
      what += sep + std::string(name) + "=" + req.get_param_value(name);
      sep = "&";
    }
  }
  return what;
}

void attachment(httplib::Response& res, const std::string& name) {
  res.set_header("Content-Disposition", "attachment; filename=\"" + name + "\"");
}

class ReportsApi {
 public:
  ReportsApi(AccessService& access, ReportsService& reports,
             std::function<void(const std::string&)> log)
      : access_(access), reports_(reports), log_(std::move(log)) {}

  void performance(const httplib::Request& req, httplib::Response& res) {
    auto session = web_session(access_, req, res, log_);
    if (!session) return;
    auto p = report_params(req, reports_.today());
    if (!p.ok()) return reply_error(res, p.status(), log_);
    auto report = reports_.performance(session->worker, p->level, p->id, p->period, p->as_of);
    if (!report.ok()) return reply_error(res, report.status(), log_);
    if (p->csv) {
      attachment(res, "performance-" + report->period.label + ".csv");
      res.set_content(reports::performance_csv(*report), kCsv);
      return;
    }
    json rows = json::array();
    for (const auto& row : report->rows) {
      const auto& d = *row.definition;
      const auto& c = row.current;
      rows.push_back({{"reference", std::string(d.reference)},
                      {"indicator", std::string(d.id)},
                      {"title", std::string(d.title)},
                      {"owner", std::string(d.owner)},
                      {"frequency", std::string(fg::to_string(d.frequency))},
                      {"measure", reports::measure_words(d)},
                      {"unit", std::string(d.unit)},
                      {"direction", std::string(fg::to_string(d.direction))},
                      {"baseline", optional_json(d.baseline)},
                      {"previous_year", optional_json(row.previous.value)},
                      {"target", optional_json(d.target)},
                      {"value", optional_json(c.value)},
                      {"numerator", c.numerator},
                      {"denominator", c.denominator},
                      {"median", optional_json(c.median)},
                      {"p90", optional_json(c.p90)},
                      {"data_quality",
                       {{"note", c.quality.note},
                        {"records", c.quality.records},
                        {"flagged", c.quality.flagged},
                        {"excluded", c.quality.excluded}}},
                      {"rag", std::string(fg::to_string(c.rag))}});
    }
    res.set_content(json{{"unit", unit_json(report->unit)},
                         {"period", period_json(report->period)},
                         {"previous_year", period_json(report->previous_year)},
                         {"as_of", report->as_of.to_string()},
                         {"rows", rows}}
                        .dump(),
                    kJson);
  }

  // The printable page: the same report as HTML, no scripts.
  void performance_page(const httplib::Request& req, httplib::Response& res) {
    res.set_header("Content-Security-Policy", page_policy());
    auto session = web_session(access_, req, res, log_);
    if (!session) return page_error(res, "Sign in on the dashboard first, then open this page.");
    auto p = report_params(req, reports_.today());
    if (p.ok() && p->csv) p = Status(Errc::invalid_argument, "the page has no format parameter");
    if (!p.ok()) {
      reply_error(res, p.status(), log_);
      return page_error(res, p.status().message());
    }
    auto report = reports_.performance(session->worker, p->level, p->id, p->period, p->as_of);
    if (!report.ok()) {
      reply_error(res, report.status(), log_);
      return page_error(res, res.status >= 500 ? "The report could not be produced; try again."
                                               : report.status().message());
    }
    auto name = reports_.authority_name();
    if (!name.ok()) {
      reply_error(res, name.status(), log_);
      return page_error(res, "The report could not be produced; try again.");
    }
    res.set_content(reports::performance_html(*report, *name), kHtml);
  }

  void data_quality(const httplib::Request& req, httplib::Response& res) {
    auto session = web_session(access_, req, res, log_);
    if (!session) return;
    auto p = report_params(req, reports_.today());
    if (!p.ok()) return reply_error(res, p.status(), log_);
    auto list = reports_.data_quality(session->worker, p->level, p->id, p->period, p->as_of,
                                      query_text(req));
    if (!list.ok()) return reply_error(res, list.status(), log_);
    if (p->csv) {
      attachment(res, "data-quality-" + list->period.label + ".csv");
      res.set_content(reports::data_quality_csv(*list), kCsv);
      return;
    }
    json records = json::array();
    for (const auto& r : list->records) {
      records.push_back({{"team_id", r.team_id},
                         {"team", r.team_name},
                         {"worker_id", r.worker_id},
                         {"worker", r.worker_name},
                         {"case_id", r.case_id},
                         {"record_id", r.record_id},
                         {"record_kind", std::string(to_string(r.kind))},
                         {"start", r.start},
                         {"end", r.end},
                         {"flags", r.flags},
                         {"reasons", r.reasons},
                         {"indicators", r.indicators},
                         {"left_out", r.left_out}});
    }
    res.set_content(json{{"unit", unit_json(list->unit)},
                         {"period", period_json(list->period)},
                         {"as_of", list->as_of.to_string()},
                         {"records", records}}
                        .dump(),
                    kJson);
  }

  // The census file (application/xml), or its exceptions report (JSON or CSV).
  void cin_census(const httplib::Request& req, httplib::Response& res) { census(req, res, false); }
  void cin_report(const httplib::Request& req, httplib::Response& res) { census(req, res, true); }

 private:
  void census(const httplib::Request& req, httplib::Response& res, bool report) {
    auto session = web_session(access_, req, res, log_);
    if (!session) return;
    const std::string year = req.get_param_value("year");
    if (year.size() != 4 || year.find_first_not_of("0123456789") != std::string::npos) {
      return reply_error(res,
                      Status(Errc::invalid_argument,
                             "year is the census year YYYY (the year of the 31 March it ends on)"),
                      log_);
    }
    const std::string format = req.get_param_value("format");
    if (!format.empty() && (!report || (format != "json" && format != "csv"))) {
      return reply_error(res,
                      Status(Errc::invalid_argument,
                             report ? "format is json or csv" : "the census file has no format"),
                      log_);
    }
    auto c = reports_.cin_census(session->worker, std::stoi(year));
    if (!c.ok()) return reply_error(res, c.status(), log_);
    const std::string stem = "cin-census-" + year + "-" + c->la_code;
    if (!report) {
      if (c->xml.empty()) {
        return reply_error(res,
                        Status(Errc::not_found, "no child is in the census of " + year +
                                                    ", so there is no file (see the report)"),
                        log_);
      }
      attachment(res, stem + ".xml");
      res.set_content(c->xml, "application/xml; charset=utf-8");
      return;
    }
    if (format == "csv") {
      attachment(res, stem + "-exceptions.csv");
      res.set_content(cin::exceptions_csv(*c), kCsv);
      return;
    }
    json exceptions = json::array();
    for (const auto& e : c->exceptions) {
      exceptions.push_back({{"case_id", e.case_id},
                            {"la_child_id", e.la_child_id},
                            {"record_id", e.record_id},
                            {"record_kind", std::string(to_string(e.kind))},
                            {"outcome", std::string(cin::to_string(e.outcome))},
                            {"reason", e.reason}});
    }
    res.set_content(json{{"year", c->year.year},
                         {"first", c->year.first.to_string()},
                         {"reference_date", c->year.last.to_string()},
                         {"la_code", c->la_code},
                         {"children", c->children},
                         {"episodes", c->episodes},
                         {"exceptions", exceptions}}
                        .dump(),
                    kJson);
  }

  // Replaces an error's JSON body with a short page for people (the status stays).
  static void page_error(httplib::Response& res, const std::string& message) {
    const std::string escaped = reports::html_escape(message);
    res.set_content(
        "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\"><title>Performance "
        "report</title></head><body><p>" +
            escaped + "</p></body></html>\n",
        kHtml);
  }

  AccessService& access_;
  ReportsService& reports_;
  std::function<void(const std::string&)> log_;
};

}  // namespace

void register_reports_api(httplib::Server& svr, AccessService& access, ReportsService& reports,
                          std::function<void(const std::string&)> log) {
  auto api = std::make_shared<ReportsApi>(access, reports, std::move(log));
  using H = void (ReportsApi::*)(const httplib::Request&, httplib::Response&);
  auto bind = [api](H h) {
    return [api, h](const httplib::Request& req, httplib::Response& res) { ((*api).*h)(req, res); };
  };
  svr.Get("/v1/reports/performance", bind(&ReportsApi::performance));
  svr.Get("/reports/performance", bind(&ReportsApi::performance_page));
  svr.Get("/v1/data-quality", bind(&ReportsApi::data_quality));
  svr.Get("/v1/exports/cin", bind(&ReportsApi::cin_census));
  svr.Get("/v1/exports/cin/report", bind(&ReportsApi::cin_report));
}

}  // namespace fieldcase::server::detail
