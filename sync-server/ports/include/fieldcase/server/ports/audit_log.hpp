// The hash-chained audit log (audit_chain.hpp). Contract: append_audit runs in its own savepoint
// under the writer serialisation, so concurrent writers from any process never fork the chain:
// every entry's prev_hash is the hash of the entry before it in seq order.
#pragma once

#include <string_view>
#include <vector>

#include "fieldcase/server/audit.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class AuditLog {
 public:
  virtual ~AuditLog() = default;

  // The single way into the audit log. Appends the entry at the end of the hash chain:
  // seq is the next number, prev_hash the previous entry's hash (64 zeros for the first) and
  // hash = BLAKE2b-256(prev_hash || canonical bytes of the entry). Runs in its own savepoint,
  // so concurrent writers (other connections, the admin commands) cannot fork the chain.
  virtual Status append_audit(const AuditEvent& event) = 0;
  virtual Result<std::vector<AuditEvent>> audit_events(std::string_view event) = 0;
  // Matching entries, oldest first, at most query.limit.
  virtual Result<std::vector<AuditEvent>> query_audit(const AuditQuery& query) = 0;
  // Recomputes every hash from the first entry; reports the first break (an edited, deleted
  // or inserted row) and whether the last entry is still the recorded head.
  virtual Result<AuditVerification> verify_audit() = 0;
};

}  // namespace fieldcase::server
