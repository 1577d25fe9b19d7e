// Administration of the organisation, workers, allocations, enrollment codes, passwords and
// devices (the `admin` commands and the admin HTTP API).
//
// Every change runs in one durable store transaction and is audited; the entry's detail ends
// with who acted ("by console" for the commands, "by <worker id>" for an administrator over
// HTTP, see set_actor). Ids are UUIDv7 made
// here. allocate() also keeps the child record's allocation fields in step and, when a case
// moves to another worker, appends the case's current state to the log so that every device
// that now sees the case receives all of it (see docs/sync-protocol.md, "Scope and purge").
//
// Not thread-safe: use one Admin per thread; the store must not be used concurrently by others
// in this process (the admin commands run in their own process; SQLite serialises writers).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/clock.hpp"
#include "fieldcase/ids.hpp"
#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/server_store.hpp"
#include "fieldcase/server/tokens.hpp"

namespace fieldcase::server {

struct IssuedDevice {
  std::string device_id;
  std::string token;  // shown once; only its hash is stored
};

class Admin {
 public:
  Admin(ServerStore& store, const Clock& clock);

  // Who the following actions are done by, for the audit trail (default "console").
  void set_actor(std::string actor) { actor_ = std::move(actor); }
  // The server secret that keys stored enrollment codes; issue_enrollment_code needs it.
  void set_code_secret(const ServerSecret& secret) { code_secret_ = secret; }

  Result<std::string> create_authority(std::string_view name, std::string_view la_code);
  Result<std::string> create_area(std::string_view name);
  Result<std::string> create_team(std::string_view name, std::string_view area_id);
  // team_id may be empty except for team and area managers (their scope comes from it).
  Result<std::string> create_worker(std::string_view name, Role role, std::string_view team_id);
  Result<std::vector<Worker>> list_workers();
  // Changes a worker's role (team and area managers need a team; a worker who holds cases
  // cannot become an administrator) and ends their web sessions, which carried the old role.
  Status set_role(std::string_view worker_id, Role role);
  // Sets the worker's web password (Argon2id with `options`' cost), clears a lockout and ends
  // their sessions. The password must meet check_password_policy().
  Status set_password(std::string_view worker_id, std::string_view password,
                      const AccessOptions& options);
  // A one-time enrollment code for one new device of an active worker, valid for `ttl`.
  // Earlier codes and the worker's enrolled devices are not affected.
  Result<IssuedEnrollment> issue_enrollment_code(std::string_view worker_id,
                                                 std::chrono::hours ttl);
  // Allocates a child's case (which may not exist yet) to an active worker who may hold
  // cases (not an administrator). Re-allocating to the same worker changes nothing.
  Status allocate(std::string_view case_id, std::string_view worker_id);
  Result<IssuedDevice> issue_device(std::string_view worker_id);
  // Lost or stolen: every further request of the device is refused with a wipe instruction.
  Status revoke_device(std::string_view device_id);
  // Staff leaving: the device's next sync is accepted as usual and answered with a wipe
  // instruction; it is refused once it has delivered everything. A revoked device stays revoked.
  Status retire_device(std::string_view device_id);
  // The worker can no longer sign in, enroll, be allocated cases or issued devices; their web
  // sessions end and every active device of theirs is revoked (a retiring one still delivers
  // its work and then wipes). Idempotent.
  Status deactivate_worker(std::string_view worker_id);
  Result<std::vector<Device>> list_devices();

 private:
  Status audit(std::string_view event, std::string_view device_id, std::string_view worker_id,
               std::string_view case_id, std::string_view detail);
  std::string now() const;

  ServerStore& store_;
  const Clock& clock_;
  HybridClock hlc_;
  std::string actor_ = "console";
  std::optional<ServerSecret> code_secret_;
};

}  // namespace fieldcase::server
