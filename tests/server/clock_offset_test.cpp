// The clock-offset estimator: the maximum of recent samples, restarted when the clock is set
// back, forgetting old samples.
#include <catch2/catch.hpp>

#include "fieldcase/server/clock_offset.hpp"

using namespace fieldcase::server;

TEST_CASE("clock offset: the estimate is the sample with the least delay", "[sync]") {
  ClockEstimatorOptions o;
  o.window = 4;
  std::vector<ClockSample> samples;
  const std::int64_t offset = 259'200'000;  // three days fast
  std::int64_t t = 1'800'000'000'000;
  ClockEstimate e;
  for (std::int64_t delay : {800, 120, 3000, 450}) {
    e = update_clock_estimate(samples, {t, offset - delay}, o);
    samples = e.samples;
    t += 60'000;
  }
  CHECK(e.offset_ms == offset - 120);
  CHECK(samples.size() == 4);
  // The best sample leaves the window after `window` newer ones.
  for (std::int64_t delay : {900, 700, 600, 500}) {
    e = update_clock_estimate(samples, {t, offset - delay}, o);
    samples = e.samples;
    t += 60'000;
  }
  CHECK(e.offset_ms == offset - 500);
  CHECK(samples.size() == 4);
  CHECK_FALSE(e.restarted);
}

TEST_CASE("clock offset: a clock set back restarts the estimate and one set forward shows at once",
          "[sync]") {
  ClockEstimatorOptions o;
  std::vector<ClockSample> samples;
  std::int64_t t = 1'800'000'000'000;
  auto e = update_clock_estimate(samples, {t, 259'200'000}, o);
  samples = e.samples;
  // The device's clock is corrected: the offset drops to about zero.
  e = update_clock_estimate(samples, {t + 60'000, -150}, o);
  CHECK(e.restarted);
  CHECK(e.offset_ms == -150);
  CHECK(e.samples.size() == 1);
  samples = e.samples;
  // Set three days slow, then forward again.
  e = update_clock_estimate(samples, {t + 120'000, -259'200'000}, o);
  CHECK(e.offset_ms == -259'200'000);
  samples = e.samples;
  e = update_clock_estimate(samples, {t + 180'000, -90}, o);
  CHECK_FALSE(e.restarted);
  CHECK(e.offset_ms == -90);
  // A little more delay than usual is not a step.
  samples = e.samples;
  e = update_clock_estimate(samples, {t + 240'000, -20'000}, o);
  CHECK_FALSE(e.restarted);
  CHECK(e.offset_ms == -90);
}

TEST_CASE("clock offset: samples older than the age limit are forgotten", "[sync]") {
  ClockEstimatorOptions o;
  o.max_age = std::chrono::hours(24);
  std::int64_t t = 1'800'000'000'000;
  auto e = update_clock_estimate({}, {t, 5'000}, o);
  e = update_clock_estimate(e.samples, {t + 25 * 3'600'000LL, 1'000}, o);
  CHECK(e.samples.size() == 1);
  CHECK(e.offset_ms == 1'000);
}

TEST_CASE("clock offset: ISO times with milliseconds round-trip", "[sync]") {
  auto ms = parse_iso_millis("2027-01-15T08:00:00.250Z");
  REQUIRE(ms.has_value());
  CHECK(format_iso_millis(*ms) == "2027-01-15T08:00:00.250Z");
  CHECK(parse_iso_millis("2027-01-15T08:00:00Z") == *ms - 250);
  CHECK_FALSE(parse_iso_millis("2027-01-15 08:00:00").has_value());
}
