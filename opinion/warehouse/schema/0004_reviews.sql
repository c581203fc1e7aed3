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

-- NPS-style class of a rating. On a 0-10 or 1-10 scale the raw value: promoter 9-10,
-- passive 7-8, detractor <= 6. On any other scale the 0..10 equivalent 10 x rating_norm with
-- the same cut-offs (1-5 stars: 5 promoter, 4 passive, 1-3 detractor).
CREATE MACRO nps_class(value, scale, norm) AS
    CASE
        WHEN value IS NULL THEN NULL
        WHEN TRY_CAST(split_part(scale, '-', 2) AS DOUBLE) = 10 THEN
            CASE WHEN value >= 9 THEN 'promoter' WHEN value >= 7 THEN 'passive'
                 ELSE 'detractor' END
        WHEN 10 * norm >= 9 THEN 'promoter'
        WHEN 10 * norm >= 7 THEN 'passive'
        ELSE 'detractor'
    END;

-- NPS = 100 (P - D) / n, with a normal-approximation 95% interval of the difference of two
-- shares of one multinomial: var = (p + d - (p - d)^2) / n, clamped to -100..100.
CREATE MACRO nps(pro, det, n) AS
    CASE WHEN n > 0 THEN 100.0 * (pro - det) / n END;

CREATE MACRO nps_halfwidth(pro, det, n) AS
    CASE WHEN n > 0 THEN
        100.0 * 1.96 * sqrt(greatest((pro + det) / n - ((pro - det) / n) ^ 2, 0) / n)
    END;

-- One row per eligible review with a rating or a recommendation (not a duplicate, not spam,
-- with a brand and a date). Rows loaded before 0004 carry only `rating` (1..5 stars).
CREATE VIEW v_review_ratings AS
WITH r AS (
    SELECT post_id, source, brand, created_at,
           CAST(timezone('UTC', created_at) AS DATE) AS day,
           coalesce(rating_value, rating) AS rating_value,
           coalesce(rating_scale, CASE WHEN rating IS NOT NULL THEN '1-5' END) AS rating_scale,
           coalesce(rating_norm, (rating - 1) / 4.0) AS rating_norm,
           recommended
    FROM posts
    WHERE dup_of IS NULL AND coalesce(spam_score, 0) < 0.5 AND brand IS NOT NULL
      AND created_at IS NOT NULL
      AND (rating IS NOT NULL OR rating_value IS NOT NULL OR recommended IS NOT NULL)
)
SELECT post_id, source, brand, created_at, day,
       CAST(date_trunc('month', day) AS DATE) AS month,
       rating_value, rating_scale, rating_norm, recommended,
       nps_class(rating_value, rating_scale, rating_norm) AS nps_class
FROM r;

-- The touchpoints a review names: those of its mentions (not `other`).
CREATE VIEW v_review_touchpoints AS
SELECT DISTINCT post_id, touchpoint
FROM mentions
WHERE touchpoint IS NOT NULL AND touchpoint <> 'other';

-- The review indices of a brand x touchpoint over [d0, d1] (dates, inclusive); touchpoint
-- 'all' = every review of the brand. What the dashboard and the report show for a period.
CREATE MACRO review_indices(d0, d1) AS TABLE
WITH cfg AS (SELECT * FROM v_min_mentions),
s AS (
    SELECT r.*, 'all' AS touchpoint FROM v_review_ratings r
    WHERE r.day BETWEEN d0 AND d1
    UNION ALL
    SELECT r.*, t.touchpoint FROM v_review_ratings r JOIN v_review_touchpoints t USING (post_id)
    WHERE r.day BETWEEN d0 AND d1
),
g AS (
    SELECT brand, touchpoint,
           count(rating_norm) AS ratings,
           count(*) FILTER (WHERE nps_class = 'promoter') AS promoters,
           count(*) FILTER (WHERE nps_class = 'passive') AS passives,
           count(*) FILTER (WHERE nps_class = 'detractor') AS detractors,
           avg(rating_norm) AS norm_mean, stddev_samp(rating_norm) AS norm_sd,
           count(recommended) AS recommendations,
           count(*) FILTER (WHERE recommended) AS recommending
    FROM s GROUP BY ALL
)
SELECT g.brand, g.touchpoint, g.ratings, g.promoters, g.passives, g.detractors,
       CASE WHEN g.ratings >= cfg.min_mentions
            THEN nps(g.promoters, g.detractors, g.ratings) END AS nps,
       CASE WHEN g.ratings >= cfg.min_mentions
            THEN greatest(-100, nps(g.promoters, g.detractors, g.ratings)
                          - nps_halfwidth(g.promoters, g.detractors, g.ratings)) END AS nps_low,
       CASE WHEN g.ratings >= cfg.min_mentions
            THEN least(100, nps(g.promoters, g.detractors, g.ratings)
                       + nps_halfwidth(g.promoters, g.detractors, g.ratings)) END AS nps_high,
       CASE WHEN g.ratings >= cfg.min_mentions THEN 100 * g.norm_mean END AS csi,
       CASE WHEN g.ratings >= cfg.min_mentions
            THEN greatest(0, 100 * (g.norm_mean - 1.96 * g.norm_sd / sqrt(g.ratings))) END
           AS csi_low,
       CASE WHEN g.ratings >= cfg.min_mentions
            THEN least(100, 100 * (g.norm_mean + 1.96 * g.norm_sd / sqrt(g.ratings))) END
           AS csi_high,
       g.recommendations, g.recommending,
       CASE WHEN g.recommendations >= cfg.min_mentions
            THEN 1.0 * g.recommending / g.recommendations END AS share_recommending,
       CASE WHEN g.recommendations >= cfg.min_mentions
            THEN wilson_low(g.recommending, g.recommendations - g.recommending) END
           AS recommending_low,
       CASE WHEN g.recommendations >= cfg.min_mentions
            THEN wilson_high(g.recommending, g.recommendations - g.recommending) END
           AS recommending_high,
       g.ratings >= cfg.min_mentions AS sufficient,
       g.recommendations >= cfg.min_mentions AS recommending_sufficient
