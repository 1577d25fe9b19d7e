// The audit log's hash chain: how an entry is hashed onto the one before it, and how a chain
// read back from storage is checked. The rule of the domain, the same for every store.
//
// hash = BLAKE2b-256(previous hash as 32 bytes || the entry's seq and fields, each as an 8-byte
// little-endian length followed by its bytes, in a fixed order), in lower-case hex. The first
// entry follows kAuditGenesisHash (64 zeros). Pure functions and a value-type verifier;
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fieldcase/server/audit.hpp"

namespace fieldcase::server {

inline constexpr std::string_view kAuditGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The hash of `entry` (its seq and fields; prev_hash and hash are not read) after `prev_hex`.
// An unreadable previous hash never gives the hash a real one would.
std::string audit_hash(std::string_view prev_hex, const AuditEvent& entry);

// Puts `entry` at the end of the chain whose last entry is (head_seq, head_hash): sets its
// seq, prev_hash and hash. head_seq 0 with kAuditGenesisHash is the empty chain.
void chain_audit_entry(AuditEvent& entry, std::int64_t head_seq, std::string_view head_hash);

// Checks a chain fed entry by entry in seq order from the first, then against the recorded
// head: reports the first break (an edited, deleted or inserted entry) or entries removed
// from the end.
class AuditChainVerifier {
 public:
  void add(const AuditEvent& entry);
  // The verdict, given the head the store recorded (seq 0 and "" when it has none).
  AuditVerification finish(std::int64_t recorded_seq, std::string_view recorded_hash);

 private:
  void fail(std::int64_t seq, std::string problem);
  AuditVerification v_;
  std::string prev_{kAuditGenesisHash};
  std::int64_t expected_seq_ = 1;
};

}  // namespace fieldcase::server
