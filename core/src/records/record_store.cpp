#include "fieldcase/record_store.hpp"

#include <sodium.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fieldcase/encoding.hpp"
#include "fieldcase/record_schema.hpp"

namespace fieldcase {
namespace {

using json = nlohmann::json;

Status create_schema_v1(Store& s) {
  return s.exec(R"sql(
    CREATE TABLE record(
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      case_id TEXT NOT NULL DEFAULT '',
      data TEXT NOT NULL,
      created_at TEXT NOT NULL,
      created_by TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      updated_by TEXT NOT NULL,
      deleted INTEGER NOT NULL DEFAULT 0,
      key_date TEXT,
      status TEXT,
      subtype TEXT
    ) WITHOUT ROWID;
    CREATE INDEX record_case ON record(case_id, kind);
    CREATE INDEX record_kind ON record(kind, subtype, key_date);
    CREATE TABLE field_clock(
      record_id TEXT NOT NULL,
      field TEXT NOT NULL,
      hlc TEXT NOT NULL,
      PRIMARY KEY(record_id, field)
    ) WITHOUT ROWID;
    CREATE TABLE change_log(
      seq INTEGER PRIMARY KEY,
      tx_id TEXT NOT NULL,
      op_id TEXT NOT NULL UNIQUE,
      op TEXT NOT NULL,
      record_id TEXT NOT NULL,
      kind TEXT NOT NULL,
      case_id TEXT NOT NULL,
      field TEXT NOT NULL DEFAULT '',
      value TEXT,
      hlc TEXT NOT NULL,
      author TEXT NOT NULL,
      device TEXT NOT NULL,
      at TEXT NOT NULL,
      origin TEXT NOT NULL DEFAULT 'local',
      acked INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX change_log_record ON change_log(record_id, seq);
    CREATE INDEX change_log_unacked ON change_log(seq) WHERE acked = 0;
    CREATE TABLE attachment_data(
      record_id TEXT PRIMARY KEY,
      bytes BLOB NOT NULL
    ) WITHOUT ROWID;
  )sql");
}

Status create_schema_v2(Store& s) {
  return s.exec(R"sql(
    ALTER TABLE change_log ADD COLUMN base TEXT;
    CREATE TABLE sync_state(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE conflict(
      conflict_id TEXT PRIMARY KEY,
      record_id TEXT NOT NULL,
      case_id TEXT NOT NULL,
      field TEXT NOT NULL,
      kept TEXT,
      kept_hlc TEXT NOT NULL,
      lost TEXT,
      lost_hlc TEXT NOT NULL,
      lost_author TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX conflict_case ON conflict(case_id);
    CREATE TABLE sync_rejection(
      tx_id TEXT PRIMARY KEY,
      code TEXT NOT NULL,
      reason TEXT NOT NULL
    ) WITHOUT ROWID;
  )sql");
}

// My day reads, per child of the caseload, only this index: which visits (by type, and whether
// the child was seen), assessments (by status) and plans (open or closed) there are, and when.
Status create_schema_v3(Store& s) {
  return s.exec(R"sql(
    DROP INDEX record_case;
    CREATE INDEX record_case ON record(case_id, kind, deleted, subtype, status, key_date);
    UPDATE record SET status = CASE WHEN json_extract(data, '$.child_seen') = 1
                                    THEN 'seen' ELSE 'not_seen' END
     WHERE kind = 'visit';
  )sql");
}

// Acknowledging or reverting a transaction finds its operations by tx_id: without an index
// every acknowledgement scanned the whole history.
Status create_schema_v4(Store& s) {
  return s.exec("CREATE INDEX change_log_local_tx ON change_log(tx_id) WHERE origin = 'local'");
}

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> m{
      {1, "records, field clocks and change log", create_schema_v1},
      {2, "sync state, conflicts and rejections", create_schema_v2},
      {3, "a covering index per case for My day", create_schema_v3},
      {4, "an index of local transactions, for acknowledgements", create_schema_v4}};
  return m;
}

// The record's data column: a JSON object of its non-null fields in name order, written
// directly (no intermediate JSON tree: this runs for every record written).
std::string fields_to_json(const Fields& fields) {
  std::string out = "{";
  for (const auto& [name, value] : fields) {
    if (is_null(value)) continue;
    if (out.size() > 1) out += ',';
    out += value_to_json(Value{name});
    out += ':';
    out += value_to_json(value);
  }
  out += '}';
  return out;
}

Result<Fields> fields_from_json(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status(Errc::integrity, "unreadable record data");
  Fields out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    auto v = value_from_json(it.value().dump());
    if (!v) return Status(Errc::integrity, "unreadable field " + it.key());
    out.emplace(it.key(), std::move(*v));
  }
  return out;
}

// The indexed columns the queries of "My day" and lists use, per kind.
struct IndexColumns {
  std::optional<std::string> key_date, status, subtype;
};

IndexColumns index_columns(const Record& r) {
  IndexColumns c;
  auto t = [&](std::string_view f) -> std::optional<std::string> {
    auto v = text_of(r.fields, f);
    return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
  };
  switch (r.kind) {
    case RecordKind::child:
      c.key_date = t("date_of_birth");
      c.subtype = t("allocated_worker");
      break;
    case RecordKind::assessment:
      c.key_date = t("due_date");
      c.status = t("status");
      c.subtype = t("assessment_kind");
      break;
    case RecordKind::visit:
      c.key_date = t("start_at");
      c.subtype = t("visit_type");
      c.status = bool_of(r.fields, "child_seen").value_or(false) ? "seen" : "not_seen";
      break;
    case RecordKind::case_note:
      c.key_date = t("contact_at");
      c.status = t("status");
      break;
    case RecordKind::lac_episode:
      // Visits run from the current placement's start.
      c.key_date = t("placement_start");
      if (!c.key_date) c.key_date = t("start_date");
      c.status = text_of(r.fields, "end_date") ? "closed" : "open";
      c.subtype = bool_of(r.fields, "placement_until_18").value_or(false) ? "until_18" : "";
      break;
    case RecordKind::cp_plan:
    case RecordKind::cin_plan:
    case RecordKind::s47_enquiry:
      c.key_date = t("start_date");
      c.status = text_of(r.fields, "end_date") ? "closed" : "open";
      break;
    default: break;
  }
  return c;
}

void bind_opt(Statement& st, int idx, const std::optional<std::string>& v) {
  if (v) {
    st.bind(idx, *v);
  } else {
    st.bind_null(idx);
  }
}

Result<Record> read_record(Statement& st) {
  Record r;
  r.id = st.column_text(0);
  auto kind = parse_record_kind(st.column_text(1));
  if (!kind) return Status(Errc::integrity, "unknown record kind in the database");
  r.kind = *kind;
  r.case_id = st.column_text(2);
  auto fields = fields_from_json(st.column_text(3));
  if (!fields.ok()) return fields.status();
  r.fields = std::move(fields.value());
  r.created_at = st.column_text(4);
  r.created_by = st.column_text(5);
  r.updated_at = st.column_text(6);
  r.updated_by = st.column_text(7);
  r.deleted = st.column_int(8) != 0;
  return r;
}

// Every row of a statement selecting kRecordColumns.
Result<std::vector<Record>> read_records(Statement& st) {
  std::vector<Record> out;
  for (;;) {
    auto row = st.step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto r = read_record(st);
    if (!r.ok()) return r.status();
    out.push_back(std::move(r.value()));
  }
  return out;
}

// Callers of the write path may set any field but those fieldcase maintains.
Status check_settable(RecordKind kind, const Fields& fields) {
  const KindSpec& spec = kind_spec(kind);
  for (const auto& [name, value] : fields) {
    const FieldSpec* fs = find_field(spec, name);
    if (fs != nullptr && fs->maintained != Maintained::no) {
      return {Errc::validation, std::string(to_string(kind)) + "." + name +
                                    ": is maintained by fieldcase and cannot be set"};
    }
  }
  return {};
}

constexpr const char* kRecordColumns =
    "id, kind, case_id, data, created_at, created_by, updated_at, updated_by, deleted";

}  // namespace

std::span<const Migration> record_migrations() { return migrations(); }

RecordStore::RecordStore(Store& store, Identity who, const Clock& clock, Timescales timescales)
    : store_(store),
      who_(std::move(who)),
      clock_(clock),
      timescales_(std::move(timescales)),
      hlc_(clock, who_.device_id) {}

Result<std::unique_ptr<RecordStore>> RecordStore::open(Store& store, Identity who,
                                                       const Clock& clock, Timescales timescales) {
  if (who.worker_id.empty() || who.device_id.empty()) {
    return Status(Errc::invalid_argument, "a worker and a device id are required");
  }
  // The worker id is written into reference fields (authorised_by when a manager authorises)
  // and matched against them (allocated_worker for the caseload): it must be a record id, or
  // authorisations would fail validation and no child could ever be allocated to the worker.
  if (!is_uuid(who.worker_id)) {
    return Status(Errc::invalid_argument,
                  "the worker id must be the id of the worker's record (a UUID), not '" +
                      who.worker_id + "'");
  }
  FC_TRY(store.migrate(migrations()));
  std::unique_ptr<RecordStore> rs(new RecordStore(store, std::move(who), clock,
                                                  std::move(timescales)));
  // Never issue a stamp older than one already in the log, whatever the wall clock says now:
  // this device's own stamps are resumed from, the server's observed (within kHlcMaxAhead).
  for (const bool own : {true, false}) {
    auto last = store.prepare(own ? "SELECT max(hlc) FROM change_log WHERE origin = 'local'"
                                  : "SELECT max(hlc) FROM change_log WHERE origin <> 'local'");
    if (!last.ok()) return last.status();
    auto row = last->step();
    if (!row.ok()) return row.status();
    if (!*row || last->column_is_null(0)) continue;
    auto stamp = HlcStamp::parse(last->column_text(0));
    if (!stamp.ok()) continue;
    if (own) {
      rs->hlc_.resume(*stamp);
    } else {
      (void)rs->hlc_.observe(*stamp);
    }
  }
  return rs;
}

Status RecordStore::write(const std::function<Status(Writer&)>& fn) {
  Writer w(*this, new_uuid_v7(clock_));
  return store_.transaction([&]() -> Status {
    Status st = fn(w);
    // A failed operation may have written part of itself; and a visit must never be sent
    // without the notes that failed to go with it. Nothing of the transaction is kept.
    if (st.ok() && !w.failed_.ok()) return w.failed_;
    return st;
  });
}

Result<std::string> RecordStore::create(RecordKind kind, std::string_view case_id, Fields fields) {
  std::string id;
  Status st = write([&](Writer& w) -> Status {
    auto r = w.create(kind, case_id, std::move(fields));
    if (!r.ok()) return r.status();
    id = *r;
    return {};
  });
  if (!st.ok()) return st;
  return id;
}

Status RecordStore::update(std::string_view id, const Fields& changes) {
  return write([&](Writer& w) { return w.update(id, changes); });
}

Status RecordStore::remove(std::string_view id) {
  return write([&](Writer& w) { return w.remove(id); });
}

Status RecordStore::Writer::remember(Status st) {
  if (!st.ok() && failed_.ok()) failed_ = st;
  return st;
}

Result<std::string> RecordStore::Writer::remember(Result<std::string> r) {
  if (!r.ok() && failed_.ok()) failed_ = r.status();
  return r;
}

Result<std::string> RecordStore::Writer::create(RecordKind kind, std::string_view case_id,
                                                Fields fields) {
  if (!failed_.ok()) return failed_;
  if (kind == RecordKind::attachment) {
    return remember(
        Status(Errc::validation,
               "attachment.parent_id: attachments are stored with attach(), with their bytes"));
  }
  FC_TRY(remember(check_settable(kind, fields)));
  return remember(rs_.do_create(tx_id_, kind, case_id, std::move(fields)));
}
Status RecordStore::Writer::update(std::string_view id, const Fields& changes) {
  if (!failed_.ok()) return failed_;
  return remember(rs_.do_update(tx_id_, id, changes));
}
Status RecordStore::Writer::remove(std::string_view id) {
  if (!failed_.ok()) return failed_;
  return remember(rs_.do_remove(tx_id_, id));
}

Result<std::string> RecordStore::Writer::append_correction(std::string_view note_id,
                                                           std::string text) {
  if (!failed_.ok()) return failed_;
  return remember([&]() -> Result<std::string> {
    auto original = rs_.get(note_id);
    if (!original.ok()) return original.status();
    if (!*original || (*original)->deleted || (*original)->kind != RecordKind::case_note) {
      return Status(Errc::not_found, "no case note " + std::string(note_id));
    }
    const Record& note = **original;
    if (text_of(note.fields, "status").value_or("") != "completed") {
      return Status(Errc::validation,
                    "case_note.corrects: only a completed note is corrected by "
                    "appending; edit the draft instead");
    }
    Fields f{{"contact_at", note.fields.at("contact_at")},
             {"text", std::move(text)},
             {"status", std::string("completed")},
             {"corrects", std::string(note_id)}};
    return rs_.do_create(tx_id_, RecordKind::case_note, note.case_id, std::move(f));
  }());
}

Result<std::string> RecordStore::Writer::attach(std::string_view parent_id, std::string filename,
                                                std::string media_type,
                                                std::span<const std::uint8_t> bytes,
                                                std::string caption) {
  if (!failed_.ok()) return failed_;
  return remember([&]() -> Result<std::string> {
    auto parent = rs_.get(parent_id);
    if (!parent.ok()) return parent.status();
    if (!*parent || (*parent)->deleted) {
      return Status(Errc::not_found, "no record " + std::string(parent_id) + " to attach to");
    }
    if (bytes.size() > kMaxAttachmentBytes) {
      return Status(Errc::validation, "attachment.size_bytes: is over the attachment size limit (" +
                                          std::to_string(kMaxAttachmentBytes) + " bytes)");
    }
    std::array<std::uint8_t, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256(digest.data(), bytes.data(), bytes.size());
    Fields f{{"parent_id", std::string(parent_id)},
             {"filename", std::move(filename)},
             {"media_type", std::move(media_type)},
             {"size_bytes", static_cast<std::int64_t>(bytes.size())},
             {"sha256", hex_encode(digest)}};
    if (!caption.empty()) f.emplace("caption", std::move(caption));
    std::string case_id = (*parent)->case_id;
    auto id = rs_.do_create(tx_id_, RecordKind::attachment, case_id, std::move(f));
    if (!id.ok()) return id;
    auto ins = rs_.store_.prepare("INSERT INTO attachment_data(record_id, bytes) VALUES (?1, ?2)");
    if (!ins.ok()) return ins.status();
    ins->bind(1, *id).bind_blob(2, bytes);
    FC_TRY(ins->run());
    return id;
  }());
}

Status RecordStore::derive(Record& r, const Record* before) {
  const std::string now = format_iso_datetime(clock_.wall());
  derive_fields(r, timescales_);
  switch (r.kind) {
    case RecordKind::child:
      break;
    case RecordKind::assessment: {
      auto status = text_of(r.fields, "status").value_or("");
      auto prev = before ? text_of(before->fields, "status").value_or("") : std::string_view{};
      if (status != prev) {
        if (status == kAssessmentCompleted && !text_of(r.fields, "completed_at")) {
          r.fields["completed_at"] = now;
        }
        if (status == kAssessmentAuthorised) {
          if (!text_of(r.fields, "authorised_at")) r.fields["authorised_at"] = now;
          r.fields["authorised_by"] = who_.worker_id;
        }
        if (status == kAssessmentReturned) {
          // Returned for amendment: the next completion is a new one.
          r.fields["completed_at"] = Value{};
        }
      }
      break;
    }
    case RecordKind::visit:
      // When the visit first reached a record is the device's fact, not the worker's claim.
      if (before == nullptr) {
        r.fields["recorded_at"] = now;
      } else {
        auto it = before->fields.find("recorded_at");
        r.fields["recorded_at"] = it != before->fields.end() ? it->second : Value{};
      }
      break;
    case RecordKind::case_note:
      if (text_of(r.fields, "status").value_or("") == "completed" &&
          !text_of(r.fields, "completed_at")) {
        r.fields["completed_at"] = now;
      }
      break;
    default: break;
  }
  // Cleared fields are absent, not stored as null.
  for (auto it = r.fields.begin(); it != r.fields.end();) {
    it = is_null(it->second) ? r.fields.erase(it) : std::next(it);
  }
  return {};
}

Result<std::string> RecordStore::do_create(const std::string& tx, RecordKind kind,
                                           std::string_view case_id, Fields fields) {
  Record r;
  r.id = new_uuid_v7(clock_);
  r.kind = kind;
  r.case_id = kind == RecordKind::child ? r.id : std::string(case_id);
  if (!kind_spec(kind).case_scoped) r.case_id.clear();
  r.fields = std::move(fields);
  r.created_at = r.updated_at = format_iso_datetime(clock_.wall());
  r.created_by = r.updated_by = who_.worker_id;
  FC_TRY(derive(r, nullptr));
  ValidationContext ctx;
  ctx.role = who_.role;
  ctx.now = clock_.wall();
  ctx.writer_id = who_.worker_id;
  FC_TRY(validate_record(r, ctx));
  if (kind_spec(kind).case_scoped && kind != RecordKind::child) {
    auto child = get(r.case_id);
    if (!child.ok()) return child.status();
    if (!*child || (*child)->deleted || (*child)->kind != RecordKind::child) {
      return Status(Errc::validation, std::string(to_string(kind)) +
                                          ".case_id: names no child on this device");
    }
  }
  FC_TRY(save(tx, r, nullptr, false));
  return r.id;
}

Status RecordStore::do_update(const std::string& tx, std::string_view id, const Fields& changes,
                              bool rewrite) {
  auto current = get(id);
  if (!current.ok()) return current.status();
  if (!*current || (*current)->deleted) return {Errc::not_found, "no record " + std::string(id)};
  const Record before = **current;
  Record after = before;
  FC_TRY(check_settable(before.kind, changes));
  for (const auto& [name, value] : changes) after.fields[name] = value;
  after.updated_at = format_iso_datetime(clock_.wall());
  after.updated_by = who_.worker_id;
  FC_TRY(derive(after, &before));
  ValidationContext ctx;
  ctx.role = who_.role;
  ctx.now = clock_.wall();
  ctx.before = &before;
  ctx.writer_id = who_.worker_id;
  FC_TRY(validate_record(after, ctx));
  // Nothing changed: nothing is written, not even who last updated the record and when.
  if (!rewrite && after.fields == before.fields) return {};
  return save(tx, after, &before, false, rewrite ? &changes : nullptr);
}

Status RecordStore::do_remove(const std::string& tx, std::string_view id) {
  auto current = get(id);
  if (!current.ok()) return current.status();
  if (!*current || (*current)->deleted) return {Errc::not_found, "no record " + std::string(id)};
  const Record& r = **current;
  if (r.kind == RecordKind::case_note && text_of(r.fields, "status").value_or("") == "completed") {
    return {Errc::validation, "case_note.status: a completed note cannot be deleted"};
  }
  if (r.kind == RecordKind::assessment &&
      text_of(r.fields, "status").value_or("") == kAssessmentAuthorised) {
    return {Errc::validation, "assessment.status: an authorised assessment cannot be deleted"};
  }
  if (r.kind == RecordKind::assessment &&
      text_of(r.fields, "status").value_or("") == kAssessmentCompleted) {
    return {Errc::validation,
            "assessment.status: a completed assessment cannot be deleted; a manager can return "
            "it for amendment"};
  }
  Record after = r;
  after.deleted = true;
  after.updated_at = format_iso_datetime(clock_.wall());
  after.updated_by = who_.worker_id;
  return save(tx, after, &r, true);
}

Status RecordStore::write_row(const Record& r) {
  const std::string data = fields_to_json(r.fields);
  IndexColumns ix = index_columns(r);
  auto up = store_.prepare(
      "INSERT INTO record(id, kind, case_id, data, created_at, created_by, updated_at, "
      "updated_by, deleted, key_date, status, subtype) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
      "ON CONFLICT(id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at, "
      "updated_by = excluded.updated_by, deleted = excluded.deleted, "
      "key_date = excluded.key_date, status = excluded.status, subtype = excluded.subtype");
  if (!up.ok()) return up.status();
  up->bind(1, r.id)
      .bind(2, to_string(r.kind))
      .bind(3, r.case_id)
      .bind(4, data)
      .bind(5, r.created_at)
      .bind(6, r.created_by)
      .bind(7, r.updated_at)
      .bind(8, r.updated_by)
      .bind(9, r.deleted ? 1 : 0);
  bind_opt(*up, 10, ix.key_date);
  bind_opt(*up, 11, ix.status);
  bind_opt(*up, 12, ix.subtype);
  return up->run();
}

Status RecordStore::save(const std::string& tx, const Record& r, const Record* before,
                         bool removing, const Fields* rewrite) {
  FC_TRY(write_row(r));
  // The stamps of the fields as they are now: each change records the one it replaces, so the
  // server can tell a sequential edit from a concurrent one.
  std::map<std::string, std::string> bases;
  if (before != nullptr) {
    auto fc = store_.prepare("SELECT field, hlc FROM field_clock WHERE record_id = ?1");
    if (!fc.ok()) return fc.status();
    fc->bind(1, r.id);
    for (;;) {
      auto row = fc->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      bases.emplace(fc->column_text(0), fc->column_text(1));
    }
  }
  auto log = store_.prepare(
      "INSERT INTO change_log(tx_id, op_id, op, record_id, kind, case_id, field, value, hlc, "
      "author, device, at, base) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  if (!log.ok()) return log.status();
  auto clock = store_.prepare(
      "INSERT INTO field_clock(record_id, field, hlc) VALUES (?1, ?2, ?3) "
      "ON CONFLICT(record_id, field) DO UPDATE SET hlc = excluded.hlc");
  if (!clock.ok()) return clock.status();
  const std::string at = r.updated_at;
  auto append = [&](FieldChange::Op op, const std::string& field, const Value* value) -> Status {
    const std::string hlc = hlc_.now().to_string();
    log->bind(1, tx)
        .bind(2, new_uuid_v7(clock_))
        .bind(3, to_string(op))
        .bind(4, r.id)
        .bind(5, to_string(r.kind))
        .bind(6, r.case_id)
        .bind(7, field)
        .bind(10, who_.worker_id)
        .bind(11, who_.device_id)
        .bind(12, at)
        .bind(9, hlc);
    if (value != nullptr) {
      log->bind(8, value_to_json(*value));
    } else {
      log->bind_null(8);
    }
    auto base = bases.find(field);
    if (op == FieldChange::Op::set && base != bases.end()) {
      log->bind(13, base->second);
    } else {
      log->bind_null(13);
    }
    FC_TRY(log->run());
    if (op == FieldChange::Op::set) {
      clock->bind(1, r.id).bind(2, field).bind(3, hlc);
      FC_TRY(clock->run());
    }
    return {};
  };

  if (removing) return append(FieldChange::Op::remove, "", nullptr);
  if (before == nullptr) FC_TRY(append(FieldChange::Op::create, "", nullptr));
  static const Value kNull{};
  for (const auto& [name, value] : r.fields) {
    if (before != nullptr) {
      auto it = before->fields.find(name);
      if (it != before->fields.end() && it->second == value &&
          (rewrite == nullptr || !rewrite->contains(name))) {
        continue;
      }
    }
    FC_TRY(append(FieldChange::Op::set, name, &value));
  }
  if (before != nullptr) {
    for (const auto& [name, value] : before->fields) {
      if (!r.fields.contains(name)) FC_TRY(append(FieldChange::Op::set, name, &kNull));
    }
  }
  return {};
}

Result<std::optional<Record>> RecordStore::get(std::string_view id) {
  auto st = store_.prepare(std::string("SELECT ") + kRecordColumns + " FROM record WHERE id = ?1");
  if (!st.ok()) return st.status();
  st->bind(1, id);
  auto row = st->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Record>();
  auto r = read_record(*st);
  if (!r.ok()) return r.status();
  return std::optional<Record>(std::move(r.value()));
}

Result<std::vector<Record>> RecordStore::list(RecordKind kind, std::string_view case_id) {
  std::string sql = std::string("SELECT ") + kRecordColumns +
                    " FROM record WHERE kind = ?1 AND deleted = 0";
  if (!case_id.empty()) sql += " AND case_id = ?2";
  sql += " ORDER BY id";
  auto st = store_.prepare(sql);
  if (!st.ok()) return st.status();
  st->bind(1, to_string(kind));
  if (!case_id.empty()) st->bind(2, case_id);
  return read_records(*st);
}

Result<std::vector<Record>> RecordStore::caseload() {
  auto st = store_.prepare(std::string("SELECT ") + kRecordColumns +
                           " FROM record WHERE kind = 'child' AND subtype = ?1 AND deleted = 0 "
                           "ORDER BY id");
  if (!st.ok()) return st.status();
  st->bind(1, who_.worker_id);
  return read_records(*st);
}

Result<std::vector<std::uint8_t>> RecordStore::attachment_bytes(std::string_view id) {
  auto st = store_.prepare("SELECT bytes FROM attachment_data WHERE record_id = ?1");
  if (!st.ok()) return st.status();
  st->bind(1, id);
  auto row = st->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(Errc::not_found, "no attachment " + std::string(id));
  return st->column_blob(0);
}

namespace {

Result<std::vector<FieldChange>> read_changes(Statement& st) {
  std::vector<FieldChange> out;
  for (;;) {
    auto row = st.step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    FieldChange c;
    c.seq = st.column_int(0);
    c.tx_id = st.column_text(1);
    c.op_id = st.column_text(2);
    auto op = parse_change_op(st.column_text(3));
    if (!op) return Status(Errc::integrity, "unknown operation in the change log");
    c.op = *op;
    c.record_id = st.column_text(4);
    auto kind = parse_record_kind(st.column_text(5));
    if (!kind) return Status(Errc::integrity, "unknown record kind in the change log");
    c.kind = *kind;
    c.case_id = st.column_text(6);
    c.field = st.column_text(7);
    if (!st.column_is_null(8)) {
      auto v = value_from_json(st.column_text(8));
      if (!v) return Status(Errc::integrity, "unreadable value in the change log");
      c.value = std::move(*v);
    }
    c.hlc = st.column_text(9);
    c.author = st.column_text(10);
    c.device = st.column_text(11);
    c.at = st.column_text(12);
    out.push_back(std::move(c));
  }
  return out;
}

constexpr const char* kChangeColumns =
    "seq, tx_id, op_id, op, record_id, kind, case_id, field, value, hlc, author, device, at";

}  // namespace

Result<std::vector<FieldChange>> RecordStore::history(std::string_view record_id) {
  auto st = store_.prepare(std::string("SELECT ") + kChangeColumns +
                           " FROM change_log WHERE record_id = ?1 ORDER BY hlc, seq");
  if (!st.ok()) return st.status();
  st->bind(1, record_id);
  return read_changes(*st);
}

Result<std::vector<FieldChange>> RecordStore::unsent_changes(std::size_t limit) {
  auto st = store_.prepare(std::string("SELECT ") + kChangeColumns +
                           " FROM change_log WHERE acked = 0 ORDER BY seq LIMIT ?1");
  if (!st.ok()) return st.status();
  st->bind(1, static_cast<std::int64_t>(limit));
  return read_changes(*st);
}

Result<std::int64_t> RecordStore::pending_transactions() {
  auto st = store_.prepare("SELECT count(DISTINCT tx_id) FROM change_log WHERE acked = 0");
  if (!st.ok()) return st.status();
  auto row = st->step();
  if (!row.ok()) return row.status();
  return st->column_int(0);
}

}  // namespace fieldcase
