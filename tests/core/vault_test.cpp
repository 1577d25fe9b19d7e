// The key hierarchy: PIN unlock, failure counting and crypto-erase, PIN change, key rotation,
// idle lock.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include "fake_clock.hpp"
#include "fieldcase/platform/file_keystore.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "fieldcase/vault.hpp"
#include "storage/cipher_vfs.hpp"
#include "storage/page_cipher.hpp"
#include "store_fixture.hpp"
#include "temp_dir.hpp"

using namespace fieldcase;
using namespace fieldcase::test;
namespace fs = std::filesystem;

namespace {

struct VaultEnv {
  TempDir dir;
  platform::FileKeyStore keys{dir / "keystore"};
  FakeClock clock;
  VaultOptions options() {
    VaultOptions o;
    o.database = dir / "worker.db";
    o.keystore = &keys;
    o.clock = &clock;
    o.kdf = KdfCost::minimum();
    o.max_failed_unlocks = 5;
    o.idle_timeout = std::chrono::seconds(300);
    return o;
  }
};

void write_visit(Vault& v, const std::string& text) {
  auto store = v.store();
  REQUIRE(store.ok());
  REQUIRE((*store)->exec("CREATE TABLE IF NOT EXISTS visit(note TEXT)").ok());
  auto ins = (*store)->prepare("INSERT INTO visit(note) VALUES (?1)");
  REQUIRE(ins.ok());
  ins->bind(1, text);
  REQUIRE(ins->run().ok());
}

std::int64_t visits(Vault& v) {
  auto store = v.store();
  REQUIRE(store.ok());
  return query_int(**store, "SELECT count(*) FROM visit");
}

}  // namespace

TEST_CASE("vault creates, locks and unlocks with the PIN", "[store][crypto]") {
  VaultEnv env;
  auto created = Vault::create(env.options(), "246813");
  REQUIRE(created.ok());
  Vault& v = **created;
  CHECK(v.unlocked());
  write_visit(v, "child seen alone");
  v.lock();
  CHECK_FALSE(v.unlocked());
  CHECK(v.store().code() == Errc::locked);

  REQUIRE(v.unlock("246813").ok());
  CHECK(visits(v) == 1);
  created->reset();

  // A new process: the vault opens locked and the same PIN unlocks it.
  auto reopened = Vault::open(env.options());
  REQUIRE(reopened.ok());
  CHECK((*reopened)->store().code() == Errc::locked);
  REQUIRE((*reopened)->unlock("246813").ok());
  CHECK(visits(**reopened) == 1);

  CHECK(Vault::create(env.options(), "246813").code() == Errc::already_exists);
  CHECK(Vault::create(VaultOptions{}, "246813").code() == Errc::invalid_argument);
}

TEST_CASE("a wrong PIN says how many attempts are left and the count survives restarts",
          "[store][crypto]") {
  VaultEnv env;
  { REQUIRE(Vault::create(env.options(), "246813").ok()); }
  auto v = Vault::open(env.options());
  REQUIRE(v.ok());
  Status st = (*v)->unlock("1111");
  CHECK(st.code() == Errc::wrong_pin);
  CHECK(st.message() == "wrong PIN: 4 attempts left before the data on this device is erased");
  CHECK((*v)->unlock("12").code() == Errc::wrong_pin);  // malformed PINs count too
  v->reset();

  auto again = Vault::open(env.options());
  REQUIRE(again.ok());
  CHECK((*again)->failed_attempts() == 2);
  CHECK((*again)->attempts_left() == 3);
  REQUIRE((*again)->unlock("246813").ok());
  CHECK((*again)->failed_attempts() == 0);  // a success resets the count
}

TEST_CASE("restoring an old key file does not reset the failure count", "[store][crypto][security]") {
  VaultEnv env;
  auto opts = env.options();
  { REQUIRE(Vault::create(opts, "246813").ok()); }
  const auto key_copy = env.dir / "saved.key";
  fs::copy_file(env.dir / "worker.db.key", key_copy);  // count 0

  auto v = Vault::open(opts);
  REQUIRE(v.ok());
  for (int i = 0; i < 3; ++i) CHECK((*v)->unlock("0000").code() == Errc::wrong_pin);
  v->reset();
  fs::copy_file(key_copy, env.dir / "worker.db.key", fs::copy_options::overwrite_existing);

  auto restored = Vault::open(opts);
  REQUIRE(restored.ok());
  // The key store still remembers three failures: one more wrong guess leaves one attempt.
  Status st = (*restored)->unlock("0000");
  CHECK(st.code() == Errc::wrong_pin);
  CHECK(st.message().find("1 attempt left") != std::string::npos);
}