FROM g, cfg;

-- The same per calendar month: brand x month x touchpoint ('all' = every review).
CREATE VIEW v_review_indices AS
WITH cfg AS (SELECT * FROM v_min_mentions),
s AS (
    SELECT r.*, 'all' AS touchpoint FROM v_review_ratings r
    UNION ALL
    SELECT r.*, t.touchpoint FROM v_review_ratings r JOIN v_review_touchpoints t USING (post_id)
),
g AS (
    SELECT brand, month AS period_start, touchpoint,
           count(rating_norm) AS ratings,
           count(*) FILTER (WHERE nps_class = 'promoter') AS promoters,
           count(*) FILTER (WHERE nps_class = 'passive') AS passives,
           count(*) FILTER (WHERE nps_class = 'detractor') AS detractors,
           avg(rating_norm) AS norm_mean, stddev_samp(rating_norm) AS norm_sd,
           count(recommended) AS recommendations,
           count(*) FILTER (WHERE recommended) AS recommending
    FROM s GROUP BY ALL
)
SELECT g.brand, 'month' AS grain, g.period_start, g.touchpoint, g.ratings, g.promoters,
       g.passives, g.detractors,
       CASE WHEN g.ratings >= cfg.min_mentions
            THEN nps(g.promoters, g.detractors, g.ratings) END AS nps,
       CASE WHEN g.ratings >= cfg.min_mentions
            THEN greatest(-100, nps(g.promoters, g.detractors, g.ratings)
                          - nps_halfwidth(g.promoters, g.detractors, g.ratings)) END AS nps_low,
       CASE WHEN g.ratings >= cfg.min_mentions
            THEN least(100, nps(g.promoters, g.detractors, g.ratings)
                       + nps_halfwidth(g.promoters, g.detractors, g.ratings)) END AS nps_high,
       CASE WHEN g.ratings >= cfg.min_mentions THEN 100 * g.norm_mean END AS csi,
       CASE WHEN g.ratings >= cfg.min_mentions
            THEN greatest(0, 100 * (g.norm_mean - 1.96 * g.norm_sd / sqrt(g.ratings))) END
           AS csi_low,
       CASE WHEN g.ratings >= cfg.min_mentions
            THEN least(100, 100 * (g.norm_mean + 1.96 * g.norm_sd / sqrt(g.ratings))) END
           AS csi_high,
       g.recommendations, g.recommending,
       CASE WHEN g.recommendations >= cfg.min_mentions
            THEN 1.0 * g.recommending / g.recommendations END AS share_recommending,
       CASE WHEN g.recommendations >= cfg.min_mentions
            THEN wilson_low(g.recommending, g.recommendations - g.recommending) END
           AS recommending_low,
       CASE WHEN g.recommendations >= cfg.min_mentions
            THEN wilson_high(g.recommending, g.recommendations - g.recommending) END
           AS recommending_high,
       g.ratings >= cfg.min_mentions AS sufficient,
       g.recommendations >= cfg.min_mentions AS recommending_sufficient
FROM g, cfg;
