-- organisation, devices, records, log, outcomes, conflicts, scope, times, audit
-- The SQLite schema of the same version with BIGINT keys, without SQLite's storage hints, and
-- every text column in byte order (COLLATE "C"), so ORDER BY and comparisons agree with SQLite
-- whatever the database's locale. Flags stay INTEGER 0/1 so both stores share their statements.
CREATE TABLE authority (
  id TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL, la_code TEXT COLLATE "C" NOT NULL, created_at TEXT COLLATE "C" NOT NULL);
CREATE TABLE area (
  id TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL, authority_id TEXT COLLATE "C" NOT NULL REFERENCES authority(id),
  created_at TEXT COLLATE "C" NOT NULL);
CREATE TABLE team (
  id TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL, area_id TEXT COLLATE "C" NOT NULL REFERENCES area(id),
  created_at TEXT COLLATE "C" NOT NULL);
CREATE TABLE worker (
  id TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL, role TEXT COLLATE "C" NOT NULL, team_id TEXT COLLATE "C" REFERENCES team(id),
  active INTEGER NOT NULL DEFAULT 1, created_at TEXT COLLATE "C" NOT NULL);
CREATE INDEX worker_team ON worker(team_id);
CREATE TABLE device (
  id TEXT COLLATE "C" PRIMARY KEY, worker_id TEXT COLLATE "C" NOT NULL REFERENCES worker(id),
  token_hash TEXT COLLATE "C" NOT NULL UNIQUE, status TEXT COLLATE "C" NOT NULL, created_at TEXT COLLATE "C" NOT NULL,
  revoked_at TEXT COLLATE "C" NOT NULL DEFAULT '', last_sync_at TEXT COLLATE "C" NOT NULL DEFAULT '',
  clock_offset_ms BIGINT, clock_samples TEXT COLLATE "C" NOT NULL DEFAULT '');
