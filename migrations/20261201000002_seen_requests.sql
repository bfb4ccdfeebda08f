-- Signed chat requests (Slack commands and interactions, Discord
-- interactions) already accepted, by a digest of their signed timestamp and
-- body, so the same request sent again while its signature is still fresh
-- (5 minutes) is refused. Rows whose signature has gone stale are pruned.
CREATE TABLE seen_requests (
    digest    BLOB    PRIMARY KEY,
    signed_at INTEGER NOT NULL      -- the request's signed timestamp, unix ms
) WITHOUT ROWID;
CREATE INDEX seen_requests_signed_at ON seen_requests (signed_at);
