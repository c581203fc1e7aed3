-- 0010_verbatim_sort_keys (issue 16): every `verbatims` row carries its post's sort keys for
-- the dashboard's "most negative" and "most engaged" orders, so a page is a Top-N of rows in
-- (key, created_at DESC, post_id) order, like newest-first, instead of an aggregate over every
-- matching post per request (2.0 s at 14 M mentions for "most engaged"). The loader fills
-- them (opinion/warehouse/aggregates.py `_VERBATIM_COLS`); this fills the existing rows once.
ALTER TABLE verbatims ADD COLUMN post_net DOUBLE;
ALTER TABLE verbatims ADD COLUMN post_negatives INTEGER;
ALTER TABLE verbatims ADD COLUMN post_engagement BIGINT;

-- net = (positive - negative) / mentions and negatives over all the post's rows (every
-- eligible mention of the post is in the table); engagement = opinion/warehouse/engagement.py
-- ENGAGEMENT over posts.raw, 0 when raw is not valid JSON (or the post is missing)
UPDATE verbatims AS v
SET post_net = k.net, post_negatives = k.negatives, post_engagement = coalesce(k.engagement, 0)
FROM (
    SELECT a.post_id, a.net, a.negatives, e.engagement
    FROM (
        SELECT post_id,
               (count(*) FILTER (WHERE polarity = 'positive')
                - count(*) FILTER (WHERE polarity = 'negative')) / count(*) AS net,
               count(*) FILTER (WHERE polarity = 'negative') AS negatives
        FROM verbatims
        GROUP BY post_id
    ) a
    LEFT JOIN (
        SELECT post_id,
               CASE WHEN json_valid(raw) THEN list_sum(list_transform(json_extract_string(raw, [
                   '$.retweet_count', '$.favorite_count', '$.like_count', '$.likes',
                   '$.reply_count', '$.replies_count', '$.reblogs_count', '$.favourites_count',
                   '$.score', '$.num_comments', '$.helpful_votes'
               ]), lambda x: coalesce(TRY_CAST(x AS BIGINT), 0))) ELSE 0 END AS engagement
        FROM posts
        WHERE post_id IN (SELECT post_id FROM verbatims)
    ) e USING (post_id)
) k
WHERE v.post_id = k.post_id;
