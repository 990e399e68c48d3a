"""Champion vs challenger on the same rows: paired tests with a verdict.

Every test returns a :class:`PairedResult` whose ``difference`` is oriented so that a
positive value means the challenger is better. The verdict reads the confidence
interval of the difference against an absolute non-inferiority ``margin`` (in metric
units, e.g. 0.01 = one accuracy point):

- ``"better"``: ``lower > 0`` (the challenger is better);
- ``"worse"``: ``upper < -margin`` (worse by more than the margin);
- ``"not_worse"``: ``lower > -margin`` (at most ``margin`` worse);
- ``"inconclusive"``: anything else, including a ``nan`` interval.

With ``margin = 0`` "not_worse" cannot occur and "worse" means significantly worse.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from accuguard.stats.intervals import check_count, percentile_interval, z_value
from accuguard.stats.ranking import binary_labels, delong_covariance, finite_scores

_EXACT_BELOW = 25  # McNemar: exact binomial test when b + c < 25


@dataclass(frozen=True)
class PairedResult:
    """One paired comparison: the two values, their difference with a CI, p and verdict.

    ``difference`` is ``challenger - champion`` for higher-is-better metrics (the
    opposite for lower-is-better ones), so positive always favours the challenger.
    ``verdict`` is one of ``better``, ``not_worse``, ``worse``, ``inconclusive``
    (module docstring).

    >>> PairedResult("accuracy", 0.8, 0.85, 0.05, 0.01, 0.09, 0.02, "x", "better").verdict
    'better'
    """

    metric: str
    champion: float
    challenger: float
    difference: float
    lower: float
    upper: float
    p_value: float
    method: str
    verdict: str


def paired_verdict(lower: float, upper: float, margin: float = 0.0) -> str:
    """Verdict from the CI ``[lower, upper]`` of the difference (positive = better).

    ``better`` if ``lower > 0``; ``worse`` if ``upper < -margin``; ``not_worse`` if
    ``lower > -margin``; else (or with a ``nan`` bound) ``inconclusive``. ``margin``
    is an absolute non-inferiority margin in metric units, ``>= 0``.

    Reference: Piaggio et al. (2012), CONSORT extension for non-inferiority trials,
    JAMA 308(24), figure 1.

    >>> paired_verdict(-0.004, 0.01, margin=0.005)
    'not_worse'
    """
    _check_margin(margin)
    if math.isnan(lower) or math.isnan(upper):
        return "inconclusive"
    if lower > 0:
        return "better"
    if upper < -margin:
        return "worse"
    if lower > -margin:
        return "not_worse"
    return "inconclusive"


def mcnemar_accuracy(
    b: int,
    c: int,
    n: int,
    champion_correct: int,
    challenger_correct: int,
    margin: float = 0.0,
    confidence: float = 0.95,
) -> PairedResult:
    """McNemar test and interval for the paired accuracy difference.

    ``b`` = rows the champion gets right and the challenger wrong, ``c`` = the reverse.
    Difference ``(c - b) / n`` (= challenger accuracy - champion accuracy).

    - p-value: exact two-sided binomial McNemar test ``min(1, 2 P(Bin(b + c, 1/2) <=
      min(b, c)))`` when ``b + c < 25``, else chi-square with continuity correction
      ``(|b - c| - 1)^2 / (b + c)`` on 1 df; equal to
      ``statsmodels.stats.contingency_tables.mcnemar(exact=b + c < 25, correction=True)``.
    - interval: Agresti & Min (2005): add 1/2 to each of the four paired cells
      (``n -> n + 2``), ``d = (c - b) / (n + 2)``,
      ``var = [(b + c + 1) / (n + 2) - d^2] / (n + 2)``, ``d +- z sqrt(var)`` clipped to
      [-1, 1]. Unlike the plain Wald interval it does not collapse when ``b = c = 0``.
      The reported ``difference`` is the unadjusted ``(c - b) / n``.

    ``n == 0`` gives ``nan`` values and an ``inconclusive`` verdict. Raises
    ``ValueError`` for negative counts, ``b + c > n``, correct counts above ``n`` or
    counts that disagree (``challenger_correct - champion_correct != c - b``).

    References: McNemar (1947), Psychometrika 12(2); Agresti & Min (2005), Statistics in
    Medicine 24(5) 729-740.

    >>> r = mcnemar_accuracy(b=10, c=25, n=200, champion_correct=150, challenger_correct=165)
    >>> round(r.difference, 3), round(r.p_value, 4), r.method, r.verdict
    (0.075, 0.018, 'mcnemar-chi2', 'better')
    """
    b, c, n = check_count("b", b), check_count("c", c), check_count("n", n)
    champion_correct = check_count("champion_correct", champion_correct)
    challenger_correct = check_count("challenger_correct", challenger_correct)
    z = z_value(confidence)
    _check_margin(margin)
    if b + c > n:
        raise ValueError(f"b + c must be <= n, got b={b}, c={c}, n={n}")
    for name, value in (
        ("champion_correct", champion_correct),
        ("challenger_correct", challenger_correct),
    ):
        if value > n:
            raise ValueError(f"{name} must be <= n={n}, got {value}")
    if challenger_correct - champion_correct != c - b:
        raise ValueError(
            f"counts disagree: challenger_correct - champion_correct = "
            f"{challenger_correct - champion_correct} but c - b = {c - b}"
        )
    exact = b + c < _EXACT_BELOW
    method = "mcnemar-exact" if exact else "mcnemar-chi2"
    if n == 0:
        return PairedResult(
            "accuracy",
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            method,
            "inconclusive",
        )
    if exact:
        p = min(1.0, 2.0 * float(sps.binom.cdf(min(b, c), b + c, 0.5)))
    else:
        p = float(sps.chi2.sf((abs(b - c) - 1) ** 2 / (b + c), 1))
    d_adj = (c - b) / (n + 2)
    var = ((b + c + 1) / (n + 2) - d_adj * d_adj) / (n + 2)
    half = z * math.sqrt(max(var, 0.0))
    lo, hi = max(-1.0, d_adj - half), min(1.0, d_adj + half)
    return PairedResult(
        "accuracy",
        champion_correct / n,
        challenger_correct / n,
        (c - b) / n,
        lo,
        hi,
        p,
        method,
        paired_verdict(lo, hi, margin),
    )


def delong_paired_auc(
    y_true: ArrayLike,
    champion_score: ArrayLike,
    challenger_score: ArrayLike,
    margin: float = 0.0,
    confidence: float = 0.95,
) -> PairedResult:
    """DeLong test for two correlated ROC AUCs on the same rows.

    ``d = AUC_challenger - AUC_champion``; ``Var(d) = V11 + V22 - 2 V12`` from
    :func:`accuguard.stats.ranking.delong_covariance`; ``z = d / sqrt(Var)``, two-sided
    ``p = 2 (1 - Phi(|z|))``; interval ``d +- z_{conf} sqrt(Var)``. When the two
    rankings are identical (``Var = 0``, ``d = 0``) the interval is ``[0, 0]`` and
    ``p = 1``. With one class only (or fewer than two rows of a class) the result is
    ``nan`` and ``inconclusive``. Raises ``ValueError`` for empty input, NaN scores
    or labels other than 0/1.

    References: DeLong, DeLong & Clarke-Pearson (1988), Biometrics 44(3); Sun & Xu
    (2014), IEEE SPL 21(11).

    >>> y = [0, 0, 1, 1, 0, 1, 0, 1]
    >>> r = delong_paired_auc(y, [.1, .4, .35, .8, .2, .9, .3, .6],
    ...                       [.2, .3, .5, .9, .1, .8, .4, .7])
    >>> round(r.champion, 4), round(r.challenger, 4), r.method
    (0.9375, 1.0, 'delong')
    """
    y = binary_labels(y_true)
    champ = finite_scores(champion_score, y.size, "champion_score")
    chal = finite_scores(challenger_score, y.size, "challenger_score")
    z = z_value(confidence)
    _check_margin(margin)
    aucs, cov = delong_covariance(y, np.stack([champ, chal]))
    diff = float(aucs[1] - aucs[0])
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    if math.isnan(var):
        return PairedResult(
            "roc_auc",
            float(aucs[0]),
            float(aucs[1]),
            diff,
            math.nan,
            math.nan,
            math.nan,
            "delong",
            "inconclusive",
        )
    se = math.sqrt(max(var, 0.0))
    # se == 0: identical rankings (p = 1) or a difference with no variance at all (p = 0)
    p = float(2.0 * sps.norm.sf(abs(diff) / se)) if se > 0.0 else float(diff == 0.0)
    lo, hi = diff - z * se, diff + z * se
    return PairedResult(
        "roc_auc",
        float(aucs[0]),
        float(aucs[1]),
        diff,
        lo,
        hi,
        p,
        "delong",
        paired_verdict(lo, hi, margin),
    )


def paired_bootstrap(
    y_true: ArrayLike,
    champion: ArrayLike,
    challenger: ArrayLike,
    metric: Callable[[NDArray[np.generic], NDArray[np.generic]], float],
    n_boot: int = 1000,
    seed: int = 0,
    margin: float = 0.0,
    confidence: float = 0.95,
    name: str = "metric",
    higher_is_better: bool = True,
) -> PairedResult:
    """Paired percentile bootstrap of ``metric(y, challenger) - metric(y, champion)``.

    Each of ``n_boot`` replicates draws ``n`` row indices with replacement (seeded) and
    evaluates both models on the *same* rows, so their correlation is kept. The
    difference is ``challenger - champion`` (``champion - challenger`` when
    ``higher_is_better=False``, so positive still favours the challenger). Interval: the
    percentile interval of the replicate differences. p-value (two-sided):
    ``min(1, 2 min(#{d* <= 0} + 1, #{d* >= 0} + 1) / (n_boot + 1))``, the smallest level
    at which a percentile interval excludes 0 (Davison & Hinkley 1997, 4.4). Replicates
    where the metric is ``nan`` (e.g. one class drawn) are dropped.

    Raises ``ValueError`` for empty or mismatched inputs or ``n_boot < 1``.

    References: Efron & Tibshirani (1993), ch. 13 and 16; Davison & Hinkley (1997),
    *Bootstrap Methods and their Application*.

    >>> y = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    >>> acc = lambda t, p: float(np.mean(t == p))
    >>> r = paired_bootstrap(y, np.array([0, 1, 0, 0, 0, 1, 1, 0]), y.copy(), acc,
    ...                      n_boot=200, name="accuracy")
    >>> r.champion, r.challenger, r.difference, r.verdict
    (0.5, 1.0, 0.5, 'better')
    """
    y = np.asarray(y_true)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y_true must be a non-empty 1-D array, got shape {y.shape}")
    champ, chal = np.asarray(champion), np.asarray(challenger)
    for arg, arr in (("champion", champ), ("challenger", chal)):
        if arr.shape[:1] != y.shape:
            raise ValueError(f"{arg} must have {y.size} rows like y_true, got shape {arr.shape}")
    n_boot = check_count("n_boot", n_boot, minimum=1)
    z_value(confidence)
    _check_margin(margin)
    sign = 1.0 if higher_is_better else -1.0
    v_champ, v_chal = float(metric(y, champ)), float(metric(y, chal))
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, y.size, size=y.size)
        yi = y[idx]
        diffs[i] = sign * (float(metric(yi, chal[idx])) - float(metric(yi, champ[idx])))
    lo, hi, p = _bootstrap_summary(diffs, confidence)
    return PairedResult(
        name,
        v_champ,
        v_chal,
        sign * (v_chal - v_champ),
        lo,
        hi,
        p,
        "paired-bootstrap",
        paired_verdict(lo, hi, margin),
    )


def paired_f1(
    cells: ArrayLike,
    n_boot: int = 2000,
    seed: int = 0,
    margin: float = 0.0,
    confidence: float = 0.95,
) -> PairedResult:
    """Paired bootstrap of the F1 difference from the 2 x 2 x 2 joint counts.

    ``cells[y, a, b]`` counts rows with true label ``y``, champion prediction ``a`` and
    challenger prediction ``b`` (0/1). F1 of a model is ``2 tp / (2 tp + fp + fn)`` from
    its margin of the table. Resampling ``n`` rows jointly with replacement is the same
    as drawing the eight joint counts from a multinomial with the observed shares, so
    the paired row bootstrap of :func:`paired_bootstrap` is done exactly, for any
    ``n``, in one vectorised draw. Interval, p-value and verdict as
    :func:`paired_bootstrap`; a model with no positive prediction and no positive row
    has ``nan`` F1.

    Reference: Efron & Tibshirani (1993), ch. 6 and 16.

    >>> cells = np.zeros((2, 2, 2), dtype=int)
    >>> cells[1, 1, 1], cells[1, 0, 1], cells[0, 0, 0] = 50, 20, 100
    >>> cells[0, 1, 0], cells[0, 0, 1] = 10, 15
    >>> r = paired_f1(cells)
    >>> round(r.champion, 3), round(r.challenger, 3), r.verdict
    (0.769, 0.903, 'better')
    """
    counts = np.asarray(cells)
    if (
        counts.shape != (2, 2, 2)
        or not np.issubdtype(counts.dtype, np.integer)
        or (counts < 0).any()
    ):
        raise ValueError(
            f"cells must be a (2, 2, 2) array of non-negative integer counts, got shape "
            f"{counts.shape} and dtype {counts.dtype}"
        )
    n_boot = check_count("n_boot", n_boot, minimum=1)
    z_value(confidence)
    _check_margin(margin)
    n = int(counts.sum())
    champ, chal = _f1_pair(counts[np.newaxis].astype(np.float64))
    if n == 0:
        return PairedResult(
            "f1",
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            "paired-bootstrap",
            "inconclusive",
        )
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, counts.ravel() / n, size=n_boot).reshape(n_boot, 2, 2, 2)
    b_champ, b_chal = _f1_pair(draws.astype(np.float64))
    lo, hi, p = _bootstrap_summary(b_chal - b_champ, confidence)
    return PairedResult(
        "f1",
        float(champ[0]),
        float(chal[0]),
        float(chal[0] - champ[0]),
        lo,
        hi,
        p,
        "paired-bootstrap",
        paired_verdict(lo, hi, margin),
    )


def _f1_pair(c: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """F1 of champion and challenger for a batch of (b, 2, 2, 2) joint tables."""
    out = []
    for tp, fp, fn in (
        (c[:, 1, 1, :].sum(-1), c[:, 0, 1, :].sum(-1), c[:, 1, 0, :].sum(-1)),
        (c[:, 1, :, 1].sum(-1), c[:, 0, :, 1].sum(-1), c[:, 1, :, 0].sum(-1)),
    ):
        den = 2.0 * tp + fp + fn
        out.append(np.divide(2.0 * tp, den, out=np.full(den.shape, np.nan), where=den > 0))
    return out[0], out[1]


def _bootstrap_summary(diffs: NDArray[np.float64], confidence: float) -> tuple[float, float, float]:
    """Percentile interval and two-sided p-value of replicate differences (nan dropped)."""
    lo, hi = percentile_interval(diffs, confidence)
    ok = diffs[~np.isnan(diffs)]
    if ok.size == 0:
        return lo, hi, math.nan
    tail = min(int((ok <= 0).sum()), int((ok >= 0).sum())) + 1
    return lo, hi, min(1.0, 2.0 * tail / (ok.size + 1))


def _check_margin(margin: float) -> None:
    if not (isinstance(margin, int | float) and math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
