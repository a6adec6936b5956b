-- The screens of a social wardrobe app: search, hashtags, several images per post, saved posts,
-- replies and likes on comments, mentions, a wear log with its calendar, and profile photos
-- through the presigned upload flow.

-- Trigram similarity comes from pg_trgm, with GIN indexes for it. A Postgres without the
-- extension (the embedded one `make run` starts when none is configured ships no contrib) gets
-- plain SQL functions and operators of the same names and meaning instead, unindexed: slower
-- typo search, the same answers for similarity (word_similarity there is the best similarity to
-- one word of the text, close to pg_trgm's for names).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX users_username_trgm_idx ON users USING gin (lower(username) gin_trgm_ops);
        CREATE INDEX users_display_name_trgm_idx ON users
            USING gin (lower(display_name) gin_trgm_ops);
        RETURN;
    END IF;
    CREATE FUNCTION trigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
        SELECT coalesce(array_agg(DISTINCT substr(w, i, 3)), '{}')
        FROM regexp_split_to_table(lower(t), '[^[:alnum:]]+') AS x(word)
        CROSS JOIN LATERAL (SELECT '  ' || x.word || ' ' AS w) p
        CROSS JOIN LATERAL generate_series(1, length(p.w) - 2) AS i
        WHERE x.word <> ''
    $f$;
    CREATE FUNCTION similarity(a text, b text) RETURNS real LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $f$
        SELECT CASE WHEN cardinality(u) = 0 THEN 0
                    ELSE (SELECT count(*) FROM unnest(trigrams(a)) x WHERE x = ANY(trigrams(b)))::real
                         / cardinality(u) END
        FROM (SELECT ARRAY(SELECT unnest(trigrams(a)) UNION SELECT unnest(trigrams(b))) AS u) s
    $f$;
    CREATE FUNCTION word_similarity(a text, b text) RETURNS real LANGUAGE sql IMMUTABLE
    PARALLEL SAFE AS $f$
        SELECT coalesce(max(similarity(a, w)), 0)
        FROM regexp_split_to_table(b, '[^[:alnum:]]+') AS w WHERE w <> ''
    $f$;
    CREATE FUNCTION similar_enough(a text, b text) RETURNS boolean LANGUAGE sql STABLE AS $f$
        SELECT similarity(a, b) >= coalesce(
            nullif(current_setting('pg_trgm.similarity_threshold', true), '')::real, 0.3)
    $f$;
    CREATE FUNCTION word_similar_enough(a text, b text) RETURNS boolean LANGUAGE sql STABLE AS $f$
        SELECT word_similarity(a, b) >= coalesce(
            nullif(current_setting('pg_trgm.word_similarity_threshold', true), '')::real, 0.6)
    $f$;
    CREATE OPERATOR % (LEFTARG = text, RIGHTARG = text, FUNCTION = similar_enough);
    CREATE OPERATOR <% (LEFTARG = text, RIGHTARG = text, FUNCTION = word_similar_enough);
END
$$;

-- Search -----------------------------------------------------------------------------------------
-- People by username or display name: usernames by prefix (a byte-wise range), display names by
-- the start of a word and usernames by trigram similarity (typo-tolerant) on GIN trigram indexes
-- (created above, with the extension).
CREATE INDEX users_username_prefix_idx ON users (lower(username) text_pattern_ops);
-- Posts by the words of their caption.
CREATE INDEX posts_caption_search_idx ON posts USING gin (to_tsvector('simple', caption));

-- Hashtags (#streetstyle) parsed from a caption when the post is written or edited; created_at is
-- the post's, so a hashtag page is one walk of an index, newest first.
CREATE TABLE post_hashtags (
    post_id     uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    tag         text NOT NULL,
    created_at  timestamptz NOT NULL,
    CONSTRAINT post_hashtags_pkey PRIMARY KEY (post_id, tag),
    CONSTRAINT post_hashtags_tag_format CHECK (char_length(tag) BETWEEN 1 AND 50 AND tag = lower(tag))
);
CREATE INDEX post_hashtags_page_idx ON post_hashtags (tag, created_at DESC, post_id DESC);
CREATE INDEX post_hashtags_prefix_idx ON post_hashtags (tag text_pattern_ops);

INSERT INTO post_hashtags (post_id, tag, created_at)
SELECT DISTINCT p.id, lower(m[1]), p.created_at
FROM posts p, regexp_matches(p.caption, '#([[:alnum:]_]{1,50})', 'g') AS m
ON CONFLICT DO NOTHING;

-- Posts: several ordered images (posts.image_key stays the first one, for older clients) ---------
CREATE TABLE post_images (
    post_id     uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    position    smallint NOT NULL,
    image_key   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT post_images_pkey PRIMARY KEY (post_id, position),
    CONSTRAINT post_images_position_range CHECK (position BETWEEN 0 AND 9)
);
INSERT INTO post_images (post_id, position, image_key)
SELECT id, 0, image_key FROM posts WHERE image_key IS NOT NULL;

ALTER TABLE posts ADD COLUMN edited_at timestamptz;

-- Saved posts: a private collection.
CREATE TABLE saved_posts (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    post_id     uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT saved_posts_pkey PRIMARY KEY (user_id, post_id)
);
CREATE INDEX saved_posts_page_idx ON saved_posts (user_id, created_at DESC, post_id DESC);
CREATE INDEX saved_posts_post_idx ON saved_posts (post_id);

-- Replies to comments, one level deep (a reply's parent has no parent: enforced on insert).
ALTER TABLE comments ADD COLUMN parent_id uuid REFERENCES comments (id) ON DELETE CASCADE;
CREATE INDEX comments_parent_idx ON comments (parent_id, created_at, id) WHERE parent_id IS NOT NULL;

-- Likes on comments; counted at read over active accounts, so a closed account's likes leave
-- the count at once.
CREATE TABLE comment_likes (
    comment_id  uuid NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT comment_likes_pkey PRIMARY KEY (comment_id, user_id)
);
CREATE INDEX comment_likes_user_idx ON comment_likes (user_id);

-- Who a post's caption mentions (@name): an edit notifies only the accounts it newly names.
CREATE TABLE post_mentions (
    post_id     uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT post_mentions_pkey PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_mentions_user_idx ON post_mentions (user_id);

ALTER TABLE notifications DROP CONSTRAINT notifications_type_valid;
ALTER TABLE notifications ADD CONSTRAINT notifications_type_valid CHECK (type IN
    ('like', 'comment', 'follow', 'follow_request', 'follow_accepted', 'mention'));

-- Wear log -----------------------------------------------------------------------------------------
-- One entry per "worn on this day" (an outfit, or garments on their own); its garments in
-- wear_garments. garments.wear_count and last_worn_at are recomputed from the log on every change.
CREATE TABLE wears (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    worn_on     date NOT NULL,
    outfit_id   uuid REFERENCES outfits (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT wears_user_id_key UNIQUE (user_id, id)
);
CREATE INDEX wears_calendar_idx ON wears (user_id, worn_on DESC, created_at DESC, id DESC);

CREATE TABLE wear_garments (
    wear_id     uuid NOT NULL,
    user_id     uuid NOT NULL,
    garment_id  uuid NOT NULL,
    worn_on     date NOT NULL,
    CONSTRAINT wear_garments_pkey PRIMARY KEY (wear_id, garment_id),
    CONSTRAINT wear_garments_wear_fkey FOREIGN KEY (user_id, wear_id)
        REFERENCES wears (user_id, id) ON DELETE CASCADE,
    CONSTRAINT wear_garments_garment_fkey FOREIGN KEY (user_id, garment_id)
        REFERENCES garments (owner_id, id) ON DELETE CASCADE,
    CONSTRAINT wear_garments_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX wear_garments_garment_idx ON wear_garments (user_id, garment_id, worn_on DESC);

-- Profile photos ----------------------------------------------------------------------------------
-- The uploaded photo's display and thumbnail objects; avatar_url then points at the served image.
ALTER TABLE users ADD COLUMN avatar_key text, ADD COLUMN avatar_thumb_key text;
