// Time as the core sees it, so tests and simulations can drive it.
//
// wall() is the device's calendar clock (may jump); monotonic() only moves forward and is what
// timeouts are measured with. Implementations must be thread-safe.
#pragma once

#include <chrono>

namespace fieldcase {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point wall() const = 0;
  virtual std::chrono::steady_clock::time_point monotonic() const = 0;
};

// The operating system's clocks.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point wall() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  static SystemClock& instance() {
    static SystemClock clock;
    return clock;
  }
};

}  // namespace fieldcase
