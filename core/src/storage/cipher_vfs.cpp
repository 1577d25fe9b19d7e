#include "storage/cipher_vfs.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "fieldcase/encoding.hpp"
#include "guarded_memory.hpp"
#include "storage/page_cipher.hpp"
#include "storage/sqlite_api.hpp"

namespace fieldcase::storage {
namespace {

// ---------------------------------------------------------------------------------------------
// Per-thread error detail and the test fault hook.

thread_local std::optional<VfsError> t_error;

void set_error(Errc code, std::string message) {
  t_error = VfsError{code, std::move(message)};
}

std::atomic<int> g_new_format{kFormatVersion};  // only tests change it

std::mutex g_hook_mu;
std::shared_ptr<FaultHook> g_hook;  // guarded by g_hook_mu

int fault(IoOp op, FileRole role, std::int64_t off, int amt) {
  std::shared_ptr<FaultHook> hook;
  {
    std::lock_guard lock(g_hook_mu);
    hook = g_hook;
  }
  return hook ? (*hook)(op, role, off, amt) : SQLITE_OK;
}

// ---------------------------------------------------------------------------------------------
// Keys: lent keys (by token) and the per-database cipher context shared by a database's main
// file, its WAL and its journal.

constexpr std::size_t kKeyBytes = 32;

// A key copy in guarded memory (guarded_memory.hpp: not inherited by forked children).
struct GuardedKey {
  std::uint8_t* bytes = nullptr;
  GuardedKey() = default;
  explicit GuardedKey(std::span<const std::uint8_t> key) {
    bytes = detail::guarded_alloc(kKeyBytes);
    if (bytes != nullptr) std::memcpy(bytes, key.data(), std::min(key.size(), kKeyBytes));
  }
  GuardedKey(const GuardedKey&) = delete;
  GuardedKey& operator=(const GuardedKey&) = delete;
  GuardedKey(GuardedKey&& o) noexcept : bytes(std::exchange(o.bytes, nullptr)) {}
  GuardedKey& operator=(GuardedKey&& o) noexcept {
    if (this != &o) {
      detail::guarded_free(bytes, kKeyBytes);
      bytes = std::exchange(o.bytes, nullptr);
    }
    return *this;
  }
  ~GuardedKey() { detail::guarded_free(bytes, kKeyBytes); }
};

std::mutex g_keys_mu;
std::map<std::string, GuardedKey> g_lent_keys;  // guarded by g_keys_mu

struct Context {
  std::string path;
  GuardedKey key;  // empty for plain databases
  FileHeader header{};
  std::unique_ptr<PageCipher> cipher;
  std::atomic<std::uint32_t> page_size{0};
  std::atomic<std::uint32_t> reserve{0};
  bool encrypted() const { return cipher != nullptr; }
};

std::mutex g_ctx_mu;
std::unordered_map<std::string, std::weak_ptr<Context>> g_contexts;  // guarded by g_ctx_mu

// ---------------------------------------------------------------------------------------------
// Files.

enum class Role { main, journal, wal, passthrough };

struct FileState {
  Role role = Role::passthrough;
  std::shared_ptr<Context> ctx;
  std::vector<std::uint8_t> scratch;
  // Position information SQLite wrote just before a page: a WAL frame header or a journal
  // record's page number, so the page write does not have to read it back.
  std::int64_t pending_off = -1;
  std::array<std::uint8_t, 24> pending{};
};

struct CipherFile {
  sqlite3_file base;
  FileState* state;
};

constexpr std::size_t kRealOffset = (sizeof(CipherFile) + 15) & ~std::size_t{15};

sqlite3_file* real_of(sqlite3_file* f) {
  return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kRealOffset);
}
FileState& state_of(sqlite3_file* f) { return *reinterpret_cast<CipherFile*>(f)->state; }

FileRole public_role(Role r) {
  switch (r) {
    case Role::main: return FileRole::main;
    case Role::journal: return FileRole::journal;
    case Role::wal: return FileRole::wal;
    case Role::passthrough: return FileRole::other;
  }
  return FileRole::other;
}

std::uint32_t get_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

constexpr std::int64_t kWalHeader = 32;
constexpr std::int64_t kWalFrameHeader = 24;

int real_read(sqlite3_file* real, void* buf, int amt, std::int64_t off) {
  return real->pMethods->xRead(real, buf, amt, off);
}

bool all_zero(const std::uint8_t* p, std::size_t n) {
  return std::all_of(p, p + n, [](std::uint8_t b) { return b == 0; });
}

// The position a WAL frame's page is bound to: the frame's offset and the salts of the WAL
// generation it belongs to, which SQLite changes at every WAL reset (so a frame of an earlier
// generation never authenticates in a later one, wherever it is put). The salts are the frame
// header's own; SQLite writes a header with zero salts when it will rewrite the frame's
// checksums at commit (walRewriteChecksums), and such a frame belongs to the generation of the
// WAL header, whose salts it will carry. (A frame whose salts differ from the WAL header's is
// never accepted by SQLite, so zeroed salts gain an attacker nothing.)
int wal_position(sqlite3_file* real, std::int64_t frame_off, const std::uint8_t* frame_header,
                 PagePosition* out) {
  const std::uint8_t* salts = frame_header + 8;
  std::uint8_t header_salts[kWalSaltSize];
  if (all_zero(salts, kWalSaltSize)) {
    int rc = real_read(real, header_salts, kWalSaltSize, 16);
    if (rc != SQLITE_OK) return rc;
    salts = header_salts;
  }
  *out = PagePosition::wal_frame(static_cast<std::uint64_t>(frame_off), salts);
  return SQLITE_OK;
}

// The position of a rollback-journal record's page: the record's offset.
PagePosition journal_position(std::int64_t record_off) {
  return PagePosition::journal_record(static_cast<std::uint64_t>(record_off));
}

int auth_failure(const Context& ctx, const char* where, std::uint32_t pgno) {
  set_error(Errc::integrity, std::string(where) + " page " + std::to_string(pgno) + " of " +
                                 ctx.path + " failed authentication (tampered or damaged)");
  return SQLITE_IOERR_DATA;
}

// Reads and decrypts one whole main-database page into buf.
int read_main_page(sqlite3_file* f, std::uint8_t* buf, std::uint32_t psize, std::int64_t off) {
  FileState& st = state_of(f);
  int rc = real_read(real_of(f), buf, static_cast<int>(psize), off);
  auto pgno = static_cast<std::uint32_t>(off / psize + 1);
  if (rc == SQLITE_IOERR_SHORT_READ) {
    // Beyond the end of the file SQLite expects zeros; a partial page is a truncated file.
    if (!all_zero(buf, psize)) {
      set_error(Errc::integrity, "page " + std::to_string(pgno) + " of " + st.ctx->path +
                                     " is truncated");
      return SQLITE_IOERR_DATA;
    }
    return rc;
  }
  if (rc != SQLITE_OK) return rc;
  if (!st.ctx->cipher->decrypt(pgno, buf, psize, st.ctx->reserve, PagePosition::main_file())) {
    return auth_failure(*st.ctx, "database", pgno);
  }
  return SQLITE_OK;
}

int main_read(sqlite3_file* f, std::uint8_t* buf, int amt, std::int64_t off) {
  FileState& st = state_of(f);
  const std::uint32_t psize = st.ctx->page_size;
  if (psize == 0) {
    // A database that has never been written: SQLite is probing its header.
    return real_read(real_of(f), buf, amt, off);
  }
  if (static_cast<std::uint32_t>(amt) == psize && off % psize == 0) {
    return read_main_page(f, buf, psize, off);
  }
  if (off + amt > static_cast<std::int64_t>(psize)) {
    set_error(Errc::internal, "unexpected partial read beyond page 1 of " + st.ctx->path);
    return SQLITE_IOERR_READ;
  }
  // SQLite reads parts of page 1's header directly: decrypt the whole page and copy.
  st.scratch.resize(psize);
  int rc = read_main_page(f, st.scratch.data(), psize, 0);
  std::memcpy(buf, st.scratch.data() + off, static_cast<std::size_t>(amt));
  return rc;
}

// True if a frame after `frame_off` in the current WAL generation authenticates: then a frame
// that fails is tampering, not the torn tail of an interrupted write.
bool later_wal_frame_authenticates(sqlite3_file* f, std::int64_t frame_off, std::uint32_t psize) {
  FileState& st = state_of(f);
  sqlite3_file* real = real_of(f);
  std::uint8_t walhdr[kWalHeader];
  if (real_read(real, walhdr, kWalHeader, 0) != SQLITE_OK) return false;
  sqlite3_int64 size = 0;
  if (real->pMethods->xFileSize(real, &size) != SQLITE_OK) return false;
  const std::int64_t fsize = psize + kWalFrameHeader;
  std::vector<std::uint8_t> frame(static_cast<std::size_t>(fsize));
  for (std::int64_t o = frame_off + fsize; o + fsize <= size; o += fsize) {
    if (real_read(real, frame.data(), static_cast<int>(fsize), o) != SQLITE_OK) return false;
    if (std::memcmp(frame.data() + 8, walhdr + 16, 8) != 0) continue;
    std::uint32_t pgno = get_be32(frame.data());
    PagePosition pos;
    if (wal_position(real, o, frame.data(), &pos) != SQLITE_OK) return false;
    if (pgno != 0 && st.ctx->cipher->decrypt(pgno, frame.data() + kWalFrameHeader, psize,
                                             st.ctx->reserve, pos)) {
      return true;
    }
  }
  return false;
}

int wal_read(sqlite3_file* f, std::uint8_t* buf, int amt, std::int64_t off) {
  FileState& st = state_of(f);
  sqlite3_file* real = real_of(f);
  const std::int64_t psize = st.ctx->page_size;
  const std::int64_t fsize = psize + kWalFrameHeader;
  const std::int64_t rel = off - kWalHeader;
  if (psize == 0 || rel < 0) return real_read(real, buf, amt, off);

  if (amt == fsize && rel % fsize == 0) {
    // Whole frame: WAL recovery, which checks frame checksums over the decrypted page.
    int rc = real_read(real, buf, amt, off);
    if (rc != SQLITE_OK) return rc;
    std::uint32_t pgno = get_be32(buf);
    PagePosition pos;
    rc = wal_position(real, off, buf, &pos);
    if (rc != SQLITE_OK) return rc;
    if (pgno != 0 && st.ctx->cipher->decrypt(pgno, buf + kWalFrameHeader,
                                             static_cast<std::size_t>(psize), st.ctx->reserve,
                                             pos)) {
      return SQLITE_OK;
    }
    if (later_wal_frame_authenticates(f, off, static_cast<std::uint32_t>(psize))) {
      return auth_failure(*st.ctx, "WAL frame for", pgno);
    }
    // The torn tail of an interrupted write: show SQLite an invalid frame (wrong salt), exactly
    // as it treats a frame whose checksum fails, so recovery ends the log before it.
    std::memset(buf + kWalFrameHeader, 0, static_cast<std::size_t>(psize));
    for (int i = 8; i < 16; ++i) buf[i] = static_cast<std::uint8_t>(~buf[i]);
    return SQLITE_OK;
  }
  if (amt == psize && rel % fsize == kWalFrameHeader) {
    // Page of a frame already validated by recovery (normal reads and checkpoints). The frame
    // is read whole, so its page number costs no second read.
    st.scratch.resize(static_cast<std::size_t>(fsize));
    std::uint8_t* frame = st.scratch.data();
    std::uint8_t* page = frame + kWalFrameHeader;
    int rc = real_read(real, frame, static_cast<int>(fsize), off - kWalFrameHeader);
    if (rc != SQLITE_OK) {
      if (rc == SQLITE_IOERR_SHORT_READ) std::memcpy(buf, page, static_cast<std::size_t>(psize));
      return rc;
    }
    std::uint32_t pgno = get_be32(frame);
    PagePosition pos;
    rc = wal_position(real, off - kWalFrameHeader, frame, &pos);
    if (rc != SQLITE_OK) return rc;
    if (!st.ctx->cipher->decrypt(pgno, page, static_cast<std::size_t>(psize), st.ctx->reserve,
                                 pos)) {
      return auth_failure(*st.ctx, "WAL frame for", pgno);
    }
    std::memcpy(buf, page, static_cast<std::size_t>(psize));
    return SQLITE_OK;
  }
  return real_read(real, buf, amt, off);
}

bool is_journal_page(const Context& ctx, int amt, std::int64_t off) {
  // A record is [pgno 4][page][checksum 4] after a sector-aligned header, so its page starts at
  // an offset that is 4 modulo 8; headers and the super-journal name never do.
  return ctx.page_size != 0 && static_cast<std::uint32_t>(amt) == ctx.page_size && off % 8 == 4;
}

int journal_read(sqlite3_file* f, std::uint8_t* buf, int amt, std::int64_t off) {
  FileState& st = state_of(f);
  sqlite3_file* real = real_of(f);
  if (!is_journal_page(*st.ctx, amt, off)) return real_read(real, buf, amt, off);
  std::uint8_t pg[4];
  int rc = real_read(real, pg, 4, off - 4);
  if (rc == SQLITE_OK) rc = real_read(real, buf, amt, off);
  if (rc != SQLITE_OK) return rc;  // a short record is a torn tail; SQLite's checksum ends it
  std::uint32_t pgno = get_be32(pg);
  if (!st.ctx->cipher->decrypt(pgno, buf, static_cast<std::size_t>(amt), st.ctx->reserve,
                               journal_position(off - 4))) {
    return auth_failure(*st.ctx, "journal record for", pgno);
  }
  return SQLITE_OK;
}

int x_read(sqlite3_file* f, void* out, int amt, sqlite3_int64 off) {
  FileState& st = state_of(f);
  auto* buf = static_cast<std::uint8_t*>(out);
  switch (st.role) {
    case Role::main: return main_read(f, buf, amt, off);
    case Role::wal: return wal_read(f, buf, amt, off);
    case Role::journal: return journal_read(f, buf, amt, off);
    case Role::passthrough: break;
  }
  return real_read(real_of(f), buf, amt, off);
}

// Learns page size and reserve from a plaintext page 1 about to be written. A new database may
// have had later pages written first (cache spill), under the provisional geometry: page 1
// must then confirm it.
int learn_page1(Context& ctx, const std::uint8_t* page, int amt) {
  std::uint32_t psize = page_size_from_header({page, kPage1Clear});
  std::uint32_t reserve = page[20];
  if (psize == 0 || psize != static_cast<std::uint32_t>(amt)) {
    set_error(Errc::internal, "page 1 of " + ctx.path + " has an invalid page size");
    return SQLITE_IOERR_WRITE;
  }
  if (ctx.page_size != 0 && (ctx.page_size != psize || ctx.reserve != reserve)) {
    set_error(Errc::invalid_argument,
              "refusing to write " + ctx.path + ": page 1 changes the page size or reserved "
              "bytes of pages already written (new databases need exactly " +
                  std::to_string(kMinReserve) + " reserved bytes)");
    return SQLITE_IOERR_WRITE;
  }
  if (reserve < kMinReserve) {
    set_error(Errc::invalid_argument,
              "refusing to write " + ctx.path + ": each page needs " +
                  std::to_string(kMinReserve) +
                  " reserved bytes for encryption (set SQLITE_FCNTL_RESERVE_BYTES before the "
                  "first write)");
    return SQLITE_IOERR_WRITE;
  }
  ctx.page_size = psize;
  ctx.reserve = reserve;
  return SQLITE_OK;
}

int encrypt_and_write(sqlite3_file* f, const std::uint8_t* page, int amt, std::int64_t off,
                      std::uint32_t pgno, const PagePosition& pos) {
  FileState& st = state_of(f);
  Context& ctx = *st.ctx;
  if (pgno == 1) {
    int rc = learn_page1(ctx, page, amt);
    if (rc != SQLITE_OK) return rc;
  } else if (ctx.page_size == 0) {
    // A later page of a new database before its page 1: provisional geometry, which the
    // write of page 1 must confirm (see learn_page1).
    ctx.page_size = static_cast<std::uint32_t>(amt);
    ctx.reserve = static_cast<std::uint32_t>(kMinReserve);
  }
  if (ctx.page_size == 0 || static_cast<std::uint32_t>(amt) != ctx.page_size) {
    set_error(Errc::internal, "unexpected write shape for " + ctx.path);
    return SQLITE_IOERR_WRITE;
  }
  st.scratch.resize(static_cast<std::size_t>(amt));
  ctx.cipher->encrypt(pgno, page, st.scratch.data(), static_cast<std::size_t>(amt), ctx.reserve,
                      pos);
  sqlite3_file* real = real_of(f);
  return real->pMethods->xWrite(real, st.scratch.data(), amt, off);
}

int x_write(sqlite3_file* f, const void* in, int amt, sqlite3_int64 off) {
  FileState& st = state_of(f);
  sqlite3_file* real = real_of(f);
  int inject = fault(IoOp::write, public_role(st.role), off, amt);
  if (inject != SQLITE_OK) return inject;
  const auto* buf = static_cast<const std::uint8_t*>(in);

  if (st.role == Role::main) {
    std::uint32_t psize = st.ctx->page_size;
    if (psize == 0) psize = static_cast<std::uint32_t>(amt);  // a new database
    if (psize < 512 || psize > 65536 || (psize & (psize - 1)) != 0 ||
        static_cast<std::uint32_t>(amt) != psize || off % psize != 0) {
      set_error(Errc::internal, "refusing a partial-page write to " + st.ctx->path);
      return SQLITE_IOERR_WRITE;
    }
    return encrypt_and_write(f, buf, amt, off, static_cast<std::uint32_t>(off / psize + 1),
                             PagePosition::main_file());
  }

  if (st.role == Role::wal) {
    const std::int64_t rel = off - kWalHeader;
    std::int64_t psize = st.ctx->page_size;
    if (psize == 0 && off == 0 && amt >= 12) psize = get_be32(buf + 8);  // WAL header
    const std::int64_t fsize = psize + kWalFrameHeader;
    if (rel >= 0 && psize > 0) {
      if (amt == kWalFrameHeader && rel % fsize == 0) {
        std::memcpy(st.pending.data(), buf, kWalFrameHeader);
        st.pending_off = off;
      } else if (amt == psize && rel % fsize == kWalFrameHeader) {
        std::uint8_t hdr[kWalFrameHeader];
        const std::int64_t frame_off = off - kWalFrameHeader;
        if (st.pending_off == frame_off) {
          std::memcpy(hdr, st.pending.data(), kWalFrameHeader);
        } else {
          int rc = real_read(real, hdr, kWalFrameHeader, frame_off);
          if (rc != SQLITE_OK) return rc;
        }
        PagePosition pos;
        int rc = wal_position(real, frame_off, hdr, &pos);
        if (rc != SQLITE_OK) return rc;
        return encrypt_and_write(f, buf, amt, off, get_be32(hdr), pos);
      } else if (amt == fsize && rel % fsize == 0) {
        // A whole frame in one write: header in the clear, page encrypted.
        int rc = real->pMethods->xWrite(real, buf, kWalFrameHeader, off);
        if (rc != SQLITE_OK) return rc;
        PagePosition pos;
        rc = wal_position(real, off, buf, &pos);
        if (rc != SQLITE_OK) return rc;
        return encrypt_and_write(f, buf + kWalFrameHeader, static_cast<int>(psize),
                                 off + kWalFrameHeader, get_be32(buf), pos);
      } else {
        // Anything else would put part of a page on disk unencrypted.
        set_error(Errc::internal, "refusing a partial-frame write to the WAL of " + st.ctx->path);
        return SQLITE_IOERR_WRITE;
      }
    }
    return real->pMethods->xWrite(real, buf, amt, off);
  }

  if (st.role == Role::journal) {
    if (amt == 4) {
      std::memcpy(st.pending.data(), buf, 4);
      st.pending_off = off;
    } else if (is_journal_page(*st.ctx, amt, off)) {
      std::uint8_t pg[4];
      if (st.pending_off == off - 4) {
        std::memcpy(pg, st.pending.data(), 4);
      } else {
        int rc = real_read(real, pg, 4, off - 4);
        if (rc != SQLITE_OK) return rc;
      }
      return encrypt_and_write(f, buf, amt, off, get_be32(pg), journal_position(off - 4));
    }
  }
  return real->pMethods->xWrite(real, buf, amt, off);
}

int x_close(sqlite3_file* f) {
  sqlite3_file* real = real_of(f);
  int rc = real->pMethods != nullptr ? real->pMethods->xClose(real) : SQLITE_OK;
  auto* cf = reinterpret_cast<CipherFile*>(f);
  if (cf->state != nullptr) {
    std::shared_ptr<Context> ctx = std::move(cf->state->ctx);
    delete cf->state;
    cf->state = nullptr;
    if (ctx) {
      std::lock_guard lock(g_ctx_mu);
      std::string path = ctx->path;
      ctx.reset();  // the key is freed (and zeroed) when the last file of the database closes
      auto it = g_contexts.find(path);
      if (it != g_contexts.end() && it->second.expired()) g_contexts.erase(it);
    }
  }
  return rc;
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  int inject = fault(IoOp::truncate, public_role(state_of(f).role), size, 0);
  if (inject != SQLITE_OK) return inject;
  sqlite3_file* r = real_of(f);
  return r->pMethods->xTruncate(r, size);
}
int x_sync(sqlite3_file* f, int flags) {
  int inject = fault(IoOp::sync, public_role(state_of(f).role), 0, 0);
  if (inject != SQLITE_OK) return inject;
  sqlite3_file* r = real_of(f);
  return r->pMethods->xSync(r, flags);
}
int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  sqlite3_file* r = real_of(f);
  return r->pMethods->xFileSize(r, size);
}
int x_lock(sqlite3_file* f, int level) {
  sqlite3_file* r = real_of(f);
  return r->pMethods->xLock(r, level);
}
int x_unlock(sqlite3_file* f, int level) {
  sqlite3_file* r = real_of(f);
  return r->pMethods->xUnlock(r, level);
}
int x_check_reserved_lock(sqlite3_file* f, int* out) {
  sqlite3_file* r = real_of(f);
  return r->pMethods->xCheckReservedLock(r, out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
  if (op == SQLITE_FCNTL_MMAP_SIZE) {
    *static_cast<sqlite3_int64*>(arg) = 0;  // memory mapping would bypass decryption
    return SQLITE_OK;
  }
  sqlite3_file* r = real_of(f);
  return r->pMethods->xFileControl(r, op, arg);
}
int x_sector_size(sqlite3_file* f) {
  sqlite3_file* r = real_of(f);
  return r->pMethods->xSectorSize(r);
}
int x_device_characteristics(sqlite3_file* f) {
  sqlite3_file* r = real_of(f);
  return r->pMethods->xDeviceCharacteristics(r);
}
int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  sqlite3_file* r = real_of(f);
  return r->pMethods->xShmMap(r, region, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  sqlite3_file* r = real_of(f);
  return r->pMethods->xShmLock(r, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) {
  sqlite3_file* r = real_of(f);
  r->pMethods->xShmBarrier(r);
}
int x_shm_unmap(sqlite3_file* f, int del) {
  sqlite3_file* r = real_of(f);
  return r->pMethods->xShmUnmap(r, del);
}

const sqlite3_io_methods g_methods = {
    2,  // version 2: shared memory for WAL, but no xFetch, so no memory-mapped reads
    x_close, x_read, x_write, x_truncate, x_sync, x_file_size, x_lock, x_unlock,
    x_check_reserved_lock, x_file_control, x_sector_size, x_device_characteristics, x_shm_map,
    x_shm_lock, x_shm_barrier, x_shm_unmap, nullptr, nullptr};

// ---------------------------------------------------------------------------------------------
// The VFS.

sqlite3_vfs g_vfs{};
sqlite3_vfs* real_vfs() { return static_cast<sqlite3_vfs*>(g_vfs.pAppData); }

// The key named by a main database's URI; sets the error and returns an empty key if none.
GuardedKey key_from_uri(const char* name, bool* plain) {
  *plain = sqlite3_uri_boolean(name, "plain", 0) != 0;
  const char* token = sqlite3_uri_parameter(name, "fckey");
  const char* hex = sqlite3_uri_parameter(name, "hexkey");
  if (*plain) {
    if (token != nullptr || hex != nullptr) {
      set_error(Errc::invalid_argument, "a database cannot be both plain and keyed");
    }
    return {};
  }
  if (token != nullptr) {
    std::lock_guard lock(g_keys_mu);
    auto it = g_lent_keys.find(token);
    if (it == g_lent_keys.end()) {
      set_error(Errc::invalid_argument, "the key lent for this database is no longer available");
      return {};
    }
    return GuardedKey(std::span<const std::uint8_t>(it->second.bytes, 32));
  }
  if (hex != nullptr) {
    std::array<std::uint8_t, 32> raw{};
    if (!hex_decode_into(hex, raw)) {
      set_error(Errc::invalid_argument, "hexkey must be exactly 64 hexadecimal digits");
      return {};
    }
    GuardedKey k(raw);
    sodium_memzero(raw.data(), raw.size());
    return k;
  }
  set_error(Errc::invalid_argument,
            "no key given: open with ?hexkey=<64 hex digits> (or fckey=) in a file: URI");
  return {};
}

// Reads the file header of an existing database and checks the key against page 1.
int load_existing(sqlite3_file* real, Context& ctx) {
  std::uint8_t first[kPage1Clear];
  int rc = real_read(real, first, kPage1Clear, 0);
  if (rc == SQLITE_IOERR_SHORT_READ) {
    if (all_zero(first, kPage1Clear)) {
      ctx.header = new_file_header(static_cast<std::uint8_t>(g_new_format.load()));  // new, empty
      return SQLITE_OK;
    }
    set_error(Errc::integrity, ctx.path + " is truncated");
    return SQLITE_NOTADB;
  }
  if (rc != SQLITE_OK) return rc;
  switch (check_file_header({first, kFileHeaderSize})) {
    case HeaderCheck::ok: break;
    case HeaderCheck::plain_sqlite:
      set_error(Errc::not_a_database,
                ctx.path + " is an unencrypted SQLite database, not a fieldcase database");
      return SQLITE_NOTADB;
    case HeaderCheck::not_fieldcase:
      set_error(Errc::not_a_database, ctx.path + " is not a fieldcase database");
      return SQLITE_NOTADB;
    case HeaderCheck::unsupported_version:
      set_error(Errc::unsupported, ctx.path + " uses a newer database format than this build");
      return SQLITE_NOTADB;
    case HeaderCheck::unsupported_cipher:
      set_error(Errc::unsupported, ctx.path + " uses a cipher this build does not support");
      return SQLITE_NOTADB;
  }
  std::copy(first, first + kFileHeaderSize, ctx.header.begin());
  std::uint32_t psize = page_size_from_header({first, kPage1Clear});
  std::uint32_t reserve = first[20];
  if (psize == 0 || reserve < kMinReserve || reserve >= psize) {
    set_error(Errc::integrity, ctx.path + " has a damaged header");
    return SQLITE_NOTADB;
  }
  ctx.cipher = std::make_unique<PageCipher>(ctx.key.bytes, ctx.header);
  std::vector<std::uint8_t> page(psize);
  rc = real_read(real, page.data(), static_cast<int>(psize), 0);
  if (rc != SQLITE_OK ||
      !ctx.cipher->decrypt(1, page.data(), psize, reserve, PagePosition::main_file())) {
    set_error(Errc::wrong_key, "the key does not open " + ctx.path +
                                   " (wrong key, or its first page is damaged)");
    return SQLITE_NOTADB;
  }
  sodium_memzero(page.data(), page.size());
  ctx.page_size = psize;
  ctx.reserve = reserve;
  return SQLITE_OK;
}

int open_main(const char* name, sqlite3_file* real, std::shared_ptr<Context>* out) {
  bool plain = false;
  GuardedKey key = key_from_uri(name, &plain);
  if (!plain && key.bytes == nullptr) return SQLITE_CANTOPEN;
  if (plain && t_error) return SQLITE_CANTOPEN;

  std::lock_guard lock(g_ctx_mu);
  auto it = g_contexts.find(name);
  if (it != g_contexts.end()) {
    if (auto existing = it->second.lock()) {
      bool same = plain ? !existing->encrypted()
                        : existing->encrypted() && sodium_memcmp(existing->key.bytes, key.bytes,
                                                                 kKeyBytes) == 0;
      if (!same) {
        set_error(Errc::wrong_key, std::string(name) + " is already open with a different key");
        return SQLITE_NOTADB;
      }
      *out = existing;
      return SQLITE_OK;
    }
  }
  auto ctx = std::make_shared<Context>();
  ctx->path = name;
  if (!plain) {
    ctx->key = std::move(key);
    int rc = load_existing(real, *ctx);
    if (rc != SQLITE_OK) return rc;
    if (!ctx->cipher) ctx->cipher = std::make_unique<PageCipher>(ctx->key.bytes, ctx->header);
  }
  g_contexts[name] = ctx;
  *out = std::move(ctx);
  return SQLITE_OK;
}

int x_open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* cf = reinterpret_cast<CipherFile*>(file);
  cf->base.pMethods = nullptr;
  cf->state = nullptr;
  sqlite3_file* real = real_of(file);
  real->pMethods = nullptr;

  Role role = Role::passthrough;
  if (flags & SQLITE_OPEN_MAIN_DB) {
    role = Role::main;
  } else if (flags & SQLITE_OPEN_MAIN_JOURNAL) {
    role = Role::journal;
  } else if (flags & SQLITE_OPEN_WAL) {
    role = Role::wal;
  } else if (!(flags & SQLITE_OPEN_SUPER_JOURNAL)) {
    set_error(Errc::unsupported,
              "temporary files are disabled for fieldcase databases (use temp_store=MEMORY)");
    return SQLITE_CANTOPEN;
  }
  if (name == nullptr && role != Role::passthrough) {
    set_error(Errc::unsupported, "fieldcase databases must be named files");
    return SQLITE_CANTOPEN;
  }

  std::shared_ptr<Context> ctx;
  if (role == Role::journal || role == Role::wal) {
    const char* db = sqlite3_filename_database(name);
    std::lock_guard lock(g_ctx_mu);
    auto it = g_contexts.find(db != nullptr ? db : "");
    if (it != g_contexts.end()) ctx = it->second.lock();
    if (!ctx) {
      set_error(Errc::internal, "journal opened without its database");
      return SQLITE_CANTOPEN;
    }
  }

  sqlite3_vfs* rv = real_vfs();
  int rc = rv->xOpen(rv, name, real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;

  if (role == Role::main) {
    rc = open_main(name, real, &ctx);
    if (rc != SQLITE_OK) {
      real->pMethods->xClose(real);
      real->pMethods = nullptr;
      return rc;
    }
  }
  if (ctx && !ctx->encrypted()) role = Role::passthrough;

  auto* st = new FileState;
  st->role = role;
  st->ctx = std::move(ctx);
  cf->state = st;
  cf->base.pMethods = &g_methods;
  return SQLITE_OK;
}

int x_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return real_vfs()->xDelete(real_vfs(), name, sync_dir);
}
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return real_vfs()->xAccess(real_vfs(), name, flags, out);
}
int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return real_vfs()->xFullPathname(real_vfs(), name, n, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) { return real_vfs()->xDlOpen(real_vfs(), name); }
void x_dl_error(sqlite3_vfs*, int n, char* msg) { real_vfs()->xDlError(real_vfs(), n, msg); }
void (*x_dl_sym(sqlite3_vfs*, void* h, const char* sym))(void) {
  return real_vfs()->xDlSym(real_vfs(), h, sym);
}
void x_dl_close(sqlite3_vfs*, void* h) { real_vfs()->xDlClose(real_vfs(), h); }
int x_randomness(sqlite3_vfs*, int n, char* out) {
  return real_vfs()->xRandomness(real_vfs(), n, out);
}
int x_sleep(sqlite3_vfs*, int us) { return real_vfs()->xSleep(real_vfs(), us); }
int x_current_time(sqlite3_vfs*, double* out) {
  return real_vfs()->xCurrentTime(real_vfs(), out);
}
int x_get_last_error(sqlite3_vfs*, int n, char* out) {
  return real_vfs()->xGetLastError(real_vfs(), n, out);
}
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  return real_vfs()->xCurrentTimeInt64(real_vfs(), out);
}

}  // namespace

