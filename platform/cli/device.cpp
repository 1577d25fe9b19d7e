#include "device.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <ostream>
#include <sstream>
#include <system_error>

#include "fieldcase/clock.hpp"
#include "fieldcase/record_schema.hpp"

namespace fieldcase::cli {

namespace fs = std::filesystem;

namespace {

constexpr OptionSpec kDirOption{"--dir"};

const OptionSpec* find_spec(std::span<const OptionSpec> specs, std::string_view name) {
  if (name == kDirOption.name) return &kDirOption;
  for (const OptionSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return std::string(text.substr(first, last - first + 1));
}

using KeyValues = std::map<std::string, std::string, std::less<>>;

// Writes "key = value" lines to a temporary file, then renames it over `path` (owner-only).
Status write_key_values(const fs::path& path,
                        const std::vector<std::pair<std::string, std::string>>& entries) {
  const fs::path temp = path.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    if (!out) return {Errc::io, "cannot write " + temp.string()};
    for (const auto& [key, value] : entries) out << key << " = " << value << "\n";
    out.flush();
    if (!out) return {Errc::io, "cannot write " + temp.string()};
  }
  std::error_code ec;
  fs::permissions(temp, fs::perms::owner_read | fs::perms::owner_write, ec);
  fs::rename(temp, path, ec);
  if (ec) return {Errc::io, "cannot replace " + path.string() + ": " + ec.message()};
  return {};
}

Result<KeyValues> read_key_values(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Status(Errc::not_found, "cannot read " + path.string());
  KeyValues values;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string text = trim(line);
    if (text.empty() || text.front() == '#') continue;
    const auto eq = text.find('=');
    if (eq == std::string::npos) {
      return Status(Errc::invalid_argument,
                    path.string() + ":" + std::to_string(number) + ": expected 'key = value'");
    }
    values[trim(text.substr(0, eq))] = trim(text.substr(eq + 1));
  }
  return values;
}

Result<std::string> required_key(const KeyValues& values, const fs::path& path,
                                 std::string_view key) {
  auto it = values.find(key);
  if (it == values.end() || it->second.empty()) {
    return Status(Errc::invalid_argument, path.string() + ": missing " + std::string(key));
  }
  return it->second;
}

// Reads one line from /dev/tty with echo off.
Result<std::string> prompt_tty(std::string_view prompt) {
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status(Errc::not_found, "no terminal to ask on");
  termios saved{};
  const bool is_tty = tcgetattr(fd, &saved) == 0;
  if (is_tty) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  [[maybe_unused]] auto written = ::write(fd, prompt.data(), prompt.size());
  std::string line;
  char c = 0;
  while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  if (is_tty) tcsetattr(fd, TCSAFLUSH, &saved);
  ::close(fd);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

std::optional<std::string> ParsedArgs::get(std::string_view name) const {
  auto it = options.find(name);
  if (it == options.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::all(std::string_view name) const {
  auto it = options.find(name);
  return it == options.end() ? std::vector<std::string>{} : it->second;
}

std::optional<ParsedArgs> parse_args(Io& io, std::string_view command, Args args,
                                     std::span<const OptionSpec> specs,
                                     std::span<const std::string_view> required,
                                     std::size_t positional_count,
                                     std::string_view positional_names, int& exit_code) {
  ParsedArgs parsed;
  auto error = [&](const std::string& message) {
    exit_code = usage_error(io, command, message);
    return std::nullopt;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (!arg.starts_with("--")) {
      parsed.positionals.emplace_back(arg);
      continue;
    }
    const auto eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const OptionSpec* spec = find_spec(specs, name);
    if (spec == nullptr) return error("unknown option '" + std::string(name) + "'");
    auto& values = parsed.options[std::string(name)];
    if (!values.empty() && !spec->repeatable) {
      return error("option " + std::string(name) + " given twice");
    }
    if (!spec->takes_value) {
      if (eq != std::string_view::npos) {
        return error("option " + std::string(name) + " takes no value");
      }
      values.emplace_back();
      continue;
    }
    if (eq != std::string_view::npos) {
      values.emplace_back(arg.substr(eq + 1));
    } else if (i + 1 < args.size()) {
      values.emplace_back(args[++i]);
    } else {
      return error("option " + std::string(name) + " needs a value");
    }
  }
  for (std::string_view name : required) {
    if (!parsed.has(name)) return error("missing option " + std::string(name));
  }
  if (parsed.positionals.size() < positional_count) {
    return error("missing arguments; expected " + std::string(positional_names));
  }
  if (parsed.positionals.size() > positional_count) {
    return error("unexpected argument '" + parsed.positionals[positional_count] + "'");
  }
  return parsed;
}

int dispatch(Args args, Io& io, std::string_view group, std::string_view usage,
             std::span<const Subcommand> subcommands) {
  if (args.empty()) return usage_error(io, group, "missing subcommand");
  if (args[0] == "--help" || args[0] == "-h") {
    io.out << usage;
    return kExitOk;
  }
  for (const Subcommand& sub : subcommands) {
    if (sub.name == args[0]) return sub.run(args.subspan(1), io);
  }
  return usage_error(io, group, "unknown subcommand '" + std::string(args[0]) + "'");
}

int failure(Io& io, std::string_view command, const Status& status) {
  io.err << "fieldcase " << command << ": " << status.message() << "\n";
  return kExitFailure;
}

fs::path workspace_dir(const ParsedArgs& args) {
  if (auto dir = args.get("--dir")) return *dir;
  if (const char* home = std::getenv("FIELDCASE_HOME"); home != nullptr && *home != '\0') {
    return home;
  }
  const char* user_home = std::getenv("HOME");
  return fs::path(user_home != nullptr ? user_home : ".") / ".fieldcase";
}

Result<std::string> read_secret(const char* env_name, std::string_view prompt) {
  if (const char* value = std::getenv(env_name); value != nullptr && *value != '\0') {
    return std::string(value);
  }
  auto answer = prompt_tty(prompt);
  if (!answer.ok() || answer->empty()) {
    return Status(Errc::not_found, std::string(prompt.substr(0, prompt.find(':'))) +
                                       " needed: set " + env_name + " or run on a terminal");
  }
  return answer;
}

Result<std::string> read_new_secret(const char* env_name, std::string_view prompt,
                                    std::string_view confirm_prompt) {
  if (const char* value = std::getenv(env_name); value != nullptr && *value != '\0') {
    return std::string(value);
  }
  auto first = read_secret(env_name, prompt);
  if (!first.ok()) return first;
  auto again = prompt_tty(confirm_prompt);
  if (!again.ok() || *again != *first) {
    return Status(Errc::invalid_argument, "the two entries differ; nothing was set up");
  }
  return first;
}

KdfCost kdf_cost() {
  const char* kdf = std::getenv("FIELDCASE_KDF");
  if (kdf != nullptr && std::string_view(kdf) == "minimum") return KdfCost::minimum();
  return KdfCost::device_default();
}

fs::path config_path(const fs::path& dir) { return dir / "device.conf"; }
fs::path database_path(const fs::path& dir) { return dir / "case.db"; }
fs::path keystore_path(const fs::path& dir) { return dir / "keys"; }

Status write_config(const fs::path& dir, const DeviceConfig& config) {
  std::vector<std::pair<std::string, std::string>> entries{
      {"server", config.server_url},
      {"worker", config.worker_id},
      {"device", config.device_id},
      {"role", std::string(to_string(config.role))}};
  if (!config.ca_file.empty()) entries.emplace_back("ca_file", config.ca_file);
  std::string pins;
  for (const auto& pin : config.pins) pins += (pins.empty() ? "" : ",") + pin;
  if (!pins.empty()) entries.emplace_back("pin", pins);
  return write_key_values(config_path(dir), entries);
}

Result<DeviceConfig> read_config(const fs::path& dir) {
  const fs::path path = config_path(dir);
  if (!fs::exists(path)) {
    return Status(Errc::not_found,
                  "no device workspace in " + dir.string() + " (run 'fieldcase setup' first)");
  }
  auto values = read_key_values(path);
  if (!values.ok()) return values.status();
  auto server = required_key(*values, path, "server");
  auto worker = required_key(*values, path, "worker");
  auto device = required_key(*values, path, "device");
  auto role = required_key(*values, path, "role");
  for (const auto* r : {&server, &worker, &device, &role}) {
    if (!r->ok()) return r->status();
  }
  auto parsed_role = parse_role(*role);
  if (!parsed_role) return Status(Errc::invalid_argument, path.string() + ": unknown role");
  DeviceConfig config{*server, *worker, *device, *parsed_role, {}, {}};
  if (auto it = values->find("ca_file"); it != values->end()) config.ca_file = it->second;
  // Several pins (the current key and the next one) are written as comma-separated values.
  if (auto it = values->find("pin"); it != values->end()) {
    std::string_view rest = it->second;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      std::string pin = trim(rest.substr(0, comma));
      if (!pin.empty()) config.pins.push_back(std::move(pin));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  return config;
}

Status write_sync_state(const fs::path& dir, const SyncState& state) {
  return write_key_values(
      dir / "sync.state",
      {{"last_sync", state.last_sync}, {"clock_offset_ms", std::to_string(state.clock_offset_ms)}});
}

Result<SyncState> read_sync_state(const fs::path& dir) {
  const fs::path path = dir / "sync.state";
  if (!fs::exists(path)) return SyncState{};
  auto values = read_key_values(path);
  if (!values.ok()) return values.status();
  SyncState state;
  if (auto it = values->find("last_sync"); it != values->end()) state.last_sync = it->second;
  if (auto it = values->find("clock_offset_ms"); it != values->end()) {
    state.clock_offset_ms = std::strtoll(it->second.c_str(), nullptr, 10);
  }
  return state;
}

platform::HttpTransportOptions transport_options(const DeviceConfig& config) {
  platform::HttpTransportOptions options;
  options.base_url = config.server_url;
  options.ca_file = config.ca_file;
  options.pins = config.pins;
  return options;
}

DeviceSessionOptions session_options(const fs::path& dir, KeyStore& keystore,
                                     Transport* transport, const Identity& identity) {
  DeviceSessionOptions options;
  options.database = database_path(dir);
  options.services.keystore = &keystore;
  options.services.transport = transport;
  options.identity = identity;
  options.kdf = kdf_cost();
  return options;
}

Workspace::Workspace(fs::path dir) : dir_(std::move(dir)), keystore_(keystore_path(dir_)) {}

Result<std::unique_ptr<Workspace>> Workspace::open(const fs::path& dir, Access access) {
  std::unique_ptr<Workspace> ws(new Workspace(dir));
  auto config = read_config(dir);
  if (!config.ok()) return config.status();
  ws->config_ = *config;
  ws->transport_ = std::make_unique<platform::HttpTransport>(transport_options(ws->config_));
  auto session = DeviceSession::open(
      session_options(dir, ws->keystore_, ws->transport_.get(),
                      Identity{ws->config_.worker_id, ws->config_.device_id, ws->config_.role}));
  if (!session.ok()) return session.status();
  ws->session_ = std::move(session.value());
  if (ws->session_->state() == SessionState::wiped) {
    if (access == Access::sync) return ws;
    return ws->session_->wiped_status();
  }
  auto pin = read_secret("FIELDCASE_PIN", "PIN: ");
  if (!pin.ok()) return pin.status();
  FC_TRY(ws->session_->unlock(*pin));
  if (access == Access::case_data) {
    auto records = ws->session_->records();
    if (!records.ok()) return records.status();
    ws->records_ = *records;
  }
  return ws;
}

int run_device_command(Args args, Io& io, const CommandSpec& spec,
                       const std::function<Status(const ParsedArgs&, Workspace&)>& body) {
  if (wants_help(args)) {
    io.out << spec.usage;
    return kExitOk;
  }
  int code = kExitOk;
  auto parsed = parse_args(io, spec.name, args, spec.options, spec.required, spec.positional_count,
                           spec.positional_names, code);
  if (!parsed) return code;
  auto ws = Workspace::open(workspace_dir(*parsed), spec.access);
  if (!ws.ok()) return failure(io, spec.name, ws.status());
  Status status = body(*parsed, **ws);
  if (status.ok()) return kExitOk;
  if (status.code() == Errc::invalid_argument) return usage_error(io, spec.name, status.message());
  return failure(io, spec.name, status);
}

std::string display(const Value& value) {
  if (is_null(value)) return "-";
  if (auto b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (auto n = std::get_if<std::int64_t>(&value)) return std::to_string(*n);
  if (auto s = std::get_if<std::string>(&value)) return *s;
  std::string joined;
  for (const auto& code : std::get<CodeList>(value)) {
    if (!joined.empty()) joined += ", ";
    joined += code;
  }
  return joined;
}

Value parse_value(std::string_view text) {
  if (text == "true") return true;
  if (text == "false") return false;
  if (text == "null") return Value{};
  if (!text.empty() && text.find_first_not_of("-0123456789") == std::string_view::npos) {
    std::int64_t number = 0;
    std::istringstream in{std::string(text)};
    if (in >> number && in.eof()) return number;
  }
  return std::string(text);
}

std::string now_text() { return format_iso_datetime(SystemClock::instance().wall()); }

}  // namespace fieldcase::cli
