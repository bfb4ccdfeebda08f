-- The pipeline run a deploy request triggered (pipeline_runs.key), so its
-- webhooks find the request's card.
ALTER TABLE deploy_requests ADD COLUMN run_key TEXT;

CREATE INDEX deploy_requests_by_run ON deploy_requests (run_key) WHERE run_key IS NOT NULL;
