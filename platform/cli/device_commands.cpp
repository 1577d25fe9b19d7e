// The commands that manage the device itself: `fieldcase setup`, `sync` and `status`.
#include <unistd.h>

#include <array>
#include <memory>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>

#include "command.hpp"
#include "device.hpp"
#include "fieldcase/clock.hpp"
#include "fieldcase/platform/http_transport.hpp"
#include "fieldcase/device_session.hpp"
#include "fieldcase/timescales.hpp"

namespace fieldcase::cli {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSetupUsage =
    "usage: fieldcase setup --server URL --enroll CODE [--name NAME]\n"
    "                       [--ca-file PEM] [--pin SPKI_SHA256]... [--dir DIR]\n"
    "       fieldcase setup --server URL --worker ID --device ID [--role ROLE]\n"
    "                       [--ca-file PEM] [--pin SPKI_SHA256]... [--dir DIR]\n"
    "\n"
    "Creates a device workspace in DIR (default $FIELDCASE_HOME or ~/.fieldcase): the encrypted\n"
    "case database under a new PIN (the device token is kept inside it), and\n"
    "device.conf. Refuses if a workspace already exists there, unless its data was erased\n"
    "(it is then set up again, and needs a new enrollment: the old token is gone).\n"
    "\n"
    "With --enroll, the device enrolls with the one-time code an administrator issued\n"
    "('fieldcase-server admin enrollment issue'): the server answers with this device's id,\n"
    "its worker, role and token. Otherwise the device id and token come from\n"
    "'fieldcase-server admin device issue'. The PIN is asked for twice on the terminal, or taken\n"
    "from $FIELDCASE_PIN; an issued token likewise from $FIELDCASE_DEVICE_TOKEN. Neither is\n"
    "ever accepted as an argument (an enrollment code works once).\n"
    "\n"
    "options:\n"
    "  --server URL   the sync server, http://HOST:PORT or https://HOST\n"
    "  --enroll CODE  the enrollment code (XXXXX-XXXXX)\n"
    "  --name NAME    what to call this device at enrollment (default: the host name)\n"
    "  --role ROLE    social_worker (default), team_manager, area_manager, service_lead...\n"
    "  --ca-file PEM  trust these CA certificates for https:// instead of the system store\n"
    "  --pin PIN      the server's public key must match: base64 SHA-256 of its\n"
    "                 SubjectPublicKeyInfo (repeat for a second, standby key)\n"
    "\n"
    "environment:\n"
    "  FIELDCASE_KDF=minimum   weakest PIN hashing, for tests and demos only\n";

constexpr std::string_view kSyncUsage =
    "usage: fieldcase sync [--dir DIR]\n"
    "\n"
    "Sends this device's unsynced changes to the server and brings back what changed on your\n"
    "cases. On a terminal shows a progress bar, otherwise one line per round trip. Prints a\n"
    "summary: accepted and rejected transactions (with reasons), changes received, cases\n"
    "purged (reallocated away from you) and bytes on the wire. If the server orders a wipe\n"
    "(the device was revoked or retired), the device's data is crypto-erased. Works while the\n"
    "case data is locked for being offline too long, and lifts that lock. On a device whose\n"
    "data was erased, tells the server, which then revokes the device.\n";

constexpr std::string_view kStatusUsage =
    "usage: fieldcase status [--dir DIR]\n"
    "\n"
    "Shows the device: worker, server, changes waiting to sync, the last sync, the sync cursor,\n"
    "the clock offset measured then, the server's offline limit (after it, only 'sync' works\n"
    "until a sync succeeds), and transactions the server rejected.\n";

constexpr OptionSpec kSetupOptions[] = {{"--server"},  {"--worker"},         {"--device"},
                                        {"--role"},    {"--enroll"},         {"--name"},
                                        {"--ca-file"}, {"--pin", true, true}};
constexpr std::string_view kSetupRequired[] = {"--server"};

// Whether `dir` holds a workspace whose data was erased (it may be set up again).
bool workspace_wiped(const fs::path& dir) {
  platform::FileKeyStore keystore(keystore_path(dir));
  auto session = DeviceSession::open(session_options(dir, keystore, nullptr, Identity{}));
  return session.ok() && (*session)->state() == SessionState::wiped;
}

// `config` is completed from the enrollment when `enroll_code` is given. The PIN is read (and
// confirmed on a terminal) first; the device session then applies the setup order (the PIN's
// vault before the one-time code, undone on any later failure) and device.conf is written as
// its last step, once the token is in the vault.
Status create_workspace(const fs::path& dir, DeviceConfig& config,
                        const std::optional<std::string>& enroll_code, const std::string& name) {
  const bool replacing = fs::exists(config_path(dir)) && workspace_wiped(dir);
  if (!replacing && (fs::exists(config_path(dir)) || fs::exists(database_path(dir)))) {
    return {Errc::already_exists, "a device workspace already exists in " + dir.string()};
  }
  auto pin = read_new_secret("FIELDCASE_PIN", "New PIN: ", "Repeat the PIN: ");
  if (!pin.ok()) return pin.status();
  SetupRequest request;
  request.enrollment_code = enroll_code;
  request.device_name = name;
  if (!enroll_code) {
    auto token = read_secret("FIELDCASE_DEVICE_TOKEN", "Device token: ");
    if (!token.ok()) return token.status();
    request.token = std::move(token.value());
  }
  request.commit = [&](const Identity& identity) -> Status {
    config.worker_id = identity.worker_id;
    config.device_id = identity.device_id;
    config.role = identity.role;
    std::error_code ec;
    if (replacing) fs::remove(dir / "sync.state", ec);
    return write_config(dir, config);
  };
  std::error_code ec;
  const bool made_dir = !fs::exists(dir);
  fs::create_directories(dir, ec);
  if (ec) return {Errc::io, "cannot create " + dir.string() + ": " + ec.message()};
  fs::permissions(dir, fs::perms::owner_all, ec);
  platform::FileKeyStore keystore(keystore_path(dir));
  auto options = transport_options(config);
  options.compress = false;
  platform::HttpTransport transport(options);
  auto session = DeviceSession::setup(
      session_options(dir, keystore, &transport,
                      Identity{config.worker_id, config.device_id, config.role}),
      *pin, request);
  if (!session.ok()) {
    // Nothing that claims to be a workspace stays, unless a wipe report still waits there.
    if (made_dir && Vault::pending_wipe_reports(database_path(dir)).empty()) {
      fs::remove_all(dir, ec);
    }
    return session.status();
  }
  return {};
}

int setup(Args args, Io& io) {
  constexpr std::string_view kName = "setup";
  if (wants_help(args)) {
    io.out << kSetupUsage;
    return kExitOk;
  }
  int code = kExitOk;
  auto a = parse_args(io, kName, args, kSetupOptions, kSetupRequired, 0, "", code);
  if (!a) return code;
  const auto enroll_code = a->get("--enroll");
  if (enroll_code && (a->has("--worker") || a->has("--device") || a->has("--role"))) {
    return usage_error(io, kName, "--enroll takes the worker, device and role from the server");
  }
  if (!enroll_code && (!a->has("--worker") || !a->has("--device"))) {
    return usage_error(io, kName, "give --enroll CODE, or --worker and --device");
  }
  if (!enroll_code && a->has("--name")) {
    return usage_error(io, kName, "--name goes with --enroll");
  }
  DeviceConfig config;
  config.server_url = *a->get("--server");
  config.worker_id = a->get("--worker").value_or("");
  config.device_id = a->get("--device").value_or("");
  config.ca_file = a->get("--ca-file").value_or("");
  config.pins = a->all("--pin");
  for (const auto& pin : config.pins) {
    if (pin.size() != 44 || pin.back() != '=' || pin.find(',') != std::string::npos) {
      return usage_error(io, kName, "--pin must be a base64 SHA-256 (44 characters)");
    }
  }
  if (!config.ca_file.empty()) {
    std::error_code ec;
    config.ca_file = fs::absolute(config.ca_file, ec).string();
  }
  if (!config.server_url.starts_with("http://") && !config.server_url.starts_with("https://")) {
    return usage_error(io, kName, "--server must be an http:// or https:// URL");
  }
  std::string name = a->get("--name").value_or("");
  if (name.empty()) {
    std::array<char, 256> host{};
    name = gethostname(host.data(), host.size() - 1) == 0 && host[0] != '\0'
               ? std::string(host.data())
               : std::string("fieldcase client");
  }
  if (auto role = a->get("--role")) {
    auto parsed = parse_role(*role);
    if (!parsed) return usage_error(io, kName, "unknown role '" + *role + "'");
    config.role = *parsed;
  }
  const fs::path dir = workspace_dir(*a);
  Status status = create_workspace(dir, config, enroll_code, name);
  if (!status.ok()) return failure(io, kName, status);
  if (enroll_code) {
    io.out << "enrolled as device " << config.device_id << " of worker " << config.worker_id << " ("
           << to_string(config.role) << ")\n";
  }
  io.out << "device workspace created in " << dir.string() << "\n";
  return kExitOk;
}

std::string kilobytes(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f KB", static_cast<double>(bytes) / 1024.0);
  return text;
}

// Progress as a bar redrawn in place on a terminal, or one plain line per round otherwise.
void show_progress(Io& io, bool terminal, const SyncProgress& p) {
  if (!terminal) {
    io.out << "round " << p.round << ": sent " << p.transactions_sent << "/" << p.transactions_total
           << " transactions, received " << p.changes_received << " changes, " << p.bytes_sent
           << " bytes up, " << p.bytes_received << " bytes down\n";
    return;
  }
  constexpr std::size_t kWidth = 24;
  const std::size_t filled =
      p.transactions_total == 0 ? kWidth : kWidth * p.transactions_sent / p.transactions_total;
  io.out << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, ' ') << "] "
         << p.transactions_sent << "/" << p.transactions_total << " sent, " << p.changes_received
         << " received, " << kilobytes(p.bytes_sent) << " up, " << kilobytes(p.bytes_received)
         << " down   " << std::flush;
}

