// Enrolled devices (found by id or by the hash of their token, never the token) and which cases
// each may still hold. Isolation: every method is atomic on its own; inside UnitOfWork::transaction() the calls see
// each other's writes and commit or roll back together.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/server/devices.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class DeviceStore {
 public:
  virtual ~DeviceStore() = default;

  virtual Status insert_device(const Device& device, std::string_view token_hash) = 0;
  virtual Result<std::optional<Device>> find_device(std::string_view id) = 0;
  virtual Result<std::optional<Device>> find_device_by_token_hash(std::string_view hash) = 0;
  virtual Result<std::vector<Device>> list_devices() = 0;
  // Stores status, revoked_at, last_sync_at and the clock estimate.
  virtual Status update_device(const Device& device) = 0;
  virtual Result<std::map<std::string, HeldState>> device_cases(std::string_view device_id) = 0;
  virtual Status put_device_case(std::string_view device_id, std::string_view case_id,
                                 HeldState state) = 0;
};

}  // namespace fieldcase::server
