"""Challenger vs champion on labelled rows: differences with intervals, and the decision.

Every comparison gives ``challenger - champion`` (positive favours the challenger) with
a two-sided interval at ``confidence``; :func:`noninferiority_status` reads it against
the margin: **pass** when ``lower > -margin``, **fail** when ``upper < -margin``,
**inconclusive** otherwise (or when undefined). Each decision is then wrong with
probability at most ``(1 - confidence) / 2``.

Intervals, by design (shadow = paired rows, canary = independent arms):

==========================  ====================================  ===========================
metric                      fixed horizon                         sequential (always valid)
==========================  ====================================  ===========================
accuracy, recall (paired)   Agresti-Min paired interval and       Agresti-Min centre and se,
                            McNemar p-value                       confidence-sequence width
                            (:func:`accuguard.stats.paired.
                            mcnemar_accuracy`)
accuracy, recall,           Newcombe hybrid score (Wilson)        Agresti-Caffo centre and
precision (canary)          = statsmodels ``newcomb``             se, confidence-sequence
precision (paired), f1      delta method on the multinomial       same se, confidence-
                            cell counts (Wald)                    sequence width
==========================  ====================================  ===========================

The confidence-sequence width is :func:`accuguard.stats.ab.sequential.confidence_sequence`
(normal mixture, tightest at 5,000 units): the interval covers the true difference at
every look with probability ``confidence``, so a controller may re-evaluate the gate at
every tick without inflating the error rates.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from accuguard.rollout.sample import OrderStatistics
from accuguard.stats.ab.sequential import confidence_sequence
from accuguard.stats.intervals import wilson_interval, z_value
from accuguard.stats.paired import mcnemar_accuracy

Status = Literal["pass", "fail", "inconclusive"]
Metric = Literal["accuracy", "recall", "precision", "f1"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Difference:
    """``challenger - champion`` of a metric with its interval.

    ``n`` is the number of rows the metric is computed on (pairs, or per arm).
    """

    metric: str
    champion: float
    challenger: float
    diff: float
    lower: float
    upper: float
    n_champion: int
    n_challenger: int
    method: str
    p_value: float | None = None


def noninferiority_status(lower: float, upper: float, margin: float) -> Status:
    """pass if ``lower > -margin``; fail if ``upper < -margin``; else inconclusive.

    >>> noninferiority_status(-0.004, 0.01, 0.005), noninferiority_status(-0.09, -0.03, 0.02)
    ('pass', 'fail')
    """
    if math.isnan(lower) or math.isnan(upper):
        return "inconclusive"
    if lower > -margin:
        return "pass"
    if upper < -margin:
        return "fail"
    return "inconclusive"


def interval(
    center: float, se: float, n: float, confidence: float, sequential: bool
) -> tuple[float, float]:
    """``center +- z se`` (fixed) or the always-valid confidence sequence at ``n`` units."""
    if not (math.isfinite(center) and math.isfinite(se)) or n <= 0:
        return math.nan, math.nan
    if sequential:
        lo, hi = confidence_sequence(center, se, n, alpha=1.0 - confidence)
        return float(lo), float(hi)
    half = z_value(confidence) * se
    return center - half, center + half


# -- binarising labelled counts ------------------------------------------------------


def _hit(metric: Metric, y: Hashable, x: Hashable, positive: Hashable) -> tuple[bool, bool]:
    """(row counts in the metric's denominator, row is a success) for a proportion metric."""
    if metric == "accuracy":
        return True, x == y
    if metric == "recall":
        return y == positive, x == positive
    return x == positive, y == positive  # precision


def arm_proportion(
    metric: Metric, counts: Mapping[tuple[Hashable, Hashable], int], positive: Hashable
) -> tuple[int, int]:
    """(successes, trials) of a proportion metric from ``(label, output)`` counts."""
    successes = trials = 0
    for (y, x), k in counts.items():
        inside, ok = _hit(metric, y, x, positive)
        if inside:
            trials += k
            successes += k if ok else 0
    return successes, trials


def _binary_cells(counts: Mapping[Any, int], positive: Hashable) -> tuple[FloatArray, int]:
    """Counts per binarised cell: index = sum of bit_i << i over (label, output, ...)."""
    width = len(next(iter(counts))) if counts else 2
    cells = np.zeros(2**width)
    for key, k in counts.items():
        index = sum(int(v == positive) << i for i, v in enumerate(key))
        cells[index] += k
    return cells, int(cells.sum())


# -- delta method for ratio metrics ----------------------------------------------------


def _ratio_metric(metric: Metric, cells: FloatArray, out_bit: int) -> tuple[float, FloatArray]:
    """Value and gradient (w.r.t. the cell shares) of precision or F1 of one model.

    ``cells`` are shares indexed by bits (bit 0 = label, bit ``out_bit`` = the model's
    output); tp/fp/fn are sums of cells.
    """
    idx = np.arange(cells.size)
    y = (idx & 1).astype(bool)
    x = ((idx >> out_bit) & 1).astype(bool)
    tp_m, fp_m, fn_m = (y & x), (~y & x), (y & ~x)
    tp, fp, fn = cells[tp_m].sum(), cells[fp_m].sum(), cells[fn_m].sum()
    if metric == "precision":
        den = tp + fp
        if den <= 0:
            return math.nan, np.full(cells.size, math.nan)
        d_tp, d_fp, d_fn = fp / den**2, -tp / den**2, 0.0
        value = tp / den
    else:
        den = 2 * tp + fp + fn
        if den <= 0:
            return math.nan, np.full(cells.size, math.nan)
        d_tp, d_fp, d_fn = 2 * (fp + fn) / den**2, -2 * tp / den**2, -2 * tp / den**2
        value = 2 * tp / den
    grad = d_tp * tp_m + d_fp * fp_m + d_fn * fn_m
    return float(value), grad.astype(np.float64)


def _multinomial_var(grad: FloatArray, shares: FloatArray, n: int) -> float:
    """Delta-method variance of a smooth function of multinomial shares over ``n`` rows."""
    mean = float(grad @ shares)
    return float((grad**2) @ shares - mean**2) / n


# -- the comparisons ---------------------------------------------------------------------


def paired_difference(
    metric: Metric,
    counts: Mapping[tuple[Hashable, Hashable, Hashable], int],
    positive: Hashable,
    confidence: float,
    sequential: bool,
) -> Difference:
    """Shadow: the metric on the same labelled requests, ``(label, champion, challenger)``."""
    if metric in ("accuracy", "recall"):
        b = c = n = champ_ok = chal_ok = 0
        for (y, a, x), k in counts.items():
            if metric == "recall":
                if y != positive:
                    continue
                a_ok, x_ok = a == positive, x == positive
            else:
                a_ok, x_ok = a == y, x == y
            n += k
            champ_ok += k if a_ok else 0
            chal_ok += k if x_ok else 0
            b += k if a_ok and not x_ok else 0
            c += k if x_ok and not a_ok else 0
        if n == 0:
            return _undefined(metric, "paired", 0, 0)
        r = mcnemar_accuracy(b, c, n, champ_ok, chal_ok, confidence=confidence)
        lo, hi, method = r.lower, r.upper, "agresti-min"
        if sequential:
            d_adj = (c - b) / (n + 2)
            se = math.sqrt(max(((b + c + 1) / (n + 2) - d_adj**2) / (n + 2), 0.0))
            lo, hi = interval(d_adj, se, n, confidence, True)
            lo, hi, method = max(lo, -1.0), min(hi, 1.0), "agresti-min-sequential"
        return Difference(
            metric, r.champion, r.challenger, r.difference, lo, hi, n, n, method, r.p_value
        )
    cells, n = _binary_cells(counts, positive)
    if n == 0:
        return _undefined(metric, "paired-delta", 0, 0)
    shares = cells / n
    v_a, g_a = _ratio_metric(metric, shares, 1)
    v_b, g_b = _ratio_metric(metric, shares, 2)
    diff = v_b - v_a
    se = math.sqrt(max(_multinomial_var(g_b - g_a, shares, n), 0.0))
    lo, hi = interval(diff, se, n, confidence, sequential)
    method = "paired-delta" + ("-sequential" if sequential else "")
    return Difference(metric, v_a, v_b, diff, lo, hi, n, n, method, _z_p(diff, se))


def unpaired_difference(
    metric: Metric,
    champion: Mapping[tuple[Hashable, Hashable], int],
    challenger: Mapping[tuple[Hashable, Hashable], int],
    positive: Hashable,
    confidence: float,
    sequential: bool,
) -> Difference:
    """Canary: the metric on each arm's labelled rows, ``(label, output)`` counts."""
    if metric != "f1":
        s_c, n_c = arm_proportion(metric, champion, positive)
        s_t, n_t = arm_proportion(metric, challenger, positive)
        if n_c == 0 or n_t == 0:
            return _undefined(metric, "newcombe", n_c, n_t)
        p_c, p_t = s_c / n_c, s_t / n_t
        diff = p_t - p_c
        if sequential:
            a_c, a_t = (s_c + 1) / (n_c + 2), (s_t + 1) / (n_t + 2)
            se = math.sqrt(a_c * (1 - a_c) / (n_c + 2) + a_t * (1 - a_t) / (n_t + 2))
            lo, hi = interval(a_t - a_c, se, n_c + n_t, confidence, True)
            lo, hi, method = max(lo, -1.0), min(hi, 1.0), "agresti-caffo-sequential"
        else:
            lo, hi = newcombe_interval(s_t, n_t, s_c, n_c, confidence)
            method = "newcombe"
        se_wald = math.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t)
        return Difference(metric, p_c, p_t, diff, lo, hi, n_c, n_t, method, _z_p(diff, se_wald))
    tables = [_binary_cells(counts, positive) for counts in (champion, challenger)]
    sizes = [n for _, n in tables]
    if 0 in sizes:
        return _undefined(metric, "delta", sizes[0], sizes[1])
    values, variances = [], []
    for cells, n in tables:
        shares = cells / n
        v, g = _ratio_metric(metric, shares, 1)
        values.append(v)
        variances.append(_multinomial_var(g, shares, n))
    diff = values[1] - values[0]
    se = math.sqrt(max(variances[0] + variances[1], 0.0))
    lo, hi = interval(diff, se, sizes[0] + sizes[1], confidence, sequential)
    method = "delta" + ("-sequential" if sequential else "")
    return Difference(
        metric, values[0], values[1], diff, lo, hi, sizes[0], sizes[1], method, _z_p(diff, se)
    )


