"""The small command-line languages of ``accuguard experiment analyze``.

* metric: ``COLUMN`` (kind detected from the data), ``COLUMN:proportion``,
  ``COLUMN:mean`` or ``NUMERATOR/DENOMINATOR`` (a ratio metric, e.g.
  ``clicks/sessions``);
* guardrail: a metric, then ``<=`` (lower is better) or ``>=`` (higher is better),
  then the largest allowed worsening, absolute or in percent of the control:
  ``latency_ms<=+5%``, ``errors/requests<=0.001``, ``conversion>=-1%``;
* weights: ``control=50,treatment=50``;
* per-metric options: ``revenue=0.99`` (``--winsorize``), ``revenue=500`` (``--cap``),
  ``revenue=revenue_pre`` (``--cuped``).

Every parse error raises :class:`accuguard.errors.InputError` naming the option, the
value and the expected form.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from accuguard.errors import InputError

Kind = Literal["auto", "proportion", "mean", "ratio"]
KINDS: tuple[str, ...] = ("auto", "proportion", "mean", "ratio")


@dataclass(frozen=True)
class MetricSpec:
    """A metric: its display name, kind and the column(s) it sums per unit."""

    name: str
    kind: Kind
    column: str
    denominator: str | None = None


@dataclass(frozen=True)
class GuardrailSpec:
    """A metric that must not get worse by more than ``margin`` (relative if ``relative``)."""

    metric: MetricSpec
    higher_is_better: bool
    margin: float
    relative: bool
    text: str


def parse_metric(text: str, option: str = "--metric") -> MetricSpec:
    """Parse ``COLUMN[:KIND]`` or ``NUM/DEN``.

    >>> parse_metric("clicks/sessions")
    MetricSpec(name='clicks/sessions', kind='ratio', column='clicks', denominator='sessions')
    >>> parse_metric("revenue:mean").kind
    'mean'
    """
    raw = text.strip()
    body, _, kind = raw.partition(":")
    body, kind = body.strip(), (kind.strip() or "auto")
    if kind not in KINDS:
        raise InputError(f"{option} {text!r}: unknown kind {kind!r}; expected one of {KINDS}")
    if not body:
        raise InputError(
            f"{option} {text!r}: expected COLUMN, COLUMN:KIND or NUMERATOR/DENOMINATOR"
        )
    if "/" in body:
        num, _, den = body.partition("/")
        num, den = num.strip(), den.strip()
        if not num or not den or "/" in den:
            raise InputError(f"{option} {text!r}: a ratio metric is NUMERATOR/DENOMINATOR")
        if kind not in ("auto", "ratio"):
            raise InputError(f"{option} {text!r}: NUMERATOR/DENOMINATOR is a ratio, not {kind!r}")
        return MetricSpec(name=f"{num}/{den}", kind="ratio", column=num, denominator=den)
    if kind == "ratio":
        raise InputError(f"{option} {text!r}: a ratio metric is written NUMERATOR/DENOMINATOR")
    return MetricSpec(name=body, kind=kind, column=body)  # type: ignore[arg-type]


_GUARD = re.compile(
    r"^(?P<metric>.+?)\s*(?P<op><=|>=)\s*(?P<value>[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?)\s*"
    r"(?P<pct>%)?$",
    re.IGNORECASE,
)


def parse_guardrail(text: str) -> GuardrailSpec:
    """Parse ``METRIC<=+MARGIN[%]`` (lower is better) or ``METRIC>=-MARGIN[%]``.

    >>> g = parse_guardrail("latency_ms<=+5%")
    >>> g.metric.name, g.higher_is_better, g.margin, g.relative
    ('latency_ms', False, 0.05, True)
    >>> parse_guardrail("conversion>=-0.002").margin
    0.002
    """
    m = _GUARD.match(text.strip())
    if m is None:
        raise InputError(
            f"--guardrail {text!r}: expected METRIC<=+MARGIN or METRIC>=-MARGIN, optionally in "
            "percent of the control, e.g. 'latency_ms<=+5%' or 'conversion>=-1%'"
        )
    value = float(m["value"])
    lower_better = m["op"] == "<="
    if not math.isfinite(value) or (lower_better and value < 0) or (not lower_better and value > 0):
        hint = "<=+" if lower_better else ">=-"
        raise InputError(
            f"--guardrail {text!r}: a guardrail bounds how much worse the metric may get; "
            f"write it as METRIC{hint}MARGIN (the margin {m['value']!r} points the wrong way)"
        )
    relative = m["pct"] is not None
    margin = abs(value) / 100.0 if relative else abs(value)
    return GuardrailSpec(
        metric=parse_metric(m["metric"], "--guardrail"),
        higher_is_better=not lower_better,
        margin=margin,
        relative=relative,
        text=text.strip(),
    )


def parse_pairs(text: str | None, option: str) -> dict[str, str]:
    """Parse ``a=1,b=2`` into ``{"a": "1", "b": "2"}`` (``None`` gives ``{}``).

    >>> parse_pairs("control=50, treatment=50", "--weights")
    {'control': '50', 'treatment': '50'}
    """
    out: dict[str, str] = {}
    if text is None:
        return out
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise InputError(f"{option} {text!r}: expected NAME=VALUE[,NAME=VALUE...]")
        if key in out:
            raise InputError(f"{option} {text!r}: {key!r} is given twice")
        out[key] = value
    return out


def parse_numbers(
    text: str | None,
    option: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> dict[str, float]:
    """:func:`parse_pairs` with numeric values checked against a range.

    >>> parse_numbers("revenue=0.99", "--winsorize", low=0.5, high=1, high_open=True)
    {'revenue': 0.99}
    """
    out: dict[str, float] = {}
    for key, raw in parse_pairs(text, option).items():
        try:
            value = float(raw)
        except ValueError:
            raise InputError(f"{option}: value of {key!r} must be a number, got {raw!r}") from None
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if not math.isfinite(value) or too_low or too_high:
            lo = "(" if low_open else "["
            hi = ")" if high_open else "]"
            raise InputError(
                f"{option}: value of {key!r} must be in {lo}{low}, {high}{hi}, got {raw!r}"
            )
        out[key] = value
    return out
