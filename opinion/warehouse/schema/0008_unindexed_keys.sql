-- 0008_unindexed_keys: posts and mentions without PRIMARY KEY indexes (issue 16).
-- DuckDB keeps an ART index for every PRIMARY KEY, maintains it on every delete and insert,
-- and writes it out at every checkpoint. At 9 M posts and 15 M mentions that cost 1-2 s per
-- write transaction (measured: 16 k rows replaced in a 15 M-row table took 0.4-1.9 s with the
-- key, 0.01 s without), i.e. most of the time of a one-day incremental load and of every
-- publish. The keys stay unique by construction (each merge deletes a partition's posts and
-- mentions before inserting the deduplicated new rows) and the `unique_keys` quality check
-- verifies it for every row a load writes. Same columns, same order, NOT NULL kept.
CREATE TABLE posts_0008 (
    post_id              VARCHAR NOT NULL,
    source               VARCHAR NOT NULL,
    native_id            VARCHAR,
    url                  VARCHAR,
    author_hash          VARCHAR,
    brand                VARCHAR,
    created_at           TIMESTAMPTZ,
    text                 VARCHAR,
    rating               TINYINT,
    language             VARCHAR,
    raw                  VARCHAR,
    collected_at         TIMESTAMPTZ,
    is_english           BOOLEAN,
    text_hash            VARCHAR,
    minhash_bands        VARCHAR[],
    spam_score           FLOAT,
    spam_reasons         VARCHAR,
    sentiment            VARCHAR,
    sentiment_confidence FLOAT,
    model_version        VARCHAR,
    extracted_at         TIMESTAMPTZ,
    dup_of               VARCHAR,
    lake_partition       VARCHAR NOT NULL,
    loaded_at            TIMESTAMPTZ NOT NULL,
    title                VARCHAR,
    recommended          BOOLEAN,
    rating_value         DOUBLE,
    rating_scale         VARCHAR,
    rating_norm          DOUBLE
);
INSERT INTO posts_0008 BY NAME SELECT * FROM posts;
DROP TABLE posts;
ALTER TABLE posts_0008 RENAME TO posts;

CREATE TABLE mentions_0008 (
    mention_id       VARCHAR NOT NULL,
    post_id          VARCHAR NOT NULL,
    term             VARCHAR,
    "start"          INTEGER,
    "end"            INTEGER,
    aspect           VARCHAR,
    polarity         VARCHAR,
    confidence       FLOAT,
    model_version    VARCHAR,
    category         VARCHAR,
    touchpoint       VARCHAR,
    cx_domain        VARCHAR,
    taxonomy_version VARCHAR,
    loaded_at        TIMESTAMPTZ NOT NULL,
    in_title         BOOLEAN,
    implicit         BOOLEAN DEFAULT false
);
INSERT INTO mentions_0008 BY NAME SELECT * FROM mentions;
DROP TABLE mentions;
ALTER TABLE mentions_0008 RENAME TO mentions;
