// Identifiers and hybrid logical clock stamps generated on the device.
//
// Record ids are UUIDv7 (48-bit Unix milliseconds, a counter, then random bits) so they sort
// by creation time, also within a millisecond, and never collide between devices. An HLC stamp orders every field change across
// devices even when their clocks disagree: it never goes backwards on a device and always
// moves past any stamp the device has seen. Stamps compare correctly as plain strings.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "fieldcase/clock.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase {

// "01890a5d-ac96-774b-bcce-b302099a8057" style, lower-case. Thread-safe. Ids made by this
// process sort in the order they were made, however many share a millisecond (more than
// about 130 000 in one millisecond borrow the next) and across small steps back of the clock
// (up to ten seconds); after a larger step back the ids follow the clock again.
std::string new_uuid_v7(const Clock& clock);
bool is_uuid(std::string_view text);

// How far ahead of the wall clock a stamp from elsewhere may be and still be believed. A device
// ignores stamps further ahead of its own clock (HybridClock::observe); the server refuses
// device stamps further ahead of its receipt time (ServiceOptions::max_stamp_ahead, whose
// default this is). An honest clock a little fast stays within it; a stamp years ahead does not
// drag every clock that sees it into the future.
inline constexpr std::chrono::hours kHlcMaxAhead{12};

struct HlcStamp {
  // The largest counter the string form holds; a clock needing more moves on in wall time.
  static constexpr std::uint32_t kMaxCounter = 999'999;
  // The largest wall time the string form holds (15 digits, in the year 33658). Clocks
  // saturate there rather than grow a sixteenth digit.
  static constexpr std::int64_t kMaxWall = 999'999'999'999'999;
  std::int64_t wall_ms = 0;
  std::uint32_t counter = 0;  // at most kMaxCounter
  std::string device;
  // "<wall_ms:15 digits>.<counter:6 digits>.<device>": lexicographic order is HLC order.
  std::string to_string() const;
  static Result<HlcStamp> parse(std::string_view text);
};

// Thread-safe.
class HybridClock {
 public:
  HybridClock(const Clock& clock, std::string device_id,
              std::chrono::milliseconds max_ahead = kHlcMaxAhead);
  // A stamp later than every stamp issued or observed so far. When the wall clock stands
  // still (or is behind) for more than kMaxCounter stamps, the stamp's wall time moves one
  // millisecond ahead of the clock rather than overflowing the counter. Stamps never leave
  // the string form's range: a wall clock beyond kMaxWall reads as kMaxWall, and at the very
  // top (kMaxWall, kMaxCounter) the clock saturates, repeating that stamp, instead of wrapping.
  HlcStamp now();
  // Moves the clock past a stamp received from elsewhere, unless that stamp is more than
  // `max_ahead` ahead of the wall clock: then it is ignored (false) and the clock stays where
  // it was, so a hostile or broken peer cannot push this clock's stamps out of range.
  bool observe(const HlcStamp& remote);
  // Resumes after a stamp this clock issued before (kept in the device's log): the clock
  // moves past it whatever the wall clock says, so the device never issues a stamp older than
  // its own last one, even after its clock was put back.
  void resume(const HlcStamp& own);
  const std::string& device() const { return device_; }

 private:
  const Clock& clock_;
  std::string device_;
  std::int64_t max_ahead_ms_;
  std::mutex mu_;
  std::int64_t last_wall_ = 0;
  std::uint32_t last_counter_ = 0;
};

}  // namespace fieldcase
