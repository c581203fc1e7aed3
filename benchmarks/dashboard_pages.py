"""Dashboard pages timed on a published warehouse, the verbatims page in all its forms.

    PYTHONPATH=. python benchmarks/dashboard_pages.py --warehouse data/warehouse/opinion.duckdb

Requests go through the real Starlette app (in-process `httpx` transport, as
`benchmarks/warehouse_scale.py`'s `bench_pages`), which reads the file through the dashboard's
read-only `Snapshot`; nothing is written next to the warehouse. Each path is requested once to
warm up, then `-n` times (default 20); p50/p95 ms are printed per path, then one JSON line.

Besides the five pages at their defaults (first brand, whole loaded period): the verbatims
pages reached by following "next →" twice (keyset links), an old `page=5` link, the other
sorts, a filtered page and the CSV export; and, timed on their own, the verbatim counts
(`verbatims.verbatim_counts`: what a first view of a filter pays once, the app then keeps them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from sql_examples import percentiles  # noqa: E402

EXTRA = (
    "/verbatims?page=5",
    "/verbatims?sort=negative",
    "/verbatims?sort=engaged",
    "/verbatims?polarity=negative&days=30",
    "/verbatims.csv",
)


def bench(warehouse: Path, n: int = 20, extra: tuple[str, ...] = EXTRA) -> dict:
    import httpx

    from opinion.config import Settings
    from opinion.serve import catalog, filters, verbatims
    from opinion.serve.app import PAGES, create_app

    scratch = Path(tempfile.mkdtemp(prefix="opinion-pages-"))
    settings = Settings(
        data_dir=scratch, lake_dir=scratch / "lake", warehouse=warehouse,
        state_dir=scratch / "state", brands_file=REPO / "data" / "brands" / "airlines.yaml",
    )  # fmt: skip
    app = create_app(settings)

    async def timed(client, path: str) -> tuple[str, dict]:
        r = await client.get(path)
        r.raise_for_status()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            (await client.get(path)).raise_for_status()
            times.append((time.perf_counter() - t0) * 1000)
        return r.text, percentiles(times)

    async def go() -> dict:
        out: dict = {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for path in [p for _, p, _ in PAGES] + list(extra):
                html, out[path] = await timed(client, path)
                print(f"{out[path]['p50']:8.1f} {out[path]['p95']:8.1f}  {path}", flush=True)
                for _ in range(2 if path == "/verbatims" else 0):  # follow "next →"
                    m = re.search(r'<a href="(\?[^"]+)" id="next"', html)
                    if not m:
                        break
                    path = "/verbatims" + m.group(1).replace("&amp;", "&")
                    html, out[path] = await timed(client, path)
                    print(f"{out[path]['p50']:8.1f} {out[path]['p95']:8.1f}  {path}", flush=True)
        return out

    out = asyncio.run(go())
    snapshot = app.state.snapshot
    with snapshot.cursor() as cur:
        cat = catalog.catalog(cur)
        f = filters.parse({}, cat, default_brand=cat.brands[0] if cat.brands else None)
        times = []
        for _ in range(max(3, n // 4)):
            t0 = time.perf_counter()
            verbatims.verbatim_counts(cur, f)
            times.append((time.perf_counter() - t0) * 1000)
    out["counts (uncached, default filter)"] = percentiles(times)
    c = out["counts (uncached, default filter)"]
    print(f"{c['p50']:8.1f} {c['p95']:8.1f}  counts (uncached, default filter)")
    snapshot.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--warehouse", type=Path, required=True, help="a published warehouse file")
    ap.add_argument("-n", type=int, default=20, help="timed requests per path (default 20)")
    args = ap.parse_args()
    if not args.warehouse.is_file():
        sys.exit(f"error: no warehouse file at {args.warehouse}")
    print(f"{'p50 ms':>8} {'p95 ms':>8}  path")
    res = bench(args.warehouse, max(1, args.n))
    print(json.dumps({"warehouse": str(args.warehouse), "n": args.n, "pages": res}))


if __name__ == "__main__":
    main()
