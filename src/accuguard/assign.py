"""Deterministic assignment of units (users, sessions, requests) to experiment variants.

The hash (the *assignment spec*, version 1; other languages reproduce it exactly):

    digest = SHA-256(UTF-8(salt + ":" + unit_id))
    bucket = int.from_bytes(digest[:8], "big") % 10000

so a unit always lands in the same bucket in ``[0, 10000)`` for the same salt, in
every process, replica and language; Python's ``hash()`` is never used (it is salted
per process). The modulo bias is below ``10000 / 2**64 ≈ 5e-16``.

A :class:`Split` turns weights into contiguous bucket ranges: with weights
``w_1..w_k`` and ``W = Σ w``, variant ``i`` owns buckets ``[b_{i-1}, b_i)`` where
``b_i = round(10000 · (w_1 + ... + w_i) / W)`` (``b_0 = 0``, Python's ``round``,
half to even). A variant with weight 0 owns no bucket.

Independent experiments use different salts (e.g. the experiment's name), so their
assignments are independent. Mutually exclusive experiments share a :class:`Layer`:
the layer hashes the unit with *its* salt and each experiment owns a disjoint range
of the layer's buckets; inside its range an experiment assigns variants with its
own salt, so the variant does not depend on the layer bucket.

Test vectors (``bucket(salt, unit_id)``) are in ``docs/experiments.md`` and in the
tests.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

BUCKETS = 10_000
"""Number of buckets; a bucket is 0.01 % of traffic."""

SPEC_VERSION = 1
"""Version of the assignment hash spec above; it changes only with a new hash."""

Weights = Mapping[str, float] | Sequence[tuple[str, float]]


def bucket(salt: str, unit_id: str) -> int:
    """Bucket in ``[0, 10000)`` of ``unit_id`` under ``salt`` (spec in the module docstring).

    >>> bucket("exp-2024-checkout", "user-1")
    4167
    """
    if not isinstance(salt, str):
        raise TypeError(f"salt must be a str, got {type(salt).__name__}")
    if not isinstance(unit_id, str):
        raise TypeError(f"unit_id must be a str, got {type(unit_id).__name__}")
    digest = hashlib.sha256(f"{salt}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def buckets(salt: str, unit_ids: Iterable[str]) -> npt.NDArray[np.int64]:
    """:func:`bucket` for many units at once (about 1 µs per id on one core).

    >>> buckets("exp-2024-checkout", ["user-1", "user-2"]).tolist()
    [4167, 2620]
    """
    prefix = f"{salt}:".encode()
    sha = hashlib.sha256
    heads = b"".join(sha(prefix + str(u).encode()).digest()[:8] for u in unit_ids)
    return (np.frombuffer(heads, dtype=">u8") % BUCKETS).astype(np.int64)


@dataclass(frozen=True)
class Split:
    """Variants and the cumulative upper bucket bound of each (see module docstring).

    Build it once with :meth:`from_weights` and reuse it: :meth:`variant` is a
    binary search over at most a handful of bounds.

    >>> s = Split.from_weights({"control": 50, "treatment": 50})
    >>> s.bounds, s.variant(4999), s.variant(5000)
    ((5000, 10000), 'control', 'treatment')
    """

    variants: tuple[str, ...]
    bounds: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.variants) != len(self.bounds) or not self.variants:
            raise ValueError("a split needs one bound per variant and at least one variant")
        if len(set(self.variants)) != len(self.variants):
            raise ValueError(f"variant names must be unique, got {list(self.variants)!r}")
        if (
            list(self.bounds) != sorted(self.bounds)
            or self.bounds[-1] != BUCKETS
            or (self.bounds[0] < 0)
        ):
            raise ValueError(
                f"bounds must be non-decreasing and end at {BUCKETS}, got {list(self.bounds)!r}"
            )

    @classmethod
    def from_weights(cls, weights: Weights) -> Split:
        """Split from ``{variant: weight}`` or ``[(variant, weight), ...]`` (order kept).

        Weights are finite and ``>= 0`` with a positive sum; they need not sum to 1.
        """
        items = list(weights.items()) if isinstance(weights, Mapping) else list(weights)
        if not items:
            raise ValueError("weights must name at least one variant, got none")
        names: list[str] = []
        values: list[float] = []
        for item in items:
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise ValueError(f"weights must be (variant, weight) pairs, got {item!r}")
            name, w = item
            if not isinstance(name, str) or not name:
                raise ValueError(f"variant names must be non-empty strings, got {name!r}")
            if (
                isinstance(w, bool)
                or not isinstance(w, int | float)
                or not (w >= 0 and w != float("inf"))
            ):
                raise ValueError(f"weight of {name!r} must be a finite number >= 0, got {w!r}")
            names.append(name)
            values.append(float(w))
        total = sum(values)
        if total <= 0:
            given = dict(zip(names, values, strict=True))
            raise ValueError(f"weights must have a positive sum, got {given!r}")
        bounds, acc = [], 0.0
        for w in values:
            acc += w
            bounds.append(round(BUCKETS * acc / total))
        bounds[-1] = BUCKETS
        return cls(tuple(names), tuple(bounds))

    def variant(self, bucket_: int) -> str:
        """Variant owning ``bucket_`` (``0 <= bucket_ < 10000``)."""
        if not 0 <= bucket_ < BUCKETS:
            raise ValueError(f"bucket must be in [0, {BUCKETS}), got {bucket_!r}")
        return self.variants[bisect.bisect_right(self.bounds, bucket_)]

    def variants_for(self, bucket_array: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """Vectorised :meth:`variant` over an array of buckets."""
        idx = np.searchsorted(np.asarray(self.bounds), np.asarray(bucket_array), side="right")
        return np.asarray(self.variants)[idx]

    def shares(self) -> dict[str, float]:
        """Share of buckets (traffic) of each variant after rounding."""
        lows = (0, *self.bounds[:-1])
        spans = zip(self.variants, lows, self.bounds, strict=True)
        return {v: (hi - lo) / BUCKETS for v, lo, hi in spans}


@lru_cache(maxsize=256)
def _split(items: tuple[tuple[str, float], ...]) -> Split:
    return Split.from_weights(items)


def assign(salt: str, unit_id: str, weights: Weights | Split) -> str:
    """Variant of ``unit_id``: ``Split.from_weights(weights).variant(bucket(salt, unit_id))``.

    Sticky (same inputs, same variant, in any process) and cheap: splits built from
    weights are cached; pass a :class:`Split` to skip even that.

    >>> assign("exp-2024-checkout", "user-1", {"control": 0.5, "treatment": 0.5})
    'control'
    >>> assign("exp-2024-checkout", "user-5", [("control", 1), ("treatment", 1)])
    'treatment'
    """
    if isinstance(weights, Split):
        split = weights
    else:
        items = weights.items() if isinstance(weights, Mapping) else weights
        try:
            split = _split(tuple((k, w) for k, w in items))
        except TypeError as exc:  # unhashable or not pairs
            raise ValueError(f"weights must be (variant, weight) pairs, got {weights!r}") from exc
    return split.variant(bucket(salt, unit_id))


class Assignment(NamedTuple):
    """Result of :meth:`Layer.assign`: experiment, variant and the two buckets."""

    experiment: str
    variant: str
    layer_bucket: int
    bucket: int


@dataclass(frozen=True)
class Allocation:
    """An experiment owning layer buckets ``[start, stop)``; variants by its own salt."""

    experiment: str
    start: int
    stop: int
    split: Split
    salt: str

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.stop <= BUCKETS:
            raise ValueError(
                f"experiment {self.experiment!r}: bucket range must satisfy "
                f"0 <= start < stop <= {BUCKETS}, got [{self.start}, {self.stop})"
            )


@dataclass(frozen=True)
class Layer:
    """A namespace of mutually exclusive experiments: each unit is in at most one.

    >>> layer = (Layer("checkout-layer")
    ...          .with_experiment("new-ranker", 0, 5000, {"control": 1, "treatment": 1})
    ...          .with_experiment("new-price", 5000, 8000, {"a": 1, "b": 1}))
    >>> layer.assign("user-1")
    Assignment(experiment='new-ranker', variant='treatment', layer_bucket=3921, bucket=9248)
    >>> layer.assign("user-13")
    Assignment(experiment='new-price', variant='b', layer_bucket=5084, bucket=6355)
    >>> layer.assign("user-2") is None  # layer buckets 8000-9999 are free
    True
    """

    salt: str
    allocations: tuple[Allocation, ...] = ()
    _sorted: tuple[Allocation, ...] = field(init=False, repr=False, compare=False)
    _starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [a.experiment for a in self.allocations]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment names in a layer must be unique, got {names!r}")
        spans = sorted(self.allocations, key=lambda a: a.start)
        for left, right in itertools.pairwise(spans):
            if right.start < left.stop:
                raise ValueError(
                    f"experiments {left.experiment!r} [{left.start}, {left.stop}) and "
                    f"{right.experiment!r} [{right.start}, {right.stop}) overlap in layer "
                    f"{self.salt!r}"
                )
        object.__setattr__(self, "_sorted", tuple(spans))
        object.__setattr__(self, "_starts", tuple(a.start for a in spans))

    def with_experiment(
        self,
        experiment: str,
        start: int,
        stop: int,
        weights: Weights | Split,
        salt: str | None = None,
    ) -> Layer:
        """A new layer with ``experiment`` owning layer buckets ``[start, stop)``.

        ``salt`` defaults to ``f"{layer salt}/{experiment}"``.
        """
        split = weights if isinstance(weights, Split) else Split.from_weights(weights)
        alloc = Allocation(
            experiment,
            start,
            stop,
            split,
            salt if salt is not None else f"{self.salt}/{experiment}",
        )
        return Layer(self.salt, (*self.allocations, alloc))

    def experiment_for(self, layer_bucket: int) -> Allocation | None:
        """The allocation owning ``layer_bucket``, or ``None`` (unallocated traffic)."""
        spans = self._sorted
        i = bisect.bisect_right(self._starts, layer_bucket) - 1
        if i >= 0 and spans[i].start <= layer_bucket < spans[i].stop:
            return spans[i]
        return None

    def assign(self, unit_id: str) -> Assignment | None:
        """Experiment and variant of ``unit_id`` in this layer, or ``None`` if in none."""
        lb = bucket(self.salt, unit_id)
        alloc = self.experiment_for(lb)
        if alloc is None:
            return None
        b = bucket(alloc.salt, unit_id)
        return Assignment(alloc.experiment, alloc.split.variant(b), lb, b)