TEST_CASE("the last failed attempt crypto-erases the device's data", "[store][crypto][security]") {
  VaultEnv env;
  auto opts = env.options();
  {
    auto v = Vault::create(opts, "246813");
    REQUIRE(v.ok());
    write_visit(**v, "to be erased");
  }
  auto v = Vault::open(opts);
  REQUIRE(v.ok());
  for (int i = 0; i < 4; ++i) CHECK((*v)->unlock("9999").code() == Errc::wrong_pin);
  Status last = (*v)->unlock("9999");
  CHECK(last.code() == Errc::wiped);
  CHECK(last.message().find("erased") != std::string::npos);
  CHECK_FALSE(fs::exists(opts.database));
  CHECK_FALSE(fs::exists(env.dir / "worker.db.key"));
  CHECK(fs::is_empty(env.dir / "keystore"));  // the device secret is gone too
  CHECK((*v)->unlock("246813").code() == Errc::wiped);

  auto reopened = Vault::open(opts);
  CHECK(reopened.code() == Errc::wiped);
  CHECK(reopened.status().message().find("too many failed unlock attempts") != std::string::npos);
}

TEST_CASE("a wipe on command erases everything and says so", "[store][crypto][security]") {
  VaultEnv env;
  auto opts = env.options();
  auto v = Vault::create(opts, "246813");
  REQUIRE(v.ok());
  write_visit(**v, "note");
  REQUIRE((*v)->wipe("device revoked by administrator").ok());
  CHECK((*v)->store().code() == Errc::wiped);
  for (const char* f : {"worker.db", "worker.db-wal", "worker.db-shm", "worker.db.key"}) {
    CHECK_FALSE(fs::exists(env.dir / f));
  }
  auto reopened = Vault::open(opts);
  CHECK(reopened.code() == Errc::wiped);
  CHECK(reopened.status().message().find("device revoked by administrator") != std::string::npos);
  // A new vault can be set up in the same place afterwards.
  CHECK(Vault::create(opts, "135724").ok());
}

TEST_CASE("changing the PIN keeps the data and retires the old PIN", "[store][crypto]") {
  VaultEnv env;
  auto opts = env.options();
  auto v = Vault::create(opts, "246813");
  REQUIRE(v.ok());
  write_visit(**v, "before the change");
  CHECK((*v)->change_pin("1111", "975318").code() == Errc::wrong_pin);
  CHECK((*v)->failed_attempts() == 1);  // a wrong current PIN counts like a failed unlock
  CHECK((*v)->change_pin("246813", "12").code() == Errc::weak_pin);
  CHECK((*v)->failed_attempts() == 1);  // a refused new PIN costs no attempt
  REQUIRE((*v)->change_pin("246813", "975318").ok());
  (*v)->lock();
  CHECK((*v)->unlock("246813").code() == Errc::wrong_pin);
  REQUIRE((*v)->unlock("975318").ok());
  CHECK(visits(**v) == 1);
}

TEST_CASE("rotating the database key keeps the data and the old key stops working",
          "[store][crypto]") {
  VaultEnv env;
  auto opts = env.options();
  auto v = Vault::create(opts, "246813");
  REQUIRE(v.ok());
  for (int i = 0; i < 50; ++i) write_visit(**v, "visit " + std::to_string(i));
  const auto old_key_file = env.dir / "old.key";
  fs::copy_file(env.dir / "worker.db.key", old_key_file);

  REQUIRE((*v)->rotate_key().ok());
  CHECK(visits(**v) == 50);
  write_visit(**v, "after rotation");
  (*v)->lock();
  REQUIRE((*v)->unlock("246813").ok());
  CHECK(visits(**v) == 51);
  CHECK(integrity_check(*(*v)->store().value()) == "ok");
  v->reset();

  // The key file from before the rotation unwraps the old key, which no longer opens the data.
  fs::copy_file(old_key_file, env.dir / "worker.db.key", fs::copy_options::overwrite_existing);
  auto stale = Vault::open(opts);
  REQUIRE(stale.ok());
  CHECK((*stale)->unlock("246813").code() == Errc::wrong_key);
}

