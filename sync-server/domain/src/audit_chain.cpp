#include "fieldcase/server/audit_chain.hpp"

#include <sodium.h>

#include <array>

namespace fieldcase::server {

std::string audit_hash(std::string_view prev_hex, const AuditEvent& e) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, crypto_generichash_BYTES);
  std::array<unsigned char, 32> prev{};
  std::size_t prev_len = 0;
  if (sodium_hex2bin(prev.data(), prev.size(), prev_hex.data(), prev_hex.size(), nullptr, &prev_len,
                     nullptr) != 0 ||
      prev_len != prev.size()) {
    prev.fill(0xff);
  }
  crypto_generichash_update(&st, prev.data(), prev.size());
  auto add = [&st](std::string_view text) {
    std::array<unsigned char, 8> len{};
    std::uint64_t n = text.size();
    for (std::size_t i = 0; i < len.size(); ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    crypto_generichash_update(&st, len.data(), len.size());
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(text.data()),
                              text.size());
  };
  add(std::to_string(e.seq));
  for (const std::string* f : {&e.id, &e.at, &e.event, &e.outcome, &e.worker_id, &e.device_id,
                               &e.case_id, &e.record_id, &e.tx_id, &e.relation, &e.detail}) {
    add(*f);
  }
  std::array<unsigned char, crypto_generichash_BYTES> digest{};
  crypto_generichash_final(&st, digest.data(), digest.size());
  std::string hex(digest.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  hex.pop_back();
  return hex;
}

void chain_audit_entry(AuditEvent& entry, std::int64_t head_seq, std::string_view head_hash) {
  entry.seq = head_seq + 1;
  entry.prev_hash = std::string(head_hash);
  entry.hash = audit_hash(entry.prev_hash, entry);
}

void AuditChainVerifier::fail(std::int64_t seq, std::string problem) {
  if (!v_.intact) return;
  v_.intact = false;
  v_.first_bad_seq = seq;
  v_.problem = std::move(problem);
}

void AuditChainVerifier::add(const AuditEvent& e) {
  ++v_.entries;
  if (e.seq != expected_seq_) {
    fail(expected_seq_, "entry " + std::to_string(expected_seq_) + " is missing");
  } else if (e.prev_hash != prev_) {
    fail(e.seq, "entry " + std::to_string(e.seq) + " does not follow the previous entry");
  } else if (audit_hash(prev_, e) != e.hash) {
    fail(e.seq, "entry " + std::to_string(e.seq) + " was changed after it was written");
  }
  expected_seq_ = e.seq + 1;
  prev_ = e.hash;  // carry on from the stored hash so one edit is reported once
}

AuditVerification AuditChainVerifier::finish(std::int64_t recorded_seq,
                                             std::string_view recorded_hash) {
  v_.head_hash = prev_;
  if (v_.intact && (recorded_seq != expected_seq_ - 1 || recorded_hash != prev_)) {
    fail(recorded_seq, "the chain ends at entry " + std::to_string(expected_seq_ - 1) +
                           " but the recorded head is entry " + std::to_string(recorded_seq) +
                           " (entries were removed from the end)");
  }
  return v_;
}

}  // namespace fieldcase::server
