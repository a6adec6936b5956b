-- Authors whose posts are not written into each follower's home timeline (drape/timelines.py)
-- because they have too many followers (TIMELINE_FANOUT_MAX_FOLLOWERS): their posts are merged
-- into a follower's feed when it is read (db/timelines.py SELECT_PAGE). The fan-out job adds an
-- author the first time it meets one above the threshold, before it skips the followers; rows
-- are never removed, since posts written while an author was here are in no timeline.
CREATE TABLE feed_pull_authors (
    author_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    since      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT feed_pull_authors_pkey PRIMARY KEY (author_id)
);