TEST_CASE("an interrupted key rotation is finished or undone at the next unlock",
          "[store][crypto][faults]") {
  VaultEnv env;
  auto opts = env.options();
  auto v = Vault::create(opts, "246813");
  REQUIRE(v.ok());
  for (int i = 0; i < 20; ++i) write_visit(**v, "visit " + std::to_string(i));
  // The copy under the new key fails part way (disk full) after the pending key was recorded.
  int writes = 0;
  storage::set_fault_hook([&](storage::IoOp op, storage::FileRole, std::int64_t, int) {
    return op == storage::IoOp::write && ++writes > 2 ? SQLITE_FULL : SQLITE_OK;
  });
  Status st = (*v)->rotate_key();
  storage::set_fault_hook(nullptr);
  CHECK(st.code() == Errc::disk_full);
  CHECK_FALSE(fs::exists(env.dir / "worker.db.rotate"));
  v->reset();

  auto again = Vault::open(opts);
  REQUIRE(again.ok());
  REQUIRE((*again)->unlock("246813").ok());
  CHECK(visits(**again) == 20);
  REQUIRE((*again)->rotate_key().ok());  // and a later rotation succeeds
  CHECK(visits(**again) == 20);
}

TEST_CASE("changing the PIN after a failed rotation keeps the vault usable", "[store][crypto]") {
  VaultEnv env;
  auto opts = env.options();
  auto v = Vault::create(opts, "246813");
  REQUIRE(v.ok());
  write_visit(**v, "kept");
  int writes = 0;
  storage::set_fault_hook([&](storage::IoOp op, storage::FileRole, std::int64_t, int) {
    return op == storage::IoOp::write && ++writes > 2 ? SQLITE_FULL : SQLITE_OK;
  });
  CHECK((*v)->rotate_key().code() == Errc::disk_full);
  storage::set_fault_hook(nullptr);
  REQUIRE((*v)->change_pin("246813", "864209").ok());
  (*v)->lock();
  REQUIRE((*v)->unlock("864209").ok());
  CHECK(visits(**v) == 1);
}

TEST_CASE("rotation works on a database much larger than the page cache", "[store][crypto]") {
  VaultEnv env;
  auto opts = env.options();
  opts.cache_kib = 64;  // 16 pages against about 3 MB of data
  auto v = Vault::create(opts, "246813");
  REQUIRE(v.ok());
  auto store = (*v)->store();
  REQUIRE(store.ok());
  REQUIRE((*store)->exec("CREATE TABLE visit(note TEXT)").ok());
  REQUIRE((*store)->transaction([&]() -> Status {
                    auto ins = (*store)->prepare("INSERT INTO visit(note) VALUES (?1)");
                    if (!ins.ok()) return ins.status();
                    for (int i = 0; i < 3000; ++i) {
                      ins->bind(1, std::to_string(i) + std::string(1000, 'n'));
                      FC_TRY(ins->run());
                    }
                    return {};
                  })
              .ok());
  REQUIRE((*v)->rotate_key().ok());
  CHECK(visits(**v) == 3000);
  CHECK(integrity_check(*(*v)->store().value()) == "ok");
}

TEST_CASE("a database copied without its key or device secret cannot be opened",
          "[store][crypto][security]") {
  VaultEnv env;
  auto opts = env.options();
  {
    auto v = Vault::create(opts, "246813");
    REQUIRE(v.ok());
    write_visit(**v, "secret");
  }
  TempDir thief;
  fs::copy_file(opts.database, thief / "worker.db");
  platform::FileKeyStore other_device(thief / "keystore");
  VaultOptions stolen = opts;
  stolen.database = thief / "worker.db";
  stolen.keystore = &other_device;
  CHECK(Vault::open(stolen).code() == Errc::not_found);  // no key file

  fs::copy_file(env.dir / "worker.db.key", thief / "worker.db.key");
  auto v = Vault::open(stolen);
  REQUIRE(v.ok());
  Status st = (*v)->unlock("246813");  // right PIN, wrong device
  CHECK(st.code() == Errc::not_found);
  CHECK(st.message().find("device does not hold the secret") != std::string::npos);
}

