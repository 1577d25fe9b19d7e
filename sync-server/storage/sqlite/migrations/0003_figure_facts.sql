-- figure facts
CREATE TABLE figure_fact (
  indicator TEXT NOT NULL, record_id TEXT NOT NULL, case_id TEXT NOT NULL,
  start_at TEXT NOT NULL, end_at TEXT NOT NULL, end_received_at TEXT NOT NULL,
  detail TEXT NOT NULL, hit INTEGER NOT NULL, flags TEXT NOT NULL,
  PRIMARY KEY (indicator, record_id));
CREATE INDEX figure_fact_case ON figure_fact(case_id);
