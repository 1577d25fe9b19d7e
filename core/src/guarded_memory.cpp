#include "guarded_memory.hpp"

#include <sodium.h>
#include <sys/mman.h>
#include <unistd.h>

namespace fieldcase::detail {
namespace {

std::size_t page_size() {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

std::size_t data_pages_bytes(std::size_t size) {
  const std::size_t page = page_size();
  return (size + page - 1) / page * page;
}

// Keeps a forked child from inheriting the pages: zeros in the child where the OS can, no
// mapping where it cannot. False if this OS offers neither (then no secret is allocated).
bool keep_from_children(void* p, std::size_t n) {
#if defined(MADV_WIPEONFORK)
  if (::madvise(p, n, MADV_WIPEONFORK) == 0) return true;
#endif
#if defined(MADV_DONTFORK)
  if (::madvise(p, n, MADV_DONTFORK) == 0) return true;
#endif
#if defined(INHERIT_ZERO)
  if (::minherit(p, n, INHERIT_ZERO) == 0) return true;
#elif defined(VM_INHERIT_NONE)
  if (::minherit(p, n, VM_INHERIT_NONE) == 0) return true;
#endif
  return false;
}

}  // namespace

std::uint8_t* guarded_alloc(std::size_t size) noexcept {
  if (size == 0) return nullptr;
  const std::size_t page = page_size();
  const std::size_t data = data_pages_bytes(size);
  const std::size_t total = data + 2 * page;
  void* base = ::mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return nullptr;
  auto* first = static_cast<std::uint8_t*>(base) + page;
  if (::mprotect(first, data, PROT_READ | PROT_WRITE) != 0) {
    ::munmap(base, total);
    return nullptr;
  }
  if (!keep_from_children(first, data)) {
    ::munmap(base, total);
    return nullptr;
  }
#if defined(MADV_DONTDUMP)
  (void)::madvise(first, data, MADV_DONTDUMP);
#endif
  (void)::mlock(first, data);  // best effort: RLIMIT_MEMLOCK may forbid it
  return first + (data - size);  // at the end, so an overrun reaches the guard page at once
}

void guarded_free(std::uint8_t* p, std::size_t size) noexcept {
  if (p == nullptr || size == 0) return;
  const std::size_t page = page_size();
  const std::size_t data = data_pages_bytes(size);
  std::uint8_t* first = p + size - data;
  sodium_memzero(first, data);
  (void)::munlock(first, data);
  ::munmap(first - page, data + 2 * page);
}

}  // namespace fieldcase::detail
