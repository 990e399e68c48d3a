"""Copy accuguard's DAG files into an Airflow DAGs folder."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from accuguard.errors import InputError
from accuguard.integrations.airflow.retrain import TRAINER_PATTERN

__all__ = ["DAG_FILES", "install_dags"]

DAG_FILES = ("accuracy_validation_dag.py", "accuguard_retrain_dag.py")
_TRAINER_LINE = "TRAINER: str | None = None  # accuguard:trainer"


def dag_source(name: str, trainer: str | None = None) -> str:
    """The text of the shipped DAG file ``name`` (with ``TRAINER`` set, for the retrain DAG)."""
    text = resources.files("accuguard.integrations.airflow").joinpath("dags", name).read_text()
    if trainer is not None and _TRAINER_LINE in text:
        if not TRAINER_PATTERN.match(trainer):
            raise InputError(f"--trainer: expected 'package.module:function', got {trainer!r}")
        text = text.replace(
            _TRAINER_LINE, f"TRAINER: str | None = {trainer!r}  # accuguard:trainer"
        )
    return text


def install_dags(
    folder: str | Path, *, trainer: str | None = None, force: bool = False
) -> list[Path]:
    """Write the DAG files into ``folder`` (created if missing); return their paths.

    A file that exists with other content is left alone unless ``force``: an
    :class:`InputError` names it, so a local edit is never overwritten silently.
    """
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise InputError(f"DIR: {target} exists and is not a directory")
    texts = {name: dag_source(name, trainer) for name in DAG_FILES}
    for name, text in texts.items():
        path = target / name
        if path.exists() and path.read_text() != text and not force:
            raise InputError(f"{path}: exists with other content; use --force to overwrite it")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in texts.items():
        path = target / name
        tmp = path.with_suffix(".py.tmp")
        tmp.write_text(text)
        tmp.replace(path)  # atomic: the scheduler never parses half a file
        written.append(path)
    return written
