#include "storage/page_cipher.hpp"

#include <pthread.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace fieldcase::storage {
namespace {

// header || pgno || role || offset || salts || page 1's bytes 16..23
constexpr std::size_t kMaxAd = kFileHeaderSize + 4 + 1 + 8 + kWalSaltSize + 8;

std::size_t put_be64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
  return 8;
}

// Nonces come from a per-thread pool of system randomness filled kPoolNonces at a time: one
// getrandom call per kPoolNonces page writes instead of one per write (the call's fixed cost was
// about 80% of a nonce's). Each nonce is still fresh random bytes, handed out once. A fork
// empties every pool (the generation changes in the child), so a child never uses bytes its
// parent also uses.
constexpr std::size_t kPoolNonces = 32;

std::atomic<std::uint64_t> g_fork_generation{0};

struct NoncePool {
  std::uint8_t bytes[kPoolNonces * kNonceSize];
  std::size_t next = kPoolNonces;
  std::uint64_t generation = 0;
};
thread_local NoncePool t_pool;

void fresh_nonce(std::uint8_t* out) {
  static const bool fork_handler_registered = [] {
    return pthread_atfork(nullptr, nullptr,
                          [] { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }) == 0;
  }();
  if (!fork_handler_registered) {
    randombytes_buf(out, kNonceSize);
    return;
  }
  const std::uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  NoncePool& pool = t_pool;
  if (pool.next == kPoolNonces || pool.generation != generation) {
    randombytes_buf(pool.bytes, sizeof pool.bytes);
    pool.next = 0;
    pool.generation = generation;
  }
  std::memcpy(out, pool.bytes + pool.next * kNonceSize, kNonceSize);
  ++pool.next;
}

}  // namespace

FileHeader new_file_header(std::uint8_t version) {
  FileHeader h{};
  std::copy(kMagic.begin(), kMagic.end(), h.begin());
  h[4] = version;
  h[5] = kCipherXChaCha20Poly1305;
  randombytes_buf(h.data() + 8, 8);
  return h;
}

HeaderCheck check_file_header(std::span<const std::uint8_t> first16) {
  if (first16.size() < kFileHeaderSize) return HeaderCheck::not_fieldcase;
  if (std::equal(kSqliteMagic.begin(), kSqliteMagic.end(), first16.begin())) {
    return HeaderCheck::plain_sqlite;
  }
  if (!std::equal(kMagic.begin(), kMagic.end(), first16.begin())) return HeaderCheck::not_fieldcase;
  if (first16[4] < kOldestFormatVersion || first16[4] > kFormatVersion) {
    return HeaderCheck::unsupported_version;
  }
  if (first16[5] != kCipherXChaCha20Poly1305) return HeaderCheck::unsupported_cipher;
  return HeaderCheck::ok;
}

std::uint32_t page_size_from_header(std::span<const std::uint8_t> first24) {
  if (first24.size() < 18) return 0;
  std::uint32_t v = (std::uint32_t{first24[16]} << 8) | first24[17];
  if (v == 1) v = 65536;
  if (v < 512 || v > 65536 || (v & (v - 1)) != 0) return 0;
  return v;
}

PageCipher::PageCipher(const std::uint8_t* key, const FileHeader& header)
    : key_(key), header_(header) {}

PagePosition PagePosition::wal_frame(std::uint64_t frame_offset, const std::uint8_t* salts8) {
  PagePosition p{PageRole::wal, frame_offset, {}};
  std::memcpy(p.salts.data(), salts8, kWalSaltSize);
  return p;
}

std::size_t PageCipher::build_ad(std::uint32_t pgno, const std::uint8_t* page,
                                 const PagePosition& pos, std::uint8_t* ad) const {
  std::size_t n = 0;
  std::memcpy(ad, header_.data(), kFileHeaderSize);
  n += kFileHeaderSize;
  ad[n++] = static_cast<std::uint8_t>(pgno >> 24);
  ad[n++] = static_cast<std::uint8_t>(pgno >> 16);
  ad[n++] = static_cast<std::uint8_t>(pgno >> 8);
  ad[n++] = static_cast<std::uint8_t>(pgno);
  if (format_version() == 1) {
    // Format 1: the WAL frame or journal record offset only.
    if (pos.role != PageRole::main) n += put_be64(ad + n, pos.offset);
  } else {
    ad[n++] = static_cast<std::uint8_t>(pos.role);
    if (pos.role != PageRole::main) n += put_be64(ad + n, pos.offset);
    if (pos.role == PageRole::wal) {
      std::memcpy(ad + n, pos.salts.data(), kWalSaltSize);
      n += kWalSaltSize;
    }
  }
  if (pgno == 1) {
    std::memcpy(ad + n, page + kFileHeaderSize, kPage1Clear - kFileHeaderSize);
    n += kPage1Clear - kFileHeaderSize;
  }
  return n;
}

void PageCipher::encrypt(std::uint32_t pgno, const std::uint8_t* in, std::uint8_t* out,
                         std::size_t page_size, std::size_t reserve,
                         const PagePosition& pos) const {
  const std::size_t begin = pgno == 1 ? kPage1Clear : 0;
  const std::size_t end = page_size - reserve;
  std::uint8_t* nonce = out + end;
  std::uint8_t* tag = nonce + kNonceSize;
  if (pgno == 1) {
    std::memcpy(out, header_.data(), kFileHeaderSize);
    std::memcpy(out + kFileHeaderSize, in + kFileHeaderSize, kPage1Clear - kFileHeaderSize);
  }
  std::uint8_t ad[kMaxAd];
  std::size_t ad_len = build_ad(pgno, in, pos, ad);
  fresh_nonce(nonce);
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out + begin, tag, nullptr, in + begin,
                                                      end - begin, ad, ad_len, nullptr, nonce,
                                                      key_);
  if (reserve > kMinReserve) std::memset(tag + kTagSize, 0, reserve - kMinReserve);
}

bool PageCipher::decrypt(std::uint32_t pgno, std::uint8_t* page, std::size_t page_size,
                         std::size_t reserve, const PagePosition& pos) const {
  if (reserve < kMinReserve || reserve >= page_size) return false;
  const std::size_t begin = pgno == 1 ? kPage1Clear : 0;
  const std::size_t end = page_size - reserve;
  if (pgno == 1 && sodium_memcmp(page, header_.data(), kFileHeaderSize) != 0) return false;
  std::uint8_t ad[kMaxAd];
  std::size_t ad_len = build_ad(pgno, page, pos, ad);
  const std::uint8_t* nonce = page + end;
  const std::uint8_t* tag = nonce + kNonceSize;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(page + begin, nullptr, page + begin,
                                                          end - begin, tag, ad, ad_len, nonce,
                                                          key_) != 0) {
    return false;
  }
  std::memset(page + end, 0, reserve);
  if (pgno == 1) std::memcpy(page, kSqliteMagic.data(), kSqliteMagic.size());
  return true;
}

}  // namespace fieldcase::storage
