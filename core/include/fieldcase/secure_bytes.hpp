// Secret bytes in locked, guarded memory: keys, PINs and device secrets live only here.
//
// The buffer is guarded memory (core/src/guarded_memory.hpp): its own pages between guard pages,
// mlock'ed where allowed, left out of core dumps, not inherited by forked children (they see
// zeros), zeroed when freed. Move-only; not thread-safe (one owner at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "fieldcase/status.hpp"

namespace fieldcase {

// Initialises libsodium once; safe to call from any thread, any number of times.
Status crypto_init();

// Overwrites the bytes with zeros in a way the compiler cannot remove.
void secure_wipe(std::span<std::uint8_t> bytes) noexcept;

class SecureBytes {
 public:
  SecureBytes() = default;
  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;
  SecureBytes(SecureBytes&& other) noexcept;
  SecureBytes& operator=(SecureBytes&& other) noexcept;
  ~SecureBytes();

  // A zero-filled buffer of the given size.
  static Result<SecureBytes> allocate(std::size_t size);
  static Result<SecureBytes> random(std::size_t size);
  static Result<SecureBytes> copy_of(std::span<const std::uint8_t> bytes);
  // Exactly `size` bytes from hexadecimal text; invalid_argument otherwise.
  static Result<SecureBytes> from_hex(std::string_view hex, std::size_t size);

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::uint8_t* data() noexcept { return data_; }
  const std::uint8_t* data() const noexcept { return data_; }
  std::span<std::uint8_t> span() noexcept { return {data_, size_}; }
  std::span<const std::uint8_t> span() const noexcept { return {data_, size_}; }

  // Constant-time comparison.
  bool equals(std::span<const std::uint8_t> other) const noexcept;
  // Zeroes and frees the buffer; the object becomes empty.
  void wipe() noexcept;

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// Size of every symmetric key in fieldcase (database keys, key-encryption keys).
inline constexpr std::size_t kKeySize = 32;

}  // namespace fieldcase
