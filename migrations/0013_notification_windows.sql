-- GET /v1/notifications/grouped aggregates only a recipient's newest windows of notifications
-- (db/notification_groups.py), found by when they were made.
CREATE INDEX notifications_user_created_idx ON notifications (user_id, created_at);
