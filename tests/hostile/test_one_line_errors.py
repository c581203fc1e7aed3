"""Faults that once ended in tracebacks or HTTP 500s: now one clear line (or a notice)."""

from __future__ import annotations

import os
import subprocess
from datetime import date

import pytest
from click.testing import CliRunner

from opinion.cli import main


@pytest.mark.parametrize("value", ["²", "①", "٣", "1²", "１０", "-1", "1e3", "99999999"])
@pytest.mark.parametrize("name", ["days", "page"])
def test_unicode_digits_in_query_parameters_are_ignored_not_errors(name, value):
    from opinion.serve.filters import Catalog, parse

    catalog = Catalog(("United",), (), (), date(2015, 2, 17), date(2015, 2, 24))
    f = parse({name: value}, catalog)
    assert any(name in p for p in f.problems)


def test_second_load_waits_then_says_so(settings, monkeypatch):
    from opinion.locks import held

    monkeypatch.setenv("OPINION_LOCK_TIMEOUT", "1")
    writer = settings.writer_warehouse
    args = ["load", "--warehouse", str(settings.warehouse), "--lake", str(settings.lake_dir)]
    with held(writer.with_name(writer.name + ".lock"), "test"):
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: a load of") and "already running" in result.output
    assert result.output.count("\n") == 1


@pytest.fixture()
def full_disk(tmp_path):
    """A 256 kB tmpfs, filled up (skipped where mounting is not allowed)."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_disk_full_in_collect_and_load_is_one_line(tmp_path, full_disk, demo_slice):
    corpus = demo_slice(tmp_path / "s.csv", 300)
    result = CliRunner().invoke(
        main, ["collect", "airline-demo", "--path", str(corpus), "--lake", str(full_disk / "lake")]
    )
    assert result.exit_code == 1, result.output
    assert "no space left on device" in result.output.lower()
    assert result.output.count("\n") == 1
    result = CliRunner().invoke(
        main,
        ["load", "--warehouse", str(full_disk / "wh.duckdb"), "--lake", str(tmp_path / "lake")],
    )
    assert result.exit_code == 1, result.output
    assert "no space left" in result.output.lower() and result.output.count("\n") == 1


def test_temp_file_of_a_crashed_publish_is_removed_next_time(tmp_path):
    from opinion.warehouse.publish import copy_atomically

    src, dest = tmp_path / "w.duckdb", tmp_path / "pub" / "opinion.duckdb"
    src.write_bytes(b"x" * 1000)
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs
    dest.parent.mkdir()
    stale = dest.with_name(f".{dest.name}.{dead.pid}.tmp")
    stale.write_bytes(b"half a copy")
    alive = dest.with_name(f".{dest.name}.1.tmp")  # pid 1 runs: another publisher's file
    alive.write_bytes(b"in flight")
    copy_atomically(src, dest)
    assert not stale.exists() and alive.exists()
    assert dest.read_bytes() == src.read_bytes()
