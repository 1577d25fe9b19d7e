// The "fieldcase" SQLite VFS: a shim over the platform's default VFS that encrypts every page
// of the main database, WAL frames and rollback-journal records (see page_cipher.hpp).
//
// Opening: a main database must name its key in its URI, either `fckey=<token>` (a key lent
// with lend_key, so raw keys never sit in SQLite's filename strings) or `hexkey=<64 hex digits>`
// (support staff with the sqlite3 shell), or say `plain=1` to store pages unencrypted
// (server-side and baseline use only). Temporary files are refused: connections must run with
// temp_store=MEMORY. Memory-mapped I/O is unavailable (the file methods are version 2).
//
// Thread-safety: registration, key lending and error reporting are thread-safe; failures are
// reported per thread (take_vfs_error) because SQLite calls the VFS on the caller's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "fieldcase/status.hpp"

namespace fieldcase::storage {

inline constexpr const char* kVfsName = "fieldcase";

// Registers the VFS once (later calls are no-ops). Returns an SQLite result code.
int register_cipher_vfs();

// Lends a 32-byte key to the VFS until return_key; the token goes into the URI as fckey=.
std::string lend_key(std::span<const std::uint8_t> key);
void return_key(const std::string& token);

// The most specific failure the VFS met on this thread since the last clear, if any.
struct VfsError {
  Errc code;
  std::string message;
};
std::optional<VfsError> take_vfs_error();
void clear_vfs_error();

// Fault injection for tests: called before every write, sync and truncate of any file the VFS
// opened; a non-zero return is returned to SQLite instead of doing the operation.
enum class IoOp { write, sync, truncate };
enum class FileRole { main, journal, wal, other };
using FaultHook = std::function<int(IoOp op, FileRole role, std::int64_t offset, int amount)>;
void set_fault_hook(FaultHook hook);

// Checks whether `key` opens the database at `path`, by authenticating its first page, without
// going through SQLite.
enum class KeyProbe { match, mismatch, empty, not_fieldcase, io_error };
KeyProbe probe_key(const std::string& path, std::span<const std::uint8_t> key);

// The page format version of the encrypted database at `path` (see page_cipher.hpp), or 0 if it
// is not a readable fieldcase database. An older format is read and written as it is until the
// database is re-encrypted (key rotation), which writes the current one.
int format_version(const std::string& path);
bool is_current_format(const std::string& path);
// For tests of the migration: databases created from now on use this older format (a version
// this build does not write resets it to the current one).
void set_new_database_format_for_tests(int version);

}  // namespace fieldcase::storage