def newcombe_interval(s1: int, n1: int, s2: int, n2: int, confidence: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval for ``p1 - p2`` (method 10, from Wilson intervals).

    Equal to ``statsmodels.stats.proportion.confint_proportions_2indep(s1, n1, s2, n2,
    method="newcomb", compare="diff")``. Reference: Newcombe (1998), Statistics in
    Medicine 17(8) 873-890.

    >>> [round(v, 4) for v in newcombe_interval(56, 70, 48, 80, 0.95)]
    [0.0524, 0.3339]
    """
    p1, p2 = s1 / n1, s2 / n2
    l1, u1 = wilson_interval(s1, n1, confidence)
    l2, u2 = wilson_interval(s2, n2, confidence)
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt(
        (u1 - p1) ** 2 + (p2 - l2) ** 2
    )


def quantile_interval(
    sorted_values: FloatArray | OrderStatistics, q: float, confidence: float
) -> tuple[float, float, float]:
    """Quantile ``q`` of a sorted sample and a distribution-free interval for it.

    The interval is ``[x_(r), x_(s)]`` (1-based order statistics) with
    ``r = F^-1(a/2)`` and ``s = F^-1(1 - a/2) + 1`` for ``F`` the Binomial(n, q) CDF and
    ``a = 1 - confidence``: it covers the true quantile with probability at least
    ``confidence`` for any continuous distribution; a bound beyond the sample is
    ``-inf``/``+inf``. Reference: Conover (1999), *Practical Nonparametric Statistics*, 3.2.
    The sample is a sorted array or the :class:`~accuguard.rollout.sample.OrderStatistics`
    the evidence holds (same values; a bound at a rank it does not hold is infinite).
    """
    sample = (
        sorted_values
        if isinstance(sorted_values, OrderStatistics)
        else OrderStatistics.of_sorted(sorted_values)
    )
    return sample.quantile_interval(q, confidence)


def rate_interval(k: int, n: int, confidence: float) -> tuple[float, float, float]:
    """``k / n`` and its Wilson interval (nan when ``n == 0``)."""
    if n == 0:
        return math.nan, math.nan, math.nan
    lo, hi = wilson_interval(k, n, confidence)
    return k / n, lo, hi


def _z_p(diff: float, se: float) -> float | None:
    if not (math.isfinite(diff) and math.isfinite(se)) or se <= 0:
        return None
    return float(2 * sps.norm.sf(abs(diff) / se))


def _undefined(metric: str, method: str, n_c: int, n_t: int) -> Difference:
    nan = math.nan
    return Difference(metric, nan, nan, nan, nan, nan, n_c, n_t, method)
