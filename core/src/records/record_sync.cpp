// The record store's side of sync: the outbox, applying the server's answer, purges.
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "fieldcase/field_merge.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/record_store.hpp"
#include "records/remote_record.hpp"

namespace fieldcase {
namespace {

Status set_state(Store& store, std::string_view key, const std::string& value) {
  auto st = store.prepare(
      "INSERT INTO sync_state(key, value) VALUES (?1, ?2) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  if (!st.ok()) return st.status();
  st->bind(1, key).bind(2, value);
  return st->run();
}

}  // namespace

Result<std::vector<sync::Transaction>> RecordStore::outbox(std::size_t max_transactions,
                                                           std::size_t max_ops) {
  // Whole transactions only, in the order they were made.
  auto st = store_.prepare(
      "SELECT tx_id, op_id, op, record_id, kind, case_id, field, value, hlc, base, at "
      "FROM change_log WHERE acked = 0 ORDER BY seq");
  if (!st.ok()) return st.status();
  std::vector<sync::Transaction> out;
  std::size_t ops = 0;
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::string tx_id = st->column_text(0);
    if (out.empty() || out.back().tx_id != tx_id) {
      // Stop only between transactions: a transaction is never split.
      if (out.size() == max_transactions || ops >= max_ops) break;
      out.push_back({tx_id, {}});
    }
    sync::Op op;
    op.op_id = st->column_text(1);
    auto opkind = parse_change_op(st->column_text(2));
    if (!opkind) return Status(Errc::integrity, "unknown operation in the change log");
    op.op = *opkind;
    op.record_id = st->column_text(3);
    auto kind = parse_record_kind(st->column_text(4));
    if (!kind) return Status(Errc::integrity, "unknown record kind in the change log");
    op.kind = *kind;
    op.case_id = st->column_text(5);
    op.field = st->column_text(6);
    if (!st->column_is_null(7)) {
      auto v = value_from_json(st->column_text(7));
      if (!v) return Status(Errc::integrity, "unreadable value in the change log");
      op.value = std::move(*v);
    }
    op.hlc = st->column_text(8);
    op.base = st->column_text(9);
    op.at = st->column_text(10);
    out.back().ops.push_back(std::move(op));
    ++ops;
  }
  // The last transaction may have taken the request over the limit: it waits for the next
  // request, unless it is the only one (then it goes alone).
  while (ops > max_ops && out.size() > 1) {
    ops -= out.back().ops.size();
    out.pop_back();
  }
  return out;
}

namespace detail {

Status RemoteApply::flush(RecordStore& rs, RemoteRecord& open) {
  if (open.record && open.dirty) FC_TRY(rs.write_row(*open.record));
  if (open.record && !open.dirty_clocks.empty()) {
    auto up = rs.store_.prepare(
        "INSERT INTO field_clock(record_id, field, hlc) VALUES (?1, ?2, ?3) "
        "ON CONFLICT(record_id, field) DO UPDATE SET hlc = excluded.hlc");
    if (!up.ok()) return up.status();
    for (const auto& field : open.dirty_clocks) {
      up->bind(1, open.record->id).bind(2, field).bind(3, open.clocks.at(field));
      FC_TRY(up->run());
    }
  }
  open = RemoteRecord{};
  return {};
}

Status RemoteApply::apply(RecordStore& rs, const sync::Change& c, RemoteRecord& open) {
  // The history keeps what the server said, whether or not it changes the record here; an
  // operation already in it (this device's own, or one received before) changes nothing.
  auto log = rs.store_.prepare(
      "INSERT INTO change_log(tx_id, op_id, op, record_id, kind, case_id, field, value, hlc, "
      "author, device, at, origin, acked) "
      "VALUES ('', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, '', ?10, 'server', 1) "
      "ON CONFLICT(op_id) DO NOTHING");
  if (!log.ok()) return log.status();
  log->bind(1, c.op_id.empty() ? new_uuid_v7(rs.clock_) : c.op_id)
      .bind(2, to_string(c.op))
      .bind(3, c.record_id)
      .bind(4, to_string(c.kind))
      .bind(5, c.case_id)
      .bind(6, c.field)
      .bind(8, c.hlc)
      .bind(9, c.author)
      .bind(10, format_iso_datetime(rs.clock_.wall()));
  if (c.op == FieldChange::Op::set) {
    log->bind(7, value_to_json(c.value));
  } else {
    log->bind_null(7);
  }
  FC_TRY(log->run());
  if (rs.store_.changes() == 0) return {};
  if (auto stamp = HlcStamp::parse(c.hlc); stamp.ok()) rs.hlc_.observe(*stamp);

  bool changed = false;
  if (!open.record || open.record->id != c.record_id) {
    FC_TRY(flush(rs, open));
    auto current = rs.get(c.record_id);
    if (!current.ok()) return current.status();
    if (*current) {
      open.record = std::move(**current);
      auto fc = rs.store_.prepare("SELECT field, hlc FROM field_clock WHERE record_id = ?1");
      if (!fc.ok()) return fc.status();
      fc->bind(1, c.record_id);
      for (;;) {
        auto row = fc->step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        open.clocks.emplace(fc->column_text(0), fc->column_text(1));
      }
    } else {
      Record fresh;
      fresh.id = c.record_id;
      fresh.kind = c.kind;
      fresh.case_id = c.case_id;
      fresh.created_at = fresh.updated_at = format_iso_datetime(rs.clock_.wall());
      fresh.created_by = fresh.updated_by = c.author;
      open.record = std::move(fresh);
      changed = true;
    }
  }
  Record& r = *open.record;
  if (c.op == FieldChange::Op::remove) {
    changed = changed || !r.deleted;
    r.deleted = true;
  } else if (c.op == FieldChange::Op::set) {
    auto local = open.clocks.find(c.field);
    // A newer local stamp wins here; the server settles it when the local change arrives.
    const FieldMerge merge = merge_field(
        {local == open.clocks.end() ? std::nullopt
                                    : std::optional<std::string_view>(local->second),
         c.hlc, std::nullopt, false});
    if (merge.outcome == FieldMergeOutcome::take) {
      if (is_null(c.value)) {
        r.fields.erase(c.field);
      } else {
        r.fields[c.field] = c.value;
      }
      open.clocks[c.field] = c.hlc;
      open.dirty_clocks.insert(c.field);
      changed = true;
    }
  }
  if (changed) {
    r.updated_by = c.author;
    open.dirty = true;
  }
  return {};
}

}  // namespace detail

Status RecordStore::apply_sync_response(const sync::SyncResponse& res) {
  auto revert_rejected = [&](const std::string& tx_id) -> Status {
    auto ops = store_.prepare(
        "SELECT op, record_id, field FROM change_log WHERE tx_id = ?1 AND origin = 'local' "
        "ORDER BY seq");
    if (!ops.ok()) return ops.status();
    ops->bind(1, tx_id);
    std::map<std::string, std::pair<std::set<std::string>, std::set<std::string>>> touched;
    for (;;) {
      auto row = ops->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      auto& [kinds, fields] = touched[ops->column_text(1)];
      kinds.insert(ops->column_text(0));
      if (!ops->column_text(2).empty()) fields.insert(ops->column_text(2));
    }
    for (const auto& [record_id, what] : touched) {
      const auto& [kinds, fields] = what;
      auto current = get(record_id);
      if (!current.ok()) return current.status();
      if (!*current) continue;
      Record r = std::move(**current);
      // A structured binding cannot be captured by clang 14: name the id for the lambda.
      const std::string& id = record_id;
      auto run = [&](const char* sql, std::string_view field = {}) -> Status {
        auto st = store_.prepare(sql);
        if (!st.ok()) return st.status();
        st->bind(1, id);
        if (!field.empty()) st->bind(2, field);
        return st->run();
      };
      if (kinds.count("create") != 0) {
        auto known = store_.prepare(
            "SELECT 1 FROM change_log WHERE record_id = ?1 AND origin = 'server' LIMIT 1");
        if (!known.ok()) return known.status();
        known->bind(1, record_id);
        auto row = known->step();
        if (!row.ok()) return row.status();
        if (!*row) {
          // The server never had it: it goes, with its stamps.
          FC_TRY(run("DELETE FROM field_clock WHERE record_id = ?1"));
          FC_TRY(run("DELETE FROM attachment_data WHERE record_id = ?1"));
          FC_TRY(run("DELETE FROM record WHERE id = ?1"));
          continue;
        }
      }
      for (const auto& field : fields) {
        auto best = store_.prepare(
            "SELECT value, hlc FROM change_log WHERE record_id = ?1 AND field = ?2 AND "
            "op = 'set' AND acked <> 2 ORDER BY hlc DESC LIMIT 1");
        if (!best.ok()) return best.status();
        best->bind(1, record_id).bind(2, field);
        auto row = best->step();
        if (!row.ok()) return row.status();
        std::optional<Value> value;
        if (*row && !best->column_is_null(0)) value = value_from_json(best->column_text(0));
        if (value && !is_null(*value)) {
          r.fields[field] = *value;
        } else {
          r.fields.erase(field);
        }
        if (*row) {
          auto up = store_.prepare(
              "INSERT INTO field_clock(record_id, field, hlc) VALUES (?1, ?2, ?3) "
              "ON CONFLICT(record_id, field) DO UPDATE SET hlc = excluded.hlc");
          if (!up.ok()) return up.status();
          up->bind(1, record_id).bind(2, field).bind(3, best->column_text(1));
          FC_TRY(up->run());
        } else {
          FC_TRY(run("DELETE FROM field_clock WHERE record_id = ?1 AND field = ?2", field));
        }
      }
      if (kinds.count("remove") != 0) {
        auto removed = store_.prepare(
            "SELECT 1 FROM change_log WHERE record_id = ?1 AND op = 'remove' AND acked <> 2 "
            "LIMIT 1");
        if (!removed.ok()) return removed.status();
        removed->bind(1, record_id);
        auto row = removed->step();
        if (!row.ok()) return row.status();
        r.deleted = *row;
      }
      FC_TRY(write_row(r));
    }
    return Status{};
  };
  return store_.transaction([&]() -> Status {
    auto ack = store_.prepare(
        "UPDATE change_log SET acked = ?2 WHERE tx_id = ?1 AND origin = 'local'");
    if (!ack.ok()) return ack.status();
    for (const auto& tx : res.accepted) {
      ack->bind(1, tx).bind(2, 1);
      FC_TRY(ack->run());
    }
    auto rej = store_.prepare(
        "INSERT INTO sync_rejection(tx_id, code, reason) VALUES (?1, ?2, ?3) "
        "ON CONFLICT(tx_id) DO UPDATE SET code = excluded.code, reason = excluded.reason");
    if (!rej.ok()) return rej.status();
    for (const auto& r : res.rejected) {
      ack->bind(1, r.tx_id).bind(2, 2);
      FC_TRY(ack->run());
      rej->bind(1, r.tx_id).bind(2, r.code).bind(3, r.reason);
      FC_TRY(rej->run());
    }
    // A refused transaction must not linger in the records: its fields go back to the newest
    // value the device knows from elsewhere (the server's changes, its other transactions), and
    // a record it created that the server never had goes. Without this a refused write (say
    // an assessment moved back to in_progress after another device completed it) stays on the
    // device for good, because its newer stamp beats the server's value. The refusal itself
    // stays in sync_rejection for the worker to see. Repeating it is harmless.
    for (const auto& rejected : res.rejected) FC_TRY(revert_rejected(rejected.tx_id));
    detail::RemoteRecord open;
    for (const auto& c : res.changes) FC_TRY(detail::RemoteApply::apply(*this, c, open));
    FC_TRY(detail::RemoteApply::flush(*this, open));

    auto con = store_.prepare(
        "INSERT INTO conflict(conflict_id, record_id, case_id, field, kept, kept_hlc, lost, "
        "lost_hlc, lost_author) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
        "ON CONFLICT(conflict_id) DO NOTHING");
    auto drop = store_.prepare("DELETE FROM conflict WHERE conflict_id = ?1");
    if (!con.ok()) return con.status();
    if (!drop.ok()) return drop.status();
    for (const auto& c : res.conflicts) {
      if (c.resolved) {
        drop->bind(1, c.conflict_id);
        FC_TRY(drop->run());
        continue;
      }
      con->bind(1, c.conflict_id)
          .bind(2, c.record_id)
          .bind(3, c.case_id)
          .bind(4, c.field)
          .bind(5, value_to_json(c.kept))
          .bind(6, c.kept_hlc)
          .bind(7, value_to_json(c.lost))
          .bind(8, c.lost_hlc)
          .bind(9, c.lost_author);
      FC_TRY(con->run());
    }
    // A purge waits until this device's own changes to the case have been accepted.
    for (const auto& ins : res.instructions) {
      if (ins.type == sync::Instruction::Type::purge_case) {
        FC_TRY(set_state(store_, "purge:" + ins.case_id, ins.reason));
      }
    }
    auto due = store_.prepare(
        "SELECT substr(key, 7) FROM sync_state WHERE key LIKE 'purge:%' AND NOT EXISTS ("
        "SELECT 1 FROM change_log WHERE case_id = substr(key, 7) AND acked = 0)");
    if (!due.ok()) return due.status();
    std::vector<std::string> purge_now;
    for (;;) {
      auto row = due->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      purge_now.push_back(due->column_text(0));
    }
    auto done = store_.prepare("DELETE FROM sync_state WHERE key = ?1");
    if (!done.ok()) return done.status();
    for (const auto& case_id : purge_now) {
      FC_TRY(purge_case(case_id));
      done->bind(1, "purge:" + case_id);
      FC_TRY(done->run());
    }
    FC_TRY(set_state(store_, "cursor", std::to_string(res.cursor)));
    return set_state(store_, "last_sync_at", format_iso_datetime(clock_.wall()));
  });
}

Result<std::int64_t> RecordStore::sync_cursor() {
  auto st = store_.prepare("SELECT value FROM sync_state WHERE key = 'cursor'");
  if (!st.ok()) return st.status();
  auto row = st->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::int64_t{0};
  return static_cast<std::int64_t>(std::stoll(st->column_text(0)));
}

Status RecordStore::resolve_conflict(std::string_view conflict_id, const Value& chosen) {
  auto find = store_.prepare("SELECT record_id, field FROM conflict WHERE conflict_id = ?1");
  if (!find.ok()) return find.status();
  find->bind(1, conflict_id);
  auto row = find->step();
  if (!row.ok()) return row.status();
  if (!*row) return {Errc::not_found, "no open conflict " + std::string(conflict_id)};
  const std::string record_id = find->column_text(0);
  const std::string field = find->column_text(1);
  return write([&](Writer& w) -> Status {
    FC_TRY(w.remember(do_update(w.tx_id_, record_id, {{field, chosen}}, true)));
    auto drop = store_.prepare("DELETE FROM conflict WHERE record_id = ?1 AND field = ?2");
    if (!drop.ok()) return drop.status();
    drop->bind(1, record_id).bind(2, field);
    return drop->run();
  });
}

Result<std::vector<sync::Conflict>> RecordStore::conflicts() {
  auto st = store_.prepare(
      "SELECT conflict_id, record_id, case_id, field, kept, kept_hlc, lost, lost_hlc, "
      "lost_author FROM conflict ORDER BY conflict_id");
  if (!st.ok()) return st.status();
  std::vector<sync::Conflict> out;
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    sync::Conflict c;
    c.conflict_id = st->column_text(0);
    c.record_id = st->column_text(1);
    c.case_id = st->column_text(2);
    c.field = st->column_text(3);
    c.kept = value_from_json(st->column_text(4)).value_or(Value{});
    c.kept_hlc = st->column_text(5);
    c.lost = value_from_json(st->column_text(6)).value_or(Value{});
    c.lost_hlc = st->column_text(7);
    c.lost_author = st->column_text(8);
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<sync::Rejection>> RecordStore::rejections() {
  auto st = store_.prepare("SELECT tx_id, code, reason FROM sync_rejection ORDER BY tx_id");
  if (!st.ok()) return st.status();
  std::vector<sync::Rejection> out;
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back({st->column_text(0), st->column_text(1), st->column_text(2)});
  }
  return out;
}

Status RecordStore::purge_case(std::string_view case_id) {
  return store_.transaction([&]() -> Status {
    // Deleted content is overwritten, not merely unlinked, so it does not linger in free pages.
    FC_TRY(store_.exec("PRAGMA secure_delete=ON"));
    auto run = [&](const char* sql) -> Status {
      auto st = store_.prepare(sql);
      if (!st.ok()) return st.status();
      st->bind(1, case_id);
      return st->run();
    };
    FC_TRY(run("DELETE FROM attachment_data WHERE record_id IN "
               "(SELECT id FROM record WHERE case_id = ?1)"));
    FC_TRY(run("DELETE FROM field_clock WHERE record_id IN "
               "(SELECT id FROM record WHERE case_id = ?1)"));
    FC_TRY(run("DELETE FROM record WHERE case_id = ?1"));
    FC_TRY(run("DELETE FROM change_log WHERE case_id = ?1"));
    FC_TRY(run("DELETE FROM conflict WHERE case_id = ?1"));
    return {};
  });
}

}  // namespace fieldcase
