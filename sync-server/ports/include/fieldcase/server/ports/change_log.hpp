// The server-ordered change log and its sequence numbers.
//
// Contract: reserve_seqs hands out consecutive numbers inside the caller's write transaction, and
// writers are serialised until they commit (UnitOfWork), so entries become visible in sequence
// order: a reader that has seen seq n never later sees a new entry below n, and a device's cursor
// cannot skip one. log_after applies the scope rule of case_store.hpp for its viewer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "fieldcase/server/case_records.hpp"
#include "fieldcase/server/organisation.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class ChangeLog {
 public:
  virtual ~ChangeLog() = default;

  // Reserves n consecutive sequence numbers and returns the first.
  virtual Result<std::int64_t> reserve_seqs(std::int64_t n) = 0;
  // The last sequence number handed out (0 on an empty server).
  virtual Result<std::int64_t> head() = 0;
  virtual Status append_log(const LogEntry& entry) = 0;  // entry.seq from reserve_seqs()
  // The entries of one transaction in one go (one statement where the engine can).
  virtual Status append_log_entries(std::span<const LogEntry> entries) {
    for (const auto& e : entries) FC_TRY(append_log(e));
    return {};
  }
  // Entries with seq > cursor on cases visible to `viewer`, in seq order: at most
  // `max_entries`, and no more once the values read reach `max_bytes` (at least one entry is
  // always returned when there is one). `more` tells whether visible entries remain.
  virtual Result<LogPage> log_after(const Worker& viewer, std::int64_t cursor,
                                    std::size_t max_entries, std::size_t max_bytes) = 0;
};

}  // namespace fieldcase::server
