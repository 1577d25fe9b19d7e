// The managers' dashboard: sign-in, the figure pages and their live updates.
//
// One page; the address after "#" names the view and its query (#/overview?level=team&unit=..
// &period=2025-07), so every view can be bookmarked and the browser's back button works. Data
// comes from the JSON API (/v1/figures/..., docs/openapi.yaml); every table has its CSV twin.
// After a view is drawn, a long-poll on /v1/figures/changes waits for the next sync that
// changes figures and redraws the view in place, keeping the reader's focus.
"use strict";

(function () {
  const state = {
    csrf: "",
    scope: null, // GET /v1/figures/scope
    version: null, // last figures version seen
    charts: [],
    renderSeq: 0,
    polling: false,
  };

  const $ = (id) => document.getElementById(id);

  // --- HTTP ---

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // A request to the server. Requests the page makes by itself (the change feed and the redraw
  // after a change) say so, and do not keep an unattended session alive.
  async function api(path, options = {}) {
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (options.background) headers["X-Fieldcase-Background"] = "1";
    delete options.background;
    if (options.method && options.method !== "GET") headers["X-CSRF-Token"] = state.csrf;
    const res = await fetch(path, Object.assign({}, options, { headers, credentials: "same-origin" }));
    if (res.status === 204) return null;
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    if (!res.ok) {
      const err = body && body.error ? body.error : { code: "http_" + res.status, message: res.statusText };
      if (res.status === 401 && path !== "/v1/session") showSignIn("Your session has ended: sign in again.");
      throw new ApiError(res.status, err.code, err.message);
    }
    return body;
  }

  // --- Formatting ---

  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];

  function formatValue(value, unit) {
    if (value === null || value === undefined) return "no data";
    switch (unit) {
      case "%": return value.toFixed(1) + "%";
      case "count": return String(Math.round(value));
      case "hours": return value.toFixed(1) + " h";
      case "working days": return value.toFixed(1) + " working days";
      default: return value.toFixed(1) + " " + unit;
    }
  }

  function periodLabel(label) {
    let m = /^(\d{4})-(\d{2})$/.exec(label);
    if (m) return MONTHS[Number(m[2]) - 1] + " " + m[1];
    m = /^(\d{4})-Q(\d)$/.exec(label);
    if (m) return "Quarter " + m[2] + " " + m[1];
    m = /^FY(\d{4})-(\d{2})$/.exec(label);
    if (m) return "Financial year " + m[1] + "–" + m[2];
    return label;
  }

  // Status against target in words (the colour only repeats it).
  function ragText(rag, direction, target, value) {
    if (rag === "green") return "Target met";
    if (rag === "amber") return "Near target";
    if (rag === "red") return "Target missed";
    if (target !== null && target !== undefined && (value === null || value === undefined)) return "No data yet";
    return direction === "bell_shaped" ? "No target (neither rise nor fall is good)" : "No target";
  }

  function directionText(direction) {
    if (direction === "rise_is_good") return "a rise is good";
    if (direction === "fall_is_good") return "a fall is good";
    return "neither rise nor fall is good";
  }

  // --- DOM helpers ---

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function table(caption, headers, rows, numeric = []) {
    return el("div", { class: "table-wrap" },
      el("table", {},
        el("caption", { text: caption }),
        el("thead", {}, el("tr", {}, headers.map((h, i) =>
          el("th", { scope: "col", class: numeric.includes(i) ? "num" : null, text: h })))),
        el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) =>
          el(i === 0 ? "th" : "td", { scope: i === 0 ? "row" : null, class: numeric.includes(i) ? "num" : null },
            c)))))));
  }

  // --- Routing ---

  function route() {
    const hash = location.hash || "#/overview";
    const [path, query] = hash.slice(1).split("?");
    const parts = path.split("/").filter(Boolean);
    return { page: parts[0] || "overview", arg: parts[1] || "", params: new URLSearchParams(query || "") };
  }

  function href(page, arg, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
    const s = q.toString();
    return "#/" + page + (arg ? "/" + arg : "") + (s ? "?" + s : "");
  }

  // The unit and period a view shows: from the address, else the reader's home unit and the
  // current month.
  function selection(params) {
    const home = state.scope.home;
    const level = params.get("level") || home.level;
    const unit = level === "authority" ? "" : (params.get("unit") || (level === home.level ? home.id : ""));
    const period = params.get("period") || state.scope.periods.month;
    return { level, unit, period };
  }

  function apiQuery(sel, extra = {}) {
    const q = new URLSearchParams({ level: sel.level, period: sel.period });
    if (sel.unit) q.set("unit", sel.unit);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return q.toString();
  }

  function unitOf(level, id) {
    return state.scope.units.find((u) => u.level === level && (level === "authority" || u.id === id));
  }

  function unitName(level, id) {
    const u = unitOf(level, id);
    return u ? u.name : id;
  }

  // authority > area > team > worker, as far as the reader's scope goes.
  function chain(sel) {
    const out = [];
    let u = unitOf(sel.level, sel.unit);
    while (u) {
      out.unshift(u);
      if (u.level === "worker") u = unitOf("team", u.parent_id);
      else if (u.level === "team") u = unitOf("area", u.parent_id);
      else if (u.level === "area") u = unitOf("authority", "");
      else u = null;
    }
    return out;
  }

  function breadcrumbs(page, arg, sel) {
    const items = chain(sel).map((u, i, all) => {
      const params = { level: u.level, unit: u.id, period: sel.period };
      const label = u.name + " (" + u.level + ")";
      return el("li", {}, i === all.length - 1
        ? el("span", { "aria-current": "location", text: label })
        : el("a", { href: href(page, arg, params), text: label }));
    });
    return el("nav", { class: "breadcrumbs", "aria-label": "Where you are" }, el("ol", {}, items));
  }

  function periodOptions() {
    const today = state.scope.today;
    const [y, m] = today.split("-").map(Number);
    const out = [];
    for (let i = 0; i < 12; i++) {
      const d = new Date(Date.UTC(y, m - 1 - i, 1));
      const label = d.getUTCFullYear() + "-" + String(d.getUTCMonth() + 1).padStart(2, "0");
      out.push(label);
    }
    let qy = y, q = Math.floor((m - 1) / 3) + 1;
    for (let i = 0; i < 4; i++) {
      out.push(qy + "-Q" + q);
      q -= 1;
      if (q === 0) { q = 4; qy -= 1; }
    }
    let fy = m >= 4 ? y : y - 1;
    for (let i = 0; i < 3; i++) {
      out.push("FY" + fy + "-" + String((fy + 1) % 100).padStart(2, "0"));
      fy -= 1;
    }
    return out;
  }

  // The unit and period pickers, and the CSV link of the view's main table.
  function controls(page, arg, sel, csvHref, withPeriod = true) {
    const option = (u) => el("option", {
      value: u.level + ":" + u.id,
      selected: u.level === sel.level && (u.level === "authority" || u.id === sel.unit),
      text: u.name,
    });
    const groups = [["authority", "Authority"], ["area", "Areas"], ["team", "Teams"], ["worker", "Workers"]]
      .map(([level, label]) => [label, state.scope.units.filter((u) => u.level === level)])
      .filter(([, units]) => units.length > 0)
      .map(([label, units]) => el("optgroup", { label }, units.map(option)));
    const unitSelect = el("select", { id: "unit-select" }, groups);
    const periods = periodOptions();
    if (!periods.includes(sel.period)) periods.unshift(sel.period);
    const periodSelect = el("select", { id: "period-select" },
      periods.map((p) => el("option", { value: p, selected: p === sel.period, text: periodLabel(p) })));
    const go = () => {
      const [level, unit] = unitSelect.value.split(":");
      location.hash = href(page, arg, { level, unit, period: periodSelect.value });
    };
    unitSelect.addEventListener("change", go);
    periodSelect.addEventListener("change", go);
    return el("div", { class: "controls" },
      el("label", { for: "unit-select" }, "Showing", unitSelect),
      withPeriod ? el("label", { for: "period-select" }, "Period", periodSelect) : null,
      el("div", { class: "links" }, csvHref ? el("a", { href: csvHref, id: "csv-link", download: "" }, "Download this table (CSV)") : null));
  }

  // --- Charts ---

  function destroyCharts() {
    for (const c of state.charts) c.destroy();
    state.charts = [];
  }

  // A chart with a text alternative: the canvas is labelled with a one-line summary and the
  // same numbers follow in a table (inside <details> when `collapsed`).
  function chart(config, summary, tableNode, tall = false, collapsed = true) {
    const canvas = el("canvas", { role: "img", "aria-label": summary });
    const box = el("div", { class: "chart" + (tall ? " tall" : "") }, canvas);
    const alt = collapsed
      ? el("details", {}, el("summary", {}, "Show the numbers"), tableNode)
      : tableNode;
    const figure = el("figure", { class: "chart-figure" }, box, alt);
    requestAnimationFrame(() => {
      if (!canvas.isConnected || typeof Chart === "undefined") return;
      config.options = Object.assign({
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: (config.data.datasets || []).length > 1 } },
      }, config.options || {});
      state.charts.push(new Chart(canvas, config));
    });
    return figure;
  }

  // --- Views ---

  async function viewOverview(r) {
    const sel = selection(r.params);
    const q = apiQuery(sel, { months: 12 });
    const data = await r.api("/v1/figures/overview?" + q);
    const cards = data.figures.map((f) => {
      const labels = f.trend.map((t) => t.period);
      const values = f.trend.map((t) => t.value);
      const trendTable = table("Trend: " + f.title, ["Month", "Value", "Numerator", "Denominator"],
        f.trend.map((t) => [periodLabel(t.period), formatValue(t.value, f.unit), t.numerator, t.denominator]), [1, 2, 3]);
      const summary = "Trend of " + f.title + " over " + labels.length + " months: " +
        f.trend.map((t) => periodLabel(t.period) + " " + formatValue(t.value, f.unit)).join(", ");
      const datasets = [{ label: f.title, data: values, borderColor: "#1d3f6e", backgroundColor: "#1d3f6e", spanGaps: true, pointRadius: 2 }];
      if (f.target !== null) {
        datasets.push({ label: "Target", data: labels.map(() => f.target), borderColor: "#505a5f", borderDash: [4, 4], pointRadius: 0 });
      }
      const link = href("indicator", f.indicator, sel);
      return el("article", { class: "card rag-" + f.rag, "data-indicator": f.indicator, "aria-labelledby": "t-" + f.indicator },
        el("h2", { id: "t-" + f.indicator }, el("a", { href: link, id: "open-" + f.indicator }, f.title)),
        el("data", { class: "figure-value", value: f.value === null ? "" : f.value }, formatValue(f.value, f.unit)),
        el("p", { class: "meta" },
          el("span", { class: "badge rag-" + f.rag }, ragText(f.rag, f.direction, f.target, f.value)),
          f.target !== null ? " target " + formatValue(f.target, f.unit) : ""),
        el("p", { class: "meta counts" }, f.unit === "%" || f.indicator === "recording_delay"
          ? el("span", { class: "fraction" }, f.numerator + " of " + f.denominator)
          : el("span", { class: "fraction" }, f.denominator + " records")),
        chart({
          type: "line",
          data: { labels, datasets },
          options: {
            plugins: { legend: { display: false } },
            scales: { x: { display: false }, y: f.unit === "%" ? { min: 0, max: 100 } : { beginAtZero: true } },
          },
        }, summary, trendTable),
        el("p", { class: "meta quality" }, "Data quality: " + f.quality.note));
    });
    const unit = data.unit;
    return [
      el("h1", {}, "Overview: " + unit.name),
      breadcrumbs("overview", "", sel),
      controls("overview", "", sel, "/v1/figures/overview.csv?" + apiQuery(sel)),
      el("p", { class: "updated", id: "updated" }, periodLabel(data.period.label) + ", as of " + data.as_of + ". Select a figure's title to see it by " + childLevel(sel.level) + " and the records behind it."),
      el("div", { class: "cards" }, cards),
    ];
  }

  function childLevel(level) {
    return { authority: "area", area: "team", team: "worker", worker: "record" }[level];
  }

  async function viewIndicator(r) {
    const sel = selection(r.params);
    const id = r.arg;
    const data = await r.api("/v1/figures/indicators/" + encodeURIComponent(id) + "?" + apiQuery(sel));
    const f = data.figure;
    const recordsLink = href("records", id, sel);
    const rows = data.breakdown.map((b) => [
      el("a", { href: href("indicator", id, { level: b.unit.level, unit: b.unit.id, period: sel.period }) }, b.unit.name),
      formatValue(b.figure.value, f.unit), b.figure.numerator, b.figure.denominator,
      ragText(b.figure.rag, f.direction, f.target, b.figure.value)]);
    const parts = [
      el("h1", {}, f.title),
      breadcrumbs("indicator", id, sel),
      controls("indicator", id, sel, "/v1/figures/indicators/" + id + ".csv?" + apiQuery(sel)),
      el("section", { class: "panel", "aria-labelledby": "headline" },
        el("h2", { id: "headline" }, data.unit.name + ", " + periodLabel(data.period.label)),
        el("dl", { class: "summary" },
          el("div", {}, el("dt", {}, "Value"), el("dd", {}, el("data", { class: "figure-value", value: f.value === null ? "" : f.value }, formatValue(f.value, f.unit)))),
          el("div", {}, el("dt", {}, "Status"), el("dd", {}, el("span", { class: "badge rag-" + f.rag }, ragText(f.rag, f.direction, f.target, f.value)))),
          el("div", {}, el("dt", {}, "Target"), el("dd", {}, f.target === null ? "none" : formatValue(f.target, f.unit))),
          el("div", {}, el("dt", {}, "Numerator"), el("dd", {}, String(f.numerator))),
          el("div", {}, el("dt", {}, "Denominator"), el("dd", {}, String(f.denominator)))),
        el("p", { class: "meta" }, "Direction: " + directionText(f.direction) + ". Data quality: " + f.quality.note),
        el("p", {}, el("a", { href: recordsLink, id: "records-link" }, "The " + f.denominator + " records behind this figure"))),
    ];
    if (data.breakdown.length > 0) {
      const labels = data.breakdown.map((b) => b.unit.name);
      const summary = f.title + " by " + childLevel(sel.level) + ": " +
        data.breakdown.map((b) => b.unit.name + " " + formatValue(b.figure.value, f.unit)).join(", ");
      const breakdownTable = table("By " + childLevel(sel.level) + " (select a name to drill down)",
        [childLevel(sel.level)[0].toUpperCase() + childLevel(sel.level).slice(1), "Value", "Numerator", "Denominator", "Status"], rows, [1, 2, 3]);
      parts.push(el("section", { class: "panel", "aria-labelledby": "by-unit" },
        el("h2", { id: "by-unit" }, "By " + childLevel(sel.level)),
        chart({
          type: "bar",
          data: { labels, datasets: [{ label: f.title, data: data.breakdown.map((b) => b.figure.value), backgroundColor: "#1d3f6e" }] },
          options: { scales: { y: f.unit === "%" ? { min: 0, max: 100 } : { beginAtZero: true } } },
        },
          summary, breakdownTable, true, false)));
    }
    return parts;
  }

  async function viewRecords(r) {
    const sel = selection(r.params);
    const id = r.arg;
    const offset = Number(r.params.get("offset") || 0);
    const limit = 50;
    const data = await r.api("/v1/figures/indicators/" + encodeURIComponent(id) + "/records?" + apiQuery(sel, { offset, limit }));
    const f = data.figure;
    const measuredUnit = f.unit === "%" ? "working days" : f.unit === "hours" ? "hours" : "";
    const rows = data.records.map((rec) => [
      rec.record_id, rec.case_id, unitName("worker", rec.worker_id) || "unallocated", rec.relation,
      rec.start, rec.end, rec.measured === null ? "" : (Math.round(rec.measured * 10) / 10) + (measuredUnit ? " " + measuredUnit : ""),
      rec.in_numerator ? "yes" : "no", rec.flags.join(", ")]);
    const pageParams = (o) => Object.assign({}, sel, { offset: String(o) });
    const pager = el("div", { class: "pager" },
      offset > 0 ? el("a", { href: href("records", id, pageParams(Math.max(0, offset - limit))) }, "Previous page") : null,
      el("span", {}, data.total === 0 ? "No records" : "Records " + (offset + 1) + "–" + Math.min(data.total, offset + data.records.length) + " of " + data.total),
      offset + limit < data.total ? el("a", { href: href("records", id, pageParams(offset + limit)) }, "Next page") : null);
    return [
      el("h1", {}, "Records behind: " + f.title),
      breadcrumbs("records", id, sel),
      controls("records", id, sel, "/v1/figures/indicators/" + id + "/records.csv?" + apiQuery(sel, { offset, limit: 1000 })),
      el("p", {}, el("a", { href: href("indicator", id, sel) }, "Back to the figure"), " · ",
        formatValue(f.value, f.unit) + " (" + f.numerator + " of " + f.denominator + "); " + f.quality.note),
      table("Records behind the figure for " + data.unit.name + ", " + periodLabel(data.period.label),
        ["Record", "Case", "Worker", "Your relation", "Start", "End", "Measured", "Counts", "Flags"], rows, [6]),
      pager,
    ];
  }

  async function viewBacklog(r) {
    const sel = selection(r.params);
    const data = await r.api("/v1/figures/backlog?" + apiQuery(sel, { months: 12 }));
    const labels = data.series.map((p) => periodLabel(p.month));
    const rows = data.series.map((p) => [periodLabel(p.month), p.day, p.outstanding, p.overdue]);
    const summary = "Outstanding and overdue assessments at each month's end: " +
      data.series.map((p) => periodLabel(p.month) + " " + p.outstanding + " outstanding, " + p.overdue + " overdue").join("; ");
    return [
      el("h1", {}, "Backlog: " + unitName(sel.level, sel.unit)),
      breadcrumbs("backlog", "", sel),
      controls("backlog", "", sel, "/v1/figures/backlog.csv?" + apiQuery(sel, { months: 12 })),
      el("section", { class: "panel", "aria-labelledby": "backlog-title" },
        el("h2", { id: "backlog-title" }, "Outstanding and overdue assessments at each month's end"),
        chart({
          type: "line",
          data: {
            labels, datasets: [
              { label: "Outstanding", data: data.series.map((p) => p.outstanding), borderColor: "#1d3f6e", backgroundColor: "#1d3f6e" },
              { label: "Overdue", data: data.series.map((p) => p.overdue), borderColor: "#c0162b", backgroundColor: "#c0162b", borderDash: [6, 3] },
            ],
          },
          options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
        }, summary, table("Backlog by month", ["Month", "Taken on", "Outstanding", "Overdue"], rows, [2, 3]), true, false),
        el("p", {},
          el("a", { href: href("indicator", "assessments_outstanding", sel) }, "Outstanding assessments by " + childLevel(sel.level) + ", and the records"),
          " · ",
          el("a", { href: href("indicator", "assessments_overdue", sel) }, "Overdue assessments by " + childLevel(sel.level) + ", and the records"))),
    ];
  }

  async function viewDelay(r) {
    const sel = selection(r.params);
    const data = await r.api("/v1/figures/recording-delay?" + apiQuery(sel));
    const binLabel = (b) => {
      const h = (x) => (x >= 48 && x % 24 === 0 ? x / 24 + " days" : x + " h");
      return b.to_hours === null ? h(b.from_hours) + " or more" : h(b.from_hours) + " to " + h(b.to_hours);
    };
    const labels = data.bins.map(binLabel);
    const summary = "Visits by time from the visit to the server: " + data.bins.map((b) => binLabel(b) + ": " + b.count).join(", ");
    const share = data.share_within_standard === null ? "no visits" : data.share_within_standard.toFixed(1) + "%";
    return [
      el("h1", {}, "Recording delay: " + unitName(sel.level, sel.unit)),
      breadcrumbs("recording-delay", "", sel),
      controls("recording-delay", "", sel, "/v1/figures/recording-delay.csv?" + apiQuery(sel)),
      el("section", { class: "panel", "aria-labelledby": "delay-title" },
        el("h2", { id: "delay-title" }, "From the visit to the server, " + periodLabel(data.period.label)),
        el("dl", { class: "summary" },
          el("div", {}, el("dt", {}, "Visits"), el("dd", { id: "delay-visits" }, String(data.visits))),
          el("div", {}, el("dt", {}, "Median"), el("dd", {}, formatValue(data.median_hours, "hours"))),
          el("div", {}, el("dt", {}, "90th percentile"), el("dd", {}, formatValue(data.p90_hours, "hours"))),
          el("div", {}, el("dt", {}, "Within the recording standard"), el("dd", {}, share))),
        el("p", { class: "meta" }, "Data quality: " + data.quality.note),
        chart({
          type: "bar",
          data: { labels, datasets: [{ label: "Visits", data: data.bins.map((b) => b.count), backgroundColor: "#1d3f6e" }] },
          options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
        }, summary, table("Visits by delay", ["Delay", "Visits"], data.bins.map((b) => [binLabel(b), b.count]), [1]), true, false),
        el("p", {}, el("a", { href: href("records", "recording_delay", sel) }, "The visits behind these numbers"))),
    ];
  }

  // The performance report: the table councils publish, with a printable page and its CSV.
  async function viewPerformance(r) {
    const sel = selection(r.params);
    const data = await r.api("/v1/reports/performance?" + apiQuery(sel));
    const fmt = (v, row) => formatValue(v, row.unit);
    const rows = data.rows.map((row) => [
      row.reference,
      el("a", { href: href("indicator", row.indicator, sel) }, row.title),
      row.owner,
      row.frequency + "; " + row.measure,
      directionText(row.direction),
      fmt(row.baseline, row),
      fmt(row.previous_year, row),
      fmt(row.target, row),
      el("span", { class: "figure-cell", "data-indicator": row.indicator }, fmt(row.value, row)),
      row.data_quality.note,
      el("span", { class: "badge rag-" + row.rag }, ragText(row.rag, row.direction, row.target, row.value)),
    ]);
    const printable = "/reports/performance?" + apiQuery(sel);
    return [
      el("h1", {}, "Performance report: " + data.unit.name),
      breadcrumbs("performance", "", sel),
      controls("performance", "", sel, "/v1/reports/performance?" + apiQuery(sel, { format: "csv" })),
      el("p", { class: "updated", id: "updated" },
        periodLabel(data.period.label) + ", as of " + data.as_of + "; previous year: " +
        periodLabel(data.previous_year.label) + ". ",
        el("a", { href: printable, id: "printable-link", target: "_blank", rel: "noopener" },
          "Printable version")),
      table("Performance report, " + periodLabel(data.period.label),
        ["Reference", "Indicator", "Owner", "Frequency and measure", "Direction", "Baseline",
          "Previous year", "Target", "This period", "Data quality", "Status"],
        rows, [5, 6, 7, 8]),
    ];
  }

  // The data-quality list: the records to fix, per team, with the reason in words.
  async function viewDataQuality(r) {
    const sel = selection(r.params);
    const data = await r.api("/v1/data-quality?" + apiQuery(sel));
    const teams = new Map();
    for (const rec of data.records) {
      const key = rec.team || "Not allocated to a team";
      if (!teams.has(key)) teams.set(key, []);
      teams.get(key).push(rec);
    }
    const sections = [];
    for (const [team, recs] of teams) {
      sections.push(el("section", { class: "dq-team" },
        el("h2", {}, team + " (" + recs.length + (recs.length === 1 ? " record" : " records") + ")"),
        table("Records to fix: " + team, ["Record", "Worker", "Dates", "What to fix", "Affects"],
          recs.map((rec) => [
            rec.record_kind + " " + rec.record_id.slice(-8),
            rec.worker || "not allocated",
            [rec.start, rec.end].filter(Boolean).join(" to "),
            rec.reasons.join(" ") + (rec.left_out ? " (left out of the figure)" : ""),
            rec.indicators.join(", "),
          ]))));
    }
    return [
      el("h1", {}, "Data quality: " + data.unit.name),
      breadcrumbs("data-quality", "", sel),
      controls("data-quality", "", sel, "/v1/data-quality?" + apiQuery(sel, { format: "csv" })),
      el("p", { class: "updated", id: "updated" },
        periodLabel(data.period.label) + ", as of " + data.as_of + ": " +
        (data.records.length === 0
          ? "no record behind these figures needs fixing."
          : data.records.length + " records behind these figures need fixing.")),
      ...sections,
    ];
  }

  const VIEWS = {
    overview: viewOverview,
    indicator: viewIndicator,
    records: viewRecords,
    backlog: viewBacklog,
    "recording-delay": viewDelay,
    performance: viewPerformance,
    "data-quality": viewDataQuality,
  };

  // Draws the view the address names. `live` redraws in place after a change: the focused
  // control keeps its focus and the change is announced.
  async function render(live = false) {
    if (!state.scope) return;
    const seq = ++state.renderSeq;
    const r = route();
    const view = VIEWS[r.page] || viewOverview;
    for (const a of document.querySelectorAll("#nav a")) {
      if (a.dataset.page === r.page) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const focusedId = document.activeElement && document.activeElement.id;
    let nodes;
    // A view fetches through r.api: in the background when it redraws after a change.
    r.api = (path) => api(path, { background: live });
    try {
      nodes = await view(r);
    } catch (e) {
      if (e.status === 401) return;
      nodes = [el("h1", {}, "Cannot show this page"), el("p", { class: "error", role: "alert" }, e.message || String(e))];
    }
    if (seq !== state.renderSeq) return; // a later render started meanwhile
    destroyCharts();
    const target = $("view");
    // A redraw keeps the number tables the reader had opened.
    const open = live ? [...target.querySelectorAll("details")].map((d) => d.open) : [];
    target.replaceChildren(...nodes);
    const details = target.querySelectorAll("details");
    if (open.length === details.length) details.forEach((d, i) => { d.open = open[i]; });
    document.title = (nodes[0] && nodes[0].textContent ? nodes[0].textContent + " – " : "") + "fieldcase dashboard";
    if (live) {
      const now = new Date();
      $("live").textContent = "Figures updated at " + now.toLocaleTimeString("en-GB") + " after a sync.";
      document.body.dataset.updated = String(state.version);
      if (focusedId && $(focusedId)) $(focusedId).focus();
    } else if (state.rendered) {
      $("main").focus({ preventScroll: true }); // a new view: reading starts at its content
      window.scrollTo(0, 0);
    }
    state.rendered = true;
    document.body.dataset.rendered = String(state.renderSeq);
  }

  // Views that list records read case data, and every such read is audited: after a change
  // they are not read again by themselves, the reader is offered the current list instead.
  const READS_CASE_DATA = new Set(["records", "data-quality"]);
  // A list of records is case data, and reading it is audited: after a change it is not read
  // again by itself, the reader is offered the current list instead.
  function staleRecords() {
    if ($("stale-records")) return;
    const button = el("button", { type: "button", id: "refresh-records" }, "Show the current records");
    button.addEventListener("click", () => render());
    $("view").prepend(el("p", { class: "stale", id: "stale-records" },
      "The figures have changed since these records were read. ", button));
    $("live").textContent = "The figures have changed since these records were read.";
  }

  // The change feed: waits for the figures version to move on, then redraws.
  async function poll() {
    if (state.polling) return;
    state.polling = true;
    while (state.scope) {
      try {
        const since = state.version === null ? "" : "?since=" + state.version;
        const res = await api("/v1/figures/changes" + since);
        const changed = state.version !== null && res.version !== state.version;
        state.version = res.version;
        if (changed && READS_CASE_DATA.has(route().page)) staleRecords();
        else if (changed) await render(true);
      } catch (e) {
        if (e.status === 401) break;
        await new Promise((resolve) => setTimeout(resolve, 5000));
      }
    }
    state.polling = false;
  }

  // --- Session ---

  function showSignIn(message) {
    state.scope = null;
    destroyCharts();
    $("view").replaceChildren();
    $("nav").hidden = true;
    $("user").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
    $("worker-id").focus();
  }

  async function start() {
    try {
      const session = await api("/v1/session");
      state.csrf = session.csrf_token;
    } catch (e) {
      if (e.status === 401) return showSignIn("");
      return showSignIn("The server cannot be reached: " + e.message);
    }
    try {
      state.scope = await api("/v1/figures/scope");
    } catch (e) {
      $("signin").hidden = true;
      $("user").hidden = false;
      $("view").replaceChildren(el("h1", {}, "No figures for your role"),
        el("p", { role: "alert" }, e.message));
      return;
    }
    state.version = state.scope.version;
    $("signin").hidden = true;
    $("nav").hidden = false;
    $("user").hidden = false;
    $("user-name").textContent = state.scope.worker.name + " (" + state.scope.worker.role.replace(/_/g, " ") + ")";
    await render();
    poll();
  }

  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = $("signin-submit");
    button.disabled = true;
    $("signin-error").textContent = "";
    try {
      const res = await api("/v1/session", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ worker_id: $("worker-id").value.trim(), password: $("password").value }),
      });
      state.csrf = res.csrf_token;
      $("password").value = "";
      await start();
    } catch (e) {
      $("signin-error").textContent = e.status === 401 ? "The worker id or password is not right." : e.message;
      $("password").focus();
    } finally {
      button.disabled = false;
    }
  });

  $("sign-out").addEventListener("click", async () => {
    try {
      await api("/v1/session", { method: "DELETE" });
    } finally {
      showSignIn("You have signed out.");
    }
  });

  // The skip link moves focus to the content without touching the address (which names the
  // view).
  document.querySelector(".skip-link").addEventListener("click", (ev) => {
    ev.preventDefault();
    $("main").focus();
    $("main").scrollIntoView();
  });

  window.addEventListener("hashchange", () => render());
  start();
})();
