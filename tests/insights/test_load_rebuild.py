"""`load_lake` rebuilds the aggregates before publishing; the published views answer."""

from __future__ import annotations

from opinion.warehouse import connect, load_lake
from tests.warehouse.conftest import make_lake


def test_load_rebuilds_aggregates_and_competitors(settings):
    rows = make_lake(settings.lake_dir, days=2, per_day=4)
    load_lake(settings)
    con = connect(settings.warehouse, read_only=True)
    try:
        total = con.execute("SELECT sum(mentions) FROM agg_daily").fetchone()[0]
        assert total == 2 * len(rows)  # two mentions per post, none duplicate or spam
        assert con.execute("SELECT count(*) FROM brand_competitors").fetchone()[0] == 7 * 6
        assert con.execute("SELECT count(*) FROM taxonomy_rollups").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM v_brand_scorecard").fetchone()[0] == 1
    finally:
        con.close()
    load_lake(settings)  # idempotent: same aggregates on a second run
    con = connect(settings.warehouse, read_only=True)
    try:
        assert con.execute("SELECT sum(mentions) FROM agg_daily").fetchone()[0] == total
    finally:
        con.close()
