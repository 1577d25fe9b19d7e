// Page-level authenticated encryption of SQLite pages (no SQLite dependency).
//
// On-disk page layout, page size P with R >= kMinReserve reserved bytes at its end:
//
//   [ ciphertext of bytes [b, P-R) ][ nonce 24 ][ tag 16 ][ zero padding R-40 ]
//
// b = 0 for every page but page 1. Page 1 keeps its first 24 bytes readable: bytes 0..15 hold
// the fieldcase file header (magic, format version, cipher id, random file id) in place of
// SQLite's magic string, and bytes 16..23 stay SQLite's own (page size, reserve count...),
// because SQLite and the VFS must read them before anything can be decrypted.
//
// Associated data = file header (16 bytes) || page number || the position extra (WAL frame
// offset, journal record offset) || for page 1, bytes 16..23. So a flipped byte, a
// page moved to another number or position, or a page from another database all fail.
// Nonces are fresh random bytes for every write, never derived from counters or offsets (they
// are taken from the system CSPRNG a few hundred bytes at a time, per thread; a fork discards
// what a pool holds).
//
// A PageCipher is immutable after construction and safe to share between threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace fieldcase::storage {

inline constexpr std::size_t kNonceSize = 24;
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kMinReserve = kNonceSize + kTagSize;  // 40
inline constexpr std::size_t kFileHeaderSize = 16;
inline constexpr std::size_t kPage1Clear = 24;  // bytes of page 1 kept readable
inline constexpr std::uint8_t kFormatVersion = 1;
inline constexpr std::uint8_t kCipherXChaCha20Poly1305 = 1;
inline constexpr std::array<std::uint8_t, 4> kMagic{'F', 'C', 'D', 'B'};
inline constexpr std::array<std::uint8_t, 16> kSqliteMagic{'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f',
                                                           'o', 'r', 'm', 'a', 't', ' ', '3', 0};

using FileHeader = std::array<std::uint8_t, kFileHeaderSize>;

// A new file header with a random file id and the current format and cipher.
FileHeader new_file_header();

enum class HeaderCheck { ok, plain_sqlite, not_fieldcase, unsupported_version, unsupported_cipher };
HeaderCheck check_file_header(std::span<const std::uint8_t> first16);

// Page size encoded at bytes 16..17 of page 1 (1 means 65536); 0 if not a valid power of two.
std::uint32_t page_size_from_header(std::span<const std::uint8_t> first24);

class PageCipher {
 public:
  // key must be 32 bytes and outlive the cipher (it lives in guarded memory owned by the caller).
  PageCipher(const std::uint8_t* key, const FileHeader& header);

  // Encrypts page `pgno` (plaintext `in`, `page_size` bytes, `reserve` reserved bytes at the end)
  // into `out`. `extra_ad` binds the page to a position (may be empty).
  void encrypt(std::uint32_t pgno, const std::uint8_t* in, std::uint8_t* out,
               std::size_t page_size, std::size_t reserve,
               std::span<const std::uint8_t> extra_ad) const;

  // Decrypts in place. On success the reserved bytes are zeroed (SQLite computes WAL and
  // journal checksums over them) and page 1's SQLite magic is restored. On failure returns false
  // and leaves `page` unspecified; the caller must not hand it to SQLite.
  bool decrypt(std::uint32_t pgno, std::uint8_t* page, std::size_t page_size, std::size_t reserve,
               std::span<const std::uint8_t> extra_ad) const;

  const FileHeader& header() const { return header_; }

 private:
  std::size_t build_ad(std::uint32_t pgno, const std::uint8_t* page,
                       std::span<const std::uint8_t> extra_ad, std::uint8_t* ad) const;
  const std::uint8_t* key_;
  FileHeader header_;
};

}  // namespace fieldcase::storage
