-- 0007_change_log: what each load changed, so publishing copies only that (issue 16; see
-- docs/warehouse.md, "Publishing"). Loader bookkeeping like pending_*: readers ignore it.
--   kind 'partition': the posts and mentions of lake partition `key` were rewritten
--   kind 'post':      posts.dup_of of post `key` changed
--   kind 'group':     agg_daily and verbatims rows of (brand `key`, `day`) were recomputed
--   kind 'full':      too much changed to list (first load, rebuild): copy the whole file
CREATE SEQUENCE change_seq;
CREATE TABLE change_log (
    seq  BIGINT NOT NULL DEFAULT nextval('change_seq'),
    kind VARCHAR NOT NULL,
    key  VARCHAR,
    day  DATE
);
