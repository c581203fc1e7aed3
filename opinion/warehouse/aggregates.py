"""Rebuild the experience-intelligence tables (`agg_daily`, `issue_windows`, ...) in one go.

`rebuild(con, settings_or_params)` runs inside every `load_lake`, after the partitions are
merged and `posts.dup_of` recomputed, before the quality checks and the publish. It replaces:

* `settings_kv` rows `min_mentions`, `min_share` (read by the views' minimum-sample rule);
* `brand_competitors` (from the brand list) and `taxonomy_rollups` (from the taxonomy pack);
* `agg_daily`: per brand × touchpoint × category × cx_domain × UTC day, over the eligible
  mentions: the post is not a duplicate (`dup_of IS NULL`), not spam (`spam_score < 0.5`)
  and has a brand;
* `issue_windows`: negative mentions per brand × touchpoint × category in 24-hour windows that
  end at the newest eligible post, each tested against comparable earlier windows
  (`opinion/insights/issues.py`).

The views of `schema/0002_insights.sql` read these tables. Formulas: docs/warehouse.md.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from opinion.insights.eligible import ELIGIBLE, SPAM_THRESHOLD
from opinion.insights.issues import JOINED, IssueParams, detect
from opinion.warehouse import changes
from opinion.warehouse.engagement import ENGAGEMENT

#: Seconds the last `_issues` call took (the load reports it: it is the one aggregate step
#: whose cost follows the whole history, not the change).
LAST_TIMINGS: dict[str, float] = {}

DEFAULT_MIN_MENTIONS = 30

# the eligible posts and their mentions of the (brand, day) groups in the temp table _g, as
# row ids: posts by a created_at range first (zone maps), then the groups; mentions by a scan
# of post_id alone. Reading the wide rows through a join instead would read every mention's
# columns (1.6 s at 15 M mentions); the statements below fetch only these rows
_GROUP_ROWS = f"""
CREATE OR REPLACE TEMP TABLE _gp AS
SELECT rid, post_id FROM (
    SELECT p.rowid AS rid, p.post_id, p.brand, CAST(timezone('UTC', p.created_at) AS DATE) AS day
    FROM posts p
    WHERE p.created_at >= $lo AND p.created_at < $hi
      AND p.dup_of IS NULL AND coalesce(p.spam_score, 0) < {SPAM_THRESHOLD}
      AND p.brand IS NOT NULL
) SEMI JOIN _g USING (brand, day);
CREATE OR REPLACE TEMP TABLE _gm AS
SELECT rowid AS rid FROM mentions WHERE post_id IN (SELECT post_id FROM _gp);
"""

_GROUP_JOIN = """
FROM (SELECT * FROM mentions WHERE rowid IN (SELECT rid FROM _gm)) m
JOIN (SELECT * FROM posts WHERE rowid IN (SELECT rid FROM _gp)) p USING (post_id)
"""


def agg_daily_query(source: str, minimum: str = "?") -> str:
    """The `agg_daily` rows (counts per brand × touchpoint × category × domain × day, and the
    scores) of the mention rows `m` joined to their posts `p` in `source` (a FROM ... clause);
    `minimum` is the SQL of the minimum sample (a bound `?` by default). The dashboard's
    attribute filters build their per-request `agg_daily` from the same query."""
    return f"""
WITH g AS (
    SELECT p.brand,
           coalesce(m.touchpoint, 'other') AS touchpoint,
           coalesce(m.category, 'other') AS category,
           coalesce(m.cx_domain, 'experience') AS cx_domain,
           CAST(timezone('UTC', p.created_at) AS DATE) AS day,
           count(*) AS mentions,
           count(*) FILTER (WHERE m.polarity = 'positive') AS positive,
           count(*) FILTER (WHERE m.polarity = 'negative') AS negative,
           count(*) FILTER (WHERE m.polarity = 'neutral') AS neutral
    {source}
    GROUP BY ALL
)
SELECT brand, touchpoint, category, cx_domain, day, mentions, positive, negative, neutral,
       net_sentiment(positive, negative, mentions) AS net_sentiment,
       opinion_score(positive, negative) AS opinion_score,
       wilson_low(positive, negative) AS opinion_low,
       wilson_high(positive, negative) AS opinion_high,
       1.0 * mentions / sum(mentions) OVER (PARTITION BY brand, day) AS importance,
       mentions >= {minimum} AS sufficient
