// Page nonces: fresh for every write, including across a fork.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <set>
#include <vector>

#include "storage/page_cipher.hpp"

using namespace fieldcase::storage;

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kReserve = 40;
using Nonce = std::array<std::uint8_t, kNonceSize>;

// Encrypts page 7 and returns the nonce it was given.
Nonce encrypt_once(const PageCipher& cipher) {
  std::vector<std::uint8_t> plain(kPage, 0x5a);
  std::vector<std::uint8_t> out(kPage);
  cipher.encrypt(7, plain.data(), out.data(), kPage, kReserve, {});
  Nonce n{};
  std::copy_n(out.begin() + (kPage - kReserve), kNonceSize, n.begin());
  return n;
}

}  // namespace

TEST_CASE("every page write gets a different nonce", "[store][crypto]") {
  const std::array<std::uint8_t, 32> key{1, 2, 3};
  const PageCipher cipher(key.data(), new_file_header());
  std::set<Nonce> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(encrypt_once(cipher));
  CHECK(seen.size() == 1000);

  std::vector<std::uint8_t> plain(kPage, 0x5a);
  std::vector<std::uint8_t> page(kPage);
  cipher.encrypt(7, plain.data(), page.data(), kPage, kReserve, {});
  REQUIRE(cipher.decrypt(7, page.data(), kPage, kReserve, {}));
  CHECK(std::equal(plain.begin(), plain.end() - kReserve, page.begin()));
}

TEST_CASE("a forked child never reuses its parent's nonces", "[store][crypto]") {
  const std::array<std::uint8_t, 32> key{4, 5, 6};
  const PageCipher cipher(key.data(), new_file_header());
  encrypt_once(cipher);  // the parent's thread now holds unused nonces

  constexpr int kWrites = 64;
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    bool ok = true;
    for (int i = 0; i < kWrites && ok; ++i) {
      const Nonce n = encrypt_once(cipher);
      ok = write(fds[1], n.data(), n.size()) == static_cast<ssize_t>(n.size());
    }
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  std::set<Nonce> parent;
  for (int i = 0; i < kWrites; ++i) parent.insert(encrypt_once(cipher));
  std::vector<Nonce> child;
  for (Nonce n{}; read(fds[0], n.data(), n.size()) == static_cast<ssize_t>(n.size());) {
    child.push_back(n);
  }
  close(fds[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(child.size() == kWrites);
  for (const Nonce& n : child) CHECK(parent.count(n) == 0);
}
