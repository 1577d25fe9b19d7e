#include "fieldcase/server/tokens.hpp"

#include <sodium.h>

#include <array>

namespace fieldcase::server {

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

}  // namespace fieldcase::server
