// One device workspace and its policy: the vault (PIN, keys, the device token inside the
// encrypted database), the record store on it, sync with the server and every wipe rule, in one
// place, so that each host (the command-line client, the C API, the tablet app) only adapts it.
//
// A session is locked, unlocked or wiped (state()). setup() creates a workspace: the PIN is
// checked and the vault created under it before a one-time enrollment code is redeemed, so a
// refused PIN leaves the code unused; any failure once the vault exists erases it again (and
// reports the erase when the server already enrolled the device), and the message says so.
// open() opens an existing workspace locked, or wiped when its data was erased. unlock() always
// checks and counts the PIN (an unlocked session is locked first); the last wrong attempt erases
// the data. The vault locks itself once idle for longer than idle_timeout (poll_idle() for a
// timer; records() notices too) and records() refuses while the device is offline-locked.
//
// Wipes. The data is erased by the last wrong PIN, by wipe(), or by the server's order during
// sync() (a revoked device at once; a retiring one once its work is delivered). An erase leaves
// the token's wipe proof as a report to deliver: sync() delivers pending reports before every
// exchange and right after a server-ordered wipe, and on a wiped session only delivers them (the
// server then revokes the device) and fails with Errc::wiped. A workspace set up again where one
// was erased holds no token: it must enroll again (or be given a new token).
//
// Threads: one thread at a time uses a session (the host serialises its calls), except
// cancel_sync() and snapshot(), which any thread may call at any time, also while another
// thread is inside a call. The services must outlive the session.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fieldcase/clock.hpp"
#include "fieldcase/keystore.hpp"
#include "fieldcase/record.hpp"
#include "fieldcase/record_store.hpp"
#include "fieldcase/status.hpp"
#include "fieldcase/sync_engine.hpp"
#include "fieldcase/timescales.hpp"
#include "fieldcase/transport.hpp"
#include "fieldcase/vault.hpp"

namespace fieldcase {

enum class SessionState : std::uint8_t { locked, unlocked, wiped };
std::string_view to_string(SessionState state) noexcept;

enum class LogLevel : std::uint8_t { debug, info, warning, error };

// What the host provides. Not owned.
struct DeviceServices {
  KeyStore* keystore = nullptr;    // required
  Transport* transport = nullptr;  // for enrollment, sync and wipe reports; may be null
  const Clock* clock = &SystemClock::instance();
  // Whether the network is reachable; empty: assume it is. sync() asks first and fails fast
  // with Errc::io without calling the transport when it is not.
  std::function<bool()> online;
  // Operational log lines: operation names, counts and error codes, never case data or secrets.
  std::function<void(LogLevel, const std::string&)> log;
};

struct DeviceSessionOptions {
  std::filesystem::path database;
  DeviceServices services;
  // Whose device this is. open() needs it; setup() with an enrollment code takes it from the
  // server instead.
  Identity identity;
  KdfCost kdf = KdfCost::device_default();
  int max_failed_unlocks = 10;
  std::chrono::seconds idle_timeout{300};
  SyncOptions sync;
  Timescales timescales;
};

// How setup() obtains the device's credential.
struct SetupRequest {
  // With a code the device enrolls (POST /v1/enroll through the transport): the server names
  // its worker, device id, role and token. Without one, options.identity is used, with `token`
  // when the host has one (an administrator issued it), else none until set_device_token().
  std::optional<std::string> enrollment_code;
  std::string device_name;  // what the server lists the enrolled device as
  std::optional<std::string> token;
  // Called last, with the device's identity, for the host to keep its own configuration; a
  // failure here undoes the setup like any other.
  std::function<Status(const Identity&)> commit;
};

class DeviceSession {
 public:
  // Creates the workspace at options.database (which must not hold one, unless its data was
  // erased: it is then replaced) under `pin`, and returns it unlocked. Errc::weak_pin before
  // anything is created; Errc::already_exists for a live workspace; an enrollment the server
  // refuses is its answer's code (Errc::unauthenticated, Errc::too_many_attempts).
  [[nodiscard]] static Result<std::unique_ptr<DeviceSession>> setup(DeviceSessionOptions options,
                                                                    std::string_view pin,
                                                                    const SetupRequest& request);
  // Opens the workspace at options.database: locked, or wiped. Errc::not_found when none.
  [[nodiscard]] static Result<std::unique_ptr<DeviceSession>> open(DeviceSessionOptions options);

