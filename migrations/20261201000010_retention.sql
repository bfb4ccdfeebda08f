-- Retention (the `[retention]` keys): the rows that grow without bound are
-- found by age, so each kind gets an index on the time it is pruned by.
-- The audit log has none: it is never pruned.
CREATE INDEX pipeline_deliveries_received ON pipeline_deliveries (received_at);
CREATE INDEX pipeline_runs_updated ON pipeline_runs (updated_at);
CREATE INDEX outbox_delivered_at ON outbox (delivered_at) WHERE state = 'delivered';
-- A pruned run's messages are found by key, in any channel.
CREATE INDEX outbox_key ON outbox (message_key) WHERE message_key IS NOT NULL;
CREATE INDEX jobs_finished_due ON jobs (due_at) WHERE state IN ('done', 'cancelled');
