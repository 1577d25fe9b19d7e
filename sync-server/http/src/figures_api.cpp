#include "figures_api.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

#include "fieldcase/server/reports.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "error_mapping.hpp"
#include "web_api.hpp"

namespace fieldcase::server::detail {
namespace {

namespace fg = figures;
using nlohmann::json;

constexpr const char* kJson = "application/json";

void error(httplib::Response& res, int status, std::string_view code, std::string_view message) {
  res.status = status;
  res.set_content(sync::encode_error(code, message), kJson);
}

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string number_text(const std::optional<double>& v) { return v ? number_text(*v) : ""; }

json unit_json(const FiguresUnit& u) {
  json j{{"level", std::string(fg::to_string(u.level))}, {"id", u.id}, {"name", u.name}};
  if (!u.parent_id.empty()) j["parent_id"] = u.parent_id;
  return j;
}

json quality_json(const fg::DataQuality& q) {
  json by_flag = json::object();
  for (const auto& [flag, n] : q.by_flag) by_flag[flag] = n;
  return {{"records", q.records},
          {"flagged", q.flagged},
          {"excluded", q.excluded},
          {"by_flag", by_flag},
          {"note", q.note}};
}

// The headline numbers of a figure (no records, no definition).
json point_json(const fg::FigureResult& r) {
  return {{"period", r.period},
          {"value", optional_number(r.value)},
          {"numerator", r.numerator},
          {"denominator", r.denominator},
          {"rag", std::string(fg::to_string(r.rag))},
          {"median", optional_number(r.median)},
          {"p90", optional_number(r.p90)}};
}

json figure_json(const fg::FigureResult& r) {
  json j = point_json(r);
  j["indicator"] = r.indicator;
  j["title"] = r.title;
  j["unit"] = r.unit;
  j["direction"] = std::string(fg::to_string(r.direction));
  j["target"] = optional_number(r.target);
  j["baseline"] = optional_number(r.baseline);
  j["quality"] = quality_json(r.quality);
  return j;
}

json period_json(const fg::Period& p) {
  return {{"label", p.label}, {"first", p.first.to_string()}, {"last", p.last.to_string()}};
}

// A CSV table: a header row, then rows; UTF-8 with a byte-order mark (spreadsheets read the
// encoding from it) and CRLF line ends.
class Csv {
 public:
  explicit Csv(std::initializer_list<std::string_view> header) {
    text_ = "\xEF\xBB\xBF";
    std::vector<std::string> cells;
    for (auto h : header) cells.emplace_back(reports::csv_cell(h));
    add(cells);
  }
  // Text cells go through reports::csv_cell(); numbers through number().
  void add(const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) text_ += ',';
      text_ += cells[i];
    }
    text_ += "\r\n";
  }
  static std::string text(std::string_view s) { return reports::csv_cell(s); }
  static std::string number(const std::optional<double>& v) { return number_text(v); }
  static std::string number(std::int64_t v) { return std::to_string(v); }
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

std::string safe_name(std::string_view s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (ok) out += c;
  }
  return out.substr(0, 80);
}

void send_csv(httplib::Response& res, const std::string& name, const Csv& csv) {
  res.status = 200;
  res.set_header("Content-Disposition", "attachment; filename=\"" + name + ".csv\"");
  res.set_content(csv.str(), "text/csv; charset=utf-8");
}

std::vector<std::string> figure_row(const fg::FigureResult& r) {
  return {Csv::number(r.value),       Csv::number(r.numerator),
          Csv::number(r.denominator), Csv::text(fg::to_string(r.rag)),
          Csv::number(r.median),      Csv::number(r.p90),
          Csv::text(r.quality.note)};
}

// A whole number parameter within [lo, hi], or the default when absent.
Result<std::int64_t> int_param(const httplib::Request& req, const char* name, std::int64_t lo,
                               std::int64_t hi, std::int64_t fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  const Status bad{Errc::invalid_argument, std::string(name) + " is a whole number from " +
                                               std::to_string(lo) + " to " + std::to_string(hi)};
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    return bad;
  const std::int64_t v = std::stoll(text);
  if (v < lo || v > hi) return bad;
  return v;
}

