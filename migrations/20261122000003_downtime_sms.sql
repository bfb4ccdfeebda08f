-- Downtime windows (DT-n) and SMS credit balances with their alert memory.
-- Times are unix milliseconds (UTC).

CREATE TABLE downtimes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    environment   TEXT    NOT NULL,
    starts_at     INTEGER NOT NULL,
    ends_at       INTEGER NOT NULL CHECK (ends_at > starts_at),
    reason        TEXT    NOT NULL,
    audience      TEXT,
    state         TEXT    NOT NULL CHECK (state IN ('announced', 'in-progress', 'completed', 'cancelled')),
    -- Bumped on every postpone and on cancel: the calendar's SEQUENCE and the timers' guard.
    version       INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0),
    announced_by  TEXT    NOT NULL,
    started_at    INTEGER,
    started_by    TEXT,
    completed_at  INTEGER,
    cancel_reason TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX downtimes_env_state ON downtimes (environment, state);
CREATE INDEX downtimes_state_start ON downtimes (state, starts_at);

-- Every recorded SMS balance: typed with /sms balance, or read by the poller.
CREATE TABLE sms_balances (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    credits     INTEGER NOT NULL CHECK (credits >= 0),
    source      TEXT    NOT NULL CHECK (source IN ('command', 'poller')),
    recorded_by TEXT    NOT NULL
);
CREATE INDEX sms_balances_at ON sms_balances (at);

-- The last alert sent per condition: at most one a day unless it worsens.
CREATE TABLE sms_alerts (
    condition TEXT    PRIMARY KEY CHECK (condition IN ('low-balance', 'run-out', 'poll-failed')),
    at        INTEGER NOT NULL,
    severity  INTEGER NOT NULL
);
