-- When a recipient was last notified of one actor's action of one type on one post: a like,
-- follow or comment repeated within the window (db/notifications.py REPEAT_WINDOW) notifies
-- once. One row per (recipient, actor, type, post), claimed atomically with
-- INSERT ... ON CONFLICT DO UPDATE ... WHERE at is old enough; post_id is the nil uuid when the
-- notification is about no post. A row older than the window means nothing and may be deleted.
CREATE TABLE notification_marks (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    actor_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type      text NOT NULL,
    post_id   uuid NOT NULL,
    at        timestamptz NOT NULL,
    CONSTRAINT notification_marks_pkey PRIMARY KEY (user_id, actor_id, type, post_id)
);
