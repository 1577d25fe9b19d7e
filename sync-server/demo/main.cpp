// fieldcase-demo: the demo authority (generate, accounts) and the simulated tablets (devices)
// on a server's database, beside the production fieldcase-server (docs/demo.md).
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/server/command_line.hpp"
#include "fieldcase/server/config.hpp"
#include "fieldcase/server/demo.hpp"
#include "fieldcase/server/open_store.hpp"

namespace {

using fieldcase::Errc;
using fieldcase::Status;
using namespace fieldcase::server;

constexpr std::string_view kUsage =
    "usage: fieldcase-demo [--config FILE] [--database PATH] <command> [options]\n"
    "\n"
    "  generate [--seed N] [--scale X] [--years N] [--today YYYY-MM-DD]\n"
    "                      build the demo authority (docs/demo.md) in a database with no\n"
    "                      authority; does nothing when the demo is already there. Scale 1\n"
    "                      is about 400 workers and 15,000 referrals a year; today defaults\n"
    "                      to the current date. Prints a summary and the sign-in accounts.\n"
    "  accounts            the demo's sign-in accounts: role, worker id, name\n"
    "  devices [--server URL] [--devices N] [--interval SECONDS] [--rounds N] [--seed N]\n"
    "                      simulated tablets recording offline and syncing with the running\n"
    "                      server (default http://127.0.0.1:8480, 6 devices, 15 s, until\n"
    "                      stopped with Ctrl-C)\n"
    "\n"
    "The database is the server's (the database setting of fieldcase-server: --config FILE or\n"
    "$FIELDCASE_CONFIG, then FIELDCASE_* environment variables, then --database).\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

int usage_error(std::string_view message) {
  std::cerr << "fieldcase-demo: " << message << "\n\n" << kUsage;
  return 2;
}

int failure(const Status& st) {
  std::cerr << "fieldcase-demo: " << st.message() << "\n";
  return 1;
}

void print_accounts(const std::vector<demo::DemoAccount>& accounts) {
  for (const auto& a : accounts) {
    std::cout << "account\t" << to_string(a.role) << "\t" << a.worker_id << "\t" << a.name
              << "\n";
  }
}

std::atomic<bool> g_stop{false};

int accounts_command(ServerStore& store) {
  auto here = demo::present(store);
  if (!here.ok()) return failure(here.status());
  if (!*here) return failure(Status(Errc::not_found, "the database holds no demo authority"));
  auto accounts = demo::accounts(store);
  if (!accounts.ok()) return failure(accounts.status());
  print_accounts(*accounts);
  return 0;
}

int devices_command(ServerStore& store, const CommandLine& args, double devices, double interval,
                    double rounds, double seed) {
  demo::DevicesOptions o;
  if (auto url = args.value("server"); !url.empty()) o.server_url = url;
  o.devices = static_cast<int>(devices);
  o.interval_seconds = interval;
  o.rounds = static_cast<int>(rounds);
  o.seed = static_cast<std::uint64_t>(seed);
  o.progress = [](std::string_view line) { std::cout << line << std::endl; };
  signal(SIGINT, [](int) { g_stop.store(true); });
  signal(SIGTERM, [](int) { g_stop.store(true); });
  o.stop = [] { return g_stop.load(); };
  auto report = demo::run_devices(store, o);
  if (!report.ok()) return failure(report.status());
  std::cout << "devices stopped: " << report->accepted << " transactions accepted, "
            << report->rejected << " rejected, " << report->refused.size()
            << " devices refused by the server\n";
  return 0;
}

int generate_command(ServerStore& store, const ServerConfig& config, const CommandLine& args,
                     double seed, double scale, double years) {
  auto here = demo::present(store);
  if (!here.ok()) return failure(here.status());
  if (*here) {
    std::cout << "demo authority already present in " << config.database << "\n";
    auto accounts = demo::accounts(store);
    if (!accounts.ok()) return failure(accounts.status());
    print_accounts(*accounts);
    return 0;
  }
  demo::DemoOptions o;
  o.seed = static_cast<std::uint64_t>(seed);
  o.scale = scale;
  o.years = static_cast<int>(years);
  if (auto text = args.value("today"); !text.empty()) {
    auto d = fieldcase::Date::parse(text);
    if (!d.ok()) return usage_error(d.status().message());
    o.today = *d;
  } else {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    o.today = fieldcase::Date::from_days_since_epoch(now_ms / 86'400'000).value();
    o.until_ms = now_ms;
  }
  o.progress = [](std::string_view line) { std::cout << "demo: " << line << std::endl; };
  auto summary = demo::generate(store, o);
  if (!summary.ok()) return failure(summary.status());
  const auto& s = *summary;
  std::cout << "demo authority generated in " << static_cast<int>(s.seconds) << " s: " << s.areas
            << " areas, " << s.teams << " teams, " << s.workers << " workers, " << s.devices
            << " devices, " << s.children << " children, " << s.records << " records, "
            << s.transactions << " transactions ("
            << (s.requests == 0 ? std::string("bulk load") : std::to_string(s.requests) + " syncs")
            << "), " << s.reallocations << " allocations, " << s.rejected << " rejected\n";
  std::cout << "referrals by year:";
  for (const auto& [year, n] : s.referrals_by_year) std::cout << " " << year << ":" << n;
  std::cout << "\ntablets from " << s.tablets_from.to_string() << "; under-18 population "
            << s.population_under_18 << "\n";
  print_accounts(s.accounts);
  return s.rejected == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine args;
  Status parsed = parse_command_line(argc, argv, 1,
                                     {"config", "database", "seed", "scale", "years", "today",
                                      "server", "devices", "interval", "rounds"},
                                     args);
  if (!parsed.ok()) return usage_error(parsed.message());
  if (args.help) {
    std::cout << kUsage;
    return 0;
  }
  if (args.words.size() != 1) return usage_error("fieldcase-demo needs one command");
  const std::string what = args.words[0];
  if (what != "generate" && what != "accounts" && what != "devices") {
    return usage_error("unknown command '" + what + "'");
  }
  ServerConfig config;
  if (Status st = load_server_config(args, config); !st.ok()) return usage_error(st.message());
  auto number = [&](const std::string& name, double fallback, double lo, double hi,
                    double& out) -> bool {
    const std::string text = args.value(name);
    if (text.empty()) {
      out = fallback;
      return true;
    }
    char* end = nullptr;
    out = std::strtod(text.c_str(), &end);
    return end != text.c_str() && *end == '\0' && out >= lo && out <= hi;
  };
  double seed = 0, scale = 0, years = 0, devices = 0, interval = 0, rounds = 0;
  if (!number("seed", 20240401, 0, 9e15, seed) || !number("scale", 1, 0.001, 100, scale) ||
      !number("years", 5, 1, 20, years) || !number("devices", 6, 1, 200, devices) ||
      !number("interval", 15, 0, 3600, interval) || !number("rounds", 0, 0, 1e9, rounds)) {
    return usage_error("a number option is out of range");
  }
  auto store = fieldcase::server::open_server_store({config.database, config.database_pool_size});
  if (!store.ok()) return failure(store.status());
  if (what == "accounts") return accounts_command(**store);
  if (what == "devices") return devices_command(**store, args, devices, interval, rounds, seed);
  return generate_command(**store, config, args, seed, scale, years);
}
