"""Just enough PromQL reading for the tests: the metric names an expression selects."""

from __future__ import annotations

import re

_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
_CLAUSES = r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"


def metric_names(expr: str) -> set[str]:
    """Metric names in ``expr`` (strings, label matchers, ranges, grouping clauses,
    Grafana variables and function names are not metric names).

    >>> sorted(metric_names('sum by (le) (rate(a_bucket{x="y"}[5m])) > 2e-1 or b'))
    ['a_bucket', 'b']
    """
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(_CLAUSES, " ", e)
    e = re.sub(r"\$\{?\w+\}?", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        before = e[m.start() - 1] if m.start() else " "
        if before.isdigit() or before == ".":  # the exponent of a number
            continue
        if e[m.end() :].lstrip().startswith("(") or m.group(0).lower() in _KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def exported_names(exposition: str) -> set[str]:
    """Every sample name a ``/metrics`` text can hold, from its ``# TYPE`` lines."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", exposition, flags=re.M):
        if kind == "counter":
            base = name.removesuffix("_total")
            names |= {f"{base}_total", f"{base}_created"}
        elif kind == "histogram":
            names |= {name + s for s in ("_bucket", "_count", "_sum", "_created")}
        else:
            names.add(name)
    return names
