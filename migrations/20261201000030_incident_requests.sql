-- The partner HTTP intake's idempotency keys (POST /api/v1/incidents with an
-- Idempotency-Key header): a retried request with the same key gets the
-- incident the first one opened instead of a second one. Keys are per
-- partner; `fingerprint` (SHA-256 of the request's fields) tells a retry
-- from another request reusing the key.
CREATE TABLE incident_requests (
    partner     TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    incident    INTEGER NOT NULL REFERENCES incidents (id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (partner, key)
);
