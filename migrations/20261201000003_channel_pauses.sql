-- A channel the platform rate-limited (429, Retry-After): nothing more is
-- sent to it until `until` (unix ms), so its messages keep their order and
-- other channels keep flowing. Expired rows are pruned when a pause is set.
CREATE TABLE channel_pauses (
    channel TEXT    PRIMARY KEY,
    until   INTEGER NOT NULL
);
