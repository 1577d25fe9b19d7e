-- organisation, devices, records, log, outcomes, conflicts, scope, times, audit
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
