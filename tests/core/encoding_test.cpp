#include <catch2/catch.hpp>

#include <array>

#include "fieldcase/encoding.hpp"

using namespace fieldcase;

TEST_CASE("hex encodes and decodes bytes", "[core]") {
  std::vector<std::uint8_t> bytes{0x00, 0x01, 0xab, 0xff};
  CHECK(hex_encode(bytes) == "0001abff");
  auto back = hex_decode("0001ABff");
  REQUIRE(back.has_value());
  CHECK(*back == bytes);
  CHECK(hex_encode({}) == "");
}

TEST_CASE("hex rejects malformed input and leaves nothing behind", "[core]") {
  CHECK_FALSE(hex_decode("abc").has_value());
  CHECK_FALSE(hex_decode("zz").has_value());
  std::array<std::uint8_t, 2> out{0x55, 0x55};
  CHECK_FALSE(hex_decode_into("12g4", out));
  CHECK(out == std::array<std::uint8_t, 2>{0, 0});
  CHECK_FALSE(hex_decode_into("1234ff", out));  // wrong length
  CHECK(hex_decode_into("1234", out));
  CHECK(out == std::array<std::uint8_t, 2>{0x12, 0x34});
}
