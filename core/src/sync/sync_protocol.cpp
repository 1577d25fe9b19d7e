#include "fieldcase/sync_protocol.hpp"

#include <nlohmann/json.hpp>
#include <sodium.h>

#include <array>

#include "fieldcase/ids.hpp"
#include "fieldcase/json_bounds.hpp"
#include "fieldcase/record_schema.hpp"

namespace fieldcase::sync {
namespace {

using json = nlohmann::json;

Status bad(const std::string& what) { return {Errc::invalid_argument, what}; }

Result<json> parse(std::string_view text) {
  // Size is the HTTP front's to bound (the limit depends on the endpoint); depth and UTF-8 here.
  FC_TRY(check_json_bounds(text, JsonBounds{text.size(), JsonBounds{}.max_depth}));
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return bad("the document is not valid JSON");
  if (!j.is_object()) return bad("the document must be a JSON object");
  return j;
}

// Typed member access that reports the member's path instead of throwing.
class Reader {
 public:
  Reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  Status string(const char* key, std::string& out, bool required = true) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      return required ? bad(path_ + "." + key + " is required") : Status();
    }
    if (!it->is_string()) return bad(path_ + "." + key + " must be a string");
    out = it->get<std::string>();
    return {};
  }
  Status integer(const char* key, std::int64_t& out, bool required = true) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      return required ? bad(path_ + "." + key + " is required") : Status();
    }
    if (!it->is_number_integer()) return bad(path_ + "." + key + " must be an integer");
    out = it->get<std::int64_t>();
    return {};
  }
  Status boolean(const char* key, bool& out) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return {};
    if (!it->is_boolean()) return bad(path_ + "." + key + " must be true or false");
    out = it->get<bool>();
    return {};
  }
  Status value(const char* key, Value& out) const {
    auto it = j_.find(key);
    if (it == j_.end()) return {};
    auto v = value_from_json(it->dump());
    if (!v) {
      return bad(path_ + "." + key +
                 " must be null, a boolean, an integer, a string or a list of strings");
    }
    out = std::move(*v);
    return {};
  }
  Result<const json*> array(const char* key, std::size_t max) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return static_cast<const json*>(nullptr);
    if (!it->is_array()) return bad(path_ + "." + key + " must be an array");
    if (it->size() > max) return bad(path_ + "." + key + " has too many entries");
    return &*it;
  }

 private:
  const json& j_;
  std::string path_;
};

Result<FieldChange::Op> parse_op(const std::string& s, const std::string& path) {
  auto op = parse_change_op(s);
  if (!op) return bad(path + ".op must be create, set or remove");
  return *op;
}

Result<RecordKind> parse_kind(const std::string& s, const std::string& path) {
  auto k = parse_record_kind(s);
  if (!k) return bad(path + ".kind '" + s + "' is not a record kind");
  return *k;
}

json value_json(const Value& v) { return json::parse(value_to_json(v)); }

Status decode_op(const json& j, const std::string& path, Op& op) {
  if (!j.is_object()) return bad(path + " must be an object");
  Reader r(j, path);
  std::string kind, opname;
  FC_TRY(r.string("op_id", op.op_id));
  FC_TRY(r.string("op", opname));
  FC_TRY(r.string("record_id", op.record_id));
  FC_TRY(r.string("kind", kind));
  FC_TRY(r.string("case_id", op.case_id, false));
  FC_TRY(r.string("field", op.field, false));
  FC_TRY(r.value("value", op.value));
  FC_TRY(r.string("hlc", op.hlc));
  FC_TRY(r.string("base", op.base, false));
  FC_TRY(r.string("at", op.at));
  auto o = parse_op(opname, path);
  if (!o.ok()) return o.status();
  op.op = *o;
  auto k = parse_kind(kind, path);
  if (!k.ok()) return k.status();
  op.kind = *k;
  if (!is_uuid(op.op_id)) return bad(path + ".op_id must be a UUID");
  if (!is_uuid(op.record_id)) return bad(path + ".record_id must be a UUID");
  if (!op.case_id.empty() && !is_uuid(op.case_id)) return bad(path + ".case_id must be a UUID");
  if (op.op == FieldChange::Op::set && op.field.empty()) return bad(path + ".field is required");
  if (op.field.size() > 64) return bad(path + ".field is too long");
  if (!HlcStamp::parse(op.hlc).ok()) return bad(path + ".hlc is not a clock stamp");
  if (!op.base.empty() && !HlcStamp::parse(op.base).ok()) {
    return bad(path + ".base is not a clock stamp");
  }
  if (!is_iso_datetime(op.at)) return bad(path + ".at must be a UTC date and time");
  return {};
}

