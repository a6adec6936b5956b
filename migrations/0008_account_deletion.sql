-- A deleted account vanishes at once (is_active = false, deleted_at set, its likes, comments and
-- follows removed with the counters they fed); a purge job then removes every row and object
-- that is the user's. deleted_at marks the accounts a purge still has to finish.
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
CREATE INDEX users_deleted_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;
