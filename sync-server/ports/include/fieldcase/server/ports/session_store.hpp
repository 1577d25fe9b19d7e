// Web sessions, kept by the hash of their id. Isolation: every method is atomic on its own; inside UnitOfWork::transaction() the calls see
// each other's writes and commit or roll back together.
#pragma once

#include <optional>
#include <string_view>

#include "fieldcase/server/credentials.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  virtual Status insert_session(const WebSession& session) = 0;
  virtual Result<std::optional<WebSession>> find_session(std::string_view id_hash) = 0;
  virtual Status touch_session(std::string_view id_hash, std::string_view last_seen_at) = 0;
  virtual Status delete_session(std::string_view id_hash) = 0;
  // Ends every session of a worker (deactivation, password change).
  virtual Status delete_sessions_of(std::string_view worker_id) = 0;
};

}  // namespace fieldcase::server
