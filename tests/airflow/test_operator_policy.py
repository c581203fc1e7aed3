"""Operator-facing policy without an Airflow process: per-job validation, the collect
data-quality guards (reject ratio, shrunken full reads, broken CSV quoting), retracting posts
an authoritative file no longer holds, chunks balanced by rows, terminal vs retried errors."""

from __future__ import annotations

import csv
import shutil

import pyarrow.parquet as pq
import pytest
from af_helpers import REPO, write_demo_slice

from opinion.config import Settings


@pytest.fixture()
def settings(tmp_path, monkeypatch) -> Settings:
    data = tmp_path / "data"
    (data / "brands").mkdir(parents=True)
    shutil.copy(REPO / "data" / "brands" / "airlines.yaml", data / "brands" / "airlines.yaml")
    monkeypatch.setenv("OPINION_AUTHOR_SALT", "test-salt-not-secret")
    return Settings.from_env(
        data_dir=data, lake_dir=tmp_path / "lake", state_dir=tmp_path / "state",
        warehouse=tmp_path / "wh" / "opinion.duckdb", brands_file=data / "brands" / "airlines.yaml",
    )  # fmt: skip


def _job(path, **extra) -> dict:
    options = {"path": str(path), "name": "tweets", "mapping": "AIRLINE_TWEETS", **extra}
    return {"name": "tweets", "source": "files", "options": options}


def _source(settings, path, **extra):
    from opinion.sources.config import job_entries

    (entry,) = job_entries({"jobs": [_job(path, **extra)]}, "o.yaml", path.parent, settings)
    (src,) = entry.get().sources()
    return src


def _lake_posts(settings) -> set[str]:

    out: set[str] = set()
    for part in settings.lake.list_partitions("raw", source="tweets"):
        out |= set(pq.read_table(part.file("posts")).column("native_id").to_pylist())
    return out


def test_each_job_is_validated_alone(settings, tmp_path):
    from opinion.sources.config import ConfigError, get_job, job_entries, load_entries

    doc = {
        "jobs": [
            _job(tmp_path / "a.csv"),
            {**_job(tmp_path / "a.csv", mapping="AIRLINE_TWEETZ"), "name": "typo"},
            {**_job(tmp_path / "b.csv"), "name": "tweets"},
            {"source": "files"},
            {"name": "off", "source": "nope", "enabled": False},
        ]
    }
    entries = job_entries(doc, "o.yaml", tmp_path, settings)
    assert [(e.label, e.enabled, e.job is not None) for e in entries] == [
        ("tweets", True, True),
        ("typo", True, False),
        ("jobs[2]", True, False),
        ("jobs[3]", True, False),
        ("off", False, False),
    ]
    assert "AIRLINE_TWEETZ" in str(entries[1].error) and "\n" not in str(entries[1].error)
    assert "duplicate job name" in str(entries[2].error)
    config = tmp_path / "o.yaml"
    import yaml

    config.write_text(yaml.safe_dump(doc))
    assert get_job("tweets", settings, config).name == "tweets"  # the healthy job still loads
    with pytest.raises(ConfigError, match="job 'typo'.*unknown preset"):
        get_job("typo", settings, config)
    assert [e.label for e in load_entries(config, settings) if e.enabled][:2] == ["tweets", "typo"]


def test_terminal_and_retried_errors():
    from opinion.collect.partitions import CollectQualityError
    from opinion.orchestration import is_terminal
    from opinion.sources.config import ConfigError
    from opinion.sources.errors import TerminalError, TransientError

    for exc in (ConfigError("x"), CollectQualityError("x"), FileNotFoundError("x")):
        assert is_terminal(exc)
    assert is_terminal(TerminalError("401"))
    assert not is_terminal(TransientError("429")) and not is_terminal(RuntimeError("boom"))


def test_renamed_required_column_fails_loudly_and_writes_nothing(settings, tmp_path):
    from opinion.collect.jobs import collect_source
    from opinion.collect.partitions import CollectQualityError

    path = write_demo_slice(tmp_path / "in.csv", 60)
    text = path.read_text()
    path.write_text(text.replace("tweet_id", "id", 1))
    src = _source(settings, path)
    with pytest.raises(CollectQualityError, match=r"60 of 60 rows rejected \(reject ratio 100"):
        collect_source(settings, src)
    assert _lake_posts(settings) == set()
    from opinion.sources.state import read_cursor

    assert read_cursor(settings.lake_dir, src.name, src.key) is None  # fixed file is re-read
    path.write_text(text)
    assert collect_source(settings, _source(settings, path))["posts"] == 60


