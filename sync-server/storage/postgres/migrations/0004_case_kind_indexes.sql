-- a case's records by kind, and its figure facts by indicator
-- A sync's figures read a case's plans without its hundreds of visits, and the facts of one
-- indicator of a case without the others.
CREATE INDEX record_case_kind ON record(case_id, kind);
DROP INDEX record_case;
DROP INDEX figure_fact_case;
CREATE INDEX figure_fact_case_indicator ON figure_fact(case_id, indicator);
