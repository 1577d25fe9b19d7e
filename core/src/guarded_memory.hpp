// Memory for secrets: the one allocator behind SecureBytes and the VFS's key copies.
//
// Each allocation is its own anonymous private mapping: the bytes sit at the end of their pages,
// between inaccessible guard pages (an overrun or underrun faults), locked in RAM where the OS
// allows it (mlock), left out of core dumps (MADV_DONTDUMP), and not inherited by child
// processes: with MADV_WIPEONFORK (Linux 4.14+) a forked child sees zeros in their place, and
// where that is unavailable MADV_DONTFORK leaves them unmapped in the child (minherit on BSD and
// Apple systems; an OS with neither gets no secret memory at all). Freeing zeroes the bytes and
// unmaps them.
//
// Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fieldcase::detail {

// `size` zero bytes (size > 0), or nullptr if the mapping cannot be made.
std::uint8_t* guarded_alloc(std::size_t size) noexcept;
// Zeroes and releases what guarded_alloc(size) returned. nullptr is ignored.
void guarded_free(std::uint8_t* p, std::size_t size) noexcept;

}  // namespace fieldcase::detail
