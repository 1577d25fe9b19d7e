#include "fieldcase/secure_bytes.hpp"

#include <sodium.h>

#include <utility>

#include "fieldcase/encoding.hpp"
#include "guarded_memory.hpp"

namespace fieldcase {

Status crypto_init() {
  if (sodium_init() < 0) return {Errc::internal, "libsodium could not be initialised"};
  return {};
}

void secure_wipe(std::span<std::uint8_t> bytes) noexcept {
  if (!bytes.empty()) sodium_memzero(bytes.data(), bytes.size());
}

SecureBytes::SecureBytes(SecureBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecureBytes& SecureBytes::operator=(SecureBytes&& other) noexcept {
  if (this != &other) {
    wipe();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecureBytes::~SecureBytes() { wipe(); }

void SecureBytes::wipe() noexcept {
  detail::guarded_free(data_, size_);  // zeroes before releasing
  data_ = nullptr;
  size_ = 0;
}

Result<SecureBytes> SecureBytes::allocate(std::size_t size) {
  FC_TRY(crypto_init());
  SecureBytes out;
  if (size == 0) return out;
  std::uint8_t* p = detail::guarded_alloc(size);
  if (p == nullptr) return Status(Errc::internal, "cannot allocate guarded memory for a secret");
  out.data_ = p;
  out.size_ = size;
  return out;
}

Result<SecureBytes> SecureBytes::random(std::size_t size) {
  auto out = allocate(size);
  if (out.ok() && size > 0) randombytes_buf(out->data(), size);
  return out;
}

Result<SecureBytes> SecureBytes::copy_of(std::span<const std::uint8_t> bytes) {
  auto out = allocate(bytes.size());
  if (out.ok() && !bytes.empty()) std::copy(bytes.begin(), bytes.end(), out->data());
  return out;
}

Result<SecureBytes> SecureBytes::from_hex(std::string_view hex, std::size_t size) {
  auto out = allocate(size);
  if (!out.ok()) return out;
  if (!hex_decode_into(hex, out->span())) {
    return Status(Errc::invalid_argument,
                  "expected " + std::to_string(size * 2) + " hexadecimal digits");
  }
  return out;
}

bool SecureBytes::equals(std::span<const std::uint8_t> other) const noexcept {
  if (other.size() != size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data(), size_) == 0;
}

}  // namespace fieldcase
