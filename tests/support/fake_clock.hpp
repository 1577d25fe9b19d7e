// A Clock that tests move by hand.
#pragma once

#include "fieldcase/clock.hpp"

namespace fieldcase::test {

class FakeClock final : public Clock {
 public:
  std::chrono::system_clock::time_point wall() const override { return wall_; }
  std::chrono::steady_clock::time_point monotonic() const override { return mono_; }
  void advance(std::chrono::seconds d) {
    wall_ += d;
    mono_ += d;
  }

 private:
  std::chrono::system_clock::time_point wall_{std::chrono::seconds(1'800'000'000)};
  std::chrono::steady_clock::time_point mono_{std::chrono::seconds(1000)};
};

}  // namespace fieldcase::test
