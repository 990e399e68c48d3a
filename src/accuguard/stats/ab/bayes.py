"""A Bayesian reading of a comparison: chance to beat control, and expected loss.

With a flat prior and the normal approximation that the frequentist tests already
use, the posterior of the effect ``δ`` is ``N(δ̂, se²)``. Then

* ``P(treatment beats control) = P(δ > 0) = Φ(δ̂ / se)``;
* the expected loss of shipping the treatment (how much is lost, on average, if it
  is in fact worse) is ``E[max(0, -δ)] = se φ(δ̂/se) - δ̂ Φ(-δ̂/se)``; of keeping the
  control, ``E[max(0, δ)] = se φ(δ̂/se) + δ̂ Φ(δ̂/se)``.

These are on the scale of the estimate given (absolute or relative). With the large
samples of online experiments the prior matters little; this view adds no new
assumption to the frequentist one, it rephrases it. A flipped sign is needed when
lower is better.

Reference: C. Stucchio (2015), "Bayesian A/B testing at VWO" (expected loss);
Gelman et al. (2013), *Bayesian Data Analysis*, 3rd ed., §2.5 (normal posterior,
flat prior); Deng (2015), "Objective Bayesian two sample hypothesis testing for
online controlled experiments", WWW.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from accuguard.stats.ab.moments import FloatArray, Values, _arr


def prob_beat_control(estimate: Values, se: Values) -> FloatArray:
    """``Φ(estimate / se)``: posterior probability that the effect is positive.

    ``nan`` where ``se`` is ``nan``; ``1``/``0``/``0.5`` for ``se == 0`` and a
    positive/negative/zero estimate.

    >>> round(float(prob_beat_control(0.5, 0.25)), 4)
    0.9772
    """
    e, s = _arr(estimate), _arr(se)
    with np.errstate(all="ignore"):
        z = np.where(s == 0, np.sign(e) * np.inf, e / s)
        out = np.where((s == 0) & (e == 0), 0.5, sps.norm.cdf(z))
    return np.asarray(out, np.float64)


def expected_loss(estimate: Values, se: Values) -> tuple[FloatArray, FloatArray]:
    """Expected loss ``(of shipping treatment, of keeping control)``, each ``>= 0``.

    ``E[max(0, -δ)] = se φ(z) - δ̂ Φ(-z)`` and ``E[max(0, δ)] = se φ(z) + δ̂ Φ(z)``
    with ``z = δ̂ / se`` and ``δ ~ N(δ̂, se²)``.

    >>> a, b = expected_loss(0.5, 0.25)
    >>> round(float(a), 5), round(float(b), 5)
    (0.00212, 0.50212)
    """
    e, s = _arr(estimate), _arr(se)
    with np.errstate(all="ignore"):
        z = e / s
        pdf = s * sps.norm.pdf(z)
        ship = np.where(s == 0, np.maximum(-e, 0.0), pdf - e * sps.norm.cdf(-z))
        keep = np.where(s == 0, np.maximum(e, 0.0), pdf + e * sps.norm.cdf(z))
    return np.asarray(np.maximum(ship, 0.0), np.float64), np.asarray(
        np.maximum(keep, 0.0), np.float64
    )
