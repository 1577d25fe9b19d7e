#include "fieldcase/record.hpp"

#include <array>
#include <nlohmann/json.hpp>

namespace fieldcase {
namespace {

constexpr std::array<std::string_view, kRecordKindCount> kKindNames{
    "authority",  "area",        "team",    "worker",   "child",
    "contact",    "referral",    "assessment", "visit", "case_note",
    "s47_enquiry", "cp_plan",    "cin_plan", "lac_episode", "attachment"};
constexpr std::array<std::string_view, 6> kRoleNames{
    "social_worker", "team_manager", "area_manager", "service_lead", "contact_centre",
    "administrator"};

}  // namespace

std::optional<std::string_view> text_of(const Fields& fields, std::string_view name) {
  auto it = fields.find(name);
  if (it == fields.end()) return std::nullopt;
  if (auto s = std::get_if<std::string>(&it->second)) return std::string_view(*s);
  return std::nullopt;
}

std::optional<std::int64_t> int_of(const Fields& fields, std::string_view name) {
  auto it = fields.find(name);
  if (it == fields.end()) return std::nullopt;
  if (auto v = std::get_if<std::int64_t>(&it->second)) return *v;
  return std::nullopt;
}

std::optional<bool> bool_of(const Fields& fields, std::string_view name) {
  auto it = fields.find(name);
  if (it == fields.end()) return std::nullopt;
  if (auto v = std::get_if<bool>(&it->second)) return *v;
  return std::nullopt;
}

std::string_view to_string(RecordKind kind) noexcept {
  return kKindNames[static_cast<std::size_t>(kind)];
}

std::optional<RecordKind> parse_record_kind(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) return static_cast<RecordKind>(i);
  }
  return std::nullopt;
}

std::string_view to_string(Role role) noexcept { return kRoleNames[static_cast<std::size_t>(role)]; }

std::optional<Role> parse_role(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kRoleNames.size(); ++i) {
    if (kRoleNames[i] == name) return static_cast<Role>(i);
  }
  return std::nullopt;
}

bool is_manager(Role role) noexcept {
  return role == Role::team_manager || role == Role::area_manager || role == Role::service_lead;
}

std::string_view to_string(FieldChange::Op op) noexcept {
  switch (op) {
    case FieldChange::Op::create: return "create";
    case FieldChange::Op::set: return "set";
    case FieldChange::Op::remove: return "remove";
  }
  return "set";
}

std::optional<FieldChange::Op> parse_change_op(std::string_view text) noexcept {
  if (text == "create") return FieldChange::Op::create;
  if (text == "set") return FieldChange::Op::set;
  if (text == "remove") return FieldChange::Op::remove;
  return std::nullopt;
}

std::string value_to_json(const Value& value) {
  nlohmann::json j;
  std::visit(
      [&](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::monostate>) {
          j = nullptr;
        } else {
          j = v;
        }
      },
      value);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<Value> value_from_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  if (j.is_null()) return Value{};
  if (j.is_boolean()) return Value{j.get<bool>()};
  if (j.is_number_integer()) return Value{j.get<std::int64_t>()};
  if (j.is_string()) return Value{j.get<std::string>()};
  if (j.is_array()) {
    CodeList list;
    for (const auto& e : j) {
      if (!e.is_string()) return std::nullopt;
      list.push_back(e.get<std::string>());
    }
    return Value{std::move(list)};
  }
  return std::nullopt;
}

}  // namespace fieldcase
