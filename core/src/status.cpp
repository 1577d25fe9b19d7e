#include "fieldcase/status.hpp"

namespace fieldcase {

std::string_view errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::already_exists: return "already_exists";
    case Errc::unsupported: return "unsupported";
    case Errc::internal: return "internal";
    case Errc::io: return "io";
    case Errc::disk_full: return "disk_full";
    case Errc::busy: return "busy";
    case Errc::validation: return "validation";
    case Errc::unauthenticated: return "unauthenticated";
    case Errc::cancelled: return "cancelled";
    case Errc::forbidden: return "forbidden";
    case Errc::too_many_attempts: return "too_many_attempts";
    case Errc::unavailable: return "unavailable";
    case Errc::integrity: return "integrity";
    case Errc::wrong_key: return "wrong_key";
    case Errc::wrong_pin: return "wrong_pin";
    case Errc::wiped: return "wiped";
    case Errc::locked: return "locked";
    case Errc::not_a_database: return "not_a_database";
    case Errc::schema: return "schema";
    case Errc::offline_locked: return "offline_locked";
    case Errc::weak_pin: return "weak_pin";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  std::string out(errc_name(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace fieldcase
