-- The arq function of each job, so a job whose queue entry was lost (Redis restarted without
-- persistence) can be enqueued again under the same id.
ALTER TABLE jobs ADD COLUMN function text;
UPDATE jobs SET function = kind WHERE function IS NULL;
CREATE INDEX jobs_stale_idx ON jobs (updated_at) WHERE status IN ('queued', 'running');