int register_cipher_vfs() {
  static std::once_flag once;
  static int result = SQLITE_OK;
  std::call_once(once, [] {
    if (sodium_init() < 0) {
      result = SQLITE_ERROR;
      return;
    }
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    if (real == nullptr) {
      result = SQLITE_ERROR;
      return;
    }
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(kRealOffset) + real->szOsFile;
    g_vfs.mxPathname = real->mxPathname;
    g_vfs.zName = kVfsName;
    g_vfs.pAppData = real;
    g_vfs.xOpen = x_open;
    g_vfs.xDelete = x_delete;
    g_vfs.xAccess = x_access;
    g_vfs.xFullPathname = x_full_pathname;
    g_vfs.xDlOpen = x_dl_open;
    g_vfs.xDlError = x_dl_error;
    g_vfs.xDlSym = x_dl_sym;
    g_vfs.xDlClose = x_dl_close;
    g_vfs.xRandomness = x_randomness;
    g_vfs.xSleep = x_sleep;
    g_vfs.xCurrentTime = x_current_time;
    g_vfs.xGetLastError = x_get_last_error;
    g_vfs.xCurrentTimeInt64 = x_current_time_int64;
    result = sqlite3_vfs_register(&g_vfs, 0);
  });
  return result;
}

std::string lend_key(std::span<const std::uint8_t> key) {
  std::array<std::uint8_t, 16> id{};
  randombytes_buf(id.data(), id.size());
  std::string token = hex_encode(id);
  std::lock_guard lock(g_keys_mu);
  g_lent_keys.emplace(token, GuardedKey(key));
  return token;
}