TEST_CASE("a tampered key file is refused", "[store][crypto][security]") {
  VaultEnv env;
  auto opts = env.options();
  { REQUIRE(Vault::create(opts, "246813").ok()); }
  const auto key = env.dir / "worker.db.key";
  auto bytes = read_file(key);
  SECTION("KDF parameters changed") {
    bytes[8] = static_cast<unsigned char>(bytes[8] + 1);  // opslimit is authenticated
    write_file(key, bytes);
    auto v = Vault::open(opts);
    REQUIRE(v.ok());
    CHECK_FALSE((*v)->unlock("246813").ok());
  }
  SECTION("KDF parameters made implausible") {
    bytes[8] = 0;
    write_file(key, bytes);
    CHECK(Vault::open(opts).code() == Errc::integrity);
  }
  SECTION("not a key file") {
    bytes[0] = 'X';
    write_file(key, bytes);
    CHECK(Vault::open(opts).code() == Errc::integrity);
  }
  SECTION("truncated") {
    bytes.resize(100);
    write_file(key, bytes);
    CHECK(Vault::open(opts).code() == Errc::integrity);
  }
}

TEST_CASE("the vault locks itself after the idle timeout", "[store][crypto]") {
  VaultEnv env;
  auto v = Vault::create(env.options(), "246813");
  REQUIRE(v.ok());
  write_visit(**v, "x");
  env.clock.advance(std::chrono::seconds(200));
  CHECK((*v)->store().ok());  // activity restarts the idle timer
  env.clock.advance(std::chrono::seconds(299));
  CHECK_FALSE((*v)->poll_idle());
  CHECK((*v)->unlocked());
  env.clock.advance(std::chrono::seconds(2));
  CHECK((*v)->poll_idle());
  CHECK_FALSE((*v)->unlocked());
  Status st = (*v)->unlock("246813");
  REQUIRE(st.ok());
  env.clock.advance(std::chrono::seconds(301));
  auto store = (*v)->store();
  CHECK(store.code() == Errc::locked);
  CHECK(store.status().message().find("without activity") != std::string::npos);
}

TEST_CASE("Argon2id calibration reaches the target cost", "[crypto]") {
  KdfCost cheap = KdfCost::calibrate(std::chrono::milliseconds(1), 8ull << 20);
  KdfCost dear = KdfCost::calibrate(std::chrono::milliseconds(250), 8ull << 20);
  CHECK(cheap.memlimit == (8ull << 20));
  CHECK(cheap.opslimit == KdfCost::minimum().opslimit);
  CHECK(dear.opslimit > cheap.opslimit + 2);
}

TEST_CASE("vault locks case data after the offline limit until the device syncs again",
          "[store][security]") {
  VaultEnv env;
  auto created = Vault::create(env.options(), "246813");
  REQUIRE(created.ok());
  Vault& v = **created;
  write_visit(v, "seen at home");

  // Before any contact there is no limit to exceed.
  auto contact = v.contact();
  REQUIRE(contact.ok());
  CHECK_FALSE(contact->last.has_value());
  CHECK_FALSE(contact->locked);
  env.clock.set_wall(env.clock.wall() + std::chrono::hours(24 * 400));
  CHECK(v.store().ok());

  // A sync records the contact and the server's limit of 7 days.
  const auto synced = env.clock.wall();
  REQUIRE(v.record_contact(synced, 7).ok());
  env.clock.set_wall(synced + std::chrono::hours(24 * 7));
  CHECK(v.store().ok());  // exactly at the limit: still open
  env.clock.set_wall(synced + std::chrono::hours(24 * 7) + std::chrono::seconds(1));
  auto refused = v.store();
  CHECK(refused.code() == Errc::offline_locked);
  CHECK_THAT(refused.status().message(),
             Catch::Contains("7-day limit") && Catch::Contains("sync to unlock"));
  CHECK(errc_name(Errc::offline_locked) == "offline_locked");

  // The lock survives locking and unlocking the vault (it is kept in the database).
  v.lock();
  REQUIRE(v.unlock("246813").ok());
  CHECK(v.store().code() == Errc::offline_locked);
  // The sync engine still gets the database, and a successful sync lifts the lock.
  auto for_sync = v.store_for_sync();
  REQUIRE(for_sync.ok());
  REQUIRE(v.record_contact(env.clock.wall(), 7).ok());
  CHECK(visits(v) == 1);
  // A limit of 0 turns the lock off.
  REQUIRE(v.record_contact(env.clock.wall(), 0).ok());
  env.clock.set_wall(env.clock.wall() + std::chrono::hours(24 * 1000));
  CHECK(v.store().ok());
  CHECK(v.record_contact(env.clock.wall(), -1).code() == Errc::invalid_argument);
  v.lock();
  CHECK(v.record_contact(env.clock.wall(), 7).code() == Errc::locked);
}

namespace {

// Every file under `dir` whose bytes contain `secret`.
std::vector<std::string> files_holding(const fs::path& dir, std::string_view secret) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    auto bytes = read_file(entry.path());
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (text.find(secret) != std::string_view::npos) found.push_back(entry.path().string());
  }
  return found;
}

