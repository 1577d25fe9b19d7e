#include "fieldcase/device_session.hpp"

#include <system_error>
#include <utility>

#include "session/enrollment.hpp"

namespace fieldcase {

namespace {

std::string erased_because(std::string_view reason) {
  return "this device's data was erased (" + std::string(reason) + ")";
}

}  // namespace

std::string_view to_string(SessionState state) noexcept {
  switch (state) {
    case SessionState::locked:
      return "locked";
    case SessionState::unlocked:
      return "unlocked";
    case SessionState::wiped:
      return "wiped";
  }
  return "unknown";
}

// Refreshes the snapshot when a public call returns, whichever way it returns.
struct DeviceSession::Publisher {
  DeviceSession& session;
  ~Publisher() { session.publish(); }
};

DeviceSession::DeviceSession(DeviceSessionOptions options, std::unique_ptr<Vault> vault)
    : options_(std::move(options)), vault_(std::move(vault)) {}

DeviceSession::~DeviceSession() {
  records_.reset();
  vault_.reset();  // locks: the keys leave memory
}

VaultOptions DeviceSession::vault_options(const DeviceSessionOptions& options) {
  VaultOptions v;
  v.database = options.database;
  v.keystore = options.services.keystore;
  v.clock = options.services.clock;
  v.kdf = options.kdf;
  v.max_failed_unlocks = options.max_failed_unlocks;
  v.idle_timeout = options.idle_timeout;
  return v;
}

Result<std::unique_ptr<DeviceSession>> DeviceSession::setup(DeviceSessionOptions options,
                                                            std::string_view pin,
                                                            const SetupRequest& request) {
  if (options.services.keystore == nullptr) {
    return Status(Errc::invalid_argument, "a key store is required");
  }
  if (options.services.clock == nullptr) options.services.clock = &SystemClock::instance();
  if (request.enrollment_code && request.token) {
    return Status(Errc::invalid_argument, "an enrollment code brings its own token");
  }
  if (request.enrollment_code && options.services.transport == nullptr) {
    return Status(Errc::unsupported, "enrolling needs a transport to reach the server");
  }
  // Nothing is committed to (least of all the one-time code) with a PIN that will be refused.
  FC_TRY(Vault::check_pin_policy(pin));
  const VaultOptions vault_opts = vault_options(options);
  bool replacing = false;
  {
    auto existing = Vault::open(vault_opts);
    if (existing.ok()) {
      return Status(Errc::already_exists, "a device workspace already exists at " +
                                              options.database.string());
    }
    replacing = existing.code() == Errc::wiped;
  }
  auto created = Vault::create(vault_opts, pin);
  if (!created.ok()) return created.status();
  std::unique_ptr<DeviceSession> session(
      new DeviceSession(std::move(options), std::move(created.value())));
  Publisher publish{*session};

  bool enrolled = false;
  // Undoes the setup: the new vault is erased; a device the server enrolled meanwhile is
  // reported wiped (so no orphaned active device stays on the server); an erased workspace
  // being replaced stays erased, and otherwise nothing is left that claims to be a workspace.
  auto undo = [&](const Status& failure) -> Status {
    DeviceSession& s = *session;
    s.close_records();
    (void)s.vault_->wipe(replacing ? "erased; a new setup did not complete"
                                   : "setup did not complete");
    s.vault_.reset();
    bool told = false;
    if (enrolled) {
      auto reported = ::fieldcase::report_wipes(*s.options_.services.transport, s.database());
      told = reported.ok() && *reported > 0;
    }
    if (!replacing) {
      std::error_code ec;
      std::filesystem::remove(std::filesystem::path(s.database()) += ".wiped", ec);
    }
    std::string message = failure.message() + "; nothing was set up (the new database was erased";
    if (enrolled) {
      message += told ? ", the enrollment code is used up and the server was told"
                      : ", and the enrollment code is used up";
    }
    message += ")";
    s.log(LogLevel::warning, "setup failed: " + std::string(errc_name(failure.code())));
    return {failure.code(), std::move(message)};
  };

  std::optional<std::string> token = request.token;
  if (request.enrollment_code) {
    auto answer = detail::enroll(*session->options_.services.transport, *request.enrollment_code,
                                 request.device_name);
    if (!answer.ok()) return undo(answer.status());
    enrolled = true;
    session->options_.identity = std::move(answer->identity);
    token = std::move(answer->token);
  }
  auto records = session->open_records(false);
  if (!records.ok()) return undo(records.status());
  if (token) {
    if (Status st = session->vault_->set_device_token(*token); !st.ok()) return undo(st);
  }
  if (request.commit) {
    if (Status st = request.commit(session->identity()); !st.ok()) return undo(st);
  }
  session->log(LogLevel::info, enrolled ? "device enrolled and created" : "device created");
  return session;
}

Result<std::unique_ptr<DeviceSession>> DeviceSession::open(DeviceSessionOptions options) {
  if (options.services.keystore == nullptr) {
    return Status(Errc::invalid_argument, "a key store is required");
  }
  if (options.services.clock == nullptr) options.services.clock = &SystemClock::instance();
  auto vault = Vault::open(vault_options(options));
  if (!vault.ok() && vault.code() != Errc::wiped) return vault.status();
  std::unique_ptr<DeviceSession> session(new DeviceSession(
      std::move(options), vault.ok() ? std::move(vault.value()) : std::unique_ptr<Vault>()));
  if (!vault.ok()) {
    session->wiped_ = true;
    session->wiped_status_ = vault.status();
  }
  session->publish();
  return session;
}

SessionState DeviceSession::state() const noexcept {
  if (wiped_) return SessionState::wiped;
  return vault_ && vault_->unlocked() ? SessionState::unlocked : SessionState::locked;
}

Status DeviceSession::wiped_status() const { return wiped_ ? wiped_status_ : Status(); }

Status DeviceSession::unlock(std::string_view pin) {
  Publisher publish{*this};
  if (wiped_) return wiped_status_;
  // A PIN entered is always checked: an unlocked vault would accept any, so it is locked first
  // (a re-entry screen must not open with a wrong PIN).
  close_records();
  vault_->lock();
  Status st = vault_->unlock(pin);
  if (st.code() == Errc::wiped) {
    wiped_ = true;
    wiped_status_ = Status(Errc::wiped, erased_because("too many wrong PINs"));
  }
  log(st.ok() ? LogLevel::info : LogLevel::warning,
      st.ok() ? "unlocked" : "unlock failed: " + std::string(errc_name(st.code())));
  return st;
}

void DeviceSession::lock() {
  Publisher publish{*this};
  close_records();
  if (vault_) vault_->lock();
  log(LogLevel::info, "locked");
}

bool DeviceSession::poll_idle() {
  Publisher publish{*this};
  if (!vault_ || wiped_) return false;
  const bool locked = vault_->poll_idle();
  if (locked) {
    close_records();
    log(LogLevel::info, "locked after idle time");
  }
  return locked;
}

int DeviceSession::attempts_left() const {
  return vault_ && !wiped_ ? vault_->attempts_left() : 0;
}

Status DeviceSession::change_pin(std::string_view old_pin, std::string_view new_pin) {
  Publisher publish{*this};
  if (wiped_) return wiped_status_;
  Status st = vault_->change_pin(old_pin, new_pin);
  if (st.code() == Errc::wiped) {
    close_records();
    wiped_ = true;
    wiped_status_ = Status(Errc::wiped, erased_because("too many wrong PINs"));
  }
  log(st.ok() ? LogLevel::info : LogLevel::warning,
      st.ok() ? "PIN changed" : "PIN change failed: " + std::string(errc_name(st.code())));
  return st;
}

Status DeviceSession::erase(std::string_view reason) {
  close_records();
  Status st = vault_ ? vault_->wipe(reason) : Status();
  wiped_ = true;
  wiped_status_ = Status(Errc::wiped, erased_because(reason));
  return st;
}

Status DeviceSession::wipe(std::string_view reason) {
  Publisher publish{*this};
  Status st = erase(reason.empty() ? "wiped on the device" : reason);
  log(LogLevel::warning, "device wiped");
  return st;
}

Status DeviceSession::set_device_token(std::string_view token) {
  Publisher publish{*this};
  if (wiped_) return wiped_status_;
  if (token.empty()) return {Errc::invalid_argument, "the device token is empty"};
  if (!vault_->unlocked()) return {Errc::locked, "the device is locked"};
  // Inside the vault, behind the PIN, and erased with the data (vault.hpp).
  return vault_->set_device_token(token);
}

Result<bool> DeviceSession::has_device_token() {
  Publisher publish{*this};
  if (wiped_) return wiped_status_;
  auto token = vault_->device_token();
  if (!token.ok()) return token.status();
  return token->has_value();
}

Result<Vault::Contact> DeviceSession::contact() {
  Publisher publish{*this};
  if (wiped_) return wiped_status_;
  return vault_->contact();
}

Result<std::int64_t> DeviceSession::changes_waiting() {
  Publisher publish{*this};
  if (wiped_) return wiped_status_;
  auto rs = open_records(/*for_sync=*/true);
  if (!rs.ok()) return rs.status();
  return (*rs)->pending_transactions();
}

Result<RecordStore*> DeviceSession::records() {
  Publisher publish{*this};
  if (wiped_) return wiped_status_;
  return open_records(false);
}

Result<RecordStore*> DeviceSession::open_records(bool for_sync) {
  // Locks the vault when it has been idle too long; store() also enforces the offline limit.
  auto store = for_sync ? vault_->store_for_sync() : vault_->store();
  if (!store.ok()) {
    close_records();
    return store.status();
  }
  if (!records_) {
    auto opened = RecordStore::open(**store, options_.identity, *options_.services.clock,
                                    options_.timescales);
    if (!opened.ok()) return opened.status();
    records_ = std::move(opened.value());
  }
  return records_.get();
}

Result<int> DeviceSession::report_wipes() {
  if (options_.services.transport == nullptr) {
    return Status(Errc::unsupported, "no transport to reach the server");
  }
  auto reported = ::fieldcase::report_wipes(*options_.services.transport, options_.database);
  if (reported.ok() && *reported > 0) log(LogLevel::info, "the wipe was reported to the server");
  return reported;
}

Result<SyncReport> DeviceSession::sync(const std::function<void(const SyncProgress&)>& progress) {
  Publisher publish{*this};
  cancel_.store(false);
  Transport* transport = options_.services.transport;
  if (wiped_) {
    // No token is left to sync with, but the server learns of the erase at this contact (and
    // revokes the device).
    if (transport != nullptr) {
      auto reported = report_wipes();
      if (reported.ok() && *reported > 0) {
        return Status(Errc::wiped, wiped_status_.message() + "; the server has been told");
      }
    }
    return wiped_status_;
  }
  auto rs = open_records(/*for_sync=*/true);
  if (!rs.ok()) return rs.status();
  if (options_.services.online && !options_.services.online()) {
    log(LogLevel::info, "sync skipped: offline");
    return Status(Errc::io, "offline: the host reports no network");
  }
  if (transport == nullptr) return Status(Errc::unsupported, "no transport to reach the server");
  // An earlier vault in this place that was erased is reported first, also by a vault that
  // holds no token yet (best effort: a server that cannot be reached fails the sync below, and
  // the report waits for the next one).
  (void)report_wipes();
  auto token = vault_->device_token();
  if (!token.ok()) return token.status();
  if (!token->has_value()) {
    return Status(Errc::not_found,
                  "no device token: this device must enroll (or be given a token) first");
  }
  SyncEngine engine(**rs, *transport, **token, options_.sync);
  log(LogLevel::info, "sync started");
  auto report = engine.run(progress, &cancel_);
  if (!report.ok()) {
    log(LogLevel::warning, "sync failed: " + std::string(errc_name(report.code())));
    return report.status();
  }
  if (report->wipe_requested) {
    // Revoked (nothing more is accepted) or retired (everything was delivered first).
    FC_TRY(erase(report->wipe_reason.empty() ? "wipe ordered by the server"
                                             : report->wipe_reason));
    log(LogLevel::warning, "device wiped on the server's order");
    (void)report_wipes();  // the server learns that the erase happened
  } else if (report->contacted) {
    // The exchange lifts an offline lock and renews the server's offline limit.
    FC_TRY(vault_->record_contact(options_.services.clock->wall(), report->offline_limit_days));
  }
  log(LogLevel::info, "sync finished: " + std::to_string(report->accepted) + " accepted, " +
                          std::to_string(report->changes_received) + " changes received, " +
                          std::to_string(report->purged_cases.size()) + " cases purged");
  return report;
}

DeviceSession::Snapshot DeviceSession::snapshot() const noexcept {
  return {static_cast<SessionState>(snapshot_state_.load()), snapshot_attempts_.load()};
}

void DeviceSession::publish() noexcept {
  snapshot_state_.store(static_cast<std::uint8_t>(state()));
  snapshot_attempts_.store(attempts_left());
}

void DeviceSession::log(LogLevel level, const std::string& message) const {
  if (options_.services.log) options_.services.log(level, message);
}

}  // namespace fieldcase