CREATE TABLE server_seq (id INTEGER PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO server_seq(id, value) VALUES (1, 0);
CREATE TABLE allocation (
  case_id TEXT COLLATE "C" PRIMARY KEY, worker_id TEXT COLLATE "C" NOT NULL REFERENCES worker(id),
  seq BIGINT NOT NULL, allocated_at TEXT COLLATE "C" NOT NULL);
CREATE INDEX allocation_worker ON allocation(worker_id);
CREATE TABLE allocation_history (
  seq BIGINT PRIMARY KEY, case_id TEXT COLLATE "C" NOT NULL, worker_id TEXT COLLATE "C" NOT NULL,
  previous_worker_id TEXT COLLATE "C" NOT NULL DEFAULT '', allocated_at TEXT COLLATE "C" NOT NULL);
CREATE TABLE record (
  id TEXT COLLATE "C" PRIMARY KEY, kind TEXT COLLATE "C" NOT NULL, case_id TEXT COLLATE "C" NOT NULL,
  created_at TEXT COLLATE "C" NOT NULL, created_by TEXT COLLATE "C" NOT NULL, created_hlc TEXT COLLATE "C" NOT NULL,
  updated_at TEXT COLLATE "C" NOT NULL, updated_by TEXT COLLATE "C" NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0, deleted_hlc TEXT COLLATE "C" NOT NULL DEFAULT '');
CREATE INDEX record_case ON record(case_id);
CREATE TABLE record_field (
  record_id TEXT COLLATE "C" NOT NULL REFERENCES record(id), name TEXT COLLATE "C" NOT NULL, value TEXT COLLATE "C" NOT NULL,
  hlc TEXT COLLATE "C" NOT NULL, author TEXT COLLATE "C" NOT NULL, PRIMARY KEY (record_id, name));
CREATE TABLE change_log (
  seq BIGINT PRIMARY KEY, op_id TEXT COLLATE "C" NOT NULL DEFAULT '', tx_id TEXT COLLATE "C" NOT NULL DEFAULT '',
  op TEXT COLLATE "C" NOT NULL, record_id TEXT COLLATE "C" NOT NULL, kind TEXT COLLATE "C" NOT NULL, case_id TEXT COLLATE "C" NOT NULL,
  field TEXT COLLATE "C" NOT NULL DEFAULT '', value TEXT COLLATE "C", hlc TEXT COLLATE "C" NOT NULL, author TEXT COLLATE "C" NOT NULL,
  device_id TEXT COLLATE "C" NOT NULL DEFAULT '', at TEXT COLLATE "C" NOT NULL, received_at TEXT COLLATE "C" NOT NULL);
CREATE INDEX change_log_case ON change_log(case_id, seq);
CREATE TABLE applied_op (op_id TEXT COLLATE "C" PRIMARY KEY, tx_id TEXT COLLATE "C" NOT NULL);
CREATE TABLE sync_transaction (
  tx_id TEXT COLLATE "C" PRIMARY KEY, device_id TEXT COLLATE "C" NOT NULL, outcome TEXT COLLATE "C" NOT NULL,
  code TEXT COLLATE "C" NOT NULL DEFAULT '', reason TEXT COLLATE "C" NOT NULL DEFAULT '', op_count BIGINT NOT NULL,
  device_time TEXT COLLATE "C" NOT NULL, received_at TEXT COLLATE "C" NOT NULL);
CREATE TABLE conflict (
  id TEXT COLLATE "C" PRIMARY KEY, record_id TEXT COLLATE "C" NOT NULL, case_id TEXT COLLATE "C" NOT NULL, field TEXT COLLATE "C" NOT NULL,
  kept TEXT COLLATE "C" NOT NULL, kept_hlc TEXT COLLATE "C" NOT NULL, lost TEXT COLLATE "C" NOT NULL, lost_hlc TEXT COLLATE "C" NOT NULL,
  lost_author TEXT COLLATE "C" NOT NULL, lost_device TEXT COLLATE "C" NOT NULL, detected_seq BIGINT NOT NULL,
  detected_at TEXT COLLATE "C" NOT NULL, resolved_seq BIGINT NOT NULL DEFAULT 0,
  resolved_at TEXT COLLATE "C" NOT NULL DEFAULT '');
CREATE INDEX conflict_case ON conflict(case_id);
CREATE INDEX conflict_field ON conflict(record_id, field);
CREATE TABLE device_case (
  device_id TEXT COLLATE "C" NOT NULL, case_id TEXT COLLATE "C" NOT NULL, state TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (device_id, case_id));
CREATE TABLE claimed_time (
  record_id TEXT COLLATE "C" NOT NULL, field TEXT COLLATE "C" NOT NULL, case_id TEXT COLLATE "C" NOT NULL, kind TEXT COLLATE "C" NOT NULL,
  claimed TEXT COLLATE "C" NOT NULL, corrected TEXT COLLATE "C" NOT NULL, received_at TEXT COLLATE "C" NOT NULL,
  offset_ms BIGINT NOT NULL, device_id TEXT COLLATE "C" NOT NULL, worker_id TEXT COLLATE "C" NOT NULL,
  tx_id TEXT COLLATE "C" NOT NULL, after_receipt INTEGER NOT NULL, before_start INTEGER NOT NULL,
  large_offset INTEGER NOT NULL, PRIMARY KEY (record_id, field));
CREATE INDEX claimed_time_case ON claimed_time(case_id);
CREATE TABLE audit (
  id TEXT COLLATE "C" PRIMARY KEY, at TEXT COLLATE "C" NOT NULL, event TEXT COLLATE "C" NOT NULL,
  device_id TEXT COLLATE "C" NOT NULL DEFAULT '', worker_id TEXT COLLATE "C" NOT NULL DEFAULT '',
  case_id TEXT COLLATE "C" NOT NULL DEFAULT '', tx_id TEXT COLLATE "C" NOT NULL DEFAULT '',
  detail TEXT COLLATE "C" NOT NULL DEFAULT '');
CREATE INDEX audit_event ON audit(event, at);
