#include "fieldcase/platform/file_keystore.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "fieldcase/durable_file.hpp"

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

}  // namespace

FileKeyStore::FileKeyStore(std::filesystem::path directory) : dir_(std::move(directory)) {}

Result<std::filesystem::path> FileKeyStore::entry_path(std::string_view name) const {
  if (!valid_name(name)) {
    return Status(Errc::invalid_argument, "key store: invalid secret name");
  }
  if (::mkdir(dir_.c_str(), 0700) != 0) {
    if (errno != EEXIST) {
      return Status(Errc::io, "key store: cannot create " + dir_.string() + ": " +
                                  std::strerror(errno));
    }
    // An existing directory is made owner-only too.
    if (::chmod(dir_.c_str(), 0700) != 0) {
      return Status(Errc::io, "key store: cannot restrict " + dir_.string() + ": " +
                                  std::strerror(errno));
    }
  }
  return dir_ / std::string(name);
}

Result<std::optional<SecureBytes>> FileKeyStore::get(std::string_view name) {
  auto path = entry_path(name);
  if (!path.ok()) return path.status();
  auto bytes = read_small_file(*path, 65536);
  if (bytes.code() == Errc::not_found) return std::optional<SecureBytes>();
  if (!bytes.ok()) return bytes.status();
  auto secret = SecureBytes::copy_of(*bytes);
  secure_wipe(*bytes);
  if (!secret.ok()) return secret.status();
  return std::optional<SecureBytes>(std::move(secret.value()));
}

Status FileKeyStore::put(std::string_view name, std::span<const std::uint8_t> secret) {
  auto path = entry_path(name);
  if (!path.ok()) return path.status();
  return write_file_durably(*path, secret, 0600);
}

Status FileKeyStore::remove(std::string_view name) {
  auto path = entry_path(name);
  if (!path.ok()) return path.status();
  std::filesystem::path tmp = *path;
  tmp += ".tmp";  // left by a write interrupted by a crash
  FC_TRY(shred_file(tmp));
  return shred_file(*path);
}

}  // namespace fieldcase::platform
