// The performance report: every indicator's line for a unit and period, and its renderings.
#include <cstdio>
#include <string>
#include <vector>

#include "fieldcase/server/reports.hpp"

namespace fieldcase::server::reports {

namespace fg = figures;

namespace {

std::string fixed1(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string level_words(const Unit& unit) {
  if (unit.level == fg::Level::authority) return unit.name.empty() ? "the authority" : unit.name;
  return std::string(fg::to_string(unit.level)) + " " + unit.name;
}

// "4/5" for proportions; "" when the measure has no meaningful fraction.
std::string fraction(const fg::FigureResult& r) {
  if (r.unit != "%" || r.denominator == 0) return {};
  return std::to_string(r.numerator) + "/" + std::to_string(r.denominator);
}

std::string optional_number(std::optional<double> v) { return v ? fixed1(*v) : std::string(); }

constexpr std::string_view kStylesheet =
    "body{font-family:sans-serif;margin:1.5em;color:#111}"
    "h1{font-size:1.4em;margin:0 0 .2em}"
    "p.meta{margin:0 0 1em;color:#333}"
    "table{border-collapse:collapse;width:100%;font-size:.85em}"
    "th,td{border:1px solid #888;padding:.3em .4em;text-align:left;vertical-align:top}"
    "thead th{background:#e8e8e8}"
    "td.ref{white-space:nowrap}"
    "td.num{text-align:right;white-space:nowrap}"
    "td.rag{font-weight:bold;white-space:nowrap}"
    "td.red{background:#f4c7c3}td.amber{background:#fce8b2}td.green{background:#b7e1cd}"
    "p.foot{font-size:.8em;color:#333}"
    "@media print{body{margin:0}table{font-size:8pt}"
    "tr{page-break-inside:avoid}thead{display:table-header-group}"
    "td.red,td.amber,td.green,thead th{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "@page{size:A4 landscape;margin:12mm}}";

}  // namespace

fg::Period previous_financial_year(const fg::Period& period) {
  const fg::Period own = fg::financial_year_of(period.first);
  return fg::financial_year_of(own.first.add_days(-1).value());
}

std::string_view direction_words(fg::Direction direction) noexcept {
  switch (direction) {
    case fg::Direction::rise_is_good:
      return "rise is good";
    case fg::Direction::fall_is_good:
      return "fall is good";
    case fg::Direction::bell_shaped:
      return "neither (bell-shaped)";
  }
  return "rise is good";
}

std::string measure_words(const fg::IndicatorDefinition& d) {
  if (d.unit == "%") return "percentage";
  if (d.unit == "count") return "number on the day";
  if (d.unit == "per 10,000") return "rate per 10,000 under-18s on the day";
  return "median " + std::string(d.unit);
}

std::string format_value(const fg::IndicatorDefinition& d, std::optional<double> value) {
  if (!value) return {};
  if (d.unit == "%") return fixed1(*value) + "%";
  if (d.unit == "count") return std::to_string(static_cast<long long>(*value));
  if (d.unit == "per 10,000") return fixed1(*value);
  return fixed1(*value) + " " + std::string(d.unit);
}

Result<PerformanceReport> performance_report(ServerStore& store, const fg::FiguresConfig& config,
                                             const Unit& unit, const fg::Period& period,
                                             Date as_of) {
  fg::FactsCache facts(store);  // each indicator's facts read once for both years
  return performance_report(facts, config, unit, period, as_of);
}

Result<PerformanceReport> performance_report(fg::FactsCache& facts, const fg::FiguresConfig& config,
                                             const Unit& unit, const fg::Period& period,
                                             Date as_of) {
  PerformanceReport report;
  report.unit = unit;
  report.period = period;
  report.previous_year = previous_financial_year(period);
  report.as_of = as_of;
  for (const auto& def : fg::definitions()) {
    // The report carries the numbers, not the records behind them.
    auto query = [&](const fg::Period& p) {
      fg::FigureQuery q = unit_query(def, unit, p, as_of);
      q.with_records = false;
      return q;
    };
    auto current = fg::compute(facts, config, query(period));
    if (!current.ok()) return current.status();
    auto previous = fg::compute(facts, config, query(report.previous_year));
    if (!previous.ok()) return previous.status();
    report.rows.push_back({&def, std::move(*current), std::move(*previous)});
  }
  return report;
}

std::string performance_csv(const PerformanceReport& report) {
  std::string out =
      "reference,indicator,title,owner,frequency,measure,unit,direction,baseline,"
      "previous_year,target,this_period,numerator,denominator,data_quality,rag\r\n";
  for (const auto& row : report.rows) {
    const auto& d = *row.definition;
    const std::vector<std::string> cells{
        std::string(d.reference),
        std::string(d.id),
        std::string(d.title),
        std::string(d.owner),
        std::string(fg::to_string(d.frequency)),
        measure_words(d),
        std::string(d.unit),
        std::string(direction_words(d.direction)),
        optional_number(d.baseline),
        optional_number(row.previous.value),
        optional_number(d.target),
        optional_number(row.current.value),
        std::to_string(row.current.numerator),
        std::to_string(row.current.denominator),
        row.current.quality.note,
        row.current.rag == fg::Rag::none ? std::string()
                                         : std::string(fg::to_string(row.current.rag)),
    };
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out += ',';
      out += csv_cell(cells[i]);
    }
    out += "\r\n";
  }
  return out;
}

