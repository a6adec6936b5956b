-- One occasion list for the API, the recommender and the schema (drape/vocab.py OCCASIONS):
-- 'beach' joins 'lounge', and every column that holds an occasion is checked against it.
ALTER TABLE outfits DROP CONSTRAINT outfits_occasion_valid;
ALTER TABLE outfits ADD CONSTRAINT outfits_occasion_valid CHECK (occasion IS NULL OR occasion IN
    ('casual', 'work', 'party', 'date', 'sport', 'formal', 'travel', 'outdoor', 'lounge', 'beach'));

ALTER TABLE style_profiles ADD CONSTRAINT style_profiles_occasions_valid CHECK (occasions <@ ARRAY
    ['casual', 'work', 'party', 'date', 'sport', 'formal', 'travel', 'outdoor', 'lounge', 'beach']
    ::text[]);

ALTER TABLE ai_recommendations ADD CONSTRAINT ai_recommendations_occasion_valid
    CHECK (occasion IS NULL OR occasion IN
    ('casual', 'work', 'party', 'date', 'sport', 'formal', 'travel', 'outdoor', 'lounge', 'beach'));
