"""Data-quality statistics: pure functions over counts.

Every share is ``part / whole`` and NaN when ``whole`` is 0 (nothing to judge), never a
crash. The checks follow the usual data-validation vocabulary (Breck et al. 2019, *Data
Validation for Machine Learning*; Great Expectations' and Evidently's column tests):
missing values, values outside the expected range, categories never seen in training,
duplicate rows, and constant columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = [
    "duplicate_share",
    "is_constant",
    "is_constant_numeric",
    "null_share",
    "out_of_range_share",
    "share",
    "unseen_categories",
    "unseen_category_share",
]


def share(part: float, whole: float) -> float:
    """``part / whole`` for counts with ``0 <= part <= whole``; NaN when ``whole == 0``.

    >>> share(1, 4)
    0.25
    >>> share(0, 0)
    nan
    """
    if part < 0 or whole < 0:
        raise ValueError(f"part and whole must be >= 0; got part={part}, whole={whole}")
    if part > whole:
        raise ValueError(f"part must be <= whole; got part={part}, whole={whole}")
    return math.nan if whole == 0 else part / whole


def null_share(missing: int, rows: int) -> float:
    """Share of missing entries: ``missing / rows`` (nulls, plus NaN for numbers); NaN if no rows.

    >>> null_share(5, 100)
    0.05
    """
    return share(missing, rows)


def out_of_range_share(outside: int, present: int) -> float:
    """Share of present (non-missing) values outside the expected range: ``outside / present``.

    The range is the reference's ``[min, max]`` or configured bounds; NaN if nothing present.

    >>> out_of_range_share(3, 60)
    0.05
    """
    return share(outside, present)


def unseen_categories(ref_counts: Mapping[str, int], cur_counts: Mapping[str, int]) -> list[str]:
    """Current categories (with a positive count) the reference never saw, sorted.

    >>> unseen_categories({"a": 3, "b": 0}, {"a": 1, "b": 2, "c": 1})
    ['b', 'c']
    """
    return sorted(k for k, v in cur_counts.items() if v > 0 and ref_counts.get(k, 0) <= 0)


def unseen_category_share(ref_counts: Mapping[str, int], cur_counts: Mapping[str, int]) -> float:
    """Share of current values whose category is unseen in the reference:
    ``sum(cur[k] for unseen k) / sum(cur)``; NaN when the current side is empty.

    >>> unseen_category_share({"a": 3}, {"a": 3, "c": 1})
    0.25
    """
    total = sum(v for v in cur_counts.values())
    unseen = sum(cur_counts[k] for k in unseen_categories(ref_counts, cur_counts))
    return share(unseen, total)


def duplicate_share(duplicates: int, rows: int) -> float:
    """Share of rows that repeat an earlier row: ``duplicates / rows`` (NaN if no rows).

    ``duplicates = rows - distinct rows``, pandas' ``DataFrame.duplicated().sum()``.

    >>> duplicate_share(2, 10)
    0.2
    """
    return share(duplicates, rows)


def is_constant(distinct: int) -> bool:
    """True when a column has exactly one distinct (non-missing) value.

    An empty or all-missing column (0 distinct) is not called constant: it is a missing-value
    problem, reported by :func:`null_share`.

    >>> (is_constant(1), is_constant(0), is_constant(3))
    (True, False, False)
    """
    if distinct < 0:
        raise ValueError(f"distinct must be >= 0; got {distinct}")
    return distinct == 1


def is_constant_numeric(minimum: float, maximum: float, count: int) -> bool:
    """True when ``count > 0`` finite values all equal (``minimum == maximum``).

    >>> is_constant_numeric(2.0, 2.0, 10)
    True
    """
    return count > 0 and minimum == maximum
