-- Mail that reached shipmate through the inbound-mail webhook, once per
-- Message-ID (a relay's retry is the same mail): what it became (an
-- incident opened or added to, or held for the support role to accept).
CREATE TABLE inbound_mail (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    sender TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- 'opened', 'added', 'held', 'accepted'
    state TEXT NOT NULL,
    -- the n of the INC-n it opened or joined
    incident INTEGER,
    received_at INTEGER NOT NULL
);
