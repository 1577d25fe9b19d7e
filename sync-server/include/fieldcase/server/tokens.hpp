// Device tokens: the bearer credential an administrator issues for one worker's device.
//
// A token is 32 random bytes, shown once as unpadded base64url (43 characters). The server
// keeps only its BLAKE2b-256 hash (libsodium crypto_generichash), so a copy of the database
// does not let anyone sign in. Thread-safe.
#pragma once

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

}  // namespace fieldcase::server
