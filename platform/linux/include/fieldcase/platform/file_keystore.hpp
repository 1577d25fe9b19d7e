// A KeyStore kept as owner-only files in one directory: the Linux/desktop stand-in for the
// Android Keystore and the iOS Keychain.
//
// The directory is created with mode 0700 and each secret is a 0600 file written atomically
// (temporary file, fsync, rename). Names are restricted to [A-Za-z0-9._-]. It protects against
// other users of the machine, not against someone who can read this user's files: on a real
// tablet the platform keystore is hardware-backed. One instance per directory per process.
#pragma once

#include <filesystem>

#include "fieldcase/keystore.hpp"

namespace fieldcase::platform {

class FileKeyStore final : public KeyStore {
 public:
  explicit FileKeyStore(std::filesystem::path directory);

  Result<std::optional<SecureBytes>> get(std::string_view name) override;
  Status put(std::string_view name, std::span<const std::uint8_t> secret) override;
  Status remove(std::string_view name) override;

  const std::filesystem::path& directory() const { return dir_; }

 private:
  Result<std::filesystem::path> entry_path(std::string_view name) const;
  std::filesystem::path dir_;
};

}  // namespace fieldcase::platform
