"""Evidence: what the event log says about a champion and a challenger over a window.

:func:`collect_evidence` reads one time window ``[start, end)`` of one deployment:

- SQL aggregates for everything, so memory stays bounded for a window of any size:
  counts (requests, errors, units per variant), business metrics (per unit sums, then
  per arm count / sum / sum of squares), ``(label, output)`` contingency counts of
  labelled rows (predictions joined with feedback on ``request_id``, grouped in SQL),
  and latencies and scores as :class:`~accuguard.rollout.sample.OrderStatistics` (size,
  mean, exact values at the ranks the summary and the latency gate read) plus the KS
  statistic between the arms' scores (:mod:`accuguard.rollout.aggregates`);
- the ``features`` JSON only when a reference profile is given (input drift), and then
  a systematic sample of at most :data:`INPUT_SAMPLE_ROWS` rows spread over the window
  (every k-th served row in time order, chosen in SQL).

Labels count when they arrived before ``end`` (``feedback.created_at < end``), so the
evidence of a past window can be recomputed exactly. Shadow challengers are paired with
the champion on ``request_id``; canary arms are independent samples.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy.engine import Connection, Engine

from accuguard.profile.columns import ColumnProfile
from accuguard.rollout import queries as q
from accuguard.rollout import streamed as s
from accuguard.rollout.aggregates import distributions
from accuguard.rollout.queries import CHAMPION_VARIANT, label_key, load_reference_profile
from accuguard.rollout.sample import OrderStatistics
from accuguard.stats.drift import ks_pvalue

__all__ = [
    "CHAMPION_VARIANT",
    "INPUT_SAMPLE_ROWS",
    "ArmEvidence",
    "BusinessArm",
    "Evidence",
    "PairedEvidence",
    "Window",
    "collect_evidence",
    "label_key",
    "load_reference_profile",
]

FloatArray = npt.NDArray[np.float64]
INPUT_SAMPLE_ROWS = 10_000
"""At most this many rows' ``features`` are read for input drift (a systematic sample)."""


@dataclass(frozen=True)
class Window:
    """The data window of one rollout step: ``created_at`` in ``[start, end)``."""

    deployment: str
    champion_version: str
    challenger_variant: str
    challenger_version: str
    start: float
    end: float

    def to_dict(self) -> dict[str, Any]:
        """The window as plain JSON values."""
        return asdict(self)


@dataclass
class ArmEvidence:
    """One variant over the window.

    ``requests``: rows of the variant; ``errors``: rows whose challenger call failed;
    ``units``: distinct unit hashes; ``latencies_ms`` and ``scores``: order statistics
    of the finite values (scores of answered, labelled or not, rows; ``.size`` is their
    number, ``numpy.asarray`` the sorted values when all are held); ``labelled``: counts
    of ``(label, output)`` over answered rows that have a label.
    """

    variant: str
    requests: int = 0
    errors: int = 0
    units: int = 0
    latencies_ms: OrderStatistics = field(default_factory=OrderStatistics.empty)
    scores: OrderStatistics = field(default_factory=OrderStatistics.empty)
    labelled: Counter[tuple[Hashable, Hashable]] = field(default_factory=Counter)

    @property
    def labels(self) -> int:
        """Number of labelled rows."""
        return sum(self.labelled.values())

    def to_dict(self) -> dict[str, Any]:
        """Counts and summaries (no raw arrays)."""
        return {
            "variant": self.variant,
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": _ratio(self.errors, self.requests),
            "units": self.units,
            "labels": self.labels,
            "latency_ms": _summary(self.latencies_ms),
            "score": _summary(self.scores),
        }


