#include "fieldcase/ids.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <limits>
#include <mutex>

namespace fieldcase {

namespace {

// Ids made in the same millisecond are ordered by a counter in the 18 bits after the version
// and variant (RFC 9562, section 6.2, method 1), started at a random value with its top bit
// clear at each new millisecond. The remaining 56 bits are random.
constexpr std::uint32_t kCounterMax = (1u << 18) - 1;
// A clock put back by up to this much continues the sequence (ids stay in order); a larger
// jump back is believed and the sequence starts again from the clock.
constexpr std::int64_t kMaxBackwardsMs = 10'000;

std::mutex g_uuid_mu;
std::int64_t g_last_ms = std::numeric_limits<std::int64_t>::min();  // guarded by g_uuid_mu
std::uint32_t g_counter = 0;                                        // guarded by g_uuid_mu

}  // namespace

std::string new_uuid_v7(const Clock& clock) {
  std::int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall().time_since_epoch())
          .count();
  std::array<std::uint8_t, 16> b{};
  randombytes_buf(b.data() + 6, 10);
  const std::uint32_t seed =
      ((std::uint32_t{b[6]} << 16) | (std::uint32_t{b[7]} << 8) | b[8]) & (kCounterMax >> 1);
  std::uint32_t counter = 0;
  {
    std::lock_guard lock(g_uuid_mu);
    if (ms > g_last_ms || ms < g_last_ms - kMaxBackwardsMs) {
      g_last_ms = ms;
      g_counter = seed;
    } else if (g_counter < kCounterMax) {
      ++g_counter;
    } else {
      ++g_last_ms;  // this millisecond's sequence is used up: borrow the next millisecond
      g_counter = seed;
    }
    ms = g_last_ms;
    counter = g_counter;
  }
  for (int i = 0; i < 6; ++i) {
    b[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(ms) >> (8 * (5 - i)));
  }
  b[6] = static_cast<std::uint8_t>(0x70 | ((counter >> 14) & 0x0f));  // version 7
  b[7] = static_cast<std::uint8_t>(counter >> 6);
  b[8] = static_cast<std::uint8_t>(0x80 | (counter & 0x3f));  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(hex[b[i] >> 4]);
    out.push_back(hex[b[i] & 15]);
  }
  return out;
}

bool is_uuid(std::string_view t) {
  if (t.size() != 36) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = t[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string HlcStamp::to_string() const {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%015lld.%06u.", static_cast<long long>(wall_ms), counter);
  return buf + device;
}

Result<HlcStamp> HlcStamp::parse(std::string_view text) {
  HlcStamp s;
  if (text.size() < 24 || text[15] != '.' || text[22] != '.') {
    return Status(Errc::invalid_argument, "malformed HLC stamp");
  }
  auto r1 = std::from_chars(text.data(), text.data() + 15, s.wall_ms);
  auto r2 = std::from_chars(text.data() + 16, text.data() + 22, s.counter);
  if (r1.ec != std::errc() || r1.ptr != text.data() + 15 || r2.ec != std::errc() ||
      r2.ptr != text.data() + 22 || s.wall_ms < 0) {
    return Status(Errc::invalid_argument, "malformed HLC stamp");
  }
  s.device = std::string(text.substr(23));
  if (s.device.empty()) return Status(Errc::invalid_argument, "HLC stamp without a device");
  return s;
}

HybridClock::HybridClock(const Clock& clock, std::string device_id,
                         std::chrono::milliseconds max_ahead)
    : clock_(clock), device_(std::move(device_id)), max_ahead_ms_(max_ahead.count()) {}

namespace {

std::int64_t wall_ms_of(const Clock& clock) {
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                        clock.wall().time_since_epoch())
                        .count();
  return std::clamp<std::int64_t>(wall, 0, HlcStamp::kMaxWall);
}

}  // namespace

HlcStamp HybridClock::now() {
  std::lock_guard lock(mu_);
  const std::int64_t wall = wall_ms_of(clock_);
  if (wall > last_wall_) {
    last_wall_ = wall;
    last_counter_ = 0;
  } else if (last_counter_ < HlcStamp::kMaxCounter) {
    ++last_counter_;
  } else if (last_wall_ < HlcStamp::kMaxWall) {
    // The string form has six counter digits: a seventh would sort before smaller counters.
    ++last_wall_;
    last_counter_ = 0;
  }
  // else: the top of the range. Saturate: a sixteenth wall digit would sort before the rest.
  return {last_wall_, last_counter_, device_};
}

bool HybridClock::observe(const HlcStamp& remote) {
  std::lock_guard lock(mu_);
  const std::int64_t wall = wall_ms_of(clock_);
  if (remote.wall_ms < 0 || remote.wall_ms > HlcStamp::kMaxWall ||
      remote.wall_ms - wall > max_ahead_ms_) {
    return false;
  }
  const std::uint32_t counter = std::min(remote.counter, HlcStamp::kMaxCounter);
  if (remote.wall_ms > last_wall_ || (remote.wall_ms == last_wall_ && counter > last_counter_)) {
    last_wall_ = remote.wall_ms;
    last_counter_ = counter;
  }
  return true;
}

void HybridClock::resume(const HlcStamp& own) {
  std::lock_guard lock(mu_);
  if (own.wall_ms < 0 || own.wall_ms > HlcStamp::kMaxWall) return;
  const std::uint32_t counter = std::min(own.counter, HlcStamp::kMaxCounter);
  if (own.wall_ms > last_wall_ || (own.wall_ms == last_wall_ && counter > last_counter_)) {
    last_wall_ = own.wall_ms;
    last_counter_ = counter;
  }
}

}  // namespace fieldcase
