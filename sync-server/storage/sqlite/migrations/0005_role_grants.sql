-- role grants awaiting a second person
CREATE TABLE role_grant (
  id TEXT PRIMARY KEY, worker_id TEXT NOT NULL REFERENCES worker(id), role TEXT NOT NULL,
  from_role TEXT NOT NULL, requested_by TEXT NOT NULL, requested_at TEXT NOT NULL,
  state TEXT NOT NULL, decided_by TEXT NOT NULL DEFAULT '', decided_at TEXT NOT NULL DEFAULT '');
CREATE UNIQUE INDEX role_grant_pending ON role_grant(worker_id) WHERE state = 'pending';
