-- the figure change log and request windows, shared by every server instance on the database
-- The dashboard's change feed and facts cache follow figure_change: every write that can move
-- a figure appends the case it touched (an empty case_id: every case), in its own transaction,
-- with an id that grows in commit order. Pruned entries are summed up by pruned_through.
-- request_window counts each device's sync requests in fixed windows, one atomic
-- statement each.
CREATE TABLE figure_change (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  case_id TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX figure_change_at ON figure_change(at_ms);
CREATE TABLE figure_change_pruned (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  pruned_through INTEGER NOT NULL
);
INSERT INTO figure_change_pruned(id, pruned_through) VALUES (1, 0);
CREATE TABLE request_window (
  bucket TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  requests INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX request_window_start ON request_window(window_start);
