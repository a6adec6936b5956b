-- Blocks and mutes (db/blocks.py, server/routes/blocks.py).
--
-- A block is symmetric in effect: after A blocks B, each is absent to the other (profile, posts,
-- comments, likes, follower lists, notifications, live events), whoever blocked. Only the
-- blocker can lift it; if both blocked, both must. The rule is written once, as db/blocks.py
-- APART, and used by the visibility SQL of every surface.
--
-- A mute is one-way and silent: the muted account's posts leave the muter's feed and explore,
-- and its actions no longer notify the muter. Nothing changes for the muted one.
CREATE TABLE blocks (
    blocker_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT blocks_pkey PRIMARY KEY (blocker_id, blocked_id),
    CONSTRAINT blocks_not_self CHECK (blocker_id <> blocked_id)
);
-- APART probes both directions: (blocker, blocked) by the key, (blocked, blocker) here.
CREATE INDEX blocks_blocked_idx ON blocks (blocked_id, blocker_id);
-- GET /v1/me/blocks, newest first.
CREATE INDEX blocks_list_idx ON blocks (blocker_id, created_at DESC, blocked_id DESC);

CREATE TABLE mutes (
    muter_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    muted_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mutes_pkey PRIMARY KEY (muter_id, muted_id),
    CONSTRAINT mutes_not_self CHECK (muter_id <> muted_id)
);
CREATE INDEX mutes_muted_idx ON mutes (muted_id);
CREATE INDEX mutes_list_idx ON mutes (muter_id, created_at DESC, muted_id DESC);
