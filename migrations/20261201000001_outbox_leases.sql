-- How many times a delivery worker has leased each outbox row. A row leased
-- before may already have reached the platform even though no attempt was
-- recorded (the process stopped during the send), so before sending such a
-- row again the worker checks for the earlier copy. A lease handed back
-- without a send does not count.
ALTER TABLE outbox ADD COLUMN leases INTEGER NOT NULL DEFAULT 0;
