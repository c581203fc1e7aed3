"""The warehouse at scale: loads, publish and dashboard queries on replicated demo lakes.

    PYTHONPATH=. python benchmarks/warehouse_scale.py --seed data/lake --scale 10 --scale 100

`--seed` is a lake with `mentions/` partitions (e.g. the one `opinion demo` writes). For each
scale S the seed's posts and mentions are replicated S times with new ids (post_id, mention_id,
text_hash and minhash bands get a replica suffix, so replicas are not duplicates of each other)
and shifted in time: replica r moves by r * max(1, 730 // S) days, so the lake spans about two
years of day partitions. `--sparse N` also builds a sparse lake: N seed posts (with their
mentions) spread over 14 years, once with one partition per day and once with the grain the
collect stage now picks (`Lake.period_keys`: month partitions for thin months).

Each load runs `opinion.warehouse.load_lake` in a fresh subprocess; peak RSS is that process's
own `ru_maxrss`. Steps: full load (empty warehouse), no-op load, incremental load after one day's
partition is rewritten (some polarities flipped; this first change after a full load also
creates the second snapshot slot, a whole-file copy), a second incremental load after another
day is rewritten (the steady state: a delta publish; this is the "1 changed day" column),
`publish` alone (checks + delta), and the dashboard's pages through the real Starlette app
(`httpx` transport, 20 requests each).
Prints a Markdown table (for docs/warehouse.md) and writes JSON next to the lakes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from opinion.lake import Lake  # noqa: E402

LOAD = """
import json, sys, time
from pathlib import Path
from opinion.config import Settings
from opinion.warehouse import load_lake, publish
root = Path(sys.argv[1])
s = Settings(data_dir=root, lake_dir=root / "lake", warehouse=root / "wh" / "opinion.duckdb",
             state_dir=root / "state", brands_file=Path(sys.argv[3]))
t0 = time.monotonic()
if sys.argv[2] == "publish":
    from opinion.warehouse.publish import LAST_PUBLISH
    publish(s, max_age_days=None)
    out = {"publish_mode": LAST_PUBLISH["mode"], "timings": LAST_PUBLISH["seconds"]}
else:
    r = load_lake(s, max_age_days=None, rebuild=sys.argv[2] == "rebuild")
    out = {"partitions": len(r.partitions_loaded), "published": r.published is not None,
           "publish_mode": r.publish_mode, "aggregates": r.aggregates, "timings": r.timings}
