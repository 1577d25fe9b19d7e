// Small pieces shared by the demo generator and the simulated devices: times in Unix
// milliseconds, a seeded random stream, per-day schedule draws and record ids made from the
// stream (so the same seed gives the same ids).
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "fieldcase/calendar.hpp"
#include "fieldcase/record_schema.hpp"

namespace fieldcase::server::demo::detail {

using Ms = std::int64_t;  // Unix milliseconds
inline constexpr Ms kMin = 60'000;
inline constexpr Ms kHour = 60 * kMin;
inline constexpr Ms kDay = 24 * kHour;

inline Ms day_start(Date d) { return Ms{d.days_since_epoch()} * kDay; }
inline Date date_of(Ms t) {
  return Date::from_days_since_epoch((t >= 0 ? t : t - kDay + 1) / kDay).value();
}
inline std::string iso(Ms t) {
  return format_iso_datetime(std::chrono::system_clock::time_point(std::chrono::milliseconds(t)));
}

// SplitMix64 finaliser: a well-mixed 64-bit value from two.
inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t z = a + 0x9e3779b97f4a7c15ULL * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// A draw for one key on one day (schedules: is this tablet offline today?).
inline std::uint64_t hash(std::uint64_t key, Date d) {
  return mix(key, static_cast<std::uint64_t>(d.days_since_epoch()));
}
// [0, 1) from 64 random bits.
inline double unit(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// A seeded random stream. Draws use only the engine's raw output (not the standard library's
// distributions, whose results differ between implementations), so a seed means the same
// history everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t bits() { return engine_(); }
  double uniform() { return unit(bits()); }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : bits() % n; }
  bool chance(double p) { return uniform() < p; }
  // Log-normal with the given median; sigma is the spread of its logarithm.
  double lognormal(double median, double sigma) {
    // Box-Muller from two uniforms.
    const double u1 = std::max(uniform(), 1e-12);
    const double u2 = uniform();
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    return median * std::exp(sigma * z);
  }

 private:
  std::mt19937_64 engine_;
};

// A version 7 UUID for time `t` with random bits from the stream.
inline std::string uuid_v7(Rng& rng, Ms t) {
  const std::uint64_t r1 = rng.bits();
  const std::uint64_t r2 = rng.bits();
  unsigned char b[16];
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(t) >> (8 * (5 - i)));
  b[6] = static_cast<unsigned char>(0x70 | (r1 & 0x0f));
  b[7] = static_cast<unsigned char>(r1 >> 8);
  b[8] = static_cast<unsigned char>(0x80 | ((r1 >> 16) & 0x3f));
  for (int i = 9; i < 16; ++i) b[i] = static_cast<unsigned char>(r2 >> (8 * (i - 9)));
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 0x0f];
  }
  return out;
}

}  // namespace fieldcase::server::demo::detail
