// Records, My day, history, conflicts and the operations of fc_device_write as JSON text.
#include <map>
#include <nlohmann/json.hpp>

#include "capi_internal.hpp"

namespace fieldcase::capi {

namespace {

using json = nlohmann::json;

json value_json(const Value& v) {
  if (is_null(v)) return nullptr;
  if (auto b = std::get_if<bool>(&v)) return *b;
  if (auto n = std::get_if<std::int64_t>(&v)) return *n;
  if (auto s = std::get_if<std::string>(&v)) return *s;
  return std::get<CodeList>(v);
}

Value value_of(const json& j, const std::string& where) {
  switch (j.type()) {
    case json::value_t::null:
      return Value{};
    case json::value_t::boolean:
      return j.get<bool>();
    case json::value_t::number_integer:
      return j.get<std::int64_t>();
    case json::value_t::number_unsigned: {
      const auto n = j.get<std::uint64_t>();
      if (n > static_cast<std::uint64_t>(INT64_MAX)) break;
      return static_cast<std::int64_t>(n);
    }
    case json::value_t::string:
      return j.get<std::string>();
    case json::value_t::array: {
      CodeList codes;
      for (const auto& e : j) {
        if (!e.is_string()) {
          throw ApiFailure(FC_API_BAD_JSON, where + ": a list holds only code strings");
        }
        codes.push_back(e.get<std::string>());
      }
      return codes;
    }
    default:
      break;
  }
  throw ApiFailure(FC_API_BAD_JSON,
                   where + ": a value is null, a boolean, an integer, a string or a list of codes");
}

json parse(std::string_view text, const char* what) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw ApiFailure(FC_API_BAD_JSON, std::string(what) + ": not valid JSON");
  return j;
}

Fields fields_of(const json& j, const std::string& what) {
  if (!j.is_object()) throw ApiFailure(FC_API_BAD_JSON, what + ": expected a JSON object");
  Fields fields;
  for (auto it = j.begin(); it != j.end(); ++it) {
    fields.emplace(it.key(), value_of(it.value(), what + "." + it.key()));
  }
  return fields;
}

json record_json(const Record& r) {
  json fields = json::object();
  for (const auto& [name, value] : r.fields) fields[name] = value_json(value);
  return {{"id", r.id},
          {"kind", std::string(to_string(r.kind))},
          {"case_id", r.case_id.empty() ? json(nullptr) : json(r.case_id)},
          {"fields", std::move(fields)},
          {"created_at", r.created_at},
          {"created_by", r.created_by},
          {"updated_at", r.updated_at},
          {"updated_by", r.updated_by},
          {"deleted", r.deleted}};
}

std::string_view what_name(DueItem::What what) {
  switch (what) {
    case DueItem::What::assessment:
      return "assessment";
    case DueItem::What::cp_visit:
      return "cp_visit";
    case DueItem::What::lac_visit:
      return "lac_visit";
  }
  return "unknown";
}

json due_json(const std::vector<DueItem>& items) {
  json out = json::array();
  for (const DueItem& i : items) {
    out.push_back({{"what", std::string(what_name(i.what))},
                   {"record_id", i.record_id},
                   {"case_id", i.case_id},
                   {"child_name", i.child_name},
                   {"label", i.label},
                   {"due", i.due.to_string()},
                   {"working_days_left", i.working_days_left}});
  }
  return out;
}

std::string member_text(const json& op, const char* name, const std::string& where) {
  auto it = op.find(name);
  if (it == op.end() || !it->is_string()) {
    throw ApiFailure(FC_API_BAD_JSON, where + ": \"" + name + "\" must be a string");
  }
  return it->get<std::string>();
}

}  // namespace

std::string record_to_json(const Record& record) { return record_json(record).dump(); }

std::string records_to_json(const std::vector<Record>& records) {
  json out = json::array();
  for (const Record& r : records) out.push_back(record_json(r));
  return out.dump();
}

Fields fields_from_json(std::string_view text, const char* what) {
  return fields_of(parse(text, what), what);
}

std::string my_day_to_json(const MyDay& day) {
  return json{{"today", day.today.to_string()},
              {"overdue", due_json(day.overdue)},
              {"due_today", due_json(day.due_today)},
              {"due_this_week", due_json(day.due_this_week)},
              {"changes_waiting", day.changes_waiting}}
      .dump();
}

std::string history_to_json(const std::vector<FieldChange>& history) {
  json out = json::array();
  for (const FieldChange& c : history) {
    out.push_back({{"op", std::string(to_string(c.op))},
                   {"field", c.field.empty() ? json(nullptr) : json(c.field)},
                   {"value", value_json(c.value)},
                   {"hlc", c.hlc},
                   {"author", c.author},
                   {"device", c.device},
                   {"at", c.at}});
  }
  return out.dump();
}

