-- "Liked by" (GET /v1/posts/{id}/likes) pages a post's likes newest first: with this index a page
-- reads its rows in order instead of sorting every like of a popular post.
CREATE INDEX likes_post_created_idx ON likes (post_id, created_at DESC, user_id DESC);
