-- Pipeline notifications: every accepted webhook delivery (the dedup table)
-- and every run folded from them. Times are unix milliseconds (UTC).

-- One row per accepted delivery: a second delivery with the same
-- (source, delivery_id) is acknowledged and not applied again.
CREATE TABLE pipeline_deliveries (
    source      TEXT    NOT NULL CHECK (source IN ('github', 'gitlab', 'aws', 'generic')),
    delivery_id TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('applied', 'ignored')),
    run_key     TEXT,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (source, delivery_id)
);

-- One row per run (pipeline:{source}:{run id}:{attempt}); `body` is the
-- folded run as JSON, the other columns are what commands filter on.
CREATE TABLE pipeline_runs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT    NOT NULL UNIQUE,
    source      TEXT    NOT NULL,
    pipeline    TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    routed      INTEGER NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN
                ('queued', 'waiting', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'skipped')),
    updated_at  INTEGER NOT NULL,
    body        TEXT    NOT NULL
);
CREATE INDEX pipeline_runs_latest ON pipeline_runs (environment, pipeline, seq);
CREATE INDEX pipeline_runs_history ON pipeline_runs (pipeline, seq);
