"""Simulated rollout traffic written to a real SQLite event log (helper for the rollout tests).

Every generator returns the ground truth it wrote (numpy arrays), so tests can compute the
expected values independently (sklearn, statsmodels, scipy) and compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine

from accuguard.rollout.evidence import Window
from accuguard.store.engine import make_engine
from accuguard.store.migrate import upgrade
from accuguard.store.records import BusinessEventRecord, FeedbackRecord, PredictionRecord
from accuguard.store.repository import EventRepository

T0 = 1_700_000_000.0
DEPLOYMENT = "fraud"
CHAMPION_VERSION = "3"
CHALLENGER_VERSION = "7"
CHALLENGER = "v7"


def make_store(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'events.db'}")
    upgrade(engine)
    return engine


def window(start: float = T0, end: float = T0 + 10_000.0) -> Window:
    return Window(DEPLOYMENT, CHAMPION_VERSION, CHALLENGER, CHALLENGER_VERSION, start, end)


def _model(rng: np.random.Generator, y: np.ndarray, signal: float) -> tuple[np.ndarray, np.ndarray]:
    logit = rng.normal(0.0, 1.0, y.size) + signal * (2 * y - 1) - 0.5
    score = 1.0 / (1.0 + np.exp(-logit))
    return score, (score > 0.5).astype(int)


@dataclass
class Truth:
    """What was written: per row arrays, aligned."""

    request_id: list[str]
    y: np.ndarray
    labelled: np.ndarray  # label stored with created_at < window end
    champ_pred: np.ndarray
    chal_pred: np.ndarray
    champ_score: np.ndarray
    chal_score: np.ndarray
    chal_error: np.ndarray
    chal_latency: np.ndarray
    arm: np.ndarray = field(default_factory=lambda: np.empty(0))  # canary: 1 = challenger
    unit: list[str] = field(default_factory=list)


def seed_shadow(
    engine: Engine,
    n: int = 2000,
    *,
    seed: int = 0,
    champ_signal: float = 1.2,
    chal_signal: float = 1.2,
    label_share: float = 0.5,
    error_share: float = 0.02,
    late_label_share: float = 0.1,
) -> Truth:
    """A shadow: every request scored by the champion, mirrored to the challenger."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    champ_score, champ_pred = _model(rng, y, champ_signal)
    chal_score, chal_pred = _model(rng, y, chal_signal)
    err = rng.random(n) < error_share
    has_label = rng.random(n) < label_share
    late = has_label & (rng.random(n) < late_label_share)  # label arrives after the window
    lat = rng.gamma(4.0, 10.0, n)
    created = T0 + np.sort(rng.uniform(0, 9_000, n))
    rids = [f"r{i}" for i in range(n)]
    preds, feedback = [], []
    for i in range(n):
        unit = f"u{i % 500}"
        preds.append(
            PredictionRecord(
                rids[i],
                DEPLOYMENT,
                "champion",
                "champion",
                CHAMPION_VERSION,
                unit,
                {"amount": float(rng.gamma(2, 50)), "country": ["FR", "DE", "US"][i % 3]},
                int(champ_pred[i]),
                float(champ_score[i]),
                float(rng.gamma(4.0, 8.0)),
                float(created[i]),
            )
        )
        preds.append(
            PredictionRecord(
                rids[i],
                DEPLOYMENT,
                CHALLENGER,
                "shadow",
                CHALLENGER_VERSION,
                unit,
                {"amount": 1.0},
                None if err[i] else int(chal_pred[i]),
                None if err[i] else float(chal_score[i]),
                float(lat[i]),
                float(created[i]) + 0.01,
                "TimeoutError: slow" if err[i] else None,
            )
        )
        if has_label[i]:
            at = T0 + 20_000.0 if late[i] else float(created[i]) + 5.0
            feedback.append(FeedbackRecord(rids[i], bool(y[i]), at))
    _noise(preds)
    repo = EventRepository(engine)
    repo.insert_predictions(preds)
    repo.insert_feedback(feedback)
    return Truth(
        rids, y, has_label & ~late, champ_pred, chal_pred, champ_score, chal_score, err, lat
    )


