-- Core tables: audit log, durable jobs, outbox, role grants, deletion requests.
-- Times are unix milliseconds (UTC) unless named otherwise.

CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    platform TEXT    NOT NULL,
    record   TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    detail   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_record ON audit_log (record, id);

-- Append-only, enforced by the database itself.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Every timed thing: one-shot jobs (due_at) and recurring ones (cron).
CREATE TABLE jobs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    payload    TEXT    NOT NULL DEFAULT '{}',
    due_at     INTEGER NOT NULL,
    cron       TEXT,
    dedup_key  TEXT UNIQUE,
    state      TEXT    NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'done', 'failed', 'cancelled')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    fired_at   INTEGER
);
CREATE INDEX jobs_pending_due ON jobs (due_at) WHERE state = 'pending';

-- Every outgoing chat message, written with the state change that causes it.
CREATE TABLE outbox (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    channel             TEXT    NOT NULL,
    body                TEXT    NOT NULL,
    message_key         TEXT,
    state               TEXT    NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'delivered', 'parked')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL,
    lease_until         INTEGER,
    created_at          INTEGER NOT NULL,
    delivered_at        INTEGER,
    platform_message_id TEXT,
    last_error          TEXT
);
CREATE INDEX outbox_pending_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_message_key ON outbox (channel, message_key) WHERE message_key IS NOT NULL;

CREATE TABLE role_grants (
    role       TEXT    NOT NULL,
    member     TEXT    NOT NULL,
    granted_by TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (role, member)
);

CREATE TABLE deletion_requests (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    target            TEXT    NOT NULL,
    reason            TEXT    NOT NULL CHECK (reason IN ('incorrect-input', 'duplicate-run', 'other')),
    justification     TEXT    NOT NULL,
    sensitivity       TEXT    NOT NULL CHECK (sensitivity IN ('low', 'medium', 'high')),
    stakeholders      TEXT    NOT NULL DEFAULT '[]',
    channel           TEXT    NOT NULL,
    requester         TEXT    NOT NULL,
    requester_person  TEXT    NOT NULL,
    needs_product     INTEGER NOT NULL,
    state             TEXT    NOT NULL CHECK (state IN
                      ('pending-approval', 'cooling-off', 'on-hold', 'ready', 'done', 'cancelled')),
    held_from         TEXT,
    cooling_off_until INTEGER,
    approvals         TEXT    NOT NULL DEFAULT '[]',
    objections        TEXT    NOT NULL DEFAULT '[]',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    closed_note       TEXT
);
CREATE INDEX deletion_requests_state ON deletion_requests (state);
