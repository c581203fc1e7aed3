-- 0003_incremental: bookkeeping for loads whose cost follows the change (docs/warehouse.md,
-- "Incremental loads"). Work a merge leaves for later is queued durably in the same transaction
-- as the merge, so a load killed between the merge and the aggregate refresh loses nothing.

-- Small key/value state of the loader: `generation` changes with every load that changes
-- the writer file (the published snapshot carries the generation it was made from), and
-- `aggregate_params` fingerprints the parameters the aggregates were last built with.
CREATE TABLE load_state (
    key        VARCHAR PRIMARY KEY,
    value      VARCHAR,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Duplicate keys ('h:' || text_hash, 'b:' || minhash band) of posts inserted, changed or
-- removed since `posts.dup_of` was last refreshed.
CREATE TABLE pending_dedup_keys (
    k VARCHAR NOT NULL
);

-- (brand, day) groups of `agg_daily` whose inputs changed since the aggregates were last
-- refreshed.
CREATE TABLE pending_agg_groups (
    brand VARCHAR,
    day   DATE
);

-- The eligible mentions pre-joined with their post (the rows of v_verbatims), kept per
-- (brand, day) group like agg_daily and written in (brand, day) order, so a page of verbatims
-- for one brand and period reads a few row groups instead of joining all mentions to posts.
CREATE TABLE verbatims (
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
