// Workers' web sign-in state: the Argon2id password string and the attempt count and lock.
// Contract: begin_sign_in and end_sign_in are each one atomic update, so concurrent attempts from
// any number of threads or server processes are each counted exactly once.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "fieldcase/server/credentials.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class CredentialStore {
 public:
  virtual ~CredentialStore() = default;

  virtual Result<WorkerCredentials> find_credentials(std::string_view worker_id) = 0;
  // Stores the whole sign-in state of an existing worker.
  virtual Status put_credentials(std::string_view worker_id, const WorkerCredentials& c) = 0;
  // Counts a sign-in attempt of the worker before its password is checked, in one atomic
  // statement (so concurrent attempts, in this process or another on the same database, are
  // all counted): nullopt, nothing counted, when the worker does not exist or is locked at
  // `now`. A lock that has run out ends and the count starts again. The attempt whose number
  // reaches `limit` locks the account until `lock_until`. Times are ISO (format_iso_datetime).
  virtual Result<std::optional<SignInAttempt>> begin_sign_in(std::string_view worker_id,
                                                             std::string_view now,
                                                             std::int64_t limit,
                                                             std::string_view lock_until) = 0;
  // Ends attempt `number` as a success, in one atomic statement: clears the count and the lock,
  // unless the account is locked at `now` by an attempt counted after this one (then false,
  // and nothing changes: the sign-in must be refused).
  virtual Result<bool> end_sign_in(std::string_view worker_id, std::int64_t number,
                                   std::string_view now) = 0;
};

}  // namespace fieldcase::server
