#include "fieldcase/vault.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <ctime>

#include "fieldcase/durable_file.hpp"
#include "fieldcase/encoding.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "storage/cipher_vfs.hpp"

namespace fieldcase {
namespace {

// Key blob layout ("<db>.key"), little-endian integers:
//   0  magic "FCKB" | 4 version | 5 aead id | 6 kdf id | 7 flags (bit 0: pending slot in use)
//   8  opslimit u64 | 16 memlimit u64 | 24 salt[16] | 40 vault id[16]
//   56 slot 0 (current key):  nonce[24] wrapped[32 + 16]
//   128 slot 1 (pending key during rotation): nonce[24] wrapped[32 + 16]
//   200 failed unlock count u32 (not authenticated: the key store holds the same count)
// Bytes 0..55 plus the slot number are the associated data of each wrapped key.
constexpr std::size_t kHeaderSize = 56;
constexpr std::size_t kSlotSize = 24 + kKeySize + 16;
constexpr std::size_t kSlot0 = 56;
constexpr std::size_t kSlot1 = kSlot0 + kSlotSize;
constexpr std::size_t kCountOff = kSlot1 + kSlotSize;
constexpr std::size_t kBlobSize = kCountOff + 4;
constexpr std::array<std::uint8_t, 4> kBlobMagic{'F', 'C', 'K', 'B'};
constexpr std::uint8_t kBlobVersion = 1;
constexpr std::uint8_t kAeadXChaCha = 1;
constexpr std::uint8_t kKdfArgon2id13 = 1;
constexpr std::size_t kDeviceSecretSize = 32;
constexpr std::string_view kKekContext = "fieldcase kek v1";
// The key-store entry where the client kept the device token, in plain, before the token moved
// into the vault. Read once to move it in (or, for an erased vault, to report it), then removed.
constexpr std::string_view kLegacyTokenEntry = "device-token";

void put_le(std::uint8_t* p, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint64_t get_le(const std::uint8_t* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::filesystem::path with_suffix(const std::filesystem::path& p, const char* suffix) {
  std::filesystem::path out = p;
  out += suffix;
  return out;
}

// The shape any PIN offered to unlock must have (PINs set before the PIN policy had 4 or 5
// characters and still unlock). New PINs must also pass Vault::check_pin_policy.
Status validate_pin(std::string_view pin) {
  if (pin.size() < 4) return {Errc::invalid_argument, "the PIN must have at least 4 characters"};
  if (pin.size() > Vault::kMaxPinLength) return {Errc::invalid_argument, "the PIN is too long"};
  return {};
}

// True if each character is one more (step 1) or one less (step -1) than the one before; digits
// wrap around (890123).
bool is_run(std::string_view pin, int step) {
  for (std::size_t i = 1; i < pin.size(); ++i) {
    const int a = static_cast<unsigned char>(pin[i - 1]);
    const int b = static_cast<unsigned char>(pin[i]);
    const bool digits = std::isdigit(a) != 0 && std::isdigit(b) != 0;
    const int diff = digits ? ((b - a) % 10 + 10) % 10 : b - a;
    if (diff != (digits ? (step + 10) % 10 : step)) return false;
  }
  return true;
}

// True if the PIN repeats its first `period` characters throughout.
bool repeats(std::string_view pin, std::size_t period) {
  for (std::size_t i = period; i < pin.size(); ++i) {
    if (pin[i] != pin[i - period]) return false;
  }
  return true;
}

std::string format_contact_time(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string utc_now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::filesystem::path receipt_path(const std::filesystem::path& database) {
  return with_suffix(database, ".receipt");
}
std::filesystem::path reports_path(const std::filesystem::path& database) {
  return with_suffix(database, ".wipe-reports");
}

// The wipe proofs in a receipt or reports file, one a line; anything else is ignored.
std::vector<std::string> read_proofs(const std::filesystem::path& path) {
  std::vector<std::string> proofs;
  auto bytes = read_small_file(path, 1 << 16);
  if (!bytes.ok()) return proofs;
  std::string_view rest(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    if (sync::looks_like_wipe_proof(line) &&
        std::find(proofs.begin(), proofs.end(), line) == proofs.end()) {
      proofs.emplace_back(line);
    }
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  return proofs;
}

Status write_proofs(const std::filesystem::path& path, const std::vector<std::string>& proofs) {
  if (proofs.empty()) return shred_file(path);
  std::string text;
  for (const auto& p : proofs) text += p + "\n";
  return write_file_durably(
      path, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), 0600);
}

Status add_wipe_report(const std::filesystem::path& database, const std::string& proof) {
  auto proofs = read_proofs(reports_path(database));
  if (std::find(proofs.begin(), proofs.end(), proof) != proofs.end()) return {};
  proofs.push_back(proof);
  return write_proofs(reports_path(database), proofs);
}

// The vault whose token the receipt names is gone (erased, or replaced by a new one): its
// proof joins the reports to deliver.
Status retire_receipt(const std::filesystem::path& database) {
  for (const auto& proof : read_proofs(receipt_path(database))) {
    FC_TRY(add_wipe_report(database, proof));
  }
  return shred_file(receipt_path(database));
}

// A token still in the key store's old plain entry belongs to no live vault: report it, and
// remove it so it can never be used again.
Status retire_legacy_token(KeyStore& keystore, const std::filesystem::path& database) {
  auto legacy = keystore.get(kLegacyTokenEntry);
  if (!legacy.ok()) return legacy.status();
  if (!legacy->has_value()) return {};
  const std::string_view token(reinterpret_cast<const char*>((*legacy)->data()),
                               (*legacy)->size());
  FC_TRY(add_wipe_report(database, sync::wipe_proof(token)));
  return keystore.remove(kLegacyTokenEntry);
}

}  // namespace

// The parsed key blob; the wrapped keys stay wrapped here.
struct Vault::Blob {
  std::array<std::uint8_t, kBlobSize> bytes{};

  bool pending() const { return (bytes[7] & 1) != 0; }
  std::uint64_t opslimit() const { return get_le(bytes.data() + 8, 8); }
  std::uint64_t memlimit() const { return get_le(bytes.data() + 16, 8); }
  const std::uint8_t* salt() const { return bytes.data() + 24; }
  std::span<const std::uint8_t> vault_id() const { return {bytes.data() + 40, 16}; }
  int failed() const { return static_cast<int>(get_le(bytes.data() + kCountOff, 4)); }
  void set_failed(int n) { put_le(bytes.data() + kCountOff, static_cast<std::uint64_t>(n), 4); }

  static Blob fresh(const KdfCost& cost) {
    Blob b;
    std::copy(kBlobMagic.begin(), kBlobMagic.end(), b.bytes.begin());
    b.bytes[4] = kBlobVersion;
    b.bytes[5] = kAeadXChaCha;
    b.bytes[6] = kKdfArgon2id13;
    put_le(b.bytes.data() + 8, cost.opslimit, 8);
    put_le(b.bytes.data() + 16, cost.memlimit, 8);
    randombytes_buf(b.bytes.data() + 24, 16);
    randombytes_buf(b.bytes.data() + 40, 16);
    return b;
  }

  void set_kdf(const KdfCost& cost) {
    put_le(bytes.data() + 8, cost.opslimit, 8);
    put_le(bytes.data() + 16, cost.memlimit, 8);
    randombytes_buf(bytes.data() + 24, 16);  // a new salt with every new PIN
  }

  std::array<std::uint8_t, kHeaderSize + 1> ad(int slot) const {
    std::array<std::uint8_t, kHeaderSize + 1> a{};
    std::copy(bytes.begin(), bytes.begin() + kHeaderSize, a.begin());
    a[kHeaderSize] = static_cast<std::uint8_t>(slot);
    return a;
  }

  // Wraps `key` into `slot`. The header (flags, KDF) must be final before wrapping.
  void wrap(int slot, const SecureBytes& kek, std::span<const std::uint8_t> key) {
    std::uint8_t* s = bytes.data() + (slot == 0 ? kSlot0 : kSlot1);
    randombytes_buf(s, 24);
    auto a = ad(slot);
    crypto_aead_xchacha20poly1305_ietf_encrypt(s + 24, nullptr, key.data(), key.size(), a.data(),
                                               a.size(), nullptr, s, kek.data());
  }

  Result<SecureBytes> unwrap(int slot, const SecureBytes& kek) const {
    const std::uint8_t* s = bytes.data() + (slot == 0 ? kSlot0 : kSlot1);
    auto key = SecureBytes::allocate(kKeySize);
    if (!key.ok()) return key;
    auto a = ad(slot);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(key->data(), nullptr, nullptr, s + 24,
                                                   kKeySize + 16, a.data(), a.size(), s,
                                                   kek.data()) != 0) {
      return Status(Errc::wrong_pin, "the key could not be unwrapped");
    }
    return key;
  }
};

KdfCost KdfCost::minimum() {
  return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

KdfCost KdfCost::calibrate(std::chrono::milliseconds target, std::uint64_t memlimit) {
  (void)crypto_init();
  KdfCost cost{crypto_pwhash_OPSLIMIT_MIN, memlimit};
  std::array<std::uint8_t, 32> out{};
  std::array<std::uint8_t, crypto_pwhash_SALTBYTES> salt{};
  for (;;) {
    auto start = std::chrono::steady_clock::now();
    if (crypto_pwhash(out.data(), out.size(), "calibrate", 9, salt.data(), cost.opslimit,
                      static_cast<std::size_t>(cost.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
      break;
    }
    auto took = std::chrono::steady_clock::now() - start;
    if (took >= target || cost.opslimit >= 64) break;
    ++cost.opslimit;
  }
  sodium_memzero(out.data(), out.size());
  return cost;
}

Vault::Vault(VaultOptions options)
    : options_(std::move(options)), key_path_(with_suffix(options_.database, ".key")) {}

Vault::~Vault() { lock(); }

std::string Vault::keystore_name(const Blob& blob) const {
  return "fieldcase.vault." + hex_encode(blob.vault_id());
}

Result<Vault::Blob> Vault::read_blob() const {
  auto bytes = read_small_file(key_path_, 4096);
  if (bytes.code() == Errc::not_found) {
    return Status(Errc::not_found, "no key file for " + options_.database.string() +
                                       ": the database cannot be opened without it");
  }
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() != kBlobSize || !std::equal(kBlobMagic.begin(), kBlobMagic.end(),
                                                bytes->begin())) {
    return Status(Errc::integrity, key_path_.string() + " is not a fieldcase key file");
  }
  Blob b;
  std::copy(bytes->begin(), bytes->end(), b.bytes.begin());
  if (b.bytes[4] != kBlobVersion || b.bytes[5] != kAeadXChaCha || b.bytes[6] != kKdfArgon2id13) {
    return Status(Errc::unsupported, key_path_.string() + " uses a format this build lacks");
  }
  if (b.opslimit() < crypto_pwhash_OPSLIMIT_MIN || b.opslimit() > 1000 ||
      b.memlimit() < crypto_pwhash_MEMLIMIT_MIN || b.memlimit() > (4ull << 30)) {
    return Status(Errc::integrity, key_path_.string() + " has implausible KDF parameters");
  }
  return b;
}

Status Vault::write_blob(const Blob& blob) const {
  return write_file_durably(key_path_, blob.bytes, 0600);
}

Result<SecureBytes> Vault::derive_kek(std::string_view pin, const Blob& blob,
                                      std::span<const std::uint8_t> device_secret) const {
  auto stretched = SecureBytes::allocate(kKeySize);
  if (!stretched.ok()) return stretched;
  if (crypto_pwhash(stretched->data(), kKeySize, pin.data(), pin.size(), blob.salt(),
                    blob.opslimit(), static_cast<std::size_t>(blob.memlimit()),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status(Errc::internal, "not enough memory to derive the key");
  }
  // KEK = BLAKE2b(key = device secret, "fieldcase kek v1" || Argon2id(PIN)): neither the PIN
  // nor a copy of the device's files alone is enough.
  auto kek = SecureBytes::allocate(kKeySize);
  if (!kek.ok()) return kek;
  crypto_generichash_state st;
  crypto_generichash_init(&st, device_secret.data(), device_secret.size(), kKeySize);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(kKekContext.data()),
                            kKekContext.size());
  crypto_generichash_update(&st, stretched->data(), kKeySize);
  crypto_generichash_final(&st, kek->data(), kKeySize);
  sodium_memzero(&st, sizeof st);
  return kek;
}

Status Vault::persist_failures(Blob& blob, const SecureBytes& device_secret, int count) {
  // Key-store entry: device secret || failed count (u32 LE). Both copies must agree.
  auto entry = SecureBytes::allocate(kDeviceSecretSize + 4);
  if (!entry.ok()) return entry.status();
  std::copy(device_secret.data(), device_secret.data() + kDeviceSecretSize, entry->data());
  put_le(entry->data() + kDeviceSecretSize, static_cast<std::uint64_t>(count), 4);
  FC_TRY(options_.keystore->put(keystore_name(blob), entry->span()));
  blob.set_failed(count);
  FC_TRY(write_blob(blob));
  failed_ = count;
  return {};
}

Status Vault::check_pin_policy(std::string_view pin) {
  if (pin.size() > kMaxPinLength) return {Errc::invalid_argument, "the PIN is too long"};
  if (pin.size() < kMinPinLength) {
    return {Errc::weak_pin,
            "the PIN must have at least " + std::to_string(kMinPinLength) + " characters"};
  }
  if (repeats(pin, 1)) return {Errc::weak_pin, "the PIN must not be one character repeated"};
  if (is_run(pin, 1) || is_run(pin, -1)) {
    return {Errc::weak_pin, "the PIN must not be a run such as 123456 or 654321"};
  }
  if (repeats(pin, 2) || repeats(pin, 3)) {
    return {Errc::weak_pin, "the PIN must not repeat a group of characters, such as 121212"};
  }
  return {};
}

Result<std::unique_ptr<Vault>> Vault::create(const VaultOptions& options, std::string_view pin) {
  FC_TRY(crypto_init());
  if (options.keystore == nullptr) return Status(Errc::invalid_argument, "a key store is required");
  FC_TRY(check_pin_policy(pin));
  std::unique_ptr<Vault> v(new Vault(options));
  if (std::filesystem::exists(v->key_path_) || std::filesystem::exists(options.database)) {
    return Status(Errc::already_exists, options.database.string() + " already exists");
  }
  std::error_code ec;
  std::filesystem::remove(with_suffix(options.database, ".wiped"), ec);
  // Whatever token an earlier vault here held must not come back: a new vault starts without
  // one, and the earlier token is reported wiped at the next contact.
  FC_TRY(retire_receipt(options.database));
  FC_TRY(retire_legacy_token(*options.keystore, options.database));

  Blob blob = Blob::fresh(options.kdf);
  auto secret = SecureBytes::random(kDeviceSecretSize);
  auto dek = SecureBytes::random(kKeySize);
  if (!secret.ok()) return secret.status();
  if (!dek.ok()) return dek.status();
  auto kek = v->derive_kek(pin, blob, secret->span());
  if (!kek.ok()) return kek.status();
  blob.wrap(0, *kek, dek->span());
  FC_TRY(v->persist_failures(blob, *secret, 0));  // key store entry and blob
  Status st = v->open_store(dek->span());
  if (!st.ok()) {
    (void)shred_file(v->key_path_);
    (void)options.keystore->remove(v->keystore_name(blob));
    return st;
  }
  v->kek_ = std::move(kek.value());
  return v;
}

Result<std::unique_ptr<Vault>> Vault::open(const VaultOptions& options) {
  FC_TRY(crypto_init());
  if (options.keystore == nullptr) return Status(Errc::invalid_argument, "a key store is required");
  std::unique_ptr<Vault> v(new Vault(options));
  auto blob = v->read_blob();
  if (!blob.ok()) {
    auto note = read_small_file(with_suffix(options.database, ".wiped"), 4096);
    if (note.ok()) {
      return Status(Errc::wiped, "this device's data was erased: " +
                                     std::string(note->begin(), note->end()));
    }
    return blob.status();
  }
  v->failed_ = blob->failed();
  return v;
}

Status Vault::open_store(std::span<const std::uint8_t> dek) {
  StoreOptions so;
  so.path = options_.database;
  so.journal = options_.journal;
  so.durability = options_.durability;
  so.cache_kib = options_.cache_kib;
  auto store = Store::open(so, dek);
  if (!store.ok()) return store.status();
  store_ = std::move(store.value());
  last_activity_ = options_.clock->monotonic();
  Status contact = store_->exec(
      "CREATE TABLE IF NOT EXISTS vault_device(id INTEGER PRIMARY KEY CHECK (id = 1), "
      "token TEXT NOT NULL)");
  if (contact.ok()) contact = load_contact();
  if (!contact.ok()) store_.reset();
  return contact;
}

// The last contact with the sync server lives in the encrypted database, in one row of a table
// the vault owns (it travels with the data through key rotation and VACUUM INTO).
Status Vault::load_contact() {
  FC_TRY(store_->exec(
      "CREATE TABLE IF NOT EXISTS vault_contact(id INTEGER PRIMARY KEY CHECK (id = 1), "
      "last_contact_ms INTEGER NOT NULL, offline_limit_days INTEGER NOT NULL)"));
  auto st =
      store_->prepare("SELECT last_contact_ms, offline_limit_days FROM vault_contact WHERE id = 1");
  if (!st.ok()) return st.status();
  auto row = st->step();
  if (!row.ok()) return row.status();
  contact_ = Contact{};
  if (*row) {
    contact_.last =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(st->column_int(0)));
    contact_.offline_limit_days = static_cast<int>(st->column_int(1));
  }
  return {};
}

Status Vault::record_contact(std::chrono::system_clock::time_point at, int offline_limit_days) {
  if (wiped_) return {Errc::wiped, "this device's data was erased"};
  if (!unlocked()) return {Errc::locked, "the database is locked; enter the PIN"};
  if (offline_limit_days < 0) return {Errc::invalid_argument, "the offline limit is negative"};
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  auto st = store_->prepare(
      "INSERT INTO vault_contact(id, last_contact_ms, offline_limit_days) VALUES (1, ?1, ?2) "
      "ON CONFLICT(id) DO UPDATE SET last_contact_ms = excluded.last_contact_ms, "
      "offline_limit_days = excluded.offline_limit_days");
  if (!st.ok()) return st.status();
  st->bind(1, static_cast<std::int64_t>(ms)).bind(2, offline_limit_days);
  FC_TRY(st->run());
  contact_.last = at;
  contact_.offline_limit_days = offline_limit_days;
  return {};
}

Status Vault::set_device_token(std::string_view token) {
  if (wiped_) return {Errc::wiped, "this device's data was erased"};
  if (!unlocked()) return {Errc::locked, "the database is locked; enter the PIN"};
  if (token.empty()) return {Errc::invalid_argument, "the device token is empty"};
  // The receipt first: a crash between the two leaves a receipt for a token the vault may not
  // hold, which at worst reports that token wiped; never a token without its receipt.
  const std::string proof = sync::wipe_proof(token) + "\n";
  FC_TRY(write_file_durably(
      receipt_path(options_.database),
      std::span(reinterpret_cast<const std::uint8_t*>(proof.data()), proof.size()), 0600));
  auto st = store_->prepare(
      "INSERT INTO vault_device(id, token) VALUES (1, ?1) "
      "ON CONFLICT(id) DO UPDATE SET token = excluded.token");
  if (!st.ok()) return st.status();
  st->bind(1, token);
  return st->run();
}

Result<std::optional<std::string>> Vault::device_token() {
  if (wiped_) return Status(Errc::wiped, "this device's data was erased");
  if (!unlocked()) return Status(Errc::locked, "the database is locked; enter the PIN");
  auto st = store_->prepare("SELECT token FROM vault_device WHERE id = 1");
  if (!st.ok()) return st.status();
  auto row = st->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->column_text(0));
}

// A workspace from before the token moved into the vault keeps it in the key store in plain:
// at the first unlock it moves in, and the plain entry is removed.
Status Vault::import_legacy_token() {
  auto legacy = options_.keystore->get(kLegacyTokenEntry);
  if (!legacy.ok()) return legacy.status();
  if (!legacy->has_value()) return {};
  auto current = device_token();
  if (!current.ok()) return current.status();
  if (!current->has_value()) {
    FC_TRY(set_device_token(std::string_view(reinterpret_cast<const char*>((*legacy)->data()),
                                             (*legacy)->size())));
  }
  return options_.keystore->remove(kLegacyTokenEntry);
}

std::vector<std::string> Vault::pending_wipe_reports(const std::filesystem::path& database) {
  return read_proofs(reports_path(database));
}

Status Vault::discard_wipe_report(const std::filesystem::path& database, std::string_view proof) {
  auto proofs = read_proofs(reports_path(database));
  std::erase(proofs, std::string(proof));
  return write_proofs(reports_path(database), proofs);
}

Result<Vault::Contact> Vault::contact() {
  if (wiped_) return Status(Errc::wiped, "this device's data was erased");
  if (!unlocked()) return Status(Errc::locked, "the database is locked; enter the PIN");
  Contact c = contact_;
  c.locked = c.last.has_value() && c.offline_limit_days > 0 &&
             options_.clock->wall() - *c.last > std::chrono::hours(24) * c.offline_limit_days;
  return c;
}

// The key file, device secret and keys that a correct PIN yields.
struct Vault::Opened {
  Blob blob;
  SecureBytes secret;
  SecureBytes kek;
  SecureBytes dek;
};

Result<Vault::Opened> Vault::verify_pin(std::string_view pin) {
  if (wiped_) return Status(Errc::wiped, "this device's data was erased");
  auto blob = read_blob();
  if (!blob.ok()) return blob.status();
  const std::string name = keystore_name(*blob);
  auto entry = options_.keystore->get(name);
  if (!entry.ok()) return entry.status();
  if (!entry->has_value() || (*entry)->size() != kDeviceSecretSize + 4) {
    return Status(Errc::not_found,
                  "this device does not hold the secret for " + options_.database.string() +
                      " (it was copied from another device, or its key was destroyed)");
  }
  auto secret = SecureBytes::copy_of({(*entry)->data(), kDeviceSecretSize});
  if (!secret.ok()) return secret.status();
  int count = std::max(blob->failed(),
                       static_cast<int>(get_le((*entry)->data() + kDeviceSecretSize, 4)));
  if (count >= options_.max_failed_unlocks) {
    (void)wipe("too many failed unlock attempts");
    return Status(Errc::wiped,
                  "too many failed unlock attempts: the data on this device was erased");
  }
  // Count the attempt before trying it, so cutting the power cannot skip the count.
  FC_TRY(persist_failures(*blob, *secret, count + 1));

  Status pin_ok = validate_pin(pin);
  Result<SecureBytes> kek = pin_ok.ok() ? derive_kek(pin, *blob, secret->span())
                                        : Result<SecureBytes>(pin_ok);
  Result<SecureBytes> dek = kek.ok() ? blob->unwrap(0, *kek) : Result<SecureBytes>(kek.status());
  if (!dek.ok()) {
    if (dek.code() != Errc::wrong_pin && dek.code() != Errc::invalid_argument) {
      return dek.status();
    }
    if (count + 1 >= options_.max_failed_unlocks) {
      (void)wipe("too many failed unlock attempts");
      return Status(Errc::wiped, "wrong PIN: that was the last attempt, and the data on this "
                                 "device has been erased");
    }
    int left = options_.max_failed_unlocks - (count + 1);
    return Status(Errc::wrong_pin, "wrong PIN: " + std::to_string(left) +
                                       (left == 1 ? " attempt" : " attempts") +
                                       " left before the data on this device is erased");
  }
  FC_TRY(persist_failures(*blob, *secret, 0));
  return Opened{std::move(blob.value()), std::move(secret.value()), std::move(kek.value()),
                std::move(dek.value())};
}

Status Vault::unlock(std::string_view pin) {
  if (wiped_) return {Errc::wiped, "this device's data was erased"};
  if (unlocked()) return {};
  auto opened = verify_pin(pin);
  if (!opened.ok()) return opened.status();
  kek_ = std::move(opened->kek);
  Status st;
  if (opened->blob.pending()) {
    auto pending = opened->blob.unwrap(1, kek_);
    st = pending.ok() ? finish_interrupted_rotation(opened->blob, opened->dek, *pending)
                      : Status(Errc::integrity, key_path_.string() + " is damaged");
  }
  if (st.ok()) st = open_store(opened->dek.span());
  if (st.ok()) st = import_legacy_token();
  if (!st.ok()) {
    lock();
    return st;
  }
  // A database in an older page format (page_cipher.hpp) is migrated by re-encrypting it, which
  // writes the current format. If that cannot be done now (a full disk), the database stays
  // usable in its older format and the next unlock tries again.
  if (!storage::is_current_format(options_.database.string())) {
    Status migrated = rotate_key();
    if (!migrated.ok() && !unlocked()) return migrated;
  }
  return {};
}

Status Vault::finish_interrupted_rotation(Blob& blob, SecureBytes& dek,
                                          const SecureBytes& pending) {
  // The database is under whichever key authenticates its first page.
  auto probe = storage::probe_key(options_.database.string(), pending.span());
  std::error_code ec;
  std::filesystem::remove(with_suffix(options_.database, ".rotate"), ec);
  if (probe == storage::KeyProbe::match) {
    auto copy = SecureBytes::copy_of(pending.span());
    if (!copy.ok()) return copy.status();
    dek = std::move(copy.value());
  }
  blob.bytes[7] &= static_cast<std::uint8_t>(~1u);
  blob.wrap(0, kek_, dek.span());
  std::fill(blob.bytes.begin() + kSlot1, blob.bytes.begin() + kSlot1 + kSlotSize, 0);
  return write_blob(blob);
}

void Vault::lock() {
  store_.reset();  // closing the last connection frees (and zeroes) the VFS's key copy
  kek_.wipe();
}

Result<Store*> Vault::store() {
  auto opened = open_for_use();
  if (!opened.ok()) return opened;
  auto c = contact();
  if (!c.ok()) return c.status();
  if (c->locked) {
    return Status(Errc::offline_locked, "this device has not reached the sync server since " +
                                            format_contact_time(*c->last) + ", longer than the " +
                                            std::to_string(c->offline_limit_days) +
                                            "-day limit: connect and sync to unlock the case data");
  }
  return opened;
}

Result<Store*> Vault::store_for_sync() { return open_for_use(); }

Result<Store*> Vault::open_for_use() {
  if (wiped_) return Status(Errc::wiped, "this device's data was erased");
  if (poll_idle()) {
    return Status(Errc::locked, "locked after " + std::to_string(options_.idle_timeout.count()) +
                                    " seconds without activity; enter the PIN again");
  }
  if (!unlocked()) return Status(Errc::locked, "the database is locked; enter the PIN");
  last_activity_ = options_.clock->monotonic();
  return store_.get();
}

bool Vault::poll_idle() {
  if (!unlocked()) return false;
  if (options_.clock->monotonic() - last_activity_ <= options_.idle_timeout) return false;
  lock();
  return true;
}

Status Vault::change_pin(std::string_view old_pin, std::string_view new_pin) {
  FC_TRY(check_pin_policy(new_pin));
  if (!unlocked()) return {Errc::locked, "unlock before changing the PIN"};
  // A wrong current PIN counts as a failed unlock: this is no side door for guessing.
  auto opened = verify_pin(old_pin);
  if (!opened.ok()) {
    if (opened.code() == Errc::wiped) lock();
    return opened.status();
  }
  Blob& blob = opened->blob;
  std::optional<SecureBytes> pending;
  if (blob.pending()) {
    auto p = blob.unwrap(1, opened->kek);
    if (!p.ok()) return {Errc::integrity, key_path_.string() + " is damaged"};
    pending = std::move(p.value());
  }
  blob.set_kdf(options_.kdf);  // a new salt: every wrapped key is wrapped again below
  auto new_kek = derive_kek(new_pin, blob, opened->secret.span());
  if (!new_kek.ok()) return new_kek.status();
  blob.wrap(0, *new_kek, opened->dek.span());
  if (pending) blob.wrap(1, *new_kek, pending->span());
  FC_TRY(write_blob(blob));
  kek_ = std::move(new_kek.value());
  return {};
}

Status Vault::rotate_key() {
  if (!unlocked()) return {Errc::locked, "unlock before rotating the key"};
  auto blob = read_blob();
  if (!blob.ok()) return blob.status();
  auto fresh = SecureBytes::random(kKeySize);
  if (!fresh.ok()) return fresh.status();
  auto current = blob->unwrap(0, kek_);
  if (!current.ok()) return {Errc::integrity, key_path_.string() + " no longer matches"};

  // 1. Record the new key as pending, so a crash at any later point can be finished.
  blob->bytes[7] |= 1;
  blob->wrap(0, kek_, current->span());
  blob->wrap(1, kek_, fresh->span());
  FC_TRY(write_blob(*blob));
  // 2. Copy the database under the new key.
  const auto rotated = with_suffix(options_.database, ".rotate");
  std::error_code ec;
  std::filesystem::remove(rotated, ec);
  Status st = store_->vacuum_into(rotated, fresh->span());
  if (!st.ok()) {
    // Undo step 1: the database is still under the current key.
    Status undo = finish_interrupted_rotation(*blob, current.value(), fresh.value());
    return undo.ok() ? st : undo;
  }
  // 3. Close (checkpointing the WAL), swap the copy in, and make the swap durable.
  store_.reset();
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    std::filesystem::remove(with_suffix(options_.database, suffix), ec);
  }
  std::filesystem::rename(rotated, options_.database, ec);
  if (ec) {
    (void)open_store(current->span());
    return {Errc::io, "cannot replace the database: " + ec.message()};
  }
  FC_TRY(sync_directory(options_.database.parent_path()));
  // 4. The new key becomes current.
  SecureBytes dek = std::move(fresh.value());
  FC_TRY(finish_interrupted_rotation(*blob, dek, dek));
  return open_store(dek.span());
}

Status Vault::wipe(std::string_view reason) {
  lock();
  wiped_ = true;
  Status result;
  auto blob = read_blob();
  if (blob.ok()) {
    // Destroy the device secret first: without it no copy of the blob can ever be unwrapped.
    Status ks = options_.keystore->remove(keystore_name(*blob));
    if (!ks.ok()) result = ks;
  }
  // The device token went with the database; its wipe proof becomes a report to deliver, and a
  // token still in the key store's old plain entry is reported and removed too.
  Status receipt = retire_receipt(options_.database);
  if (result.ok() && !receipt.ok()) result = receipt;
  Status legacy = retire_legacy_token(*options_.keystore, options_.database);
  if (result.ok() && !legacy.ok()) result = legacy;
  // Overwrite the wrapped key in place and delete it. (Earlier versions of the key file, left
  // by every rewrite's rename, and blocks the file system or flash keeps are not reached: the
  // device secret destroyed above is what makes every copy useless.)
  Status st = shred_file(key_path_);
  if (result.ok() && !st.ok()) result = st;
  // A crash during an earlier durable write can leave its temporary copy behind.
  st = shred_file(with_suffix(key_path_, ".tmp"));
  if (result.ok() && !st.ok()) result = st;
  st = remove_database_files(options_.database);
  if (result.ok() && !st.ok()) result = st;
  std::error_code ec;
  std::filesystem::remove(with_suffix(options_.database, ".rotate"), ec);
  std::string note = "erased at " + utc_now_iso() + ": " + std::string(reason) + "\n";
  (void)write_file_durably(with_suffix(options_.database, ".wiped"),
                           std::span(reinterpret_cast<const std::uint8_t*>(note.data()),
                                     note.size()),
                           0600);
  return result;
}

}  // namespace fieldcase
