-- 0009_review_touchpoints (issue 16): the touchpoints a review names, read only for rated or
-- recommending reviews. The view was a DISTINCT over every mention (2.2 s at 15 M mentions,
-- paid by every review_indices() call); the reviews it can join are the rows of
-- v_review_ratings, so the same rows come out of a semi-join on them (3 ms).
CREATE OR REPLACE VIEW v_review_touchpoints AS
SELECT DISTINCT post_id, touchpoint
FROM mentions
WHERE touchpoint IS NOT NULL AND touchpoint <> 'other'
  AND post_id IN (SELECT post_id FROM v_review_ratings);

-- `verbatims` joined migration 0003 after some databases had applied it: give those the table
-- (the next `opinion load --rebuild`, or any load whose taxonomy or brands changed, fills it).
CREATE TABLE IF NOT EXISTS verbatims (
    mention_id VARCHAR NOT NULL,
    post_id    VARCHAR NOT NULL,
    source     VARCHAR,
    brand      VARCHAR NOT NULL,
    touchpoint VARCHAR NOT NULL,
    category   VARCHAR NOT NULL,
    cx_domain  VARCHAR NOT NULL,
    aspect     VARCHAR,
    term       VARCHAR,
    "start"    INTEGER,
    "end"      INTEGER,
    polarity   VARCHAR,
    confidence FLOAT,
    text       VARCHAR,
    url        VARCHAR,
    created_at TIMESTAMPTZ NOT NULL,
    day        DATE NOT NULL
);
