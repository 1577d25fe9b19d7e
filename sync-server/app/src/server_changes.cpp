#include "server_changes.hpp"

#include "fieldcase/record_schema.hpp"

namespace fieldcase::server::detail {

std::string server_stamp(HybridClock& hlc, std::string_view current) {
  if (!current.empty()) {
    if (auto parsed = HlcStamp::parse(current); parsed.ok()) hlc.observe(*parsed);
  }
  return hlc.now().to_string();
}

Result<std::vector<ServerFieldChange>> allocation_fixups(ServerStore& store, HybridClock& hlc,
                                                         const StoredRecord& child) {
  std::vector<ServerFieldChange> out;
  if (child.kind != RecordKind::child || child.deleted) return out;
  auto allocation = store.find_allocation(child.case_id);
  if (!allocation.ok()) return allocation.status();
  if (!*allocation) return out;
  auto worker = store.find_worker((*allocation)->worker_id);
  if (!worker.ok()) return worker.status();
  if (!*worker) return Status(Errc::integrity, "an allocation names an unknown worker");
  const Value want_worker = (*allocation)->worker_id;
  const Value want_team = (*worker)->team_id.empty() ? Value{} : Value{(*worker)->team_id};
  for (const auto& [field, want] : {std::pair<std::string, Value>{"allocated_worker", want_worker},
                                    std::pair<std::string, Value>{"allocated_team", want_team}}) {
    auto it = child.fields.find(field);
    const bool present = it != child.fields.end();
    if (present && it->second.value == want) continue;
    if (!present && is_null(want)) continue;
    out.push_back({field, FieldState{want, server_stamp(hlc, present ? it->second.hlc : ""),
                                     std::string(kServerAuthor)}});
  }
  return out;
}

std::vector<ServerFieldChange> derived_fixups(HybridClock& hlc, const StoredRecord& record,
                                              const Timescales& timescales) {
  std::vector<ServerFieldChange> out;
  if (record.deleted) return out;
  Record derived = record.to_record();
  derive_fields(derived, timescales);
  for (const FieldSpec& spec : kind_spec(record.kind).fields) {
    if (spec.maintained != Maintained::derived) continue;
    const std::string field(spec.name);
    auto want = derived.fields.find(field);
    auto have = record.fields.find(field);
    const Value want_value = want != derived.fields.end() ? want->second : Value{};
    const bool present = have != record.fields.end() && !is_null(have->second.value);
    if (present ? have->second.value == want_value : is_null(want_value)) continue;
    out.push_back({field, FieldState{want_value,
                                     server_stamp(hlc, have != record.fields.end()
                                                           ? have->second.hlc
                                                           : std::string_view()),
                                     std::string(kServerAuthor)}});
  }
  return out;
}

Status apply_server_changes(ServerStore& store, StoredRecord& record,
                            const std::vector<ServerFieldChange>& changes, std::string_view now) {
  if (changes.empty()) return {};
  auto first = store.reserve_seqs(static_cast<std::int64_t>(changes.size()));
  if (!first.ok()) return first.status();
  std::int64_t seq = *first;
  for (const auto& c : changes) {
    record.fields[c.field] = c.state;
    FC_TRY(store.put_field(record.id, c.field, c.state));
    LogEntry e;
    e.seq = seq++;
    e.op = FieldChange::Op::set;
    e.record_id = record.id;
    e.kind = record.kind;
    e.case_id = record.case_id;
    e.field = c.field;
    e.value = c.state.value;
    e.hlc = c.state.hlc;
    e.author = c.state.author;
    e.at = std::string(now);
    e.received_at = std::string(now);
    FC_TRY(store.append_log(e));
  }
  record.updated_at = std::string(now);
  record.updated_by = std::string(kServerAuthor);
  return store.put_record(record);
}

Status append_case_snapshot(ServerStore& store, std::string_view case_id, std::string_view now) {
  auto records = store.case_records(case_id);
  if (!records.ok()) return records.status();
  std::vector<LogEntry> entries;
  for (const auto& r : *records) {
    if (r.deleted) continue;
    LogEntry create;
    create.op = FieldChange::Op::create;
    create.record_id = r.id;
    create.kind = r.kind;
    create.case_id = r.case_id;
    create.hlc = r.created_hlc;
    create.author = r.created_by;
    create.at = r.created_at;
    create.received_at = std::string(now);
    entries.push_back(create);
    for (const auto& [name, state] : r.fields) {
      if (is_null(state.value)) continue;
      LogEntry set = create;
      set.op = FieldChange::Op::set;
      set.field = name;
      set.value = state.value;
      set.hlc = state.hlc;
      set.author = state.author;
      set.at = std::string(now);
      entries.push_back(std::move(set));
    }
  }
  if (entries.empty()) return {};
  auto first = store.reserve_seqs(static_cast<std::int64_t>(entries.size()));
  if (!first.ok()) return first.status();
  std::int64_t seq = *first;
  for (auto& e : entries) {
    e.seq = seq++;
    FC_TRY(store.append_log(e));
  }
  return {};
}

}  // namespace fieldcase::server::detail
