-- The version policy (/version): releases of each service, and the day
-- support ends (EOSL) for a major version of a service.
CREATE TABLE version_releases (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service     TEXT    NOT NULL,
    major       INTEGER NOT NULL,
    minor       INTEGER NOT NULL,
    patch       INTEGER NOT NULL,
    notes       TEXT,
    released_by TEXT    NOT NULL,
    released_at INTEGER NOT NULL,
    UNIQUE (service, major, minor, patch)
);

CREATE TABLE version_eosl (
    service TEXT    NOT NULL,
    major   INTEGER NOT NULL,
    eosl_on TEXT    NOT NULL,   -- YYYY-MM-DD: support ends on this day
    set_by  TEXT    NOT NULL,
    set_at  INTEGER NOT NULL,
    PRIMARY KEY (service, major)
);
