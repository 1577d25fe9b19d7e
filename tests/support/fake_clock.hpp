// A Clock that tests move by hand.
#pragma once

#include <chrono>

#include "fieldcase/clock.hpp"

namespace fieldcase::test {

class FakeClock final : public Clock {
 public:
  // Starts at 2027-01-15T08:00:00Z.
  std::chrono::system_clock::time_point wall() const override { return wall_; }
  std::chrono::steady_clock::time_point monotonic() const override { return mono_; }
  // Moves both clocks forward.
  void advance(std::chrono::nanoseconds d) {
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    mono_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
  }
  // Sets the wall clock to any time, earlier or later (a device clock being corrected or
  // reset); the monotonic clock does not move.
  void set_wall(std::chrono::system_clock::time_point t) { wall_ = t; }

 private:
  std::chrono::system_clock::time_point wall_{std::chrono::seconds(1'800'000'000)};
  std::chrono::steady_clock::time_point mono_{std::chrono::seconds(1000)};
};

}  // namespace fieldcase::test