json instructions_json(const std::vector<Instruction>& list) {
  json instructions = json::array();
  for (const auto& i : list) {
    json o{{"type", i.type == Instruction::Type::wipe ? "wipe" : "purge_case"},
           {"reason", i.reason}};
    if (i.type == Instruction::Type::purge_case) o["case_id"] = i.case_id;
    instructions.push_back(std::move(o));
  }
  return instructions;
}

Status decode_instructions(const Reader& r, const std::string& path,
                           std::vector<Instruction>& out) {
  auto instructions = r.array("instructions", 10000);
  if (!instructions.ok()) return instructions.status();
  if (*instructions == nullptr) return {};
  for (const auto& ij : **instructions) {
    if (!ij.is_object()) return bad(path + ".instructions must hold objects");
    Reader ir(ij, path + ".instructions[]");
    Instruction ins;
    std::string type;
    FC_TRY(ir.string("type", type));
    FC_TRY(ir.string("reason", ins.reason, false));
    if (type == "wipe") {
      ins.type = Instruction::Type::wipe;
    } else if (type == "purge_case") {
      ins.type = Instruction::Type::purge_case;
      FC_TRY(ir.string("case_id", ins.case_id));
    } else {
      return bad(path + ".instructions[].type '" + type + "' is unknown");
    }
    out.push_back(std::move(ins));
  }
  return {};
}

}  // namespace

