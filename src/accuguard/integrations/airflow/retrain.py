"""The ``retrain`` task of ``accuguard_retrain_dag``: call the user's trainer on an alert."""

from __future__ import annotations

import importlib
import re
from typing import Any

from accuguard.errors import ConfigError
from accuguard.integrations.airflow.conf import parse_validation_conf

__all__ = ["TRAINER_PATTERN", "load_trainer", "run_trainer"]

#: ``package.module:function``
TRAINER_PATTERN = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")


def load_trainer(spec: str) -> Any:
    """The function ``spec`` (``"package.module:function"``) names.

    >>> load_trainer("json:dumps").__name__
    'dumps'
    """
    if not TRAINER_PATTERN.match(spec):
        raise ConfigError(f"trainer: expected 'package.module:function', got {spec!r}")
    module_name, _, attr = spec.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"trainer: cannot import {spec!r}: {exc}") from None
    if not callable(func):
        raise ConfigError(f"trainer: {spec!r} is not callable")
    return func


def run_trainer(spec: str, alert: dict[str, Any]) -> dict[str, Any]:
    """Call the trainer with the checked retrain conf; return its validation conf, checked.

    The trainer returns ``accuracy_validation_dag``'s conf for the version it
    registered; it is validated here, so a bad one fails ``retrain``, not a later run.
    """
    conf = load_trainer(spec)(alert)
    checked = parse_validation_conf(conf)
    result: dict[str, Any] = checked.model_dump(mode="json", exclude_none=True)
    return result
