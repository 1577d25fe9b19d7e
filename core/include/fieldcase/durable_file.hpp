// Small files written so that a crash leaves either the old or the new contents, never a mix:
// key blobs, key-store entries, markers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "fieldcase/status.hpp"

namespace fieldcase {

// Writes `bytes` to a new temporary file beside `path` ("<path>.tmp", created with
// O_EXCL | O_NOFOLLOW after removing any leftover, so a symbolic link planted there is never
// followed) with the given mode, fsyncs it, renames it over `path` and fsyncs the directory.
// The rename puts the new bytes in new blocks: the old contents of `path` are not overwritten.
Status write_file_durably(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                          unsigned mode = 0600);

// The whole file; Errc::not_found if it does not exist. Refuses files over max_size bytes.
Result<std::vector<std::uint8_t>> read_small_file(const std::filesystem::path& path,
                                                  std::size_t max_size = 1 << 20);

// Overwrites the file's contents in place with random bytes, syncs, and unlinks it. Missing files
// are fine; a symbolic link is unlinked without touching its target. The overwrite goes through
// the file system: on flash storage, copy-on-write or log-structured file systems, journals and
// snapshots, the old blocks may survive it. Secrets rely on crypto-erase, not on this.
Status shred_file(const std::filesystem::path& path);

// fsync of a directory, so a rename or unlink in it is durable.
Status sync_directory(const std::filesystem::path& dir);

}  // namespace fieldcase
