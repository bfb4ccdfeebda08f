-- A release run may be cancelled (/release cancel): the state check gains
-- 'cancelled'. SQLite cannot alter a CHECK, so the table is rebuilt with
-- its rows and ids (AUTOINCREMENT carries on from the highest id).
CREATE TABLE releases_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('open', 'closed', 'cancelled')),
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO releases_new (id, name, channel, state, body, created_at, updated_at)
    SELECT id, name, channel, state, body, created_at, updated_at FROM releases;
DROP TABLE releases;
ALTER TABLE releases_new RENAME TO releases;
CREATE INDEX releases_open_channel ON releases (channel) WHERE state = 'open';
