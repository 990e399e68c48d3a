"""Drift per feature over time: PSI of each time bucket against a baseline.

The counts come from SQL (:func:`~accuguard.dashboard.queries.numeric_histograms`,
:func:`~accuguard.dashboard.queries.category_counts`); only the small per-bucket
histograms reach Python. The baseline is the monitor's reference profile of the
deployment when ``accuguard serve`` runs a monitor on it (docs/monitoring.md), else the
whole displayed range (then the chart shows how each bucket departs from the range's
overall distribution). Numeric features use the baseline's deciles as bin edges, so
each bin holds a tenth of the baseline.

PSI is :func:`accuguard.stats.distances.psi` (``Σ (c - r) ln(c / r)``; < 0.1 no
significant change, 0.1-0.25 moderate, > 0.25 major).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from accuguard.dashboard import queries, rollup_queries
from accuguard.profile.columns import CategoricalColumnProfile, ColumnProfile, NumericColumnProfile
from accuguard.stats.distances import counts_to_fractions, psi
from accuguard.store.rollups import feature_bins

DECILES = np.linspace(0.1, 0.9, 9)
MAX_CATEGORIES = 30
#: buckets with fewer rows get no PSI point (PSI of a handful of rows is mostly noise)
MIN_ROWS = 30


@dataclass
class FeatureDrift:
    """One feature: PSI per bucket, the last bucket's PSI and the range's distribution."""

    name: str
    kind: str  # numeric | categorical
    series: list[tuple[float, float]] = field(default_factory=list)
    overall_psi: float | None = None
    distribution: dict[str, Any] = field(default_factory=dict)  # for report.plots


def _psi(ref: list[float], cur: list[float], min_rows: int = MIN_ROWS) -> float | None:
    if sum(ref) <= 0 or sum(cur) < max(min_rows, 1):
        return None
    return psi(counts_to_fractions(ref), counts_to_fractions(cur))


def reference_edges(profile: NumericColumnProfile) -> list[float]:
    """The inner bin edges of a numeric feature against a reference: its deciles."""
    return sorted({float(e) for e in profile.quantiles(DECILES) if np.isfinite(e)})


def _reference_bins(profile: NumericColumnProfile, edges: list[float]) -> list[float]:
    below = profile.rank(np.asarray(edges, dtype=np.float64), inclusive=False)
    cuts = [0.0, *(float(b) for b in below), float(profile.count)]
    return [max(0.0, b - a) for a, b in itertools.pairwise(cuts)]


def _numeric(
    conn: Connection,
    deployment: str,
    name: str,
    profile: ColumnProfile | None,
    since: float,
    until: float,
    width: int,
    rollups: bool = False,
) -> FeatureDrift | None:
    stored = feature_bins(conn, deployment, name) if rollups else None
    histograms = queries.numeric_histograms
    if stored is not None and stored.kind == "numeric":
        edges, histograms = stored.edges, rollup_queries.numeric_histograms
    elif isinstance(profile, NumericColumnProfile) and profile.count > 0:
        edges = reference_edges(profile)
    else:
        found = queries.numeric_range(conn, deployment, name, since, until)
        if found is None:
            return None
        lo, hi = found
        edges = sorted({float(e) for e in np.linspace(lo, hi, 11)[1:-1]}) if hi > lo else []
    per_bucket = histograms(conn, deployment, name, edges, since, until, width)
    if not per_bucket:
        return None
    overall = [float(sum(c[i] for c in per_bucket.values())) for i in range(len(edges) + 1)]
    if isinstance(profile, NumericColumnProfile) and profile.count > 0:
        ref = _reference_bins(profile, edges)
    else:
        ref = overall
    out = FeatureDrift(name, "numeric")
    out.series = [
        (b, p)
        for b in sorted(per_bucket)
        if (p := _psi(ref, [float(c) for c in per_bucket[b]])) is not None
    ]
    out.overall_psi = _psi(ref, overall) if ref is not overall else None
    if edges:  # finite plotting edges: extend the outer bins by one inner bin's width
        step = (edges[-1] - edges[0]) / max(1, len(edges) - 1) or 1.0
        plot_edges = [edges[0] - step, *edges, edges[-1] + step]
        out.distribution = {"edges": plot_edges, "reference": ref, "current": overall}
    return out


def _categorical(
    conn: Connection,
    deployment: str,
    name: str,
    profile: ColumnProfile | None,
    since: float,
    until: float,
    width: int,
    rollups: bool = False,
) -> FeatureDrift | None:
    stored = feature_bins(conn, deployment, name) if rollups else None
    fast = stored is not None and stored.kind == "categorical"
    counts_of = rollup_queries.category_counts if fast else queries.category_counts
    per_bucket = counts_of(conn, deployment, name, since, until, width)
    if not per_bucket:
        return None
    overall: dict[str, int] = {}
    for counts in per_bucket.values():
        for k, v in counts.items():
            overall[k] = overall.get(k, 0) + v
    has_ref = isinstance(profile, CategoricalColumnProfile)
    ref_counts = profile.counts if isinstance(profile, CategoricalColumnProfile) else overall
    cats = sorted(set(ref_counts) | set(overall), key=lambda k: -ref_counts.get(k, 0))
    cats = cats[:MAX_CATEGORIES]
    ref = [float(ref_counts.get(k, 0)) for k in cats]
    out = FeatureDrift(name, "categorical")
    out.series = [
        (b, p)
        for b in sorted(per_bucket)
        if (p := _psi(ref, [float(per_bucket[b].get(k, 0)) for k in cats])) is not None
    ]
    cur = [float(overall.get(k, 0)) for k in cats]
    out.overall_psi = _psi(ref, cur) if has_ref else None
    out.distribution = {"categories": cats, "reference": ref, "current": cur}
    return out


def feature_drift(
    conn: Connection,
    deployment: str,
    features: Mapping[str, str],
    reference: Mapping[str, ColumnProfile] | None,
    since: float,
    until: float,
    width: int,
    *,
    rollups: bool = False,
) -> list[FeatureDrift]:
    """PSI per bucket of each feature (``{name: "numeric" | "categorical"}``), most drifted
    first: by PSI over the whole range against the reference, else (no reference) by the
    last bucket's PSI. Features never sent are left out.

    With ``rollups``, a feature rolled up by :func:`accuguard.store.rollups.refresh_rollups`
    is read from its hourly rollup, and a numeric one is binned on its stored edges (the
    reference's deciles when the refresh was given them) instead of this call's."""
    out: list[FeatureDrift] = []
    for name, kind in features.items():
        profile = None if reference is None else reference.get(name)
        build = _numeric if kind == "numeric" else _categorical
        found = build(conn, deployment, name, profile, since, until, width, rollups)
        if found is not None:
            out.append(found)
    out.sort(key=_drift_key)
    return out


def _drift_key(feature: FeatureDrift) -> float:
    if feature.overall_psi is not None:
        return -feature.overall_psi
    return -(feature.series[-1][1] if feature.series else 0.0)