constexpr std::string_view kToken = "Tk3nAbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-x";

}  // namespace

TEST_CASE("the device token lives inside the vault and every wipe erases it",
          "[store][crypto][security][vault]") {
  VaultEnv env;
  auto created = Vault::create(env.options(), "246813");
  REQUIRE(created.ok());
  CHECK((*created)->device_token()->has_value() == false);
  REQUIRE((*created)->set_device_token(kToken).ok());
  write_visit(**created, "child seen alone");
  created->reset();  // closes (checkpoints) the database

  // No file beside the database holds the token: a copy of the files does not yield it.
  CHECK(files_holding(env.dir.path(), kToken).empty());
  auto v = Vault::open(env.options());
  REQUIRE(v.ok());
  CHECK((*v)->device_token().code() == Errc::locked);
  REQUIRE((*v)->unlock("246813").ok());
  auto token = (*v)->device_token();
  REQUIRE(token.ok());
  REQUIRE(token->has_value());
  CHECK(**token == kToken);
  CHECK(Vault::pending_wipe_reports(env.options().database).empty());

  SECTION("the last wrong PIN erases it, and leaves its wipe proof to report") {
    (*v)->lock();
    for (int i = 0; i < 5; ++i) (void)(*v)->unlock("0000");
    CHECK((*v)->device_token().code() == Errc::wiped);
  }
  SECTION("a wipe on command erases it, and leaves its wipe proof to report") {
    REQUIRE((*v)->wipe("ordered by the server").ok());
    CHECK((*v)->device_token().code() == Errc::wiped);
  }
  CHECK(files_holding(env.dir.path(), kToken).empty());
  const auto reports = Vault::pending_wipe_reports(env.options().database);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0] == sync::wipe_proof(kToken));
  CHECK(sync::looks_like_wipe_proof(reports[0]));

  // A vault created again in the same place starts without a token: the device must enroll.
  v->reset();
  auto again = Vault::create(env.options(), "975318");
  REQUIRE(again.ok());
  auto none = (*again)->device_token();
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  // The earlier vault's report waits for the next contact, until the server acknowledges it.
  CHECK(Vault::pending_wipe_reports(env.options().database) == reports);
  REQUIRE(Vault::discard_wipe_report(env.options().database, reports[0]).ok());
  CHECK(Vault::pending_wipe_reports(env.options().database).empty());
}

TEST_CASE("a token in the key store's old plain entry moves into the vault or is retired",
          "[store][crypto][security][vault]") {
  VaultEnv env;
  const auto token_bytes = std::span(reinterpret_cast<const std::uint8_t*>(kToken.data()),
                                     kToken.size());
  auto created = Vault::create(env.options(), "246813");
  REQUIRE(created.ok());
  created->reset();
  // A workspace from an earlier release: the token in plain in the key store.
  REQUIRE(env.keys.put("device-token", token_bytes).ok());
  REQUIRE_FALSE(files_holding(env.dir.path(), kToken).empty());

  SECTION("the first unlock moves it in and removes the plain copy") {
    auto v = Vault::open(env.options());
    REQUIRE(v.ok());
    REQUIRE((*v)->unlock("246813").ok());
    auto token = (*v)->device_token();
    REQUIRE(token.ok());
    REQUIRE(token->has_value());
    CHECK(**token == kToken);
    CHECK_FALSE(env.keys.get("device-token")->has_value());
    v->reset();
    CHECK(files_holding(env.dir.path(), kToken).empty());
  }
  SECTION("a wipe before it moved in removes it and reports it") {
    auto v = Vault::open(env.options());
    REQUIRE(v.ok());
    for (int i = 0; i < 5; ++i) (void)(*v)->unlock("0000");
    CHECK_FALSE(env.keys.get("device-token")->has_value());
    CHECK(files_holding(env.dir.path(), kToken).empty());
    CHECK(Vault::pending_wipe_reports(env.options().database) ==
          std::vector<std::string>{sync::wipe_proof(kToken)});
  }
  SECTION("a vault created after an erase does not take it over") {
    auto v = Vault::open(env.options());
    REQUIRE(v.ok());
    std::error_code ec;
    // An erase by a release that left the plain token behind.
    fs::remove(env.options().database, ec);
    fs::remove(fs::path(env.options().database) += ".key", ec);
    v->reset();
    auto again = Vault::create(env.options(), "975318");
    REQUIRE(again.ok());
    CHECK_FALSE((*again)->device_token()->has_value());
    CHECK_FALSE(env.keys.get("device-token")->has_value());
    CHECK(Vault::pending_wipe_reports(env.options().database) ==
          std::vector<std::string>{sync::wipe_proof(kToken)});
  }
}

