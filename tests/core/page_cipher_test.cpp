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

TEST_CASE("a page is bound to its file role and WAL generation", "[store][crypto][security]") {
  const std::array<std::uint8_t, 32> key{7, 8, 9};
  const PageCipher cipher(key.data(), new_file_header());
  const std::array<std::uint8_t, kWalSaltSize> salts{1, 2, 3, 4, 5, 6, 7, 8};
  const std::array<std::uint8_t, kWalSaltSize> next_salts{2, 2, 3, 4, 9, 9, 9, 9};
  const std::uint64_t off = 1046512;  // a journal record and a WAL frame can share an offset
  std::vector<std::uint8_t> plain(kPage, 0x5a);
  auto opens_as = [&](const PagePosition& written, const PagePosition& read) {
    std::vector<std::uint8_t> page(kPage);
    cipher.encrypt(9, plain.data(), page.data(), kPage, kReserve, written);
    return cipher.decrypt(9, page.data(), kPage, kReserve, read);
  };
  const auto wal = PagePosition::wal_frame(off, salts.data());
  const auto journal = PagePosition::journal_record(off);
  const auto main = PagePosition::main_file();
  CHECK(opens_as(wal, wal));
  CHECK(opens_as(journal, journal));
  CHECK(opens_as(main, main));
  CHECK_FALSE(opens_as(journal, wal));
  CHECK_FALSE(opens_as(wal, journal));
  CHECK_FALSE(opens_as(wal, main));
  CHECK_FALSE(opens_as(main, wal));
  CHECK_FALSE(opens_as(wal, PagePosition::wal_frame(off, next_salts.data())));
  CHECK_FALSE(opens_as(wal, PagePosition::wal_frame(off + 4120, salts.data())));
}

TEST_CASE("format 1 pages keep their associated data", "[store][crypto]") {
  const std::array<std::uint8_t, 32> key{7, 8, 9};
  const PageCipher old(key.data(), new_file_header(1));
  REQUIRE(old.format_version() == 1);
  REQUIRE(check_file_header(old.header()) == HeaderCheck::ok);
  FileHeader future = new_file_header();
  future[4] = kFormatVersion + 1;
  CHECK(check_file_header(future) == HeaderCheck::unsupported_version);
  // Format 1 bound only the offset: its pages open wherever the offset matches.
  const std::array<std::uint8_t, kWalSaltSize> salts{1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<std::uint8_t> plain(kPage, 0x5a);
  std::vector<std::uint8_t> page(kPage);
  old.encrypt(9, plain.data(), page.data(), kPage, kReserve, PagePosition::journal_record(64));
  CHECK(old.decrypt(9, page.data(), kPage, kReserve, PagePosition::wal_frame(64, salts.data())));
  CHECK(std::equal(plain.begin(), plain.end() - kReserve, page.begin()));
}
