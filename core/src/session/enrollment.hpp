// Redeeming a one-time enrollment code with the server (POST /v1/enroll), for DeviceSession.
#pragma once

#include <string>
#include <string_view>

#include "fieldcase/record.hpp"
#include "fieldcase/status.hpp"
#include "fieldcase/transport.hpp"

namespace fieldcase::detail {

struct Enrolled {
  Identity identity;
  std::string token;
};

// The server's answer to the code: this device's worker, id, role and token. A refusal is
// Errc::unauthenticated (or Errc::too_many_attempts for 429) with the server's message.
Result<Enrolled> enroll(Transport& transport, std::string_view code, std::string_view device_name);

}  // namespace fieldcase::detail
