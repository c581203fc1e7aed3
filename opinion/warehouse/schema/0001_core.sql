-- 0001_core: the core tables loaded from the lake. Forward-only: never edit an applied
-- migration, add 0002_*.sql instead. Column names are a public contract (docs/warehouse.md).
-- No FOREIGN KEY constraints on purpose: DuckDB makes deletes/updates of referenced rows
-- awkward; referential integrity is a quality check (opinion/warehouse/quality.py). No
-- secondary indexes either: ON CONFLICT DO UPDATE cannot assign indexed columns, and DuckDB's
-- hash joins over zone-mapped columns are fast enough for partition-sized deletes.

CREATE TABLE posts (
    post_id              VARCHAR PRIMARY KEY,
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
    loaded_at            TIMESTAMPTZ NOT NULL
);

CREATE TABLE mentions (
    mention_id       VARCHAR PRIMARY KEY,
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
    loaded_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE rejects (
    reject_id   VARCHAR PRIMARY KEY,
    record      VARCHAR,
    stage       VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    reason      VARCHAR,
    rejected_at TIMESTAMPTZ,
    lake_file   VARCHAR NOT NULL,
    loaded_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE source_state (
    source     VARCHAR NOT NULL,
    key        VARCHAR NOT NULL,
    cursor     VARCHAR,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, key)
);

CREATE TABLE runs (
    run_id         VARCHAR PRIMARY KEY,
    stage          VARCHAR NOT NULL,
    "partition"    VARCHAR,
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ,
    status         VARCHAR NOT NULL,
    rows_in        BIGINT,
    rows_loaded    BIGINT,
    rows_rejected  BIGINT,
    rows_duplicate BIGINT,
    message        VARCHAR
);

CREATE TABLE loaded_partitions (
    lake_path   VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,
    run_id      VARCHAR NOT NULL,
    loaded_at   TIMESTAMPTZ NOT NULL
);
