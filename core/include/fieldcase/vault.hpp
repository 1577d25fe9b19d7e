// The worker's encrypted database and the keys that open it.
//
// Key hierarchy: a random 32-byte database key (DEK) encrypts the pages. It is stored beside the
// database ("<db>.key") wrapped with XChaCha20-Poly1305 under a key-encryption key (KEK)
// derived from the worker's PIN with Argon2id and combined with a device secret held by the
// platform KeyStore. The wrapped blob authenticates its format, KDF parameters and vault id.
//
// Unlocking counts failures before trying (so cutting power cannot skip the count) in both the
// blob and the KeyStore, and uses the larger; after max_failed_unlocks the key is destroyed
// (crypto-erase). Changing the PIN re-wraps the DEK only; rotating the DEK re-encrypts the
// database with VACUUM INTO and swaps it in atomically, recoverable at any crash point.
// Locking (explicitly or after idle_timeout) closes the database and wipes keys from memory.
//
// Offline lock: the vault keeps, inside the encrypted database, when the device last reached
// the sync server and the server's offline limit (record_contact). Once the device has been
// out of contact for longer than that limit, store() refuses with Errc::offline_locked; only
// store_for_sync() still opens the database, so the sync engine can reach the server and lift
// the lock. A limit of 0 (or no contact recorded yet) means no offline lock.
//
// Device token: the credential the sync server issued lives inside the encrypted database (table
// vault_device), so it is behind the PIN like the case data and is erased with it. Beside the
// database, "<db>.receipt" holds the token's wipe proof (sync::wipe_proof), which reveals
// nothing of the token. A wipe moves that proof to "<db>.wipe-reports": the reports the host
// must deliver at its next contact with the server (report_wipes in sync_engine.hpp), so the
// server revokes the device although its token is gone. A vault created again in the same place
// holds no token: the device must enroll again.
//
// Not thread-safe: one Vault per database, used from one thread (or externally serialised).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/clock.hpp"
#include "fieldcase/keystore.hpp"
#include "fieldcase/status.hpp"
#include "fieldcase/store.hpp"

namespace fieldcase {

// Argon2id cost. memlimit in bytes.
struct KdfCost {
  std::uint64_t opslimit;
  std::uint64_t memlimit;
  // For tablets: 3 passes over 64 MiB (about half a second on a mid-range device).
  static KdfCost device_default() { return {3, 64ull << 20}; }
  // The smallest cost libsodium allows; for tests only.
  static KdfCost minimum();
  // Raises opslimit over memlimit until one derivation takes at least `target` here.
  static KdfCost calibrate(std::chrono::milliseconds target, std::uint64_t memlimit);
};

struct VaultOptions {
  std::filesystem::path database;
  KeyStore* keystore = nullptr;  // required; not owned; must outlive the vault
  const Clock* clock = &SystemClock::instance();
  KdfCost kdf = KdfCost::device_default();  // used by create() and change_pin()
  int max_failed_unlocks = 10;
  std::chrono::seconds idle_timeout{300};
  JournalMode journal = JournalMode::wal;
  Durability durability = Durability::normal;
  int cache_kib = 8 * 1024;
};

class Vault {
 public:
  // The PIN policy for every new PIN (create, change_pin), in one place, so a host can also ask
  // before it commits to anything (the setup flow checks the PIN before it redeems a one-time
  // enrollment code). A PIN needs at least kMinPinLength characters and must not be one
  // character repeated ("000000"), a run ("123456", "654321", "890123") or a repeated group of
  // two or three characters ("121212", "123123"); Errc::weak_pin says which rule it breaks.
  // Over kMaxPinLength characters is Errc::invalid_argument. PINs set before this policy still
  // unlock; the policy applies when a PIN is set. See docs/security.md, "PIN policy".
  static constexpr std::size_t kMinPinLength = 6;
  static constexpr std::size_t kMaxPinLength = 256;
  static Status check_pin_policy(std::string_view pin);

  // Creates a new database and its key under `pin` (which must pass check_pin_policy); the vault
  // is returned unlocked.
  static Result<std::unique_ptr<Vault>> create(const VaultOptions& options, std::string_view pin);
  // Opens an existing vault, locked. A wiped vault is Errc::wiped; a database without its key
  // file is Errc::not_found.
  static Result<std::unique_ptr<Vault>> open(const VaultOptions& options);

