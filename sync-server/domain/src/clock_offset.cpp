#include "fieldcase/server/clock_offset.hpp"

#include <algorithm>
#include <charconv>

#include "fieldcase/record_schema.hpp"

namespace fieldcase::server {

ClockEstimate update_clock_estimate(const std::vector<ClockSample>& previous, ClockSample sample,
                                    const ClockEstimatorOptions& options) {
  const std::int64_t max_age_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options.max_age).count();
  const std::int64_t step_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options.step).count();
  ClockEstimate out;
  for (const auto& s : previous) {
    if (sample.receipt_ms - s.receipt_ms <= max_age_ms) out.samples.push_back(s);
  }
  if (!out.samples.empty()) {
    std::int64_t current = out.samples.front().offset_ms;
    for (const auto& s : out.samples) current = std::max(current, s.offset_ms);
    if (sample.offset_ms < current - step_ms) {
      out.samples.clear();
      out.restarted = true;
    }
  }
  out.samples.push_back(sample);
  const std::size_t window = std::max<std::size_t>(options.window, 1);
  if (out.samples.size() > window) {
    out.samples.erase(out.samples.begin(), out.samples.begin() + static_cast<std::ptrdiff_t>(
                                                                     out.samples.size() - window));
  }
  out.offset_ms = out.samples.front().offset_ms;
  for (const auto& s : out.samples) out.offset_ms = std::max(out.offset_ms, s.offset_ms);
  return out;
}

std::optional<std::int64_t> parse_iso_millis(std::string_view text) {
  auto secs = parse_iso_datetime(text);
  if (!secs) return std::nullopt;
  std::int64_t ms = 0;
  if (text.size() == 24) {
    auto r = std::from_chars(text.data() + 20, text.data() + 23, ms);
    if (r.ec != std::errc()) return std::nullopt;
  }
  return *secs * 1000 + ms;
}

std::string format_iso_millis(std::int64_t unix_ms) {
  return format_iso_datetime(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(unix_ms)));
}

}  // namespace fieldcase::server
