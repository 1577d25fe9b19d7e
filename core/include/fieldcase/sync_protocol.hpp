// The sync protocol's messages and their JSON form (docs/sync-protocol.md), shared by the
// device's sync engine and the server so both read and write exactly the same thing.
//
// One POST /v1/sync exchange carries the device's unacknowledged local transactions and its
// cursor; the answer carries acknowledgements, per-transaction rejections with a
// machine-readable code, the changes the device may see since its cursor (one page), the new
// cursor, the server's time, and instructions. Decoding never throws: malformed input is
// Errc::invalid_argument naming the offending member. Value types; thread-safe to copy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/record.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::sync {

inline constexpr int kProtocolVersion = 1;
// Limits a server enforces and a client respects.
inline constexpr std::size_t kMaxTransactionsPerRequest = 200;
inline constexpr std::size_t kMaxOpsPerRequest = 5000;
inline constexpr std::size_t kMaxChangesPerPage = 2000;

struct Op {
  std::string op_id;
  FieldChange::Op op = FieldChange::Op::set;
  std::string record_id;
  RecordKind kind = RecordKind::child;
  std::string case_id;
  std::string field;  // set only
  Value value;        // set only
  std::string hlc;
  std::string base;  // the field's stamp the device had seen when it wrote (set only; may be "")
  std::string at;    // device wall time
};

struct Transaction {
  std::string tx_id;
  std::vector<Op> ops;
};

struct SyncRequest {
  int protocol = kProtocolVersion;
  std::string device_time;          // the device's clock when it sent the request
  std::int64_t cursor = 0;          // server sequence the device has applied up to
  std::size_t max_changes = 500;    // page size it wants
  std::vector<Transaction> transactions;
};

struct Rejection {
  std::string tx_id;
  std::string code;    // "validation", "out_of_scope", "conflict_immutable", "bad_request"
  std::string reason;  // human-readable, names the field and the rule
};

// A change the server sends down: the server-ordered log entry.
struct Change {
  std::int64_t seq = 0;
  std::string op_id;  // the originating operation's id (a device skips its own)
  FieldChange::Op op = FieldChange::Op::set;
  std::string record_id;
  RecordKind kind = RecordKind::child;
  std::string case_id;
  std::string field;
  Value value;
  std::string hlc;
  std::string author;
};

struct Conflict {
  std::string conflict_id;
  std::string record_id;
  std::string case_id;
  std::string field;
  Value kept;        // the value now in the record
  std::string kept_hlc;
  Value lost;        // the concurrent value that lost
  std::string lost_hlc;
  std::string lost_author;
  bool resolved = false;
};

struct Instruction {
  enum class Type : std::uint8_t { purge_case, wipe };
  Type type = Type::purge_case;
  std::string case_id;  // purge_case only
  std::string reason;
};

struct SyncResponse {
  int protocol = kProtocolVersion;
  std::string server_time;
  std::vector<std::string> accepted;
  std::vector<Rejection> rejected;
  std::vector<Change> changes;
  std::vector<Conflict> conflicts;  // open conflicts on the device's cases
  std::int64_t cursor = 0;
  bool more = false;                // more changes are waiting: ask again
  std::vector<Instruction> instructions;
  // Days a device may stay out of contact before it locks its case data (0: no limit).
  int offline_limit_days = 0;
};

// The body of a 4xx/5xx answer. A refused revoked or retired device (403 device_revoked) also
// finds its wipe instruction here.
struct ErrorBody {
  std::string code;
  std::string message;
  std::vector<Instruction> instructions;
};

// Error codes of the HTTP layer that a client acts on.
inline constexpr std::string_view kErrorDeviceRevoked = "device_revoked";
inline constexpr std::string_view kErrorRateLimited = "rate_limited";

std::string encode(const SyncRequest& request);
Result<SyncRequest> decode_request(std::string_view json);
std::string encode(const SyncResponse& response);
Result<SyncResponse> decode_response(std::string_view json);

// The JSON error body every 4xx/5xx answer carries: {"error":{"code":...,"message":...}},
// plus "instructions" when there are any.
std::string encode_error(std::string_view code, std::string_view message,
                         const std::vector<Instruction>& instructions = {});
Result<ErrorBody> decode_error(std::string_view json);

// Wipe reports. A device that erased its data tells the server at its next contact, so the
// server revokes it, although the token went with the data: it presents the token's wipe proof
// instead, `POST kWipeReportPath` with "Authorization: Bearer <proof>" and body "{}". The
// proof is the lower-case hex BLAKE2b-256 of the token, which is also how the server stores the
// token (so every device it ever issued a token can report), and it reveals nothing of the
// token: it lets its holder report the device wiped, never sync. See docs/sync-protocol.md.
inline constexpr std::string_view kWipeReportPath = "/v1/device/wiped";
std::string wipe_proof(std::string_view device_token);
// Whether `text` has the shape of a wipe proof (64 lower-case hex digits).
bool looks_like_wipe_proof(std::string_view text) noexcept;

}  // namespace fieldcase::sync
