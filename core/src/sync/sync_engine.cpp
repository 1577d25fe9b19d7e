#include "fieldcase/sync_engine.hpp"

#include <thread>

#include "fieldcase/record_schema.hpp"
#include "fieldcase/vault.hpp"

namespace fieldcase {
namespace {

Status status_for_http(int code, const std::string& body) {
  std::string what = "the server answered " + std::to_string(code);
  if (!body.empty() && body.size() < 2000) what += ": " + body;
  if (code == 401 || code == 403) return {Errc::unauthenticated, what};
  if (code >= 500) return {Errc::io, what};
  return {Errc::invalid_argument, what};
}

}  // namespace

SyncEngine::SyncEngine(RecordStore& records, Transport& transport, std::string device_token,
                       SyncOptions options)
    : records_(records),
      transport_(transport),
      token_(std::move(device_token)),
      options_(std::move(options)) {
  if (!options_.sleep) {
    options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
}

Result<SyncEngine::Answer> SyncEngine::exchange(const sync::SyncRequest& request,
                                                SyncProgress& progress) {
  const std::string body = sync::encode(request);
  std::chrono::milliseconds backoff = options_.first_backoff;
  Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    auto answer = transport_.post("/v1/sync", body, token_);
    if (answer.ok()) {
      progress.bytes_sent += answer->bytes_sent;
      progress.bytes_received += answer->bytes_received;
      if (answer->status == 200) {
        auto decoded = sync::decode_response(answer->body);
        if (!decoded.ok()) {
          return Status(Errc::io,
                        "the server's answer could not be read: " + decoded.status().message());
        }
        return Answer{std::move(decoded.value()), false};
      }
      auto error = sync::decode_error(answer->body);
      if (answer->status == 403 && error.ok() && error->code == sync::kErrorDeviceRevoked) {
        Answer refused;
        refused.refused = true;
        refused.response.instructions = std::move(error->instructions);
        if (refused.response.instructions.empty()) {
          refused.response.instructions.push_back(
              {sync::Instruction::Type::wipe, "", error->message});
        }
        return refused;
      }
      if (answer->status == 413) {
        Answer too_large;
        too_large.too_large = true;  // run() sends less and tries again
        return too_large;
      }
      last = status_for_http(answer->status, answer->body);
      if (answer->status == 429) last = Status(Errc::io, last.message());  // wait and retry
      if (last.code() != Errc::io) return last;  // 4xx: retrying the same request cannot help
    } else {
      last = answer.status();
    }
    if (attempt < options_.max_attempts) {
      options_.sleep(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(60'000));
    }
  }
  return Status(last.code() == Errc::ok ? Errc::io : last.code(),
                "sync failed after " + std::to_string(options_.max_attempts) +
                    " attempts: " + last.message());
}

Result<SyncReport> SyncEngine::run(const std::function<void(const SyncProgress&)>& progress_cb,
                                   const std::atomic<bool>* cancel) {
  // However the run ends, it leaves no idle connection behind.
  struct ReleaseConnection {
    Transport& transport;
    ~ReleaseConnection() { transport.release_connection(); }
  } release{transport_};
  SyncReport report;
  SyncProgress progress;
  auto pending = records_.pending_transactions();
  if (!pending.ok()) return pending.status();
  progress.transactions_total = static_cast<std::size_t>(*pending);
  if (progress_cb) progress_cb(progress);

  // Chunk limits for this run: halved whenever the server answers 413 (its body limit is
  // smaller than our chunk), down to one transaction per request.
  std::size_t max_txs = std::max<std::size_t>(1, options_.max_transactions_per_request);
  std::size_t max_ops = std::max<std::size_t>(1, options_.max_ops_per_request);
  for (int round = 1; round <= options_.max_rounds; ++round) {
    if (cancel != nullptr && cancel->load()) {
      return Status(Errc::cancelled, "sync cancelled; what was sent so far is safe");
    }
    progress.round = round;
    auto outbox = records_.outbox(max_txs, max_ops);
    if (!outbox.ok()) return outbox.status();
    auto cursor = records_.sync_cursor();
    if (!cursor.ok()) return cursor.status();

    sync::SyncRequest request;
    const auto sent_at = std::chrono::system_clock::now();
    request.device_time = format_iso_datetime(sent_at);
    request.cursor = *cursor;
    request.max_changes = options_.max_changes_per_page;
    request.transactions = std::move(outbox.value());
    const std::size_t sending = request.transactions.size();

    auto answer = exchange(request, progress);
    if (answer.ok() && answer->too_large) {
      if (sending <= 1) {
        return Status(Errc::invalid_argument,
                      "a local transaction is larger than the server accepts in one request; "
                      "ask an administrator to raise the server's max_body_bytes");
      }
      max_txs = std::max<std::size_t>(1, std::min(max_txs, sending) / 2);
      max_ops = std::max<std::size_t>(1, max_ops / 2);
      continue;  // not a round trip that counts: nothing was applied
    }
    if (!answer.ok()) return answer.status();
    const auto received_at = std::chrono::system_clock::now();
    ++report.round_trips;
    report.contacted = true;
    report.bytes_sent = progress.bytes_sent;
    report.bytes_received = progress.bytes_received;
    if (answer->refused) {
      // Revoked: nothing was accepted; the device must erase itself now.
      report.device_revoked = true;
      report.wipe_requested = true;
      for (const auto& ins : answer->response.instructions) {
        if (ins.type == sync::Instruction::Type::wipe) report.wipe_reason = ins.reason;
      }
      return report;
    }
    auto* response = &answer->response;
    FC_TRY(records_.apply_sync_response(*response));
    report.offline_limit_days = response->offline_limit_days;

    if (auto server = parse_iso_datetime(response->server_time)) {
      auto midpoint = sent_at + (received_at - sent_at) / 2;
      auto device_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(midpoint.time_since_epoch());
      report.clock_offset = std::chrono::milliseconds(*server * 1000) - device_ms;
    }
    report.accepted += response->accepted.size();
    report.rejected += response->rejected.size();
    report.rejections.insert(report.rejections.end(), response->rejected.begin(),
                             response->rejected.end());
    report.changes_received += response->changes.size();
    for (const auto& ins : response->instructions) {
      if (ins.type == sync::Instruction::Type::wipe) {
        report.wipe_requested = true;
        report.wipe_reason = ins.reason;
      } else {
        report.purged_cases.push_back(ins.case_id);
      }
    }
    progress.transactions_sent += sending;
    progress.changes_received += response->changes.size();
    if (progress_cb) progress_cb(progress);
    report.bytes_sent = progress.bytes_sent;
    report.bytes_received = progress.bytes_received;

    // The server must acknowledge or reject every transaction it was sent; if it did neither,
    // stop rather than send the same ones forever.
    if (sending > 0 && response->accepted.size() + response->rejected.size() == 0) {
      return Status(Errc::io, "the server did not answer for the transactions it was sent");
    }
    auto left = records_.pending_transactions();
    if (!left.ok()) return left.status();
    if (report.wipe_requested) {
      // Retiring: deliver the rest of the outbox first, then one empty request that tells the
      // server nothing is left (it records the retirement).
      if (*left == 0 && sending == 0) return report;
      continue;
    }
    if (!response->more && *left == 0) return report;
  }
  return Status(Errc::io,
                "sync did not finish within " + std::to_string(options_.max_rounds) + " rounds");
}

Result<int> report_wipes(Transport& transport, const std::filesystem::path& database) {
  int acknowledged = 0;
  Status unreachable;
  for (const auto& proof : Vault::pending_wipe_reports(database)) {
    auto answer = transport.post(sync::kWipeReportPath, "{}", proof);
    if (!answer.ok()) {
      unreachable = answer.status();
      continue;
    }
    if (answer->status == 200) {
      ++acknowledged;
    } else if (answer->status != 401) {
      unreachable = status_for_http(answer->status, answer->body);
      continue;  // kept for the next contact
    }
    FC_TRY(Vault::discard_wipe_report(database, proof));
  }
  transport.release_connection();
  if (!unreachable.ok()) {
    return Status(Errc::io, "the wipe could not be reported to the server yet: " +
                                unreachable.message());
  }
  return acknowledged;
}

}  // namespace fieldcase