std::string conflicts_to_json(const std::vector<sync::Conflict>& conflicts) {
  json out = json::array();
  for (const auto& c : conflicts) {
    out.push_back({{"conflict_id", c.conflict_id},
                   {"record_id", c.record_id},
                   {"case_id", c.case_id},
                   {"field", c.field},
                   {"kept", value_json(c.kept)},
                   {"lost", value_json(c.lost)},
                   {"lost_author", c.lost_author}});
  }
  return out.dump();
}

std::string rejections_to_json(const std::vector<sync::Rejection>& rejections) {
  json out = json::array();
  for (const auto& r : rejections) {
    out.push_back({{"tx_id", r.tx_id}, {"code", r.code}, {"reason", r.reason}});
  }
  return out.dump();
}

Result<std::string> write_operations(RecordStore& records, std::string_view ops_json) {
  const json ops = parse(ops_json, "ops_json");
  if (!ops.is_array() || ops.empty()) {
    throw ApiFailure(FC_API_BAD_JSON, "ops_json: expected a non-empty array of operations");
  }
  // Check the shape of everything before writing anything.
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const std::string where = "ops_json[" + std::to_string(i) + "]";
    if (!ops[i].is_object()) throw ApiFailure(FC_API_BAD_JSON, where + ": expected an object");
    const std::string op = member_text(ops[i], "op", where);
    if (op == "create") {
      member_text(ops[i], "kind", where);
      fields_of(ops[i].value("fields", json::object()), where + ".fields");
      if (ops[i].contains("links") && !ops[i]["links"].is_object()) {
        throw ApiFailure(FC_API_BAD_JSON, where + ": \"links\" must be an object");
      }
    } else if (op == "update") {
      member_text(ops[i], "id", where);
      fields_of(ops[i].value("fields", json::object()), where + ".fields");
    } else if (op == "delete") {
      member_text(ops[i], "id", where);
    } else if (op == "correct") {
      member_text(ops[i], "id", where);
      member_text(ops[i], "text", where);
    } else {
      throw ApiFailure(FC_API_BAD_JSON, where + ": unknown op '" + op + "'");
    }
  }
  json ids = json::array();
  std::map<std::string, std::string, std::less<>> refs;
  Status written = records.write([&](RecordStore::Writer& w) -> Status {
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const json& o = ops[i];
      const std::string where = "ops_json[" + std::to_string(i) + "]";
      const std::string op = o["op"].get<std::string>();
      if (op == "create") {
        auto kind = parse_record_kind(o["kind"].get<std::string>());
        if (!kind) return {Errc::invalid_argument, where + ": unknown record kind"};
        Fields fields = fields_of(o.value("fields", json::object()), where + ".fields");
        const json links = o.value("links", json::object());
        for (const auto& [field, ref] : links.items()) {
          auto it = ref.is_string() ? refs.find(ref.get<std::string>()) : refs.end();
          if (it == refs.end()) {
            return {Errc::invalid_argument, where + ": link " + field + " names no earlier ref"};
          }
          fields[field] = it->second;
        }
        std::string case_id;
        if (auto c = o.find("case_id"); c != o.end() && c->is_string()) {
          case_id = c->get<std::string>();
        } else if (auto cr = o.find("case_ref"); cr != o.end() && cr->is_string()) {
          auto it = refs.find(cr->get<std::string>());
          if (it == refs.end()) return {Errc::invalid_argument, where + ": case_ref names no ref"};
          case_id = it->second;
        }
        auto id = w.create(*kind, case_id, std::move(fields));
        if (!id.ok()) return id.status();
        if (auto r = o.find("ref"); r != o.end() && r->is_string())
          refs[r->get<std::string>()] = *id;
        ids.push_back(*id);
      } else if (op == "update") {
        FC_TRY(w.update(o["id"].get<std::string>(),
                        fields_of(o.value("fields", json::object()), where + ".fields")));
        ids.push_back(nullptr);
      } else if (op == "delete") {
        FC_TRY(w.remove(o["id"].get<std::string>()));
        ids.push_back(nullptr);
      } else {
        auto id = w.append_correction(o["id"].get<std::string>(), o["text"].get<std::string>());
        if (!id.ok()) return id.status();
        ids.push_back(*id);
      }
    }
    return {};
  });
  if (!written.ok()) return written;
  return ids.dump();
}

}  // namespace fieldcase::capi
