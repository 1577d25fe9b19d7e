-- role grants awaiting a second person
CREATE TABLE role_grant (
  id TEXT COLLATE "C" PRIMARY KEY, worker_id TEXT COLLATE "C" NOT NULL REFERENCES worker(id), role TEXT COLLATE "C" NOT NULL,
  from_role TEXT COLLATE "C" NOT NULL, requested_by TEXT COLLATE "C" NOT NULL, requested_at TEXT COLLATE "C" NOT NULL,
  state TEXT COLLATE "C" NOT NULL, decided_by TEXT COLLATE "C" NOT NULL DEFAULT '', decided_at TEXT COLLATE "C" NOT NULL DEFAULT '');
CREATE UNIQUE INDEX role_grant_pending ON role_grant(worker_id) WHERE state = 'pending';
