-- Push to phones and browsers that have no live socket (workers/push.py), the read marker
-- behind the unread badge, and each account's notification settings.

-- A device that receives pushes: an FCM registration token, an APNs device token (hex), or a
-- Web Push subscription (its endpoint URL in token, with the browser's P-256 key and auth
-- secret). A token names one device, so registering it again, on any account, moves it there.
CREATE TABLE push_devices (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform    text NOT NULL,
    token       text NOT NULL,
    p256dh      text,
    auth        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    pushed_at   timestamptz,
    CONSTRAINT push_devices_platform_valid CHECK (platform IN ('fcm', 'apns', 'webpush')),
    CONSTRAINT push_devices_token_key UNIQUE (platform, token),
    CONSTRAINT push_devices_webpush_keys CHECK (
        (platform = 'webpush') = (p256dh IS NOT NULL AND auth IS NOT NULL))
);
CREATE INDEX push_devices_user_idx ON push_devices (user_id, created_at);

-- One row per (device, notification seq), claimed before the push is sent: a row that exists
-- and is not 'retry' is never sent again, so a retried job or one taken over after a worker
-- crash cannot push the same notification twice ('sending' rows of a crashed worker stay
-- unsent: at most once). 'retry' is a push the provider refused for now (429/503), which
-- the job's next try claims again.
CREATE TABLE push_deliveries (
    device_id   uuid NOT NULL REFERENCES push_devices (id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    status      text NOT NULL DEFAULT 'sending',
    attempts    integer NOT NULL DEFAULT 1,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    done_at     timestamptz,
    CONSTRAINT push_deliveries_pkey PRIMARY KEY (device_id, seq),
    CONSTRAINT push_deliveries_status_valid CHECK (
        status IN ('sending', 'sent', 'retry', 'failed'))
);
CREATE INDEX push_deliveries_claimed_idx ON push_deliveries (claimed_at);

-- The read marker: every notification up to read_seq is read. It only moves forward, and as
-- seqs have no holes the unread count is last_seq - read_seq.
ALTER TABLE notification_counters ADD COLUMN read_seq bigint NOT NULL DEFAULT 0;

-- Which types are pushed, the quiet hours (local times in time_zone; start > end spans
-- midnight) when nothing is pushed, and whether others may see one online.
CREATE TABLE notification_settings (
    user_id        uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    muted_types    text[] NOT NULL DEFAULT '{}',
    quiet_start    time,
    quiet_end      time,
    time_zone      text NOT NULL DEFAULT 'UTC',
    hide_presence  boolean NOT NULL DEFAULT false,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notification_settings_quiet_pair CHECK ((quiet_start IS NULL) = (quiet_end IS NULL)),
    CONSTRAINT notification_settings_types_valid CHECK (muted_types <@ ARRAY[
        'like', 'comment', 'follow', 'follow_request', 'follow_accepted']::text[])
);
