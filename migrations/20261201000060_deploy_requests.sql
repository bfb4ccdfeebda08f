-- Deploy requests (/deploy): the request itself is one JSON document
-- (domain::deploy::DeployRequest: approvals, objections, override, trigger
-- progress); the columns beside it are what lists and look-ups filter on.
CREATE TABLE deploy_requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    target     TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX deploy_requests_by_state ON deploy_requests (state, id);
