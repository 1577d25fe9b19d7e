#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "fieldcase/platform/file_keystore.hpp"
#include "temp_dir.hpp"

using namespace fieldcase;

TEST_CASE("file key store keeps owner-only secrets", "[platform][crypto]") {
  test::TempDir dir;
  platform::FileKeyStore ks(dir / "keys");
  auto missing = ks.get("device");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());

  std::vector<std::uint8_t> secret{1, 2, 3, 4};
  REQUIRE(ks.put("device", secret).ok());
  auto got = ks.get("device");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->equals(secret));

  struct stat st {};
  REQUIRE(::stat((dir / "keys" / "device").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((dir / "keys").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);

  REQUIRE(ks.remove("device").ok());
  CHECK_FALSE(ks.get("device")->has_value());
  CHECK(ks.remove("device").ok());  // removing twice is not an error
}

TEST_CASE("file key store refuses names that could escape its directory", "[platform][security]") {
  test::TempDir dir;
  platform::FileKeyStore ks(dir / "keys");
  std::vector<std::uint8_t> secret{9};
  CHECK(ks.put("../escape", secret).code() == Errc::invalid_argument);
  CHECK(ks.put("a/b", secret).code() == Errc::invalid_argument);
  CHECK(ks.put("", secret).code() == Errc::invalid_argument);
  CHECK(ks.get(".hidden").code() == Errc::invalid_argument);
}
