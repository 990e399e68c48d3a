"""Sufficient statistics of one experiment arm: small, frozen, mergeable, vectorised.

Every A/B test in :mod:`accuguard.stats.ab` needs only a few sums per arm, never the
raw data. The classes here hold those sums. Each field is a float or a numpy array;
arrays describe many experiments (or experiment x metric pairs) at once and all
fields are broadcast to one shape, so every derived property and every test is
computed for all of them in one vectorised call. ``a + b`` merges two summaries of
disjoint data (two days, two shards) by adding the sums.

All variances use the ``n - 1`` denominator (unbiased), except
:attr:`Proportion.variance`, which is the Bernoulli variance ``p (1 - p)`` used by the
two-proportion z-test. A property that cannot be computed (a mean of zero units, a
variance of fewer than two units) is ``nan``; nothing raises for it.

The layout follows GrowthBook's ``gbstats/models/statistics.py`` (Apache-2.0 idea,
our own code): ``SampleMeanStatistic``, ``ProportionStatistic``, ``RatioStatistic``
and ``RegressionAdjustedStatistic`` correspond to :class:`SampleMean`,
:class:`Proportion`, :class:`RatioStats` and :class:`CupedStats`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Values = float | FloatArray
"""A float or an array of floats: one experiment, or many at once."""


def _arr(x: Values) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _div(num: Values, den: Values) -> FloatArray:
    """``num / den`` with ``nan`` (not a warning) where ``den == 0``."""
    with np.errstate(all="ignore"):
        out = np.divide(_arr(num), _arr(den))
    return np.where(_arr(den) == 0, np.nan, out)


def _sample_cov(n: Values, s1: Values, s2: Values, s12: Values) -> FloatArray:
    """``(s12 - s1 s2 / n) / (n - 1)``; ``nan`` when ``n < 2``."""
    nn = _arr(n)
    with np.errstate(all="ignore"):
        out = (_arr(s12) - _arr(s1) * _arr(s2) / nn) / (nn - 1.0)
    return np.where(nn < 2, np.nan, out)


def _first_bad(name: str, value: FloatArray, bad: npt.NDArray[np.bool_], allowed: str) -> None:
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f" at index {idx}" if value.ndim else ""
        raise ValueError(f"{name} must be {allowed}, got {value[idx].item()!r}{where}")


@dataclass(frozen=True, eq=False)
class _Sums:
    """Shared machinery: convert and broadcast the fields, check them, add them."""

    def __post_init__(self) -> None:
        names = [f.name for f in fields(self)]
        try:
            arrays = np.broadcast_arrays(*(_arr(getattr(self, k)) for k in names))
        except ValueError as exc:
            shapes = {k: np.shape(getattr(self, k)) for k in names}
            raise ValueError(
                f"{type(self).__name__} fields must broadcast to one shape, got {shapes}"
            ) from exc
        for name, value in zip(names, arrays, strict=True):
            value = np.array(value, dtype=np.float64)  # own, writeable, contiguous copy
            _first_bad(f"{type(self).__name__}.{name}", value, ~np.isfinite(value), "finite")
            object.__setattr__(self, name, value)
        n = _arr(self.n)
        _first_bad(f"{type(self).__name__}.n", n, n < 0, "a count >= 0")
        self._check()

    n: Values

    def _check(self) -> None:
        """Class-specific checks; override."""

    def __add__(self, other: Self) -> Self:
        if type(other) is not type(self):
            return NotImplemented
        kw: dict[str, Any] = {
            f.name: _arr(getattr(self, f.name)) + _arr(getattr(other, f.name)) for f in fields(self)
        }
        return type(self)(**kw)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the (broadcast) fields: ``()`` for one experiment."""
        return _arr(self.n).shape

    def __getitem__(self, index: Any) -> Self:
        """The summaries of a subset of the experiments (numpy indexing on every field)."""
        kw: dict[str, Any] = {f.name: _arr(getattr(self, f.name))[index] for f in fields(self)}
        return type(self)(**kw)


