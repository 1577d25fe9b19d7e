#include <catch2/catch.hpp>

#include <algorithm>
#include <array>

#include "fieldcase/secure_bytes.hpp"

using namespace fieldcase;

TEST_CASE("secure_wipe zeroes a buffer", "[crypto]") {
  std::array<std::uint8_t, 64> buf{};
  buf.fill(0xA5);
  secure_wipe(buf);
  CHECK(std::all_of(buf.begin(), buf.end(), [](std::uint8_t b) { return b == 0; }));
}

TEST_CASE("SecureBytes holds secrets in guarded memory and forgets them", "[crypto]") {
  auto a = SecureBytes::random(kKeySize);
  REQUIRE(a.ok());
  CHECK(a->size() == kKeySize);
  auto b = SecureBytes::copy_of(a->span());
  REQUIRE(b.ok());
  CHECK(b->equals(a->span()));
  b->data()[0] ^= 1;
  CHECK_FALSE(b->equals(a->span()));

  SecureBytes moved = std::move(a.value());
  CHECK(moved.size() == kKeySize);
  CHECK(a->empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  moved.wipe();
  CHECK(moved.empty());
  CHECK(moved.data() == nullptr);
}

TEST_CASE("SecureBytes::from_hex takes exactly the key's digits", "[crypto]") {
  auto k = SecureBytes::from_hex(std::string(64, 'a'), kKeySize);
  REQUIRE(k.ok());
  CHECK(k->data()[31] == 0xaa);
  CHECK(SecureBytes::from_hex(std::string(62, 'a'), kKeySize).code() == Errc::invalid_argument);
  CHECK(SecureBytes::from_hex(std::string(63, 'a') + "x", kKeySize).code() ==
        Errc::invalid_argument);
}