void print_report(Io& io, const SyncReport& r) {
  io.out << "accepted: " << r.accepted << "\nrejected: " << r.rejected << "\n";
  for (const auto& rejection : r.rejections) {
    io.out << "  " << rejection.tx_id << " " << rejection.code << ": " << rejection.reason << "\n";
  }
  io.out << "changes received: " << r.changes_received << "\n";
  io.out << "cases purged: " << r.purged_cases.size() << "\n";
  for (const auto& case_id : r.purged_cases) io.out << "  " << case_id << "\n";
  io.out << "round trips: " << r.round_trips << "\nbytes sent: " << r.bytes_sent
         << "\nbytes received: " << r.bytes_received << "\n";
}

Status run_sync(Io& io, Workspace& ws) {
  DeviceSession& session = ws.session();
  if (session.state() == SessionState::wiped) {
    // It can no longer sync, but still tells the server, which then revokes the device although
    // its token is gone.
    auto reported = session.report_wipes();
    if (reported.ok() && *reported > 0) {
      io.out << "the server has been told that this device was wiped\n";
    } else if (!reported.ok()) {
      io.err << "fieldcase sync: " << reported.status().message() << "\n";
    }
    return session.wiped_status();
  }
  const bool terminal = isatty(STDOUT_FILENO) == 1;
  auto report = session.sync([&](const SyncProgress& p) { show_progress(io, terminal, p); });
  if (terminal) io.out << "\n";
  if (!report.ok()) return report.status();
  if (report->wipe_requested) {
    if (!report->device_revoked) print_report(io, *report);
    io.out << "the server ordered this device wiped ("
           << (report->wipe_reason.empty() ? "no reason given" : report->wipe_reason)
           << "): its data has been erased\n";
    return {};
  }
  print_report(io, *report);
  return write_sync_state(ws.dir(), {now_text(), report->clock_offset.count()});
}

