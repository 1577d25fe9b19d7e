#include "fieldcase/server/sqlite_server_store.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <sstream>

namespace fieldcase::server {
namespace {

// Leaves a cached statement reset (and so releases its read snapshot) when a call returns.
class Use {
 public:
  explicit Use(Statement* s) : s_(s) {}
  ~Use() { s_->reset(); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  Statement& operator*() const { return *s_; }
  Statement* operator->() const { return s_; }

 private:
  Statement* s_;
};

// Every row the statement gives, each made by `make` from the statement.
template <typename Make>
auto all_rows(Statement& st, Make make) -> Result<std::vector<decltype(make(st))>> {
  std::vector<decltype(make(st))> out;
  for (;;) {
    auto row = st.step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(make(st));
  }
  return out;
}

const char* op_text(FieldChange::Op op) {
  switch (op) {
    case FieldChange::Op::create:
      return "create";
    case FieldChange::Op::set:
      return "set";
    case FieldChange::Op::remove:
      return "remove";
  }
  return "set";
}

Result<FieldChange::Op> op_from_text(const std::string& s) {
  if (s == "create") return FieldChange::Op::create;
  if (s == "set") return FieldChange::Op::set;
  if (s == "remove") return FieldChange::Op::remove;
  return Status(Errc::integrity, "unknown operation '" + s + "' in the server database");
}

Result<RecordKind> kind_from_text(const std::string& s) {
  auto k = parse_record_kind(s);
  if (!k) return Status(Errc::integrity, "unknown record kind '" + s + "' in the server database");
  return *k;
}

Result<Value> value_from_text(const std::string& s) {
  auto v = value_from_json(s);
  if (!v) return Status(Errc::integrity, "unreadable value in the server database");
  return *v;
}

const char* held_text(HeldState s) { return s == HeldState::held ? "held" : "purged"; }

std::string samples_to_text(const std::vector<ClockSample>& samples) {
  std::string out;
  for (const auto& s : samples) {
    if (!out.empty()) out += ';';
    out += std::to_string(s.receipt_ms) + ':' + std::to_string(s.offset_ms);
  }
  return out;
}

std::vector<ClockSample> samples_from_text(const std::string& text) {
  std::vector<ClockSample> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ';')) {
    auto colon = item.find(':');
    if (colon == std::string::npos) continue;
    ClockSample sample;
    auto a = std::from_chars(item.data(), item.data() + colon, sample.receipt_ms);
    auto b = std::from_chars(item.data() + colon + 1, item.data() + item.size(), sample.offset_ms);
    // A malformed sample is dropped; the estimator carries on with the others.
    if (a.ec == std::errc() && b.ec == std::errc()) out.push_back(sample);
  }
  return out;
}

// The cases `viewer` may see, as a subquery with the viewer's id bound to ?1.
std::string scope_sql(Role role) {
  switch (role) {
    case Role::service_lead:
      return "SELECT case_id FROM allocation";
    // Each branch of the UNION can use an index (worker_team, allocation_worker); one WHERE
    // with OR read the whole allocation table at every sync of a manager.
    case Role::team_manager:
      return "SELECT case_id FROM allocation WHERE worker_id = ?1 UNION "
             "SELECT a.case_id FROM worker w JOIN allocation a ON a.worker_id = w.id "
             "WHERE w.team_id = (SELECT team_id FROM worker WHERE id = ?1)";
    case Role::area_manager:
      return "SELECT case_id FROM allocation WHERE worker_id = ?1 UNION "
             "SELECT a.case_id FROM team t JOIN worker w ON w.team_id = t.id "
             "JOIN allocation a ON a.worker_id = w.id WHERE t.area_id = "
             "(SELECT mt.area_id FROM worker m JOIN team mt ON mt.id = m.team_id WHERE m.id = ?1)";
    case Role::administrator:
      // No case content at all (the ?1 stays so every scope binds the same parameters).
      return "SELECT case_id FROM allocation WHERE 0 AND worker_id = ?1";
    case Role::social_worker:
    case Role::contact_centre:
      break;
  }
  return "SELECT case_id FROM allocation WHERE worker_id = ?1";
}

// The record kinds a role may read within its scope, as SQL (empty: every kind).
std::string kind_filter_sql(Role role, const char* kind_column) {
  if (role != Role::contact_centre) return {};
  return std::string(" AND ") + kind_column + " IN ('child', 'contact', 'referral')";
}

constexpr const char* kZeroHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The chained hash of an audit entry: BLAKE2b-256 over the previous hash (32 bytes) and the
// entry's fields, each as an 8-byte little-endian length followed by its bytes, in a fixed
// order. Lower-case hex.
std::string audit_hash(const std::string& prev_hex, const AuditEvent& e) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, crypto_generichash_BYTES);
  std::array<unsigned char, 32> prev{};
  std::size_t prev_len = 0;
  if (sodium_hex2bin(prev.data(), prev.size(), prev_hex.data(), prev_hex.size(), nullptr, &prev_len,
                     nullptr) != 0 ||
      prev_len != prev.size()) {
    prev.fill(0xff);  // an unreadable previous hash never matches a real one
  }
  crypto_generichash_update(&st, prev.data(), prev.size());
  auto add = [&st](std::string_view text) {
    std::array<unsigned char, 8> len{};
    std::uint64_t n = text.size();
    for (std::size_t i = 0; i < len.size(); ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    crypto_generichash_update(&st, len.data(), len.size());
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(text.data()),
                              text.size());
  };
  add(std::to_string(e.seq));
  for (const std::string* f : {&e.id, &e.at, &e.event, &e.outcome, &e.worker_id, &e.device_id,
                               &e.case_id, &e.record_id, &e.tx_id, &e.relation, &e.detail}) {
    add(*f);
  }
  std::array<unsigned char, crypto_generichash_BYTES> digest{};
  crypto_generichash_final(&st, digest.data(), digest.size());
  std::string hex(digest.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  hex.pop_back();
  return hex;
}

constexpr const char* kAuditColumns =
    "seq, id, at, event, outcome, worker_id, device_id, case_id, record_id, tx_id, relation, "
    "detail, prev_hash, hash";

AuditEvent read_audit(const Statement& s) {
  AuditEvent e;
  e.seq = s.column_int(0);
  e.id = s.column_text(1);
  e.at = s.column_text(2);
  e.event = s.column_text(3);
  e.outcome = s.column_text(4);
  e.worker_id = s.column_text(5);
  e.device_id = s.column_text(6);
  e.case_id = s.column_text(7);
  e.record_id = s.column_text(8);
  e.tx_id = s.column_text(9);
  e.relation = s.column_text(10);
  e.detail = s.column_text(11);
  e.prev_hash = s.column_text(12);
  e.hash = s.column_text(13);
  return e;
}

Status insert_audit_row(Statement& ins, const AuditEvent& e) {
  ins.bind(1, e.seq).bind(2, e.id).bind(3, e.at).bind(4, e.event).bind(5, e.outcome);
  ins.bind(6, e.worker_id).bind(7, e.device_id).bind(8, e.case_id).bind(9, e.record_id);
  ins.bind(10, e.tx_id).bind(11, e.relation).bind(12, e.detail).bind(13, e.prev_hash);
  ins.bind(14, e.hash);
  return ins.run();
}

