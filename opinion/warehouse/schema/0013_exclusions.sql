-- 0013_exclusions: every post that no number counts, per brand x day x reason (issue 27).
-- Nothing is dropped silently: a post the insights leave out, or a record a stage refused,
-- shows up here. One reason per post, the first that applies, in this order:
--   duplicate          posts.dup_of is set (a verified near-copy of an earlier post)
--   spam               spam_score >= 0.5 (opinion.insights.eligible.SPAM_THRESHOLD)
--   language           not English: extract does not analyse it (no mentions)
--   no brand           brand linking found no brand the post is about
--   not analysed       English, but extract's engine gave it no reading (empty text, an error)
--   out-of-range date  no created_at; or a record collect refused for its date (rejects)
--   rejected           any other record a stage refused (rejects: no brand, day = rejected_at)
-- `posts` counts posts (rejected records), `mentions` the mentions those posts hold.
CREATE VIEW v_exclusions AS
WITH post_reasons AS (
    SELECT p.post_id, p.brand, CAST(timezone('UTC', p.created_at) AS DATE) AS day,
           CASE
               WHEN p.dup_of IS NOT NULL THEN 'duplicate'
               WHEN coalesce(p.spam_score, 0) >= 0.5 THEN 'spam'
               WHEN NOT coalesce(p.is_english, true) THEN 'language'
               WHEN p.brand IS NULL THEN 'no brand'
               WHEN p.created_at IS NULL THEN 'out-of-range date'
               WHEN p.sentiment IS NULL THEN 'not analysed'
           END AS reason
    FROM posts p
    WHERE p.dup_of IS NOT NULL OR coalesce(p.spam_score, 0) >= 0.5
       OR NOT coalesce(p.is_english, true) OR p.brand IS NULL OR p.created_at IS NULL
       OR p.sentiment IS NULL
),
per_post AS (
    SELECT r.brand, r.day, r.reason, count(m.mention_id) AS mentions
    FROM post_reasons r LEFT JOIN mentions m USING (post_id)
    GROUP BY r.post_id, r.brand, r.day, r.reason
)
SELECT brand, day, reason, count(*) AS posts, sum(mentions) AS mentions
FROM per_post GROUP BY brand, day, reason
UNION ALL
SELECT NULL AS brand, CAST(timezone('UTC', rejected_at) AS DATE) AS day,
       CASE
           WHEN reason ILIKE 'created_at % outside %' OR reason ILIKE '%timestamp out of range%'
                OR reason ILIKE '%epoch out of range%' THEN 'out-of-range date'
           ELSE 'rejected'
       END AS reason,
       count(*) AS posts, 0 AS mentions
FROM rejects GROUP BY ALL;
