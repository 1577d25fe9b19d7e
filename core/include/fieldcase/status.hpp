// Errors as values: the status and result types every fallible core call returns.
//
// Error codes are stable numbers grouped by domain; they are part of the C API and of the
// sync protocol, so a number is never reused for a different meaning. Status and Result are
// value types, cheap to move, and safe to pass between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace fieldcase {

// Stable, numbered error codes. Ranges: 1-99 general, 100-199 storage and crypto.
enum class Errc : std::int32_t {
  ok = 0,
  invalid_argument = 1,  // the caller passed something malformed
  not_found = 2,
  already_exists = 3,
  unsupported = 4,       // a format or feature this build does not understand
  internal = 5,          // a bug: an invariant did not hold
  io = 6,                // the operating system refused a read or write
  disk_full = 7,
  busy = 8,              // another connection holds a lock; retry later
  validation = 9,        // a record breaks a rule; the message names the field and the rule
  unauthenticated = 10,  // the server does not accept this device's credential
  cancelled = 11,        // the caller cancelled the operation
  forbidden = 12,        // authenticated, but the role does not permit this
  too_many_attempts = 13,  // locked out after repeated failures; retry later
  unavailable = 14,        // a service the call needs (the server's database) cannot be
                           // reached or gave up the work; nothing was done: retry later

  integrity = 100,       // authentication failed: tampered, truncated, swapped or foreign page
  wrong_key = 101,       // the key does not open this database
  wrong_pin = 102,       // the PIN or passphrase is wrong; attempts remain
  wiped = 103,           // the key was destroyed (too many failed unlocks or a wipe command)
  locked = 104,          // the vault is locked (explicitly or after idle time)
  not_a_database = 105,  // the file is not a fieldcase database (plain SQLite or other)
  schema = 106,          // a migration failed or the schema is newer than this build
  offline_locked = 107,  // not synced for longer than the server's offline limit: sync first
  weak_pin = 108,        // a new PIN is refused by the PIN policy (Vault::check_pin_policy)
};

// Short machine-readable name of a code ("integrity", "wrong_pin"...).
std::string_view errc_name(Errc code) noexcept;

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Errc code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status success() { return {}; }

  bool ok() const noexcept { return code_ == Errc::ok; }
  explicit operator bool() const noexcept { return ok(); }
  Errc code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // "<name>: <message>", for logs and command-line output.
  std::string to_string() const;

 private:
  Errc code_ = Errc::ok;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)
  Result(Errc code, std::string message) : v_(Status(code, std::move(message))) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // The failure; Status::success() when a value is present.
  Status status() const { return ok() ? Status() : std::get<1>(v_); }
  Errc code() const noexcept { return ok() ? Errc::ok : std::get<1>(v_).code(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace fieldcase

// Propagates a failed Status out of the enclosing function.
#define FC_TRY(expr)                               \
  do {                                             \
    ::fieldcase::Status fc_try_status_ = (expr);   \
    if (!fc_try_status_.ok()) return fc_try_status_; \
  } while (0)