class FiguresApi {
 public:
  FiguresApi(AccessService& access, FiguresService& figures,
             std::function<void(const std::string&)> log)
      : access_(access), figures_(figures), log_(std::move(log)) {}

  // The request's unit, period, as-of day and trend length; the unit defaults to the actor's
  // home unit, the period to the current month, the as-of day to today.
  Result<FiguresRequest> request_of(const httplib::Request& req, const Worker& actor) {
    FiguresRequest out;
    const Date today = figures_.today();
    auto unit = fg::parse_unit(req.get_param_value("level"), req.get_param_value("unit"));
    if (!unit.ok()) return unit.status();
    if (*unit) {
      out.level = (*unit)->level;
      out.unit = (*unit)->id;
    } else {
      auto scope = figures_.scope(actor);
      if (!scope.ok()) return scope.status();
      out.level = scope->home.level;
      out.unit = scope->home.id;
    }
    if (req.has_param("as_of")) {
      auto d = fg::parse_day(req.get_param_value("as_of"), "as_of");
      if (!d.ok()) return d.status();
      out.as_of = *d;
    } else {
      out.as_of = today;
    }
    if (req.has_param("period")) {
      auto p = fg::parse_period(req.get_param_value("period"));
      if (!p.ok()) return p.status();
      out.period = *p;
    } else {
      out.period = fg::month_of(std::min(out.as_of, today));
    }
    auto months = int_param(req, "months", 1, 36, 12);
    if (!months.ok()) return months.status();
    out.months = static_cast<int>(*months);
    return out;
  }

  // Whether the answer is CSV: a ".csv" path (matches[1]) or format=csv.
  static Result<bool> wants_csv(const httplib::Request& req, std::size_t suffix_match) {
    const bool suffix = req.matches.size() > suffix_match && req.matches[suffix_match].length() > 0;
    const std::string format = req.get_param_value("format");
    if (!format.empty() && format != "json" && format != "csv") {
      return Status(Errc::invalid_argument, "format is json or csv");
    }
    return suffix || format == "csv";
  }

  // The session, the request and the format, or nullopt after answering.
  struct Call {
    Session session;
    FiguresRequest request;
    bool csv = false;
  };
  std::optional<Call> begin(const httplib::Request& req, httplib::Response& res,
                            std::size_t suffix_match) {
    auto session = web_session(access_, req, res, log_);
    if (!session) return std::nullopt;
    auto csv = wants_csv(req, suffix_match);
    if (!csv.ok()) {
      reply_error(res, csv.status(), log_);
      return std::nullopt;
    }
    auto request = request_of(req, session->worker);
    if (!request.ok()) {
      reply_error(res, request.status(), log_);
      return std::nullopt;
    }
    return Call{std::move(*session), std::move(*request), *csv};
  }

  static std::string file_name(std::string_view table, const FiguresUnit& u, const fg::Period& p) {
    return "fieldcase-" + std::string(table) + "-" + std::string(fg::to_string(u.level)) +
           (u.id.empty() ? "" : "-" + safe_name(u.id)) + "-" + safe_name(p.label);
  }

