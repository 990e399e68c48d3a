"""A mergeable quantile sketch: Apache DataSketches' KLL sketch behind a frozen value type.

Used by :class:`~accuguard.profile.columns.NumericColumnProfile` once a column has more
values than its exact limit. KLL (Karnin, Lang & Liberty 2016, *Optimal Quantile
Approximation in Streams*) keeps ``O(k)`` values; with ``k = 4096`` about 12,000 doubles
(~100 KB) whatever the stream length, and its normalized rank error is about 0.07 %
(``kll_doubles_sketch.normalized_rank_error(False)``; a 99th-percentile bound on the
largest CDF error over all points, measured by the DataSketches authors). Sketches merge
by addition with the same guarantee, so chunk and shard order do not matter beyond that
error. KLL compaction is randomised: two runs on the same data can differ within the bound.

Requires the ``datasketches`` package (PyPI); it is imported when a sketch is first made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
DEFAULT_K = 4096


def _kll_class() -> Any:
    try:
        from datasketches import kll_doubles_sketch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "columns with more values than exact_limit need the 'datasketches' package: "
            "pip install datasketches"
        ) from exc
    return kll_doubles_sketch


@dataclass(frozen=True, eq=False)
class QuantileSketch:
    """An immutable KLL sketch of float64 values; ``a + b`` merges into a new sketch.

    Satisfies :class:`accuguard.stats.drift.QuantileSummary` (``n``, ``rank_error``,
    ``items()``), so :func:`~accuguard.stats.drift.ks_from_sketches` accepts it.

    >>> s = QuantileSketch.from_array(np.arange(1000.0)) + QuantileSketch.from_array(np.ones(10))
    >>> (s.n, s.rank_error)
    (1010, 0.0)
    """

    kll: Any
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_array(cls, values: FloatArray, k: int = DEFAULT_K) -> QuantileSketch:
        """Sketch the finite float64 ``values`` (the caller drops NaN and infinities).

        ``k`` (8 to 65535) trades size for accuracy; error ~ 1.65 / k ** 0.97.
        """
        if not 8 <= k <= 65535:
            raise ValueError(f"k must be in [8, 65535]; got {k}")
        kll = _kll_class()(k)
        arr = np.ascontiguousarray(values, dtype=np.float64)
        if arr.size:
            kll.update(arr)
        return cls(kll)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle as KLL's compact serialization (for shards sent between processes)."""
        return {"kll": bytes(self.kll.serialize())}

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "kll", _kll_class().deserialize(state["kll"]))
        object.__setattr__(self, "_cache", {})

    def _copy(self) -> Any:
        return _kll_class().deserialize(self.kll.serialize())

    def updated(self, *chunks: FloatArray) -> QuantileSketch:
        """A new sketch with the values of ``chunks`` added (this one is unchanged)."""
        kll = self._copy()
        for chunk in chunks:
            arr = np.ascontiguousarray(chunk, dtype=np.float64)
            if arr.size:
                kll.update(arr)
        return QuantileSketch(kll)

    def __add__(self, other: QuantileSketch) -> QuantileSketch:
        kll = self._copy()
        kll.merge(other.kll)
        return QuantileSketch(kll)

    @property
    def n(self) -> int:
        """Number of values summarised."""
        return int(self.kll.n)

    @property
    def k(self) -> int:
        """The accuracy parameter."""
        return int(self.kll.k)

    @property
    def rank_error(self) -> float:
        """Bound on ``|F_hat(x) - F(x)|`` for all x: 0 while every value is kept, else KLL's
        99 % single-sided normalized rank error."""
        if not self.kll.is_estimation_mode():
            return 0.0
        return float(self.kll.normalized_rank_error(False))

    def items(self) -> tuple[FloatArray, FloatArray]:
        """Retained values in ascending order and their weights (summing to ``n``)."""
        cached = self._cache.get("items")
        if cached is None:
            pairs = np.array(list(self.kll), dtype=np.float64).reshape(-1, 2)
            order = np.argsort(pairs[:, 0], kind="stable")
            cached = (np.ascontiguousarray(pairs[order, 0]), np.ascontiguousarray(pairs[order, 1]))
            self._cache["items"] = cached
        values: FloatArray = cached[0]
        weights: FloatArray = cached[1]
        return values, weights

    def rank(self, points: FloatArray, inclusive: bool = True) -> FloatArray:
        """Estimated number of values ``<= points`` (``< points`` when not ``inclusive``)."""
        values, weights = self.items()
        cum = np.concatenate([[0.0], np.cumsum(weights)])
        pts = np.asarray(points, np.float64)
        idx = np.searchsorted(values, pts, side="right" if inclusive else "left")
        out: FloatArray = cum[idx]
        return out

    def quantiles(self, qs: FloatArray) -> FloatArray:
        """Estimated quantiles: for each q the smallest retained value whose inclusive
        normalized rank is >= q; NaN for an empty sketch."""
        q = np.asarray(qs, dtype=np.float64)
        if self.n == 0:
            return np.full(q.shape, math.nan)
        values, weights = self.items()
        cum = np.cumsum(weights)
        idx = np.minimum(np.searchsorted(cum, q * self.n, side="left"), values.size - 1)
        out: FloatArray = values[idx]
        return out
