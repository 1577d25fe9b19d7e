// Device tokens: the bearer credential an administrator issues for one worker's device.
//
// A token is 32 random bytes, shown once as unpadded base64url (43 characters). The server
// keeps only its BLAKE2b-256 hash (libsodium crypto_generichash), so a copy of the database
// does not let anyone sign in: with 256 random bits nothing can be guessed against the hash,
// so it needs no key (web session ids are kept the same way).
//
// The server secret: short credentials (enrollment codes, 50 bits) could be guessed against an
// unkeyed hash in seconds, so their stored form is keyed with 32 random bytes kept in a file
// outside the database (ServerSecret). Thread-safe.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

#include "fieldcase/status.hpp"

namespace fieldcase::server {

inline constexpr std::size_t kTokenBytes = 32;

Result<std::string> new_device_token();
// Lower-case hex of the token's BLAKE2b-256 hash.
std::string token_hash(std::string_view token);
// Whether `text` has the shape of a token (43 base64url characters).
bool looks_like_token(std::string_view text) noexcept;

// A new HLC node id for one server process: "server-" and 16 random hex digits. Several
// instances on one database each stamp with their own, so no two stamps of different
// instances are ever equal.
std::string new_server_node();

inline constexpr std::size_t kServerSecretBytes = 32;

// The server's secret key, read from its file. The file holds the 32 bytes as 64 hex digits
// (a trailing newline allowed); it must be a regular file, not a symbolic link, readable and
// writable by its owner only (0600 or 0400). The key is zeroed when the object goes.
class ServerSecret {
 public:
  // Reads `file`, or creates it (mode 0600, 32 new random bytes) when it does not exist; two
  // processes starting at once end up with the same secret. Errors: invalid_argument (the
  // file is not a private regular file of 64 hex digits), io.
  static Result<ServerSecret> load_or_create(const std::filesystem::path& file);
  // A secret from given bytes (tests).
  static ServerSecret from_bytes(const std::array<unsigned char, kServerSecretBytes>& bytes);
  ServerSecret(const ServerSecret&) = default;
  ServerSecret& operator=(const ServerSecret&) = default;
  ~ServerSecret();

  // Lower-case hex of the BLAKE2b-256 of `text` keyed with the secret, in `domain` (a fixed
  // string naming the use, so one use's values say nothing about another's).
  std::string keyed_hash(std::string_view domain, std::string_view text) const;

 private:
  ServerSecret() = default;
  std::array<unsigned char, kServerSecretBytes> key_{};
};

}  // namespace fieldcase::server