@dataclass(frozen=True, eq=False)
class SampleMean(_Sums):
    """Sums of a numeric metric over ``n`` units: ``sum = Σ y``, ``sum_sq = Σ y²``.

    ``mean = sum / n``; ``variance = (sum_sq - sum² / n) / (n - 1)``. ``mean`` is
    ``nan`` when ``n == 0`` and ``variance`` when ``n < 2``.

    Reference: Welford/Chan et al. (1983), "Algorithms for computing the sample
    variance", The American Statistician 37(3) (the one-pass sums and their
    cancellation error: keep values roughly centred when they are large).

    >>> s = SampleMean.from_values([1.0, 2.0, 3.0, 6.0])
    >>> float(s.mean), round(float(s.variance), 4)
    (3.0, 4.6667)
    >>> float((s + s).n)
    8.0
    """

    sum: Values
    sum_sq: Values

    def _check(self) -> None:
        sq = _arr(self.sum_sq)
        _first_bad("SampleMean.sum_sq", sq, sq < 0, "a sum of squares >= 0")

    @classmethod
    def from_values(cls, values: npt.ArrayLike, axis: int = -1) -> SampleMean:
        """Summarise raw values; reduces ``axis`` (the only axis of a 1-D input)."""
        y = np.asarray(values, dtype=np.float64)
        return cls(
            n=np.float64(y.shape[axis]) + np.zeros(np.delete(y.shape, axis)),
            sum=y.sum(axis=axis),
            sum_sq=(y * y).sum(axis=axis),
        )

    @property
    def mean(self) -> FloatArray:
        """``sum / n`` (``nan`` if ``n == 0``)."""
        return _div(self.sum, self.n)

    @property
    def variance(self) -> FloatArray:
        """Unbiased sample variance (``nan`` if ``n < 2``); negative rounding clipped to 0."""
        return np.maximum(_sample_cov(self.n, self.sum, self.sum, self.sum_sq), 0.0)

    @property
    def std(self) -> FloatArray:
        """Sample standard deviation ``sqrt(variance)``."""
        return np.sqrt(self.variance)


@dataclass(frozen=True, eq=False)
class Proportion(_Sums):
    """``successes`` out of ``n`` units (each unit 0 or 1).

    ``mean = p = successes / n``; ``variance = p (1 - p)`` (Bernoulli, the
    variance the two-proportion z-test uses). ``nan`` when ``n == 0``. Raises
    ``ValueError`` unless ``0 <= successes <= n``.

    >>> p = Proportion(n=1000, successes=32)
    >>> float(p.mean), round(float(p.variance), 6)
    (0.032, 0.030976)
    """

    successes: Values

    def _check(self) -> None:
        s, n = _arr(self.successes), _arr(self.n)
        _first_bad("Proportion.successes", s, s < 0, "a count >= 0")
        _first_bad("Proportion.successes", s, s > n, "<= n (a unit succeeds at most once)")

    @classmethod
    def from_values(cls, values: npt.ArrayLike, axis: int = -1) -> Proportion:
        """Summarise 0/1 values (any non-zero value counts as a success)."""
        y = np.asarray(values) != 0
        return cls(
            n=np.float64(y.shape[axis]) + np.zeros(np.delete(y.shape, axis)),
            successes=y.sum(axis=axis).astype(np.float64),
        )

    @property
    def mean(self) -> FloatArray:
        """``successes / n`` (``nan`` if ``n == 0``)."""
        return _div(self.successes, self.n)

    @property
    def variance(self) -> FloatArray:
        """``p (1 - p)``."""
        p = self.mean
        return p * (1.0 - p)

    def as_sample_mean(self) -> SampleMean:
        """The same data as a :class:`SampleMean` (``sum = sum_sq = successes``)."""
        return SampleMean(n=self.n, sum=self.successes, sum_sq=self.successes)


