-- figure facts
CREATE TABLE figure_fact (
  indicator TEXT COLLATE "C" NOT NULL, record_id TEXT COLLATE "C" NOT NULL, case_id TEXT COLLATE "C" NOT NULL,
  start_at TEXT COLLATE "C" NOT NULL, end_at TEXT COLLATE "C" NOT NULL, end_received_at TEXT COLLATE "C" NOT NULL,
  detail TEXT COLLATE "C" NOT NULL, hit INTEGER NOT NULL, flags TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (indicator, record_id));
CREATE INDEX figure_fact_case ON figure_fact(case_id);
