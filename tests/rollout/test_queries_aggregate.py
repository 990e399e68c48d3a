"""The SQL-aggregate evidence equals the former row-streaming evidence, on both backends.

References are independent: ``numpy.quantile`` and the order-statistic interval on the
whole sorted array, ``scipy.stats.ks_2samp``, and the streamed reader
(:mod:`accuguard.rollout.streamed`) on the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
from scipy import stats as sps

from accuguard.rollout import queries as q
from accuguard.rollout.aggregates import distributions
from accuguard.rollout.evidence import collect_evidence
from accuguard.rollout.gates import evaluate_gate
from accuguard.rollout.plan import Step
from accuguard.rollout.sample import MAX_CONFIDENCE, OrderStatistics, held_ranges
from accuguard.stats.drift import ks_pvalue
from accuguard.stats.ecdf import ecdf_distances
from accuguard.store.migrate import upgrade
from accuguard.store.records import FeedbackRecord, PredictionRecord
from accuguard.store.repository import EventRepository
from tests.rollout.traffic_sim import (
    CHALLENGER,
    CHALLENGER_VERSION,
    CHAMPION_VERSION,
    DEPLOYMENT,
    T0,
    make_store,
    seed_canary,
    seed_shadow,
    window,
)
from tests.store.conftest import postgres_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path) -> Iterator:
    if request.param == "sqlite":
        eng = make_store(tmp_path)
        yield eng
        eng.dispose()
        return
    from accuguard.store.engine import make_engine

    with postgres_schema() as schema:  # skips without ACCUGUARD_TEST_POSTGRES_URL
        eng = make_engine(schema.url)
        upgrade(eng)
        yield eng
        eng.dispose()


def old_quantile_interval(x: np.ndarray, q: float, confidence: float):
    """The former array implementation (rollout.comparisons before the SQL aggregates)."""
    n, a = x.size, 1.0 - confidence
    r = int(sps.binom.ppf(a / 2, n, q))
    s = int(sps.binom.ppf(1 - a / 2, n, q)) + 1
    lo = float(x[r - 1]) if r >= 1 else -math.inf
    hi = float(x[s - 1]) if s <= n else math.inf
    return float(np.quantile(x, q)), lo, hi


def test_order_statistics_quantiles_are_numpy_quantile_bit_for_bit():
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 7, 100, 1001):
        x = np.sort(rng.gamma(2.0, 3.0, n))
        s = OrderStatistics.of_sorted(x)
        for qq in (0.0, 0.01, 0.25, 0.5, 0.95, 0.99, 0.999, 1.0, *rng.random(20)):
            assert s.quantile(float(qq)) == np.quantile(x, qq)


def test_held_ranges_stay_small_however_large_the_sample():
    for n in (10**5, 10**6, 10**7, 10**8):
        held = sum(hi - lo + 1 for lo, hi in held_ranges(n))
        assert held < 10 * math.sqrt(n) + 100  # ~ 2 x 4.9 sd around each of 3 quantiles
    assert held_ranges(500) == [(1, 500)]


def _seed_latencies(engine, n: int, seed: int = 5, ties: bool = False) -> tuple:
    """``n`` rows per arm with gamma latencies and scores (rounded when ``ties``)."""
    rng = np.random.default_rng(seed)
    rows, values = [], {0: ([], []), 1: ([], [])}
    for i in range(2 * n):
        arm = i % 2
        lat = float(rng.gamma(4.0, 10.0 + arm))
        score = float(rng.beta(2.0, 5.0 + arm))
        if ties:
            lat, score = round(lat), round(score, 2)
        if i % 97 == 0:
            lat, score = (math.inf, math.nan) if i % 2 else (-0.0, 0.0)
        values[arm][0].append(lat)
        values[arm][1].append(score)
        rows.append(
            PredictionRecord(
                f"q{i}",
                DEPLOYMENT,
                CHALLENGER if arm else "champion",
                "canary" if arm else "champion",
                CHALLENGER_VERSION if arm else CHAMPION_VERSION,
                f"u{i}",
                {},
                i % 2,
                score,
                lat,
                T0 + i,
            )
        )
    EventRepository(engine).insert_predictions(rows)

    def finite_sorted(v):
        a = np.asarray(v, dtype=float)
        return np.sort(a[np.isfinite(a)])

    return tuple(tuple(finite_sorted(v) for v in values[a]) for a in (0, 1))


@pytest.mark.parametrize("ties", [False, True])
def test_windowed_order_statistics_equal_the_full_sorted_array(engine, ties):
    (lat0, score0), (lat1, score1) = _seed_latencies(engine, 3000, ties=ties)
    w = window(T0, T0 + 10_000)
    with engine.connect() as conn:
        lat = distributions(conn, q.latency_source(w), full=50)
        sc = distributions(conn, q.score_source(w), ks=True, full=50)
    for got, ref in ((lat.champion, lat0), (lat.challenger, lat1), (sc.challenger, score1)):
        assert got.size == ref.size and not got.complete
        assert got.ranks.size < ref.size / 2  # only the neighbourhoods are held
        assert got.mean == pytest.approx(float(ref.mean()), rel=1e-12)
        for qq in (0.5, 0.95, 0.99):
            assert got.quantile(qq) == np.quantile(ref, qq)
        for conf in (0.8, 0.9, 0.95, 0.99, 0.999, MAX_CONFIDENCE):
            assert got.quantile_interval(0.95, conf) == old_quantile_interval(ref, 0.95, conf)
        v, lo, hi = got.quantile_interval(0.95, 1 - 1e-12)  # beyond: never narrower
        o_v, o_lo, o_hi = old_quantile_interval(ref, 0.95, 1 - 1e-12)
        assert v == o_v and lo <= o_lo and hi >= o_hi
    assert_ks_is_scipy(sc.ks_statistic, score0, score1)


def assert_ks_is_scipy(d: float | None, ref: np.ndarray, cur: np.ndarray) -> None:
    """``d`` is the streamed path's statistic; with its p-value it is scipy's ks_2samp."""
    assert d is not None
    assert d == ecdf_distances(ref, cur)[0]
    expected = sps.ks_2samp(ref, cur)  # exact mode rounds D to the lattice; ks_pvalue too
    assert ks_pvalue(d, ref.size, cur.size) == (expected.statistic, expected.pvalue)


def test_ks_in_sql_is_scipy_ks_with_ties_and_identical_samples(engine):
    (_, s0), (_, s1) = _seed_latencies(engine, 400, ties=True)
    w = window(T0, T0 + 10_000)
    with engine.connect() as conn:
        d = distributions(conn, q.score_source(w), ks=True).ks_statistic
    assert_ks_is_scipy(d, s0, s1)


def _gate_results(ev, mode: str) -> list[dict]:
    checks = [
        {"check": "latency_p95_ms", "max": 60, "min_samples": 10},
        {"check": "prediction_drift", "max_statistic": 0.05, "min_samples": 10},
        {"check": "error_rate", "max": 0.05},
        {"check": "accuracy", "margin": 0.02},
        {"check": "f1", "margin": 0.05},
    ]
    if mode == "shadow":
        checks.append({"check": "disagreement_rate", "max": 0.5})
    data = {"name": "s", "mode": mode, "gate": {"checks": checks, "sequential": False}}
    if mode == "canary":
        data["weight"] = 0.3
    result = evaluate_gate(Step.model_validate(data), ev, elapsed_s=1e6)
    return [c.to_dict() for c in result.checks]


@pytest.mark.parametrize("mode", ["canary", "shadow"])
def test_sql_evidence_equals_the_streamed_evidence(engine, mode):
    seed = seed_canary if mode == "canary" else seed_shadow
    seed(engine, 2500)
    for w in (window(), window(T0, T0 + 4_000), window(T0 + 50_000, T0 + 60_000)):
        new = collect_evidence(engine, w)
        old = collect_evidence(engine, w, streamed=True)
        new.collected_at = old.collected_at = 0.0
        assert new.to_dict() == old.to_dict()
        assert new.score_ks == old.score_ks
        assert new.paired == old.paired
        for a, b in ((new.champion, old.champion), (new.challenger, old.challenger)):
            assert a.labelled == b.labelled
            np.testing.assert_array_equal(np.asarray(a.latencies_ms), np.asarray(b.latencies_ms))
            np.testing.assert_array_equal(np.asarray(a.scores), np.asarray(b.scores))
        if new.mode is not None:
            assert _gate_results(new, mode) == _gate_results(old, mode)


def test_labels_of_every_json_shape_are_tallied_like_the_streamed_path(engine):
    labels = [True, 1, 1.0, "1", 0, False, None, [1, 2], {"b": 1, "a": 2}, "é ☃", 2.5]
    outputs = [1, 1.0, True, 0, "1", [1, 2], {"a": 2, "b": 1}, None, "é ☃", 2.5, False]
    preds, feedback = [], []
    for i in range(len(labels) * len(outputs)):
        label, output = labels[i % len(labels)], outputs[(i // len(labels)) % len(outputs)]
        for variant, version, mode in (
            ("champion", CHAMPION_VERSION, "champion"),
            (CHALLENGER, CHALLENGER_VERSION, "shadow"),
        ):
            out = output if variant == "champion" else outputs[i % len(outputs)]
            preds.append(
                PredictionRecord(
                    f"j{i}", DEPLOYMENT, variant, mode, version, f"u{i}", {}, out, 0.5, 1.0, T0 + i
                )
            )
        feedback.append(FeedbackRecord(f"j{i}", label, T0 + i + 1))
    repo = EventRepository(engine)
    repo.insert_predictions(preds)
    repo.insert_feedback(feedback)
    for mode in ("shadow", "canary"):
        new = collect_evidence(engine, window(), mode=mode)
        old = collect_evidence(engine, window(), mode=mode, streamed=True)
        assert new.champion.labelled == old.champion.labelled
        assert new.challenger.labelled == old.challenger.labelled
        assert new.paired == old.paired