std::string performance_text(const PerformanceReport& report) {
  std::string out = "Performance report: " + level_words(report.unit) + ", " + report.period.label +
                    " (" + report.period.first.to_string() + " to " +
                    report.period.last.to_string() + ")";
  if (report.as_of < report.period.last) out += ", as of " + report.as_of.to_string();
  out += "; previous year " + report.previous_year.label + "\n";
  out +=
      "reference\ttitle\towner\tfrequency\tmeasure\tdirection\tbaseline\tprevious year\t"
      "target\tthis period\tdata quality\tRAG\n";
  for (const auto& row : report.rows) {
    const auto& d = *row.definition;
    std::string current = format_value(d, row.current.value);
    if (const std::string f = fraction(row.current); !f.empty()) current += " (" + f + ")";
    out += std::string(d.reference) + "\t" + std::string(d.title) + "\t" + std::string(d.owner) +
           "\t" + std::string(fg::to_string(d.frequency)) + "\t" + measure_words(d) + "\t" +
           std::string(direction_words(d.direction)) + "\t" +
           (d.baseline ? format_value(d, d.baseline) : "-") + "\t" +
           (row.previous.value ? format_value(d, row.previous.value) : "-") + "\t" +
           (d.target ? format_value(d, d.target) : "-") + "\t" + (current.empty() ? "-" : current) +
           "\t" + row.current.quality.note + "\t" +
           (row.current.rag == fg::Rag::none ? "-" : std::string(fg::to_string(row.current.rag))) +
           "\n";
  }
  return out;
}

std::string_view performance_stylesheet() noexcept { return kStylesheet; }

std::string performance_html(const PerformanceReport& report, std::string_view authority_name) {
  std::string title =
      "Performance report: " + level_words(report.unit) + ", " + report.period.label;
  std::string out = "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>" + html_escape(title) + "</title>\n";
  out += "<style>" + std::string(kStylesheet) + "</style>\n</head>\n<body>\n";
  out += "<h1>" + html_escape(title) + "</h1>\n";
  out += "<p class=\"meta\">" + html_escape(authority_name) + ". Period " +
         html_escape(report.period.first.to_string()) + " to " +
         html_escape(report.period.last.to_string());
  if (report.as_of < report.period.last) {
    out += ", figures as of " + html_escape(report.as_of.to_string());
  }
  out += ". Previous year: " + html_escape(report.previous_year.label) + ".</p>\n";
  out +=
      "<table>\n<thead><tr><th scope=\"col\">Ref.</th><th scope=\"col\">Indicator</th>"
      "<th scope=\"col\">Owner</th><th scope=\"col\">Frequency and measure</th>"
      "<th scope=\"col\">Good is</th><th scope=\"col\">Baseline</th>"
      "<th scope=\"col\">Previous year</th><th scope=\"col\">Target</th>"
      "<th scope=\"col\">This period</th><th scope=\"col\">Data quality</th>"
      "<th scope=\"col\">Status</th></tr></thead>\n<tbody>\n";
  for (const auto& row : report.rows) {
    const auto& d = *row.definition;
    std::string current = format_value(d, row.current.value);
    if (const std::string f = fraction(row.current); !f.empty()) current += " (" + f + ")";
    const std::string rag(fg::to_string(row.current.rag));
    out += "<tr><td class=\"ref\">" + html_escape(d.reference) + "</td><th scope=\"row\">" +
           html_escape(d.title) + "</th><td>" + html_escape(d.owner) + "</td><td>" +
           html_escape(std::string(fg::to_string(d.frequency)) + ", " + measure_words(d)) +
           "</td><td>" + html_escape(direction_words(d.direction)) + "</td><td class=\"num\">" +
           html_escape(d.baseline ? format_value(d, d.baseline) : "-") + "</td><td class=\"num\">" +
           html_escape(row.previous.value ? format_value(d, row.previous.value) : "-") +
           "</td><td class=\"num\">" + html_escape(d.target ? format_value(d, d.target) : "-") +
           "</td><td class=\"num\">" + html_escape(current.empty() ? "-" : current) + "</td><td>" +
           html_escape(row.current.quality.note) + "</td>";
    if (row.current.rag == fg::Rag::none) {
      out += "<td class=\"rag\">-</td></tr>\n";
    } else {
      out += "<td class=\"rag " + rag + "\">" + html_escape(rag) + "</td></tr>\n";
    }
  }
  out += "</tbody>\n</table>\n";
  out +=
      "<p class=\"foot\">Status against target: green when the target is met; amber within 10% "
      "of it; red otherwise. Indicators without a target, and bell-shaped ones, have no "
      "status.</p>\n</body>\n</html>\n";
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace fieldcase::server::reports
