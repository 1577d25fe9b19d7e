#include "fieldcase/encoding.hpp"

#include <algorithm>

namespace fieldcase {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string hex_encode(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0x0f]);
  }
  return out;
}

bool hex_decode_into(std::string_view text, std::span<std::uint8_t> out) noexcept {
  bool good = text.size() == out.size() * 2;
  for (std::size_t i = 0; good && i < out.size(); ++i) {
    int hi = hex_value(text[2 * i]);
    int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      good = false;
      break;
    }
    out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  if (!good) std::fill(out.begin(), out.end(), std::uint8_t{0});
  return good;
}

std::optional<std::vector<std::uint8_t>> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> out(text.size() / 2);
  if (!hex_decode_into(text, out)) return std::nullopt;
  return out;
}

}  // namespace fieldcase
