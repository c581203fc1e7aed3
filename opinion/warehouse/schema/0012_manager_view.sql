-- 0012_manager_view (issue 26): months, quarters and years; the alert history; drivers from
-- ratings; the minimum-sample rule on opinions for opinion scores. Formulas: docs/warehouse.md
-- ("Grains", "Alert history", "Rating drivers") and docs/dashboard.md.

-- Every flagged window still in `issue_windows` (the last `history_windows` windows), not only
-- the latest: `opinion alerts --days N` and the dashboard's alert history read it.
CREATE OR REPLACE VIEW v_alert_history AS
SELECT brand, touchpoint, category, window_start, window_end, negatives, baseline_mean,
       baseline_windows, z_score, p_value, severity, persistence, is_latest,
       max(window_end) OVER () AS data_end
FROM issue_windows
WHERE flagged;

-- The first day of the day / week / month / quarter / year holding `day`.
CREATE OR REPLACE MACRO period_start(grain, day) AS
    CAST(CASE WHEN grain = 'day' THEN day ELSE date_trunc(grain, day) END AS DATE);

-- Net sentiment per touchpoint at every grain (was day and week). Volumes follow the minimum
-- sample on mentions; the opinion score on opinions (positive + negative).
CREATE OR REPLACE VIEW v_touchpoint_trend AS
WITH cfg AS (SELECT * FROM v_min_mentions),
g AS (
    SELECT a.brand, a.touchpoint, u.grain, period_start(u.grain, a.day) AS period_start,
           sum(a.mentions) AS mentions, sum(a.positive) AS positive,
           sum(a.negative) AS negative, sum(a.neutral) AS neutral,
           count(DISTINCT a.day) AS days_with_data
    FROM agg_daily a, (SELECT unnest(['day', 'week', 'month', 'quarter', 'year']) AS grain) u
    GROUP BY ALL
)
SELECT g.brand, g.touchpoint, g.grain, g.period_start, g.mentions, g.positive, g.negative,
       g.neutral,
       CASE WHEN g.mentions >= cfg.min_mentions
            THEN net_sentiment(g.positive, g.negative, g.mentions) END AS net_sentiment,
       g.mentions >= cfg.min_mentions AS sufficient,
       CASE WHEN g.positive + g.negative >= cfg.min_mentions
            THEN opinion_score(g.positive, g.negative) END AS opinion_score,
       g.days_with_data
FROM g, cfg;

-- Review indices per month, quarter and year (`grain`), touchpoint 'all' = every review.
CREATE OR REPLACE VIEW v_review_indices AS
WITH cfg AS (SELECT * FROM v_min_mentions),
b AS (
    SELECT r.*, t.touchpoint FROM v_review_ratings r, (SELECT 'all' AS touchpoint) t
    UNION ALL
    SELECT r.*, t.touchpoint FROM v_review_ratings r JOIN v_review_touchpoints t USING (post_id)
),
s AS (
    SELECT b.*, u.grain,
           CAST(date_trunc(u.grain, b.day) AS DATE) AS period_start
    FROM b, (SELECT unnest(['month', 'quarter', 'year']) AS grain) u
),
g AS (
    SELECT brand, grain, period_start, touchpoint,
           count(rating_norm) AS ratings,
           count(*) FILTER (WHERE nps_class = 'promoter') AS promoters,
           count(*) FILTER (WHERE nps_class = 'passive') AS passives,
           count(*) FILTER (WHERE nps_class = 'detractor') AS detractors,
           avg(rating_norm) AS norm_mean, stddev_samp(rating_norm) AS norm_sd,
           count(recommended) AS recommendations,
           count(*) FILTER (WHERE recommended) AS recommending
    FROM s GROUP BY ALL
)
SELECT g.brand, g.grain, g.period_start, g.touchpoint, g.ratings, g.promoters,
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

-- Drivers from ratings: for each brand x category, a least-squares regression of the review's
-- rating (0..100, 100 x rating_norm) on its sentiment about the category (x = (positive -
-- negative) / (positive + negative) of its mentions of that category, 0 when it has no
-- opinion on it), over all rated reviews of the brand in [d0, d1]. slope = rating points
-- between a review with no opinion and one wholly positive about the category (and minus that
-- for wholly negative); its 95 % interval from the slope's standard error; n = rated reviews,
-- opinions = reviews with an opinion on the category (the minimum-sample rule applies to them).
-- One regression per category: an association, not a cause, and not controlled for the
-- review's other categories.
CREATE OR REPLACE MACRO rating_drivers(d0, d1) AS TABLE
WITH cfg AS (SELECT * FROM v_min_mentions),
r AS (
    SELECT post_id, brand, 100 * rating_norm AS y FROM v_review_ratings
    WHERE rating_norm IS NOT NULL AND day BETWEEN d0 AND d1
),
m AS (
    SELECT m.post_id, m.category, any_value(m.touchpoint) AS touchpoint,
           count(*) FILTER (WHERE m.polarity = 'positive') AS pos,
           count(*) FILTER (WHERE m.polarity = 'negative') AS neg
    FROM mentions m SEMI JOIN r USING (post_id)
    WHERE m.category IS NOT NULL AND m.category <> 'other'
    GROUP BY ALL
),
c AS (SELECT DISTINCT r.brand, m.category, m.touchpoint FROM m JOIN r USING (post_id)),
x AS (
    SELECT c.brand, c.category, c.touchpoint, r.y,
           CASE WHEN m.pos + m.neg > 0 THEN (m.pos - m.neg) / (m.pos + m.neg) ELSE 0 END AS x,
           coalesce(m.pos + m.neg, 0) > 0 AS has_opinion
    FROM c JOIN r USING (brand)
    LEFT JOIN m ON m.post_id = r.post_id AND m.category = c.category
),
f AS (
    SELECT brand, category, any_value(touchpoint) AS touchpoint, count(*) AS n,
           count(*) FILTER (WHERE has_opinion) AS opinions,
           regr_slope(y, x) AS slope, regr_intercept(y, x) AS intercept, regr_r2(y, x) AS r2,
           regr_sxx(y, x) AS sxx, regr_syy(y, x) AS syy, regr_sxy(y, x) AS sxy
    FROM x GROUP BY brand, category
),
e AS (
    SELECT *, CASE WHEN n > 2 AND sxx > 0
                   THEN sqrt(greatest(syy - slope * sxy, 0) / (n - 2) / sxx) END AS se
    FROM f
)
SELECT e.brand, e.touchpoint, e.category, e.n, e.opinions,
       CASE WHEN e.opinions >= cfg.min_mentions THEN e.slope END AS slope,
       CASE WHEN e.opinions >= cfg.min_mentions THEN e.slope - 1.96 * e.se END AS slope_low,
       CASE WHEN e.opinions >= cfg.min_mentions THEN e.slope + 1.96 * e.se END AS slope_high,
       CASE WHEN e.opinions >= cfg.min_mentions THEN e.r2 END AS r2,
       e.opinions >= cfg.min_mentions AS sufficient
FROM e, cfg;

CREATE OR REPLACE VIEW v_rating_drivers AS
SELECT * FROM rating_drivers(DATE '0001-01-01', DATE '9999-12-31');