def test_unbalanced_quote_is_rejected_with_a_reason(tmp_path):
    from opinion.records import Reject
    from opinion.sources.files import read_rows

    path = write_demo_slice(tmp_path / "in.csv", 40)
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    text_col = rows[0].index("text")
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerows(rows[:10])
        # row 10: a quote opened in the text column and never closed on that line
        broken = [v.replace('"', "").replace(",", " ") for v in rows[10]]
        broken[text_col] = '"' + broken[text_col]
        fh.write(",".join(broken) + "\n")
        writer.writerows([[v.replace('"', "") for v in r] for r in rows[11:30]])
        fh.write('"closing quote finally\n')
        writer.writerows(rows[30:])
    out = list(read_rows(path, "csv"))
    rejects = [r for r in out if isinstance(r, Reject)]
    assert rejects, "the swallowed rows must not pass as one long post"
    assert "unbalanced quote" in rejects[0].reason
    assert all(len(r.get("text", "")) < 400 for r in out if isinstance(r, dict))


def test_authoritative_file_retracts_vanished_posts(settings, tmp_path):
    from opinion.collect.jobs import collect_source

    path = write_demo_slice(tmp_path / "in.csv", 50)
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    collect_source(settings, _source(settings, path, authoritative=True))
    before = _lake_posts(settings)
    assert len(before) == 50
    gone = {rows[1][0], rows[2][0]}
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([r for r in rows if r[0] not in gone])
    report = collect_source(settings, _source(settings, path, authoritative=True))
    assert report["retracted"] == 2
    assert _lake_posts(settings) == before - gone
    # a non-authoritative read of the same smaller file keeps what the lake has
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    collect_source(settings, _source(settings, path, authoritative=True))
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([r for r in rows if r[0] not in gone])
    collect_source(settings, _source(settings, path))
    assert _lake_posts(settings) == before


def test_authoritative_file_that_shrank_too_much_fails(settings, tmp_path):
    from opinion.collect.jobs import collect_source
    from opinion.collect.partitions import CollectQualityError

    path = write_demo_slice(tmp_path / "in.csv", 50)
    collect_source(settings, _source(settings, path, authoritative=True))
    write_demo_slice(path, 10)
    with pytest.raises(CollectQualityError, match="10 posts, the lake 50"):
        collect_source(settings, _source(settings, path, authoritative=True))
    assert len(_lake_posts(settings)) == 50


def test_chunks_are_balanced_by_rows():
    from opinion.orchestration import chunk, chunk_label

    parts = [["s/a", 9306], ["s/b", 100], ["s/c", 5179], ["s/d", 4000], ["s/e", 10]]
    chunks = chunk(parts, max_chunks=2, min_per_chunk=1)
    rows = {n: r for n, r in parts}
    loads = sorted(sum(rows[n] for n in c) for c in chunks)
    assert loads == [9289, 9306]
    assert sorted(sum(chunks, [])) == sorted(rows)
    names = [f"s/2015-02-{d:02d}" for d in range(1, 20)]
    assert sorted(sum(chunk(names, 2, 4), [])) == names and len(chunk(names, 2, 4)) == 2
    assert len(chunk(names[:5], max_chunks=4, min_per_chunk=4)) == 2
    assert chunk([], 2, 4) == []
    assert chunk_label(["s/2", "s/1"]) == "s/1 .. s/2 (2 partitions)"


def test_author_salt_required_on_a_remote_lake_and_file_is_private(monkeypatch, tmp_path):
    from opinion.lake import storage

    monkeypatch.delenv("OPINION_AUTHOR_SALT", raising=False)
    remote = Settings.from_env(lake_dir="s3://opinion-test/lake", state_dir=tmp_path / "r")
    assert storage.is_remote(remote.lake_dir) and str(remote.lake_dir) == "s3://opinion-test/lake"
    with pytest.raises(ValueError, match="OPINION_AUTHOR_SALT is required"):
        remote.author_salt()
    local = Settings.from_env(lake_dir=tmp_path / "lake", state_dir=tmp_path / "state")
    assert not storage.is_remote(local.lake_dir)
    salt = local.author_salt()
    assert (tmp_path / "state" / "author_salt").stat().st_mode & 0o777 == 0o600
    assert local.author_salt() == salt and len(salt) == 32
    assert list((tmp_path / "state").iterdir()) == [tmp_path / "state" / "author_salt"]
