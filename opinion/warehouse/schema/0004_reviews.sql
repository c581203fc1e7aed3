-- 0004_reviews: reviews as first-class input. Ratings on any scale (the raw value, its
-- declared scale and the value on 0..1), the review's title and the reviewer's yes/no
-- recommendation; mentions found in a title. `posts.rating` keeps its meaning for
-- compatibility: the 1..5 equivalent of the rating (1 + 4 x rating_norm, rounded half up).
-- Formulas of the review indices: docs/warehouse.md ("Review indices").

ALTER TABLE posts ADD COLUMN title VARCHAR;
ALTER TABLE posts ADD COLUMN recommended BOOLEAN;
ALTER TABLE posts ADD COLUMN rating_value DOUBLE;
ALTER TABLE posts ADD COLUMN rating_scale VARCHAR;
ALTER TABLE posts ADD COLUMN rating_norm DOUBLE;
ALTER TABLE mentions ADD COLUMN in_title BOOLEAN;
