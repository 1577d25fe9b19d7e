// Small files written so that a crash leaves either the old or the new contents, never a mix:
// key blobs, key-store entries, markers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "fieldcase/status.hpp"

namespace fieldcase {

// Writes `bytes` to a temporary file beside `path` with the given mode, fsyncs it, renames it
// over `path` and fsyncs the directory.
Status write_file_durably(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                          unsigned mode = 0600);

// The whole file; Errc::not_found if it does not exist. Refuses files over max_size bytes.
Result<std::vector<std::uint8_t>> read_small_file(const std::filesystem::path& path,
                                                  std::size_t max_size = 1 << 20);

// Overwrites the file's contents with zeros, syncs, and unlinks it. Missing files are fine.
Status shred_file(const std::filesystem::path& path);

// fsync of a directory, so a rename or unlink in it is durable.
Status sync_directory(const std::filesystem::path& dir);

}  // namespace fieldcase