FROM g
"""


def _agg_insert(source: str) -> str:
    """INSERT INTO agg_daily the rows of `agg_daily_query(source)`."""
    return "INSERT INTO agg_daily\n" + agg_daily_query(source)


# agg_daily rows of the (brand, day) groups in _g (rows of _GROUP_ROWS)
_AGG_GROUPS = _agg_insert(_GROUP_JOIN)

# the columns of `verbatims`, the last three being the post's sort keys for the dashboard's
# "most negative" and "most engaged" orders (migration 0010): net sentiment and negatives over
# all the post's mentions (k: `_POST_KEYS`) and its engagement (computed once per post in p).
# Stored per row, they let a page be a Top-N of rows instead of an aggregate over every
# matching post per request. A join to a per-post aggregate costs less than window functions
# over the joined rows, and the JSON parsed per post less than per mention (24x lake: 1.35 s
# for the verbatims step against 2.3 s, 0.9 s without the keys).
_VERBATIM_COLS = """
SELECT m.mention_id, m.post_id, p.source, p.brand,
       coalesce(m.touchpoint, 'other'), coalesce(m.category, 'other'),
       coalesce(m.cx_domain, 'experience'), m.aspect, m.term, m.start, m."end", m.polarity,
       m.confidence, p.text, p.url, p.created_at, CAST(timezone('UTC', p.created_at) AS DATE),
       k.net, k.negatives, p.engagement
"""

_POST_KEYS = """
    SELECT post_id,
           (count(*) FILTER (WHERE polarity = 'positive')
            - count(*) FILTER (WHERE polarity = 'negative')) / count(*) AS net,
           count(*) FILTER (WHERE polarity = 'negative') AS negatives
    FROM {mentions} GROUP BY post_id
