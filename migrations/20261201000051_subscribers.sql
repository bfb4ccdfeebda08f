-- E-mail subscribers of the status page's notices: pending until the
-- owner confirms (double opt-in); `token` is the secret of the address's
-- confirmation and unsubscribe links. Leaving deletes the row.
CREATE TABLE subscribers (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    -- comma-separated topics: downtime, releases
    topics TEXT NOT NULL,
    state TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    confirmed_at INTEGER
);
