// What every device command of the `fieldcase` client shares: option parsing, the device
// workspace (configuration, keystore, vault, record store) and how secrets are read.
//
// A workspace is a directory (--dir, else $FIELDCASE_HOME, else ~/.fieldcase) holding
// device.conf (server URL, worker id, device id, role, and optionally the CA file and public-key
// pins that HTTPS to the server must match: plain "key = value", no secrets), the
// encrypted database case.db with its wrapped key case.db.key (the device token is kept inside
// the database, see vault.hpp, and case.db.receipt holds its wipe proof), sync.state (last sync
// time and clock offset) and a FileKeyStore in keys/ holding the device secret. What a device
// may do and when (unlock, wipes, sync) is the DeviceSession's; these commands only adapt it.
// The PIN comes from $FIELDCASE_PIN or a no-echo prompt on /dev/tty; the device token from
// $FIELDCASE_DEVICE_TOKEN or a prompt. Neither is ever printed nor taken from an argument.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "fieldcase/device_session.hpp"
#include "fieldcase/platform/file_keystore.hpp"
#include "fieldcase/platform/http_transport.hpp"
#include "fieldcase/record.hpp"
#include "fieldcase/record_store.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::cli {

// One option a command accepts. A flag takes no value; a repeatable option may appear again.
struct OptionSpec {
  std::string_view name;  // "--case"
  bool takes_value = true;
  bool repeatable = false;
};

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>, std::less<>> options;
  std::vector<std::string> positionals;

  bool has(std::string_view name) const { return options.contains(name); }
  // The (last) value of an option, or nullopt when absent.
  std::optional<std::string> get(std::string_view name) const;
  // Every value of a repeatable option, in order.
  std::vector<std::string> all(std::string_view name) const;
};

// Parses "--name value", "--name=value" and flags against `specs` (plus --dir, which every
// device command accepts) and exactly `positional_count` positional arguments named
// `positional_names`, then checks that every option in `required` is present. On a mistake
// writes a usage error and returns nullopt with `exit_code` set to kExitUsage.
std::optional<ParsedArgs> parse_args(Io& io, std::string_view command, Args args,
                                     std::span<const OptionSpec> specs,
                                     std::span<const std::string_view> required,
                                     std::size_t positional_count,
                                     std::string_view positional_names, int& exit_code);

// A group's subcommand, and dispatch on the first argument ("--help" prints `usage`).
struct Subcommand {
  std::string_view name;
  int (*run)(Args args, Io& io);
};
int dispatch(Args args, Io& io, std::string_view group, std::string_view usage,
             std::span<const Subcommand> subcommands);

// Writes "fieldcase <command>: <status message>" to io.err and returns kExitFailure.
int failure(Io& io, std::string_view command, const Status& status);

// The workspace directory chosen by --dir, $FIELDCASE_HOME or ~/.fieldcase.
std::filesystem::path workspace_dir(const ParsedArgs& args);

// The secret in environment variable `env_name`, else read from /dev/tty without echo after
// printing `prompt` there. Errc::not_found when neither is available or the answer is empty.
Result<std::string> read_secret(const char* env_name, std::string_view prompt);

// A new secret: from `env_name` as read_secret() does; on the terminal it is asked for twice and
// the answers must match (Errc::invalid_argument otherwise).
Result<std::string> read_new_secret(const char* env_name, std::string_view prompt,
                                    std::string_view confirm_prompt);

// Argon2id cost for the vault: KdfCost::device_default(), or the minimum when
// $FIELDCASE_KDF=minimum (for tests and demos only: it makes a stolen database easy to attack).
KdfCost kdf_cost();

// The device's identity and server, as device.conf stores it.
struct DeviceConfig {
  std::string server_url;
  std::string worker_id;
  std::string device_id;
  Role role = Role::social_worker;
  std::string ca_file;            // PEM bundle to trust instead of the system store
  std::vector<std::string> pins;  // SPKI pins (base64 SHA-256) the server's key must match
};

// The outcome of the last successful sync, as sync.state stores it.
struct SyncState {
  std::string last_sync;             // UTC ISO datetime; empty before the first sync
  std::int64_t clock_offset_ms = 0;  // server time minus device time
};

// Paths inside a workspace.
std::filesystem::path config_path(const std::filesystem::path& dir);
std::filesystem::path database_path(const std::filesystem::path& dir);
std::filesystem::path keystore_path(const std::filesystem::path& dir);

Status write_config(const std::filesystem::path& dir, const DeviceConfig& config);
Result<DeviceConfig> read_config(const std::filesystem::path& dir);
Status write_sync_state(const std::filesystem::path& dir, const SyncState& state);
// A workspace that has never synced reads as an empty SyncState.
Result<SyncState> read_sync_state(const std::filesystem::path& dir);

// How this device reaches its server: the URL, and for HTTPS the CA file and key pins.
platform::HttpTransportOptions transport_options(const DeviceConfig& config);

// The device session's options for the workspace in `dir` (database, Argon2id cost, services).
DeviceSessionOptions session_options(const std::filesystem::path& dir, KeyStore& keystore,
                                     Transport* transport, const Identity& identity);

// An opened workspace: configuration read, and the device session over it (see
// device_session.hpp, which holds every device policy: PIN, wipes, sync).
class Workspace {
 public:
  // case_data: every command that shows or changes records; the PIN unlocks the session and
  // the records open (refused while offline-locked). sync: the sync command, which must work
  // while offline-locked, and on an erased workspace too (its session is then wiped, and no PIN
  // is asked for).
  enum class Access : std::uint8_t { case_data, sync };
  static Result<std::unique_ptr<Workspace>> open(const std::filesystem::path& dir,
                                                 Access access = Access::case_data);

  const std::filesystem::path& dir() const { return dir_; }
  const DeviceConfig& config() const { return config_; }
  DeviceSession& session() { return *session_; }
  // The open records (Access::case_data only).
  RecordStore& records() { return *records_; }

 private:
  explicit Workspace(std::filesystem::path dir);
  std::filesystem::path dir_;
  DeviceConfig config_;
  platform::FileKeyStore keystore_;
  std::unique_ptr<platform::HttpTransport> transport_;
  std::unique_ptr<DeviceSession> session_;
  RecordStore* records_ = nullptr;
};

// How a device command is called: its name ("visit record"), --help text, options, required
// options and positional arguments.
struct CommandSpec {
  std::string_view name;
  std::string_view usage;
  std::span<const OptionSpec> options = {};
  std::span<const std::string_view> required = {};
  std::size_t positional_count = 0;
  std::string_view positional_names = {};
  Workspace::Access access = Workspace::Access::case_data;
};

// Answers --help, parses the arguments, opens the workspace and runs `body`. A Status the body
// returns that is Errc::invalid_argument is a usage error (exit 2); any other failure exits 1
// with its message.
int run_device_command(Args args, Io& io, const CommandSpec& spec,
                       const std::function<Status(const ParsedArgs&, Workspace&)>& body);

// A field value for display: text as is, booleans, numbers, code lists joined with ", ",
// null as "-".
std::string display(const Value& value);
// A value typed on the command line: true/false, a whole number, null, else text.
Value parse_value(std::string_view text);
// The current UTC time as an ISO datetime.
std::string now_text();

}  // namespace fieldcase::cli
