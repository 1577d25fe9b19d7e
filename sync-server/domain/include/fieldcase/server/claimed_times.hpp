// The claimed-time rules as a table: which times a device claims are kept (ClaimedTime) with
// their corrected value, and which start the before_start plausibility check compares each with.
// Every claimed time is also checked against receipt (after_receipt) and the device's offset
// (large_offset); those apply to all rows alike. docs/sync-protocol.md lists the rows.
// Pure data and lookups; thread-safe.
#pragma once

#include <span>
#include <string_view>

#include "fieldcase/record.hpp"

namespace fieldcase::server {

// What the start of the work a claimed time belongs to is read from.
enum class ClaimedStart : std::uint8_t {
  date,          // a date field: the start of that day (UTC)
  claimed_time,  // another claimed time, corrected by its device's offset
  claimed_day,   // the start of the (UTC) day of another claimed time, corrected
};

struct ClaimedTimeRule {
  RecordKind kind;
  std::string_view field;
  // Where the start is read: the field `link_field` of this record names the record holding
  // `start_field` (empty link_field: this record itself).
  std::string_view link_field;
  std::string_view start_field;
  ClaimedStart start;
};

// The table, one row per claimed time.
std::span<const ClaimedTimeRule> claimed_time_rules() noexcept;
// The row for a kind's field, or null when the field is not a claimed time.
const ClaimedTimeRule* claimed_time_rule(RecordKind kind, std::string_view field) noexcept;
// The times a device claims whose corrected value and plausibility flags the server keeps: an
// assessment's completed_at and authorised_at, a visit's start_at, a note's contact_at.
bool is_claimed_time(RecordKind kind, std::string_view field) noexcept;

}  // namespace fieldcase::server