  void scope(const httplib::Request& req, httplib::Response& res) {
    auto session = web_session(access_, req, res, log_);
    if (!session) return;
    auto scope = figures_.scope(session->worker);
    if (!scope.ok()) return reply_error(res, scope.status(), log_);
    json units = json::array();
    for (const auto& u : scope->units) units.push_back(unit_json(u));
    json indicators = json::array();
    for (const auto& d : fg::definitions()) {
      indicators.push_back({{"id", std::string(d.id)},
                            {"title", std::string(d.title)},
                            {"unit", std::string(d.unit)},
                            {"direction", std::string(fg::to_string(d.direction))},
                            {"target", optional_number(d.target)},
                            {"baseline", optional_number(d.baseline)},
                            {"counting", std::string(d.counting)}});
    }
    const Date today = figures_.today();
    json out{{"worker",
              {{"id", scope->worker.id},
               {"name", scope->worker.name},
               {"role", std::string(to_string(scope->worker.role))}}},
             {"home", unit_json(scope->home)},
             {"units", units},
             {"indicators", indicators},
             {"today", today.to_string()},
             {"periods",
              {{"month", fg::month_of(today).label},
               {"quarter", fg::quarter_of(today).label},
               {"financial_year", fg::financial_year_of(today).label}}},
             {"version", figures_.version()}};
    res.set_content(out.dump(), kJson);
  }

  void overview(const httplib::Request& req, httplib::Response& res) {
    auto call = begin(req, res, 1);
    if (!call) return;
    auto o = figures_.overview(call->session.worker, call->request);
    if (!o.ok()) return reply_error(res, o.status(), log_);
    if (call->csv) {
      Csv csv{"indicator", "title", "period",       "value", "numerator", "denominator", "rag",
              "median",    "p90",   "quality_note", "unit",  "target",    "direction"};
      for (const auto& f : o->figures) {
        auto row = std::vector<std::string>{Csv::text(f.figure.indicator),
                                            Csv::text(f.figure.title), Csv::text(f.figure.period)};
        for (auto& c : figure_row(f.figure)) row.push_back(std::move(c));
        row.push_back(Csv::text(f.figure.unit));
        row.push_back(Csv::number(f.figure.target));
        row.push_back(Csv::text(fg::to_string(f.figure.direction)));
        csv.add(row);
      }
      return send_csv(res, file_name("overview", o->unit, call->request.period), csv);
    }
    json figures = json::array();
    for (const auto& f : o->figures) {
      json j = figure_json(f.figure);
      json trend = json::array();
      for (const auto& t : f.trend) trend.push_back(point_json(t));
      j["trend"] = trend;
      figures.push_back(std::move(j));
    }
    json out{{"unit", unit_json(o->unit)},
             {"period", period_json(call->request.period)},
             {"as_of", call->request.as_of.to_string()},
             {"version", o->version},
             {"figures", figures}};
    res.set_content(out.dump(), kJson);
  }

  void indicator(const httplib::Request& req, httplib::Response& res) {
    auto call = begin(req, res, 2);
    if (!call) return;
    const std::string id = req.matches[1].str();
    auto b = figures_.breakdown(call->session.worker, id, call->request);
    if (!b.ok()) return reply_error(res, b.status(), log_);
    if (call->csv) {
      Csv csv{"level",       "unit_id", "unit_name", "value", "numerator",
              "denominator", "rag",     "median",    "p90",   "quality_note"};
      auto add = [&](const FiguresUnit& u, const fg::FigureResult& r) {
        std::vector<std::string> row{Csv::text(fg::to_string(u.level)), Csv::text(u.id),
                                     Csv::text(u.name)};
        for (auto& c : figure_row(r)) row.push_back(std::move(c));
        csv.add(row);
      };
      add(b->unit, b->figure);
      for (const auto& [u, r] : b->children) add(u, r);
      return send_csv(res, file_name(id, b->unit, call->request.period), csv);
    }
    json children = json::array();
    for (const auto& [u, r] : b->children) {
      children.push_back({{"unit", unit_json(u)}, {"figure", point_json(r)}});
    }
    json out{{"unit", unit_json(b->unit)},
             {"period", period_json(call->request.period)},
             {"as_of", call->request.as_of.to_string()},
             {"figure", figure_json(b->figure)},
             {"breakdown", children}};
    res.set_content(out.dump(), kJson);
  }

