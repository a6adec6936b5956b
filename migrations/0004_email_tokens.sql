-- Email ownership: an address is verified only by a link mailed to it. A change of address is
-- pending (users.pending_email) until confirmed from the new address; until then the old one
-- stays the account's, verified or not.
ALTER TABLE users ADD COLUMN pending_email text;
ALTER TABLE users ADD CONSTRAINT users_pending_email_format
    CHECK (pending_email IS NULL OR pending_email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$');

-- Single-use links mailed to an address: verify it, confirm a change to it, reset a password.
-- Only the SHA-256 of the token is stored.
CREATE TABLE email_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL,
    email       text NOT NULL,
    token_hash  bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CONSTRAINT email_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT email_tokens_purpose_valid CHECK (purpose IN ('verify', 'change', 'reset'))
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_idx ON email_tokens (expires_at);
