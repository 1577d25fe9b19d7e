-- chained audit log; passwords, enrollment codes, web sessions, device names
-- The audit log becomes a hash chain with user, device, record, action, outcome and relation.
-- The entries written before stay in audit_v1 here; code run after this file chains them in
-- their original order into audit and drops audit_v1 (the hash is BLAKE2b, which SQL cannot
-- compute).
DROP INDEX audit_event;
ALTER TABLE audit RENAME TO audit_v1;
ALTER INDEX audit_pkey RENAME TO audit_v1_pkey;
CREATE TABLE audit (
  seq BIGINT PRIMARY KEY, id TEXT COLLATE "C" NOT NULL UNIQUE, at TEXT COLLATE "C" NOT NULL, event TEXT COLLATE "C" NOT NULL,
  outcome TEXT COLLATE "C" NOT NULL, worker_id TEXT COLLATE "C" NOT NULL, device_id TEXT COLLATE "C" NOT NULL,
  case_id TEXT COLLATE "C" NOT NULL, record_id TEXT COLLATE "C" NOT NULL, tx_id TEXT COLLATE "C" NOT NULL, relation TEXT COLLATE "C" NOT NULL,
  detail TEXT COLLATE "C" NOT NULL, prev_hash TEXT COLLATE "C" NOT NULL, hash TEXT COLLATE "C" NOT NULL);
CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT COLLATE "C" NOT NULL);
CREATE INDEX audit_event ON audit(event, at);
CREATE INDEX audit_case ON audit(case_id, seq);
CREATE INDEX audit_worker ON audit(worker_id, seq);
ALTER TABLE worker ADD COLUMN password_hash TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE worker ADD COLUMN failed_signins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE worker ADD COLUMN locked_until TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE device ADD COLUMN name TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE TABLE enrollment_code (
  id TEXT COLLATE "C" PRIMARY KEY, lookup TEXT COLLATE "C" NOT NULL, code_hash TEXT COLLATE "C" NOT NULL,
  worker_id TEXT COLLATE "C" NOT NULL REFERENCES worker(id), created_at TEXT COLLATE "C" NOT NULL,
  expires_at TEXT COLLATE "C" NOT NULL, used_at TEXT COLLATE "C" NOT NULL DEFAULT '', device_id TEXT COLLATE "C" NOT NULL DEFAULT '',
  failed_attempts BIGINT NOT NULL DEFAULT 0);
CREATE INDEX enrollment_code_lookup ON enrollment_code(lookup);
CREATE TABLE web_session (
  id_hash TEXT COLLATE "C" PRIMARY KEY, worker_id TEXT COLLATE "C" NOT NULL REFERENCES worker(id),
  created_at TEXT COLLATE "C" NOT NULL, last_seen_at TEXT COLLATE "C" NOT NULL, expires_at TEXT COLLATE "C" NOT NULL);
CREATE INDEX web_session_worker ON web_session(worker_id);
