// The dashboard in a real browser (CTest browser.dashboard, label "browser"): Debian's headless
// Chromium driven by playwright-core from scripts/node.
//
// The test builds a small authority with the admin commands, starts its own fieldcase-server
// on a free loopback port, records work on two `fieldcase` CLI devices and syncs it, then
// checks in the browser: sign-in; every number on the overview equals the JSON API's and the
// hand-worked answers below; drill-down authority > area > team > worker and to the records
// behind a figure (and that reading them was audited); a visit recorded and synced by a CLI
// device changes the figure on the open page without a reload; the keyboard reaches the main
// controls; no script error or Content-Security-Policy violation. Screenshots go to
// <build>/tests/browser/ (and to docs/images/ with FIELDCASE_DOC_SCREENSHOTS=1).
//
// Every process it starts is stopped before it exits; any mismatch exits 1 with the reason.
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(path.join(root, "scripts", "node", "package.json"));
const { chromium } = require("playwright-core");

const buildDir = process.env.FIELDCASE_BUILD_DIR;
if (!buildDir) fail("FIELDCASE_BUILD_DIR must name the build directory (CTest sets it)");
const serverBin = path.join(buildDir, "sync-server", "fieldcase-server");
const cliBin = path.join(buildDir, "platform", "cli", "fieldcase");
const chromiumBin = process.env.FIELDCASE_CHROMIUM || "/usr/bin/chromium";
const artefacts = path.join(buildDir, "tests", "browser");
const docImages = process.env.FIELDCASE_DOC_SCREENSHOTS === "1" ? path.join(root, "docs", "images") : null;
const PASSWORD = "correct horse battery staple";
const PIN = "246813";

function fail(message) {
  const err = new Error(message);
  err.testFailure = true;
  throw err;
}

function check(condition, message) {
  if (!condition) fail(message);
}

function equal(actual, expected, what) {
  if (actual !== expected) fail(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

for (const [what, p] of [["fieldcase-server", serverBin], ["fieldcase", cliBin], ["chromium", chromiumBin]]) {
  if (!fs.existsSync(p)) {
    console.error(`browser test: ${what} not found at ${p}` + (what === "chromium" ? " (scripts/bootstrap installs it)" : ""));
    process.exit(1);
  }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "fieldcase-browser-"));
const db = path.join(work, "server.db");
const children = new Set(); // processes to stop
let browser = null;

function admin(...args) {
  return execFileSync(serverBin, ["admin", "--database", db, "--quiet", ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).split("\n")[0].trim();
}

function setPassword(worker) {
  execFileSync(serverBin, ["admin", "--database", db, "--quiet", "worker", "set-password", "--worker", worker], {
    env: Object.assign({}, process.env, { FIELDCASE_PASSWORD: PASSWORD }),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

// The fieldcase CLI on a device workspace; returns its first line of output.
function cli(dir, ...args) {
  try {
    return execFileSync(cliBin, [...args, "--dir", dir], {
      encoding: "utf8",
      env: Object.assign({}, process.env, { FIELDCASE_PIN: PIN, FIELDCASE_KDF: "minimum" }),
      stdio: ["ignore", "pipe", "pipe"],
    }).split("\n")[0].trim();
  } catch (e) {
    fail(`fieldcase ${args.join(" ")} failed: ${e.stderr || e.message}`);
  }
}

function startServer() {
  return new Promise((resolve, reject) => {
    const proc = spawn(serverBin, ["serve", "--database", db, "--listen", "127.0.0.1:0"], {
      stdio: ["ignore", "pipe", fs.openSync(path.join(artefacts, "server.log"), "w")],
    });
    children.add(proc);
    proc.on("exit", () => children.delete(proc));
    let out = "";
    const timer = setTimeout(() => reject(new Error("the server did not start within 20 s")), 20000);
    proc.stdout.on("data", (chunk) => {
      out += chunk;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1] });
      }
    });
    proc.on("exit", (code) => reject(new Error(`the server exited (${code}) before listening`)));
  });
}

async function stopAll() {
  if (browser) await browser.close().catch(() => {});
  for (const proc of children) {
    proc.kill("SIGTERM");
    await new Promise((resolve) => {
      const t = setTimeout(() => { proc.kill("SIGKILL"); resolve(); }, 10000);
      proc.on("exit", () => { clearTimeout(t); resolve(); });
    });
  }
}

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => stopAll().finally(() => process.exit(1)));
}

