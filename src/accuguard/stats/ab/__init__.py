"""A/B test statistics over sufficient statistics: pure, vectorised, mergeable.

* :mod:`~accuguard.stats.ab.moments`: per-arm sums (:class:`SampleMean`,
  :class:`Proportion`, :class:`RatioStats`, :class:`CupedStats`).
* :mod:`~accuguard.stats.ab.comparison`: :class:`Comparison`, the result of every test.
* :mod:`~accuguard.stats.ab.fixed`: fixed-horizon tests (z, Welch, delta ratio, CUPED).
* :mod:`~accuguard.stats.ab.sequential`: always-valid p-values and confidence sequences.
* :mod:`~accuguard.stats.ab.summary`: :func:`analyze_summary` and :func:`non_inferiority`.
* :mod:`~accuguard.stats.ab.power`, :mod:`~accuguard.stats.ab.srm`,
  :mod:`~accuguard.stats.ab.multiple`, :mod:`~accuguard.stats.ab.bayes`.

Nothing here does I/O; statistics that cannot be computed are ``nan``.
"""

from accuguard.stats.ab.bayes import expected_loss, prob_beat_control
from accuguard.stats.ab.comparison import Comparison
from accuguard.stats.ab.fixed import (
    cuped_test,
    cuped_theta,
    ratio_test,
    two_proportion_ztest,
    welch_ttest,
)
from accuguard.stats.ab.moments import CupedStats, Proportion, RatioStats, SampleMean
from accuguard.stats.ab.multiple import adjust, benjamini_hochberg, holm
from accuguard.stats.ab.power import (
    cohens_h,
    duration_days,
    normal_power,
    sample_size_means,
    sample_size_proportions,
    t_power,
)
from accuguard.stats.ab.sequential import (
    confidence_sequence,
    make_sequential,
    mixture_rho,
    msprt_p_value,
)
from accuguard.stats.ab.srm import SRM_THRESHOLD, SrmResult, srm_test
from accuguard.stats.ab.summary import NonInferiority, Stats, analyze_summary, non_inferiority

__all__ = [
    "SRM_THRESHOLD",
    "Comparison",
    "CupedStats",
    "NonInferiority",
    "Proportion",
    "RatioStats",
    "SampleMean",
    "SrmResult",
    "Stats",
    "adjust",
    "analyze_summary",
    "benjamini_hochberg",
    "cohens_h",
    "confidence_sequence",
    "cuped_test",
    "cuped_theta",
    "duration_days",
    "expected_loss",
    "holm",
    "make_sequential",
    "mixture_rho",
    "msprt_p_value",
    "non_inferiority",
    "normal_power",
    "prob_beat_control",
    "ratio_test",
    "sample_size_means",
    "sample_size_proportions",
    "srm_test",
    "t_power",
    "two_proportion_ztest",
    "welch_ttest",
]
