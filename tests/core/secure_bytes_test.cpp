#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

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

TEST_CASE("a forked child does not inherit the secret bytes", "[crypto][security]") {
  auto key = SecureBytes::allocate(kKeySize);
  REQUIRE(key.ok());
  std::fill(key->data(), key->data() + kKeySize, std::uint8_t{0xA5});
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child reports what it sees at the key's address (reading an unmapped page would kill
    // it with SIGSEGV, which also keeps the key from it).
    close(fds[0]);
    std::array<std::uint8_t, kKeySize> seen{};
    std::copy_n(key->data(), kKeySize, seen.begin());
    const bool sent = write(fds[1], seen.data(), seen.size()) == static_cast<ssize_t>(seen.size());
    _exit(sent ? 0 : 1);
  }
  close(fds[1]);
  std::array<std::uint8_t, kKeySize> seen{};
  const ssize_t got = read(fds[0], seen.data(), seen.size());
  close(fds[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  if (WIFSIGNALED(status)) {
    CHECK(WTERMSIG(status) == SIGSEGV);
  } else {
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    REQUIRE(got == static_cast<ssize_t>(seen.size()));
    CHECK(std::all_of(seen.begin(), seen.end(), [](std::uint8_t b) { return b == 0; }));
  }
  // The parent still has its key.
  CHECK(std::all_of(key->data(), key->data() + kKeySize, [](std::uint8_t b) { return b == 0xA5; }));
}