// An ISO time `hours` before now, but not before the first moment of the current month (the
// overview shows the current month).
function hoursAgo(hours) {
  const now = new Date();
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1, 0, 1);
  const t = Math.min(now.getTime(), Math.max(now.getTime() - hours * 3600 * 1000, monthStart));
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// 10:00 UTC on the 10th of the month `months` before this one.
function monthsAgo(months) {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - months, 10, 10)).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function daysAgo(days) {
  return new Date(Date.now() - days * 86400 * 1000).toISOString().slice(0, 10);
}

async function screenshot(page, name) {
  const file = path.join(artefacts, name + ".png");
  await page.screenshot({ path: file, fullPage: false });
  if (docImages) fs.copyFileSync(file, path.join(docImages, "dashboard-" + name + ".png"));
}

async function main() {
  fs.mkdirSync(artefacts, { recursive: true });

  // The authority: North (Assessment East: Ann, Bea, their manager Meg; Assessment West: Cal)
  // and South (Family Support: Dee). Flo is the service lead.
  admin("authority", "create", "--name", "Riverton", "--la-code", "999");
  const north = admin("area", "create", "--name", "North");
  const south = admin("area", "create", "--name", "South");
  const east = admin("team", "create", "--name", "Assessment East", "--area", north);
  const west = admin("team", "create", "--name", "Assessment West", "--area", north);
  const family = admin("team", "create", "--name", "Family Support", "--area", south);
  const ann = admin("worker", "create", "--name", "Ann Ash", "--role", "social_worker", "--team", east);
  const bea = admin("worker", "create", "--name", "Bea Birch", "--role", "social_worker", "--team", east);
  admin("worker", "create", "--name", "Cal Cedar", "--role", "social_worker", "--team", west);
  admin("worker", "create", "--name", "Dee Dogwood", "--role", "social_worker", "--team", family);
  const meg = admin("worker", "create", "--name", "Meg Maple", "--role", "team_manager", "--team", east);
  const flo = admin("worker", "create", "--name", "Flo Fir", "--role", "service_lead", "--team", east);
  setPassword(flo);
  setPassword(meg);

  const { url } = await startServer();

  // Two devices enrolled with one-time codes.
  const annDir = path.join(work, "ann");
  const beaDir = path.join(work, "bea");
  for (const [worker, dir] of [[ann, annDir], [bea, beaDir]]) {
    const code = admin("enrollment", "issue", "--worker", worker).split(" ")[0];
    cli(dir, "setup", "--server", url, "--enroll", code, "--name", "tablet");
  }

  // Ann: three initial assessments completed today, started 2, 3 and 30 days ago (7 working
  // days is the limit: the first two are in time, the third is late), one still open from 30
  // days ago (outstanding and overdue), and two visits this month.
  const annChild = cli(annDir, "child", "add", "--first", "Alex", "--last", "Smith", "--dob", "2015-03-02", "--gender", "1");
  const annChild2 = cli(annDir, "child", "add", "--first", "Sam", "--last", "Jones", "--dob", "2017-08-14", "--gender", "2");
  const started = [daysAgo(2), daysAgo(3), daysAgo(30)];
  for (const start of started) {
    const id = cli(annDir, "assessment", "start", "--case", annChild, "--kind", "initial", "--start", start).split(/\s+/)[0];
    cli(annDir, "assessment", "complete", id);
  }
  cli(annDir, "assessment", "start", "--case", annChild2, "--kind", "initial", "--start", daysAgo(30));
  cli(annDir, "visit", "record", "--case", annChild, "--type", "child_in_need", "--start", hoursAgo(1), "--seen");
  cli(annDir, "visit", "record", "--case", annChild2, "--type", "child_in_need", "--start", hoursAgo(30), "--seen");
  // History for the trends: a visit in each of the last five months, each recorded only now
  // (so late), and three assessments started 150, 100 and 60 days ago and still open (a
  // backlog that grew).
  for (let m = 1; m <= 5; m++) {
    cli(annDir, "visit", "record", "--case", annChild2, "--type", "child_in_need", "--start", monthsAgo(m), "--seen");
  }
  for (const days of [150, 100, 60]) {
    cli(annDir, "assessment", "start", "--case", annChild2, "--kind", "initial", "--start", daysAgo(days));
  }
  cli(annDir, "sync");
  // Bea: one initial assessment completed late (started 25 days ago) and one visit.
  const beaChild = cli(beaDir, "child", "add", "--first", "Kim", "--last", "Lee", "--dob", "2012-01-20", "--gender", "1");
  const late = cli(beaDir, "assessment", "start", "--case", beaChild, "--kind", "initial", "--start", daysAgo(25)).split(/\s+/)[0];
  cli(beaDir, "assessment", "complete", late);
  cli(beaDir, "visit", "record", "--case", beaChild, "--type", "child_in_need", "--start", hoursAgo(5), "--seen");
  cli(beaDir, "sync");

  // --- The browser ---
  const args = ["--disable-gpu", "--disable-dev-shm-usage"];
  if (process.getuid && process.getuid() === 0) args.push("--no-sandbox"); // root in CI
  browser = await chromium.launch({ executablePath: chromiumBin, headless: true, args });
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  // Script errors and CSP violations are problems; failed requests are judged by their
  // address (signing in with a wrong password, or before a session exists, answers 401).
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) {
      problems.push("console error: " + msg.text());
    }
  });
  page.on("response", (res) => {
    const p = new URL(res.url()).pathname;
    if (res.status() >= 400 && !(res.status() === 401 && p === "/v1/session")) {
      problems.push(`HTTP ${res.status()} for ${res.request().method()} ${p}`);
    }
  });
  page.on("pageerror", (err) => problems.push("page error: " + err.message));
  const apiJson = (p) => page.evaluate(async (u) => {
    const r = await fetch(u, { credentials: "same-origin" });
    return { status: r.status, body: await r.json() };
  }, p);

  // Sign in: / redirects to the dashboard, which asks for a sign-in.
  await page.goto(url + "/");
  equal(new URL(page.url()).pathname, "/dashboard/", "the address after opening /");
  await page.waitForSelector("#signin-form", { state: "visible" });
  await page.fill("#worker-id", flo);
  await page.fill("#password", "not the password");
  await page.click("#signin-submit");
  await page.waitForFunction(() => document.getElementById("signin-error").textContent.length > 0);
  await screenshot(page, "signin");
  await page.fill("#password", PASSWORD);
  await page.click("#signin-submit");
  await page.waitForSelector('.card[data-indicator="ni59"]');
  await page.waitForFunction(() => document.querySelectorAll(".chart canvas").length > 0);
  await page.waitForTimeout(300); // charts draw on the next frame
  await screenshot(page, "overview");

  // The overview's numbers are the API's, and the API's are the hand-worked answers.
  const overview = await apiJson("/v1/figures/overview");
  equal(overview.status, 200, "GET /v1/figures/overview");
  const byId = Object.fromEntries(overview.body.figures.map((f) => [f.indicator, f]));
  equal(byId.ni59.numerator, 2, "NI 59 numerator (2 of 4 initial assessments in time)");
  equal(byId.ni59.denominator, 4, "NI 59 denominator");
  equal(byId.ni59.value, 50, "NI 59 value");
  equal(byId.ni59.rag, "red", "NI 59 status against its 80% target");
  equal(byId.recording_delay.denominator, 3, "visits in the recording delay");
  const cards = await page.$$eval(".card", (els) => els.map((c) => ({
    id: c.dataset.indicator,
    value: c.querySelector("data.figure-value").getAttribute("value"),
    text: c.querySelector("data.figure-value").textContent,
    fraction: c.querySelector(".fraction").textContent,
    rag: c.className,
  })));
  equal(cards.length, overview.body.figures.length, "cards on the overview");
  for (const card of cards) {
    const f = byId[card.id];
    check(f, `card ${card.id} is not in the API's answer`);
    const expected = f.value === null ? "" : String(f.value);
    equal(card.value, expected, `value of ${card.id} on the page`);
    check(card.rag.includes("rag-" + f.rag), `${card.id}: status ${f.rag} not shown (${card.rag})`);
    const fraction = f.unit === "%" || f.indicator === "recording_delay"
      ? `${f.numerator} of ${f.denominator}` : `${f.denominator} records`;
    equal(card.fraction, fraction, `numerator and denominator of ${card.id} on the page`);
  }
  equal(cards.find((c) => c.id === "ni59").text, "50.0%", "NI 59 as shown");

  // Drill down: authority > North > Assessment East > Ann, then the records behind Ann's figure.
  await page.click("#open-ni59");
  await page.waitForSelector("#by-unit");
  await page.getByRole("link", { name: "North", exact: true }).click();
  await page.waitForFunction(() => document.querySelector("h2#headline") && document.querySelector("h2#headline").textContent.startsWith("North"));
  await page.getByRole("link", { name: "Assessment East", exact: true }).click();
  await page.waitForFunction(() => document.querySelector("h2#headline").textContent.startsWith("Assessment East"));
  await page.waitForTimeout(300);
  await screenshot(page, "drill-down-team");
  const team = await apiJson(`/v1/figures/indicators/ni59?level=team&unit=${east}`);
  equal(team.body.breakdown.map((b) => b.unit.name).join(","), "Ann Ash,Bea Birch,Flo Fir,Meg Maple", "workers of Assessment East");
  await page.getByRole("link", { name: "Ann Ash", exact: true }).click();
  await page.waitForFunction(() => document.querySelector("h2#headline").textContent.startsWith("Ann Ash"));
  const worker = await apiJson(`/v1/figures/indicators/ni59?level=worker&unit=${ann}`);
  equal(`${worker.body.figure.numerator}/${worker.body.figure.denominator}`, "2/3", "Ann's NI 59 (2 of 3 in time)");
  check(Math.abs(worker.body.figure.value - 200 / 3) < 1e-9, "Ann's NI 59 value: " + worker.body.figure.value);
  const shown = await page.$eval("#headline ~ dl data.figure-value", (d) => d.getAttribute("value"));
  equal(shown, String(worker.body.figure.value), "Ann's NI 59 on the page");
  await page.click("#records-link");
  await page.waitForSelector("table caption");
  const rows = await page.$$eval("main table tbody tr", (trs) => trs.map((tr) => tr.children[0].textContent));
  const records = await apiJson(`/v1/figures/indicators/ni59/records?level=worker&unit=${ann}`);
  equal(rows.length, 3, "records behind Ann's NI 59 on the page");
  equal(rows.join(","), records.body.records.map((r) => r.record_id).join(","), "record ids on the page");
  await screenshot(page, "records");
  // Reading them was audited: case_read entries by Flo for Ann's case, with the relation.
  const audit = execFileSync(serverBin, ["admin", "--database", db, "--quiet", "audit", "list", "--worker", flo, "--action", "case_read"], { encoding: "utf8" });
  // Flo is in Ann's team, so the case relates to Flo as "team".
  check(audit.split("\n").some((l) => l.includes(annChild) && l.includes("\tteam\t") && l.includes("behind a figure")),
    "no case_read audit entry for the records Flo read:\n" + audit);

  // Backlog and recording delay pages.
  await page.goto(url + "/dashboard/#/backlog");
  await page.waitForSelector("#backlog-title");
  await page.waitForTimeout(300);
  await screenshot(page, "backlog");
  const backlog = await apiJson("/v1/figures/backlog");
  const last = backlog.body.series[backlog.body.series.length - 1];
  equal(last.outstanding, 4, "assessments outstanding today");
  equal(last.overdue, 4, "assessments overdue today");
  const outstanding = backlog.body.series.map((p) => p.outstanding);
  check(outstanding[outstanding.length - 6] < outstanding[outstanding.length - 2],
    "the backlog did not grow over the last months: " + outstanding);
  const drawn = await page.$$eval("main table tbody tr", (trs) => trs.map((tr) => tr.children[2].textContent));
  equal(drawn.join(","), outstanding.join(","), "the backlog table on the page");
  await page.goto(url + "/dashboard/#/recording-delay");
  await page.waitForSelector("#delay-visits");
  await page.waitForTimeout(300);
  await screenshot(page, "recording-delay");

  // A visit recorded and synced by a device changes the open overview, without a reload.
  await page.goto(url + "/dashboard/#/overview");
  await page.waitForSelector('.card[data-indicator="recording_delay"]');
  await page.evaluate(() => { window.notReloaded = true; });
  const before = await page.$eval('.card[data-indicator="recording_delay"] .fraction', (e) => e.textContent);
  equal(before, "3 of 3", "visits before the new sync");
  await page.click('.card[data-indicator="recording_delay"] summary'); // the reader opens its numbers
  await page.waitForTimeout(500); // the page is waiting on the change feed
  cli(beaDir, "visit", "record", "--case", beaChild, "--type", "child_in_need", "--start", hoursAgo(0.2), "--seen");
  cli(beaDir, "sync");
  await page.waitForFunction(() => document.querySelector('.card[data-indicator="recording_delay"] .fraction').textContent === "4 of 4",
    null, { timeout: 30000 }).catch(() => fail("the overview did not show the synced visit within 30 s"));
  check(await page.evaluate(() => window.notReloaded === true), "the page was reloaded to show the new visit");
  check(await page.$eval('.card[data-indicator="recording_delay"] details', (d) => d.open),
    "the numbers the reader had opened were closed by the update");
  const live = await page.$eval("#live", (e) => e.textContent);
  check(live.startsWith("Figures updated"), "the update was not announced: " + JSON.stringify(live));

  // An open list of records is not read again by itself (reading it is audited): the page
  // offers the current list, which the reader asks for.
  await page.goto(url + "/dashboard/#/records/recording_delay");
  await page.waitForSelector("main table tbody tr");
  equal((await page.$$("main table tbody tr")).length, 4, "visits listed before another sync");
  const readsBefore = execFileSync(serverBin, ["admin", "--database", db, "--quiet", "audit", "list", "--worker", flo, "--action", "case_read"], { encoding: "utf8" }).trim().split("\n").length;
  await page.waitForTimeout(500);
  cli(annDir, "visit", "record", "--case", annChild, "--type", "child_in_need", "--start", hoursAgo(0.1), "--seen");
  cli(annDir, "sync");
  await page.waitForSelector("#stale-records", { timeout: 30000 }).catch(() => fail("the records page did not say the figures changed"));
  equal((await page.$$("main table tbody tr")).length, 4, "visits listed before the reader asks again");
  const readsAfter = execFileSync(serverBin, ["admin", "--database", db, "--quiet", "audit", "list", "--worker", flo, "--action", "case_read"], { encoding: "utf8" }).trim().split("\n").length;
  equal(readsAfter, readsBefore, "case reads audited while the reader did nothing");
  await page.click("#refresh-records");
  await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length === 5, null, { timeout: 10000 })
    .catch(() => fail("the current records were not shown after asking"));

  // The performance report: every indicator's line, the figures the API gives, and a printable
  // page that renders and prints.
  await page.goto(url + "/dashboard/#/performance");
  await page.waitForSelector("main table tbody tr .figure-cell");
  const report = await apiJson("/v1/reports/performance");
  equal(report.status, 200, "GET /v1/reports/performance");
  const lines = await page.$$eval("main table tbody tr", (trs) => trs.map((tr) => ({
    reference: tr.children[0].textContent,
    indicator: tr.querySelector(".figure-cell").dataset.indicator,
    value: tr.querySelector(".figure-cell").textContent,
    status: tr.children[tr.children.length - 1].textContent,
  })));
  equal(lines.length, report.body.rows.length, "lines of the performance report");
  const ni59Line = lines.find((l) => l.indicator === "ni59");
  check(ni59Line, "NI 59 is not in the performance report");
  equal(ni59Line.reference, "NI 59", "NI 59's reference");
  equal(ni59Line.value, "50.0%", "NI 59 this period in the report");
  equal(ni59Line.status, "Target missed", "NI 59's status in the report");
  await screenshot(page, "performance-report");
  const printablePath = await page.$eval("#printable-link", (a) => a.getAttribute("href"));
  const printable = await context.newPage();
  const printed = await printable.goto(url + printablePath);
  equal(printed.status(), 200, "the printable performance report");
  const printedText = await printable.textContent("body");
  check(printedText.includes("NI 59"), "the printable report has no NI 59 line");
  await printable.emulateMedia({ media: "print" });
  const pdf = await printable.pdf({ path: path.join(artefacts, "performance-report.pdf"), format: "A4", landscape: true });
  check(pdf.length > 1000, "the printed performance report is empty");
  await printable.close();

  // Data quality: the records to fix per team, as many as the API lists.
  await page.goto(url + "/dashboard/#/data-quality");
  await page.waitForFunction(() => document.getElementById("updated") &&
    document.querySelector("#view h1") && document.querySelector("#view h1").textContent.startsWith("Data quality"));
  const quality = await apiJson("/v1/data-quality");
  equal(quality.status, 200, "GET /v1/data-quality");
  const listed = (await page.$$("main .dq-team table tbody tr")).length;
  equal(listed, quality.body.records.length, "records to fix on the page");
  // (The CLI's devices keep true time and valid dates, so this list is empty here; the list's
  // contents are pinned by the [reports] tests.)
  const summary = await page.textContent("#updated");
  check(quality.body.records.length === 0
    ? summary.includes("no record behind these figures needs fixing")
    : summary.includes(quality.body.records.length + " records"), "the page's count: " + summary);
  await screenshot(page, "data-quality");

  // Keyboard: the skip link comes first and moves focus to the content; Tab then reaches the
  // navigation, the pickers, the CSV link and every figure's link; Enter opens a figure.
  await page.goto(url + "/dashboard/#/overview");
  await page.reload();
  await page.waitForSelector('.card[data-indicator="ni59"]');
  await page.keyboard.press("Tab");
  equal(await page.evaluate(() => document.activeElement.textContent), "Skip to main content", "first Tab stop");
  await page.keyboard.press("Enter");
  equal(await page.evaluate(() => document.activeElement.id), "main", "focus after the skip link");
  check(page.url().endsWith("#/overview"), "the skip link changed the address: " + page.url());
  await page.reload();
  await page.waitForSelector('.card[data-indicator="ni59"]');
  const reached = [];
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press("Tab");
    reached.push(await page.evaluate(() => {
      const a = document.activeElement;
      return a.id || a.getAttribute("data-page") || a.textContent.trim();
    }));
  }
  for (const want of ["overview", "backlog", "recording-delay", "performance", "data-quality", "sign-out",
    "unit-select", "period-select", "csv-link", "open-ni59", "open-ni60"]) {
    check(reached.includes(want), `Tab never reached ${want}; reached ${reached.join(", ")}`);
  }
  const focusVisible = await page.evaluate(() => {
    const a = document.getElementById("open-ni59");
    a.focus();
    return getComputedStyle(a).outlineStyle !== "none";
  });
  check(focusVisible, "a focused link shows no outline");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#by-unit");
  check(page.url().includes("#/indicator/ni59"), "Enter on a figure did not open it: " + page.url());

  // A tablet held upright.
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.goto(url + "/dashboard/#/overview");
  await page.waitForSelector('.card[data-indicator="ni59"]');
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the overview is ${overflow}px wider than a 768px screen`);
  await screenshot(page, "overview-portrait");

  // Sign out: the sign-in form returns and the session no longer reads figures.
  await page.click("#sign-out");
  await page.waitForSelector("#signin-form", { state: "visible" });
  equal((await apiJson("/v1/figures/scope")).status, 401, "figures after signing out");
  problems.splice(0, problems.length, ...problems.filter((p) => p !== "HTTP 401 for GET /v1/figures/scope"));

  // A team manager sees their team; another team is refused.
  const other = await context.newPage();
  await other.goto(url + "/dashboard/");
  const managerApi = await other.evaluate(async ({ meg, password, west }) => {
    const s = await fetch("/v1/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ worker_id: meg, password }) });
    const scope = await (await fetch("/v1/figures/scope")).json();
    const refused = await fetch(`/v1/figures/overview?level=team&unit=${west}`);
    return { signedIn: s.status, home: scope.home.name, refused: refused.status };
  }, { meg, password: PASSWORD, west });
  equal(managerApi.signedIn, 200, "the team manager's sign-in");
  equal(managerApi.home, "Assessment East", "the team manager's home unit");
  equal(managerApi.refused, 403, "a team manager asking for another team");

  check(problems.length === 0, "the browser reported problems:\n" + problems.join("\n"));
}

let code = 0;
try {
  await main();
  console.log("browser test: 1 passed, 0 failed (screenshots in " + artefacts + ")");
} catch (e) {
  console.error("browser test FAILED: " + (e.testFailure ? e.message : e.stack || e));
  console.log("browser test: 0 passed, 1 failed");
  code = 1;
} finally {
  await stopAll();
  fs.rmSync(work, { recursive: true, force: true });
}
process.exit(code);