TEST_CASE("a database in the older page format opens, and the next unlock migrates it",
          "[store][crypto][security]") {
  VaultEnv env;
  auto opts = env.options();
  const std::string db = (env.dir / "worker.db").string();
  storage::set_new_database_format_for_tests(1);
  auto created = Vault::create(opts, "246813");
  storage::set_new_database_format_for_tests(storage::kFormatVersion);
  REQUIRE(created.ok());
  for (int i = 0; i < 30; ++i) write_visit(**created, "visit " + std::to_string(i));
  REQUIRE(storage::format_version(db) == 1);
  // Format 1 pages are read and written as they are, in the main file and the WAL.
  {
    auto store = (*created)->store();
    REQUIRE(store.ok());
    CHECK(integrity_check(**store) == "ok");
  }
  created->reset();
  CHECK(storage::format_version(db) == 1);

  auto v = Vault::open(opts);
  REQUIRE(v.ok());
  REQUIRE((*v)->unlock("246813").ok());
  CHECK(storage::format_version(db) == storage::kFormatVersion);
  CHECK(visits(**v) == 30);
  write_visit(**v, "after migration");
  (*v)->lock();
  REQUIRE((*v)->unlock("246813").ok());
  CHECK(visits(**v) == 31);
  CHECK(integrity_check(*(*v)->store().value()) == "ok");
}

TEST_CASE("new PINs must pass the PIN policy", "[store][crypto][security][vault]") {
  for (const char* weak : {"", "1", "2468", "13579", "000000", "111111111", "123456", "654321",
                           "890123", "0123456789", "121212", "123123", "abcdef", "zzzzzzzz"}) {
    CAPTURE(weak);
    CHECK(Vault::check_pin_policy(weak).code() == Errc::weak_pin);
  }
  for (const char* good : {"246813", "975318", "1357924680", "270419", "correct horse battery"}) {
    CAPTURE(good);
    CHECK(Vault::check_pin_policy(good).ok());
  }
  CHECK(Vault::check_pin_policy(std::string(257, 'x') + "1").code() == Errc::invalid_argument);
  CHECK(errc_name(Errc::weak_pin) == "weak_pin");

  VaultEnv env;
  auto opts = env.options();
  // Refused before anything is written.
  Status weak = Vault::create(opts, "123456").status();
  CHECK(weak.code() == Errc::weak_pin);
  CHECK(weak.message().find("run") != std::string::npos);
  CHECK_FALSE(fs::exists(env.dir / "worker.db"));
  CHECK_FALSE(fs::exists(env.dir / "worker.db.key"));
  auto v = Vault::create(opts, "246813");
  REQUIRE(v.ok());
  CHECK((*v)->change_pin("246813", "111111").code() == Errc::weak_pin);
  CHECK((*v)->failed_attempts() == 0);
  (*v)->lock();
  REQUIRE((*v)->unlock("246813").ok());
}

TEST_CASE("a link planted at the key file's temporary name is never followed",
          "[store][crypto][security][vault]") {
  VaultEnv env;
  auto opts = env.options();
  const std::vector<unsigned char> original{'k', 'e', 'e', 'p'};
  write_file(env.dir / "victim", original);
  const auto tmp = env.dir / "worker.db.key.tmp";
  REQUIRE(::symlink((env.dir / "victim").c_str(), tmp.c_str()) == 0);

  auto v = Vault::create(opts, "246813");
  REQUIRE(v.ok());
  CHECK(read_file(env.dir / "victim") == original);
  // Every later rewrite of the key file (each unlock counts its attempt) too.
  (*v)->lock();
  REQUIRE(::symlink((env.dir / "victim").c_str(), tmp.c_str()) == 0);
  REQUIRE((*v)->unlock("246813").ok());
  CHECK(read_file(env.dir / "victim") == original);
  // And the wipe, which shreds what it finds at that name.
  REQUIRE(::symlink((env.dir / "victim").c_str(), tmp.c_str()) == 0);
  (void)(*v)->wipe("test");
  CHECK(read_file(env.dir / "victim") == original);
  CHECK_FALSE(fs::exists(fs::symlink_status(tmp)));
}
