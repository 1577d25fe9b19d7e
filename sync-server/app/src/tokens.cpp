#include "fieldcase/server/tokens.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

namespace fieldcase::server {

std::string new_server_node() {
  std::array<unsigned char, 8> raw{};
  randombytes_buf(raw.data(), raw.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string node = "server-";
  for (unsigned char b : raw) {
    node += kHex[b >> 4];
    node += kHex[b & 0xf];
  }
  return node;
}

Result<std::string> new_device_token() {
  if (sodium_init() < 0) return Status(Errc::internal, "libsodium could not be initialised");
  std::array<unsigned char, kTokenBytes> raw{};
  randombytes_buf(raw.data(), raw.size());
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(kTokenBytes, kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), raw.data(), raw.size(), kVariant);
  sodium_memzero(raw.data(), raw.size());
  out.resize(out.find('\0'));
  return out;
}

std::string token_hash(std::string_view token) {
  std::array<unsigned char, crypto_generichash_BYTES> digest{};
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr,
                     0);
  std::string hex(digest.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  hex.pop_back();
  return hex;
}

bool looks_like_token(std::string_view text) noexcept {
  if (text.size() != 43) return false;
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

namespace {

std::string hex_of(const unsigned char* bytes, std::size_t n) {
  std::string hex(n * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes, n);
  hex.pop_back();
  return hex;
}

Status io_error(const std::string& what, const std::filesystem::path& file) {
  return {Errc::io, what + " the server secret " + file.string() + ": " + std::strerror(errno)};
}

// Reads an existing secret file (see ServerSecret); nullopt when it does not exist.
Result<std::optional<std::array<unsigned char, kServerSecretBytes>>> read_secret(
    const std::filesystem::path& file) {
  using Bytes = std::array<unsigned char, kServerSecretBytes>;
  const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<Bytes>();
    if (errno == ELOOP) {
      return Status(Errc::invalid_argument,
                    "the server secret " + file.string() + " is a symbolic link");
    }
    return io_error("cannot open", file);
  }
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    Status e = io_error("cannot inspect", file);
    ::close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
    ::close(fd);
    return Status(Errc::invalid_argument, "the server secret " + file.string() +
                                              " must be a regular file readable by its owner "
                                              "only (chmod 600)");
  }
  std::array<char, 128> text{};
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status e = io_error("cannot read", file);
      ::close(fd);
      sodium_memzero(text.data(), text.size());
      return e;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  std::size_t len = got;
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) --len;
  Bytes bytes{};
  std::size_t bin_len = 0;
  const bool ok = len == kServerSecretBytes * 2 &&
                  sodium_hex2bin(bytes.data(), bytes.size(), text.data(), len, nullptr, &bin_len,
                                 nullptr) == 0 &&
                  bin_len == bytes.size();
  sodium_memzero(text.data(), text.size());
  if (!ok) {
    sodium_memzero(bytes.data(), bytes.size());
    return Status(Errc::invalid_argument, "the server secret " + file.string() +
                                              " must hold 64 hex digits (32 bytes)");
  }
  return std::optional<Bytes>(bytes);
}

}  // namespace

Result<ServerSecret> ServerSecret::load_or_create(const std::filesystem::path& file) {
  if (sodium_init() < 0) return Status(Errc::internal, "libsodium could not be initialised");
  if (file.empty()) return Status(Errc::invalid_argument, "no server secret file is configured");
  auto existing = read_secret(file);
  if (!existing.ok()) return existing.status();
  if (!*existing) {
    // Written in full to a private temporary file, then linked into place: a reader never
    // sees a partial secret, and of two processes creating it at once the first link wins.
    std::array<unsigned char, kServerSecretBytes> fresh{};
    randombytes_buf(fresh.data(), fresh.size());
    std::string text = hex_of(fresh.data(), fresh.size()) + "\n";
    sodium_memzero(fresh.data(), fresh.size());
    std::array<unsigned char, 8> tag{};
    randombytes_buf(tag.data(), tag.size());
    std::filesystem::path tmp = file;
    tmp += ".tmp-" + hex_of(tag.data(), tag.size());
    const int fd =
        ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      sodium_memzero(text.data(), text.size());
      return io_error("cannot create", file);
    }
    const bool written = ::write(fd, text.data(), text.size()) ==
                             static_cast<ssize_t>(text.size()) &&
                         ::fsync(fd) == 0;
    sodium_memzero(text.data(), text.size());
    ::close(fd);
    if (!written) {
      Status e = io_error("cannot write", file);
      ::unlink(tmp.c_str());
      return e;
    }
    const bool linked = ::link(tmp.c_str(), file.c_str()) == 0;
    const int link_errno = errno;
    ::unlink(tmp.c_str());
    if (!linked && link_errno != EEXIST) {
      errno = link_errno;
      return io_error("cannot create", file);
    }
    std::filesystem::path dir = file.parent_path();
    if (dir.empty()) dir = ".";
    if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
    existing = read_secret(file);
    if (!existing.ok()) return existing.status();
    if (!*existing) return Status(Errc::io, "the server secret " + file.string() + " vanished");
  }
  ServerSecret secret = from_bytes(**existing);
  sodium_memzero(existing->value().data(), existing->value().size());
  return secret;
}

ServerSecret ServerSecret::from_bytes(const std::array<unsigned char, kServerSecretBytes>& bytes) {
  ServerSecret s;
  s.key_ = bytes;
  return s;
}

ServerSecret::~ServerSecret() { sodium_memzero(key_.data(), key_.size()); }

std::string ServerSecret::keyed_hash(std::string_view domain, std::string_view text) const {
  crypto_generichash_state state;
  crypto_generichash_init(&state, key_.data(), key_.size(), crypto_generichash_BYTES);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(domain.data()),
                            domain.size());
  const unsigned char separator = 0;
  crypto_generichash_update(&state, &separator, 1);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(text.data()),
                            text.size());
  std::array<unsigned char, crypto_generichash_BYTES> digest{};
  crypto_generichash_final(&state, digest.data(), digest.size());
  sodium_memzero(&state, sizeof state);
  return hex_of(digest.data(), digest.size());
}

}  // namespace fieldcase::server
