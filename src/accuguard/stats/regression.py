"""Regression metrics (MAE, RMSE, R², MAPE) from mergeable moments.

:class:`RegressionMoments` keeps counts, means and *centred* sums (``M2``, ``M3``,
``M4``) instead of raw power sums, and merges them with the pairwise formulas of Chan,
Golub & LeVeque (1979) and Pébay (2008). Raw sums such as ``sum y^2 - n mean^2`` lose
every significant digit for targets like ``1e6 + noise``; centred sums do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from accuguard.stats.intervals import Estimate, z_value


@dataclass(frozen=True)
class RegressionMoments:
    """Mergeable sufficient statistics of (y, y_pred) for MAE, RMSE, R² and MAPE.

    With errors ``e = y - y_pred`` over ``n`` rows and ``d = y - mean_y``:

    - ``mean_abs_err``, ``m2_abs_err``: mean of ``|e|`` and ``sum (|e| - mean)^2``;
    - ``mean_sq_err``, ``m2_sq_err``: the same for ``e^2``;
    - ``mean_y``, ``m2_y``, ``m3_y``, ``m4_y``: mean of ``y`` and ``sum d^p``, p = 2, 3, 4;
    - ``sq_err_d1 = sum e^2 d`` and ``sq_err_d2 = sum e^2 d^2`` (cross terms for R²);
    - ``n_ape``, ``mean_ape``, ``m2_ape``: count, mean and ``M2`` of ``|e| / |y|`` over
      rows with ``y != 0``; ``n_zero_target`` counts the rows with ``y == 0`` that MAPE
      excludes.

    ``a + b`` merges two chunks (Chan et al. 1979; Pébay 2008); the zero-row value
    ``RegressionMoments()`` is the identity.

    >>> m = RegressionMoments.from_arrays([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
    >>> m.n, m.mae, round(m.r2, 4)
    (4, 0.5, 0.9486)
    """

    n: int = 0
    mean_abs_err: float = 0.0
    m2_abs_err: float = 0.0
    mean_sq_err: float = 0.0
    m2_sq_err: float = 0.0
    mean_y: float = 0.0
    m2_y: float = 0.0
    m3_y: float = 0.0
    m4_y: float = 0.0
    sq_err_d1: float = 0.0
    sq_err_d2: float = 0.0
    n_ape: int = 0
    mean_ape: float = 0.0
    m2_ape: float = 0.0
    n_zero_target: int = 0

    @classmethod
    def from_arrays(cls, y_true: ArrayLike, y_pred: ArrayLike) -> RegressionMoments:
        """Moments of one chunk (two passes over the data, float64).

        Raises ``ValueError`` naming the argument for non-numeric, non-1-D, mismatched,
        NaN or infinite input. Empty input gives the identity ``RegressionMoments()``.

        >>> RegressionMoments.from_arrays([1.0, 2.0], [1.0, 1.0]).mean_sq_err
        0.5
        """
        y = _values(y_true, "y_true", None)
        p = _values(y_pred, "y_pred", y.size)
        n = y.size
        if n == 0:
            return cls()
        mean_y = float(y.mean())
        d = y - mean_y
        shift = float(d.mean())  # second pass: removes the rounding of the first mean
        mean_y += shift
        d -= shift
        e = y - p
        abs_e = np.abs(e)
        sq_e = e * e
        d2 = d * d
        nonzero = y != 0
        ape = abs_e[nonzero] / np.abs(y[nonzero])
        mean_abs, m2_abs = _mean_m2(abs_e)
        mean_sq, m2_sq = _mean_m2(sq_e)
        mean_ape, m2_ape = _mean_m2(ape)
        return cls(
            n=n,
            mean_abs_err=mean_abs,
            m2_abs_err=m2_abs,
            mean_sq_err=mean_sq,
            m2_sq_err=m2_sq,
            mean_y=mean_y,
            m2_y=float(d2.sum()),
            m3_y=float((d2 * d).sum()),
            m4_y=float((d2 * d2).sum()),
            sq_err_d1=float((sq_e * d).sum()),
            sq_err_d2=float((sq_e * d2).sum()),
            n_ape=int(ape.size),
            mean_ape=mean_ape,
            m2_ape=m2_ape,
            n_zero_target=int(n - ape.size),
        )

    def __add__(self, other: RegressionMoments) -> RegressionMoments:
        if not isinstance(other, RegressionMoments):
            return NotImplemented
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        na, nb = self.n, other.n
        n = na + nb
        mean_abs, m2_abs = _chan(
            na, self.mean_abs_err, self.m2_abs_err, nb, other.mean_abs_err, other.m2_abs_err
        )
        mean_sq, m2_sq = _chan(
            na, self.mean_sq_err, self.m2_sq_err, nb, other.mean_sq_err, other.m2_sq_err
        )
        mean_ape, m2_ape = _chan(
            self.n_ape, self.mean_ape, self.m2_ape, other.n_ape, other.mean_ape, other.m2_ape
        )
        delta = other.mean_y - self.mean_y
        mean_y = self.mean_y + delta * nb / n
        m2 = self.m2_y + other.m2_y + delta**2 * na * nb / n
        m3 = (
            self.m3_y
            + other.m3_y
            + delta**3 * na * nb * (na - nb) / n**2
            + 3.0 * delta * (na * other.m2_y - nb * self.m2_y) / n
        )
        m4 = (
            self.m4_y
            + other.m4_y
            + delta**4 * na * nb * (na * na - na * nb + nb * nb) / n**3
            + 6.0 * delta**2 * (na * na * other.m2_y + nb * nb * self.m2_y) / n**2
            + 4.0 * delta * (na * other.m3_y - nb * self.m3_y) / n
        )
        d1a, d2a = self._recentre(mean_y - self.mean_y)
        d1b, d2b = other._recentre(mean_y - other.mean_y)
        return RegressionMoments(
            n=n,
            mean_abs_err=mean_abs,
            m2_abs_err=m2_abs,
            mean_sq_err=mean_sq,
            m2_sq_err=m2_sq,
            mean_y=mean_y,
            m2_y=m2,
            m3_y=m3,
            m4_y=m4,
            sq_err_d1=d1a + d1b,
            sq_err_d2=d2a + d2b,
            n_ape=self.n_ape + other.n_ape,
            mean_ape=mean_ape,
            m2_ape=m2_ape,
            n_zero_target=self.n_zero_target + other.n_zero_target,
        )

    def _recentre(self, shift: float) -> tuple[float, float]:
        """``sum e^2 (y - c)`` and ``sum e^2 (y - c)^2`` for ``c = mean_y + shift``."""
        sse = self.n * self.mean_sq_err
        d1 = self.sq_err_d1 - shift * sse
        d2 = self.sq_err_d2 - 2.0 * shift * self.sq_err_d1 + shift * shift * sse
        return d1, d2

    @property
    def mae(self) -> float:
        """Mean absolute error ``mean |y - y_pred|`` (``nan`` when ``n == 0``)."""
        return self.mean_abs_err if self.n else math.nan

    @property
    def mse(self) -> float:
        """Mean squared error ``mean (y - y_pred)^2`` (``nan`` when ``n == 0``)."""
        return self.mean_sq_err if self.n else math.nan

    @property
    def rmse(self) -> float:
        """Root mean squared error ``sqrt(mse)``."""
        return math.sqrt(self.mse) if self.n else math.nan

    @property
    def r2(self) -> float:
        """``1 - SSE / SST``; ``nan`` when ``n < 2`` or the target is constant."""
        if self.n < 2 or self.m2_y <= 0.0:
            return math.nan
        return 1.0 - self.n * self.mean_sq_err / self.m2_y

    @property
    def mape(self) -> float:
        """Mean of ``|y - y_pred| / |y|`` over rows with ``y != 0`` (``nan`` if none)."""
        return self.mean_ape if self.n_ape else math.nan


def regression_metrics(m: RegressionMoments, confidence: float = 0.95) -> dict[str, Estimate]:
    """MAE, RMSE, R² and MAPE with intervals from merged moments.

    - ``mae``: normal interval of a mean, ``mae +- z s(|e|) / sqrt(n)`` (method
      ``"normal"``).
    - ``rmse``: delta method on the MSE: ``se(mse) = s(e^2) / sqrt(n)``,
      ``se(rmse) = se(mse) / (2 rmse)``; lower bound clipped at 0 (``"delta"``).
    - ``r2 = 1 - A / B`` with ``A = mean e^2``, ``B = mean d^2``: delta method on the ratio
      of two means (the estimated mean of ``y`` does not change the first-order
      variance): ``Var = [V(a) / B^2 - 2 A C(a, b) / B^3 + A^2 V(b) / B^4] / n`` with
      population moments of ``a = e^2``, ``b = d^2`` (``"delta"``).
    - ``mape``: normal interval of the mean of ``|e| / |y|`` over rows with ``y != 0``
      (``"normal"``).

    Values equal scikit-learn's ``mean_absolute_error``, ``root_mean_squared_error``,
    ``r2_score`` and ``mean_absolute_percentage_error`` except: MAPE *excludes* rows
    with ``y == 0`` (``m.n_zero_target`` counts them; scikit-learn divides by
    ``max(|y|, eps)``, giving huge values), and R² is ``nan`` for a constant target
    (scikit-learn's ``force_finite`` returns 1.0 or 0.0). Intervals need ``n >= 2``
    (else ``nan``).

    References: Chan, Golub & LeVeque (1979); Pébay (2008), Sandia SAND2008-6212;
    delta method: Casella & Berger (2002), *Statistical Inference*, 5.5.4.

    >>> m = RegressionMoments.from_arrays([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
    >>> {k: round(e.value, 4) for k, e in regression_metrics(m).items()}
    {'mae': 0.5, 'rmse': 0.6124, 'r2': 0.9486, 'mape': 0.3274}
    """
    z = z_value(confidence)
    if not isinstance(m, RegressionMoments):
        raise ValueError(f"m must be RegressionMoments, got {type(m).__name__}")
    return {
        "mae": _normal(m.mae, m.m2_abs_err, m.n, z),
        "rmse": _rmse(m, z),
        "r2": _r2(m, z),
        "mape": _normal(m.mape, m.m2_ape, m.n_ape, z),
    }


def _normal(mean: float, m2: float, n: int, z: float) -> Estimate:
    if n < 2 or math.isnan(mean):
        return Estimate(mean, math.nan, math.nan, "normal")
    half = z * math.sqrt(max(m2, 0.0) / (n - 1) / n)
    return Estimate(mean, mean - half, mean + half, "normal")


def _rmse(m: RegressionMoments, z: float) -> Estimate:
    rmse = m.rmse
    if m.n < 2:
        return Estimate(rmse, math.nan, math.nan, "delta")
    if rmse == 0.0:
        return Estimate(0.0, 0.0, 0.0, "delta")
    se = math.sqrt(max(m.m2_sq_err, 0.0) / (m.n - 1) / m.n) / (2.0 * rmse)
    return Estimate(rmse, max(0.0, rmse - z * se), rmse + z * se, "delta")


def _r2(m: RegressionMoments, z: float) -> Estimate:
    r2 = m.r2
    if math.isnan(r2):
        return Estimate.undefined("delta")
    n = m.n
    a, b = m.mean_sq_err, m.m2_y / n
    var_a = m.m2_sq_err / n
    var_b = max(m.m4_y / n - b * b, 0.0)
    cov_ab = m.sq_err_d2 / n - a * b
    var = (var_a / b**2 - 2.0 * a * cov_ab / b**3 + a * a * var_b / b**4) / n
    half = z * math.sqrt(max(var, 0.0))
    return Estimate(r2, r2 - half, r2 + half, "delta")


def _values(values: ArrayLike, name: str, size: int | None) -> NDArray[np.float64]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if size is not None and arr.size != size:
        raise ValueError(f"{name} has {arr.size} values but y_true has {size}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    out = arr.astype(np.float64, copy=False)
    nans = int(np.isnan(out).sum())
    if nans:
        raise ValueError(f"{name} contains {nans} NaN values")
    infs = int(np.isinf(out).sum())
    if infs:
        raise ValueError(f"{name} contains {infs} infinite values")
    return out


def _mean_m2(x: NDArray[np.float64]) -> tuple[float, float]:
    if x.size == 0:
        return 0.0, 0.0
    mean = float(x.mean())
    d = x - mean
    with np.errstate(over="ignore"):  # e.g. |e| / |y| for y near 0: inf spread, no warning
        return mean, float(np.dot(d, d))


def _chan(
    na: int, mean_a: float, m2_a: float, nb: int, mean_b: float, m2_b: float
) -> tuple[float, float]:
    """Merge (count, mean, M2) pairs (Chan, Golub & LeVeque 1979)."""
    n = na + nb
    if nb == 0:
        return mean_a, m2_a
    if na == 0:
        return mean_b, m2_b
    delta = mean_b - mean_a
    return mean_a + delta * nb / n, m2_a + m2_b + delta * delta * na * nb / n