"""

_VERBATIMS_ALL = f"""
INSERT INTO verbatims
{_VERBATIM_COLS}
FROM mentions m
JOIN (
    SELECT *, {ENGAGEMENT} AS engagement FROM posts
    WHERE dup_of IS NULL AND coalesce(spam_score, 0) < {SPAM_THRESHOLD}
      AND brand IS NOT NULL AND created_at IS NOT NULL
) p USING (post_id)
JOIN ({_POST_KEYS.format(mentions="mentions")}) k USING (post_id)
ORDER BY p.brand, CAST(timezone('UTC', p.created_at) AS DATE)
"""

# the verbatims of the (brand, day) groups in _g (rows of _GROUP_ROWS: all mentions of the
# groups' posts, so the keys cover every mention of each post)
_GM = "(SELECT * FROM mentions WHERE rowid IN (SELECT rid FROM _gm))"
_VERBATIMS_GROUPS = f"""
INSERT INTO verbatims
{_VERBATIM_COLS}
FROM {_GM} m
JOIN (
    SELECT *, {ENGAGEMENT} AS engagement FROM posts WHERE rowid IN (SELECT rid FROM _gp)
) p USING (post_id)
JOIN ({_POST_KEYS.format(mentions=_GM)}) k USING (post_id)
ORDER BY p.brand, CAST(timezone('UTC', p.created_at) AS DATE)
"""

_AGG_DAILY = _agg_insert(ELIGIBLE)


@dataclass
class RebuildParams:
    min_mentions: int = DEFAULT_MIN_MENTIONS
    min_share: float = 0.01
    competitors: dict[str, list[str]] = field(default_factory=dict)
    rollups: dict[str, list[str]] = field(default_factory=dict)
    taxonomy_version: str | None = None
    issues: IssueParams = field(default_factory=IssueParams)

    @classmethod
    def from_settings(cls, settings, **over) -> RebuildParams:
        """Competitors from the brand list, roll-ups and `min_share` from the taxonomy pack."""
        competitors: dict[str, list[str]] = {}
        try:
            from opinion.clean.brands import BrandList

            brands = BrandList.load(settings.brands_file)
            competitors = {b.name: list(b.competitors) for b in brands}
        except (OSError, ValueError):
            pass
        rollups, min_share, version = {}, 0.01, None
        try:
            from opinion.nlp.taxonomy import taxonomy_for

            tax = taxonomy_for(settings)
            rollups = {k: [tax.resolve(c) for c in v] for k, v in tax.rollups.items()}
            min_share, version = tax.min_share, tax.version
        except (OSError, ValueError):
            pass
        values = {
            "competitors": competitors,
            "rollups": rollups,
            "min_share": min_share,
            "taxonomy_version": version,
        }
        values.update(over)
        return cls(**values)


def _params(settings_or_params) -> RebuildParams:
    if isinstance(settings_or_params, RebuildParams):
        return settings_or_params
    if isinstance(settings_or_params, dict):
        return RebuildParams(**settings_or_params)
    return RebuildParams.from_settings(settings_or_params)


def _issues(
    con: duckdb.DuckDBPyConnection, p: IssueParams, min_volume: int | None = None
) -> list[tuple]:
    """The `issue_windows` rows; the computation lives in opinion/insights/issues.py. Called
    after `verbatims` is refreshed, so it reads that pre-joined table instead of joining every
    mention to its post (2.5 s at 15 M mentions)."""
    started = time.monotonic()
    source = "verbatims" if _has_table(con, "verbatims") else JOINED
    rows = detect(con, p, min_volume, source=source)
    LAST_TIMINGS["issues"] = round(time.monotonic() - started, 3)
    return rows


def rebuild(
    con: duckdb.DuckDBPyConnection, settings_or_params, *, signature: str | None = None
) -> dict[str, int]:
    """Replace the aggregate tables in one transaction; returns row counts per table.
    `signature` (default: `params_signature`) is stored as `load_state.aggregate_params`."""
    params = _params(settings_or_params)
    con.execute("BEGIN TRANSACTION")
    try:
        now = "now()"
        con.execute("DELETE FROM settings_kv WHERE key IN ('min_mentions', 'min_share')")
        con.execute(
            f"INSERT INTO settings_kv VALUES ('min_mentions', ?, {now}), ('min_share', ?, {now})",
            [str(int(params.min_mentions)), repr(float(params.min_share))],
        )
        con.execute("DELETE FROM brand_competitors")
        pairs = sorted({(b, c) for b, cs in params.competitors.items() for c in cs if c != b})
        if pairs:
            con.executemany("INSERT INTO brand_competitors VALUES (?, ?)", pairs)
        con.execute("DELETE FROM taxonomy_rollups")
        members = sorted({(r, c) for r, cs in params.rollups.items() for c in cs})
        if members:
            con.executemany(
                "INSERT INTO taxonomy_rollups VALUES (?, ?, ?)",
                [(r, c, params.taxonomy_version) for r, c in members],
            )
        con.execute("DELETE FROM agg_daily")
        con.execute(_AGG_DAILY, [int(params.min_mentions)])
        if _has_table(con, "verbatims"):
            con.execute("DELETE FROM verbatims")
            con.execute(_VERBATIMS_ALL)
        _replace_issues(con, _issues(con, params.issues, int(params.min_mentions)))
        _mark_fresh(con, signature or params_signature(params))
        if _has_table(con, "change_log"):  # the next publish copies the file
            changes.log_full(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {
        t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
        for t in ("agg_daily", "issue_windows", "brand_competitors", "taxonomy_rollups")
    }


#: Bump when the aggregate SQL changes: stored signatures then differ and force a rebuild.
#: "2": `verbatims` carries its post's sort keys (migration 0010).
AGGREGATES_VERSION = "2"


def inputs_signature(settings) -> str:
    """Fingerprint of the files `RebuildParams.from_settings` reads (brand list, taxonomy
    pack), without parsing them: loading a pack costs seconds, a no-op load must not."""
    digest = hashlib.sha256(AGGREGATES_VERSION.encode())
    files = [Path(settings.brands_file)]
    try:
        from opinion.nlp.taxonomy import pack_path

        files.append(Path(pack_path(settings)))
    except (OSError, ValueError):
        pass
    for path in files:
        digest.update(str(path).encode())
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"missing")
    return "inputs:" + digest.hexdigest()[:32]


def params_signature(params: RebuildParams) -> str:
    """Fingerprint of everything the aggregate tables depend on besides the rows."""
    data = json.dumps([AGGREGATES_VERSION, asdict(params)], sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:32]


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = ?",
        [name],
    ).fetchone()
    return bool(row and row[0])


def _mark_fresh(con: duckdb.DuckDBPyConnection, signature: str) -> None:
    """Inside the rebuild/refresh transaction: nothing pending, built with these params."""
    if not _has_table(con, "load_state"):  # a database older than migration 0003
        return
    con.execute("DELETE FROM pending_agg_groups")
    con.execute(
        "INSERT INTO load_state VALUES ('aggregate_params', ?, now()) ON CONFLICT (key) "
        "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [signature],
    )
    con.execute(
        "INSERT INTO load_state VALUES ('generation', gen_random_uuid()::VARCHAR, now()) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
    )


def _replace_issues(con: duckdb.DuckDBPyConnection, issues: list[tuple]) -> None:
    con.execute("DELETE FROM issue_windows")
    if issues:  # via Arrow: executemany is slow in DuckDB
        import pyarrow as pa

        cols = [
            "brand", "touchpoint", "category", "window_start", "window_end", "negatives",
            "baseline_mean", "baseline_windows", "z_score", "p_value", "flagged", "severity",
            "persistence", "is_latest",
        ]  # fmt: skip
        rows = pa.table({c: [r[i] for r in issues] for i, c in enumerate(cols)})
        con.register("_issue_rows", rows)
        try:
            con.execute(f"INSERT INTO issue_windows ({', '.join(cols)}) SELECT * FROM _issue_rows")
        finally:
            con.unregister("_issue_rows")


def refresh(con: duckdb.DuckDBPyConnection, settings_or_params, *, full: bool = False) -> str:
    """Bring the aggregate tables up to date with what the loads queued; returns what it did:
    `none` (nothing queued, same inputs: no aggregate work at all), `groups` (only the
    (brand, day) groups of `pending_agg_groups` recomputed in `agg_daily`; `issue_windows`
    recomputed, its windows being anchored at the newest post) or `rebuild` (`full=True`, or
    the inputs changed since the last build: `rebuild`). With Settings, the inputs are the
    brand list and taxonomy pack files (`inputs_signature`), parsed only when needed."""
    if isinstance(settings_or_params, RebuildParams | dict):
        params: RebuildParams | None = _params(settings_or_params)
        signature = params_signature(params)
    else:
        params, signature = None, inputs_signature(settings_or_params)
    stored = con.execute("SELECT value FROM load_state WHERE key = 'aggregate_params'").fetchone()
    if full or stored is None or stored[0] != signature:
        rebuild(con, params or _params(settings_or_params), signature=signature)
        return "rebuild"
    span = con.execute("SELECT count(*), min(day), max(day) FROM pending_agg_groups").fetchone()
    if not span or not span[0]:
        return "none"
    # only min_mentions and the issue parameters matter here, and they do not come from files
    params = params or RebuildParams()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _g AS SELECT DISTINCT brand, day FROM pending_agg_groups"
        )
        for table in ("agg_daily", "verbatims"):
            con.execute(
                f"DELETE FROM {table} t USING _g WHERE t.brand = _g.brand AND t.day = _g.day"
            )
        if span[1] is not None:
            lo = datetime(span[1].year, span[1].month, span[1].day, tzinfo=UTC)
            hi = datetime(span[2].year, span[2].month, span[2].day, tzinfo=UTC) + timedelta(days=1)
            for stmt in _GROUP_ROWS.split(";"):
                if stmt.strip():
                    con.execute(stmt, {"lo": lo, "hi": hi} if "$lo" in stmt else None)
            con.execute(_AGG_GROUPS, [int(params.min_mentions)])
            con.execute(_VERBATIMS_GROUPS)
            con.execute("DROP TABLE _gp")
            con.execute("DROP TABLE _gm")
        _replace_issues(con, _issues(con, params.issues, int(params.min_mentions)))
        if _has_table(con, "change_log"):
            changes.log_groups(con, "_g")
        con.execute("DROP TABLE _g")
        _mark_fresh(con, signature)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return "groups"
