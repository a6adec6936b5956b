-- Drape: the complete initial schema.
-- Conventions: uuid keys from gen_random_uuid(), timestamptz in UTC, named constraints so the
-- API can map a violation to a field by constraint_name.

CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

-- Users ----------------------------------------------------------------------------------------

CREATE TABLE users (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email            text,
    username         text NOT NULL,
    firebase_uid     text,
    password_hash    text,
    display_name     text NOT NULL DEFAULT '',
    bio              text NOT NULL DEFAULT '',
    avatar_url       text,
    website          text,
    locale           text NOT NULL DEFAULT 'en',
    timezone         text NOT NULL DEFAULT 'UTC',
    role             text NOT NULL DEFAULT 'user',
    is_verified      boolean NOT NULL DEFAULT false,
    is_private       boolean NOT NULL DEFAULT false,
    is_active        boolean NOT NULL DEFAULT true,
    email_verified_at timestamptz,
    preferences      jsonb NOT NULL DEFAULT '{}',
    follower_count   integer NOT NULL DEFAULT 0,
    following_count  integer NOT NULL DEFAULT 0,
    post_count       integer NOT NULL DEFAULT 0,
    last_login_at    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_username_format CHECK (username ~ '^[A-Za-z0-9_.]{3,30}$'),
    CONSTRAINT users_email_format CHECK (email IS NULL OR email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
    CONSTRAINT users_display_name_length CHECK (char_length(display_name) <= 60),
    CONSTRAINT users_bio_length CHECK (char_length(bio) <= 500),
    CONSTRAINT users_role_valid CHECK (role IN ('user', 'admin')),
    CONSTRAINT users_can_sign_in CHECK (password_hash IS NOT NULL OR firebase_uid IS NOT NULL),
    CONSTRAINT users_counts_nonnegative
        CHECK (follower_count >= 0 AND following_count >= 0 AND post_count >= 0),
    CONSTRAINT users_preferences_object CHECK (jsonb_typeof(preferences) = 'object')
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_firebase_uid_key ON users (firebase_uid);
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE user_profiles (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    full_name    text NOT NULL DEFAULT '',
    pronouns     text NOT NULL DEFAULT '',
    gender       text,
    birth_date   date,
    country      char(2),
    city         text NOT NULL DEFAULT '',
    height_cm    numeric(5, 1),
    weight_kg    numeric(5, 1),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_profiles_gender_valid
        CHECK (gender IS NULL OR gender IN ('female', 'male', 'non_binary', 'other', 'undisclosed')),
    CONSTRAINT user_profiles_height_range CHECK (height_cm IS NULL OR height_cm BETWEEN 50 AND 260),
    CONSTRAINT user_profiles_weight_range CHECK (weight_kg IS NULL OR weight_kg BETWEEN 20 AND 400),
    CONSTRAINT user_profiles_birth_date_range
        CHECK (birth_date IS NULL OR birth_date BETWEEN '1900-01-01' AND current_date),
    CONSTRAINT user_profiles_country_format CHECK (country IS NULL OR country ~ '^[A-Z]{2}$')
);
CREATE TRIGGER user_profiles_touch BEFORE UPDATE ON user_profiles
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE style_profiles (
    user_id          uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    preferred_styles text[] NOT NULL DEFAULT '{}',
    preferred_colors text[] NOT NULL DEFAULT '{}',
    avoided_colors   text[] NOT NULL DEFAULT '{}',
    fit              text,
    sizes            jsonb NOT NULL DEFAULT '{}',
    budget_min       numeric(10, 2),
    budget_max       numeric(10, 2),
    currency         char(3) NOT NULL DEFAULT 'USD',
    body_shape       text,
    occasions        text[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT style_profiles_fit_valid
        CHECK (fit IS NULL OR fit IN ('slim', 'regular', 'relaxed', 'oversized')),
    CONSTRAINT style_profiles_body_shape_valid CHECK (body_shape IS NULL OR body_shape IN
        ('hourglass', 'pear', 'apple', 'rectangle', 'inverted_triangle', 'athletic')),
    CONSTRAINT style_profiles_budget_range CHECK (
        (budget_min IS NULL OR budget_min >= 0) AND (budget_max IS NULL OR budget_max >= 0)
        AND (budget_min IS NULL OR budget_max IS NULL OR budget_min <= budget_max)),
    CONSTRAINT style_profiles_sizes_object CHECK (jsonb_typeof(sizes) = 'object')
);
CREATE TRIGGER style_profiles_touch BEFORE UPDATE ON style_profiles
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Refresh tokens rotate on every use. All tokens descending from one login share a family, so
-- a reused (already rotated) token can revoke the whole family.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   uuid NOT NULL,
    parent_id   uuid REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    token_hash  bytea NOT NULL,
    user_agent  text NOT NULL DEFAULT '',
    ip          inet,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Avatar3D ---------------------------------------------------------------------------------------

CREATE TABLE avatars (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           text NOT NULL DEFAULT 'My avatar',
    status         text NOT NULL DEFAULT 'pending',
    measurements   jsonb NOT NULL DEFAULT '{}',
    measured       jsonb NOT NULL DEFAULT '{}',
    landmarks      jsonb NOT NULL DEFAULT '{}',
    customization  jsonb NOT NULL DEFAULT '{}',
    params         jsonb NOT NULL DEFAULT '{}',
    morph_targets  text[] NOT NULL DEFAULT '{}',
    mesh_key       text,
    preview_key    text,
    vertex_count   integer,
    mesh_bytes     integer,
    revision       integer NOT NULL DEFAULT 0,
    is_primary     boolean NOT NULL DEFAULT true,
    error          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT avatars_status_valid
        CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
    CONSTRAINT avatars_revision_nonnegative CHECK (revision >= 0),
    CONSTRAINT avatars_ready_has_mesh CHECK (status <> 'ready' OR mesh_key IS NOT NULL),
    CONSTRAINT avatars_measurements_object CHECK (jsonb_typeof(measurements) = 'object'),
    CONSTRAINT avatars_customization_object CHECK (jsonb_typeof(customization) = 'object')
);
CREATE INDEX avatars_user_idx ON avatars (user_id, created_at DESC);
CREATE UNIQUE INDEX avatars_one_primary_key ON avatars (user_id) WHERE is_primary;
CREATE TRIGGER avatars_touch BEFORE UPDATE ON avatars
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Wardrobe ---------------------------------------------------------------------------------------

CREATE TABLE garments (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           text NOT NULL,
    category       text NOT NULL,
    subcategory    text,
    colors         jsonb NOT NULL DEFAULT '[]',
    color_source   text NOT NULL DEFAULT 'user',
    pattern        text NOT NULL DEFAULT 'solid',
    material       text,
    formality      smallint NOT NULL DEFAULT 3,
    warmth         smallint NOT NULL DEFAULT 3,
    seasons        text[] NOT NULL DEFAULT '{}',
    brand          text,
    size           text,
    price          numeric(10, 2),
    currency       char(3) NOT NULL DEFAULT 'USD',
    purchased_on   date,
    tags           text[] NOT NULL DEFAULT '{}',
    notes          text NOT NULL DEFAULT '',
    image_key      text,
    thumbnail_key  text,
    wear_count     integer NOT NULL DEFAULT 0,
    last_worn_at   timestamptz,
    is_archived    boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT garments_owner_id_key UNIQUE (owner_id, id),
    CONSTRAINT garments_name_length CHECK (char_length(name) BETWEEN 1 AND 120),
    CONSTRAINT garments_category_valid CHECK (category IN ('tops', 'bottoms', 'dresses',
        'outerwear', 'shoes', 'bags', 'accessories', 'activewear', 'swimwear')),
    CONSTRAINT garments_pattern_valid CHECK (pattern IN ('solid', 'striped', 'checked', 'plaid',
        'floral', 'polka_dot', 'animal', 'geometric', 'graphic', 'camo', 'paisley', 'other')),
    CONSTRAINT garments_color_source_valid CHECK (color_source IN ('user', 'image')),
    CONSTRAINT garments_colors_array CHECK (jsonb_typeof(colors) = 'array'),
    CONSTRAINT garments_formality_range CHECK (formality BETWEEN 1 AND 5),
    CONSTRAINT garments_warmth_range CHECK (warmth BETWEEN 1 AND 5),
    CONSTRAINT garments_seasons_valid
        CHECK (seasons <@ ARRAY['spring', 'summer', 'autumn', 'winter']::text[]),
    CONSTRAINT garments_price_nonnegative CHECK (price IS NULL OR price >= 0),
    CONSTRAINT garments_wear_count_nonnegative CHECK (wear_count >= 0)
);
CREATE INDEX garments_owner_list_idx ON garments (owner_id, created_at DESC, id DESC);
CREATE INDEX garments_owner_category_idx ON garments (owner_id, category, created_at DESC, id DESC);
CREATE INDEX garments_colors_idx ON garments USING gin (colors jsonb_path_ops);
CREATE INDEX garments_tags_idx ON garments USING gin (tags);
CREATE INDEX garments_seasons_idx ON garments USING gin (seasons);
CREATE TRIGGER garments_touch BEFORE UPDATE ON garments
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE outfits (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             text NOT NULL DEFAULT '',
    description      text NOT NULL DEFAULT '',
    occasion         text,
    seasons          text[] NOT NULL DEFAULT '{}',
    cover_image_key  text,
    source           text NOT NULL DEFAULT 'user',
    is_favorite      boolean NOT NULL DEFAULT false,
    wear_count       integer NOT NULL DEFAULT 0,
    last_worn_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT outfits_owner_id_key UNIQUE (owner_id, id),
    CONSTRAINT outfits_name_length CHECK (char_length(name) <= 120),
    CONSTRAINT outfits_description_length CHECK (char_length(description) <= 1000),
    CONSTRAINT outfits_occasion_valid CHECK (occasion IS NULL OR occasion IN
        ('casual', 'work', 'party', 'date', 'sport', 'formal', 'travel', 'outdoor', 'lounge')),
    CONSTRAINT outfits_seasons_valid
        CHECK (seasons <@ ARRAY['spring', 'summer', 'autumn', 'winter']::text[]),
    CONSTRAINT outfits_source_valid CHECK (source IN ('user', 'ai')),
    CONSTRAINT outfits_wear_count_nonnegative CHECK (wear_count >= 0)
);
CREATE INDEX outfits_owner_list_idx ON outfits (owner_id, created_at DESC, id DESC);
CREATE TRIGGER outfits_touch BEFORE UPDATE ON outfits
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- The composite foreign keys make "only the owner's garments in the owner's outfit" a database
-- rule rather than something each code path must remember.
CREATE TABLE outfit_items (
    outfit_id   uuid NOT NULL,
    owner_id    uuid NOT NULL,
    garment_id  uuid NOT NULL,
    slot        text NOT NULL,
    position    smallint NOT NULL,
    PRIMARY KEY (outfit_id, position),
    CONSTRAINT outfit_items_garment_once UNIQUE (outfit_id, garment_id),
    CONSTRAINT outfit_items_outfit_fkey FOREIGN KEY (owner_id, outfit_id)
        REFERENCES outfits (owner_id, id) ON DELETE CASCADE,
    CONSTRAINT outfit_items_garment_fkey FOREIGN KEY (owner_id, garment_id)
        REFERENCES garments (owner_id, id) ON DELETE CASCADE,
    CONSTRAINT outfit_items_slot_valid CHECK (slot IN
        ('top', 'bottom', 'dress', 'outer', 'shoes', 'bag', 'accessory')),
    CONSTRAINT outfit_items_position_range CHECK (position BETWEEN 0 AND 31)
);
CREATE INDEX outfit_items_garment_idx ON outfit_items (garment_id);

-- Social ------------------------------------------------------------------------------------------

CREATE TABLE posts (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    author_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    caption        text NOT NULL DEFAULT '',
    outfit_id      uuid REFERENCES outfits (id) ON DELETE SET NULL,
    image_key      text,
    like_count     integer NOT NULL DEFAULT 0,
    comment_count  integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT posts_caption_length CHECK (char_length(caption) <= 2200),
    CONSTRAINT posts_counts_nonnegative CHECK (like_count >= 0 AND comment_count >= 0)
);
CREATE INDEX posts_author_timeline_idx ON posts (author_id, created_at DESC, id DESC);
CREATE INDEX posts_timeline_idx ON posts (created_at DESC, id DESC);
CREATE TRIGGER posts_touch BEFORE UPDATE ON posts
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE likes (
    post_id     uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT likes_pkey PRIMARY KEY (post_id, user_id)
);
CREATE INDEX likes_user_idx ON likes (user_id, created_at DESC);

CREATE TABLE comments (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    post_id     uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    author_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT comments_body_length CHECK (char_length(body) BETWEEN 1 AND 1000)
);
CREATE INDEX comments_post_idx ON comments (post_id, created_at, id);
CREATE INDEX comments_author_idx ON comments (author_id);

CREATE TABLE follows (
    follower_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status       text NOT NULL DEFAULT 'active',
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    accepted_at  timestamptz,
    CONSTRAINT follows_pkey PRIMARY KEY (follower_id, followee_id),
    CONSTRAINT follows_id_key UNIQUE (id),
    CONSTRAINT follows_no_self_follow CHECK (follower_id <> followee_id),
    CONSTRAINT follows_status_valid CHECK (status IN ('active', 'pending'))
);
CREATE INDEX follows_followee_idx ON follows (followee_id, status, created_at DESC);
CREATE INDEX follows_follower_active_idx ON follows (follower_id, followee_id)
    WHERE status = 'active';

-- Notifications carry a per-user, gap-free seq: the counter row is locked and bumped in the same
-- transaction as the like/comment/follow, so a client can ask for "everything after N".
CREATE TABLE notification_counters (
    user_id   uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    last_seq  bigint NOT NULL DEFAULT 0
);

CREATE TABLE notifications (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    type        text NOT NULL,
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    post_id     uuid,
    comment_id  uuid,
    data        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz,
    CONSTRAINT notifications_pkey PRIMARY KEY (user_id, seq),
    CONSTRAINT notifications_id_key UNIQUE (id),
    CONSTRAINT notifications_type_valid CHECK (type IN
        ('like', 'comment', 'follow', 'follow_request', 'follow_accepted')),
    CONSTRAINT notifications_seq_positive CHECK (seq > 0)
);

-- AI ----------------------------------------------------------------------------------------------

CREATE TABLE jobs (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid REFERENCES users (id) ON DELETE CASCADE,
    kind         text NOT NULL,
    status       text NOT NULL DEFAULT 'queued',
    progress     real NOT NULL DEFAULT 0,
    args         jsonb NOT NULL DEFAULT '{}',
    result       jsonb,
    error        text,
    attempts     integer NOT NULL DEFAULT 0,
    dedupe_key   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobs_status_valid CHECK (status IN ('queued', 'running', 'done', 'failed')),
    CONSTRAINT jobs_progress_range CHECK (progress BETWEEN 0 AND 1)
);
CREATE INDEX jobs_user_idx ON jobs (user_id, created_at DESC);
CREATE INDEX jobs_status_idx ON jobs (status, created_at) WHERE status IN ('queued', 'running');
-- One live job per dedupe key: a second enqueue while the first is pending joins it.
CREATE UNIQUE INDEX jobs_dedupe_key ON jobs (dedupe_key) WHERE status IN ('queued', 'running');
CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE ai_recommendations (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job_id       uuid REFERENCES jobs (id) ON DELETE SET NULL,
    batch_id     uuid NOT NULL,
    kind         text NOT NULL DEFAULT 'outfit',
    rank         smallint NOT NULL,
    occasion     text,
    weather      jsonb,
    items        jsonb NOT NULL DEFAULT '[]',
    target_id    uuid,
    score        real NOT NULL,
    terms        jsonb NOT NULL DEFAULT '{}',
    explanation  text NOT NULL DEFAULT '',
    feedback     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ai_recommendations_kind_valid CHECK (kind IN ('outfit', 'post', 'user')),
    CONSTRAINT ai_recommendations_feedback_valid
        CHECK (feedback IS NULL OR feedback IN ('liked', 'dismissed', 'worn')),
    CONSTRAINT ai_recommendations_batch_rank_key UNIQUE (batch_id, rank)
);
CREATE INDEX ai_recommendations_user_idx ON ai_recommendations (user_id, kind, created_at DESC);

CREATE TABLE style_analyses (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job_id                 uuid REFERENCES jobs (id) ON DELETE SET NULL,
    garment_count          integer NOT NULL,
    palette                jsonb NOT NULL DEFAULT '{}',
    category_distribution  jsonb NOT NULL DEFAULT '{}',
    formality_distribution jsonb NOT NULL DEFAULT '{}',
    season_coverage        jsonb NOT NULL DEFAULT '{}',
    archetypes             jsonb NOT NULL DEFAULT '{}',
    versatility            jsonb NOT NULL DEFAULT '[]',
    wear_stats             jsonb NOT NULL DEFAULT '{}',
    gaps                   jsonb NOT NULL DEFAULT '[]',
    summary                text NOT NULL DEFAULT '',
    created_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT style_analyses_job_key UNIQUE (job_id)
);
CREATE INDEX style_analyses_user_idx ON style_analyses (user_id, created_at DESC);

-- Uploads handed out as presigned forms, so an object nobody claimed can be found and removed.
CREATE TABLE uploads (
    key           text PRIMARY KEY,
    owner_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose       text NOT NULL,
    target_id     uuid,
    content_type  text NOT NULL,
    max_bytes     integer NOT NULL,
    status        text NOT NULL DEFAULT 'pending',
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    CONSTRAINT uploads_status_valid CHECK (status IN ('pending', 'accepted', 'rejected')),
    CONSTRAINT uploads_purpose_valid
        CHECK (purpose IN ('garment_image', 'post_image', 'outfit_cover', 'user_avatar'))
);
CREATE INDEX uploads_pending_idx ON uploads (expires_at) WHERE status = 'pending';