  ~Vault();
  Vault(const Vault&) = delete;
  Vault& operator=(const Vault&) = delete;

  // Errc::wrong_pin (message says how many attempts are left), Errc::wiped after the last one.
  Status unlock(std::string_view pin);
  // Closes the database and wipes every key from memory. Idempotent.
  void lock();
  bool unlocked() const { return store_ != nullptr; }

  // The open database; Errc::locked when locked or idle for longer than idle_timeout (which
  // locks it). Each successful call counts as activity.
  Result<Store*> store();
  // The open database for the sync engine only: like store(), but also while offline-locked.
  // Hosts must not use it to show or change case data.
  Result<Store*> store_for_sync();
  // Locks if idle for longer than idle_timeout; for the host's timer. Returns true if it locked.
  bool poll_idle();

  // Records a successful exchange with the sync server at `at`, and the server's offline limit
  // in days (0: none). The vault must be unlocked (store_for_sync() suffices).
  Status record_contact(std::chrono::system_clock::time_point at, int offline_limit_days);
  struct Contact {
    std::optional<std::chrono::system_clock::time_point> last;  // none before the first sync
    int offline_limit_days = 0;
    bool locked = false;  // out of contact for longer than the limit
  };
  // The recorded contact and whether it offline-locks the vault now. Needs an unlocked vault.
  Result<Contact> contact();

  // Keeps the device token the server issued (replacing any earlier one) and its wipe proof.
  // Needs an unlocked vault.
  Status set_device_token(std::string_view token);
  // The device token, or nullopt when none was set. Needs an unlocked vault (store_for_sync()
  // suffices: the offline lock does not hide it).
  Result<std::optional<std::string>> device_token();
  // The wipe proofs of this database's erased vaults that the server has not acknowledged yet,
  // oldest first. Works on a wiped or missing vault.
  static std::vector<std::string> pending_wipe_reports(const std::filesystem::path& database);
  // Forgets one pending report once the server has acknowledged it.
  static Status discard_wipe_report(const std::filesystem::path& database, std::string_view proof);

  // The new PIN must pass check_pin_policy (Errc::weak_pin, checked before the old PIN is tried,
  // so a refused new PIN costs no attempt).
  Status change_pin(std::string_view old_pin, std::string_view new_pin);
  // Re-encrypts the database under a new random key. The vault must be unlocked.
  Status rotate_key();
  // Crypto-erase now: destroys the wrapped key, the device secret and the database files, and
  // leaves a note saying when and why. The reason must not contain case data.
  Status wipe(std::string_view reason);

  int failed_attempts() const { return failed_; }
  int attempts_left() const { return options_.max_failed_unlocks - failed_; }
  const std::filesystem::path& key_path() const { return key_path_; }

 private:
  explicit Vault(VaultOptions options);
  struct Blob;
  struct Opened;
  // Checks the PIN, counting the attempt first; destroys the key on the last failed one.
  Result<Opened> verify_pin(std::string_view pin);
  Result<Blob> read_blob() const;
  Status write_blob(const Blob& blob) const;
  Result<SecureBytes> derive_kek(std::string_view pin, const Blob& blob,
                                 std::span<const std::uint8_t> device_secret) const;
  Status persist_failures(Blob& blob, const SecureBytes& device_secret, int count);
  Status finish_interrupted_rotation(Blob& blob, SecureBytes& dek, const SecureBytes& pending);
  Status open_store(std::span<const std::uint8_t> dek);
  Result<Store*> open_for_use();
  Status load_contact();
  Status import_legacy_token();
  std::string keystore_name(const Blob& blob) const;

  VaultOptions options_;
  std::filesystem::path key_path_;
  std::unique_ptr<Store> store_;
  SecureBytes kek_;  // held only while unlocked
  int failed_ = 0;
  bool wiped_ = false;
  std::chrono::steady_clock::time_point last_activity_{};
  Contact contact_{};  // loaded at unlock, kept by record_contact()
};

}  // namespace fieldcase
