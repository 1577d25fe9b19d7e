// Audit events of the hash-chained audit log, the queries over it and the result of verifying
// it (domain entities; audit_chain.hpp computes and checks the chain).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fieldcase::server {

struct AuditEvent {
  std::string id;
  std::string at;
  std::string event;  // the action, e.g. "case_read", "case_write", "sign_in", "enroll",
                      // "permission_refused", "out_of_scope", "allocate", "device_revoke"
  std::string device_id;
  std::string worker_id;  // the user who acted (or whom an administrative action concerns)
  std::string case_id;
  std::string tx_id;
  std::string detail;          // never case data, passwords, codes or tokens
  std::string record_id{};     // the record read or written, when the entry is about one
  std::string outcome = "ok";  // "ok", "refused" or "failed"
  std::string relation{};      // for case access: own, team, area or other (see permissions.hpp)
  // Kept by the store: the entry's position in the chain and its hashes (lower-case hex).
  std::int64_t seq = 0;
  std::string prev_hash{};
  std::string hash{};
};

// What an audit query selects; empty fields match everything.
struct AuditQuery {
  std::string case_id;
  std::string worker_id;
  std::string device_id;
  std::string event;
  // Only reads and writes of case data to cases not allocated to the person at the time.
  bool not_allocated = false;
  std::size_t limit = 1000;
};

// The result of checking the audit chain from its first entry.
struct AuditVerification {
  bool intact = true;
  std::int64_t entries = 0;
  std::int64_t first_bad_seq = 0;  // where the chain breaks (0 when intact)
  std::string problem;             // what is wrong there
  std::string head_hash;           // the hash of the last entry: keep a copy outside the server
};

}  // namespace fieldcase::server
