// Per-key request counts in fixed time windows (the per-device sync rate), kept in the
// database, so that N server instances sharing it admit no more together than one would.
//
// Contract: count_request is one atomic statement on the key's row (an UPSERT returning the new
// count): concurrent counts from any number of connections or processes each see the others',
// so the n-th request of a window gets n whichever instance it reached. A window starting
// later than the key's current one starts the count again at 1; a request stamped with an
// earlier window (another instance's slower clock) counts in the key's current window. Needs
// no transaction of the caller's and takes no writer lock.
#pragma once

#include <cstdint>
#include <string_view>

#include "fieldcase/status.hpp"

namespace fieldcase::server {

struct WindowCount {
  std::int64_t count = 0;            // requests counted in the window, this one included
  std::int64_t window_start_ms = 0;  // the window they were counted in
};

class RequestCounters {
 public:
  virtual ~RequestCounters() = default;

  // Counts one request for `key` in the window starting at `window_start_ms` (wall clock).
  virtual Result<WindowCount> count_request(std::string_view key,
                                            std::int64_t window_start_ms) = 0;
  // Forgets the keys whose window started before `before_ms` (their count is over).
  virtual Status forget_request_windows(std::int64_t before_ms) = 0;
};

}  // namespace fieldcase::server