void return_key(const std::string& token) {
  std::lock_guard lock(g_keys_mu);
  g_lent_keys.erase(token);
}

std::optional<VfsError> take_vfs_error() {
  std::optional<VfsError> e = std::move(t_error);
  t_error.reset();
  return e;
}

void clear_vfs_error() { t_error.reset(); }

void set_fault_hook(FaultHook hook) {
  std::lock_guard lock(g_hook_mu);
  g_hook = hook ? std::make_shared<FaultHook>(std::move(hook)) : nullptr;
}

KeyProbe probe_key(const std::string& path, std::span<const std::uint8_t> key) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return KeyProbe::io_error;
  std::uint8_t first[kPage1Clear];
  ssize_t n = ::pread(fd, first, sizeof first, 0);
  if (n <= 0) {
    ::close(fd);
    return n == 0 ? KeyProbe::empty : KeyProbe::io_error;
  }
  if (n < static_cast<ssize_t>(sizeof first) ||
      check_file_header({first, kFileHeaderSize}) != HeaderCheck::ok) {
    ::close(fd);
    return KeyProbe::not_fieldcase;
  }
  std::uint32_t psize = page_size_from_header({first, kPage1Clear});
  std::vector<std::uint8_t> page(psize);
  n = psize == 0 ? -1 : ::pread(fd, page.data(), psize, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(psize)) return KeyProbe::not_fieldcase;
  FileHeader header{};
  std::copy(first, first + kFileHeaderSize, header.begin());
  GuardedKey k(key);
  PageCipher cipher(k.bytes, header);
  bool ok = cipher.decrypt(1, page.data(), psize, first[20], PagePosition::main_file());
  sodium_memzero(page.data(), page.size());
  return ok ? KeyProbe::match : KeyProbe::mismatch;
}

void set_new_database_format_for_tests(int version) {
  g_new_format = version >= kOldestFormatVersion && version <= kFormatVersion ? version
                                                                               : kFormatVersion;
}

int format_version(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::uint8_t first[kFileHeaderSize];
  ssize_t n = ::pread(fd, first, sizeof first, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof first) ||
      check_file_header({first, kFileHeaderSize}) != HeaderCheck::ok) {
    return 0;
  }
  return first[4];
}

bool is_current_format(const std::string& path) { return format_version(path) == kFormatVersion; }

}  // namespace fieldcase::storage