@dataclass(frozen=True, eq=False)
class RatioStats(_Sums):
    """Per-unit sums for a ratio metric ``R = Σx / Σy`` (e.g. clicks per session).

    ``x`` is the numerator and ``y`` the denominator *per unit* (a unit is what was
    randomised, e.g. a user with several sessions). Fields: ``n`` units and
    ``sum_x = Σx``, ``sum_y = Σy``, ``sum_x2 = Σx²``, ``sum_y2 = Σy²``, ``sum_xy = Σxy``.

    ``ratio = sum_x / sum_y``. Its delta-method variance per unit is
    ``variance = var_x / μy² - 2 μx cov_xy / μy³ + μx² var_y / μy⁴`` so that
    ``Var(ratio) ≈ variance / n``. ``nan`` when ``sum_y == 0`` or ``n < 2``.

    Reference: Deng, Knoblich & Lu (2018), "Applying the delta method in metric
    analytics: a practical guide with novel ideas", KDD; Kohavi, Tang & Xu (2020),
    *Trustworthy Online Controlled Experiments*, ch. 18.

    >>> r = RatioStats.from_values(x=[1, 0, 3, 2], y=[2, 1, 3, 2])
    >>> round(float(r.ratio), 4), round(float(r.variance), 4)
    (0.75, 0.1354)
    """

    sum_x: Values
    sum_y: Values
    sum_x2: Values
    sum_y2: Values
    sum_xy: Values

    def _check(self) -> None:
        for name in ("sum_x2", "sum_y2"):
            v = _arr(getattr(self, name))
            _first_bad(f"RatioStats.{name}", v, v < 0, "a sum of squares >= 0")

    @classmethod
    def from_values(cls, x: npt.ArrayLike, y: npt.ArrayLike, axis: int = -1) -> RatioStats:
        """Summarise per-unit numerators ``x`` and denominators ``y`` (same shape)."""
        xa, ya = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        return cls(
            n=np.float64(xa.shape[axis]) + np.zeros(np.delete(xa.shape, axis)),
            sum_x=xa.sum(axis=axis),
            sum_y=ya.sum(axis=axis),
            sum_x2=(xa * xa).sum(axis=axis),
            sum_y2=(ya * ya).sum(axis=axis),
            sum_xy=(xa * ya).sum(axis=axis),
        )

    @property
    def mean_x(self) -> FloatArray:
        """Mean numerator per unit."""
        return _div(self.sum_x, self.n)

    @property
    def mean_y(self) -> FloatArray:
        """Mean denominator per unit."""
        return _div(self.sum_y, self.n)

    @property
    def ratio(self) -> FloatArray:
        """``sum_x / sum_y`` (``nan`` if ``sum_y == 0``)."""
        return _div(self.sum_x, self.sum_y)

    @property
    def mean(self) -> FloatArray:
        """Alias of :attr:`ratio`, so every statistic has a ``mean``."""
        return self.ratio

    @property
    def var_x(self) -> FloatArray:
        """Sample variance of the per-unit numerator."""
        return _sample_cov(self.n, self.sum_x, self.sum_x, self.sum_x2)

    @property
    def var_y(self) -> FloatArray:
        """Sample variance of the per-unit denominator."""
        return _sample_cov(self.n, self.sum_y, self.sum_y, self.sum_y2)

    @property
    def cov_xy(self) -> FloatArray:
        """Sample covariance of numerator and denominator."""
        return _sample_cov(self.n, self.sum_x, self.sum_y, self.sum_xy)

    @property
    def variance(self) -> FloatArray:
        """Delta-method variance of the linearised ratio, per unit (clipped at 0)."""
        mx, my = self.mean_x, self.mean_y
        with np.errstate(all="ignore"):
            v = self.var_x / my**2 - 2.0 * mx * self.cov_xy / my**3 + mx**2 * self.var_y / my**4
        return np.where(my == 0, np.nan, np.maximum(v, 0.0))