def seed_canary(
    engine: Engine,
    n: int = 4000,
    *,
    weight: float = 0.25,
    seed: int = 1,
    champ_signal: float = 1.2,
    chal_signal: float = 1.2,
    label_share: float = 0.6,
    error_share: float = 0.01,
    champ_conversion: float = 0.10,
    chal_conversion: float = 0.10,
    challenger_units_share: float | None = None,
) -> Truth:
    """A canary: units hashed to the challenger with ``weight``; one request per unit."""
    rng = np.random.default_rng(seed)
    share = weight if challenger_units_share is None else challenger_units_share
    arm = (rng.random(n) < share).astype(int)
    y = (rng.random(n) < 0.3).astype(int)
    champ_score, champ_pred = _model(rng, y, champ_signal)
    chal_score, chal_pred = _model(rng, y, chal_signal)
    err = (arm == 1) & (rng.random(n) < error_share)
    has_label = rng.random(n) < label_share
    lat = rng.gamma(4.0, 10.0, n)
    created = T0 + np.sort(rng.uniform(0, 9_000, n))
    rids = [f"c{i}" for i in range(n)]
    units = [f"unit{i}" for i in range(n)]
    preds, feedback, events = [], [], []
    for i in range(n):
        chal = arm[i] == 1
        served_chal = chal and not err[i]
        pred = chal_pred[i] if served_chal else champ_pred[i]
        score = chal_score[i] if served_chal else champ_score[i]
        preds.append(
            PredictionRecord(
                rids[i],
                DEPLOYMENT,
                CHALLENGER if chal else "champion",
                "canary" if chal else "champion",
                CHALLENGER_VERSION if served_chal else CHAMPION_VERSION,
                units[i],
                {"amount": float(rng.gamma(2, 50)), "country": ["FR", "DE", "US"][i % 3]},
                int(pred),
                float(score),
                float(lat[i]),
                float(created[i]),
                "RuntimeError: boom" if err[i] else None,
            )
        )
        if has_label[i]:
            feedback.append(FeedbackRecord(rids[i], int(y[i]), float(created[i]) + 3.0))
        p = chal_conversion if chal else champ_conversion
        if rng.random() < p:
            events.append(
                BusinessEventRecord(
                    f"e{i}",
                    DEPLOYMENT,
                    units[i],
                    "conversion",
                    float(rng.gamma(2.0, 20.0)),
                    float(created[i]) + 1,
                )
            )
            if rng.random() < 0.3:  # a second event of the same unit
                events.append(
                    BusinessEventRecord(
                        f"e{i}b", None, units[i], "conversion", 5.0, float(created[i]) + 2
                    )
                )
        if rng.random() < 0.05:  # an event before exposure: never counted
            events.append(
                BusinessEventRecord(
                    f"pre{i}", DEPLOYMENT, units[i], "conversion", 100.0, float(created[i]) - 1
                )
            )
    _noise(preds)
    repo = EventRepository(engine)
    repo.insert_predictions(preds)
    repo.insert_feedback(feedback)
    repo.insert_events(events)
    return Truth(
        rids, y, has_label, champ_pred, chal_pred, champ_score, chal_score, err, lat, arm, units
    )


def _noise(preds: list[PredictionRecord]) -> None:
    """Rows that must be ignored: another deployment, outside the window, another version."""
    for i in range(20):
        preds.append(
            PredictionRecord(
                f"other{i}", "churn", CHALLENGER, "shadow", "7", "u", {}, 1, 0.9, 1.0, T0 + i
            )
        )
        preds.append(
            PredictionRecord(
                f"before{i}",
                DEPLOYMENT,
                CHALLENGER,
                "canary",
                "7",
                "u",
                {},
                1,
                0.9,
                1.0,
                T0 - 100 - i,
            )
        )
        preds.append(
            PredictionRecord(
                f"oldchamp{i}",
                DEPLOYMENT,
                "champion",
                "champion",
                "2",
                "u",
                {},
                1,
                0.9,
                1.0,
                T0 + i,
            )
        )
