-- Size and fit (drape/fit.py): size charts on a garment or in a brand catalogue shared between
-- users, the outcomes users report for a size they bought, and what is learned from them: each
-- user's offset for a brand and each chart's bias across its users (both in sizes).
CREATE TABLE size_charts (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    garment_id     uuid,
    brand          text,
    name           text NOT NULL DEFAULT '',
    category       text NOT NULL,
    chart          jsonb NOT NULL,
    bias           real NOT NULL DEFAULT 0,
    outcome_count  integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT size_charts_garment_key UNIQUE (garment_id),
    -- a garment's chart belongs to the garment's owner
    CONSTRAINT size_charts_garment_fkey FOREIGN KEY (owner_id, garment_id)
        REFERENCES garments (owner_id, id) ON DELETE CASCADE,
    CONSTRAINT size_charts_catalogue_brand CHECK (garment_id IS NOT NULL OR brand IS NOT NULL),
    CONSTRAINT size_charts_brand_length CHECK (brand IS NULL OR char_length(brand) BETWEEN 1 AND 80),
    CONSTRAINT size_charts_name_length CHECK (char_length(name) <= 120),
    CONSTRAINT size_charts_chart_object CHECK (jsonb_typeof(chart) = 'object')
);
CREATE INDEX size_charts_catalogue_idx ON size_charts (lower(brand), category, created_at DESC, id DESC)
    WHERE garment_id IS NULL;
CREATE INDEX size_charts_owner_idx ON size_charts (owner_id);
CREATE TRIGGER size_charts_touch BEFORE UPDATE ON size_charts
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE fit_outcomes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chart_id    uuid NOT NULL REFERENCES size_charts (id) ON DELETE CASCADE,
    brand_key   text NOT NULL,
    size_label  text NOT NULL,
    size_index  integer NOT NULL,
    position    real NOT NULL,
    outcome     text NOT NULL,
    dimension   text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT fit_outcomes_outcome_valid CHECK (outcome IN ('kept', 'too_small', 'too_large',
        'returned_too_small', 'returned_too_large'))
);
CREATE INDEX fit_outcomes_user_brand_idx ON fit_outcomes (user_id, brand_key);
CREATE INDEX fit_outcomes_chart_idx ON fit_outcomes (chart_id);

CREATE TABLE fit_brand_offsets (
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    brand_key      text NOT NULL,
    "offset"       real NOT NULL,
    outcome_count  integer NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, brand_key)
);
