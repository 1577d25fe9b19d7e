// The platform's secret storage, as the core sees it.
//
// On Android this is backed by the Keystore, on iOS by the Keychain; on Linux a directory of
// owner-only files stands in (platform/linux). Implementations must be safe to call from one
// thread at a time; the core never calls them concurrently for the same name.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "fieldcase/secure_bytes.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase {

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // The secret stored under name, or nullopt if there is none.
  virtual Result<std::optional<SecureBytes>> get(std::string_view name) = 0;
  // Stores (or replaces) the secret durably before returning.
  virtual Status put(std::string_view name, std::span<const std::uint8_t> secret) = 0;
  // Destroys the secret; succeeds if there was none.
  virtual Status remove(std::string_view name) = 0;
};

}  // namespace fieldcase
