"""The large-sample survival function of the two-sided Kolmogorov-Smirnov statistic,
without importing ``scipy.stats``.

``scipy.stats.kstwo.sf(x, n)`` is what the KS p-value of a large drift check needs,
but importing ``scipy.stats`` costs about a second of CPU (more than profiling a
million rows x 25 columns' numbers takes). For the large ``n`` of such checks SciPy's
own algorithm (Simard & L'Ecuyer 2011, ``scipy.stats._ksstats._kolmogn``) takes one of
four closed-form branches, reproduced here operation for operation so the value is
bit-for-bit SciPy's (tested against ``scipy.stats.kstwo.sf``); every other case
returns ``None`` and the caller asks SciPy.

The Pelz-Good series is SciPy's ``_kolmogn_PelzGood`` (SciPy 1.17, BSD-3-Clause,
Copyright (c) 2001-2002 Enthought, Inc. and 2003-2024 SciPy Developers), itself from
Pelz & Good (1976), "Approximating the lower tail-areas of the Kolmogorov-Smirnov
one-sample statistic", J. Roy. Statist. Soc. B 38(2), 152-156.
"""

from __future__ import annotations

import numpy as np

from accuguard.stats._smirnov import smirnov_sf

_SQRT2PI = np.sqrt(2 * np.pi)
_MIN_LOG = -708
_SQRT3 = np.sqrt(3)
_PI_SQUARED = np.pi**2
_PI_FOUR = np.pi**4
_PI_SIX = np.pi**6


def kstwo_sf_large_n(x: float, n: int) -> float | None:
    """``scipy.stats.kstwo.sf(x, n)`` for ``n > 100,000``; None where SciPy must answer.

    Branches (SciPy's ``_kolmogn`` with ``cdf=False``): ``x`` outside the support
    ``(1/(2n), 1)`` gives 1 or 0; ``n x^2 >= 370`` gives 0; ``2.2 <= n x^2`` gives
    ``2 * smirnov(n, x)``; below, ``1 - PelzGood(n, x)``. Each result is clipped to
    ``[0, 1]`` as SciPy's is.

    >>> from scipy import stats
    >>> kstwo_sf_large_n(0.0012, 500_000) == float(stats.kstwo.sf(0.0012, 500_000))
    True
    """
    if n <= 100_000:
        return None
    if x <= 0.5 / n:
        return 1.0
    if x >= 1.0:
        return 0.0
    t = n * x
    if t <= 1.0 or t >= n - 1 or x >= 0.5:
        return None
    nxsquared = t * x
    if nxsquared >= 370.0:
        return 0.0
    if nxsquared >= 2.2:
        return float(np.clip(2.0 * smirnov_sf(n, x), 0.0, 1.0))
    return float(np.clip(1.0 - _pelz_good_cdf(n, x), 0.0, 1.0))


def _pelz_good_cdf(n: int, x: float) -> float:
    """Pelz-Good approximation of ``P(D_n <= x)`` (SciPy's ``_kolmogn_PelzGood``)."""
    z = np.sqrt(n) * x
    zsquared, zthree, zfour, zsix = z**2, z**3, z**4, z**6
    qlog = -_PI_SQUARED / 8 / zsquared
    if qlog < _MIN_LOG:
        return 0.0
    q = np.exp(qlog)
    k1a = -zsquared
    k1b = _PI_SQUARED / 4
    k2a = 6 * zsix + 2 * zfour
    k2b = (2 * zfour - 5 * zsquared) * _PI_SQUARED / 4
    k2c = _PI_FOUR * (1 - 2 * zsquared) / 16
    k3d = _PI_SIX * (5 - 30 * zsquared) / 64
    k3c = _PI_FOUR * (-60 * zsquared + 212 * zfour) / 16
    k3b = _PI_SQUARED * (135 * zfour - 96 * zsix) / 4
    k3a = -30 * zsix - 90 * z**8
    k0to3 = np.zeros(4)
    maxk = int(np.ceil(16 * z / np.pi))
    for k in range(maxk, 0, -1):  # Horner scheme over the odd integers m = 2k - 1
        m = 2 * k - 1
        msquared, mfour, msix = m**2, m**4, m**6
        qpower = np.power(q, 8 * k)
        coeffs = np.array(
            [
                1.0,
                k1a + k1b * msquared,
                k2a + k2b * msquared + k2c * mfour,
                k3a + k3b * msquared + k3c * mfour + k3d * msix,
            ]
        )
        k0to3 *= qpower
        k0to3 += coeffs
    k0to3 *= q
    k0to3 *= _SQRT2PI
    k0to3 /= np.array([z, 6 * zfour, 72 * z**7, 6480 * z**10])
    q = np.exp(-_PI_SQUARED / 2 / zsquared)
    ks = np.arange(maxk, 0, -1)
    ksquared = ks**2
    sqrt3z = _SQRT3 * z
    kspi = np.pi * ks
    qpwers = q**ksquared
    k2extra = np.sum(ksquared * qpwers)
    k2extra *= _PI_SQUARED * _SQRT2PI / (-36 * zthree)
    k0to3[2] += k2extra
    k3extra = np.sum((sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpwers)
    k3extra *= _PI_SQUARED * _SQRT2PI / (216 * zsix)
    k0to3[3] += k3extra
    powers_of_n = np.power(n * 1.0, np.arange(len(k0to3)) / 2.0)
    k0to3 /= powers_of_n
    return float(sum(k0to3))
