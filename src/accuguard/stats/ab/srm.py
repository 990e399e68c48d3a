"""Sample ratio mismatch (SRM): did the arms get the share of units they were configured for?

If a 50/50 experiment ends with 50.5 % of units in one arm over 200,000 units, the
assignment or the logging is broken (bots filtered in one arm, a redirect that loses
users, a crash in the new model...). Every lift computed on such data is suspect,
so the SRM check runs first and flags the experiment.

The test is Pearson's chi-square goodness of fit of the observed unit counts against
the configured weights, ``X² = Σ (O_i - E_i)² / E_i`` with ``E_i = N w_i / Σw``, on
``k - 1`` degrees of freedom. Because every experiment is checked, and a false alarm
stops a valid analysis, the customary threshold is strict: ``p < 0.001``
(:data:`SRM_THRESHOLD`).

References: Fabijan, Gupchup, Gupta, Omhover, Qin, Vermeer & Dmitriev (2019),
"Diagnosing sample ratio mismatch in online controlled experiments", KDD;
Kohavi, Tang & Xu (2020), *Trustworthy Online Controlled Experiments*, ch. 21.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from accuguard.stats.ab.moments import FloatArray

SRM_THRESHOLD = 0.001
"""Flag an SRM when the chi-square p-value is below this (common practice)."""


@dataclass(frozen=True, eq=False)
class SrmResult:
    """Chi-square SRM test: ``statistic``, ``dof``, ``p_value``, ``flagged`` (p < threshold).

    ``expected`` holds the expected unit counts per arm; arrays have the shape of the
    input without its last (arm) axis.
    """

    statistic: FloatArray
    dof: int
    p_value: FloatArray
    expected: FloatArray
    threshold: float

    @property
    def flagged(self) -> npt.NDArray[np.bool_]:
        """``p_value < threshold`` (false where the p-value is ``nan``)."""
        return np.asarray(self.p_value < self.threshold)


def srm_test(
    counts: npt.ArrayLike, weights: npt.ArrayLike, *, threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """Chi-square test of observed unit counts per arm against configured weights.

    ``counts`` has the arms on its last axis (``[..., k]``, one row per experiment);
    ``weights`` broadcasts against it and need not sum to 1. Arms with weight 0 must
    have count 0 (else ``ValueError``: units arrived where none were assigned) and
    are left out of the test. Equal to ``scipy.stats.chisquare(counts, expected)``.
    ``p_value`` is ``nan`` when there are no units or fewer than two weighted arms.

    Reference: Fabijan et al. (2019), KDD.

    >>> r = srm_test([101_000, 99_000], [0.5, 0.5])
    >>> round(float(r.statistic), 1), f"{float(r.p_value):.1e}", bool(r.flagged)
    (20.0, '7.7e-06', True)
    >>> bool(srm_test([50_100, 49_900], [1, 1]).flagged)
    False
    """
    c = np.asarray(counts, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if c.ndim == 0 or c.shape[-1] < 2:
        raise ValueError(f"counts must list at least 2 arms on the last axis, got shape {c.shape}")
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise ValueError(f"counts must be finite and >= 0, got {c.tolist()!r}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"weights must be finite and >= 0, got {w.tolist()!r}")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be strictly between 0 and 1, got {threshold!r}")
    c, w = np.broadcast_arrays(c, w)
    if np.any((w == 0) & (c > 0)):
        raise ValueError(
            f"an arm with weight 0 received units: counts {c.tolist()!r}, weights {w.tolist()!r}"
        )
    total = c.sum(axis=-1, keepdims=True)
    share = w / w.sum(axis=-1, keepdims=True)
    expected = total * share
    with np.errstate(all="ignore"):
        terms = np.where(w > 0, (c - expected) ** 2 / expected, 0.0)
    stat = terms.sum(axis=-1)
    arms = (w > 0).sum(axis=-1)
    dof = int(arms.max()) - 1
    if np.any(arms != arms.max()):
        raise ValueError("every experiment must have the same number of weighted arms")
    p = np.where((total[..., 0] > 0) & (dof > 0), sps.chi2.sf(stat, max(dof, 1)), np.nan)
    return SrmResult(
        statistic=np.asarray(stat, np.float64),
        dof=dof,
        p_value=np.asarray(p, np.float64),
        expected=expected,
        threshold=threshold,
    )
