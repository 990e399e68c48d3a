"""Reading YAML config files with errors that name the file, the line and the field.

Every config accuguard reads (gates, deployments, rollout plans, monitors) goes
through these three functions, so a user sees the same kind of message everywhere::

    gates.yaml: malformed YAML at line 3, column 7: mapping values are not allowed here
    plans/fraud.yaml: steps.0.weight: Input should be less than or equal to 1 (got 5)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from accuguard.errors import ConfigError


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML ``text``; a syntax error becomes a :class:`ConfigError` with its position.

    >>> parse_yaml("a: 1", "x.yaml")
    {'a': 1}
    >>> parse_yaml("a: [1", "x.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    accuguard.errors.ConfigError: x.yaml: malformed YAML at line 1, column 6: expected ...
    """
    try:
        return yaml.safe_load(text)
    except RecursionError:  # PyYAML composes nested nodes recursively
        raise ConfigError(f"{source}: malformed YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: malformed YAML{where}: {problem}") from None


def read_yaml_mapping(path: str | Path, kind: str = "config") -> dict[str, Any]:
    """Read the YAML file at ``path``, which must hold a mapping (an empty file is ``{}``).

    ``kind`` names the file in messages (``plan file not found``). Raises
    :class:`ConfigError` for a missing or unreadable file, bad YAML or a top level
    that is not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {kind} file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read {kind} file ({exc})") from exc
    raw = parse_yaml(text, str(path))
    return expect_mapping(raw, str(path))


def expect_mapping(raw: Any, source: str) -> dict[str, Any]:
    """``raw`` as a dict (``None`` is ``{}``); anything else is a :class:`ConfigError`."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping at the top level, got {type(raw).__name__}"
        )
    return raw


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``field.path: message (got value)``, joined by ``; ``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        lines.append(f"{loc}: {msg}{shown}")
    return "; ".join(lines)
