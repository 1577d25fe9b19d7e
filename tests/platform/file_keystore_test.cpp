#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

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

TEST_CASE("file key store never follows a link planted at its temporary file",
          "[platform][security]") {
  test::TempDir dir;
  platform::FileKeyStore ks(dir / "keys");
  REQUIRE(ks.put("other", std::vector<std::uint8_t>{7}).ok());  // creates the directory
  const std::vector<unsigned char> original{'k', 'e', 'e', 'p'};
  test::write_file(dir / "victim", original);
  REQUIRE(::symlink((dir / "victim").c_str(), (dir / "keys" / "device.tmp").c_str()) == 0);

  std::vector<std::uint8_t> secret{1, 2, 3, 4};
  REQUIRE(ks.put("device", secret).ok());
  CHECK(test::read_file(dir / "victim") == original);  // the link's target is untouched
  auto got = ks.get("device");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->equals(secret));
  struct stat st {};
  REQUIRE(::lstat((dir / "keys" / "device").c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));

  // Removing shreds the entry, and a link left in the temporary file's place is unlinked
  // without writing through it.
  REQUIRE(::symlink((dir / "victim").c_str(), (dir / "keys" / "device.tmp").c_str()) == 0);
  REQUIRE(ks.remove("device").ok());
  CHECK(test::read_file(dir / "victim") == original);
  CHECK(::lstat((dir / "keys" / "device.tmp").c_str(), &st) != 0);
  CHECK_FALSE(ks.get("device")->has_value());
}
