#include "fieldcase/server/server_store.hpp"

namespace fieldcase::server {

std::string_view to_string(DeviceStatus status) noexcept {
  switch (status) {
    case DeviceStatus::active:
      return "active";
    case DeviceStatus::revoked:
      return "revoked";
    case DeviceStatus::retiring:
      return "retiring";
    case DeviceStatus::retired:
      return "retired";
  }
  return "revoked";
}

std::optional<DeviceStatus> parse_device_status(std::string_view text) noexcept {
  for (auto s : {DeviceStatus::active, DeviceStatus::revoked, DeviceStatus::retiring,
                 DeviceStatus::retired}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

Record StoredRecord::to_record() const {
  Record r;
  r.id = id;
  r.kind = kind;
  r.case_id = case_id;
  for (const auto& [name, state] : fields) {
    if (!is_null(state.value)) r.fields.emplace(name, state.value);
  }
  r.created_at = created_at;
  r.created_by = created_by;
  r.updated_at = updated_at;
  r.updated_by = updated_by;
  r.deleted = deleted;
  return r;
}

}  // namespace fieldcase::server
