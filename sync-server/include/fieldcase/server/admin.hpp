// Administration of the organisation, allocations and device tokens (the `admin` commands).
//
// Every change runs in one durable store transaction and is audited. Ids are UUIDv7 made
// here. allocate() also keeps the child record's allocation fields in step and, when a case
// moves to another worker, appends the case's current state to the log so that every device
// that now sees the case receives all of it (see docs/sync-protocol.md, "Scope and purge").
//
// Not thread-safe: use one Admin per thread; the store must not be used concurrently by others
// in this process (the admin commands run in their own process; SQLite serialises writers).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/clock.hpp"
#include "fieldcase/ids.hpp"
#include "fieldcase/server/server_store.hpp"

namespace fieldcase::server {

struct IssuedDevice {
  std::string device_id;
  std::string token;  // shown once; only its hash is stored
};

class Admin {
 public:
  Admin(ServerStore& store, const Clock& clock);

  Result<std::string> create_authority(std::string_view name, std::string_view la_code);
  Result<std::string> create_area(std::string_view name);
  Result<std::string> create_team(std::string_view name, std::string_view area_id);
  // team_id may be empty except for team and area managers (their scope comes from it).
  Result<std::string> create_worker(std::string_view name, Role role, std::string_view team_id);
  // Allocates a child's case (which may not exist yet) to an active worker. Re-allocating to
  // the same worker changes nothing.
  Status allocate(std::string_view case_id, std::string_view worker_id);
  Result<IssuedDevice> issue_device(std::string_view worker_id);
  // Lost or stolen: every further request of the device is refused with a wipe instruction.
  Status revoke_device(std::string_view device_id);
  // Staff leaving: the device's next sync is accepted as usual and answered with a wipe
  // instruction; it is refused once it has delivered everything. A revoked device stays revoked.
  Status retire_device(std::string_view device_id);
  // The worker can no longer be allocated cases or issued devices, and every active device of
  // theirs is revoked; a retiring one still delivers its work and then wipes. Idempotent.
  Status deactivate_worker(std::string_view worker_id);
  Result<std::vector<Device>> list_devices();

 private:
  Status audit(std::string_view event, std::string_view device_id, std::string_view worker_id,
               std::string_view case_id, std::string_view detail);
  std::string now() const;

  ServerStore& store_;
  const Clock& clock_;
  HybridClock hlc_;
};

}  // namespace fieldcase::server
