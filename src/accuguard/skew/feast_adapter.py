"""Ask a Feast feature store for the values of logged rows, through a subprocess.

Feast is not imported here: it runs in its own Python (``python`` below, by default this
interpreter), which executes :mod:`accuguard.skew.feast_runner` with an argument list.
Rows go in and values come back as Parquet files in a temporary directory, so Feast's
pandas (< 3 for Feast 0.67) never meets accuguard's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from accuguard.errors import InputError

RUNNER = Path(__file__).with_name("feast_runner.py")
ROW = "__row"
TIMESTAMP = "event_timestamp"
PYTHON_ENV = "ACCUGUARD_FEAST_PYTHON"
"""Environment variable naming the Python of the Feast environment (``--feast-python``)."""


@dataclass(frozen=True)
class StoreValues:
    """What Feast returned: one column per logged feature name, aligned on ``rows``."""

    table: pa.Table
    refs: dict[str, str]
    dtypes: dict[str, str]
    not_found: list[str]
    source: str
    feast_version: str


@dataclass(frozen=True)
class FeastSource:
    """A Feast repository and how to reach it.

    ``repo`` is the directory holding ``feature_store.yaml``; ``python`` the interpreter
    of an environment with Feast installed (default: ``$ACCUGUARD_FEAST_PYTHON``, then the
    current one); ``online`` reads the online store (current values) instead of the
    point-in-time offline retrieval; ``timeout_s`` bounds the Feast process;
    ``features`` maps logged names to Feast references (``{"amount": "txn:amount"}``)
    where discovery by name is not enough.

    ``optimize`` starts Feast with ``python -O``. Feast decorates its classes with
    typeguard's ``@typechecked``, which re-parses and recompiles their source on every
    import (about 7 of the 10 CPU seconds ``import feast`` took on the test machine);
    under ``-O`` typeguard leaves them as they are (its run-time type checks and
    Feast's ``assert`` statements are then off; the runner passes Feast well-typed
    arguments only).
    """

    repo: Path
    python: str | None = None
    online: bool = False
    timeout_s: float = 600.0
    features: dict[str, str] = field(default_factory=dict)
    optimize: bool = True

    def interpreter(self) -> str:
        """The Python that runs Feast."""
        return self.python or os.environ.get(PYTHON_ENV) or sys.executable

    def fetch(
        self, entities: pa.Table, join_keys: Sequence[str], candidates: Sequence[str]
    ) -> StoreValues:
        """Feature values for ``entities`` (join keys, ``event_timestamp``, ``__row``).

        ``candidates`` are the logged feature names to look up; explicit ``features``
        (``{logged name: "view:feature"}``) take precedence. Raises :class:`InputError`
        with Feast's message when the repository, a feature or the retrieval fails.
        """
        if not (self.repo / "feature_store.yaml").is_file():
            raise InputError(f"--feast-repo {str(self.repo)!r}: no feature_store.yaml there")
        with tempfile.TemporaryDirectory(prefix="accuguard-feast-") as tmp:
            folder = Path(tmp)
            pq.write_table(entities, folder / "entities.parquet")
            argv = self._argv(folder, join_keys, candidates)
            self._run(argv)
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            out = folder / "values.parquet"
            table = (
                pq.read_table(out) if out.exists() else pa.table({ROW: pa.array([], pa.int64())})
            )
        features: dict[str, Any] = manifest["features"]
        return StoreValues(
            table=table,
            refs={name: spec["ref"] for name, spec in features.items()},
            dtypes={name: spec["dtype"] for name, spec in features.items()},
            not_found=list(manifest["not_found"]),
            source=str(manifest["source"]),
            feast_version=str(manifest["feast_version"]),
        )

    def _argv(self, folder: Path, join_keys: Sequence[str], candidates: Sequence[str]) -> list[str]:
        argv = [
            self.interpreter(),
            *(["-O"] if self.optimize else []),
            str(RUNNER),
            "--repo",
            str(self.repo.resolve()),
            "--entities",
            str(folder / "entities.parquet"),
            "--output",
            str(folder / "values.parquet"),
            "--manifest",
            str(folder / "manifest.json"),
        ]
        for key in join_keys:
            argv += ["--join-key", key]
        for name, ref in self.features.items():
            argv += ["--feature", f"{name}={ref}"]
        for name in candidates:
            argv += ["--candidate", name]
        if self.online:
            argv.append("--online")
        return argv

    def _run(self, argv: list[str]) -> None:
        try:
            done = subprocess.run(  # noqa: S603 - an argument list, no shell
                argv,
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
                cwd=str(self.repo.resolve()),
            )
        except FileNotFoundError:
            raise InputError(
                f"--feast-python {argv[0]!r}: no such interpreter; give the Python of an "
                f"environment with Feast installed (or set {PYTHON_ENV})"
            ) from None
        except subprocess.TimeoutExpired:
            raise InputError(f"Feast did not answer within {self.timeout_s:g} s") from None
        if done.returncode != 0:
            raise InputError(_feast_error(done.stderr, argv[0]))


def _feast_error(stderr: str, python: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if any("No module named 'feast'" in line for line in lines):
        return (
            f"Feast is not installed for {python}; pass --feast-python with the Python "
            f"of a Feast environment (or set {PYTHON_ENV})"
        )
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    return errors[-1] if errors else (lines[-1] if lines else "Feast failed without a message")
