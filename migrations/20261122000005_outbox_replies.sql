-- A message may answer another: `reply_to_key` names the living message
-- (by its message_key, in the same channel) it is a thread reply to.
ALTER TABLE outbox ADD COLUMN reply_to_key TEXT;
