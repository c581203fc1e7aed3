import pytest

from opinion.lake import Lake
from opinion.records import stable_id
from opinion.warehouse import LoadError, connect, load_lake

from .conftest import counts, make_lake, mention_rows, post_row, write_mentions


def open_writer(settings):
    return connect(settings.writer_warehouse)


def test_load_twice_is_a_noop(settings):
    rows = make_lake(settings.lake_dir, days=3, per_day=4)
    settings.lake.write_rejects("extract", "twitter", "k1", [{"record": "x", "reason": "r"}])
    first = load_lake(settings)
    assert len(first.partitions_loaded) == 3 and first.posts_loaded == len(rows)
    with open_writer(settings) as con:
        before = counts(con)
    second = load_lake(settings)
    assert not second.changed and second.partitions_skipped == 4
    with open_writer(settings) as con:
        after = counts(con)
    assert before == after == {
        "posts": 12, "mentions": 24, "rejects": 1, "runs": 4, "loaded_partitions": 4,
    }  # fmt: skip
    with connect(settings.warehouse, read_only=True) as pub:
        assert pub.execute("SELECT count(*) FROM posts").fetchone()[0] == 12


def test_recollected_post_updates_in_place(settings):
    day = "2015-02-20"
    posts = [post_row("twitter", day, i) for i in range(3)]
    write_mentions(settings.lake_dir, "twitter", day, posts)
    load_lake(settings)
    posts[1] = post_row("twitter", day, 1, text="edited text", sentiment="negative")
    write_mentions(settings.lake_dir, "twitter", day, posts)
    report = load_lake(settings)
    assert report.partitions_loaded == [f"mentions/source=twitter/day={day}"]
    with open_writer(settings) as con:
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 3
        got = con.execute(
            "SELECT text, sentiment FROM posts WHERE post_id = ?", [posts[1]["post_id"]]
        ).fetchall()
        assert got == [("edited text", "negative")]


def test_duplicate_rows_in_a_partition_counted(settings):
    day = "2015-02-20"
    posts = [post_row("twitter", day, i) for i in range(3)]
    again = dict(
        posts[0], text="newer copy", collected_at=posts[0]["collected_at"].replace(year=2025)
    )
    write_mentions(settings.lake_dir, "twitter", day, posts + [again], mention_rows(posts))
    report = load_lake(settings, raw_rows=4)
    assert report.rows_duplicate == 1
    with open_writer(settings) as con:
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 3
        assert con.execute(
            "SELECT text FROM posts WHERE post_id = ?", [posts[0]["post_id"]]
        ).fetchone() == ("newer copy",)
        run = con.execute("SELECT rows_in, rows_loaded, rows_duplicate FROM runs").fetchall()
        assert run == [(4, 3, 1)]


def test_reextract_replaces_mentions(settings):
    day = "2015-02-20"
    posts = [post_row("twitter", day, i) for i in range(3)]
    write_mentions(settings.lake_dir, "twitter", day, posts, mention_rows(posts, per_post=3))
    load_lake(settings)
    with open_writer(settings) as con:
        assert con.execute("SELECT count(*) FROM mentions").fetchone()[0] == 9
    # fewer mentions, and post 2 dropped from the partition (e.g. now rejected as spam)
    write_mentions(
        settings.lake_dir, "twitter", day, posts[:2], mention_rows(posts[:2], per_post=1)
    )
    load_lake(settings)
    with open_writer(settings) as con:
        assert con.execute("SELECT count(*) FROM mentions").fetchone()[0] == 2
        assert con.execute('SELECT max("end") FROM mentions').fetchone()[0] == 4
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 2


def test_rejects_upsert_and_removal(settings):
    lake = settings.lake_dir
    make_lake(lake, days=1)
    rows = [{"record": "a", "reason": "r1"}, {"record": "b", "reason": "r1"}]
    Lake.of(lake).write_rejects("extract", "twitter", "k1", rows)
    Lake.of(lake).write_rejects("collect", "twitter", "k2", [{"record": "a", "reason": "bad json"}])
    load_lake(settings)
    load_lake(settings)
    with open_writer(settings) as con:
        assert con.execute("SELECT count(*) FROM rejects").fetchone()[0] == 3
        rid = con.execute("SELECT reject_id FROM rejects WHERE stage='extract' AND record='a'")
        assert rid.fetchone()[0] == stable_id("extract", "twitter", "a")
    Lake.of(lake).write_rejects("extract", "twitter", "k1", [{"record": "a", "reason": "r2"}])
    load_lake(settings)
    with open_writer(settings) as con:
        got = con.execute("SELECT record, reason FROM rejects WHERE stage='extract'").fetchall()
        assert got == [("a", "r2")]
    Lake.of(lake).write_rejects("collect", "twitter", "k2", [])  # file removed from the lake
    report = load_lake(settings)
    assert report.rejects_files_removed == ["rejects/stage=collect/source=twitter/k2.parquet"]
    with open_writer(settings) as con:
        assert con.execute("SELECT count(*) FROM rejects").fetchone()[0] == 1