@dataclass(frozen=True, eq=False)
class CupedStats(_Sums):
    """Sums of a metric ``y`` and its pre-experiment covariate ``x`` over ``n`` units.

    Fields: ``sum_y = Σy``, ``sum_y2 = Σy²``, ``sum_x = Σx``, ``sum_x2 = Σx²`` and the
    cross sum ``sum_xy = Σxy``. CUPED estimates each arm's mean as
    ``mean_y - θ mean_x`` with one ``θ = cov(x, y) / var(x)`` computed on both arms
    pooled (:func:`accuguard.stats.ab.cuped_test`); with that ``θ`` the per-unit
    variance is ``var_y + θ² var_x - 2 θ cov_xy``, smaller by the factor
    ``1 - corr(x, y)²`` at the optimum.

    Reference: Deng, Xu, Kohavi & Walker (2013), "Improving the sensitivity of online
    controlled experiments by utilizing pre-experiment data", WSDM.

    >>> c = CupedStats.from_values(y=[3.0, 5.0, 4.0, 8.0], x=[1.0, 2.0, 2.0, 4.0])
    >>> round(float(c.theta), 4), round(float(c.adjusted_variance(c.theta)), 4)
    (1.6842, 0.1754)
    """

    sum_y: Values
    sum_y2: Values
    sum_x: Values
    sum_x2: Values
    sum_xy: Values

    def _check(self) -> None:
        for name in ("sum_y2", "sum_x2"):
            v = _arr(getattr(self, name))
            _first_bad(f"CupedStats.{name}", v, v < 0, "a sum of squares >= 0")

    @classmethod
    def from_values(cls, y: npt.ArrayLike, x: npt.ArrayLike, axis: int = -1) -> CupedStats:
        """Summarise per-unit metric values ``y`` and covariates ``x`` (same shape)."""
        ya, xa = np.broadcast_arrays(np.asarray(y, float), np.asarray(x, float))
        return cls(
            n=np.float64(ya.shape[axis]) + np.zeros(np.delete(ya.shape, axis)),
            sum_y=ya.sum(axis=axis),
            sum_y2=(ya * ya).sum(axis=axis),
            sum_x=xa.sum(axis=axis),
            sum_x2=(xa * xa).sum(axis=axis),
            sum_xy=(xa * ya).sum(axis=axis),
        )

    @property
    def mean(self) -> FloatArray:
        """Unadjusted mean of the metric, ``sum_y / n``."""
        return _div(self.sum_y, self.n)

    @property
    def mean_x(self) -> FloatArray:
        """Mean of the covariate."""
        return _div(self.sum_x, self.n)

    @property
    def var_y(self) -> FloatArray:
        """Sample variance of the metric."""
        return _sample_cov(self.n, self.sum_y, self.sum_y, self.sum_y2)

    @property
    def var_x(self) -> FloatArray:
        """Sample variance of the covariate."""
        return _sample_cov(self.n, self.sum_x, self.sum_x, self.sum_x2)

    @property
    def cov_xy(self) -> FloatArray:
        """Sample covariance of metric and covariate."""
        return _sample_cov(self.n, self.sum_x, self.sum_y, self.sum_xy)

    @property
    def theta(self) -> FloatArray:
        """``cov_xy / var_x`` of these units (``nan`` if ``var_x == 0``)."""
        return _div(self.cov_xy, self.var_x)

    def adjusted_variance(self, theta: Values) -> FloatArray:
        """Per-unit variance of ``y - θ x``: ``var_y + θ² var_x - 2 θ cov_xy`` (clipped at 0)."""
        t = _arr(theta)
        return np.maximum(self.var_y + t**2 * self.var_x - 2.0 * t * self.cov_xy, 0.0)

    def as_sample_mean(self) -> SampleMean:
        """The metric alone, without its covariate."""
        return SampleMean(n=self.n, sum=self.sum_y, sum_sq=self.sum_y2)