  void records(const httplib::Request& req, httplib::Response& res) {
    auto call = begin(req, res, 2);
    if (!call) return;
    auto offset = int_param(req, "offset", 0, 10'000'000, 0);
    if (!offset.ok()) return reply_error(res, offset.status(), log_);
    auto limit = int_param(req, "limit", 1, 1000, 100);
    if (!limit.ok()) return reply_error(res, limit.status(), log_);
    const std::string id = req.matches[1].str();
    const std::string what = id + " " + std::string(fg::to_string(call->request.level)) +
                             (call->request.unit.empty() ? "" : " " + call->request.unit) + " " +
                             call->request.period.label;
    auto page =
        figures_.records(call->session.worker, id, call->request, static_cast<std::size_t>(*offset),
                         static_cast<std::size_t>(*limit), what);
    if (!page.ok()) return reply_error(res, page.status(), log_);
    auto relation_of = [&](const std::string& case_id) {
      auto it = page->relations.find(case_id);
      return std::string(it == page->relations.end() ? "other" : to_string(it->second));
    };
    if (call->csv) {
      Csv csv{"record_id", "case_id",  "worker_id",    "relation", "start",
              "end",       "measured", "in_numerator", "flags"};
      for (const auto& r : page->figure.records) {
        std::string flags;
        for (const auto& f : r.flags) flags += (flags.empty() ? "" : ";") + f;
        csv.add({Csv::text(r.record_id), Csv::text(r.case_id), Csv::text(r.worker_id),
                 Csv::text(relation_of(r.case_id)), Csv::text(r.start), Csv::text(r.end),
                 Csv::number(r.measured), Csv::text(r.in_numerator ? "yes" : "no"),
                 Csv::text(flags)});
      }
      return send_csv(res, file_name(id + "-records", page->unit, call->request.period), csv);
    }
    json rows = json::array();
    for (const auto& r : page->figure.records) {
      rows.push_back({{"record_id", r.record_id},
                      {"case_id", r.case_id},
                      {"worker_id", r.worker_id},
                      {"relation", relation_of(r.case_id)},
                      {"start", r.start},
                      {"end", r.end},
                      {"measured", optional_number(r.measured)},
                      {"in_numerator", r.in_numerator},
                      {"flags", r.flags}});
    }
    json out{{"unit", unit_json(page->unit)},
             {"period", period_json(call->request.period)},
             {"as_of", call->request.as_of.to_string()},
             {"figure", figure_json(page->figure)},
             {"total", page->total},
             {"offset", page->offset},
             {"limit", *limit},
             {"records", rows}};
    res.set_content(out.dump(), kJson);
  }

  void backlog(const httplib::Request& req, httplib::Response& res) {
    auto call = begin(req, res, 1);
    if (!call) return;
    auto backlog = figures_.backlog(call->session.worker, call->request);
    if (!backlog.ok()) return reply_error(res, backlog.status(), log_);
    if (call->csv) {
      Csv csv{"month", "day", "outstanding", "overdue"};
      for (const auto& p : backlog->series) {
        csv.add({Csv::text(p.month), Csv::text(p.day), Csv::number(p.outstanding),
                 Csv::number(p.overdue)});
      }
      return send_csv(res, file_name("backlog", backlog->unit, call->request.period), csv);
    }
    json points = json::array();
    for (const auto& p : backlog->series) {
      points.push_back({{"month", p.month},
                        {"day", p.day},
                        {"outstanding", p.outstanding},
                        {"overdue", p.overdue}});
    }
    json out{{"unit", unit_json(backlog->unit)},
             {"as_of", call->request.as_of.to_string()},
             {"series", points}};
    res.set_content(out.dump(), kJson);
  }