// Version 2: the audit log becomes a hash chain with user, device, record, action, outcome
// and relation; entries written before are chained in their original order.
Status migrate_audit_chain(Store& s) {
  FC_TRY(s.exec(R"sql(
CREATE TABLE audit_chain (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, at TEXT NOT NULL, event TEXT NOT NULL,
  outcome TEXT NOT NULL, worker_id TEXT NOT NULL, device_id TEXT NOT NULL,
  case_id TEXT NOT NULL, record_id TEXT NOT NULL, tx_id TEXT NOT NULL, relation TEXT NOT NULL,
  detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL);
)sql"));
  auto old = s.prepare(
      "SELECT id, at, event, device_id, worker_id, case_id, tx_id, detail FROM audit "
      "ORDER BY at, id");
  if (!old.ok()) return old.status();
  auto ins = s.prepare(std::string("INSERT INTO audit_chain(") + kAuditColumns +
                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  if (!ins.ok()) return ins.status();
  std::string prev = kZeroHash;
  std::int64_t seq = 0;
  for (;;) {
    auto row = old->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    AuditEvent e;
    e.id = old->column_text(0);
    e.at = old->column_text(1);
    e.event = old->column_text(2);
    e.device_id = old->column_text(3);
    e.worker_id = old->column_text(4);
    e.case_id = old->column_text(5);
    e.tx_id = old->column_text(6);
    e.detail = old->column_text(7);
    e.outcome = e.event == "out_of_scope" ? "refused" : "ok";
    e.seq = ++seq;
    e.prev_hash = prev;
    e.hash = audit_hash(prev, e);
    prev = e.hash;
    FC_TRY(insert_audit_row(*ins, e));
  }
  old->reset();
  auto head = s.prepare("INSERT INTO audit_head(id, seq, hash) VALUES (1, ?1, ?2)");
  if (!head.ok()) return head.status();
  head->bind(1, seq).bind(2, prev);
  FC_TRY(head->run());
  return s.exec(R"sql(
DROP TABLE audit;
ALTER TABLE audit_chain RENAME TO audit;
CREATE INDEX audit_event ON audit(event, at);
CREATE INDEX audit_case ON audit(case_id, seq);
CREATE INDEX audit_worker ON audit(worker_id, seq);
ALTER TABLE worker ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE worker ADD COLUMN failed_signins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE worker ADD COLUMN locked_until TEXT NOT NULL DEFAULT '';
ALTER TABLE device ADD COLUMN name TEXT NOT NULL DEFAULT '';
CREATE TABLE enrollment_code (
  id TEXT PRIMARY KEY, lookup TEXT NOT NULL, code_hash TEXT NOT NULL,
  worker_id TEXT NOT NULL REFERENCES worker(id), created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL, used_at TEXT NOT NULL DEFAULT '', device_id TEXT NOT NULL DEFAULT '',
  failed_attempts BIGINT NOT NULL DEFAULT 0);
CREATE INDEX enrollment_code_lookup ON enrollment_code(lookup);
CREATE TABLE web_session (
  id_hash TEXT PRIMARY KEY, worker_id TEXT NOT NULL REFERENCES worker(id),
  created_at TEXT NOT NULL, last_seen_at TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE INDEX web_session_worker ON web_session(worker_id);
)sql");
}

// The schema is written for SQLite; the statements that use it stay portable. A PostgreSQL
// store declares the same tables with BIGINT keys and without the SQLite-only storage hints
// (INTEGER PRIMARY KEY as the row id, WITHOUT ROWID), which only save an index per table here.
constexpr const char* kFigureFactCaseIndex =
    "CREATE INDEX figure_fact_case_indicator ON figure_fact(case_id, indicator)";

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> m{
      {1, "organisation, devices, records, log, outcomes, conflicts, scope, times, audit",
       [](Store& s) {
         return s.exec(R"sql(
CREATE TABLE authority (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, la_code TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE area (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, authority_id TEXT NOT NULL REFERENCES authority(id),
  created_at TEXT NOT NULL);
CREATE TABLE team (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, area_id TEXT NOT NULL REFERENCES area(id),
  created_at TEXT NOT NULL);
CREATE TABLE worker (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, team_id TEXT REFERENCES team(id),
  active INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL);
CREATE INDEX worker_team ON worker(team_id);
CREATE TABLE device (
  id TEXT PRIMARY KEY, worker_id TEXT NOT NULL REFERENCES worker(id),
  token_hash TEXT NOT NULL UNIQUE, status TEXT NOT NULL, created_at TEXT NOT NULL,
  revoked_at TEXT NOT NULL DEFAULT '', last_sync_at TEXT NOT NULL DEFAULT '',
  clock_offset_ms BIGINT, clock_samples TEXT NOT NULL DEFAULT '');
CREATE TABLE server_seq (id INTEGER PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO server_seq(id, value) VALUES (1, 0);
CREATE TABLE allocation (
  case_id TEXT PRIMARY KEY, worker_id TEXT NOT NULL REFERENCES worker(id),
  seq BIGINT NOT NULL, allocated_at TEXT NOT NULL);
CREATE INDEX allocation_worker ON allocation(worker_id);
CREATE TABLE allocation_history (
  seq BIGINT PRIMARY KEY, case_id TEXT NOT NULL, worker_id TEXT NOT NULL,
  previous_worker_id TEXT NOT NULL DEFAULT '', allocated_at TEXT NOT NULL);
CREATE TABLE record (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, case_id TEXT NOT NULL,
  created_at TEXT NOT NULL, created_by TEXT NOT NULL, created_hlc TEXT NOT NULL,
  updated_at TEXT NOT NULL, updated_by TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0, deleted_hlc TEXT NOT NULL DEFAULT '');
CREATE INDEX record_case ON record(case_id);
CREATE TABLE record_field (
  record_id TEXT NOT NULL REFERENCES record(id), name TEXT NOT NULL, value TEXT NOT NULL,
  hlc TEXT NOT NULL, author TEXT NOT NULL, PRIMARY KEY (record_id, name)) WITHOUT ROWID;
CREATE TABLE change_log (
  seq INTEGER PRIMARY KEY, op_id TEXT NOT NULL DEFAULT '', tx_id TEXT NOT NULL DEFAULT '',
  op TEXT NOT NULL, record_id TEXT NOT NULL, kind TEXT NOT NULL, case_id TEXT NOT NULL,
  field TEXT NOT NULL DEFAULT '', value TEXT, hlc TEXT NOT NULL, author TEXT NOT NULL,
  device_id TEXT NOT NULL DEFAULT '', at TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE INDEX change_log_case ON change_log(case_id, seq);
CREATE TABLE applied_op (op_id TEXT PRIMARY KEY, tx_id TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE sync_transaction (
  tx_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, outcome TEXT NOT NULL,
  code TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '', op_count BIGINT NOT NULL,
  device_time TEXT NOT NULL, received_at TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE conflict (
  id TEXT PRIMARY KEY, record_id TEXT NOT NULL, case_id TEXT NOT NULL, field TEXT NOT NULL,
  kept TEXT NOT NULL, kept_hlc TEXT NOT NULL, lost TEXT NOT NULL, lost_hlc TEXT NOT NULL,
  lost_author TEXT NOT NULL, lost_device TEXT NOT NULL, detected_seq BIGINT NOT NULL,
  detected_at TEXT NOT NULL, resolved_seq BIGINT NOT NULL DEFAULT 0,
  resolved_at TEXT NOT NULL DEFAULT '');
CREATE INDEX conflict_case ON conflict(case_id);
CREATE INDEX conflict_field ON conflict(record_id, field);
CREATE TABLE device_case (
  device_id TEXT NOT NULL, case_id TEXT NOT NULL, state TEXT NOT NULL,
  PRIMARY KEY (device_id, case_id)) WITHOUT ROWID;
CREATE TABLE claimed_time (
  record_id TEXT NOT NULL, field TEXT NOT NULL, case_id TEXT NOT NULL, kind TEXT NOT NULL,
  claimed TEXT NOT NULL, corrected TEXT NOT NULL, received_at TEXT NOT NULL,
  offset_ms BIGINT NOT NULL, device_id TEXT NOT NULL, worker_id TEXT NOT NULL,
  tx_id TEXT NOT NULL, after_receipt INTEGER NOT NULL, before_start INTEGER NOT NULL,
  large_offset INTEGER NOT NULL, PRIMARY KEY (record_id, field));
CREATE INDEX claimed_time_case ON claimed_time(case_id);
CREATE TABLE audit (
  id TEXT PRIMARY KEY, at TEXT NOT NULL, event TEXT NOT NULL,
  device_id TEXT NOT NULL DEFAULT '', worker_id TEXT NOT NULL DEFAULT '',
  case_id TEXT NOT NULL DEFAULT '', tx_id TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '');
CREATE INDEX audit_event ON audit(event, at);
)sql");
       }},
      {2, "chained audit log; passwords, enrollment codes, web sessions, device names",
       migrate_audit_chain},
      {3, "figure facts",
       [](Store& s) {
         return s.exec(R"sql(
CREATE TABLE figure_fact (
  indicator TEXT NOT NULL, record_id TEXT NOT NULL, case_id TEXT NOT NULL,
  start_at TEXT NOT NULL, end_at TEXT NOT NULL, end_received_at TEXT NOT NULL,
  detail TEXT NOT NULL, hit INTEGER NOT NULL, flags TEXT NOT NULL,
  PRIMARY KEY (indicator, record_id));
CREATE INDEX figure_fact_case ON figure_fact(case_id);
)sql");
       }},
      {4, "a case's records by kind, and its figure facts by indicator",
       [](Store& s) {
         // A sync's figures read a case's plans without its hundreds of visits, and the facts
         // of one indicator of a case without the others.
         FC_TRY(s.exec(R"sql(
CREATE INDEX record_case_kind ON record(case_id, kind);
DROP INDEX record_case;
DROP INDEX figure_fact_case;
)sql"));
         return s.exec(kFigureFactCaseIndex);
       }},
      {5, "role grants awaiting a second person",
       [](Store& s) {
         return s.exec(R"sql(
CREATE TABLE role_grant (
  id TEXT PRIMARY KEY, worker_id TEXT NOT NULL REFERENCES worker(id), role TEXT NOT NULL,
  from_role TEXT NOT NULL, requested_by TEXT NOT NULL, requested_at TEXT NOT NULL,
  state TEXT NOT NULL, decided_by TEXT NOT NULL DEFAULT '', decided_at TEXT NOT NULL DEFAULT '');
CREATE UNIQUE INDEX role_grant_pending ON role_grant(worker_id) WHERE state = 'pending';
)sql");
       }},
      {6, "enrollment codes keyed with the server secret; failed enrollments per address",
       [](Store& s) {
         // Codes were stored as their first group in clear and an unkeyed hash of the whole,
         // which a copy of the database could reverse. They cannot be re-keyed without the code
         // itself: every outstanding code ends now (it must be issued again) and what was kept
         // of every code is erased. Failed enrollments per address move from each process's
         // memory into the database, so every server process on it counts the same.
         return s.exec(R"sql(
CREATE TABLE enrollment_failure (source TEXT NOT NULL, at_ms BIGINT NOT NULL);
CREATE INDEX enrollment_failure_source ON enrollment_failure(source, at_ms);
CREATE INDEX enrollment_failure_at ON enrollment_failure(at_ms);
UPDATE enrollment_code SET lookup = 'retired:' || id, code_hash = '',
  expires_at = CASE WHEN used_at = '' AND expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                    THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') ELSE expires_at END;
)sql");
       }},
  };
  return m;
}

constexpr const char* kDeviceColumns =
    "id, worker_id, status, created_at, revoked_at, last_sync_at, clock_offset_ms, "
    "clock_samples, name";

Device read_device(const Statement& s) {
  Device d;
  d.id = s.column_text(0);
  d.worker_id = s.column_text(1);
  d.status = parse_device_status(s.column_text(2)).value_or(DeviceStatus::revoked);
  d.created_at = s.column_text(3);
  d.revoked_at = s.column_text(4);
  d.last_sync_at = s.column_text(5);
  if (!s.column_is_null(6)) d.clock_offset_ms = s.column_int(6);
  d.clock_samples = samples_from_text(s.column_text(7));
  d.name = s.column_text(8);
  return d;
}

constexpr const char* kLogColumns =
    "seq, op_id, tx_id, op, record_id, kind, case_id, field, value, hlc, author, device_id, at, "
    "received_at";

// About how many bytes a value takes in JSON, without writing it (escapes not counted).
std::size_t approx_json_size(const Value& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return text->size() + 2;
  if (const auto* list = std::get_if<CodeList>(&value)) {
    std::size_t n = 2;
    for (const auto& code : *list) n += code.size() + 3;
    return n;
  }
  return 8;
}

Result<LogEntry> read_log(const Statement& s) {
  LogEntry e;
  e.seq = s.column_int(0);
  e.op_id = s.column_text(1);
  e.tx_id = s.column_text(2);
  auto op = op_from_text(s.column_text(3));
  if (!op.ok()) return op.status();
  e.op = *op;
  e.record_id = s.column_text(4);
  auto kind = kind_from_text(s.column_text(5));
  if (!kind.ok()) return kind.status();
  e.kind = *kind;
  e.case_id = s.column_text(6);
  e.field = s.column_text(7);
  if (!s.column_is_null(8)) {
    auto v = value_from_text(s.column_text(8));
    if (!v.ok()) return v.status();
    e.value = std::move(*v);
  }
  e.hlc = s.column_text(9);
  e.author = s.column_text(10);
  e.device_id = s.column_text(11);
  e.at = s.column_text(12);
  e.received_at = s.column_text(13);
  return e;
}

constexpr const char* kConflictColumns =
    "id, record_id, case_id, field, kept, kept_hlc, lost, lost_hlc, lost_author, lost_device, "
    "detected_seq, detected_at, resolved_seq, resolved_at";

Result<StoredConflict> read_conflict(const Statement& s) {
  StoredConflict c;
  c.conflict.conflict_id = s.column_text(0);
  c.conflict.record_id = s.column_text(1);
  c.conflict.case_id = s.column_text(2);
  c.conflict.field = s.column_text(3);
  auto kept = value_from_text(s.column_text(4));
  if (!kept.ok()) return kept.status();
  c.conflict.kept = std::move(*kept);
  c.conflict.kept_hlc = s.column_text(5);
  auto lost = value_from_text(s.column_text(6));
  if (!lost.ok()) return lost.status();
  c.conflict.lost = std::move(*lost);
  c.conflict.lost_hlc = s.column_text(7);
  c.conflict.lost_author = s.column_text(8);
  c.lost_device = s.column_text(9);
  c.detected_seq = s.column_int(10);
  c.detected_at = s.column_text(11);
  c.resolved_seq = s.column_int(12);
  c.resolved_at = s.column_text(13);
  c.conflict.resolved = c.resolved_seq != 0;
  return c;
}

constexpr const char* kClaimColumns =
    "record_id, field, case_id, kind, claimed, corrected, received_at, offset_ms, device_id, "
    "worker_id, tx_id, after_receipt, before_start, large_offset";

Result<ClaimedTime> read_claim(const Statement& s) {
  ClaimedTime c;
  c.record_id = s.column_text(0);
  c.field = s.column_text(1);
  c.case_id = s.column_text(2);
  auto kind = kind_from_text(s.column_text(3));
  if (!kind.ok()) return kind.status();
  c.kind = *kind;
  c.claimed = s.column_text(4);
  c.corrected = s.column_text(5);
  c.received_at = s.column_text(6);
  c.offset_ms = s.column_int(7);
  c.device_id = s.column_text(8);
  c.worker_id = s.column_text(9);
  c.tx_id = s.column_text(10);
  c.after_receipt = s.column_int(11) != 0;
  c.before_start = s.column_int(12) != 0;
  c.large_offset = s.column_int(13) != 0;
  return c;
}

Result<Worker> read_worker(const Statement& s) {
  Worker w;
  w.id = s.column_text(0);
  w.name = s.column_text(1);
  auto role = parse_role(s.column_text(2));
  if (!role) return Status(Errc::integrity, "unknown role in the server database");
  w.role = *role;
  w.team_id = s.column_text(3);
  w.active = s.column_int(4) != 0;
  w.created_at = s.column_text(5);
  return w;
}

}  // namespace

Result<std::unique_ptr<SqliteServerStore>> SqliteServerStore::open(
    const std::filesystem::path& path) {
  StoreOptions options;
  options.path = path;
  options.journal = JournalMode::wal;
  options.durability = Durability::full;
  auto store = Store::open_plain(options);
  if (!store.ok()) return store.status();
  FC_TRY((*store)->migrate(migrations()));
  return std::unique_ptr<SqliteServerStore>(new SqliteServerStore(std::move(store.value())));
}

SqliteServerStore::SqliteServerStore(std::unique_ptr<Store> store) : store_(std::move(store)) {}

SqliteServerStore::~SqliteServerStore() {
  cache_.clear();  // statements before the connection
}

Result<Statement*> SqliteServerStore::stmt(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->reset();
    return it->second.get();
  }
  auto prepared = store_->prepare(sql);
  if (!prepared.ok()) return prepared.status();
  auto owned = std::make_unique<Statement>(std::move(prepared.value()));
  Statement* raw = owned.get();
  cache_.emplace(sql, std::move(owned));
  return raw;
}

Status SqliteServerStore::transaction(const std::function<Status()>& fn) {
  return store_->transaction(fn);
}

// ---------------------------------------------------------------------------------------------
// Organisation

Status SqliteServerStore::insert_authority(const Authority& a) {
  auto s = stmt("INSERT INTO authority(id, name, la_code, created_at) VALUES (?1, ?2, ?3, ?4)");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, a.id).bind(2, a.name).bind(3, a.la_code).bind(4, a.created_at);
  return u->run();
}

Result<std::optional<Authority>> SqliteServerStore::find_authority() {
  auto s = stmt("SELECT id, name, la_code, created_at FROM authority ORDER BY id LIMIT 1");
  if (!s.ok()) return s.status();
  Use u(*s);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Authority>();
  return std::optional<Authority>(
      Authority{u->column_text(0), u->column_text(1), u->column_text(2), u->column_text(3)});
}

Status SqliteServerStore::insert_area(const Area& a) {
  auto s = stmt("INSERT INTO area(id, name, authority_id, created_at) VALUES (?1, ?2, ?3, ?4)");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, a.id).bind(2, a.name).bind(3, a.authority_id).bind(4, a.created_at);
  return u->run();
}

Result<std::optional<Area>> SqliteServerStore::find_area(std::string_view id) {
  auto s = stmt("SELECT id, name, authority_id, created_at FROM area WHERE id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Area>();
  return std::optional<Area>(
      Area{u->column_text(0), u->column_text(1), u->column_text(2), u->column_text(3)});
}

Status SqliteServerStore::insert_team(const Team& t) {
  auto s = stmt("INSERT INTO team(id, name, area_id, created_at) VALUES (?1, ?2, ?3, ?4)");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, t.id).bind(2, t.name).bind(3, t.area_id).bind(4, t.created_at);
  return u->run();
}

Result<std::optional<Team>> SqliteServerStore::find_team(std::string_view id) {
  auto s = stmt("SELECT id, name, area_id, created_at FROM team WHERE id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Team>();
  return std::optional<Team>(
      Team{u->column_text(0), u->column_text(1), u->column_text(2), u->column_text(3)});
}

Result<std::vector<Area>> SqliteServerStore::list_areas() {
  auto s = stmt("SELECT id, name, authority_id, created_at FROM area ORDER BY name, id");
  if (!s.ok()) return s.status();
  Use u(*s);
  return all_rows(*u, [](Statement& r) {
    return Area{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3)};
  });
}

Result<std::vector<Team>> SqliteServerStore::list_teams() {
  auto s = stmt("SELECT id, name, area_id, created_at FROM team ORDER BY name, id");
  if (!s.ok()) return s.status();
  Use u(*s);
  return all_rows(*u, [](Statement& r) {
    return Team{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3)};
  });
}

Status SqliteServerStore::insert_worker(const Worker& w) {
  auto s = stmt(
      "INSERT INTO worker(id, name, role, team_id, active, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, w.id).bind(2, w.name).bind(3, to_string(w.role)).bind(5, w.active ? 1 : 0);
  if (w.team_id.empty()) {
    u->bind_null(4);
  } else {
    u->bind(4, w.team_id);
  }
  u->bind(6, w.created_at);
  return u->run();
}

Result<std::optional<Worker>> SqliteServerStore::find_worker(std::string_view id) {
  auto s = stmt("SELECT id, name, role, team_id, active, created_at FROM worker WHERE id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Worker>();
  auto w = read_worker(*u);
  if (!w.ok()) return w.status();
  return std::optional<Worker>(std::move(*w));
}

Result<std::vector<Worker>> SqliteServerStore::list_workers() {
  auto s = stmt("SELECT id, name, role, team_id, active, created_at FROM worker ORDER BY id");
  if (!s.ok()) return s.status();
  Use u(*s);
  std::vector<Worker> out;
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto w = read_worker(*u);
    if (!w.ok()) return w.status();
    out.push_back(std::move(*w));
  }
  return out;
}

Status SqliteServerStore::set_worker_active(std::string_view id, bool active) {
  auto s = stmt("UPDATE worker SET active = ?2 WHERE id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id).bind(2, active ? 1 : 0);
  FC_TRY(u->run());
  if (store_->changes() == 0) return {Errc::not_found, "no worker " + std::string(id)};
  return {};
}

Status SqliteServerStore::set_worker_role(std::string_view id, Role role) {
  auto s = stmt("UPDATE worker SET role = ?2 WHERE id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id).bind(2, to_string(role));
  FC_TRY(u->run());
  if (store_->changes() == 0) return {Errc::not_found, "no worker " + std::string(id)};
  return {};
}

Result<WorkerCredentials> SqliteServerStore::find_credentials(std::string_view worker_id) {
  auto s = stmt("SELECT password_hash, failed_signins, locked_until FROM worker WHERE id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, worker_id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(Errc::not_found, "no worker " + std::string(worker_id));
  return WorkerCredentials{u->column_text(0), u->column_int(1), u->column_text(2)};
}

Status SqliteServerStore::put_credentials(std::string_view worker_id, const WorkerCredentials& c) {
  auto s = stmt(
      "UPDATE worker SET password_hash = ?2, failed_signins = ?3, locked_until = ?4 "
      "WHERE id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, worker_id).bind(2, c.password_hash).bind(3, c.failed_signins);
  u->bind(4, c.locked_until);
  FC_TRY(u->run());
  if (store_->changes() == 0) return {Errc::not_found, "no worker " + std::string(worker_id)};
  return {};
}

// The count and the lock change in the same statement that reads them, so no other attempt
// (on this connection or another) can come between: SQLite evaluates every SET expression on the
// row as it was. ISO times of one fixed width compare as text.
Result<std::optional<SignInAttempt>> SqliteServerStore::begin_sign_in(std::string_view worker_id,
                                                                      std::string_view now,
                                                                      std::int64_t limit,
                                                                      std::string_view lock_until) {
  auto s = stmt(
      "UPDATE worker SET "
      "failed_signins = CASE WHEN locked_until <> '' THEN 1 ELSE failed_signins + 1 END, "
      "locked_until = CASE WHEN (CASE WHEN locked_until <> '' THEN 1 ELSE failed_signins + 1 END)"
      " >= ?3 THEN ?4 ELSE '' END "
      "WHERE id = ?1 AND (locked_until = '' OR locked_until <= ?2) "
      "RETURNING failed_signins, password_hash");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, worker_id).bind(2, now).bind(3, limit).bind(4, lock_until);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<SignInAttempt>();
  SignInAttempt attempt{u->column_int(0), u->column_text(1)};
  // RETURNING rows are produced as the statement runs; finish it so the change is made.
  auto rest = u->step();
  if (!rest.ok()) return rest.status();
  return std::optional<SignInAttempt>(std::move(attempt));
}

Result<bool> SqliteServerStore::end_sign_in(std::string_view worker_id, std::int64_t number,
                                            std::string_view now) {
  // Locked by this very attempt (its number is the last counted: none is counted while locked),
  // or not locked: the attempt may succeed.
  auto s = stmt(
      "UPDATE worker SET failed_signins = 0, locked_until = '' WHERE id = ?1 AND "
      "(locked_until = '' OR locked_until <= ?2 OR failed_signins = ?3)");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, worker_id).bind(2, now).bind(3, number);
  FC_TRY(u->run());
  return store_->changes() == 1;
}

// ---------------------------------------------------------------------------------------------
// Enrollment codes and web sessions

namespace {

constexpr const char* kRoleGrantColumns =
    "id, worker_id, role, from_role, requested_by, requested_at, state, decided_by, decided_at";

Result<RoleGrant> read_role_grant(const Statement& s) {
  RoleGrant g;
  g.id = s.column_text(0);
  g.worker_id = s.column_text(1);
  auto role = parse_role(s.column_text(2));
  if (!role) return Status(Errc::integrity, "unknown role in the server database");
  g.role = *role;
  g.from_role = s.column_text(3);
  g.requested_by = s.column_text(4);
  g.requested_at = s.column_text(5);
  g.state = s.column_text(6);
  g.decided_by = s.column_text(7);
  g.decided_at = s.column_text(8);
  return g;
}

}  // namespace

Status SqliteServerStore::insert_role_grant(const RoleGrant& g) {
  auto s = stmt(std::string("INSERT INTO role_grant(") + kRoleGrantColumns +
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, g.id).bind(2, g.worker_id).bind(3, to_string(g.role)).bind(4, g.from_role);
  u->bind(5, g.requested_by).bind(6, g.requested_at).bind(7, g.state).bind(8, g.decided_by);
  u->bind(9, g.decided_at);
  return u->run();
}

Result<std::optional<RoleGrant>> SqliteServerStore::find_role_grant(std::string_view id) {
  auto s = stmt(std::string("SELECT ") + kRoleGrantColumns + " FROM role_grant WHERE id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<RoleGrant>();
  auto g = read_role_grant(*u);
  if (!g.ok()) return g.status();
  return std::optional<RoleGrant>(std::move(*g));
}

Result<std::optional<RoleGrant>> SqliteServerStore::pending_role_grant(std::string_view worker_id) {
  auto s = stmt(std::string("SELECT ") + kRoleGrantColumns +
                " FROM role_grant WHERE worker_id = ?1 AND state = 'pending'");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, worker_id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<RoleGrant>();
  auto g = read_role_grant(*u);
  if (!g.ok()) return g.status();
  return std::optional<RoleGrant>(std::move(*g));
}

Result<std::vector<RoleGrant>> SqliteServerStore::pending_role_grants() {
  auto s = stmt(std::string("SELECT ") + kRoleGrantColumns +
                " FROM role_grant WHERE state = 'pending' ORDER BY requested_at, id");
  if (!s.ok()) return s.status();
  Use u(*s);
  std::vector<RoleGrant> out;
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto g = read_role_grant(*u);
    if (!g.ok()) return g.status();
    out.push_back(std::move(*g));
  }
  return out;
}

Status SqliteServerStore::decide_role_grant(const RoleGrant& g) {
  auto s = stmt(
      "UPDATE role_grant SET state = ?2, decided_by = ?3, decided_at = ?4 "
      "WHERE id = ?1 AND state = 'pending'");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, g.id).bind(2, g.state).bind(3, g.decided_by).bind(4, g.decided_at);
  FC_TRY(u->run());
  if (store_->changes() == 0) return {Errc::not_found, "no pending role grant " + g.id};
  return {};
}

Status SqliteServerStore::insert_enrollment(const EnrollmentCode& c) {
  auto s = stmt(
      "INSERT INTO enrollment_code(id, lookup, code_hash, worker_id, created_at, expires_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, c.id).bind(2, c.lookup).bind(3, c.code_hash).bind(4, c.worker_id);
  u->bind(5, c.created_at).bind(6, c.expires_at);
  return u->run();
}

Result<std::optional<EnrollmentCode>> SqliteServerStore::find_enrollment(std::string_view lookup) {
  auto s = stmt(
      "SELECT id, lookup, code_hash, worker_id, created_at, expires_at, used_at, device_id, "
      "failed_attempts FROM enrollment_code WHERE lookup = ?1 ORDER BY used_at = '' DESC, id DESC "
      "LIMIT 1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, lookup);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<EnrollmentCode>();
  EnrollmentCode c;
  c.id = u->column_text(0);
  c.lookup = u->column_text(1);
  c.code_hash = u->column_text(2);
  c.worker_id = u->column_text(3);
  c.created_at = u->column_text(4);
  c.expires_at = u->column_text(5);
  c.used_at = u->column_text(6);
  c.device_id = u->column_text(7);
  c.failed_attempts = u->column_int(8);
  return std::optional<EnrollmentCode>(std::move(c));
}

Status SqliteServerStore::update_enrollment(const EnrollmentCode& c) {
  auto s = stmt(
      "UPDATE enrollment_code SET used_at = ?2, device_id = ?3, failed_attempts = ?4 "
      "WHERE id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, c.id).bind(2, c.used_at).bind(3, c.device_id).bind(4, c.failed_attempts);
  FC_TRY(u->run());
  if (store_->changes() == 0) return {Errc::not_found, "no enrollment code " + c.id};
  return {};
}

Result<std::int64_t> SqliteServerStore::enrollment_failures(std::string_view source,
                                                            std::int64_t since_ms) {
  auto s = stmt("SELECT count(*) FROM enrollment_failure WHERE source = ?1 AND at_ms >= ?2");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, source).bind(2, since_ms);
  auto row = u->step();
  if (!row.ok()) return row.status();
  return *row ? u->column_int(0) : std::int64_t{0};
}

Status SqliteServerStore::add_enrollment_failure(std::string_view source, std::int64_t at_ms,
                                                 std::int64_t forget_before_ms) {
  {
    auto s = stmt("DELETE FROM enrollment_failure WHERE at_ms < ?1");
    if (!s.ok()) return s.status();
    Use u(*s);
    u->bind(1, forget_before_ms);
    FC_TRY(u->run());
  }
  auto s = stmt("INSERT INTO enrollment_failure(source, at_ms) VALUES (?1, ?2)");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, source).bind(2, at_ms);
  return u->run();
}

Status SqliteServerStore::insert_session(const WebSession& w) {
  auto s = stmt(
      "INSERT INTO web_session(id_hash, worker_id, created_at, last_seen_at, expires_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, w.id_hash).bind(2, w.worker_id).bind(3, w.created_at).bind(4, w.last_seen_at);
  u->bind(5, w.expires_at);
  return u->run();
}

Result<std::optional<WebSession>> SqliteServerStore::find_session(std::string_view id_hash) {
  auto s = stmt(
      "SELECT id_hash, worker_id, created_at, last_seen_at, expires_at FROM web_session "
      "WHERE id_hash = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id_hash);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<WebSession>();
  return std::optional<WebSession>(WebSession{u->column_text(0), u->column_text(1),
                                              u->column_text(2), u->column_text(3),
                                              u->column_text(4)});
}

Status SqliteServerStore::touch_session(std::string_view id_hash, std::string_view last_seen_at) {
  auto s = stmt("UPDATE web_session SET last_seen_at = ?2 WHERE id_hash = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id_hash).bind(2, last_seen_at);
  return u->run();
}

Status SqliteServerStore::delete_session(std::string_view id_hash) {
  auto s = stmt("DELETE FROM web_session WHERE id_hash = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id_hash);
  return u->run();
}

Status SqliteServerStore::delete_sessions_of(std::string_view worker_id) {
  auto s = stmt("DELETE FROM web_session WHERE worker_id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, worker_id);
  return u->run();
}

// ---------------------------------------------------------------------------------------------
// Devices

Status SqliteServerStore::insert_device(const Device& d, std::string_view token_hash) {
  auto s = stmt(
      "INSERT INTO device(id, worker_id, token_hash, status, created_at, name) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, d.id).bind(2, d.worker_id).bind(3, token_hash).bind(4, to_string(d.status));
  u->bind(5, d.created_at).bind(6, d.name);
  return u->run();
}

Result<std::optional<Device>> SqliteServerStore::find_device(std::string_view id) {
  auto s = stmt(std::string("SELECT ") + kDeviceColumns + " FROM device WHERE id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Device>();
  return std::optional<Device>(read_device(*u));
}

Result<std::optional<Device>> SqliteServerStore::find_device_by_token_hash(std::string_view hash) {
  auto s = stmt(std::string("SELECT ") + kDeviceColumns + " FROM device WHERE token_hash = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, hash);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Device>();
  return std::optional<Device>(read_device(*u));
}

Result<std::vector<Device>> SqliteServerStore::list_devices() {
  auto s = stmt(std::string("SELECT ") + kDeviceColumns + " FROM device ORDER BY id");
  if (!s.ok()) return s.status();
  Use u(*s);
  std::vector<Device> out;
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(read_device(*u));
  }
  return out;
}

Status SqliteServerStore::update_device(const Device& d) {
  auto s = stmt(
      "UPDATE device SET status = ?2, revoked_at = ?3, last_sync_at = ?4, clock_offset_ms = ?5, "
      "clock_samples = ?6 WHERE id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, d.id).bind(2, to_string(d.status)).bind(3, d.revoked_at).bind(4, d.last_sync_at);
  if (d.clock_offset_ms) {
    u->bind(5, *d.clock_offset_ms);
  } else {
    u->bind_null(5);
  }
  u->bind(6, samples_to_text(d.clock_samples));
  FC_TRY(u->run());
  if (store_->changes() == 0) return {Errc::not_found, "no device " + d.id};
  return {};
}

// ---------------------------------------------------------------------------------------------
// Sequence, allocation, scope

Result<std::int64_t> SqliteServerStore::reserve_seqs(std::int64_t n) {
  if (n < 1) return Status(Errc::invalid_argument, "reserve at least one sequence number");
  auto up = stmt("UPDATE server_seq SET value = value + ?1 WHERE id = 1");
  if (!up.ok()) return up.status();
  {
    Use u(*up);
    u->bind(1, n);
    FC_TRY(u->run());
  }
  auto last = head();
  if (!last.ok()) return last.status();
  return *last - n + 1;
}

Result<std::int64_t> SqliteServerStore::head() {
  auto s = stmt("SELECT value FROM server_seq WHERE id = 1");
  if (!s.ok()) return s.status();
  Use u(*s);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(Errc::integrity, "the server sequence is missing");
  return u->column_int(0);
}

Status SqliteServerStore::put_allocation(const Allocation& a, std::string_view previous) {
  auto s = stmt(
      "INSERT INTO allocation(case_id, worker_id, seq, allocated_at) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT(case_id) DO UPDATE SET worker_id = excluded.worker_id, seq = excluded.seq, "
      "allocated_at = excluded.allocated_at");
  if (!s.ok()) return s.status();
  {
    Use u(*s);
    u->bind(1, a.case_id).bind(2, a.worker_id).bind(3, a.seq).bind(4, a.allocated_at);
    FC_TRY(u->run());
  }
  auto h = stmt(
      "INSERT INTO allocation_history(seq, case_id, worker_id, previous_worker_id, allocated_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!h.ok()) return h.status();
  Use u(*h);
  u->bind(1, a.seq).bind(2, a.case_id).bind(3, a.worker_id).bind(4, previous);
  u->bind(5, a.allocated_at);
  return u->run();
}

Result<std::optional<Allocation>> SqliteServerStore::find_allocation(std::string_view case_id) {
  auto s = stmt("SELECT case_id, worker_id, seq, allocated_at FROM allocation WHERE case_id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, case_id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Allocation>();
  return std::optional<Allocation>(
      Allocation{u->column_text(0), u->column_text(1), u->column_int(2), u->column_text(3)});
}

Result<std::vector<Allocation>> SqliteServerStore::allocations_after(std::int64_t seq,
                                                                     std::size_t limit) {
  auto s = stmt(
      "SELECT case_id, worker_id, seq, allocated_at FROM allocation_history WHERE seq > ?1 "
      "ORDER BY seq LIMIT ?2");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, seq).bind(2, static_cast<std::int64_t>(limit));
  return all_rows(*u, [](Statement& r) {
    return Allocation{r.column_text(0), r.column_text(1), r.column_int(2), r.column_text(3)};
  });
}

Result<std::string> SqliteServerStore::previous_worker(std::string_view case_id) {
  auto s = stmt(
      "SELECT h.previous_worker_id FROM allocation a JOIN allocation_history h ON h.seq = a.seq "
      "WHERE a.case_id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, case_id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  return *row ? u->column_text(0) : std::string();
}

Result<std::set<std::string>> SqliteServerStore::visible_cases(const Worker& viewer) {
  auto s = stmt(scope_sql(viewer.role));
  if (!s.ok()) return s.status();
  Use u(*s);
  if (viewer.role != Role::service_lead) u->bind(1, viewer.id);
  std::set<std::string> out;
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.insert(u->column_text(0));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Records

Result<std::vector<StoredRecord>> SqliteServerStore::load_records(const std::string& where_sql,
                                                                  std::string_view arg) {
  std::vector<StoredRecord> out;
  {
    auto s = stmt(
        "SELECT id, kind, case_id, created_at, created_by, created_hlc, updated_at, updated_by, "
        "deleted, deleted_hlc FROM record WHERE " +
        where_sql + " ORDER BY id");
    if (!s.ok()) return s.status();
    Use u(*s);
    u->bind(1, arg);
    for (;;) {
      auto row = u->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      StoredRecord r;
      r.id = u->column_text(0);
      auto kind = kind_from_text(u->column_text(1));
      if (!kind.ok()) return kind.status();
      r.kind = *kind;
      r.case_id = u->column_text(2);
      r.created_at = u->column_text(3);
      r.created_by = u->column_text(4);
      r.created_hlc = u->column_text(5);
      r.updated_at = u->column_text(6);
      r.updated_by = u->column_text(7);
      r.deleted = u->column_int(8) != 0;
      r.deleted_hlc = u->column_text(9);
      out.push_back(std::move(r));
    }
  }
  if (out.empty()) return out;
  // Every field of the selected records in one statement (one per record made reading a
  // case's records cost a statement per record).
  std::unordered_map<std::string, StoredRecord*> by_id;
  for (auto& r : out) by_id.emplace(r.id, &r);
  auto f = stmt(
      "SELECT f.record_id, f.name, f.value, f.hlc, f.author FROM record r "
      "JOIN record_field f ON f.record_id = r.id WHERE r." +
      where_sql);
  if (!f.ok()) return f.status();
  Use u(*f);
  u->bind(1, arg);
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto it = by_id.find(u->column_text(0));
    if (it == by_id.end()) continue;
    auto v = value_from_text(u->column_text(2));
    if (!v.ok()) return v.status();
    it->second->fields.emplace(u->column_text(1),
                               FieldState{std::move(*v), u->column_text(3), u->column_text(4)});
  }
  return out;
}

Result<std::optional<StoredRecord>> SqliteServerStore::find_record(std::string_view id) {
  auto found = load_records("id = ?1", id);
  if (!found.ok()) return found.status();
  if (found->empty()) return std::optional<StoredRecord>();
  return std::optional<StoredRecord>(std::move(found->front()));
}

Result<std::vector<StoredRecord>> SqliteServerStore::case_records(std::string_view case_id) {
  return load_records("case_id = ?1", case_id);
}

Status SqliteServerStore::put_record(const StoredRecord& r) {
  auto s = stmt(
      "INSERT INTO record(id, kind, case_id, created_at, created_by, created_hlc, updated_at, "
      "updated_by, deleted, deleted_hlc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
      "ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at, "
      "updated_by = excluded.updated_by, deleted = excluded.deleted, "
      "deleted_hlc = excluded.deleted_hlc");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, r.id).bind(2, to_string(r.kind)).bind(3, r.case_id).bind(4, r.created_at);
  u->bind(5, r.created_by).bind(6, r.created_hlc).bind(7, r.updated_at).bind(8, r.updated_by);
  u->bind(9, r.deleted ? 1 : 0).bind(10, r.deleted_hlc);
  return u->run();
}

Status SqliteServerStore::put_field(std::string_view record_id, std::string_view name,
                                    const FieldState& f) {
  auto s = stmt(
      "INSERT INTO record_field(record_id, name, value, hlc, author) VALUES (?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT(record_id, name) DO UPDATE SET value = excluded.value, hlc = excluded.hlc, "
      "author = excluded.author");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, record_id).bind(2, name).bind(3, value_to_json(f.value)).bind(4, f.hlc);
  u->bind(5, f.author);
  return u->run();
}

// ---------------------------------------------------------------------------------------------
// Log

Status SqliteServerStore::append_log(const LogEntry& e) {
  auto s = stmt(
      "INSERT INTO change_log(seq, op_id, tx_id, op, record_id, kind, case_id, field, value, hlc, "
      "author, device_id, at, received_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, e.seq).bind(2, e.op_id).bind(3, e.tx_id).bind(4, op_text(e.op));
  u->bind(5, e.record_id).bind(6, to_string(e.kind)).bind(7, e.case_id).bind(8, e.field);
  if (e.op == FieldChange::Op::set) {
    u->bind(9, value_to_json(e.value));
  } else {
    u->bind_null(9);
  }
  u->bind(10, e.hlc).bind(11, e.author).bind(12, e.device_id).bind(13, e.at);
  u->bind(14, e.received_at);
  return u->run();
}

Result<LogPage> SqliteServerStore::log_after(const Worker& viewer, std::int64_t cursor,
                                             std::size_t max_entries, std::size_t max_bytes) {
  // The log is walked in seq order (the `+` keeps SQLite off the case index, which would
  // gather and sort every visible entry after the cursor for each page: a bootstrap then cost
  // the square of the caseload's history), in windows of sequence numbers (lo, hi], each twice
  // as wide as the one before, so a sparse scope is found in a few queries and a dense one
  // reads little more than the page. Across a bootstrap the log is read once.
  auto s = stmt(std::string("SELECT ") + kLogColumns +
                " FROM change_log WHERE seq > ?2 AND seq <= ?4 AND +case_id IN (" +
                scope_sql(viewer.role) + ")" + kind_filter_sql(viewer.role, "kind") +
                " ORDER BY seq LIMIT ?3");
  if (!s.ok()) return s.status();
  auto last = head();
  if (!last.ok()) return last.status();
  LogPage page;
  std::size_t bytes = 0;
  std::int64_t lo = cursor;
  std::int64_t width = static_cast<std::int64_t>(max_entries) + 1;
  bool full = false;
  while (!full && lo < *last) {
    const std::int64_t hi = std::min(*last, lo + width);
    Use u(*s);
    if (viewer.role != Role::service_lead) u->bind(1, viewer.id);
    u->bind(2, lo).bind(4, hi);
    u->bind(3, static_cast<std::int64_t>(max_entries - page.entries.size()) + 1);
    for (;;) {
      auto row = u->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      if (page.entries.size() >= max_entries || (bytes >= max_bytes && !page.entries.empty())) {
        page.more = true;
        full = true;
        break;
      }
      auto e = read_log(*u);
      if (!e.ok()) return e.status();
      // The value's text dominates an entry's size; ids and stamps add about 200 bytes.
      bytes += 200 + (e->op == FieldChange::Op::set ? approx_json_size(e->value) : 0);
      page.entries.push_back(std::move(*e));
    }
    lo = hi;
    width = std::min<std::int64_t>(width * 2, std::int64_t{1} << 40);
  }
  return page;
}

// ---------------------------------------------------------------------------------------------
// Idempotency

Result<std::optional<TxOutcome>> SqliteServerStore::find_tx(std::string_view tx_id) {
  auto s = stmt(
      "SELECT tx_id, device_id, outcome, code, reason, op_count, device_time, received_at "
      "FROM sync_transaction WHERE tx_id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, tx_id);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<TxOutcome>();
  TxOutcome t;
  t.tx_id = u->column_text(0);
  t.device_id = u->column_text(1);
  t.accepted = u->column_text(2) == "accepted";
  t.code = u->column_text(3);
  t.reason = u->column_text(4);
  t.op_count = u->column_int(5);
  t.device_time = u->column_text(6);
  t.received_at = u->column_text(7);
  return std::optional<TxOutcome>(std::move(t));
}

Status SqliteServerStore::put_tx(const TxOutcome& t) {
  auto s = stmt(
      "INSERT INTO sync_transaction(tx_id, device_id, outcome, code, reason, op_count, "
      "device_time, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, t.tx_id).bind(2, t.device_id).bind(3, t.accepted ? "accepted" : "rejected");
  u->bind(4, t.code).bind(5, t.reason).bind(6, t.op_count).bind(7, t.device_time);
  u->bind(8, t.received_at);
  return u->run();
}

Result<bool> SqliteServerStore::op_applied(std::string_view op_id) {
  auto s = stmt("SELECT 1 FROM applied_op WHERE op_id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, op_id);
  return u->step();
}

Status SqliteServerStore::put_op(std::string_view op_id, std::string_view tx_id) {
  auto s = stmt("INSERT INTO applied_op(op_id, tx_id) VALUES (?1, ?2)");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, op_id).bind(2, tx_id);
  return u->run();
}

// ---------------------------------------------------------------------------------------------
// Conflicts

Status SqliteServerStore::insert_conflict(const StoredConflict& c) {
  auto s = stmt(std::string("INSERT INTO conflict(") + kConflictColumns +
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  if (!s.ok()) return s.status();
  Use u(*s);
  const sync::Conflict& k = c.conflict;
  u->bind(1, k.conflict_id).bind(2, k.record_id).bind(3, k.case_id).bind(4, k.field);
  u->bind(5, value_to_json(k.kept)).bind(6, k.kept_hlc).bind(7, value_to_json(k.lost));
  u->bind(8, k.lost_hlc).bind(9, k.lost_author).bind(10, c.lost_device);
  u->bind(11, c.detected_seq).bind(12, c.detected_at).bind(13, c.resolved_seq);
  u->bind(14, c.resolved_at);
  return u->run();
}

Status SqliteServerStore::resolve_conflicts(std::string_view record_id, std::string_view field,
                                            std::int64_t seq, std::string_view at) {
  auto s = stmt(
      "UPDATE conflict SET resolved_seq = ?3, resolved_at = ?4 "
      "WHERE record_id = ?1 AND field = ?2 AND resolved_seq = 0");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, record_id).bind(2, field).bind(3, seq).bind(4, at);
  return u->run();
}

Result<std::vector<StoredConflict>> SqliteServerStore::conflicts_for(const Worker& viewer,
                                                                     std::int64_t cursor) {
  auto s = stmt(std::string("SELECT ") + kConflictColumns + " FROM conflict WHERE case_id IN (" +
                scope_sql(viewer.role) + ")" +
                (viewer.role == Role::contact_centre
                     ? " AND record_id IN (SELECT id FROM record WHERE case_id = conflict.case_id" +
                           kind_filter_sql(viewer.role, "kind") + ")"
                     : std::string()) +
                " AND (resolved_seq = 0 OR resolved_seq > ?2) ORDER BY id");
  if (!s.ok()) return s.status();
  Use u(*s);
  if (viewer.role != Role::service_lead) u->bind(1, viewer.id);
  u->bind(2, cursor);
  std::vector<StoredConflict> out;
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto c = read_conflict(*u);
    if (!c.ok()) return c.status();
    out.push_back(std::move(*c));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Device holdings

Result<std::map<std::string, HeldState>> SqliteServerStore::device_cases(
    std::string_view device_id) {
  auto s = stmt("SELECT case_id, state FROM device_case WHERE device_id = ?1");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, device_id);
  std::map<std::string, HeldState> out;
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.emplace(u->column_text(0),
                u->column_text(1) == "held" ? HeldState::held : HeldState::purged);
  }
  return out;
}

Status SqliteServerStore::put_device_case(std::string_view device_id, std::string_view case_id,
                                          HeldState state) {
  auto s = stmt(
      "INSERT INTO device_case(device_id, case_id, state) VALUES (?1, ?2, ?3) "
      "ON CONFLICT(device_id, case_id) DO UPDATE SET state = excluded.state");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, device_id).bind(2, case_id).bind(3, held_text(state));
  return u->run();
}

// ---------------------------------------------------------------------------------------------
// Claimed times

Status SqliteServerStore::put_claimed_time(const ClaimedTime& c) {
  auto s = stmt(std::string("INSERT INTO claimed_time(") + kClaimColumns +
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
                "ON CONFLICT(record_id, field) DO UPDATE SET claimed = excluded.claimed, "
                "corrected = excluded.corrected, received_at = excluded.received_at, "
                "offset_ms = excluded.offset_ms, device_id = excluded.device_id, "
                "worker_id = excluded.worker_id, tx_id = excluded.tx_id, "
                "after_receipt = excluded.after_receipt, before_start = excluded.before_start, "
                "large_offset = excluded.large_offset");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, c.record_id).bind(2, c.field).bind(3, c.case_id).bind(4, to_string(c.kind));
  u->bind(5, c.claimed).bind(6, c.corrected).bind(7, c.received_at).bind(8, c.offset_ms);
  u->bind(9, c.device_id).bind(10, c.worker_id).bind(11, c.tx_id);
  u->bind(12, c.after_receipt ? 1 : 0).bind(13, c.before_start ? 1 : 0);
  u->bind(14, c.large_offset ? 1 : 0);
  return u->run();
}

Status SqliteServerStore::delete_claimed_time(std::string_view record_id, std::string_view field) {
  auto s = stmt("DELETE FROM claimed_time WHERE record_id = ?1 AND field = ?2");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, record_id).bind(2, field);
  return u->run();
}

Result<std::optional<ClaimedTime>> SqliteServerStore::find_claimed_time(std::string_view record_id,
                                                                        std::string_view field) {
  auto s = stmt(std::string("SELECT ") + kClaimColumns +
                " FROM claimed_time WHERE record_id = ?1 AND field = ?2");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, record_id).bind(2, field);
  auto row = u->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<ClaimedTime>();
  auto c = read_claim(**s);
  if (!c.ok()) return c.status();
  return std::optional<ClaimedTime>(std::move(*c));
}

// ---------------------------------------------------------------------------------------------
// Figure facts

namespace {

// " AND <column> IN (?n, ...)" for a non-empty list, numbering parameters from `next`.
std::string in_list(std::string_view column, std::size_t count, int& next) {
  if (count == 0) return {};
  std::string out = " AND " + std::string(column) + " IN (";
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out += ", ";
    out += "?" + std::to_string(next++);
  }
  return out + ")";
}

// The statements that read figure inputs: records with their selected fields, and claims, of
// one case (`one_case`, ?1) or of every case, each ordered by case.
struct InputsSql {
  std::string records;
  std::string claims;
};

InputsSql inputs_sql(const FigureInputSelection& select, bool one_case) {
  // Parameters: ?1 the case (one case), then the kinds, the records and the fields.
  int next = one_case ? 2 : 1;
  const std::string kinds = in_list("r.kind", select.kinds.size(), next);
  const std::string ids = in_list("r.id", select.records.size(), next);
  // "+f.name": the names filter each record's fields as they are read; as an index term it
  // made one seek per record and name.
  int fields_from = next;
  const std::string fields = in_list("+f.name", select.fields.size(), next);
  const std::string claim_fields = in_list("field", select.fields.size(), fields_from);
  InputsSql sql;
  const std::string columns =
      "SELECT r.case_id, r.id, r.kind, r.deleted, f.name, f.value FROM record r "
      "LEFT JOIN record_field f ON f.record_id = r.id" +
      fields + " WHERE ";
  if (!one_case) {
    sql.records = columns + "r.case_id <> ''" + kinds + " ORDER BY r.case_id";
    // A claim holds its record's kind.
    int kinds_from = 1;
    sql.claims = std::string("SELECT ") + kClaimColumns + " FROM claimed_time WHERE case_id <> ''" +
                 in_list("kind", select.kinds.size(), kinds_from) + claim_fields +
                 " ORDER BY case_id";
    return sql;
  }
  // Of one case: the records of the kinds through the case's index by kind, and the named
  // records through their key (one statement with an OR read every record of the case).
  std::string by_kind = "r.case_id = ?1" + kinds;
  std::string ids_sql;
  if (!ids.empty()) {
    ids_sql = "r.case_id = ?1" + ids;
    if (!kinds.empty()) {
      std::string not_kinds = kinds;
      not_kinds.replace(not_kinds.find(" IN ("), 5, " NOT IN (");
      ids_sql += not_kinds;
    }
  }
  if (kinds.empty() && !ids.empty()) {
    sql.records = columns + ids_sql;
  } else {
    sql.records = columns + by_kind + (ids_sql.empty() ? "" : " UNION ALL " + columns + ids_sql);
  }
  std::string record_ids =
      kinds.empty() && !ids.empty()
          ? "SELECT r.id FROM record r WHERE " + ids_sql
          : "SELECT r.id FROM record r WHERE " + by_kind +
                (ids_sql.empty() ? "" : " UNION ALL SELECT r.id FROM record r WHERE " + ids_sql);
  sql.claims = std::string("SELECT ") + kClaimColumns + " FROM claimed_time WHERE record_id IN (" +
               record_ids + ")" + claim_fields;
  return sql;
}

void bind_selection(Statement& s, const FigureInputSelection& select, bool one_case) {
  int next = one_case ? 2 : 1;
  for (RecordKind k : select.kinds) s.bind(next++, to_string(k));
  for (const auto& id : select.records) s.bind(next++, id);
  for (const auto& f : select.fields) s.bind(next++, f);
}

// Reads rows of the records statement while they belong to `case_id` (the statement is on a
// row of it when called) into `out`; returns whether a row of a later case is current.
Result<bool> read_case_records(Statement& u, const std::string& case_id,
                               std::vector<StoredRecord>& out) {
  std::unordered_map<std::string, std::size_t> at;
  for (;;) {
    std::string id = u.column_text(1);
    auto it = at.find(id);
    if (it == at.end()) {
      StoredRecord r;
      r.id = id;
      auto kind = kind_from_text(u.column_text(2));
      if (!kind.ok()) return kind.status();
      r.kind = *kind;
      r.case_id = case_id;
      r.deleted = u.column_int(3) != 0;
      it = at.emplace(std::move(id), out.size()).first;
      out.push_back(std::move(r));
    }
    if (!u.column_is_null(4)) {
      auto v = value_from_text(u.column_text(5));
      if (!v.ok()) return v.status();
      out[it->second].fields.emplace(u.column_text(4), FieldState{std::move(*v), {}, {}});
    }
    auto row = u.step();
    if (!row.ok()) return row.status();
    if (!*row) return false;
    if (u.column_text(0) != case_id) return true;
  }
}

void sort_by_id(std::vector<StoredRecord>& records) {
  std::sort(records.begin(), records.end(),
            [](const StoredRecord& a, const StoredRecord& b) { return a.id < b.id; });
}

}  // namespace

Result<CaseFigureInputs> SqliteServerStore::case_figure_inputs(std::string_view case_id,
                                                               const FigureInputSelection& select) {
  const InputsSql sql = inputs_sql(select, true);
  CaseFigureInputs in;
  in.case_id = std::string(case_id);
  {
    auto s = stmt(sql.records);
    if (!s.ok()) return s.status();
    Use u(*s);
    u->bind(1, case_id);
    bind_selection(*u, select, true);
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (*row) {
      auto more = read_case_records(*u, in.case_id, in.records);
      if (!more.ok()) return more.status();
    }
    sort_by_id(in.records);
  }
  auto s = stmt(sql.claims);
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, case_id);
  bind_selection(*u, select, true);
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto c = read_claim(*u);
    if (!c.ok()) return c.status();
    in.claims.push_back(std::move(*c));
  }
  return in;
}

Status SqliteServerStore::each_case_figure_inputs(
    const FigureInputSelection& select, const std::function<Status(CaseFigureInputs&)>& fn) {
  if (!select.records.empty()) {
    return Status(Errc::invalid_argument, "figure inputs of every case are selected by kind");
  }
  const InputsSql sql = inputs_sql(select, false);
  auto records = stmt(sql.records);
  if (!records.ok()) return records.status();
  Use r(*records);
  bind_selection(*r, select, false);
  auto claims = stmt(sql.claims);
  if (!claims.ok()) return claims.status();
  Use c(*claims);
  bind_selection(*c, select, false);
  auto record_row = r->step();
  if (!record_row.ok()) return record_row.status();
  bool more = *record_row;
  auto claim_row = c->step();
  if (!claim_row.ok()) return claim_row.status();
  bool more_claims = *claim_row;
  while (more) {
    CaseFigureInputs in;
    in.case_id = r->column_text(0);
    auto next = read_case_records(*r, in.case_id, in.records);
    if (!next.ok()) return next.status();
    more = *next;
    sort_by_id(in.records);
    // Claims are in case order too: skip those of cases without selected records.
    while (more_claims) {
      const std::string claim_case = c->column_text(2);
      if (claim_case > in.case_id) break;
      if (claim_case == in.case_id) {
        auto claim = read_claim(*c);
        if (!claim.ok()) return claim.status();
        in.claims.push_back(std::move(*claim));
      }
      auto row = c->step();
      if (!row.ok()) return row.status();
      more_claims = *row;
    }
    FC_TRY(fn(in));
  }
  return {};
}

Status SqliteServerStore::rebuild_figure_facts(
    const std::function<Status(const FigureFactSink&)>& fill) {
  FC_TRY(store_->exec("DROP INDEX IF EXISTS figure_fact_case_indicator"));
  FC_TRY(clear_figure_facts());
  FC_TRY(fill([this](const std::vector<FigureFact>& facts) { return insert_figure_facts(facts); }));
  return store_->exec(kFigureFactCaseIndex);
}

Status SqliteServerStore::insert_figure_facts(const std::vector<FigureFact>& facts) {
  auto ins = stmt(
      "INSERT INTO figure_fact(indicator, record_id, case_id, start_at, end_at, "
      "end_received_at, detail, hit, flags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!ins.ok()) return ins.status();
  for (const auto& f : facts) {
    Use u(*ins);
    u->bind(1, f.indicator).bind(2, f.record_id).bind(3, f.case_id).bind(4, f.start);
    u->bind(5, f.end).bind(6, f.end_received_at).bind(7, f.detail).bind(8, f.hit ? 1 : 0);
    u->bind(9, f.flags);
    FC_TRY(u->run());
  }
  return {};
}

namespace {

FigureFact read_fact(const Statement& u) {
  return FigureFact{u.column_text(0), u.column_text(1),     u.column_text(2),
                    u.column_text(3), u.column_text(4),     u.column_text(5),
                    u.column_text(6), u.column_int(7) != 0, u.column_text(8)};
}

constexpr const char* kFactColumns =
    "indicator, record_id, case_id, start_at, end_at, end_received_at, detail, hit, flags";

}  // namespace

Result<std::vector<FigureFact>> SqliteServerStore::case_figure_facts(std::string_view case_id,
                                                                     std::string_view indicator) {
  // Sorted here: "ORDER BY record_id" led SQLite to read every fact of the indicator in
  // key order instead of the case's through its index.
  auto s = stmt(std::string("SELECT ") + kFactColumns +
                " FROM figure_fact WHERE case_id = ?1 AND indicator = ?2");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, case_id).bind(2, indicator);
  std::vector<FigureFact> out;
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(read_fact(*u));
  }
  std::sort(out.begin(), out.end(),
            [](const FigureFact& a, const FigureFact& b) { return a.record_id < b.record_id; });
  return out;
}

Status SqliteServerStore::replace_figure_facts(std::string_view case_id,
                                               const std::set<std::string, std::less<>>& indicators,
                                               const std::set<std::string, std::less<>>& records,
                                               const std::vector<FigureFact>& facts) {
  // Only the facts that changed are written: a sync usually changes one or two of a case's
  // facts, and rewriting all of them made a long-running case's every sync cost hundreds of
  // statements.
  std::map<std::pair<std::string, std::string>, FigureFact> before;
  if (!records.empty()) {
    // The named records' facts, each found by its key.
    auto s = stmt(std::string("SELECT ") + kFactColumns +
                  " FROM figure_fact WHERE indicator = ?1 AND record_id = ?2 AND case_id = ?3");
    if (!s.ok()) return s.status();
    for (const auto& indicator : indicators) {
      for (const auto& record_id : records) {
        Use u(*s);
        u->bind(1, indicator).bind(2, record_id).bind(3, case_id);
        auto row = u->step();
        if (!row.ok()) return row.status();
        if (!*row) continue;
        FigureFact f = read_fact(*u);
        auto key = std::make_pair(f.indicator, f.record_id);
        before.emplace(std::move(key), std::move(f));
      }
    }
  } else {
    auto s = stmt(
        "SELECT indicator, record_id, case_id, start_at, end_at, end_received_at, detail, hit, "
        "flags FROM figure_fact WHERE case_id = ?1");
    if (!s.ok()) return s.status();
    Use u(*s);
    u->bind(1, case_id);
    for (;;) {
      auto row = u->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      FigureFact f{u->column_text(0), u->column_text(1),     u->column_text(2),
                   u->column_text(3), u->column_text(4),     u->column_text(5),
                   u->column_text(6), u->column_int(7) != 0, u->column_text(8)};
      if (!indicators.empty() && !indicators.contains(f.indicator)) continue;
      auto key = std::make_pair(f.indicator, f.record_id);
      before.emplace(std::move(key), std::move(f));
    }
  }
  auto del = stmt("DELETE FROM figure_fact WHERE indicator = ?1 AND record_id = ?2");
  if (!del.ok()) return del.status();
  auto ins = stmt(
      "INSERT INTO figure_fact(indicator, record_id, case_id, start_at, end_at, "
      "end_received_at, detail, hit, flags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!ins.ok()) return ins.status();
  auto remove = [&](const std::pair<std::string, std::string>& key) -> Status {
    Use u(*del);
    u->bind(1, key.first).bind(2, key.second);
    return u->run();
  };
  std::set<std::pair<std::string, std::string>> kept;
  for (const auto& f : facts) {
    auto key = std::make_pair(f.indicator, f.record_id);
    kept.insert(key);
    if (auto it = before.find(key); it != before.end()) {
      if (it->second == f) continue;
      FC_TRY(remove(key));
    }
    Use u(*ins);
    u->bind(1, f.indicator).bind(2, f.record_id).bind(3, f.case_id).bind(4, f.start);
    u->bind(5, f.end).bind(6, f.end_received_at).bind(7, f.detail).bind(8, f.hit ? 1 : 0);
    u->bind(9, f.flags);
    FC_TRY(u->run());
  }
  for (const auto& [key, f] : before) {
    if (!kept.contains(key)) FC_TRY(remove(key));
  }
  return {};
}

Result<std::vector<FigureFact>> SqliteServerStore::figure_facts(std::string_view indicator) {
  auto attributed = attributed_figure_facts(indicator);
  if (!attributed.ok()) return attributed.status();
  std::vector<FigureFact> out;
  out.reserve(attributed->size());
  for (auto& a : *attributed) out.push_back(std::move(a.fact));
  return out;
}

namespace {

// The columns of an attributed fact: the fact and its case's current allocation.
constexpr const char* kAttributedFactColumns =
    "SELECT f.indicator, f.record_id, f.case_id, f.start_at, f.end_at, f.end_received_at, "
    "f.detail, f.hit, f.flags, coalesce(a.worker_id, ''), coalesce(w.team_id, ''), "
    "coalesce(t.area_id, '') FROM figure_fact f LEFT JOIN allocation a ON a.case_id = f.case_id "
    "LEFT JOIN worker w ON w.id = a.worker_id LEFT JOIN team t ON t.id = w.team_id ";

Result<std::vector<AttributedFact>> read_attributed_facts(Statement& u) {
  std::vector<AttributedFact> out;
  for (;;) {
    auto row = u.step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    AttributedFact a;
    FigureFact& f = a.fact;
    f.indicator = u.column_text(0);
    f.record_id = u.column_text(1);
    f.case_id = u.column_text(2);
    f.start = u.column_text(3);
    f.end = u.column_text(4);
    f.end_received_at = u.column_text(5);
    f.detail = u.column_text(6);
    f.hit = u.column_int(7) != 0;
    f.flags = u.column_text(8);
    a.worker = u.column_text(9);
    a.team = u.column_text(10);
    a.area = u.column_text(11);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

Result<std::vector<AttributedFact>> SqliteServerStore::attributed_figure_facts(
    std::string_view indicator) {
  // One statement per form: "indicator = ?1 OR ?1 = ''" kept SQLite off the primary key, so
  // each indicator's query read every fact.
  auto s = stmt(std::string(kAttributedFactColumns) +
                (indicator.empty() ? "ORDER BY f.indicator, f.record_id"
                                   : "WHERE f.indicator = ?1 ORDER BY f.indicator, f.record_id"));
  if (!s.ok()) return s.status();
  Use u(*s);
  if (!indicator.empty()) u->bind(1, indicator);
  return read_attributed_facts(*u);
}

Result<std::vector<AttributedFact>> SqliteServerStore::attributed_case_figure_facts(
    std::string_view case_id) {
  auto s = stmt(std::string(kAttributedFactColumns) +
                "WHERE f.case_id = ?1 ORDER BY f.indicator, f.record_id");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, case_id);
  return read_attributed_facts(*u);
}

Status SqliteServerStore::clear_figure_facts() {
  auto s = stmt("DELETE FROM figure_fact");
  if (!s.ok()) return s.status();
  Use u(*s);
  return u->run();
}

Result<std::vector<std::string>> SqliteServerStore::case_ids() {
  auto s = stmt("SELECT DISTINCT case_id FROM record WHERE case_id <> '' ORDER BY case_id");
  if (!s.ok()) return s.status();
  Use u(*s);
  std::vector<std::string> out;
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(u->column_text(0));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Audit

Status SqliteServerStore::append_audit(const AuditEvent& event) {
  return store_->transaction([&]() -> Status {
    AuditEvent e = event;
    {
      auto h = stmt("SELECT seq, hash FROM audit_head WHERE id = 1");
      if (!h.ok()) return h.status();
      Use u(*h);
      auto row = u->step();
      if (!row.ok()) return row.status();
      if (!*row) return {Errc::integrity, "the audit chain has no head"};
      e.seq = u->column_int(0) + 1;
      e.prev_hash = u->column_text(1);
    }
    e.hash = audit_hash(e.prev_hash, e);
    {
      auto s = stmt(std::string("INSERT INTO audit(") + kAuditColumns +
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
      if (!s.ok()) return s.status();
      Use u(*s);
      FC_TRY(insert_audit_row(*u, e));
    }
    auto up = stmt("UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1");
    if (!up.ok()) return up.status();
    Use u(*up);
    u->bind(1, e.seq).bind(2, e.hash);
    return u->run();
  });
}

Result<std::vector<AuditEvent>> SqliteServerStore::audit_events(std::string_view event) {
  AuditQuery q;
  q.event = std::string(event);
  q.limit = std::numeric_limits<std::size_t>::max() / 2;
  return query_audit(q);
}

Result<std::vector<AuditEvent>> SqliteServerStore::query_audit(const AuditQuery& q) {
  auto s = stmt(std::string("SELECT ") + kAuditColumns +
                " FROM audit WHERE (?1 = '' OR case_id = ?1) AND (?2 = '' OR worker_id = ?2) "
                "AND (?3 = '' OR device_id = ?3) AND (?4 = '' OR event = ?4) "
                "AND (?5 = 0 OR (event IN ('case_read', 'case_write') AND outcome = 'ok' "
                "AND relation NOT IN ('own', ''))) ORDER BY seq LIMIT ?6");
  if (!s.ok()) return s.status();
  Use u(*s);
  u->bind(1, q.case_id).bind(2, q.worker_id).bind(3, q.device_id).bind(4, q.event);
  u->bind(5, q.not_allocated ? 1 : 0);
  u->bind(6, static_cast<std::int64_t>(
                 std::min<std::size_t>(q.limit, std::numeric_limits<std::int64_t>::max())));
  std::vector<AuditEvent> out;
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(read_audit(*u));
  }
  return out;
}

Result<AuditVerification> SqliteServerStore::verify_audit() {
  AuditVerification v;
  std::string recorded_head;
  std::int64_t recorded_seq = 0;
  {
    auto h = stmt("SELECT seq, hash FROM audit_head WHERE id = 1");
    if (!h.ok()) return h.status();
    Use u(*h);
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (*row) {
      recorded_seq = u->column_int(0);
      recorded_head = u->column_text(1);
    }
  }
  auto s = stmt(std::string("SELECT ") + kAuditColumns + " FROM audit ORDER BY seq");
  if (!s.ok()) return s.status();
  Use u(*s);
  std::string prev = kZeroHash;
  std::int64_t expected_seq = 1;
  auto fail = [&v](std::int64_t seq, std::string problem) {
    if (!v.intact) return;
    v.intact = false;
    v.first_bad_seq = seq;
    v.problem = std::move(problem);
  };
  for (;;) {
    auto row = u->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    AuditEvent e = read_audit(*u);
    ++v.entries;
    if (e.seq != expected_seq) {
      fail(expected_seq, "entry " + std::to_string(expected_seq) + " is missing");
    } else if (e.prev_hash != prev) {
      fail(e.seq, "entry " + std::to_string(e.seq) + " does not follow the previous entry");
    } else if (audit_hash(prev, e) != e.hash) {
      fail(e.seq, "entry " + std::to_string(e.seq) + " was changed after it was written");
    }
    expected_seq = e.seq + 1;
    prev = e.hash;  // carry on from the stored hash so one edit is reported once
  }
  v.head_hash = prev;
  if (v.intact && (recorded_seq != expected_seq - 1 || recorded_head != prev)) {
    fail(recorded_seq, "the chain ends at entry " + std::to_string(expected_seq - 1) +
                           " but the recorded head is entry " + std::to_string(recorded_seq) +
                           " (entries were removed from the end)");
  }
  return v;
}

}  // namespace fieldcase::server
