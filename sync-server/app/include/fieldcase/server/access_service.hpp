// Who may use the server, and how: device enrollment with one-time codes, web sign-in for
// managers and administrators (Argon2id passwords, sessions with CSRF tokens, lockout), case
// reads for the web, administrative actions on behalf of a signed-in administrator, and the
// audit entries all of these leave. The HTTP layer (http_server.cpp) is a thin front on it.
//
// Credentials are never stored: device tokens and session ids are kept as BLAKE2b-256 hashes,
// enrollment codes as BLAKE2b-256 hashes keyed with the server secret (tokens.hpp), passwords
// as crypto_pwhash_str (Argon2id) strings. Failures that could
// help a guesser (unknown code, wrong code, used, expired, locked, inactive worker) all look
// the same to the caller (Errc::unauthenticated); the audit entry records which it was.
//
// Thread-safe: store access is serialised by an internal mutex; password hashing runs outside
// it, at most one at a time (each costs `pwhash_memlimit` of memory). `store` and `clock` must
// outlive the service, and the store must not be used by others in this process (give the
// service its own connection; SQLite serialises writers between connections).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/clock.hpp"
#include "fieldcase/server/permissions.hpp"
#include "fieldcase/server/server_store.hpp"
#include "fieldcase/server/tokens.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class Admin;

struct AccessOptions {
  std::chrono::hours enrollment_ttl{72};
  int enrollment_attempts = 5;  // wrong guesses that lock one code
  int source_failures = 10;     // failed enrollments from one address in `source_window`
                                // (counted in the database, for every server process)
  std::chrono::minutes source_window{15};
  std::chrono::minutes session_idle{30};
  std::chrono::hours session_absolute{12};
  int signin_failures = 5;  // failed sign-ins in a row that lock the account for `lockout`
  std::chrono::minutes lockout{15};
  // Argon2id cost of a password: libsodium's "interactive" limits (2 passes over 64 MiB).
  unsigned long long pwhash_opslimit = 2;
  std::size_t pwhash_memlimit = std::size_t{64} << 20;
  // Keys the stored form of enrollment codes; without it codes can be neither issued nor used.
  std::optional<ServerSecret> code_secret;
};

// --- Credentials (pure functions; thread-safe) ---

// A new enrollment code: 10 characters from "23456789ABCDEFGHJKLMNPQRSTUVWXYZ" (no 0/O, 1/I),
// 50 random bits, shown as two groups of five ("7KQ2M-XH9PD").
Result<std::string> new_enrollment_code();
// The 10 code characters of what a person typed (case, spaces and dashes ignored), or nullopt.
std::optional<std::string> normalise_enrollment_code(std::string_view typed);
// What the server stores of a normalised code, both keyed with the server secret so that a
// copy of the database cannot test a guess: the lookup of its first group (to find the code
// and count wrong guesses against it) and the hash of the whole code. No part of the code is
// stored in clear.
struct StoredCode {
  std::string lookup;
  std::string code_hash;
};
StoredCode stored_enrollment_code(const ServerSecret& secret, std::string_view normal);
// A password is 12 to 1024 bytes of UTF-8.
Status check_password_policy(std::string_view password);
Result<std::string> hash_password(std::string_view password, const AccessOptions& options);
bool verify_password(const std::string& hash, std::string_view password);

struct Enrolled {
  std::string device_id;
  std::string worker_id;
  Role role = Role::social_worker;
  std::string token;  // the device's credential: shown once, only its hash is kept
};

struct IssuedEnrollment {
  std::string id;
  std::string code;  // shown once
  std::string worker_id;
  std::string expires_at;
};

struct SignedIn {
  std::string session_id;  // goes in the cookie; only its hash is kept
  std::string csrf_token;  // goes in the X-CSRF-Token header of state-changing requests
  Worker worker;
  std::string expires_at;  // absolute expiry
};

struct Session {
  Worker worker;
  std::string id_hash;
  std::string csrf_token;
  std::string expires_at;  // absolute expiry
};

struct CaseContent {
  std::string case_id;
  Relation relation = Relation::none;
  std::vector<StoredRecord> records;  // only the kinds the actor may read
};

class AccessService {
 public:
  AccessService(ServerStore& store, const Clock& clock, AccessOptions options = {});
  ~AccessService();
  AccessService(const AccessService&) = delete;
  AccessService& operator=(const AccessService&) = delete;

  // Enrolls a device with a one-time code typed on it. `source` is the caller's network
  // address (counted for lockout). Errors: unauthenticated (the code is not valid, for any
  // reason), too_many_attempts (this source failed too often recently), invalid_argument
  // (device_name), or a storage error.
  Result<Enrolled> enroll(std::string_view code, std::string_view device_name,
                          std::string_view source);

  // Web sign-in with the worker id and password. Each attempt is counted in the database
  // before the password is checked (ServerStore::begin_sign_in), so concurrent attempts cannot
  // pass the lockout; the lock is checked again before a session is issued. Every refusal is
  // the same unauthenticated error (unknown worker, locked, wrong password, no password set,
  // inactive worker), after the same Argon2id work; the audit entry says which it was.
  Result<SignedIn> sign_in(std::string_view worker_id, std::string_view password,
                           std::string_view source);
  // The live session for a cookie value (idle and absolute expiry applied), or nullopt. The idle
  // clock restarts when `activity` is true; requests a page makes by itself (waiting for
  // changes, redrawing after one) pass false, so an unattended page still times out.
  Result<std::optional<Session>> session(std::string_view session_id, bool activity = true);
  Status sign_out(std::string_view session_id);
  // Whether `token` is the CSRF token of `session_id` (constant time).
  static bool csrf_matches(std::string_view session_id, std::string_view token);

  // A case's content for `actor` (GET /v1/cases/{id}): audited as case_read, or refused
  // (Errc::forbidden, audited as permission_refused). not_found when the server has no record
  // of the case.
  Result<CaseContent> read_case(const Worker& actor, std::string_view case_id);

  // Whether the actor may take a non-case action; a refusal is audited (permission_refused)
  // and returned as Errc::forbidden.
  Status require(const Worker& actor, Action action, std::string_view what);

  // Runs an administrative action with an Admin acting for `actor` (its audit entries name
  // the administrator), under the service's lock. The caller has checked `require`.
  Status administer(const Worker& actor, const std::function<Status(Admin&)>& fn);

  // Audit queries and chain verification.
  Result<std::vector<AuditEvent>> query_audit(const AuditQuery& query);
  Result<AuditVerification> verify_audit();

  const AccessOptions& options() const { return options_; }

 private:
  Status audit(AuditEvent event);

  ServerStore& store_;
  const Clock& clock_;
  AccessOptions options_;
  std::mutex mu_;
  std::mutex hash_mu_;  // one Argon2id computation at a time
};

// How a case relates to an actor (permissions.hpp): own, team, area or other.
Result<Relation> case_relation(ServerStore& store, const Worker& actor, std::string_view case_id);
// How a case allocated to `owner_id` would relate to the actor.
Result<Relation> worker_relation(ServerStore& store, const Worker& actor,
                                 std::string_view owner_id);

}  // namespace fieldcase::server
