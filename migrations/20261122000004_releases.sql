-- Release runs (the whole run as JSON: template tasks copied at start, task
-- states, sign-offs) and freeze/backport windows.

CREATE TABLE releases (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('open', 'closed')),
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX releases_open_channel ON releases (channel) WHERE state = 'open';

CREATE TABLE freeze_windows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    target     TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('freeze', 'backport')),
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    opened_by  TEXT    NOT NULL,
    ended_at   INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX freeze_windows_target ON freeze_windows (target, ends_at);
