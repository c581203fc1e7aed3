"""How long the aggregate rebuild (and in it the emerging-issue alerts) takes on a warehouse,
with and without one stray post dated 1970-01-01 — the bounded-horizon bar of issue 15 ("a
post dated 1970 must not make the computation loop over every day since 1970": within 2× the
normal time).

    python benchmarks/alerts_horizon.py WAREHOUSE.duckdb [--repeat 3]

Works on a copy of WAREHOUSE (the original is not touched); prints one JSON line with the
median seconds of `aggregates.rebuild` and of the alerts computation alone, before and after
the 1970 post.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def _time(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import duckdb

    from opinion.insights.issues import IssueParams, detect
    from opinion.warehouse.aggregates import RebuildParams, rebuild

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.duckdb"
        shutil.copy(args.warehouse, path)
        con = duckdb.connect(str(path))
        params = RebuildParams()
        out = {"posts": con.execute("SELECT count(*) FROM posts").fetchone()[0]}
        for label in ("normal", "with_1970_post"):
            if label == "with_1970_post":
                con.execute(
                    "INSERT INTO posts (post_id, source, brand, created_at, text, lake_partition,"
                    " loaded_at) SELECT 'bench-1970', 'bench', brand, TIMESTAMPTZ '1970-01-01"
                    " 00:00:00+00', 'old', 'x', now() FROM posts WHERE brand IS NOT NULL LIMIT 1"
                )
                con.execute(
                    "INSERT INTO mentions (mention_id, post_id, polarity, category, touchpoint,"
                    " loaded_at) VALUES ('bench-1970-m', 'bench-1970', 'negative', 'baggage',"
                    " 'baggage', now())"
                )
            out[f"rebuild_s_{label}"] = round(_time(lambda: rebuild(con, params), args.repeat), 3)
            out[f"alerts_s_{label}"] = round(
                _time(lambda: detect(con, IssueParams(), params.min_mentions), args.repeat), 3
            )
            out[f"issue_windows_{label}"] = con.execute(
                "SELECT count(*) FROM issue_windows"
            ).fetchone()[0]
        con.close()
    out["ratio"] = round(out["rebuild_s_with_1970_post"] / out["rebuild_s_normal"], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
