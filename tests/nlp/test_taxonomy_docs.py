"""docs/taxonomy.md is a contract: its worked example (a hotel pack, a brand list naming the
domain, 64 reviews) runs word for word, fits a head, and extraction attributes every review,
implicit ones included."""

from __future__ import annotations

import csv
import json
import re
import shlex
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from opinion.cli import main
from opinion.config import REPO_ROOT

DOC = REPO_ROOT / "docs" / "taxonomy.md"


def _example_commands() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("## Worked example")[1]
    code = re.search(r"```bash\n(.*?)```", block, re.S)
    assert code, "the worked example has a bash block"
    return [ln.strip() for ln in code.group(1).splitlines() if ln.strip()]


@pytest.fixture()
def isolated(tmp_path: Path, monkeypatch):
    """The repository as working directory; packs copied to a data folder of the test's own
    (so the fitted head does not land in the checkout); /tmp/hotel → tmp_path."""
    data = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "data" / "taxonomies", data / "taxonomies")
    for head in (data / "taxonomies").glob("*.head.safetensors"):
        head.unlink()
    monkeypatch.setenv("OPINION_DATA", str(data))
    monkeypatch.setenv("OPINION_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(REPO_ROOT)
    return tmp_path


def test_worked_example_runs_word_for_word(isolated: Path, monkeypatch):
    runner = CliRunner()
    outputs = {}
    for line in _example_commands():
        line = line.replace("/tmp/hotel", str(isolated / "hotel"))
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            monkeypatch.setenv(key, value)
            continue
        args = shlex.split(line)
        assert args[0] == "opinion", line
        result = runner.invoke(main, args[1:], catch_exceptions=False)
        assert result.exit_code == 0, (line, result.output)
        outputs[args[1]] = result.output
    head = isolated / "data" / "taxonomies" / "hotel.head.safetensors"
    assert head.exists()
    fit = json.loads(outputs["taxonomy"].strip().splitlines()[-1])
    assert fit["taxonomy_version"].startswith("hotel-1+head.")
    con = duckdb.connect(str(isolated / "hotel" / "warehouse.duckdb"), read_only=True)
    try:
        versions = {
            r[0] for r in con.execute("SELECT DISTINCT taxonomy_version FROM mentions").fetchall()
        }
        assert versions == {fit["taxonomy_version"]}
        cats = {r[0] for r in con.execute("SELECT DISTINCT category FROM mentions").fetchall()}
        assert {"bed_comfort", "cleanliness", "noise", "wifi", "breakfast"} <= cats
        implicit = con.execute(
            "SELECT p.text, m.category, m.touchpoint, m.term FROM mentions m "
            "JOIN posts p USING (post_id) WHERE m.implicit"
        ).fetchall()
    finally:
        con.close()
    assert implicit, "reviews naming no aspect get implicit mentions"
    assert all(term is None for *_, term in implicit)
    accuracy = float(re.search(r"accuracy ([0-9.]+)", outputs["eval"]).group(1))
    assert accuracy >= 0.6, outputs["eval"]


def _teach_commands() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("## Teach it your domain")[1]
    code = re.search(r"```bash\n(.*?)```", block, re.S)
    assert code, "the walkthrough has a bash block"
    return [ln.strip() for ln in code.group(1).splitlines() if ln.strip()]


def test_teach_it_your_domain_runs_word_for_word(isolated: Path, monkeypatch):
    """pack → fit → label → fit with labels → eval, as docs/taxonomy.md writes it."""
    runner = CliRunner()
    outputs: dict[str, list[str]] = {}
    for line in _teach_commands():
        line = line.replace("/tmp/teach", str(isolated / "teach"))
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            monkeypatch.setenv(key, value)
            continue
        args = shlex.split(line)
        assert args[0] == "opinion", line
        result = runner.invoke(main, args[1:], catch_exceptions=False)
        assert result.exit_code == 0, (line, result.output)
        outputs.setdefault(args[1], []).append(result.output)
    first, second = (json.loads(o.strip().splitlines()[-1]) for o in outputs["taxonomy"])
    assert first["root_cause"]["labelled_examples"] == 0
    labelled = REPO_ROOT / "tests" / "fixtures" / "hotel" / "queue.labelled.csv"
    with labelled.open(encoding="utf-8") as fh:
        n_labels = sum(1 for row in csv.DictReader(fh) if row["label"])
    assert second["root_cause"]["labelled_examples"] == n_labels
    assert second["taxonomy_version"] != first["taxonomy_version"]
    queue = isolated / "teach" / "queue.csv"
    with queue.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["label"] == "" and r["guess"] for r in rows)
    report = outputs["eval"][0]
    primary = float(re.search(r"primary touchpoint accuracy ([0-9.]+)", report).group(1))
    by_mentions = float(re.search(r"dominant touchpoint by mentions ([0-9.]+)", report).group(1))
    assert primary >= 0.6 and by_mentions >= 0.0, report
