// The declaration of every record kind and the rules a write must satisfy.
//
// One table of field specifications per kind (type, required, code list, size limit) plus the
// rules across fields (date order, the assessment status machine, immutable completed notes).
// validate_record() is the single check used by the device's write path and by the server, so
// both refuse exactly the same writes. A refusal is Errc::validation with a message of the form
// "<kind>.<field>: <rule>" and nothing is written. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <span>
#include <string_view>

#include "fieldcase/record.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase {

class Timescales;

enum class FieldType : std::uint8_t {
  text,       // one line, up to max_bytes
  long_text,  // free text (observations, notes), up to max_bytes
  date,       // "YYYY-MM-DD"
  datetime,   // "YYYY-MM-DDTHH:MM:SS[.mmm]Z"
  boolean,
  integer,
  code,       // one value of a code list
  codes,      // a list of distinct values of a code list
  ref,        // the id (UUID) of another record
};

// How a field the write path keeps is kept: the one declaration the device's write path and
// the server both follow (docs/sync-protocol.md, "Maintained fields").
enum class Maintained : std::uint8_t {
  no,           // set by the worker
  derived,      // a function of the record's other fields (derive_fields()): the server
                // derives it again from what it stores and keeps its own value
  at_creation,  // stamped by the device when it creates the record, from what only the device
                // has (its clock, an attachment's bytes), then never changed: the server takes
                // it with the record's creation and refuses any later change
  by_writer,    // names the worker whose change sets it (an assessment's authorised_by):
                // validate_record() holds it to ValidationContext::writer_id on both sides
};

struct FieldSpec {
  std::string_view name;
  FieldType type;
  bool required = false;
  std::span<const std::string_view> allowed = {};  // code lists
  std::size_t max_bytes = 0;                       // 0: the type's default
  // Kept by the device's write path (derived, or stamped from what it stores), never set by a
  // caller.
  Maintained maintained = Maintained::no;
};

struct KindSpec {
  RecordKind kind;
  bool case_scoped;  // belongs to a child's case
  std::span<const FieldSpec> fields;
};

const KindSpec& kind_spec(RecordKind kind);
const FieldSpec* find_field(const KindSpec& spec, std::string_view name);

// Assessment statuses, in the order work normally moves through them.
inline constexpr std::string_view kAssessmentDraft = "draft";
inline constexpr std::string_view kAssessmentInProgress = "in_progress";
inline constexpr std::string_view kAssessmentCompleted = "completed";
inline constexpr std::string_view kAssessmentAuthorised = "authorised";
inline constexpr std::string_view kAssessmentReturned = "returned";

// Whether `role` may move an assessment from `from` to `to` (equal statuses are no move).
Status check_assessment_transition(std::string_view from, std::string_view to, Role role);

struct ValidationContext {
  Role role = Role::social_worker;
  std::chrono::system_clock::time_point now;
  const Record* before = nullptr;  // the stored record for an update; null on create
  // How far in the future a device may date a contact, visit or note (clock skew).
  std::chrono::seconds future_tolerance{std::chrono::minutes(10)};
  // The worker making the change, when known: an authorisation must name them (authorised_by
  // is who authorised, never a value a device chooses).
  std::string_view writer_id;
};

Status validate_record(const Record& record, const ValidationContext& context);

// Sets every Maintained::derived field of `record` from its other fields (an assessment's
// due_date from its kind and start_date, an s47 enquiry's initial_conference_target from its
// strategy discussion), removing those with nothing to derive from. The device's write path and
// the server call this same function, so both hold the same values.
void derive_fields(Record& record, const Timescales& timescales);

// Strict checks used by validation, exposed for reuse.
bool is_valid_utf8(std::string_view text) noexcept;
bool is_iso_datetime(std::string_view text) noexcept;
// Seconds since the Unix epoch of an ISO datetime accepted by is_iso_datetime.
std::optional<std::int64_t> parse_iso_datetime(std::string_view text) noexcept;
std::string format_iso_datetime(std::chrono::system_clock::time_point t);

// Attachment limits.
inline constexpr std::size_t kMaxAttachmentBytes = 10u << 20;
inline constexpr std::size_t kMaxAttachmentNameBytes = 255;

// Whether `name` is safe as an attachment's file name wherever it is used (stored, shown,
// exported, or written to a file system by a host): a plain name of 1 to 255 bytes of valid
// UTF-8, with no path separator ('/' or '\\'), no drive or stream separator (':'), no control
// characters (C0, DEL, C1), not starting with '.' (so neither "." nor ".." nor a hidden file) and
// not ending with a space or '.'. Errc::validation "attachment.filename: <rule>" otherwise.
Status check_attachment_name(std::string_view name);

}  // namespace fieldcase
