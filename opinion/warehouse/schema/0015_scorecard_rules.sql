-- 0015_scorecard_rules (issue 26): the scorecard views follow the dashboard's rules.
--  * the opinion score (and its interval) needs min_mentions OPINIONS (positive + negative),
--    not mentions: 33 mentions with 18 opinions has no score;
--  * `trend` (latest 7 days vs the 7 before) is computed only when the earlier week has data
--    on at least 80 % of the days the latest has (else `trend_note` says why), and comes with
--    its z (two-sample z-test on the per-mention scores +1 / 0 / -1, as
--    opinion.insights.stats.net_change) and `trend_beyond` (|z| >= 1.96).
-- The existing columns keep their names and order; new ones are appended.

CREATE OR REPLACE VIEW v_brand_scorecard AS
WITH cfg AS (SELECT * FROM v_min_mentions),
last AS (SELECT max(day) AS d FROM agg_daily),
days AS (
    SELECT a.brand,
           count(DISTINCT a.day) FILTER (WHERE a.day > last.d - 7) AS d_recent,
           count(DISTINCT a.day) FILTER (WHERE a.day <= last.d - 7 AND a.day > last.d - 14)
               AS d_prior
    FROM agg_daily a, last GROUP BY a.brand
),
t AS (
    SELECT a.brand, a.touchpoint,
           sum(a.mentions) AS mentions, sum(a.positive) AS positive,
           sum(a.negative) AS negative, sum(a.neutral) AS neutral,
           coalesce(sum(a.mentions) FILTER (WHERE a.day > last.d - 7), 0) AS m_recent,
           coalesce(sum(a.positive) FILTER (WHERE a.day > last.d - 7), 0) AS p_recent,
           coalesce(sum(a.negative) FILTER (WHERE a.day > last.d - 7), 0) AS n_recent,
           coalesce(sum(a.mentions) FILTER (WHERE a.day <= last.d - 7
                                            AND a.day > last.d - 14), 0) AS m_prior,
           coalesce(sum(a.positive) FILTER (WHERE a.day <= last.d - 7
                                            AND a.day > last.d - 14), 0) AS p_prior,
           coalesce(sum(a.negative) FILTER (WHERE a.day <= last.d - 7
                                            AND a.day > last.d - 14), 0) AS n_prior
    FROM agg_daily a, last
    GROUP BY a.brand, a.touchpoint
),
b AS (SELECT brand, sum(mentions) AS total FROM agg_daily GROUP BY brand),
r AS (
    SELECT t.*, days.d_recent, days.d_prior, cfg.min_mentions,
           t.positive + t.negative >= cfg.min_mentions AS score_ok,
           days.d_prior >= 0.8 * days.d_recent AS comparable,
           t.m_recent >= cfg.min_mentions AND t.m_prior >= cfg.min_mentions AS both_ok,
           CASE WHEN t.m_recent > 0 AND t.m_prior > 0 THEN
               net_sentiment(t.p_recent, t.n_recent, t.m_recent)
               - net_sentiment(t.p_prior, t.n_prior, t.m_prior) END AS delta,
           CASE WHEN t.m_recent > 0 AND t.m_prior > 0 THEN sqrt(
               10000.0 * ((t.p_recent + t.n_recent) / t.m_recent
                          - ((t.p_recent - t.n_recent) / t.m_recent) ^ 2) / t.m_recent
               + 10000.0 * ((t.p_prior + t.n_prior) / t.m_prior
                            - ((t.p_prior - t.n_prior) / t.m_prior) ^ 2) / t.m_prior) END AS se
    FROM t JOIN days USING (brand), cfg
)
SELECT r.brand, r.touchpoint, r.mentions, r.positive, r.negative, r.neutral,
       CASE WHEN r.mentions >= r.min_mentions
            THEN net_sentiment(r.positive, r.negative, r.mentions) END AS net_sentiment,
       CASE WHEN r.score_ok THEN opinion_score(r.positive, r.negative) END AS opinion_score,
       CASE WHEN r.score_ok THEN wilson_low(r.positive, r.negative) END AS opinion_low,
       CASE WHEN r.score_ok THEN wilson_high(r.positive, r.negative) END AS opinion_high,
       1.0 * r.mentions / b.total AS importance,
       CASE WHEN r.both_ok AND r.comparable THEN r.delta END AS trend,
       r.mentions >= r.min_mentions AS sufficient,
       CASE WHEN r.mentions >= r.min_mentions
            THEN printf('%+.1f', net_sentiment(r.positive, r.negative, r.mentions))
            ELSE 'insufficient data' END AS display,
       r.positive + r.negative AS opinions,
       r.score_ok AS score_sufficient,
       CASE WHEN r.both_ok AND r.comparable AND r.se > 0 THEN r.delta / r.se END AS trend_z,
       coalesce(r.both_ok AND r.comparable AND r.se > 0
                AND abs(r.delta / r.se) >= 1.959963984540054, false) AS trend_beyond,
       CASE WHEN NOT r.comparable
            THEN printf('not compared: the previous 7 days have data on %d of the %d days '
                        'the latest 7 have (< 80%%)', r.d_prior, r.d_recent)
            WHEN NOT r.both_ok THEN 'not compared: fewer than the minimum sample of mentions'
       END AS trend_note
FROM r JOIN b USING (brand);

CREATE OR REPLACE VIEW v_category_scorecard AS
WITH cfg AS (SELECT * FROM v_min_mentions),
c AS (
    SELECT brand, touchpoint, category, cx_domain,
           sum(mentions) AS mentions, sum(positive) AS positive,
           sum(negative) AS negative, sum(neutral) AS neutral
    FROM agg_daily GROUP BY ALL
),
b AS (SELECT brand, sum(mentions) AS total FROM agg_daily GROUP BY brand),
f AS (
    SELECT c.brand, c.touchpoint,
           CASE WHEN c.mentions < cfg.min_share * b.total THEN 'other' ELSE c.category END
               AS category,
           c.cx_domain, sum(c.mentions) AS mentions, sum(c.positive) AS positive,
           sum(c.negative) AS negative, sum(c.neutral) AS neutral, any_value(b.total) AS total
    FROM c JOIN b USING (brand), cfg
    GROUP BY ALL
)
SELECT f.brand, f.touchpoint, f.category, f.cx_domain, f.mentions, f.positive, f.negative,
       f.neutral,
       CASE WHEN f.mentions >= cfg.min_mentions
            THEN net_sentiment(f.positive, f.negative, f.mentions) END AS net_sentiment,
       CASE WHEN f.positive + f.negative >= cfg.min_mentions
            THEN opinion_score(f.positive, f.negative) END AS opinion_score,
       CASE WHEN f.positive + f.negative >= cfg.min_mentions
            THEN wilson_low(f.positive, f.negative) END AS opinion_low,
       CASE WHEN f.positive + f.negative >= cfg.min_mentions
            THEN wilson_high(f.positive, f.negative) END AS opinion_high,
       1.0 * f.mentions / f.total AS importance,
       f.mentions >= cfg.min_mentions AS sufficient,
       f.positive + f.negative AS opinions,
       f.positive + f.negative >= cfg.min_mentions AS score_sufficient
FROM f, cfg;
