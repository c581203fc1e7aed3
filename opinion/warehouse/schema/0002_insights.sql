-- 0002_insights: the experience-intelligence layer (aggregates and views). Tables here are
-- rebuilt by opinion/warehouse/aggregates.py inside every load; views read them. Formulas are
-- documented in docs/warehouse.md ("Experience intelligence"). Column names are a contract.

CREATE TABLE settings_kv (
    key        VARCHAR PRIMARY KEY,
    value      VARCHAR,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE brand_competitors (
    brand      VARCHAR NOT NULL,
    competitor VARCHAR NOT NULL,
    PRIMARY KEY (brand, competitor)
);

CREATE TABLE taxonomy_rollups (
    rollup           VARCHAR NOT NULL,
    category         VARCHAR NOT NULL,
    taxonomy_version VARCHAR,
    PRIMARY KEY (rollup, category)
);

CREATE TABLE agg_daily (
    brand         VARCHAR NOT NULL,
    touchpoint    VARCHAR NOT NULL,
    category      VARCHAR NOT NULL,
    cx_domain     VARCHAR NOT NULL,
    day           DATE NOT NULL,
    mentions      BIGINT NOT NULL,
    positive      BIGINT NOT NULL,
    negative      BIGINT NOT NULL,
    neutral       BIGINT NOT NULL,
    net_sentiment DOUBLE,
    opinion_score DOUBLE,
    opinion_low   DOUBLE,
    opinion_high  DOUBLE,
    importance    DOUBLE,
    sufficient    BOOLEAN
);

CREATE TABLE issue_windows (
    brand            VARCHAR NOT NULL,
    touchpoint       VARCHAR NOT NULL,
    category         VARCHAR NOT NULL,
    window_start     TIMESTAMPTZ NOT NULL,
    window_end       TIMESTAMPTZ NOT NULL,
    negatives        BIGINT NOT NULL,
    baseline_mean    DOUBLE,
    baseline_windows INTEGER NOT NULL,
    z_score          DOUBLE,
    p_value          DOUBLE,
    flagged          BOOLEAN NOT NULL,
    severity         INTEGER,
    persistence      INTEGER NOT NULL,
    is_latest        BOOLEAN NOT NULL
);

-- Wilson score interval (z = 1.96) for pos / (pos + neg).
CREATE MACRO wilson_low(pos, neg) AS
    CASE WHEN pos + neg > 0 THEN
        ((pos / (pos + neg)) + 1.96 * 1.96 / (2 * (pos + neg))
         - 1.96 * sqrt((pos / (pos + neg)) * (1 - pos / (pos + neg)) / (pos + neg)
                       + 1.96 * 1.96 / (4 * (pos + neg) * (pos + neg))))
        / (1 + 1.96 * 1.96 / (pos + neg))
    END;

CREATE MACRO wilson_high(pos, neg) AS
    CASE WHEN pos + neg > 0 THEN
        ((pos / (pos + neg)) + 1.96 * 1.96 / (2 * (pos + neg))
         + 1.96 * sqrt((pos / (pos + neg)) * (1 - pos / (pos + neg)) / (pos + neg)
                       + 1.96 * 1.96 / (4 * (pos + neg) * (pos + neg))))
        / (1 + 1.96 * 1.96 / (pos + neg))
    END;

CREATE MACRO net_sentiment(pos, neg, n) AS
    CASE WHEN n > 0 THEN 100.0 * (pos - neg) / n END;

CREATE MACRO opinion_score(pos, neg) AS
    CASE WHEN pos + neg > 0 THEN 1.0 * pos / (pos + neg) END;

CREATE VIEW v_min_mentions AS
SELECT coalesce(max(TRY_CAST(value AS INTEGER)) FILTER (WHERE key = 'min_mentions'), 30)
           AS min_mentions,
       coalesce(max(TRY_CAST(value AS DOUBLE)) FILTER (WHERE key = 'min_share'), 0.01)
           AS min_share
FROM settings_kv;

CREATE VIEW v_brand_scorecard AS
WITH cfg AS (SELECT * FROM v_min_mentions),
last AS (SELECT max(day) AS d FROM agg_daily),
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
b AS (SELECT brand, sum(mentions) AS total FROM agg_daily GROUP BY brand)
SELECT t.brand, t.touchpoint, t.mentions, t.positive, t.negative, t.neutral,
       CASE WHEN t.mentions >= cfg.min_mentions
            THEN net_sentiment(t.positive, t.negative, t.mentions) END AS net_sentiment,
       CASE WHEN t.mentions >= cfg.min_mentions
            THEN opinion_score(t.positive, t.negative) END AS opinion_score,
       CASE WHEN t.mentions >= cfg.min_mentions
            THEN wilson_low(t.positive, t.negative) END AS opinion_low,
       CASE WHEN t.mentions >= cfg.min_mentions
            THEN wilson_high(t.positive, t.negative) END AS opinion_high,
       1.0 * t.mentions / b.total AS importance,
       CASE WHEN t.m_recent >= cfg.min_mentions AND t.m_prior >= cfg.min_mentions
            THEN net_sentiment(t.p_recent, t.n_recent, t.m_recent)
                 - net_sentiment(t.p_prior, t.n_prior, t.m_prior) END AS trend,
       t.mentions >= cfg.min_mentions AS sufficient,
       CASE WHEN t.mentions >= cfg.min_mentions
            THEN printf('%+.1f', net_sentiment(t.positive, t.negative, t.mentions))
            ELSE 'insufficient data' END AS display
FROM t JOIN b USING (brand), cfg;

CREATE VIEW v_category_scorecard AS
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
       CASE WHEN f.mentions >= cfg.min_mentions
            THEN opinion_score(f.positive, f.negative) END AS opinion_score,
       CASE WHEN f.mentions >= cfg.min_mentions
            THEN wilson_low(f.positive, f.negative) END AS opinion_low,
       CASE WHEN f.mentions >= cfg.min_mentions
            THEN wilson_high(f.positive, f.negative) END AS opinion_high,
       1.0 * f.mentions / f.total AS importance,
       f.mentions >= cfg.min_mentions AS sufficient
FROM f, cfg;

CREATE VIEW v_touchpoint_trend AS
WITH cfg AS (SELECT * FROM v_min_mentions),
g AS (
    SELECT brand, touchpoint, 'day' AS grain, day AS period_start,
           sum(mentions) AS mentions, sum(positive) AS positive,
           sum(negative) AS negative, sum(neutral) AS neutral
    FROM agg_daily GROUP BY ALL
    UNION ALL
    SELECT brand, touchpoint, 'week' AS grain, CAST(date_trunc('week', day) AS DATE),
           sum(mentions), sum(positive), sum(negative), sum(neutral)
    FROM agg_daily GROUP BY ALL
)
SELECT g.brand, g.touchpoint, g.grain, g.period_start, g.mentions, g.positive, g.negative,
       g.neutral,
       CASE WHEN g.mentions >= cfg.min_mentions
            THEN net_sentiment(g.positive, g.negative, g.mentions) END AS net_sentiment,
       g.mentions >= cfg.min_mentions AS sufficient
FROM g, cfg;

CREATE VIEW v_competitor_benchmark AS
WITH cfg AS (SELECT * FROM v_min_mentions),
s AS (
    SELECT brand, touchpoint, sum(mentions) AS mentions, sum(positive) AS positive,
           sum(negative) AS negative
    FROM agg_daily GROUP BY ALL
),
c AS (
    SELECT bc.brand, s.touchpoint, sum(s.mentions) AS mentions,
           sum(s.positive) AS positive, sum(s.negative) AS negative
    FROM brand_competitors bc JOIN s ON s.brand = bc.competitor
    GROUP BY ALL
),
j AS (
    SELECT s.brand, s.touchpoint, s.mentions,
           s.mentions >= cfg.min_mentions AS own_ok,
           net_sentiment(s.positive, s.negative, s.mentions) AS net,
           opinion_score(s.positive, s.negative) AS score,
           wilson_low(s.positive, s.negative) AS low,
           wilson_high(s.positive, s.negative) AS high,
           c.mentions AS c_mentions,
           c.mentions >= cfg.min_mentions AS comp_ok,
           net_sentiment(c.positive, c.negative, c.mentions) AS c_net,
           opinion_score(c.positive, c.negative) AS c_score,
           wilson_low(c.positive, c.negative) AS c_low,
           wilson_high(c.positive, c.negative) AS c_high
    FROM s JOIN c USING (brand, touchpoint), cfg
)
SELECT brand, touchpoint, mentions,
       CASE WHEN own_ok THEN net END AS net_sentiment,
       CASE WHEN own_ok THEN score END AS opinion_score,
       CASE WHEN own_ok THEN low END AS opinion_low,
       CASE WHEN own_ok THEN high END AS opinion_high,
       c_mentions AS competitor_mentions,
       CASE WHEN comp_ok THEN c_net END AS competitor_net_sentiment,
       CASE WHEN comp_ok THEN c_score END AS competitor_opinion_score,
       CASE WHEN comp_ok THEN c_low END AS competitor_low,
       CASE WHEN comp_ok THEN c_high END AS competitor_high,
       CASE WHEN own_ok AND comp_ok THEN net - c_net END AS gap,
       CASE WHEN own_ok AND comp_ok THEN high < c_low OR c_high < low END AS separated,
       own_ok AND comp_ok AS sufficient
FROM j;

CREATE VIEW v_share_of_voice AS
SELECT brand, touchpoint, sum(mentions) AS mentions,
       1.0 * sum(mentions) / sum(sum(mentions)) OVER (PARTITION BY touchpoint) AS share
FROM agg_daily
GROUP BY brand, touchpoint;

CREATE VIEW v_verbatims AS
SELECT m.mention_id, m.post_id, p.source, p.brand,
       coalesce(m.touchpoint, 'other') AS touchpoint,
       coalesce(m.category, 'other') AS category,
       coalesce(m.cx_domain, 'experience') AS cx_domain,
       m.aspect, m.term, m.start, m."end", m.polarity, m.confidence, p.text, p.url,
       p.created_at, CAST(timezone('UTC', p.created_at) AS DATE) AS day
FROM mentions m JOIN posts p USING (post_id)
WHERE p.dup_of IS NULL AND coalesce(p.spam_score, 0) < 0.5 AND p.brand IS NOT NULL
  AND p.created_at IS NOT NULL;

CREATE VIEW v_rating_indices AS
WITH cfg AS (SELECT * FROM v_min_mentions),
r AS (
    SELECT brand, source, count(*) AS ratings,
           count(*) FILTER (WHERE rating = 5) AS promoters,
           count(*) FILTER (WHERE rating = 4) AS passives,
           count(*) FILTER (WHERE rating <= 3) AS detractors,
           avg((rating - 1) / 4.0) * 100 AS sat
    FROM posts
    WHERE rating IS NOT NULL AND dup_of IS NULL AND coalesce(spam_score, 0) < 0.5
      AND brand IS NOT NULL
    GROUP BY brand, source
)
SELECT r.brand, r.source, r.ratings, r.promoters, r.passives, r.detractors,
       CASE WHEN r.ratings >= cfg.min_mentions
            THEN 100.0 * (r.promoters - r.detractors) / r.ratings END AS nps,
       CASE WHEN r.ratings >= cfg.min_mentions THEN r.sat END AS satisfaction_index,
       r.ratings >= cfg.min_mentions AS sufficient
FROM r, cfg;

CREATE VIEW v_rollups AS
WITH cfg AS (SELECT * FROM v_min_mentions),
r AS (
    SELECT a.brand, tr.rollup, sum(a.mentions) AS mentions, sum(a.positive) AS positive,
           sum(a.negative) AS negative
    FROM agg_daily a JOIN taxonomy_rollups tr USING (category)
    GROUP BY ALL
)
SELECT r.brand, r.rollup, r.mentions,
       CASE WHEN r.mentions >= cfg.min_mentions
            THEN net_sentiment(r.positive, r.negative, r.mentions) END AS net_sentiment,
       CASE WHEN r.mentions >= cfg.min_mentions
            THEN opinion_score(r.positive, r.negative) END AS opinion_score,
       r.mentions >= cfg.min_mentions AS sufficient
FROM r, cfg;

CREATE VIEW v_emerging_issues AS
SELECT brand, touchpoint, category, window_start, window_end, negatives, baseline_mean,
       baseline_windows, z_score, p_value, severity, persistence
FROM issue_windows
WHERE is_latest AND flagged;
