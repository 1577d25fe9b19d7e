#include "fieldcase/platform/file_keystore.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace fieldcase::platform {
namespace {

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status errno_status(const std::string& what) {
  return {errno == ENOSPC ? Errc::disk_full : Errc::io, what + ": " + std::strerror(errno)};
}

Status write_all(int fd, const std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno_status("key store write failed");
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return {};
}

}  // namespace

FileKeyStore::FileKeyStore(std::filesystem::path directory) : dir_(std::move(directory)) {}

Result<std::filesystem::path> FileKeyStore::entry_path(std::string_view name) const {
  if (!valid_name(name)) {
    return Status(Errc::invalid_argument, "key store: invalid secret name");
  }
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return errno_status("key store: cannot create " + dir_.string());
  }
  return dir_ / std::string(name);
}

Result<std::optional<SecureBytes>> FileKeyStore::get(std::string_view name) {
  auto path = entry_path(name);
  if (!path.ok()) return path.status();
  int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<SecureBytes>();
    return errno_status("key store: cannot read secret");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < 0 || st.st_size > 65536) {
    ::close(fd);
    return Status(Errc::io, "key store: secret file is unreadable or too large");
  }
  auto out = SecureBytes::allocate(static_cast<std::size_t>(st.st_size));
  if (!out.ok()) {
    ::close(fd);
    return out.status();
  }
  std::size_t got = 0;
  while (got < out->size()) {
    ssize_t r = ::read(fd, out->data() + got, out->size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      ::close(fd);
      return Status(Errc::io, "key store: short read of secret");
    }
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  return std::optional<SecureBytes>(std::move(out.value()));
}

Status FileKeyStore::put(std::string_view name, std::span<const std::uint8_t> secret) {
  auto path = entry_path(name);
  if (!path.ok()) return path.status();
  std::filesystem::path tmp = path.value();
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("key store: cannot create secret file");
  Status st = write_all(fd, secret.data(), secret.size());
  if (st.ok() && ::fsync(fd) != 0) st = errno_status("key store: fsync failed");
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), path->c_str()) != 0) {
    st = errno_status("key store: rename failed");
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Status FileKeyStore::remove(std::string_view name) {
  auto path = entry_path(name);
  if (!path.ok()) return path.status();
  // Overwrite before unlinking so the old secret does not linger in the file's blocks.
  int fd = ::open(path->c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      std::vector<std::uint8_t> zeros(static_cast<std::size_t>(st.st_size), 0);
      (void)write_all(fd, zeros.data(), zeros.size());
      ::fsync(fd);
    }
    ::close(fd);
  }
  if (::unlink(path->c_str()) != 0 && errno != ENOENT) {
    return errno_status("key store: cannot delete secret");
  }
  return {};
}

}  // namespace fieldcase::platform
