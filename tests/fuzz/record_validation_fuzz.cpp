// libFuzzer target: validate_record(), the one check the device and the server apply to every
// record. The input is a JSON object {"kind": ..., "role": ..., "fields": {...}, "before":
// {...}}; values go through value_from_json() as they do in sync. Validation must never crash
// or throw, whatever the fields hold.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fieldcase/record.hpp"
#include "fieldcase/record_schema.hpp"

using namespace fieldcase;
using json = nlohmann::json;

namespace {

Fields fields_of(const json& object) {
  Fields fields;
  if (!object.is_object()) return fields;
  for (const auto& [name, value] : object.items()) {
    if (auto v = value_from_json(value.dump(-1, ' ', false, json::error_handler_t::replace))) {
      fields[name] = std::move(*v);
    }
  }
  return fields;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!is_valid_utf8(text)) return 0;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return 0;
  auto kind_it = j.find("kind");
  if (kind_it == j.end() || !kind_it->is_string()) return 0;
  auto kind = parse_record_kind(kind_it->get<std::string>());
  if (!kind) return 0;
  Record record;
  record.id = "0190a5d0-ac96-774b-bcce-b302099a8057";
  record.kind = *kind;
  record.case_id = "0190a5d0-ac96-774b-bcce-b302099a8058";
  record.fields = fields_of(j.value("fields", json::object()));

  ValidationContext context;
  context.now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  if (auto role = j.find("role"); role != j.end() && role->is_string()) {
    if (auto r = parse_role(role->get<std::string>())) context.role = *r;
  }
  (void)validate_record(record, context);
  if (auto b = j.find("before"); b != j.end()) {
    Record before = record;
    before.fields = fields_of(*b);
    context.before = &before;
    (void)validate_record(record, context);
  }
  return 0;
}
