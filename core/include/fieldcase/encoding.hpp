// Small text encodings used across the core (hex for keys and ids).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fieldcase {

// Lower-case hexadecimal of the bytes.
std::string hex_encode(std::span<const std::uint8_t> bytes);

// Bytes of a hexadecimal string (either case); nullopt if the length is odd or a character
// is not a hex digit.
std::optional<std::vector<std::uint8_t>> hex_decode(std::string_view text);

// Decodes exactly out.size() bytes of hex into out without allocating (for keys that must
// only ever live in locked memory). Returns false, leaving out zeroed, on any malformed input.
bool hex_decode_into(std::string_view text, std::span<std::uint8_t> out) noexcept;

}  // namespace fieldcase
