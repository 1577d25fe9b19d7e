// Enrolled devices: their lifecycle state, clock observations and what each may hold (domain
// entities, no I/O).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fieldcase::server {

// active: syncs normally. revoked (lost or stolen): every request is refused with a wipe
// instruction. retiring (staff leaving): syncs normally and every answer carries a wipe
// instruction; it becomes retired at its first request with no transactions left to send.
// retired: refused like a revoked device.
enum class DeviceStatus : std::uint8_t { active, revoked, retiring, retired };
std::string_view to_string(DeviceStatus status) noexcept;
std::optional<DeviceStatus> parse_device_status(std::string_view text) noexcept;

// One clock observation: device time minus server receipt time, in milliseconds.
struct ClockSample {
  std::int64_t receipt_ms = 0;  // server receipt time, Unix milliseconds
  std::int64_t offset_ms = 0;   // device clock minus server clock as observed
};

struct Device {
  std::string id;
  std::string worker_id;
  std::string name;  // what the worker called it at enrollment; empty for issued tokens
  DeviceStatus status = DeviceStatus::active;
  std::string created_at;
  std::string revoked_at;                       // when it was revoked or retired; empty otherwise
  std::string last_sync_at;                     // empty before the first sync
  std::vector<ClockSample> clock_samples;       // oldest first
  std::optional<std::int64_t> clock_offset_ms;  // the running estimate (device minus server)
};

// Whether a device may still hold a case: held until it acknowledges a purge instruction.
enum class HeldState : std::uint8_t { held, purged };

}  // namespace fieldcase::server
