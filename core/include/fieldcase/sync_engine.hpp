// The device's sync engine: hands the outbox to the server and brings back what changed.
//
// One run repeats the POST /v1/sync exchange until the outbox is empty and the server has no
// more changes: each round sends whole local transactions (bounded chunks), applies the answer
// in one local transaction (see RecordStore::apply_sync_response) and advances the cursor, so
// an interrupted run resumes where it stopped and a retried request is harmless (the server
// deduplicates). Failures to reach the server are retried with exponential backoff, and so is
// 429 rate_limited; a 413 answer (the chunk exceeds the server's body limit) halves the chunk
// and sends again.
//
// Wipe instructions: a revoked (or already retired) device is refused with 403 device_revoked
// carrying a wipe instruction; a retiring device gets 200 answers carrying one. In both cases
// the report has wipe_requested and the caller must crypto-erase (Vault::wipe) at once
// (DeviceSession::sync does). A
// retiring device first sends everything left in its outbox (its work is accepted), then one
// last empty request so the server records the retirement. A run that exchanged at least one
// answer with the server sets `contacted`: the caller records it (Vault::record_contact) with
// the server's offline_limit_days.
//
// Runs on its own thread with its own RecordStore/Store connection; local recording on other
// connections is not blocked beyond SQLite's short write locks. Not thread-safe itself.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "fieldcase/record_store.hpp"
#include "fieldcase/status.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "fieldcase/transport.hpp"

namespace fieldcase {

struct SyncOptions {
  std::size_t max_transactions_per_request = 100;
  std::size_t max_ops_per_request = 2000;
  std::size_t max_changes_per_page = 2000;
  int max_rounds = 10000;  // a bound, not a target
  int max_attempts = 5;    // per round, for failures to reach the server
  std::chrono::milliseconds first_backoff{500};
  // How to wait between attempts (tests pass a function that does not sleep).
  std::function<void(std::chrono::milliseconds)> sleep;
};

struct SyncProgress {
  std::size_t transactions_sent = 0;
  std::size_t transactions_total = 0;  // outbox size when the run started
  std::size_t changes_received = 0;
  std::size_t bytes_sent = 0;
  std::size_t bytes_received = 0;
  int round = 0;
};

struct SyncReport {
  int round_trips = 0;
  std::size_t accepted = 0;
  std::size_t rejected = 0;
  std::size_t changes_received = 0;
  std::size_t bytes_sent = 0;
  std::size_t bytes_received = 0;
  std::vector<sync::Rejection> rejections;
  std::vector<std::string> purged_cases;
  bool wipe_requested = false;  // the caller must crypto-erase (Vault::wipe) now
  bool device_revoked = false;  // the server refused this device (403 device_revoked)
  std::string wipe_reason;
  bool contacted = false;      // at least one answer came from the server
  int offline_limit_days = 0;  // from the last answer (0: no limit)
  // Server time minus device time, estimated from the last round trip.
  std::chrono::milliseconds clock_offset{0};
};

class SyncEngine {
 public:
  SyncEngine(RecordStore& records, Transport& transport, std::string device_token,
             SyncOptions options = {});

  // Errc::unauthenticated when the server refuses the credential, Errc::io when it could not
  // be reached after every attempt, Errc::cancelled when `cancel` became true (between rounds).
  Result<SyncReport> run(const std::function<void(const SyncProgress&)>& progress = {},
                         const std::atomic<bool>* cancel = nullptr);

 private:
  struct Answer {
    sync::SyncResponse response;
    bool refused = false;    // 403 device_revoked: response holds only its instructions
    bool too_large = false;  // 413: the request exceeded the server's body limit
  };
  Result<Answer> exchange(const sync::SyncRequest& request, SyncProgress& progress);
  RecordStore& records_;
  Transport& transport_;
  std::string token_;
  SyncOptions options_;
};

// Delivers the wipe reports pending for the vault at `database` (Vault::pending_wipe_reports):
// POST sync::kWipeReportPath with each proof. A report the server acknowledges (200: it has
// revoked the device) or does not know (401: nothing left to revoke) is discarded; the rest
// stay for the next contact. Returns how many the server acknowledged; Errc::io when the server
// could not be reached (the reports stay). DeviceSession calls it before every sync and right
// after a server-ordered wipe, so a wiped device reports itself at its next contact.
Result<int> report_wipes(Transport& transport, const std::filesystem::path& database);

}  // namespace fieldcase