out["seconds"] = time.monotonic() - t0
import resource
usage = resource.getrusage(resource.RUSAGE_SELF)
out["rss_mb"] = round(usage.ru_maxrss / 1024, 1)
out["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)  # all threads; honest on a busy box
from opinion.warehouse.dup_of import LAST_STATS
out["dup_of_stats"] = dict(LAST_STATS)
Path(sys.argv[4]).write_text(json.dumps(out))  # never parsed from stdout (progress output)
"""


def _read_seed(seed: Path) -> list[tuple[date, pa.Table, pa.Table]]:
    out = []
    for part in Lake.of(seed).list_partitions("mentions"):
        posts = pq.read_table(part.file("posts"))
        mentions = pq.read_table(part.file("mentions"))
        out.append((date.fromisoformat(part.day[:10]), posts, mentions))
    if not out:
        raise SystemExit(f"{seed}: no mentions partitions (run `opinion demo --lake {seed}`)")
    return out


def _suffix(col: pa.ChunkedArray, tag: str) -> pa.ChunkedArray:
    return pc.binary_join_element_wise(col, pa.scalar(tag), "")


def _replica(posts: pa.Table, mentions: pa.Table, r: int, shift: timedelta):
    tag = f"~{r}"
    p = posts
    for name in ("post_id", "native_id", "text_hash"):
        p = p.set_column(p.schema.get_field_index(name), name, _suffix(p[name], tag))
    bands = p["minhash_bands"].combine_chunks()
    flat = pc.binary_join_element_wise(bands.flatten(), pa.scalar(tag), "")
    p = p.set_column(
        p.schema.get_field_index("minhash_bands"),
        "minhash_bands",
        pa.ListArray.from_arrays(bands.offsets, flat, mask=bands.is_null()),
    )
    created = pc.add(p["created_at"], pa.scalar(shift, pa.duration("us")))
    p = p.set_column(p.schema.get_field_index("created_at"), "created_at", created)
    m = mentions
    for name in ("mention_id", "post_id"):
        m = m.set_column(m.schema.get_field_index(name), name, _suffix(m[name], tag))
    return p, m


def _day_of(posts: pa.Table) -> pa.Array:
    return pc.strftime(posts["created_at"], format="%Y-%m-%d", locale="C")


def _write_by_key(root: Path, source: str, posts: pa.Table, mentions: pa.Table, keys) -> int:
    """Write posts/mentions into partitions keyed by `keys(day) -> key`; returns how many."""
    days = _day_of(posts)
    groups: dict[str, list[str]] = {}
    for day in pc.unique(days).to_pylist():
        groups.setdefault(keys(day), []).append(day)
    for key, ds in groups.items():
        sel = pc.is_in(days, value_set=pa.array(ds))
        p = posts.filter(sel)
        m = mentions.filter(pc.is_in(mentions["post_id"], value_set=p["post_id"]))
        Lake.of(root).write_partition("mentions", source, key, {"posts": p, "mentions": m})
    return len(groups)


def build_scaled(seed_parts, scale: int, root: Path) -> dict:
    """Replicate the seed `scale` times into `root/lake`; returns counts."""
    shift_days = max(1, 730 // scale)
    by_day: dict[str, list[tuple[int, int]]] = {}
    for r in range(scale):
        for i, (d, _, _) in enumerate(seed_parts):
            by_day.setdefault((d + timedelta(days=r * shift_days)).isoformat(), []).append((r, i))
    posts_n = mentions_n = 0
    sources = sorted({p["source"][0].as_py() for _, p, _ in seed_parts if p.num_rows})
    for day, pieces in sorted(by_day.items()):
        ps, ms = [], []
        for r, i in pieces:
            d, posts, mentions = seed_parts[i]
            p, m = _replica(posts, mentions, r, timedelta(days=r * shift_days))
            ps.append(p)
            ms.append(m)
        p, m = pa.concat_tables(ps), pa.concat_tables(ms)
        keep = pc.equal(_day_of(p), day)  # seed partitions hold only their own day
        p = p.filter(keep)
        m = m.filter(pc.is_in(m["post_id"], value_set=p["post_id"]))
        Lake.of(root / "lake").write_partition(
            "mentions", sources[0], day, {"posts": p, "mentions": m}
        )
        posts_n += p.num_rows
        mentions_n += m.num_rows
    return {"posts": posts_n, "mentions": mentions_n, "partitions": len(by_day)}


def build_sparse(seed_parts, n: int, root: Path, grain: str, seed: int = 16) -> dict:
    """`n` seed posts spread uniformly over 2011-2025, one partition per day or by grain."""
    posts = pa.concat_tables([p for _, p, _ in seed_parts])
    mentions = pa.concat_tables([m for _, _, m in seed_parts])
    rng = random.Random(seed)
    idx = sorted(rng.sample(range(posts.num_rows), n))
    posts = posts.take(pa.array(idx))
    start = datetime(2011, 1, 1, tzinfo=UTC)
    span = (datetime(2025, 1, 1, tzinfo=UTC) - start).total_seconds()
    when = [start + timedelta(seconds=rng.random() * span) for _ in range(n)]
    posts = posts.set_column(
        posts.schema.get_field_index("created_at"),
        "created_at",
        pa.array(when, pa.timestamp("us", tz="UTC")),
    )
    mentions = mentions.filter(pc.is_in(mentions["post_id"], value_set=posts["post_id"]))
    days = _day_of(posts).to_pylist()
    if grain == "day":
        keys = {d: d for d in days}
    else:
        counts: dict[str, int] = {}
        for d in days:
            counts[d] = counts.get(d, 0) + 1
        keys = Lake.of(root / "lake").period_keys("reviews", counts)
    parts = _write_by_key(root / "lake", "reviews", posts, mentions, keys.__getitem__)
    return {"posts": posts.num_rows, "mentions": mentions.num_rows, "partitions": parts}


def run_load(root: Path, mode: str, brands: Path) -> dict:
    """One load/publish in a fresh process: its JSON report, wall seconds and peak RSS."""
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    result = root / f".load-{mode}.json"
    result.unlink(missing_ok=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", LOAD, str(root), mode, str(brands), str(result)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    out, err = proc.communicate()
    wall = time.monotonic() - t0
    if proc.returncode:
        raise SystemExit(f"{mode} load failed: {err.decode()[-2000:]}")
    report = json.loads(result.read_text())
    report["wall"] = wall  # includes the interpreter start and imports (~1-3 s)
    return report


def touch_one_day(root: Path, back: int = 1) -> str:
    """Rewrite the `back`-th newest day partition with a quarter of its mention polarities
    set to negative."""
    parts = Lake.of(root / "lake").list_partitions("mentions")
    part = parts[-back]
    posts = pq.read_table(part.file("posts"))
    mentions = pq.read_table(part.file("mentions"))
    flip = pc.equal(pc.bit_wise_and(pa.array(range(mentions.num_rows)), 3), 0)
    polarity = pc.if_else(flip, "negative", mentions["polarity"])
    mentions = mentions.set_column(
        mentions.schema.get_field_index("polarity"), "polarity", polarity
    )
    Lake.of(root / "lake").write_partition("mentions", part.source, part.day, {
        "posts": posts, "mentions": mentions,
    })  # fmt: skip
    return part.relpath


def add_new_day(root: Path) -> str:
    """Write the day after the newest one: the newest day's posts again, with new ids (a day
    of new posts arriving: their duplicate keys are new, so dup_of searches the whole table)."""
    parts = Lake.of(root / "lake").list_partitions("mentions")
    part = parts[-1]
    posts = pq.read_table(part.file("posts"))
    mentions = pq.read_table(part.file("mentions"))
    posts, mentions = _replica(posts, mentions, 999_999, timedelta(days=1))
    newest = pc.max(posts["created_at"]).as_py()  # a month partition's key is not a day
    day = newest.date().isoformat()
    posts = posts.filter(pc.equal(_day_of(posts), day))
    mentions = mentions.filter(pc.is_in(mentions["post_id"], value_set=posts["post_id"]))
    Lake.of(root / "lake").write_partition("mentions", part.source, day, {
        "posts": posts, "mentions": mentions,
    })  # fmt: skip
    return f"mentions/source={part.source}/day={day}"


def bench_pages(root: Path, brands: Path, n: int = 20) -> dict[str, dict[str, float]]:
    """p50/p95 ms of each dashboard page through the real app (in-process ASGI transport)."""
    import asyncio

    import httpx
    from sql_examples import percentiles  # benchmarks/ is on sys.path (run as a script)

    from opinion.config import Settings
    from opinion.serve.app import PAGES, create_app

    settings = Settings(
        data_dir=root, lake_dir=root / "lake", warehouse=root / "wh" / "opinion.duckdb",
        state_dir=root / "state", brands_file=brands,
    )  # fmt: skip
    app = create_app(settings)

    async def go() -> dict[str, dict[str, float]]:
        out = {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _name, path, _ in PAGES:
                (await client.get(path)).raise_for_status()  # warm the snapshot
                times = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    (await client.get(path)).raise_for_status()
                    times.append((time.perf_counter() - t0) * 1000)
                out[path] = percentiles(times)
        return out

    return asyncio.run(go())


def dups_per_day(root: Path) -> dict[str, int]:
    """Posts with dup_of set per UTC day, in the writer (no load runs meanwhile)."""
    import duckdb

    with duckdb.connect(str(root / "wh" / "opinion.writer.duckdb"), read_only=True) as con:
        con.execute("SET enable_progress_bar = false")
        rows = con.execute(
            "SELECT CAST(timezone('UTC', created_at) AS DATE)::VARCHAR, count(dup_of) "
            "FROM posts GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return dict(rows)


def measure(root: Path, brands: Path, pages: bool) -> dict:
    res = {"full": run_load(root, "load", brands)}
    full_dups = dups_per_day(root)
    res["duplicates"] = sum(full_dups.values())
    res["noop"] = run_load(root, "load", brands)
    # the first change after a full load also creates the second snapshot slot (a copy);
    # the second one is the steady state: a delta publish
    res["touched"] = [touch_one_day(root, 1)]
    res["incremental_first"] = run_load(root, "load", brands)
    res["touched"].append(touch_one_day(root, 2))
    res["incremental"] = run_load(root, "load", brands)
    # rewrites with the same posts must leave every day's duplicates as the full load set them
    after = dups_per_day(root)
    res["dup_of_days_differing"] = {d: (full_dups.get(d), n) for d, n in after.items()
                                    if full_dups.get(d) != n}  # fmt: skip
    res["added"] = add_new_day(root)
    res["new_day"] = run_load(root, "load", brands)
    res["publish"] = run_load(root, "publish", brands)
    writer = root / "wh" / "opinion.writer.duckdb"
    res["warehouse_mb"] = round(writer.stat().st_size / 1024**2, 1)
    if pages:
        res["pages"] = bench_pages(root, brands)
        from sql_examples import bench_examples  # benchmarks/ is on sys.path (run as a script)

        res["sql_examples"] = bench_examples(root / "wh" / "opinion.duckdb")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=Path, required=True, help="lake with mentions partitions")
    ap.add_argument("--scale", type=int, action="append", default=[])
    ap.add_argument("--sparse", type=int, default=0, help="also a sparse lake of N posts")
    ap.add_argument("--work", type=Path, default=Path("/tmp/opinion-warehouse-scale"))
    ap.add_argument("--brands", type=Path, default=REPO / "data" / "brands" / "airlines.yaml")
    ap.add_argument("--no-pages", action="store_true", help="skip the dashboard queries")
    ap.add_argument("--keep", action="store_true", help="keep the lakes and warehouses")
    args = ap.parse_args()
    seed_parts = _read_seed(args.seed)
    results = {}
    runs = [(f"{s}x", s) for s in args.scale]
    if args.sparse:
        runs += [("sparse-day", "day"), ("sparse-month", "month")]
    for name, what in runs:
        root = args.work / name
        shutil.rmtree(root, ignore_errors=True)
        t0 = time.monotonic()
        if isinstance(what, int):
            built = build_scaled(seed_parts, what, root)
        else:
            built = build_sparse(seed_parts, args.sparse, root, what)
        built["build_s"] = round(time.monotonic() - t0, 1)
        print(f"{name}: built {built}", flush=True)
        res = measure(root, args.brands, pages=not args.no_pages and isinstance(what, int))
        results[name] = {"lake": built, **res}
        print(json.dumps({name: results[name]}, default=str), flush=True)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(table(results))


def table(results: dict) -> str:
    head = (
        "| lake | posts | mentions | partitions | full load | no-op load | 1 changed day "
        "| 1 new day | publish | peak RSS | warehouse | slowest page p95 "
        "| slowest SQL example p95 |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    rows = [head]
    for name, r in results.items():
        pages = r.get("pages") or {}
        slow = max(pages.items(), key=lambda kv: kv[1]["p95"], default=None)
        slow_s = f"{slow[0]} {slow[1]['p95']:.0f} ms" if slow else "–"
        sql = r.get("sql_examples") or {}
        slow_q = max(sql.items(), key=lambda kv: kv[1]["p95"], default=None)
        sql_s = f"{slow_q[0]} {slow_q[1]['p95']:.0f} ms" if slow_q else "–"
        new_day = f"{r['new_day']['wall']:.1f} s" if "new_day" in r else "–"
        steps = ("full", "noop", "incremental_first", "incremental", "new_day", "publish")
        rss = max(r[k]["rss_mb"] for k in steps if k in r)
        rows.append(
            f"| {name} | {r['lake']['posts']:,} | {r['lake']['mentions']:,} "
            f"| {r['lake']['partitions']:,} | {r['full']['wall']:.1f} s "
            f"| {r['noop']['wall']:.1f} s | {r['incremental']['wall']:.1f} s | {new_day} "
            f"| {r['publish']['wall']:.1f} s | {rss:.0f} MB | {r['warehouse_mb']:.0f} MB "
            f"| {slow_s} | {sql_s} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
