-- enrollment codes keyed with the server secret; failed enrollments per address
-- Codes were stored as their first group in clear and an unkeyed hash of the whole, which a
-- copy of the database could reverse. They cannot be re-keyed without the code itself: every
-- outstanding code ends now (it must be issued again) and what was kept of every code is
-- erased. Failed enrollments per address move from each process's memory into the database,
-- so every server process on it counts the same.
CREATE TABLE enrollment_failure (source TEXT COLLATE "C" NOT NULL, at_ms BIGINT NOT NULL);
CREATE INDEX enrollment_failure_source ON enrollment_failure(source, at_ms);
CREATE INDEX enrollment_failure_at ON enrollment_failure(at_ms);
UPDATE enrollment_code SET lookup = 'retired:' || id, code_hash = '',
  expires_at = CASE
    WHEN used_at = '' AND
         expires_at > to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    THEN to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') ELSE expires_at END;
