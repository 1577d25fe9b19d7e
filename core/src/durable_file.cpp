#include "fieldcase/durable_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "fieldcase/secure_bytes.hpp"

namespace fieldcase {
namespace {

Status errno_status(const std::string& what) {
  int e = errno;
  return {e == ENOSPC ? Errc::disk_full : Errc::io, what + ": " + std::strerror(e)};
}

Status write_all(int fd, const std::uint8_t* p, std::size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno_status(what);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return {};
}

}  // namespace

Status sync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open directory " + dir.string());
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return errno_status("cannot sync directory " + dir.string());
  return {};
}

Status write_file_durably(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                          unsigned mode) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  // The temporary file is always a new file of our own: a leftover of an interrupted write is
  // unlinked (a symbolic link is removed, never followed), and O_EXCL | O_NOFOLLOW refuses
  // anything that appears in its place before the open, so a planted link cannot make the key
  // bytes land in a file of the attacker's choosing.
  if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) {
    return errno_status("cannot remove " + tmp.string());
  }
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return errno_status("cannot create " + tmp.string());
  Status st = write_all(fd, bytes.data(), bytes.size(), "cannot write " + tmp.string());
  if (st.ok() && ::fsync(fd) != 0) st = errno_status("cannot sync " + tmp.string());
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = errno_status("cannot replace " + path.string());
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  return sync_directory(path.parent_path());
}

Result<std::vector<std::uint8_t>> read_small_file(const std::filesystem::path& path,
                                                  std::size_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status(Errc::not_found, path.string() + " does not exist");
    return errno_status("cannot read " + path.string());
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < 0 ||
      static_cast<std::uint64_t>(st.st_size) > max_size) {
    ::close(fd);
    return Status(Errc::io, path.string() + " is unreadable or too large");
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t r = ::read(fd, out.data() + got, out.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  if (got != out.size()) return Status(Errc::io, "short read of " + path.string());
  return out;
}

Status shred_file(const std::filesystem::path& path) {
  // O_NOFOLLOW: a symbolic link in the file's place is unlinked, its target left alone.
  int fd = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return {};
  if (fd < 0 && errno != ELOOP) return errno_status("cannot open " + path.string());
  if (fd >= 0) {
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      // Overwrites the file's bytes in place, through the file system (see the header for what
      // that does and does not reach).
      std::vector<std::uint8_t> noise(static_cast<std::size_t>(st.st_size), 0);
      if (crypto_init().ok()) randombytes_buf(noise.data(), noise.size());  // else zeros
      (void)write_all(fd, noise.data(), noise.size(), "shred");
      ::fsync(fd);
    }
    ::close(fd);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return errno_status("cannot delete " + path.string());
  }
  return sync_directory(path.parent_path());
}

}  // namespace fieldcase