  void recording_delay(const httplib::Request& req, httplib::Response& res) {
    auto call = begin(req, res, 1);
    if (!call) return;
    auto d = figures_.recording_delay(call->session.worker, call->request);
    if (!d.ok()) return reply_error(res, d.status(), log_);
    if (call->csv) {
      Csv csv{"from_hours", "to_hours", "visits"};
      for (const auto& b : d->bins) {
        csv.add({Csv::number(std::optional<double>(b.from_hours)), Csv::number(b.to_hours),
                 Csv::number(b.count)});
      }
      return send_csv(res, file_name("recording-delay", d->unit, call->request.period), csv);
    }
    json bins = json::array();
    for (const auto& b : d->bins) {
      bins.push_back({{"from_hours", b.from_hours},
                      {"to_hours", optional_number(b.to_hours)},
                      {"count", b.count}});
    }
    const auto n = d->figure.denominator;
    json out{{"unit", unit_json(d->unit)},
             {"period", period_json(call->request.period)},
             {"as_of", call->request.as_of.to_string()},
             {"visits", n},
             {"median_hours", optional_number(d->figure.median)},
             {"p90_hours", optional_number(d->figure.p90)},
             {"within_standard", d->within_standard},
             {"share_within_standard",
              n > 0 ? json(100.0 * static_cast<double>(d->within_standard) / static_cast<double>(n))
                    : json(nullptr)},
             {"quality", quality_json(d->figure.quality)},
             {"bins", bins}};
    res.set_content(out.dump(), kJson);
  }

  void changes(const httplib::Request& req, httplib::Response& res) {
    // Waiting for changes is the page's doing, not its reader's: no restart of the idle clock.
    auto session = web_session(access_, req, res, log_, true);
    if (!session) return;
    if (!permits(session->worker.role, Action::view_team_figures, Relation::none)) {
      auto refused = figures_.scope(session->worker);  // audits the refusal
      return reply_error(res, refused.status(), log_);
    }
    const std::string since_text = req.get_param_value("since");
    std::optional<std::uint64_t> since;
    if (!since_text.empty()) {
      if (since_text.size() > 19 || since_text.find_first_not_of("0123456789") != std::string::npos)
        return error(res, 400, "bad_request", "since is a version number from a previous answer");
      since = std::stoull(since_text);
    }
    const auto max_wait = figures_.options().max_wait.count();
    auto timeout = int_param(req, "timeout", 0, max_wait, max_wait);
    if (!timeout.ok()) return reply_error(res, timeout.status(), log_);
    Result<std::uint64_t> version = figures_.version();
    if (since) {
      version = figures_.wait_for_change(*since, std::chrono::seconds(*timeout));
      if (!version.ok()) {
        res.set_header("Retry-After", "5");
        return error(res, 503, "busy", version.status().message());
      }
    }
    json out{{"version", *version}, {"changed", since && *version != *since}};
    res.set_content(out.dump(), kJson);
  }

 private:
  AccessService& access_;
  FiguresService& figures_;
  std::function<void(const std::string&)> log_;
};

}  // namespace

void register_figures_api(httplib::Server& svr, AccessService& access, FiguresService& figures,
                          std::function<void(const std::string&)> log) {
  auto api = std::make_shared<FiguresApi>(access, figures, std::move(log));
  using H = void (FiguresApi::*)(const httplib::Request&, httplib::Response&);
  auto bind = [api](H h) {
    return [api, h](const httplib::Request& req, httplib::Response& res) { ((*api).*h)(req, res); };
  };
  svr.Get("/v1/figures/scope", bind(&FiguresApi::scope));
  svr.Get(R"(/v1/figures/overview(\.csv)?)", bind(&FiguresApi::overview));
  svr.Get(R"(/v1/figures/indicators/([a-z0-9_]{1,40})(\.csv)?)", bind(&FiguresApi::indicator));
  svr.Get(R"(/v1/figures/indicators/([a-z0-9_]{1,40})/records(\.csv)?)",
          bind(&FiguresApi::records));
  svr.Get(R"(/v1/figures/backlog(\.csv)?)", bind(&FiguresApi::backlog));
  svr.Get(R"(/v1/figures/recording-delay(\.csv)?)", bind(&FiguresApi::recording_delay));
  svr.Get("/v1/figures/changes", bind(&FiguresApi::changes));
}

}  // namespace fieldcase::server::detail
