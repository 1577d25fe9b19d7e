#include <catch2/catch.hpp>

#include "fieldcase/status.hpp"
#include "fieldcase/version.hpp"

using namespace fieldcase;

namespace {
Result<int> parse_positive(int v) {
  if (v <= 0) return Status(Errc::invalid_argument, "must be positive");
  return v;
}
Status chain(int v) {
  FC_TRY(parse_positive(v).status());
  return {};
}
}  // namespace

TEST_CASE("Status carries a stable code and a message", "[core]") {
  Status ok;
  CHECK(ok.ok());
  CHECK(ok.to_string() == "ok");
  Status bad(Errc::wrong_pin, "wrong PIN: 3 attempts left");
  CHECK_FALSE(bad.ok());
  CHECK(bad.code() == Errc::wrong_pin);
  CHECK(bad.to_string() == "wrong_pin: wrong PIN: 3 attempts left");
  // The numbers are part of the C API and the protocol: they must never change.
  CHECK(static_cast<int>(Errc::integrity) == 100);
  CHECK(static_cast<int>(Errc::wiped) == 103);
  CHECK(errc_name(Errc::disk_full) == "disk_full");
}

TEST_CASE("Result holds a value or the reason there is none", "[core]") {
  auto good = parse_positive(7);
  REQUIRE(good.ok());
  CHECK(*good == 7);
  CHECK(good.status().ok());
  auto bad = parse_positive(-1);
  CHECK_FALSE(bad.ok());
  CHECK(bad.code() == Errc::invalid_argument);
  CHECK(bad.status().message() == "must be positive");
  CHECK(chain(3).ok());
  CHECK(chain(0).code() == Errc::invalid_argument);
}

TEST_CASE("version and build information", "[core]") {
  CHECK_FALSE(version().empty());
  std::string info = build_info();
  CHECK(info.rfind("fieldcase " + std::string(version()), 0) == 0);
  CHECK(info.find("sqlite 3.") != std::string::npos);
  CHECK(info.find("libsodium") != std::string::npos);
}
