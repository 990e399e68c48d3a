"""Per-column mergeable profiles and the drift and quality comparisons between two of them.

``profile_column`` turns one Arrow chunk into a profile; profiles of successive chunks
(or shards) merge with ``+``; ``drift_between`` and ``quality_between`` compare a
reference profile with a current one. Every statistic of a numeric column is computed
from one sort per sample (the sort happens lazily, once, in ``sorted_values()``), so
asking for KS, PSI, Wasserstein and Jensen-Shannon together costs little more than KS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from accuguard.profile.numeric import DEFAULT_EXACT_LIMIT, NumericColumnProfile
from accuguard.stats import quality
from accuguard.stats.distances import (
    WASSERSTEIN_STD_FLOOR,
    jensen_shannon,
    jensen_shannon_categorical,
    jensen_shannon_numeric,
    psi,
    psi_categorical,
    psi_numeric,
    sturges_edges,
)
from accuguard.stats.drift import (
    CATEGORICAL_METHODS,
    NUMERIC_METHODS,
    DriftResult,
    chi_square,
    cramers_v,
    drift_verdict,
    ks_from_sketches,
    ks_pvalue,
    ks_sketch_error_bound,
)
from accuguard.stats.ecdf import ecdf_distances
from accuguard.stats.lazy_scipy import scipy_stats

__all__ = [
    "DEFAULT_EXACT_LIMIT",
    "CategoricalColumnProfile",
    "ColumnProfile",
    "NumericColumnProfile",
    "drift_between",
    "profile_column",
    "quality_between",
]

PSI_BINS = 10


def _category_key(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)


@dataclass(frozen=True)
class CategoricalColumnProfile:
    """Counts per category (keys as ``str``) and the number of nulls; merge with ``+``.

    >>> a = CategoricalColumnProfile.from_arrow(pa.array(["x", "y", None, "x"]))
    >>> b = CategoricalColumnProfile.from_arrow(pa.array([True, None]))
    >>> (a + a).counts, (a + b).nulls, b.counts
    ({'x': 4, 'y': 2}, 2, {'True': 1})
    """

    counts: dict[str, int] = field(default_factory=dict)
    nulls: int = 0

    @classmethod
    def from_arrow(cls, array: pa.Array | pa.ChunkedArray) -> CategoricalColumnProfile:
        """Count categories with ``pyarrow.compute.value_counts`` (strings, dictionaries,
        booleans, integers...; every key becomes ``str(value)``)."""
        nulls = int(array.null_count)
        counted = pc.value_counts(array)
        keys = counted.field("values").to_pylist()
        numbers = counted.field("counts").to_pylist()
        counts: dict[str, int] = {}
        for key, number in zip(keys, numbers, strict=True):
            if key is None:
                continue
            name = _category_key(key)
            counts[name] = counts.get(name, 0) + int(number)
        return cls(counts, nulls)

    def __add__(self, other: CategoricalColumnProfile) -> CategoricalColumnProfile:
        if not isinstance(other, CategoricalColumnProfile):
            return NotImplemented
        merged = dict(self.counts)
        for key, number in other.counts.items():
            merged[key] = merged.get(key, 0) + number
        return CategoricalColumnProfile(merged, self.nulls + other.nulls)

    @property
    def count(self) -> int:
        """Number of non-null values."""
        return sum(self.counts.values())

    @property
    def rows(self) -> int:
        """Number of rows, nulls included."""
        return self.count + self.nulls

    @property
    def distinct(self) -> int:
        """Number of categories seen (with a positive count)."""
        return sum(1 for v in self.counts.values() if v > 0)


ColumnProfile = NumericColumnProfile | CategoricalColumnProfile


def profile_column(
    array: pa.Array | pa.ChunkedArray,
    kind: Literal["numeric", "categorical"],
    exact_limit: int = DEFAULT_EXACT_LIMIT,
) -> ColumnProfile:
    """Profile one Arrow column (chunk) as ``"numeric"`` or ``"categorical"``.

    >>> profile_column(pa.array([1.0, None, 3.0]), "numeric").count
    2
    """
    if kind == "numeric":
        return NumericColumnProfile.from_arrow(array, exact_limit)
    if kind == "categorical":
        return CategoricalColumnProfile.from_arrow(array)
    raise ValueError(f"kind must be 'numeric' or 'categorical'; got {kind!r}")


def _verdict(
    method: str,
    stats_by_method: Mapping[str, tuple[float, float | None, float]],
    detail: dict[str, float],
    alpha: float | None,
    threshold: float | None,
) -> DriftResult:
    statistic, p_value, effect = stats_by_method[method]
    return drift_verdict(method, statistic, p_value, effect, alpha, threshold, detail)


def _numeric_drift(
    ref: NumericColumnProfile,
    cur: NumericColumnProfile,
    method: str,
    alpha: float | None,
    threshold: float | None,
) -> DriftResult:
    nan = math.nan
    if ref.count == 0 or cur.count == 0:
        detail = {
            "ks": nan,
            "ks_p_value": nan,
            "psi": nan,
            "wasserstein_normed": nan,
            "jensenshannon": nan,
        }
        empty = {m: (nan, nan if m == "ks" else None, nan) for m in NUMERIC_METHODS}
        return _verdict(method, empty, detail, alpha, threshold)
    norm = max(ref.std, WASSERSTEIN_STD_FLOOR)
    if ref.is_exact and cur.is_exact:
        r, c = ref.sorted_values(), cur.sorted_values()
        d_raw, w1 = ecdf_distances(r, c)
        d, p = ks_pvalue(d_raw, r.size, c.size)
        psi_value = psi_numeric(r, c, PSI_BINS)
        js = jensen_shannon_numeric(r, c)
        detail = {"approximate": 0.0}
    else:
        rs, cs = ref.summary(), cur.summary()
        d, p = ks_from_sketches(rs, cs)
        (rv, rw), (cv, cw) = rs.items(), cs.items()
        w1 = float(scipy_stats().wasserstein_distance(rv, cv, rw, cw))
        edges = np.unique(ref.quantiles(np.arange(1, PSI_BINS) / PSI_BINS))
        r_bins = np.diff(ref.rank(edges), prepend=0.0, append=float(ref.count))
        c_bins = np.diff(cur.rank(edges), prepend=0.0, append=float(cur.count))
        psi_value = psi(np.clip(r_bins, 0, None) / ref.count, np.clip(c_bins, 0, None) / cur.count)
        hist_edges = sturges_edges(
            min(ref.min, cur.min), max(ref.max, cur.max), ref.count + cur.count
        )
        js = jensen_shannon(
            np.clip(ref.histogram(hist_edges), 0, None), np.clip(cur.histogram(hist_edges), 0, None)
        )
        detail = {"approximate": 1.0, "ks_error_bound": ks_sketch_error_bound(rs, cs)}
    wn = w1 / norm
    detail.update(
        {"ks": d, "ks_p_value": p, "psi": psi_value, "wasserstein_normed": wn, "jensenshannon": js}
    )
    by_method: dict[str, tuple[float, float | None, float]] = {
        "ks": (d, p, d),
        "psi": (psi_value, None, psi_value),
        "wasserstein": (wn, None, wn),
        "jensenshannon": (js, None, js),
    }
    return _verdict(method, by_method, detail, alpha, threshold)


def _categorical_drift(
    ref: CategoricalColumnProfile,
    cur: CategoricalColumnProfile,
    method: str,
    alpha: float | None,
    threshold: float | None,
) -> DriftResult:
    stat, p, dof = chi_square(ref.counts, cur.counts)
    v = cramers_v(stat, ref.count + cur.count, dof + 1)
    psi_value = psi_categorical(ref.counts, cur.counts)
    js = jensen_shannon_categorical(ref.counts, cur.counts)
    detail = {
        "chi_square": stat,
        "chi_square_p_value": p,
        "cramers_v": v,
        "psi": psi_value,
        "jensenshannon": js,
    }
    by_method: dict[str, tuple[float, float | None, float]] = {
        "chi_square": (stat, p, v),
        "psi": (psi_value, None, psi_value),
        "jensenshannon": (js, None, js),
    }
    return _verdict(method, by_method, detail, alpha, threshold)


def drift_between(
    ref: ColumnProfile,
    cur: ColumnProfile,
    method: str | None = None,
    *,
    alpha: float | None = None,
    threshold: float | None = None,
) -> DriftResult:
    """Drift of one column from its reference profile to its current profile.

    ``method`` defaults to ``"ks"`` for numeric and ``"chi_square"`` for categorical
    profiles; numeric columns also accept ``"psi"``, ``"wasserstein"``, ``"jensenshannon"``,
    categorical ones ``"psi"`` and ``"jensenshannon"``. ``alpha`` and ``threshold`` (the
    minimum effect) override :data:`accuguard.stats.drift.DEFAULTS`; the verdict rule is
    :func:`~accuguard.stats.drift.drift_verdict`. ``detail`` always holds, for numeric
    columns, ``ks``, ``ks_p_value``, ``psi``, ``wasserstein_normed``, ``jensenshannon`` and
    ``approximate`` (1.0 when a sketch was used, with ``ks_error_bound``); for categorical
    ones ``chi_square``, ``chi_square_p_value``, ``cramers_v``, ``psi``, ``jensenshannon``.
    Exact profiles give exact statistics (KS equal to ``scipy.stats.ks_2samp``). A side
    without any finite value gives NaN statistics and ``drifted=False``.

    >>> ref = profile_column(pa.array(np.arange(1000.0)), "numeric")
    >>> cur = profile_column(pa.array(np.arange(1000.0) + 300), "numeric")
    >>> r = drift_between(ref, cur)
    >>> (r.method, round(r.statistic, 3), r.drifted)
    ('ks', 0.3, True)
    """
    if isinstance(ref, NumericColumnProfile) and isinstance(cur, NumericColumnProfile):
        chosen = method or "ks"
        if chosen not in NUMERIC_METHODS:
            raise ValueError(
                f"method for a numeric column must be one of {list(NUMERIC_METHODS)}"
                f"; got {chosen!r}"
            )
        return _numeric_drift(ref, cur, chosen, alpha, threshold)
    if isinstance(ref, CategoricalColumnProfile) and isinstance(cur, CategoricalColumnProfile):
        chosen = method or "chi_square"
        if chosen not in CATEGORICAL_METHODS:
            raise ValueError(
                f"method for a categorical column must be one of "
                f"{list(CATEGORICAL_METHODS)}; got {chosen!r}"
            )
        return _categorical_drift(ref, cur, chosen, alpha, threshold)
    raise ValueError(
        f"ref and cur must be profiles of the same kind; got "
        f"{type(ref).__name__} and {type(cur).__name__}"
    )


def _numeric_quality(
    ref: NumericColumnProfile,
    cur: NumericColumnProfile,
    bounds: tuple[float | None, float | None] | None,
) -> dict[str, float]:
    if bounds is None:
        lo, hi = ref.min, ref.max
    else:
        if len(bounds) != 2:
            raise ValueError(f"bounds must be (low, high); got {bounds!r}")
        lo = -math.inf if bounds[0] is None else float(bounds[0])
        hi = math.inf if bounds[1] is None else float(bounds[1])
        if lo > hi:
            raise ValueError(f"bounds must have low <= high; got {bounds!r}")
    present = cur.count + cur.infs
    if math.isnan(lo) or math.isnan(hi):
        outside = math.nan
    else:
        outside = float(
            cur.count_outside(lo, hi)
            + (cur.pos_inf if hi < math.inf else 0)
            + (cur.neg_inf if lo > -math.inf else 0)
        )
    return {
        "rows_reference": float(ref.rows),
        "rows_current": float(cur.rows),
        "nulls_reference": float(ref.missing),
        "nulls_current": float(cur.missing),
        "null_share_reference": quality.null_share(ref.missing, ref.rows),
        "null_share": quality.null_share(cur.missing, cur.rows),
        "nan_share": quality.null_share(cur.nans, cur.rows),
        "inf_share": quality.null_share(cur.infs, cur.rows),
        "out_of_range": outside,
        "out_of_range_share": math.nan
        if math.isnan(outside)
        else quality.out_of_range_share(int(outside), present),
        "lower_bound": lo,
        "upper_bound": hi,
        "constant_reference": float(quality.is_constant_numeric(ref.min, ref.max, ref.count)),
        "constant": float(quality.is_constant_numeric(cur.min, cur.max, cur.count)),
    }


def _categorical_quality(
    ref: CategoricalColumnProfile, cur: CategoricalColumnProfile
) -> dict[str, float]:
    unseen = quality.unseen_categories(ref.counts, cur.counts)
    return {
        "rows_reference": float(ref.rows),
        "rows_current": float(cur.rows),
        "nulls_reference": float(ref.nulls),
        "nulls_current": float(cur.nulls),
        "null_share_reference": quality.null_share(ref.nulls, ref.rows),
        "null_share": quality.null_share(cur.nulls, cur.rows),
        "unseen_categories": float(len(unseen)),
        "unseen_category_share": quality.unseen_category_share(ref.counts, cur.counts),
        "constant_reference": float(quality.is_constant(ref.distinct)),
        "constant": float(quality.is_constant(cur.distinct)),
    }


def quality_between(
    ref: ColumnProfile, cur: ColumnProfile, bounds: tuple[float | None, float | None] | None = None
) -> dict[str, float]:
    """Data-quality figures of the current column, judged against the reference.

    Both kinds: ``rows_reference``, ``rows_current``, ``nulls_reference``, ``nulls_current``,
    ``null_share_reference``, ``null_share`` (nulls, and NaN for numbers, over rows),
    ``constant_reference``, ``constant`` (1.0 when exactly one distinct finite value /
    category). Numeric: ``nan_share``, ``inf_share``, ``out_of_range`` and
    ``out_of_range_share`` (share of non-NaN current values outside ``[lower_bound,
    upper_bound]``: ``bounds`` when given, a ``None`` side being unbounded, else the
    reference's finite ``[min, max]``; ±inf count as outside a finite bound). Categorical:
    ``unseen_categories`` and ``unseen_category_share`` (share of current non-null values
    whose category the reference never saw). Undefined shares are NaN. ``bounds`` on a
    categorical column is a ``ValueError``.

    >>> ref = profile_column(pa.array([1.0, 2.0, 3.0]), "numeric")
    >>> cur = profile_column(pa.array([2.0, 5.0, None, float("inf")]), "numeric")
    >>> q = quality_between(ref, cur)
    >>> (q["null_share"], q["out_of_range"], round(q["out_of_range_share"], 4))
    (0.25, 2.0, 0.6667)
    """
    if isinstance(ref, NumericColumnProfile) and isinstance(cur, NumericColumnProfile):
        return _numeric_quality(ref, cur, bounds)
    if isinstance(ref, CategoricalColumnProfile) and isinstance(cur, CategoricalColumnProfile):
        if bounds is not None:
            raise ValueError(
                f"bounds apply to numeric columns only; got {bounds!r} for a categorical column"
            )
        return _categorical_quality(ref, cur)
    raise ValueError(
        f"ref and cur must be profiles of the same kind; got "
        f"{type(ref).__name__} and {type(cur).__name__}"
    )
