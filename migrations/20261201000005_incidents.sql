-- Partner incidents (/incident). The incident itself is one JSON document
-- (domain::incident::Incident: its clock, resolution and timeline); the
-- columns beside it are what lists, reports and /metrics filter on.
CREATE TABLE incidents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    severity     TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    partner      TEXT,
    opened_at    INTEGER NOT NULL,
    responded_at INTEGER,
    breached_at  INTEGER,
    body         TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE INDEX incidents_by_opening ON incidents (opened_at);
CREATE INDEX incidents_by_state ON incidents (state, id);