int sync(Args args, Io& io) {
  CommandSpec spec{"sync", kSyncUsage};
  spec.access = Workspace::Access::sync;
  if (wants_help(args)) {
    io.out << spec.usage;
    return kExitOk;
  }
  int code = kExitOk;
  auto parsed = parse_args(io, spec.name, args, spec.options, spec.required,
                           spec.positional_count, spec.positional_names, code);
  if (!parsed) return code;
  auto ws = Workspace::open(workspace_dir(*parsed), spec.access);
  if (!ws.ok()) return failure(io, spec.name, ws.status());
  Status status = run_sync(io, **ws);
  return status.ok() ? kExitOk : failure(io, spec.name, status);
}

int status(Args args, Io& io) {
  return run_device_command(
      args, io, {"status", kStatusUsage}, [&](const ParsedArgs&, Workspace& ws) -> Status {
        auto pending = ws.records().pending_transactions();
        if (!pending.ok()) return pending.status();
        auto cursor = ws.records().sync_cursor();
        if (!cursor.ok()) return cursor.status();
        auto state = read_sync_state(ws.dir());
        if (!state.ok()) return state.status();
        auto rejections = ws.records().rejections();
        if (!rejections.ok()) return rejections.status();
        auto contact = ws.session().contact();
        if (!contact.ok()) return contact.status();
        io.out << "worker: " << ws.config().worker_id << " (" << to_string(ws.config().role)
               << ")\ndevice: " << ws.config().device_id << "\nserver: " << ws.config().server_url
               << "\npending transactions: " << *pending
               << "\nlast sync: " << (state->last_sync.empty() ? "never" : state->last_sync)
               << "\ncursor: " << *cursor << "\nclock offset: " << state->clock_offset_ms
               << " ms\noffline limit: "
               << (contact->offline_limit_days > 0
                       ? std::to_string(contact->offline_limit_days) + " days without a sync"
                       : std::string("none"))
               << "\nrejections: " << rejections->size() << "\n";
        for (const auto& r : *rejections) {
          io.out << "  " << r.tx_id << " " << r.code << ": " << r.reason << "\n";
        }
        return {};
      });
}

constexpr std::array kCommands = {
    Command{"setup", "create this device's workspace against a server", setup},
    Command{"sync", "send your changes and receive your cases' changes", sync},
    Command{"status", "pending changes, last sync and clock offset", status},
};

}  // namespace

std::span<const Command> device_commands() { return kCommands; }

}  // namespace fieldcase::cli
