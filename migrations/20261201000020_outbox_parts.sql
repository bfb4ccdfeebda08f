-- A posted message too long for one platform message is delivered whole, in
-- parts (each the first page of what is left). The row records its progress
-- so a restart between parts sends each part once: how many parts went
-- (`parts_sent`), where the next one starts in the message's rendered text
-- (`part_offset`, a byte offset), and the platform id of the first part
-- (`first_part_id`, the thread the others follow in; it becomes the row's
-- platform_message_id once the last part is delivered).
ALTER TABLE outbox ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN part_offset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN first_part_id TEXT;
