// The running estimate of a device's clock offset (device clock minus server clock).
//
// Each sync gives one sample: the request's device_time minus the server's receipt time. The
// request spends some time in flight before the server stamps its receipt, so every sample is
// the true offset minus that delay, never more: the sample with the least delay is the best
// one. The estimate is therefore the MAXIMUM of the recent samples (the last `window` samples
// no older than `max_age`). When a new sample falls more than `step` below the estimate, the
// device's clock was set back (or a request was unusually slow); the old samples no longer
// describe the clock, so the window starts again from the new sample. A clock set forward
// shows at once, as the new maximum.
//
// Pure functions over values; thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "fieldcase/server/devices.hpp"

namespace fieldcase::server {

struct ClockEstimatorOptions {
  std::size_t window = 8;
  std::chrono::hours max_age{24 * 14};
  std::chrono::seconds step{300};
};

struct ClockEstimate {
  std::vector<ClockSample> samples;  // the window after this sample, oldest first
  std::int64_t offset_ms = 0;
  bool restarted = false;  // the window was reset by a backward step
};

ClockEstimate update_clock_estimate(const std::vector<ClockSample>& previous, ClockSample sample,
                                    const ClockEstimatorOptions& options);

// Unix milliseconds of an ISO-8601 UTC time ("YYYY-MM-DDTHH:MM:SS[.mmm]Z"), or nullopt.
std::optional<std::int64_t> parse_iso_millis(std::string_view text);
std::string format_iso_millis(std::int64_t unix_ms);

}  // namespace fieldcase::server