@dataclass
class PairedEvidence:
    """Shadow: requests answered by both the champion and the challenger.

    ``labelled`` counts ``(label, champion output, challenger output)`` of labelled pairs.
    """

    pairs: int = 0
    disagreements: int = 0
    labelled: Counter[tuple[Hashable, Hashable, Hashable]] = field(default_factory=Counter)

    @property
    def labels(self) -> int:
        """Number of labelled pairs."""
        return sum(self.labelled.values())

    def to_dict(self) -> dict[str, Any]:
        """Counts as plain JSON values."""
        return {
            "pairs": self.pairs,
            "disagreements": self.disagreements,
            "disagreement_rate": _ratio(self.disagreements, self.pairs),
            "labels": self.labels,
        }


@dataclass(frozen=True)
class BusinessArm:
    """One event name in one arm: exposed units, units with the event, per-unit sums."""

    units: int
    converted: int
    total: float
    total_sq: float

    def to_dict(self) -> dict[str, Any]:
        """Counts and the per-unit mean."""
        return {
            "units": self.units,
            "converted": self.converted,
            "conversion": _ratio(self.converted, self.units),
            "mean": _finite(self.total / self.units) if self.units else None,
        }


@dataclass
class Evidence:
    """Everything a gate needs about one window (see the module docstring)."""

    window: Window
    mode: Literal["shadow", "canary"] | None
    champion: ArmEvidence
    challenger: ArmEvidence
    paired: PairedEvidence | None = None
    exposed_units: dict[str, int] = field(default_factory=dict)
    business: dict[str, dict[str, BusinessArm]] = field(default_factory=dict)
    reference_profile: Mapping[str, ColumnProfile] | None = None
    input_profiles: dict[str, ColumnProfile] = field(default_factory=dict)
    input_rows: int = 0
    score_ks: float | None = None
    collected_at: float = field(default_factory=time.time)

    @property
    def requests(self) -> int:
        """Challenger requests in the window (what ``min_requests`` counts)."""
        return self.challenger.requests

    @property
    def labels(self) -> int:
        """Labelled challenger rows, or labelled pairs in shadow (``min_labels``)."""
        return self.paired.labels if self.paired is not None else self.challenger.labels

    def prediction_ks(self) -> tuple[float, float] | None:
        """KS statistic and p-value of challenger vs champion scores (None if one is empty).

        ``score_ks`` is ``sup |F_champion - F_challenger|`` computed in SQL; the p-value
        is :func:`~accuguard.stats.drift.ks_pvalue`, as ``ks_2samp_sorted`` gives it.
        """
        if self.score_ks is None or not (self.champion.scores.size and self.challenger.scores.size):
            return None
        return ks_pvalue(self.score_ks, self.champion.scores.size, self.challenger.scores.size)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary (floats finite or ``None``) for the audit log and the CLI."""
        return {
            "window": self.window.to_dict(),
            "mode": self.mode,
            "collected_at": self.collected_at,
            "requests": self.requests,
            "labels": self.labels,
            "champion": self.champion.to_dict(),
            "challenger": self.challenger.to_dict(),
            "paired": None if self.paired is None else self.paired.to_dict(),
            "exposed_units": dict(self.exposed_units),
            "business": {
                name: {arm: stats.to_dict() for arm, stats in arms.items()}
                for name, arms in sorted(self.business.items())
            },
            "input": {
                "sampled_rows": self.input_rows,
                "sample_limit": INPUT_SAMPLE_ROWS,
                "columns": sorted(self.input_profiles),
                "reference": self.reference_profile is not None,
            },
        }


# -- collection ----------------------------------------------------------------------


def collect_evidence(
    engine: Engine,
    window: Window,
    *,
    reference_profile: Mapping[str, ColumnProfile] | None = None,
    mode: Literal["shadow", "canary"] | None = None,
    streamed: bool = False,
) -> Evidence:
    """Read the evidence of ``window`` from the event log.

    ``mode`` says how the challenger ran; ``None`` reads it from the challenger's rows
    (``shadow`` pairs it with the champion on ``request_id``). ``reference_profile``
    (column -> profile, e.g. from :func:`load_reference_profile`) turns on the input
    sample for input drift. ``streamed=True`` reads latencies, scores and labels row by
    row instead (:mod:`accuguard.rollout.streamed`, the former reader: memory grows with
    the window; kept as the tests' reference and the benchmark's baseline).
    """
    with engine.connect() as conn:
        if mode is None:
            mode = q.detect_mode(conn, window)
        champion = ArmEvidence(q.CHAMPION_VARIANT)
        challenger = ArmEvidence(window.challenger_variant)
        counts = q.counts(conn, window)
        arms = ((champion, True), (challenger, False))
        for arm, is_champion in arms:
            key = "champion" if is_champion else "challenger"
            arm.requests, arm.errors, arm.units = counts.get(key, (0, 0, 0))
        evidence = Evidence(window, mode, champion, challenger)
        if streamed:
            _read_streamed(conn, evidence)
        else:
            _read_aggregated(conn, evidence)
        if mode != "shadow":
            evidence.exposed_units, rows = q.business(conn, window)
            evidence.business = {
                name: {arm: BusinessArm(*row) for arm, row in per_arm.items()}
                for name, per_arm in rows.items()
            }
        if reference_profile is not None:
            evidence.reference_profile = reference_profile
            evidence.input_profiles, evidence.input_rows = q.input_profiles(
                conn, window, reference_profile, INPUT_SAMPLE_ROWS
            )
    return evidence


def _read_aggregated(conn: Connection, ev: Evidence) -> None:
    """Latencies, scores and labelled counts as SQL aggregates (bounded memory)."""
    window, champion, challenger = ev.window, ev.champion, ev.challenger
    lat = distributions(conn, q.latency_source(window))
    champion.latencies_ms, challenger.latencies_ms = lat.champion, lat.challenger
    if ev.mode == "shadow":
        pairs, disagreements, labelled = q.paired_counts(conn, window)
        ev.paired = PairedEvidence(pairs, disagreements, labelled)
        scores = distributions(conn, q.paired_score_source(window), ks=True)
    else:
        for arm, is_champion in ((champion, True), (challenger, False)):
            arm.labelled = q.labelled_counts(conn, window, champion=is_champion)
        scores = distributions(conn, q.score_source(window), ks=True)
    champion.scores, challenger.scores = scores.champion, scores.challenger
    ev.score_ks = scores.ks_statistic


def _read_streamed(conn: Connection, ev: Evidence) -> None:
    """The former reader: every latency, score and labelled row through Python."""
    window = ev.window
    for arm, is_champion in ((ev.champion, True), (ev.challenger, False)):
        latency = s.column_query(window, champion=is_champion, col="latency_ms")
        arm.latencies_ms = OrderStatistics.of_sorted(s.floats(conn, latency))
    if ev.mode == "shadow":
        pairs = s.paired(conn, window)
        ref, cur = pairs.champion_scores, pairs.challenger_scores
        ev.paired = PairedEvidence(pairs.pairs, pairs.disagreements, pairs.labelled)
    else:
        ref, cur = (
            s.floats(conn, s.column_query(window, champion=c, col="score")) for c in (True, False)
        )
        ev.champion.labelled = s.labelled(conn, window, champion=True)
        ev.challenger.labelled = s.labelled(conn, window, champion=False)
    ev.champion.scores, ev.challenger.scores = (
        OrderStatistics.of_sorted(ref),
        OrderStatistics.of_sorted(cur),
    )
    ev.score_ks = s.ks_statistic(ref, cur)


# -- JSON helpers --------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _summary(values: OrderStatistics) -> dict[str, Any]:
    if values.size == 0:
        return {"n": 0, "mean": None, "p50": None, "p95": None, "p99": None}
    return {
        "n": int(values.size),
        "mean": _finite(values.mean),
        "p50": _finite(values.quantile(0.5)),
        "p95": _finite(values.quantile(0.95)),
        "p99": _finite(values.quantile(0.99)),
    }
