// fieldcase-server: command-line entry point of the central service (serve, admin).
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fieldcase/durable_file.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/secure_bytes.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/cin_census.hpp"
#include "fieldcase/server/command_line.hpp"
#include "fieldcase/server/config.hpp"
#include "fieldcase/server/figures.hpp"
#include "fieldcase/server/figures_service.hpp"
#include "fieldcase/server/http_server.hpp"
#include "fieldcase/server/open_store.hpp"
#include "fieldcase/server/reports.hpp"
#include "fieldcase/server/reports_service.hpp"
#include "fieldcase/server/sync_service.hpp"
#include "fieldcase/version.hpp"

namespace {

using fieldcase::Errc;
using fieldcase::Status;
using namespace fieldcase::server;

constexpr std::string_view kUsage =
    "usage: fieldcase-server <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--config FILE] [--listen HOST:PORT] [--database PATH|URI]\n"
    "                      run the sync service (default 127.0.0.1:8480); port 0 picks a free\n"
    "                      port. Prints \"fieldcase-server <version> listening on\n"
    "                      http://HOST:PORT\" once it accepts connections. SIGTERM or SIGINT\n"
    "                      stop it cleanly.\n"
    "  migrate [--config FILE] [--database PATH|URI]\n"
    "                      bring the database's schema to this build's version and exit.\n"
    "                      Required before serve on PostgreSQL (serve refuses any other\n"
    "                      schema); safe to run from several hosts at once (advisory lock).\n"
    "                      SQLite files are also migrated when opened.\n"
    "  admin [--config FILE] [--database PATH|URI] [--quiet] <what> ...\n"
    "                      administer the organisation, allocations and device tokens\n"
    "                      (fieldcase-server admin --help lists them)\n"
    "  --version           print the version and build information\n"
    "  --help              show this help\n"
    "\n"
    "Settings come from the defaults, then --config FILE (or $FIELDCASE_CONFIG), then\n"
    "FIELDCASE_* environment variables, then options. database is a SQLite file path or a\n"
    "postgresql:// URI. Config keys: listen, database, database_pool_size, threads,\n"
    "keep_alive_seconds, "
    "max_body_bytes, read_timeout_seconds, write_timeout_seconds, offset_threshold_seconds,\n"
    "plausibility_slack_seconds, reallocation_grace_hours, clock_window, clock_step_seconds,\n"
    "clock_max_age_hours, max_page_bytes, enrollment_ttl_hours, enrollment_attempts,\n"
    "session_idle_minutes, session_absolute_hours, signin_lockout_failures,\n"
    "signin_lockout_minutes, max_queued_connections, body_deadline_seconds,\n"
    "tls_cert, tls_key, allow_plain_http, rate_limit_per_minute, rate_limit_burst,\n"
    "offline_limit_days, population_under_18, head_timeout_seconds, max_head_bytes,\n"
    "max_web_body_bytes, max_inflight_body_bytes, max_pending_per_address,\n"
    "max_stamp_ahead_seconds, code_secret_file.\n"
    "Without tls_cert and tls_key the server listens on loopback only, unless\n"
    "allow_plain_http = true. Exit status: 0 success, 1 failure, 2 usage error.\n";

constexpr std::string_view kAdminUsage =
    "usage: fieldcase-server admin [--config FILE] [--database PATH|URI] [--quiet] <what> ...\n"
    "\n"
    "  authority create --name NAME --la-code NNN   the local authority (one per server)\n"
    "  area create --name NAME                      an area of the authority\n"
    "  team create --name NAME --area AREA_ID       a team in an area\n"
    "  worker create --name NAME --role ROLE [--team TEAM_ID]\n"
    "                                               ROLE: social_worker, team_manager,\n"
    "                                               area_manager, service_lead,\n"
    "                                               contact_centre, administrator\n"
    "                                               (managers need --team)\n"
    "  allocate --case CHILD_ID --worker WORKER_ID  allocate a child's case (the child may\n"
    "                                               not exist yet); reallocating moves it\n"
    "  worker list                                  id, name, role, team, active\n"
    "  worker deactivate --worker WORKER_ID         the worker leaves: no sign-in, enrollment,\n"
    "                                               devices or cases; their active devices are\n"
    "                                               revoked (retiring ones deliver, then wipe)\n"
    "  worker set-role --worker WORKER_ID --role ROLE\n"
    "                                               change a role (ends their web sessions)\n"
    "  grant list                                   role grants made over the web that wait\n"
    "                                               for a second person: grant, worker, from,\n"
    "                                               to, requested by, requested at\n"
    "  grant approve --grant GRANT_ID               the second person: the role takes effect\n"
    "  grant refuse --grant GRANT_ID                the worker keeps their role\n"
    "  worker set-password --worker WORKER_ID       web sign-in password (12+ characters),\n"
    "                                               read from $FIELDCASE_PASSWORD or the first\n"
    "                                               line of standard input, never an argument\n"
    "  enrollment issue --worker WORKER_ID          a one-time code for a new device (shown\n"
    "                                               once; expires after enrollment_ttl_hours)\n"
    "  device issue --worker WORKER_ID              issue a device token, shown once\n"
    "  device revoke --device DEVICE_ID             lost or stolen: every request is refused\n"
    "                                               and the device is told to wipe itself\n"
    "  device retire --device DEVICE_ID             staff leaving: its pending work is accepted\n"
    "                                               at its next sync, then it wipes itself\n"
    "  device list                                  id, worker, status, last sync, offset, name\n"
    "  audit verify                                 check the audit log's hash chain\n"
    "  audit case --case CHILD_ID                   who accessed this child's record, when,\n"
    "                                               from which device\n"
    "  audit unallocated [--worker WORKER_ID]       reads and writes of cases not allocated\n"
    "                                               to the person at the time\n"
    "  audit list [--worker ID] [--device ID] [--action ACTION] [--limit N]\n"
    "  figures --indicator ID --period P [--level L --id ID] [--as-of DATE] [--population N]\n"
    "                                               one figure: P is YYYY-MM, YYYY-Qn or\n"
    "                                               FYYYYY-YY; L authority (default), area,\n"
    "                                               team or worker; --drill yes lists the\n"
    "                                               records behind it\n"
    "  figures list                                 the indicators\n"
    "  figures recompute                            rebuild every figure fact from the records\n"
    "  report performance [--period P] [--level L --id ID] [--as-of DATE]\n"
    "                     [--format text|csv|html]\n"
    "                                               the performance report: every indicator\n"
    "                                               with its reference, owner, baseline,\n"
    "                                               previous year, target, result, data-quality\n"
    "                                               note and RAG status (tab-separated, CSV,\n"
    "                                               or the printable HTML page)\n"
    "  data-quality [--period P] [--level L --id ID] [--as-of DATE] [--format csv]\n"
    "                                               the records to fix, per team, with the\n"
    "                                               reason and the figures each affects\n"
    "                                               (reads of the cases listed are audited)\n"
    "                     P defaults to the current financial year, L to the authority, the\n"
    "                     as-of day to today; --population N gives the under-18 population\n"
    "                     (default: the population_under_18 setting)\n"
    "  export cin --year YYYY --out FILE [--report FILE]\n"
    "                                               the Children in Need census XML of the\n"
    "                                               year 1 April YYYY-1 to 31 March YYYY;\n"
    "                                               records that cannot be exported cleanly\n"
    "                                               are listed (CSV to --report FILE, else\n"
    "                                               tab-separated on stdout); every case read\n"
    "                                               is audited\n"
    "\n"
    "Each create prints \"<kind> <id>\"; with --quiet only the id (device issue prints\n"
    "\"<device id> <token>\", enrollment issue \"<code> <expires at>\"), so scripts can capture\n"
    "them. Audit entries print as tab-separated seq, time, action, outcome, worker, device,\n"
    "case, record, relation, detail. audit verify exits 1 when the chain is broken. Errors go\n"
    "to stderr.\n";

int usage_error(std::string_view message, std::string_view usage) {
  std::cerr << "fieldcase-server: " << message << "\n\n" << usage;
  return 2;
}

int failure(const Status& st) {
  std::cerr << "fieldcase-server: " << st.message() << "\n";
  return 1;
}

ServerStoreOptions store_options(const ServerConfig& config) {
  return {config.database, config.database_pool_size};
}

int serve(int argc, char** argv) {
  CommandLine args;
  Status parsed = parse_command_line(argc, argv, 2, {"config", "listen", "database"}, args);
  if (!parsed.ok()) return usage_error(parsed.message(), kUsage);
  if (args.help) {
    std::cout << kUsage;
    return 0;
  }
  if (!args.words.empty()) return usage_error("serve takes no arguments", kUsage);
  ServerConfig config;
  Status st = load_server_config(args, config);
  if (st.ok()) st = check_config(config);
  if (!st.ok()) return usage_error(st.message(), kUsage);
  std::string host;
  int port = 0;
  st = parse_listen(config.listen, host, port);
  if (!st.ok()) return usage_error(st.message(), kUsage);

  // Signals are taken by one thread with sigwait, so every other thread runs undisturbed.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // On SQLite each service has a store of its own (one connection each: a slow Argon2id check,
  // an audit query or a long report never holds up sync); on PostgreSQL they share one store
  // and its pool of database_pool_size connections.
  std::vector<std::unique_ptr<ServerStore>> stores;
  auto service_store = [&]() -> fieldcase::Result<ServerStore*> {
    if (!stores.empty() && store_is_thread_safe(store_options(config))) return stores[0].get();
    auto opened = open_server_store(store_options(config));
    if (!opened.ok()) return opened.status();
    stores.push_back(std::move(*opened));
    return stores.back().get();
  };
  auto store = service_store();
  if (!store.ok()) return failure(store.status());
  SyncService service(**store, fieldcase::SystemClock::instance(), config.service);
  auto access_store = service_store();
  if (!access_store.ok()) return failure(access_store.status());
  auto secret_path = code_secret_path(config);
  if (!secret_path.ok()) return usage_error(secret_path.status().message(), kUsage);
  auto secret = ServerSecret::load_or_create(*secret_path);
  if (!secret.ok()) return failure(secret.status());
  config.access.code_secret = *secret;
  AccessService access(**access_store, fieldcase::SystemClock::instance(), config.access);
  // Each sync that changes figure facts moves the dashboard's change feed on.
  auto figures_store = service_store();
  if (!figures_store.ok()) return failure(figures_store.status());
  FiguresServiceOptions figures_options;
  figures_options.figures.population_under_18 = config.population_under_18;
  // Waiting pages may take at most a quarter of the connection threads.
  figures_options.max_waiters = static_cast<std::size_t>(std::max(1, config.threads / 4));
  FiguresService figures(**figures_store, fieldcase::SystemClock::instance(), figures_options);
  // The change feed polls the figure change log on a connection of its own (on PostgreSQL, the
  // shared pool), so a waiting page never waits for a long figure computation.
  auto feed_store = service_store();
  if (!feed_store.ok()) return failure(feed_store.status());
  figures.watch_changes_through(**feed_store);
  service.on_figures_changed(
      [&figures](const std::vector<std::string>& cases) { figures.figures_changed(cases); });
  HttpOptions http;
  http.threads = config.threads;
  http.max_queued_connections = config.max_queued_connections;
  http.keep_alive = config.keep_alive;
  http.max_body_bytes = config.max_body_bytes;
  http.read_timeout = config.read_timeout;
  http.write_timeout = config.write_timeout;
  http.body_deadline = config.body_deadline;
  http.head_timeout = config.head_timeout;
  http.max_head_bytes = config.max_head_bytes;
  http.max_web_body_bytes = config.max_web_body_bytes;
  http.max_inflight_body_bytes = std::max(config.max_inflight_body_bytes, config.max_body_bytes);
  http.max_pending_per_address = config.max_pending_per_address;
  http.tls_cert = config.tls_cert;
  http.tls_key = config.tls_key;
  http.allow_plain_http = config.allow_plain_http;
  http.rate_limit_per_minute = config.rate_limit_per_minute;
  http.rate_limit_burst = config.rate_limit_burst;
  // /v1/ready asks the database on a connection of its own.
  auto ready_store = service_store();
  if (!ready_store.ok()) return failure(ready_store.status());
  http.readiness = [&ready_store] { return check_store_ready(**ready_store); };
  HttpServer server(service, &access, &figures, fieldcase::SystemClock::instance(), http);
  auto reports_store = service_store();
  if (!reports_store.ok()) return failure(reports_store.status());
  figures::FiguresConfig reports_config;
  reports_config.population_under_18 = config.population_under_18;
  ReportsService reports(**reports_store, fieldcase::SystemClock::instance(), reports_config);
  reports.use_facts_of(figures);  // the reports read the dashboard's facts, kept current
  if (Status served = server.serve_reports(reports); !served.ok()) return failure(served);
  auto bound = server.bind(host, port);
  if (!bound.ok()) return failure(bound.status());

  // The figures' facts are read while the server starts listening: the first dashboard page
  // waits for them only if it comes before they are in.
  std::thread warm_figures([&figures] {
    if (Status warmed = figures.warm(); !warmed.ok()) {
      std::cerr << "fieldcase-server: figures not read at start: " << warmed.message() << "\n";
    }
  });
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    // Repeat until run() has returned: a stop that lands before listening starts is not lost.
    while (!finished.load()) {
      server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::cout << "fieldcase-server " << fieldcase::version() << " listening on "
            << (config.tls_cert.empty() ? "http://" : "https://")
            << (host.find(':') != std::string::npos ? "[" + host + "]" : host) << ":" << *bound
            << std::endl;
  Status ran = server.run();
  finished.store(true);
  pthread_kill(watcher.native_handle(), SIGTERM);  // wakes the watcher if no signal came
  watcher.join();
  figures.close();
  warm_figures.join();
  if (!ran.ok()) return failure(ran);
  std::cerr << "fieldcase-server: stopped\n";
  return 0;
}

int migrate(int argc, char** argv) {
  CommandLine args;
  Status parsed = parse_command_line(argc, argv, 2, {"config", "database"}, args);
  if (!parsed.ok()) return usage_error(parsed.message(), kUsage);
  if (args.help) {
    std::cout << kUsage;
    return 0;
  }
  if (!args.words.empty()) return usage_error("migrate takes no arguments", kUsage);
  ServerConfig config;
  if (Status st = load_server_config(args, config); !st.ok()) return usage_error(st.message(), kUsage);
  auto change = migrate_server_store(store_options(config));
  if (!change.ok()) return failure(change.status());
  if (change->before == change->after) {
    std::cout << "schema already at version " << change->after << "\n";
  } else {
    std::cout << "schema migrated from version " << change->before << " to " << change->after
              << "\n";
  }
  return 0;
}

std::string required(const CommandLine& args, const std::string& name, Status& st) {
  auto it = args.values.find(name);
  if (it == args.values.end() || it->second.empty()) {
    if (st.ok()) st = Status(Errc::invalid_argument, "--" + name + " is required");
    return {};
  }
  return it->second;
}

int print_id(const CommandLine& args, std::string_view kind, const fieldcase::Result<std::string>& id) {
  if (!id.ok()) return failure(id.status());
  if (args.quiet) {
    std::cout << *id << "\n";
  } else {
    std::cout << kind << " " << *id << "\n";
  }
  return 0;
}

// The unit, period, as-of day and format of `admin report performance` and `admin
// data-quality`; a usage error is returned as Errc::invalid_argument.
struct ReportArgs {
  figures::Level level = figures::Level::authority;
  std::string id;
  figures::Period period;
  fieldcase::Date as_of;
  bool csv = false;
  bool html = false;  // the performance report's printable page
  figures::FiguresConfig config;
};

fieldcase::Result<ReportArgs> report_args(const CommandLine& args, const ServerConfig& config,
                                          fieldcase::Date today) {
  namespace fg = fieldcase::server::figures;
  ReportArgs r;
  auto unit = fg::parse_unit(args.value("level"), args.value("id"),
                             {"--level", "--id"});
  if (!unit.ok()) return unit.status();
  if (*unit) {
    r.level = (*unit)->level;
    r.id = (*unit)->id;
  }
  const std::string period = args.value("period");
  if (period.empty()) {
    r.period = fg::financial_year_of(today);
  } else {
    auto p = fg::parse_period(period);
    if (!p.ok()) return p.status();
    r.period = *p;
  }
  r.as_of = today;
  if (const std::string as_of = args.value("as-of"); !as_of.empty()) {
    auto d = fg::parse_day(as_of, "--as-of");
    if (!d.ok()) return d.status();
    r.as_of = *d;
  }
  const std::string format = args.value("format");
  if (!format.empty() && format != "csv" && format != "text" && format != "html") {
    return Status(Errc::invalid_argument, "--format is text, csv or html");
  }
  r.csv = format == "csv";
  r.html = format == "html";
  r.config.population_under_18 = config.population_under_18;
  if (const std::string pop = args.value("population"); !pop.empty()) {
    if (pop.size() > 12 || pop.find_first_not_of("0123456789") != std::string::npos) {
      return Status(Errc::invalid_argument, "--population is a whole number");
    }
    r.config.population_under_18 = std::stoll(pop);
  }
  return r;
}

fieldcase::Date today_utc() {
  return figures::reporting_day(std::chrono::system_clock::now());
}

// admin report performance, admin data-quality.
int report_command(const CommandLine& args, const ServerConfig& config) {
  const bool performance = args.words[0] == "report";
  if (performance ? (args.words.size() != 2 || args.words[1] != "performance")
                  : args.words.size() != 1) {
    std::string words;
    for (const auto& w : args.words) words += (words.empty() ? "" : " ") + w;
    return usage_error("unknown admin command '" + words + "'", kAdminUsage);
  }
  auto r = report_args(args, config, today_utc());
  if (!r.ok()) return usage_error(r.status().message(), kAdminUsage);
  auto store = open_server_store(store_options(config));
  if (!store.ok()) return failure(store.status());
  auto unit = reports::resolve_unit(**store, r->level, r->id);
  if (!unit.ok()) return failure(unit.status());
  if (performance) {
    auto report = reports::performance_report(**store, r->config, *unit, r->period, r->as_of);
    if (!report.ok()) return failure(report.status());
    if (r->html) {
      auto authority = (*store)->find_authority();
      if (!authority.ok()) return failure(authority.status());
      std::cout << reports::performance_html(*report, *authority ? (*authority)->name : "");
      return 0;
    }
    std::cout << (r->csv ? reports::performance_csv(*report) : reports::performance_text(*report));
    return 0;
  }
  if (r->html) return usage_error("data-quality takes --format text or csv", kAdminUsage);
  auto list = reports::data_quality(**store, r->config, *unit, r->period, r->as_of);
  if (!list.ok()) return failure(list.status());
  std::vector<std::pair<std::string, std::string>> reads;
  for (const auto& rec : list->records) {
    if (reads.empty() || reads.back().first != rec.case_id) reads.emplace_back(rec.case_id, "");
  }
  std::sort(reads.begin(), reads.end());
  reads.erase(std::unique(reads.begin(), reads.end()), reads.end());
  Status audited = audit_case_reads(**store, fieldcase::SystemClock::instance(), "", reads,
                                    "data-quality list " + r->period.label + " " +
                                        std::string(figures::to_string(r->level)) +
                                        (r->id.empty() ? "" : " " + r->id));
  if (!audited.ok()) return failure(audited);
  if (r->csv) {
    std::cout << reports::data_quality_csv(*list);
    return 0;
  }
  if (!args.quiet) {
    std::cout << "team\tworker\tcase\trecord\tkind\tstart\tend\tflags\tindicators\treasons\n";
  }
  for (const auto& rec : list->records) {
    std::string flags, indicators, reasons;
    for (const auto& f : rec.flags) flags += (flags.empty() ? "" : ",") + f;
    for (const auto& i : rec.indicators) indicators += (indicators.empty() ? "" : ",") + i;
    for (const auto& x : rec.reasons) reasons += (reasons.empty() ? "" : " ") + x;
    std::cout << (rec.team_name.empty() ? "(not allocated)" : rec.team_name) << "\t"
              << (rec.worker_name.empty() ? "-" : rec.worker_name) << "\t" << rec.case_id << "\t"
              << rec.record_id << "\t" << to_string(rec.kind) << "\t"
              << (rec.start.empty() ? "-" : rec.start) << "\t" << (rec.end.empty() ? "-" : rec.end)
              << "\t" << flags << "\t" << indicators << "\t" << reasons << "\n";
  }
  return 0;
}

// admin export cin: the census file, and its exceptions.
int export_command(const CommandLine& args, const ServerConfig& config) {
  if (args.words.size() != 2 || args.words[1] != "cin") {
    std::string words;
    for (const auto& w : args.words) words += (words.empty() ? "" : " ") + w;
    return usage_error("unknown admin command '" + words + "'", kAdminUsage);
  }
  Status missing;
  const std::string year = required(args, "year", missing);
  const std::string out = required(args, "out", missing);
  if (!missing.ok()) return usage_error(missing.message(), kAdminUsage);
  if (year.size() != 4 || year.find_first_not_of("0123456789") != std::string::npos) {
    return usage_error("--year is the census year YYYY (the year of the 31 March it ends on)",
                       kAdminUsage);
  }
  const std::string report = args.value("report");
  auto store = open_server_store(store_options(config));
  if (!store.ok()) return failure(store.status());
  const auto& clock = fieldcase::SystemClock::instance();
  std::optional<cin::CensusExport> census;
  Status st = (*store)->transaction([&]() -> Status {
    auto c =
        cin::export_census(**store, std::stoi(year), fieldcase::format_iso_datetime(clock.wall()));
    if (!c.ok()) return c.status();
    std::vector<std::pair<std::string, std::string>> reads;
    for (const auto& id : c->cases_read) reads.emplace_back(id, "");
    FC_TRY(audit_case_reads(**store, clock, "", reads, "CIN census export " + year));
    census = std::move(*c);
    return {};
  });
  if (!st.ok()) return failure(st);
  auto bytes = [](const std::string& s) {
    return std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  if (!census->xml.empty()) {
    if (Status w = fieldcase::write_file_durably(out, bytes(census->xml)); !w.ok()) {
      return failure(w);
    }
  }
  if (!report.empty()) {
    if (Status w = fieldcase::write_file_durably(report, bytes(cin::exceptions_csv(*census)));
        !w.ok()) {
      return failure(w);
    }
  }
  if (!args.quiet) {
    std::cout << "CIN census " << year << " (" << census->year.first.to_string() << " to "
              << census->year.last.to_string() << "), LA " << census->la_code << ": "
              << census->children << " children, " << census->episodes << " referrals, "
              << census->exceptions.size() << " exceptions; written to " << out << "\n";
  }
  if (census->xml.empty()) {
    std::cerr << "fieldcase-server: no child is in the census of " << year
              << ": the schema needs at least one, so no file was written\n";
  }
  if (report.empty()) {
    for (const auto& e : census->exceptions) {
      std::cout << e.case_id << "\t" << (e.la_child_id.empty() ? "-" : e.la_child_id) << "\t"
                << e.record_id << "\t" << to_string(e.kind) << "\t" << cin::to_string(e.outcome)
                << "\t" << e.reason << "\n";
    }
  }
  return census->xml.empty() ? 1 : 0;
}

// admin figures: one figure, the list of indicators, or a full recomputation of the facts.
int figures_command(const CommandLine& args, const ServerConfig& config) {
  namespace fg = fieldcase::server::figures;
  const std::string verb = args.words.size() > 1 ? args.words[1] : std::string();
  if (args.words.size() > 2 || (!verb.empty() && verb != "list" && verb != "recompute")) {
    return usage_error("unknown admin figures command '" + verb + "'", kAdminUsage);
  }
  if (verb == "list") {
    for (const auto& d : fg::definitions()) std::cout << d.id << "\t" << d.title << "\n";
    return 0;
  }
  fg::FigureQuery q;
  fg::FiguresConfig figures_config;
  figures_config.population_under_18 = config.population_under_18;
  if (verb.empty()) {
    Status missing;
    q.indicator = required(args, "indicator", missing);
    const std::string period = required(args, "period", missing);
    if (!missing.ok()) return usage_error(missing.message(), kAdminUsage);
    if (fg::find_definition(q.indicator) == nullptr) {
      return usage_error("unknown indicator '" + q.indicator + "'", kAdminUsage);
    }
    auto p = fg::parse_period(period);
    if (!p.ok()) return usage_error(p.status().message(), kAdminUsage);
    q.period = *p;
    auto level =
        fg::parse_level(args.value("level").empty() ? std::string("authority")
                                                              : args.value("level"));
    if (!level)
      return usage_error("unknown level '" + args.value("level") + "'", kAdminUsage);
    q.level = *level;
    q.id = args.value("id");
    if (q.level != fg::Level::authority && q.id.empty()) {
      return usage_error("--level " + args.value("level") + " needs --id", kAdminUsage);
    }
    if (const std::string as_of = args.value("as-of"); !as_of.empty()) {
      auto d = fieldcase::Date::parse(as_of);
      if (!d.ok()) return usage_error(d.status().message(), kAdminUsage);
      q.as_of = *d;
    }
    if (const std::string pop = args.value("population"); !pop.empty()) {
      figures_config.population_under_18 = std::strtoll(pop.c_str(), nullptr, 10);
    }
  }
  auto store = open_server_store(store_options(config));
  if (!store.ok()) return failure(store.status());
  if (verb == "recompute") {
    Status done = fg::recompute(**store);
    if (!done.ok()) return failure(done);
    if (!args.quiet) std::cout << "figures recomputed\n";
    return 0;
  }
  auto result = fg::compute(**store, figures_config, q);
  if (!result.ok()) return failure(result.status());
  std::cout << fg::format_result(*result) << "\n";
  if (args.value("drill") == "yes") {
    for (const auto& r : result->records) {
      std::cout << r.record_id << "\t" << r.case_id << "\t" << r.worker_id << "\t" << r.start
                << "\t" << r.end << "\t" << (r.in_numerator ? "yes" : "no") << "\n";
    }
  }
  return 0;
}

int admin(int argc, char** argv) {
  CommandLine args;
  Status parsed = parse_command_line(
      argc, argv, 2,
      {"config", "database",   "name",   "la-code", "area",      "role",   "team",   "case",
       "worker", "device",     "action", "limit",   "indicator", "period", "level",  "id",
       "as-of",  "population", "drill",  "format",  "year",      "out",    "report", "grant"},
      args);
  if (!parsed.ok()) return usage_error(parsed.message(), kAdminUsage);
  if (args.help || args.words.empty()) {
    if (args.help) {
      std::cout << kAdminUsage;
      return 0;
    }
    return usage_error("admin needs a command", kAdminUsage);
  }
  ServerConfig config;
  Status st = load_server_config(args, config);
  if (!st.ok()) return usage_error(st.message(), kAdminUsage);

  if (args.words[0] == "figures") return figures_command(args, config);
  if (args.words[0] == "export") return export_command(args, config);
  if (args.words[0] == "report" || args.words[0] == "data-quality") {
    return report_command(args, config);
  }

  const std::string what = args.words[0];
  const std::string verb = args.words.size() > 1 ? args.words[1] : std::string();
  const std::size_t expected_words = what == "allocate" ? 1 : 2;
  if (args.words.size() != expected_words) {
    return usage_error("unknown admin command '" + what + (verb.empty() ? "" : " " + verb) + "'",
                       kAdminUsage);
  }
  // Check the command and its options before touching the database.
  Status missing;
  std::string name, la_code, area, team, case_id, worker, device, grant;
  fieldcase::Role role = fieldcase::Role::social_worker;
  if (what == "authority" && verb == "create") {
    name = required(args, "name", missing);
    la_code = required(args, "la-code", missing);
  } else if (what == "area" && verb == "create") {
    name = required(args, "name", missing);
  } else if (what == "team" && verb == "create") {
    name = required(args, "name", missing);
    area = required(args, "area", missing);
  } else if (what == "worker" && verb == "create") {
    name = required(args, "name", missing);
    std::string role_text = required(args, "role", missing);
    team = args.value("team");
    if (missing.ok()) {
      auto r = fieldcase::parse_role(role_text);
      if (!r) return usage_error("unknown role '" + role_text + "'", kAdminUsage);
      role = *r;
    }
  } else if (what == "allocate") {
    case_id = required(args, "case", missing);
    worker = required(args, "worker", missing);
  } else if (what == "device" && verb == "issue") {
    worker = required(args, "worker", missing);
  } else if (what == "device" && (verb == "revoke" || verb == "retire")) {
    device = required(args, "device", missing);
  } else if (what == "device" && verb == "list") {
  } else if (what == "worker" && verb == "list") {
  } else if (what == "worker" && (verb == "deactivate" || verb == "set-password")) {
    worker = required(args, "worker", missing);
  } else if (what == "worker" && verb == "set-role") {
    worker = required(args, "worker", missing);
    std::string role_text = required(args, "role", missing);
    if (missing.ok()) {
      auto r = fieldcase::parse_role(role_text);
      if (!r) return usage_error("unknown role '" + role_text + "'", kAdminUsage);
      role = *r;
    }
  } else if (what == "grant" && verb == "list") {
  } else if (what == "grant" && (verb == "approve" || verb == "refuse")) {
    grant = required(args, "grant", missing);
  } else if (what == "enrollment" && verb == "issue") {
    worker = required(args, "worker", missing);
  } else if (what == "audit" && verb == "verify") {
  } else if (what == "audit" && verb == "case") {
    case_id = required(args, "case", missing);
  } else if (what == "audit" && (verb == "unallocated" || verb == "list")) {
    worker = args.value("worker");
    device = args.value("device");
  } else {
    return usage_error("unknown admin command '" + what + (verb.empty() ? "" : " " + verb) + "'",
                       kAdminUsage);
  }
  if (!missing.ok()) return usage_error(missing.message(), kAdminUsage);

  std::size_t limit = 1000;
  if (auto text = args.value("limit"); !text.empty()) {
    if (text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(text) == 0) {
      return usage_error("--limit is a whole number from 1 to 999999", kAdminUsage);
    }
    limit = std::stoul(text);
  }
  // The password comes from the environment or standard input, never from an argument.
  std::string password;
  if (verb == "set-password") {
    if (const char* env = std::getenv("FIELDCASE_PASSWORD")) {
      password = env;
    } else if (!std::getline(std::cin, password)) {
      return usage_error("set-password reads the password from $FIELDCASE_PASSWORD or stdin",
                         kAdminUsage);
    }
    if (!password.empty() && password.back() == '\r') password.pop_back();
  }

  auto store = open_server_store(store_options(config));
  if (!store.ok()) return failure(store.status());
  Admin admin(**store, fieldcase::SystemClock::instance());

  auto print_audit = [](const std::vector<AuditEvent>& entries) {
    for (const auto& e : entries) {
      std::cout << e.seq << "\t" << e.at << "\t" << e.event << "\t" << e.outcome << "\t"
                << (e.worker_id.empty() ? "-" : e.worker_id) << "\t"
                << (e.device_id.empty() ? "-" : e.device_id) << "\t"
                << (e.case_id.empty() ? "-" : e.case_id) << "\t"
                << (e.record_id.empty() ? "-" : e.record_id) << "\t"
                << (e.relation.empty() ? "-" : e.relation) << "\t" << e.detail << "\n";
    }
  };
  if (what == "audit") {
    if (verb == "verify") {
      auto v = (*store)->verify_audit();
      if (!v.ok()) return failure(v.status());
      if (v->intact) {
        std::cout << "audit chain intact: " << v->entries << " entries, head " << v->head_hash
                  << "\n";
        return 0;
      }
      std::cout << "audit chain BROKEN at entry " << v->first_bad_seq << ": " << v->problem << "\n";
      return 1;
    }
    AuditQuery q;
    q.limit = limit;
    if (verb == "case") {
      q.case_id = case_id;
    } else {
      q.worker_id = worker;
      q.device_id = device;
      q.event = args.value("action");
      q.not_allocated = verb == "unallocated";
    }
    auto entries = (*store)->query_audit(q);
    if (!entries.ok()) return failure(entries.status());
    if (verb == "case") {
      std::vector<AuditEvent> accesses;
      // Reads, writes and every refusal that targeted the case.
      for (auto& e : *entries) {
        if (e.event == "case_read" || e.event == "case_write" || e.outcome == "refused") {
          accesses.push_back(std::move(e));
        }
      }
      *entries = std::move(accesses);
    }
    if (!args.quiet) {
      std::cout << "seq\tat\taction\toutcome\tworker\tdevice\tcase\trecord\trelation\tdetail\n";
    }
    print_audit(*entries);
    return 0;
  }
  if (what == "worker" && verb == "list") {
    auto workers = admin.list_workers();
    if (!workers.ok()) return failure(workers.status());
    if (!args.quiet) std::cout << "worker\tname\trole\tteam\tactive\n";
    for (const auto& w : *workers) {
      std::cout << w.id << "\t" << w.name << "\t" << to_string(w.role) << "\t"
                << (w.team_id.empty() ? "-" : w.team_id) << "\t" << (w.active ? "yes" : "no")
                << "\n";
    }
    return 0;
  }
  if (what == "worker" && verb == "set-role") {
    auto done = admin.set_role(worker, role);  // the console acts at once
    if (!done.ok()) return failure(done.status());
    if (!args.quiet) std::cout << "worker " << worker << " is now " << to_string(role) << "\n";
    return 0;
  }
  if (what == "grant" && verb == "list") {
    auto grants = admin.pending_grants();
    if (!grants.ok()) return failure(grants.status());
    if (!args.quiet) std::cout << "grant\tworker\tfrom\tto\trequested_by\trequested_at\n";
    for (const auto& g : *grants) {
      std::cout << g.id << "\t" << g.worker_id << "\t" << (g.from_role.empty() ? "-" : g.from_role)
                << "\t" << to_string(g.role) << "\t" << g.requested_by << "\t" << g.requested_at
                << "\n";
    }
    return 0;
  }
  if (what == "grant") {
    Status done = verb == "approve" ? admin.approve_grant(grant) : admin.refuse_grant(grant);
    if (!done.ok()) return failure(done);
    if (!args.quiet) std::cout << "grant " << grant << " " << verb << "d\n";
    return 0;
  }
  if (what == "worker" && verb == "set-password") {
    Status done = admin.set_password(worker, password, config.access);
    fieldcase::secure_wipe(
        std::span(reinterpret_cast<std::uint8_t*>(password.data()), password.size()));
    if (!done.ok()) return failure(done);
    if (!args.quiet) std::cout << "password set for worker " << worker << "\n";
    return 0;
  }
  if (what == "enrollment") {
    auto secret_path = code_secret_path(config);
    if (!secret_path.ok()) return usage_error(secret_path.status().message(), kAdminUsage);
    auto secret = ServerSecret::load_or_create(*secret_path);
    if (!secret.ok()) return failure(secret.status());
    admin.set_code_secret(*secret);
    auto issued = admin.issue_enrollment_code(worker, config.access.enrollment_ttl);
    if (!issued.ok()) return failure(issued.status());
    if (args.quiet) {
      std::cout << issued->code << " " << issued->expires_at << "\n";
    } else {
      std::cout << "enrollment code " << issued->code << "\n"
                << "expires " << issued->expires_at << "\n"
                << "The code is shown only now and works once: give it to the worker.\n";
    }
    return 0;
  }

  if (what == "authority")
    return print_id(args, "authority", admin.create_authority(name, la_code));
  if (what == "area") return print_id(args, "area", admin.create_area(name));
  if (what == "team") return print_id(args, "team", admin.create_team(name, area));
  if (what == "worker" && verb == "deactivate") {
    Status done = admin.deactivate_worker(worker);
    if (!done.ok()) return failure(done);
    if (!args.quiet) {
      std::cout << "worker " << worker << " deactivated; their active devices revoked\n";
    }
    return 0;
  }
  if (what == "worker") return print_id(args, "worker", admin.create_worker(name, role, team));
  if (what == "allocate") {
    Status done = admin.allocate(case_id, worker);
    if (!done.ok()) return failure(done);
    if (!args.quiet) std::cout << "case " << case_id << " allocated to worker " << worker << "\n";
    return 0;
  }
  if (verb == "issue") {
    auto issued = admin.issue_device(worker);
    if (!issued.ok()) return failure(issued.status());
    if (args.quiet) {
      std::cout << issued->device_id << " " << issued->token << "\n";
    } else {
      std::cout << "device " << issued->device_id << "\n"
                << "token " << issued->token << "\n"
                << "The token is shown only now: enter it on the device.\n";
    }
    return 0;
  }
  if (verb == "revoke") {
    Status done = admin.revoke_device(device);
    if (!done.ok()) return failure(done);
    if (!args.quiet) std::cout << "device " << device << " revoked\n";
    return 0;
  }
  if (verb == "retire") {
    Status done = admin.retire_device(device);
    if (!done.ok()) return failure(done);
    if (!args.quiet) std::cout << "device " << device << " retiring: it wipes at its next sync\n";
    return 0;
  }
  auto devices = admin.list_devices();
  if (!devices.ok()) return failure(devices.status());
  if (!args.quiet) std::cout << "device\tworker\tstatus\tlast_sync\tclock_offset_ms\tname\n";
  for (const auto& d : *devices) {
    std::cout << d.id << "\t" << d.worker_id << "\t" << to_string(d.status) << "\t"
              << (d.last_sync_at.empty() ? "-" : d.last_sync_at) << "\t"
              << (d.clock_offset_ms ? std::to_string(*d.clock_offset_ms) : "-") << "\t"
              << (d.name.empty() ? "-" : d.name) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  std::string_view cmd = argv[1];
  if (cmd == "--version" || cmd == "version") {
    std::cout << fieldcase::build_info() << "\n";
    return 0;
  }
  if (cmd == "--help" || cmd == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (cmd == "serve") return serve(argc, argv);
  if (cmd == "migrate") return migrate(argc, argv);
  if (cmd == "admin") return admin(argc, argv);
  std::cerr << "fieldcase-server: unknown command '" << cmd << "'\n\n" << kUsage;
  return 2;
}
