"""Where things live and which knobs are set: one typed `Settings`, read from the environment.

Ground layer. Every path has an environment override so tests, Airflow workers and users can
point the pipeline elsewhere without code changes. Secrets (the author-hash salt) come from the
environment or a generated, git-ignored file — never from git.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from opinion.lake import Lake
from opinion.lake.storage import lake_path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("OPINION_DATA", REPO_ROOT / "data"))


def _path(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser() if value else default


@dataclass(frozen=True)
class Settings:
    """Run-time configuration; build with `Settings.from_env()`."""

    data_dir: Path = DATA_DIR
    lake_dir: Path = field(default_factory=lambda: DATA_DIR / "lake")
    warehouse: Path = field(default_factory=lambda: DATA_DIR / "warehouse" / "opinion.duckdb")
    state_dir: Path = field(default_factory=lambda: DATA_DIR / "state")
    model: str = "embedded"
    brands_file: Path = field(default_factory=lambda: DATA_DIR / "brands" / "airlines.yaml")
    batch_size: int = 64
    new_salt: bool = False  # `opinion collect --new-salt`: accept a changed author salt

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        data_dir = _path("OPINION_DATA", DATA_DIR)
        values: dict[str, object] = {
            "data_dir": data_dir,
            "lake_dir": lake_path(os.environ.get("OPINION_LAKE") or data_dir / "lake"),
            "warehouse": _path("OPINION_WAREHOUSE", data_dir / "warehouse" / "opinion.duckdb"),
            "state_dir": _path("OPINION_STATE", data_dir / "state"),
            "model": os.environ.get("OPINION_MODEL", "embedded"),
            "brands_file": _path("OPINION_BRANDS", data_dir / "brands" / "airlines.yaml"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("data_dir", "warehouse", "state_dir", "brands_file"):
            values[key] = Path(values[key])  # type: ignore[arg-type]
        values["lake_dir"] = lake_path(values["lake_dir"])  # a local or s3:// lake
        return cls(**values)  # type: ignore[arg-type]

    @cached_property
    def lake(self) -> Lake:
        """The lake at `lake_dir`: every stage reads and writes it through this one object."""
        return Lake.of(self.lake_dir)

    @property
    def writer_warehouse(self) -> Path:
        """The single writer's private file. `warehouse` itself is the published snapshot that
        readers open; the loader swaps it atomically after each load whose checks pass."""
        return self.warehouse.with_name(self.warehouse.stem + ".writer.duckdb")

    def author_salt(self) -> str:
        """Salt for author-name hashing: `OPINION_AUTHOR_SALT`, else a generated local secret
        (created once, atomically, mode 0600). Several workers must share one salt, so it is
        required from the environment when the lake is remote (object storage) or
        `OPINION_REQUIRE_AUTHOR_SALT=1`: a per-worker file would hash one author two ways."""
        salt = os.environ.get("OPINION_AUTHOR_SALT")
        if salt:
            return salt
        if self.lake.remote or os.environ.get("OPINION_REQUIRE_AUTHOR_SALT") == "1":
            raise ValueError(
                "OPINION_AUTHOR_SALT is required on a multi-worker deployment (set it, or the "
                "Airflow Variable opinion_author_salt, the same on every worker)"
            )
        path = self.state_dir / "author_salt"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".author_salt.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, secrets.token_hex(16).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, path)  # first writer wins; never visible half-written
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        return path.read_text().strip()
