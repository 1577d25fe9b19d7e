// Who may act and how they prove it: web sign-in state, enrollment codes, role grants waiting for
// a second person, web sessions (domain entities, no I/O; never a password, code or session id
// in clear).
#pragma once

#include <cstdint>
#include <string>

#include "fieldcase/record.hpp"

namespace fieldcase::server {

// A worker's web sign-in state. The password is only ever kept as an Argon2id string.
struct WorkerCredentials {
  std::string password_hash;  // crypto_pwhash_str output; empty: no web sign-in
  std::int64_t failed_signins = 0;
  std::string locked_until;  // ISO time; empty when not locked
};

// One sign-in attempt, counted before its password is checked (CredentialStore::begin_sign_in).
struct SignInAttempt {
  // The attempts counted since the last success or the end of the last lock, this one
  // included; the attempt whose number reaches the limit locked the account.
  std::int64_t number = 0;
  std::string password_hash;  // the worker's, to check this attempt against
};

// A one-time enrollment code. The code is never stored: `lookup` is the keyed hash of its first
// group (to count attempts per code) and `code_hash` the keyed hash of the whole normalised
// code, both keyed with the server secret (stored_enrollment_code).
struct EnrollmentCode {
  std::string id;
  std::string lookup;
  std::string code_hash;
  std::string worker_id;
  std::string created_at;
  std::string expires_at;
  std::string used_at;    // empty until used
  std::string device_id;  // the device it enrolled
  std::int64_t failed_attempts = 0;
};

// A role that reaches case data, granted over the web and waiting for a second person
// (admin.hpp, "Separation of duties"). At most one grant per worker is pending.
struct RoleGrant {
  std::string id;
  std::string worker_id;  // whom it concerns
  Role role = Role::social_worker;
  std::string from_role;     // the worker's role when asked; empty when the grant creates them
  std::string requested_by;  // the administrator who asked
  std::string requested_at;
  std::string state = "pending";  // "pending", "approved" or "refused"
  std::string decided_by;         // the approver's worker id, or "console"
  std::string decided_at;
};

// A web session; the session id itself is never stored, only its hash.
struct WebSession {
  std::string id_hash;
  std::string worker_id;
  std::string created_at;
  std::string last_seen_at;
  std::string expires_at;  // the absolute expiry
};

}  // namespace fieldcase::server
