-- Moderation (server/routes/reports.py, db/reports.py): reports on users, posts and comments,
-- an audit row per moderation action, and the states a moderator or the reports themselves put
-- content and accounts in.
--
-- removed_at: a moderator removed the post or comment; it is gone for everyone, its author too.
-- hidden_at: reports from REPORT_HIDE_THRESHOLD accounts hid it pending review; only its author
--   still sees it, and a dismissal shows it again.
-- Either takes the content out of the counters (posts.comment_count, users.post_count) that
-- everyone else reads; what is both hidden and removed left them once.
ALTER TABLE posts ADD COLUMN hidden_at timestamptz, ADD COLUMN removed_at timestamptz;
ALTER TABLE comments ADD COLUMN hidden_at timestamptz, ADD COLUMN removed_at timestamptz;
-- A suspended account is inactive (is_active = false) until an admin lifts the suspension.
ALTER TABLE users ADD COLUMN suspended_at timestamptz;

-- The feed's probe per followed author (db/posts.py SELECT_FEED) filters on the two states
-- without leaving the index.
DROP INDEX posts_author_timeline_idx;
CREATE INDEX posts_author_timeline_idx ON posts (author_id, created_at DESC, id DESC)
    INCLUDE (hidden_at, removed_at);

CREATE TABLE reports (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reporter_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_type  text NOT NULL,
    target_id    uuid NOT NULL,
    -- The account reported: the user itself, or the post's or comment's author. Reports about an
    -- account go with it when it is purged.
    owner_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason       text NOT NULL,
    comment      text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'open',
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    action_id    uuid,
    CONSTRAINT reports_target_type_valid CHECK (target_type IN ('user', 'post', 'comment')),
    CONSTRAINT reports_reason_valid CHECK (reason IN ('spam', 'harassment', 'hate', 'nudity',
        'violence', 'self_harm', 'intellectual_property', 'other')),
    CONSTRAINT reports_status_valid CHECK (status IN ('open', 'resolved')),
    CONSTRAINT reports_resolved_when CHECK ((status = 'open') = (resolved_at IS NULL)),
    CONSTRAINT reports_comment_length CHECK (char_length(comment) <= 1000)
);
-- One open report per reporter and target; once resolved, the same reporter may report again.
CREATE UNIQUE INDEX reports_one_open_key ON reports (reporter_id, target_type, target_id)
    WHERE status = 'open';
CREATE INDEX reports_target_idx ON reports (target_id, target_type, status);
CREATE INDEX reports_queue_idx ON reports (status, created_at DESC, id DESC);
CREATE INDEX reports_reporter_idx ON reports (reporter_id);
CREATE INDEX reports_owner_idx ON reports (owner_id);

-- Every moderation action, by whom and why. admin_id is null for what no admin did: content
-- hidden by reports, and roles granted or revoked from the command line (python -m db.admin).
-- user_id (the account concerned) has no foreign key: the record outlives the account.
CREATE TABLE moderation_actions (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    admin_id          uuid REFERENCES users (id) ON DELETE SET NULL,
    action            text NOT NULL,
    target_type       text NOT NULL,
    target_id         uuid NOT NULL,
    user_id           uuid,
    report_id         uuid REFERENCES reports (id) ON DELETE SET NULL,
    reports_resolved  integer NOT NULL DEFAULT 0,
    note              text NOT NULL DEFAULT '',
    at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT moderation_actions_action_valid CHECK (action IN ('dismiss', 'remove_content',
        'suspend_user', 'unsuspend_user', 'hide', 'grant_admin', 'revoke_admin')),
    CONSTRAINT moderation_actions_target_type_valid
        CHECK (target_type IN ('user', 'post', 'comment')),
    CONSTRAINT moderation_actions_note_length CHECK (char_length(note) <= 2000)
);
CREATE INDEX moderation_actions_at_idx ON moderation_actions (at DESC, id DESC);
CREATE INDEX moderation_actions_target_idx ON moderation_actions (target_id);
CREATE INDEX moderation_actions_report_idx ON moderation_actions (report_id);
CREATE INDEX moderation_actions_admin_idx ON moderation_actions (admin_id);

ALTER TABLE reports ADD CONSTRAINT reports_action_id_fkey
    FOREIGN KEY (action_id) REFERENCES moderation_actions (id) ON DELETE SET NULL;
CREATE INDEX reports_action_idx ON reports (action_id);