def test_dup_of(settings):
    day = "2015-02-20"
    p = [post_row("twitter", day, i) for i in range(5)]
    p[1]["text_hash"] = p[0]["text_hash"]  # exact duplicate of 0 (0 is earlier)
    said = "the seats on this flight were cramped and the crew never came by with water"
    p[2]["text"], p[3]["text"], p[4]["text"] = said, said + " today", said + " today again"
    p[3]["minhash_bands"] = [p[2]["minhash_bands"][1], "other"]  # near duplicate of 2
    p[4]["minhash_bands"] = [p[3]["minhash_bands"][1]]  # shares only with 3 -> dup_of 3
    write_mentions(settings.lake_dir, "twitter", day, p)
    # a later-day repost of post 0's text in another source
    q = post_row("reddit", "2015-02-21", 0, text_hash=p[0]["text_hash"])
    write_mentions(settings.lake_dir, "reddit", "2015-02-21", [q])
    assert load_lake(settings).dup_of_changed == 4
    assert load_lake(settings).dup_of_changed == 0
    with open_writer(settings) as con:
        dup = dict(con.execute("SELECT post_id, dup_of FROM posts").fetchall())
    assert dup[p[0]["post_id"]] is None
    assert dup[p[1]["post_id"]] == p[0]["post_id"]
    assert dup[p[2]["post_id"]] is None
    assert dup[p[3]["post_id"]] == p[2]["post_id"]
    assert dup[p[4]["post_id"]] == p[3]["post_id"]
    assert dup[q["post_id"]] == p[0]["post_id"]
    # the original disappears from the lake -> its duplicate becomes the earliest
    write_mentions(settings.lake_dir, "twitter", day, p[1:])
    load_lake(settings)
    with open_writer(settings) as con:
        dup = dict(con.execute("SELECT post_id, dup_of FROM posts").fetchall())
    assert dup[p[1]["post_id"]] is None and dup[q["post_id"]] == p[1]["post_id"]


def test_sql_looking_text_is_data(settings):
    evil = "'; DROP TABLE posts; --"
    day = "2015-02-20"
    posts = [post_row("twitter", day, 0, text=evil, brand=evil)]
    m = mention_rows(posts, per_post=1)
    m[0]["term"] = evil
    write_mentions(settings.lake_dir, "twitter", day, posts, m)
    settings.lake.write_rejects("extract", "twitter", "k", [{"record": evil, "reason": evil}])
    load_lake(settings)
    with connect(settings.warehouse, read_only=True) as con:
        assert con.execute("SELECT text, brand FROM posts").fetchall() == [(evil, evil)]
        assert con.execute("SELECT term FROM mentions").fetchone()[0] == evil
        assert con.execute("SELECT record, reason FROM rejects").fetchall() == [(evil, evil)]


def test_bad_partition_fails_alone(settings):
    make_lake(settings.lake_dir, days=1)
    day = "2015-02-25"
    posts = [post_row("twitter", day, 0)]
    orphan = mention_rows([post_row("twitter", day, 99)], per_post=1)
    write_mentions(settings.lake_dir, "twitter", day, posts, orphan)
    with pytest.raises(LoadError, match="not in posts.parquet") as err:
        load_lake(settings)
    assert list(err.value.report.partitions_failed) == [f"mentions/source=twitter/day={day}"]
    with connect(settings.warehouse, read_only=True) as con:  # the good partition published
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 5
        status = con.execute("SELECT status, count(*) FROM runs GROUP BY ALL ORDER BY 1")
        assert status.fetchall() == [("failed", 1), ("ok", 1)]


def test_row_count_reconciliation(settings):
    from opinion.warehouse import QualityError

    rows = make_lake(settings.lake_dir, days=2, per_day=3)
    settings.lake.write_rejects("extract", "twitter", "k", [{"record": "z", "reason": "r"}])
    settings.lake.write_rejects("collect", "twitter", "k", [{"record": "q", "reason": "r"}])
    report = load_lake(settings, raw_rows=len(rows) + 1)
    assert {c.name: c.passed for c in report.checks}["row_count_reconciliation"]
    with pytest.raises(QualityError, match="row_count_reconciliation"):
        load_lake(settings, raw_rows=len(rows) + 5)


def test_run_load_is_exported():
    from opinion.warehouse import load, run_load

    assert run_load is load.run_load  # the stages' entry point (writer lock, one-line errors)
