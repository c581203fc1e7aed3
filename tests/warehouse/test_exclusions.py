"""Nothing dropped silently: every post no number counts is in v_exclusions (brand x day x
reason), the dashboard's freshness line counts them and links to them, the duplicate share
is a warning, and machine-read output stays machine-readable."""

import json
import re
import subprocess
import sys

from starlette.testclient import TestClient

from opinion.clean.dedupe import minhash_bands, text_fingerprint
from opinion.insights.eligible import SPAM_THRESHOLD
from opinion.warehouse import connect, load_lake
from opinion.warehouse.quality import check_duplicate_share

from .conftest import REPO, mention_rows, post_row, write_mentions

DAY = "2015-02-20"
SAID = "been on hold for over two hours trying to rebook my cancelled flight to denver"


def lake_with_every_exit(settings) -> dict[str, dict]:
    keys = {"text_hash": text_fingerprint(SAID), "minhash_bands": minhash_bands(SAID)}
    rows = {
        "kept": post_row("twitter", DAY, 0, text=SAID, **keys),
        "duplicate": post_row("twitter", DAY, 1, text=SAID + "!", **keys),
        "spam": post_row("twitter", DAY, 2, spam_score=0.9),
        "language": post_row("twitter", DAY, 3, is_english=False, language="es"),
        "no brand": post_row("twitter", DAY, 4, brand=None),
        "not analysed": post_row("twitter", DAY, 5, text="", sentiment=None),
    }
    analysed = [r for r in rows.values() if r["sentiment"] is not None]
    write_mentions(settings.lake_dir, "twitter", DAY, list(rows.values()), mention_rows(analysed))
    settings.lake.write_rejects(
        "collect",
        "twitter",
        "run1",
        [
            {"record": "r1", "reason": "created_at 1970-01-01T00:00:00+00:00 outside 2000-01-01"},
            {"record": "r2", "reason": "timestamp out of range: '99999-01-01'"},
            {"record": "r3", "reason": "missing text"},
        ],
    )
    return rows


def test_every_exit_is_counted_once(settings):
    lake_with_every_exit(settings)
    load_lake(settings, max_age_days=None)
    with connect(settings.warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT brand, day::VARCHAR, reason, posts, mentions FROM v_exclusions ORDER BY ALL"
        ).fetchall()
        rejected_day = con.execute("SELECT max(rejected_at)::DATE::VARCHAR FROM rejects").fetchone()
        eligible = con.execute(
            "SELECT count(*) FROM posts WHERE dup_of IS NULL AND brand IS NOT NULL "
            f"AND coalesce(spam_score, 0) < {SPAM_THRESHOLD} AND coalesce(is_english, true) "
            "AND sentiment IS NOT NULL"
        ).fetchone()[0]
        total = con.execute("SELECT count(*) FROM posts").fetchone()[0]
    assert sorted(rows, key=str) == sorted(
        [
            ("united", DAY, "duplicate", 1, 2),
            ("united", DAY, "spam", 1, 2),
            ("united", DAY, "language", 1, 2),
            (None, DAY, "no brand", 1, 2),
            ("united", DAY, "not analysed", 1, 0),
            (None, rejected_day[0], "out-of-range date", 2, 0),
            (None, rejected_day[0], "rejected", 1, 0),
        ],
        key=str,
    )
    post_rows = [r for r in rows if r[2] not in ("out-of-range date", "rejected")]
    assert eligible + sum(r[3] for r in post_rows) == total  # each post: counted or excluded


def test_freshness_line_links_to_the_exclusions(settings):
    from opinion.serve.app import create_app

    lake_with_every_exit(settings)
    load_lake(settings, max_age_days=None)
    client = TestClient(create_app(settings))
    page = client.get("/", params={"brand": "united"})
    line = re.search(r'<p class="fresh" id="freshness">(.*?)</p>', page.text, re.S).group(1)
    assert 'href="/exclusions.csv"' in line
    text = re.sub(r"<[^>]+>", "", line)
    assert "8 posts left out:" in text
    for part in ("2 out-of-range dates", "1 duplicates", "1 spam", "1 not English"):
        assert part in text
    csv = client.get("/exclusions.csv")
    assert csv.status_code == 200
    lines = csv.text.strip().splitlines()
    assert lines[0] == "brand,day,reason,posts,mentions" and len(lines) == 8


def test_duplicate_share_warns(settings, monkeypatch):
    said = [" ".join(f"word{i}x{j}" for j in range(8)) for i in range(60)]  # unlike each other
    posts = [
        post_row(
            "twitter", DAY, i, text=t, text_hash=text_fingerprint(t), minhash_bands=minhash_bands(t)
        )
        for i, t in enumerate(said)
    ]
    # 4 of 64 posts (6 %) are exact copies of earlier ones
    posts += [
        post_row("twitter", DAY, 100 + i, text=said[i], text_hash=posts[i]["text_hash"])
        for i in range(4)
    ]
    write_mentions(settings.lake_dir, "twitter", DAY, posts)
    report = load_lake(settings, max_age_days=None)
    check = {c.name: c for c in report.checks}["duplicate_share"]
    assert not check.passed and not check.required
    assert f"{DAY} 6.2% (4 of 64)" in check.detail
    with connect(settings.writer_warehouse) as con:
        assert check_duplicate_share(con, max_share=0.07).passed
        monkeypatch.setenv("OPINION_MAX_DUPLICATE_SHARE", "0.1")
        assert check_duplicate_share(con).passed


def test_warehouse_connections_print_no_progress_bar(settings):
    with connect(settings.writer_warehouse) as con:
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)


def test_load_json_is_the_last_stdout_line_and_the_json_out_file(settings, tmp_path):
    lake_with_every_exit(settings)
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "opinion", "load", "--warehouse", str(settings.warehouse),
         "--lake", str(settings.lake_dir), "--json-out", str(out)],
        capture_output=True, text=True, cwd=REPO, check=True,
    )  # fmt: skip
    last = proc.stdout.strip().splitlines()[-1]
    assert json.loads(last) == json.loads(out.read_text())
    assert json.loads(last)["posts_loaded"] == 6
