// The field record model shared by the device, the sync protocol and the server.
//
// Every record is a kind plus named fields. Field values are small and typed: text (dates and
// times as ISO-8601 text), integers, booleans, lists of codes, or null (cleared). Which fields a
// kind has, which are required, their code lists and limits, and the rules across fields are
// declared once in record_schema.hpp and enforced by validate_record() wherever a record is
// written. Value types only; thread-safe to copy.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fieldcase {

using CodeList = std::vector<std::string>;
using Value = std::variant<std::monostate, bool, std::int64_t, std::string, CodeList>;
using Fields = std::map<std::string, Value, std::less<>>;

inline bool is_null(const Value& v) { return std::holds_alternative<std::monostate>(v); }
// The text of a text value, or nullopt.
std::optional<std::string_view> text_of(const Fields& fields, std::string_view name);
std::optional<std::int64_t> int_of(const Fields& fields, std::string_view name);
std::optional<bool> bool_of(const Fields& fields, std::string_view name);

enum class RecordKind : std::uint8_t {
  authority,
  area,
  team,
  worker,
  child,
  contact,
  referral,
  assessment,
  visit,
  case_note,
  s47_enquiry,
  cp_plan,
  cin_plan,
  lac_episode,
  attachment,
};
inline constexpr int kRecordKindCount = 15;
std::string_view to_string(RecordKind kind) noexcept;
std::optional<RecordKind> parse_record_kind(std::string_view name) noexcept;

enum class Role : std::uint8_t {
  social_worker,
  team_manager,
  area_manager,
  service_lead,
  contact_centre,
  administrator,
};
std::string_view to_string(Role role) noexcept;
std::optional<Role> parse_role(std::string_view name) noexcept;
bool is_manager(Role role) noexcept;

// Who is writing, from which device. Every change is attributed to both.
struct Identity {
  // The id of the worker's record (a UUID): children are allocated to it (allocated_worker)
  // and authorisations name it (authorised_by), both references to a record.
  std::string worker_id;
  std::string device_id;  // any non-empty text
  Role role = Role::social_worker;
};

struct Record {
  std::string id;
  RecordKind kind = RecordKind::child;
  std::string case_id;  // the child the record belongs to; empty for organisation records
  Fields fields;
  std::string created_at;  // UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ"
  std::string created_by;
  std::string updated_at;
  std::string updated_by;
  bool deleted = false;
};

// One field-level operation of the change log.
struct FieldChange {
  enum class Op : std::uint8_t { create, set, remove };
  std::int64_t seq = 0;     // local order
  std::string tx_id;        // the local transaction it belongs to
  std::string op_id;        // unique; the server deduplicates on it
  Op op = Op::set;
  std::string record_id;
  RecordKind kind = RecordKind::child;
  std::string case_id;
  std::string field;        // empty for create/remove
  Value value;
  std::string hlc;
  std::string author;
  std::string device;
  std::string at;           // device wall time of the change
};

std::string_view to_string(FieldChange::Op op) noexcept;  // "create", "set", "remove"
std::optional<FieldChange::Op> parse_change_op(std::string_view text) noexcept;

// Canonical JSON text of a value (for the change log and the wire); and back.
std::string value_to_json(const Value& value);
std::optional<Value> value_from_json(std::string_view json);

}  // namespace fieldcase
