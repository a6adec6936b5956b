-- People search by the start of a name from one btree range: a row per term of each active
-- account, its username and every word-start of its display name ('mary anne smith',
-- 'anne smith', 'smith'), lowercased. A trigger keeps it in step with users, so every path
-- that names, renames, suspends or deletes an account is covered; an inactive account has no
-- terms. Byte order (COLLATE "C") makes a prefix a plain range that a prepared statement's
-- generic plan can use.
CREATE TABLE people_terms (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    term    text COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, term)
);
CREATE INDEX people_terms_term_idx ON people_terms (term, user_id);

CREATE FUNCTION people_terms_of(username text, display_name text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(username)
    UNION
    SELECT array_to_string(w[i:], ' ')
    FROM (SELECT regexp_split_to_array(btrim(lower(display_name)), '\s+') AS w) s
    CROSS JOIN LATERAL generate_series(1, cardinality(w)) AS i
    WHERE w[i] <> ''
$$;

CREATE FUNCTION people_terms_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM people_terms WHERE user_id = OLD.id;
    END IF;
    IF NEW.is_active THEN
        INSERT INTO people_terms (user_id, term)
        SELECT NEW.id, t FROM people_terms_of(NEW.username, NEW.display_name) AS t;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_people_terms_insert AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION people_terms_sync();
CREATE TRIGGER users_people_terms_update AFTER UPDATE OF username, display_name, is_active ON users
    FOR EACH ROW
    WHEN (OLD.username IS DISTINCT FROM NEW.username
          OR OLD.display_name IS DISTINCT FROM NEW.display_name
          OR OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION people_terms_sync();

INSERT INTO people_terms (user_id, term)
SELECT u.id, t FROM users u CROSS JOIN LATERAL people_terms_of(u.username, u.display_name) AS t
WHERE u.is_active;
