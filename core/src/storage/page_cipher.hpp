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
// Associated data (format 2) = file header (16 bytes) || page number || file role (main, WAL,
// journal) || the position (WAL: frame offset and the WAL generation's salts; journal: record
// offset) || for page 1, bytes 16..23. So a flipped byte, a page moved to another number or
// position, a page carried from one kind of file into another (a WAL frame into the main file,
// a journal record into the WAL), a WAL frame replayed from an earlier WAL generation, or a page
// from another database all fail. What it cannot bind is a version of the main file: an older
// copy of a main-file page of the same database, or the whole set of files rolled back to an
// older consistent copy, authenticates (detecting that needs state kept outside the files).
//
// Format 1 (databases written before the role and salts were bound) had file header || page
// number || WAL frame or journal record offset || page 1's bytes 16..23. Such a database is
// still read and written under format 1 (every page of a file has one format, named by its
// header); the vault migrates it to format 2 by re-encrypting it (Vault::rotate_key).
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
inline constexpr std::uint8_t kFormatVersion = 2;         // written by new databases
inline constexpr std::uint8_t kOldestFormatVersion = 1;   // still read (and kept) as it is
inline constexpr std::uint8_t kCipherXChaCha20Poly1305 = 1;
inline constexpr std::array<std::uint8_t, 4> kMagic{'F', 'C', 'D', 'B'};
inline constexpr std::array<std::uint8_t, 16> kSqliteMagic{'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f',
                                                           'o', 'r', 'm', 'a', 't', ' ', '3', 0};

using FileHeader = std::array<std::uint8_t, kFileHeaderSize>;

// Which file a page is in and where: bound into its associated data.
enum class PageRole : std::uint8_t { main = 1, wal = 2, journal = 3 };
inline constexpr std::size_t kWalSaltSize = 8;
struct PagePosition {
  PageRole role = PageRole::main;
  std::uint64_t offset = 0;                          // WAL frame or journal record offset
  std::array<std::uint8_t, kWalSaltSize> salts{};   // WAL: salt-1 and salt-2 of its generation

  static PagePosition main_file() { return {}; }
  static PagePosition wal_frame(std::uint64_t frame_offset, const std::uint8_t* salts8);
  static PagePosition journal_record(std::uint64_t record_offset) {
    return {PageRole::journal, record_offset, {}};
  }
};

// A new file header with a random file id, the given format (kFormatVersion unless a test asks
// for an older one) and the current cipher.
FileHeader new_file_header(std::uint8_t version = kFormatVersion);

enum class HeaderCheck { ok, plain_sqlite, not_fieldcase, unsupported_version, unsupported_cipher };
HeaderCheck check_file_header(std::span<const std::uint8_t> first16);

// Page size encoded at bytes 16..17 of page 1 (1 means 65536); 0 if not a valid power of two.
std::uint32_t page_size_from_header(std::span<const std::uint8_t> first24);

class PageCipher {
 public:
  // key must be 32 bytes and outlive the cipher (it lives in guarded memory owned by the caller).
  PageCipher(const std::uint8_t* key, const FileHeader& header);

  // Encrypts page `pgno` (plaintext `in`, `page_size` bytes, `reserve` reserved bytes at the end)
  // into `out`, bound to its position.
  void encrypt(std::uint32_t pgno, const std::uint8_t* in, std::uint8_t* out,
               std::size_t page_size, std::size_t reserve, const PagePosition& pos) const;

  // Decrypts in place. On success the reserved bytes are zeroed (SQLite computes WAL and
  // journal checksums over them) and page 1's SQLite magic is restored. On failure returns false
  // and leaves `page` unspecified; the caller must not hand it to SQLite.
  bool decrypt(std::uint32_t pgno, std::uint8_t* page, std::size_t page_size, std::size_t reserve,
               const PagePosition& pos) const;

  const FileHeader& header() const { return header_; }
  std::uint8_t format_version() const { return header_[4]; }

 private:
  std::size_t build_ad(std::uint32_t pgno, const std::uint8_t* page, const PagePosition& pos,
                       std::uint8_t* ad) const;
  const std::uint8_t* key_;
  FileHeader header_;
};

}  // namespace fieldcase::storage