  ~DeviceSession();
  DeviceSession(const DeviceSession&) = delete;
  DeviceSession& operator=(const DeviceSession&) = delete;

  SessionState state() const noexcept;
  const Identity& identity() const noexcept { return options_.identity; }
  const std::filesystem::path& database() const noexcept { return options_.database; }
  // Why the data is gone (Errc::wiped, with the erase note); success while not wiped.
  Status wiped_status() const;

  // Errc::wrong_pin (the message says how many attempts are left; attempts_left()), Errc::wiped
  // after the last allowed one.
  [[nodiscard]] Status unlock(std::string_view pin);
  // Closes the database and wipes the keys from memory. Idempotent.
  void lock();
  // Locks if idle for longer than idle_timeout; returns true if it locked now.
  bool poll_idle();
  int attempts_left() const;
  // Counted like an unlock; a new PIN the policy refuses costs no attempt (Errc::weak_pin).
  [[nodiscard]] Status change_pin(std::string_view old_pin, std::string_view new_pin);
  // Crypto-erases the data now; `reason` must not contain case data. The report waits for the
  // next contact (sync()).
  [[nodiscard]] Status wipe(std::string_view reason);

  // Keeps the server-issued token inside the vault (replacing any earlier one). Unlocked only.
  [[nodiscard]] Status set_device_token(std::string_view token);
  // Whether the vault holds a token (false: the device must enroll). Unlocked only.
  [[nodiscard]] Result<bool> has_device_token();
  // The last exchange with the server and the offline limit. Unlocked (also offline-locked).
  [[nodiscard]] Result<Vault::Contact> contact();

  // Local transactions the server has not accepted yet, for the sync state a host always shows
  // ("3 changes waiting"). Unlocked, also while offline-locked.
  [[nodiscard]] Result<std::int64_t> changes_waiting();

  // The record store, for every read and write of case data: Errc::locked (also after the idle
  // time), Errc::offline_locked, Errc::wiped. Valid until the next call on the session.
  [[nodiscard]] Result<RecordStore*> records();

  // One sync run (see SyncEngine::run): delivers pending wipe reports, sends the outbox, applies
  // the answers, records the contact (lifting an offline lock). When the report has
  // wipe_requested the data has been erased before returning (state() is wiped). Works while
  // offline-locked. Errc::io offline or unreachable, Errc::unauthenticated, Errc::cancelled,
  // Errc::not_found without a token, Errc::unsupported without a transport, Errc::wiped on a
  // wiped session (after delivering its reports). `progress` runs on the calling thread.
  [[nodiscard]] Result<SyncReport> sync(
      const std::function<void(const SyncProgress&)>& progress = {});
  // Asks a running sync() to stop before its next round. Any thread, any time; the next sync()
  // starts afresh.
  void cancel_sync() noexcept { cancel_.store(true); }
  // Delivers this workspace's pending wipe reports now; how many the server acknowledged.
  // Errc::io when it could not be reached (they stay), Errc::unsupported without a transport.
  [[nodiscard]] Result<int> report_wipes();

  // The state as of the end of the last call, for other threads (a UI showing a lock screen
  // while a sync runs). Any thread, any time.
  struct Snapshot {
    SessionState state = SessionState::locked;
    int attempts_left = 0;
  };
  Snapshot snapshot() const noexcept;

 private:
  DeviceSession(DeviceSessionOptions options, std::unique_ptr<Vault> vault);
  static VaultOptions vault_options(const DeviceSessionOptions& options);
  // The record store over the open database; `for_sync` also while offline-locked.
  Result<RecordStore*> open_records(bool for_sync);
  void close_records() { records_.reset(); }
  // Erases the data and marks the session wiped.
  Status erase(std::string_view reason);
  void log(LogLevel level, const std::string& message) const;
  void publish() noexcept;  // refreshes the snapshot
  struct Publisher;

  DeviceSessionOptions options_;
  std::unique_ptr<Vault> vault_;  // null once wiped at open
  std::unique_ptr<RecordStore> records_;
  bool wiped_ = false;
  Status wiped_status_;
  std::atomic<bool> cancel_{false};
  std::atomic<std::uint8_t> snapshot_state_{0};
  std::atomic<int> snapshot_attempts_{0};
};

}  // namespace fieldcase
