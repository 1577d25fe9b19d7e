// Administration of the organisation, workers, allocations, enrollment codes, passwords and
// devices (the `admin` commands and the admin HTTP API).
//
// Every change runs in one durable store transaction and is audited; the entry's detail ends
// with who acted ("by console" for the commands, "by <worker id>" for an administrator over
// HTTP, see set_actor). Refusals are audited too (outcome "refused"). Ids are UUIDv7 made
// here. allocate() also keeps the child record's allocation fields in step and, when a case
// moves to another worker, appends the case's current state to the log so that every device
// that now sees the case receives all of it (see docs/sync-protocol.md, "Scope and purge").
//
// Separation of duties (docs/security.md, "Malicious administrator"): a web actor never
// changes their own role, and a web administrator's grant of a role that reaches case data
// that the worker did not reach before (widens_case_access(), permissions.hpp), whether by
// creating the worker or by set_role(), does not take effect: it becomes a pending RoleGrant
// that a second person approves (approve_grant(): another administrator or the service lead,
// never the one who asked nor the worker it concerns) or refuses. A worker created that way
// stays inactive until approved; while a worker has a pending grant no enrollment code or
// device token is issued for them and no code of theirs enrolls a device. The console (the
// `admin` commands, run on the server host by whoever holds its database) acts at once: that
// is how an authority is bootstrapped and how the demo seeds its accounts.
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

  // Who the following actions are done by: a signed-in worker over the web (audited by their
  // id, and bound by the separation of duties above). Without it, the console.
  void set_actor(const Worker& actor) {
    actor_ = actor.id;
    web_actor_ = actor;
  }
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
  // Returns the pending grant instead when the change waits for a second person (nullopt when
  // it took effect). Refused (forbidden) for the actor's own role; already_exists while the
  // worker has a pending grant.
  Result<std::optional<RoleGrant>> set_role(std::string_view worker_id, Role role);
  // The pending grants, oldest first, and one worker's (if any).
  Result<std::vector<RoleGrant>> pending_grants();
  Result<std::optional<RoleGrant>> pending_grant(std::string_view worker_id);
  // The second person: applies a pending grant (the worker's role changes, a worker created
  // by the grant becomes active, their sessions end). Refused (forbidden) for the grant's
  // requester, for the worker it concerns, and for a web actor who may not approve_roles.
  Status approve_grant(std::string_view grant_id);
  // Refuses a pending grant (anyone who may approve, the requester included); the worker
  // keeps their role, and one created by the grant stays inactive.
  Status refuse_grant(std::string_view grant_id);
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
  // Puts the current records of every case the worker sees into the change log again, so each
  // device of theirs receives the whole of those cases at its next sync, whatever its cursor:
  // for cases stored without a change log (a bulk import, the demo's bulk load). Audited.
  Status send_cases(std::string_view worker_id);
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
               std::string_view case_id, std::string_view detail, std::string_view outcome = "ok");
  // Audits a refusal (its own committed entry) and returns `why`.
  Status refused(std::string_view event, std::string_view worker_id, std::string_view detail,
                 Status why);
  Status decide_grant(std::string_view grant_id, bool approve);
  std::string now() const;

  ServerStore& store_;
  const Clock& clock_;
  HybridClock hlc_;
  std::string actor_ = "console";
  std::optional<Worker> web_actor_;
  std::optional<ServerSecret> code_secret_;
};

}  // namespace fieldcase::server
