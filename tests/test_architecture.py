"""The house rules (docs/architecture.md): imports point down only, no circles, no oversized
modules. The import rules are import-linter contracts in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 600


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter over the `opinion` package found under `root`, with the repo's contracts."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from importlinter.cli import lint_imports;"
        "sys.exit(lint_imports(config_filename=sys.argv[2], no_cache=True, no_logo=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(root), str(REPO / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=300,
    )


def test_the_import_rules_hold():
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and "kept" in done.stdout.lower()


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("lake/schemas.py", "from opinion import cli"),  # ground importing a face
        ("sources/registry.py", "from opinion.collect import jobs"),  # engine importing its runner
        (
            "insights/stats.py",
            "from opinion.warehouse import load",
        ),  # insights importing the loader
        ("collect/gate.py", "from opinion.extract import stage"),  # one stage importing another
    ],
)
def test_an_upward_import_breaks_the_rules(tmp_path, module, upward):
    """The contracts can fail: the same package with one upward import added is refused."""
    shutil.copytree(REPO / "opinion", tmp_path / "opinion", ignore=shutil.ignore_patterns("*.pyc"))
    target = tmp_path / "opinion" / module
    target.write_text(target.read_text() + f"\n{upward}  # noqa\n")
    done = _lint_imports(tmp_path)
    assert done.returncode != 0
    assert "BROKEN" in done.stdout


def test_no_module_is_oversized():
    big = {
        str(p.relative_to(REPO)): n
        for p in [*(REPO / "opinion").rglob("*.py"), *(REPO / "dags").rglob("*.py")]
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not big, f"modules over {MAX_MODULE_LINES} lines: {big}"


def test_every_wing_says_what_it_owns():
    for wing in ("collect", "extract", "warehouse", "insights", "serve", "lake"):
        init = REPO / "opinion" / wing / "__init__.py"
        doc = init.read_text(encoding="utf-8").lstrip()
        assert doc.startswith('"""') and len(doc.split('"""')[1].split()) >= 12, wing