std::string encode(const SyncRequest& req) {
  json txs = json::array();
  for (const auto& tx : req.transactions) {
    json ops = json::array();
    for (const auto& op : tx.ops) {
      json o{{"op_id", op.op_id},         {"op", to_string(op.op)}, {"record_id", op.record_id},
             {"kind", to_string(op.kind)}, {"case_id", op.case_id}, {"hlc", op.hlc},
             {"at", op.at}};
      if (op.op == FieldChange::Op::set) {
        o["field"] = op.field;
        o["value"] = value_json(op.value);
        if (!op.base.empty()) o["base"] = op.base;
      }
      ops.push_back(std::move(o));
    }
    txs.push_back({{"tx_id", tx.tx_id}, {"ops", std::move(ops)}});
  }
  json j{{"protocol", req.protocol},
         {"device_time", req.device_time},
         {"cursor", req.cursor},
         {"max_changes", req.max_changes},
         {"transactions", std::move(txs)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<SyncRequest> decode_request(std::string_view text) {
  auto parsed = parse(text);
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;
  Reader r(j, "request");
  SyncRequest req;
  std::int64_t protocol = 0, max_changes = 500;
  FC_TRY(r.integer("protocol", protocol));
  if (protocol != kProtocolVersion) {
    return Status(Errc::unsupported, "protocol version " + std::to_string(protocol) +
                                         " is not supported (this server speaks " +
                                         std::to_string(kProtocolVersion) + ")");
  }
  FC_TRY(r.string("device_time", req.device_time));
  if (!is_iso_datetime(req.device_time)) return bad("request.device_time must be a UTC time");
  FC_TRY(r.integer("cursor", req.cursor));
  if (req.cursor < 0) return bad("request.cursor must not be negative");
  FC_TRY(r.integer("max_changes", max_changes, false));
  if (max_changes < 1) return bad("request.max_changes must be positive");
  req.max_changes = static_cast<std::size_t>(
      std::min<std::int64_t>(max_changes, static_cast<std::int64_t>(kMaxChangesPerPage)));
  auto txs = r.array("transactions", kMaxTransactionsPerRequest);
  if (!txs.ok()) return txs.status();
  std::size_t total_ops = 0;
  if (*txs != nullptr) {
    for (std::size_t i = 0; i < (*txs)->size(); ++i) {
      const json& tj = (**txs)[i];
      std::string path = "request.transactions[" + std::to_string(i) + "]";
      if (!tj.is_object()) return bad(path + " must be an object");
      Reader tr(tj, path);
      Transaction tx;
      FC_TRY(tr.string("tx_id", tx.tx_id));
      if (!is_uuid(tx.tx_id)) return bad(path + ".tx_id must be a UUID");
      auto ops = tr.array("ops", kMaxOpsPerRequest);
      if (!ops.ok()) return ops.status();
      if (*ops == nullptr || (*ops)->empty()) return bad(path + ".ops must not be empty");
      total_ops += (*ops)->size();
      if (total_ops > kMaxOpsPerRequest) return bad("request has too many operations");
      for (std::size_t k = 0; k < (*ops)->size(); ++k) {
        Op op;
        FC_TRY(decode_op((**ops)[k], path + ".ops[" + std::to_string(k) + "]", op));
        tx.ops.push_back(std::move(op));
      }
      req.transactions.push_back(std::move(tx));
    }
  }
  return req;
}

std::string encode(const SyncResponse& res) {
  json rejected = json::array();
  for (const auto& r : res.rejected) {
    rejected.push_back({{"tx_id", r.tx_id}, {"code", r.code}, {"reason", r.reason}});
  }
  json changes = json::array();
  for (const auto& c : res.changes) {
    json o{{"seq", c.seq},          {"op_id", c.op_id}, {"op", to_string(c.op)},
           {"record_id", c.record_id},
           {"kind", to_string(c.kind)}, {"case_id", c.case_id}, {"hlc", c.hlc},
           {"author", c.author}};
    if (c.op == FieldChange::Op::set) {
      o["field"] = c.field;
      o["value"] = value_json(c.value);
    }
    changes.push_back(std::move(o));
  }
  json conflicts = json::array();
  for (const auto& c : res.conflicts) {
    conflicts.push_back({{"conflict_id", c.conflict_id},
                         {"record_id", c.record_id},
                         {"case_id", c.case_id},
                         {"field", c.field},
                         {"kept", value_json(c.kept)},
                         {"kept_hlc", c.kept_hlc},
                         {"lost", value_json(c.lost)},
                         {"lost_hlc", c.lost_hlc},
                         {"lost_author", c.lost_author},
                         {"resolved", c.resolved}});
  }
  json j{{"protocol", res.protocol},   {"server_time", res.server_time},
         {"accepted", res.accepted},   {"rejected", std::move(rejected)},
         {"changes", std::move(changes)}, {"conflicts", std::move(conflicts)},
         {"cursor", res.cursor},       {"more", res.more},
         {"instructions", instructions_json(res.instructions)}};
  if (res.offline_limit_days > 0) j["offline_limit_days"] = res.offline_limit_days;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<SyncResponse> decode_response(std::string_view text) {
  auto parsed = parse(text);
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;
  Reader r(j, "response");
  SyncResponse res;
  std::int64_t protocol = 0;
  FC_TRY(r.integer("protocol", protocol));
  res.protocol = static_cast<int>(protocol);
  FC_TRY(r.string("server_time", res.server_time));
  FC_TRY(r.integer("cursor", res.cursor));
  FC_TRY(r.boolean("more", res.more));
  auto accepted = r.array("accepted", kMaxTransactionsPerRequest);
  if (!accepted.ok()) return accepted.status();
  if (*accepted != nullptr) {
    for (const auto& a : **accepted) {
      if (!a.is_string()) return bad("response.accepted must hold strings");
      res.accepted.push_back(a.get<std::string>());
    }
  }
  auto rejected = r.array("rejected", kMaxTransactionsPerRequest);
  if (!rejected.ok()) return rejected.status();
  if (*rejected != nullptr) {
    for (const auto& rj : **rejected) {
      if (!rj.is_object()) return bad("response.rejected must hold objects");
      Reader rr(rj, "response.rejected[]");
      Rejection rej;
      FC_TRY(rr.string("tx_id", rej.tx_id));
      FC_TRY(rr.string("code", rej.code));
      FC_TRY(rr.string("reason", rej.reason, false));
      res.rejected.push_back(std::move(rej));
    }
  }
  auto changes = r.array("changes", kMaxChangesPerPage);
  if (!changes.ok()) return changes.status();
  if (*changes != nullptr) {
    for (const auto& cj : **changes) {
      if (!cj.is_object()) return bad("response.changes must hold objects");
      Reader cr(cj, "response.changes[]");
      Change c;
      std::string kind, op;
      FC_TRY(cr.integer("seq", c.seq));
      FC_TRY(cr.string("op_id", c.op_id, false));
      FC_TRY(cr.string("op", op));
      FC_TRY(cr.string("record_id", c.record_id));
      FC_TRY(cr.string("kind", kind));
      FC_TRY(cr.string("case_id", c.case_id, false));
      FC_TRY(cr.string("field", c.field, false));
      FC_TRY(cr.value("value", c.value));
      FC_TRY(cr.string("hlc", c.hlc));
      FC_TRY(cr.string("author", c.author, false));
      auto o = parse_op(op, "response.changes[]");
      if (!o.ok()) return o.status();
      c.op = *o;
      auto k = parse_kind(kind, "response.changes[]");
      if (!k.ok()) return k.status();
      c.kind = *k;
      res.changes.push_back(std::move(c));
    }
  }
  auto conflicts = r.array("conflicts", 10000);
  if (!conflicts.ok()) return conflicts.status();
  if (*conflicts != nullptr) {
    for (const auto& cj : **conflicts) {
      if (!cj.is_object()) return bad("response.conflicts must hold objects");
      Reader cr(cj, "response.conflicts[]");
      Conflict c;
      FC_TRY(cr.string("conflict_id", c.conflict_id));
      FC_TRY(cr.string("record_id", c.record_id));
      FC_TRY(cr.string("case_id", c.case_id, false));
      FC_TRY(cr.string("field", c.field));
      FC_TRY(cr.value("kept", c.kept));
      FC_TRY(cr.string("kept_hlc", c.kept_hlc, false));
      FC_TRY(cr.value("lost", c.lost));
      FC_TRY(cr.string("lost_hlc", c.lost_hlc, false));
      FC_TRY(cr.string("lost_author", c.lost_author, false));
      FC_TRY(cr.boolean("resolved", c.resolved));
      res.conflicts.push_back(std::move(c));
    }
  }
  FC_TRY(decode_instructions(r, "response", res.instructions));
  std::int64_t limit = 0;
  FC_TRY(r.integer("offline_limit_days", limit, false));
  if (limit < 0 || limit > 3650) return bad("response.offline_limit_days is out of range");
  res.offline_limit_days = static_cast<int>(limit);
  return res;
}

std::string encode_error(std::string_view code, std::string_view message,
                         const std::vector<Instruction>& instructions) {
  json j{{"error", {{"code", std::string(code)}, {"message", std::string(message)}}}};
  if (!instructions.empty()) j["instructions"] = instructions_json(instructions);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ErrorBody> decode_error(std::string_view text) {
  auto parsed = parse(text);
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;
  auto e = j.find("error");
  if (e == j.end() || !e->is_object()) return bad("error is required");
  ErrorBody body;
  Reader er(*e, "error");
  FC_TRY(er.string("code", body.code));
  FC_TRY(er.string("message", body.message, false));
  Reader r(j, "body");
  FC_TRY(decode_instructions(r, "body", body.instructions));
  return body;
}

std::string wipe_proof(std::string_view device_token) {
  std::array<unsigned char, crypto_generichash_BYTES> digest{};
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(device_token.data()),
                     device_token.size(), nullptr, 0);
  std::string hex(digest.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  hex.pop_back();
  sodium_memzero(digest.data(), digest.size());
  return hex;
}

bool looks_like_wipe_proof(std::string_view text) noexcept {
  if (text.size() != 2 * crypto_generichash_BYTES) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace fieldcase::sync
