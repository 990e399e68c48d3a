"""Generated event logs with known effects for the experiment tests."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def make_events(
    n_units: int = 6000, seed: int = 3, control_share: float = 0.5, events_per_unit: int = 2
) -> dict[str, np.ndarray]:
    """Event rows: each unit has `events_per_unit` rows whose metric values sum per unit."""
    rng = np.random.default_rng(seed)
    units = np.array([f"u{i}" for i in range(n_units)])
    variant = np.where(rng.random(n_units) < control_share, "control", "treatment")
    treated = variant == "treatment"
    pre = rng.gamma(2.0, 5.0, n_units)
    conversion = (rng.random(n_units) < np.where(treated, 0.12, 0.10)).astype(float)
    revenue = conversion * rng.gamma(2.0, 10.0, n_units) + 2.0 * pre  # corr(pre) ~ 0.85
    sessions = rng.poisson(3, n_units) + 1.0
    clicks = rng.binomial(sessions.astype(int), np.where(treated, 0.22, 0.2)).astype(float)
    latency = rng.normal(100, 20, n_units) + np.where(treated, 1.0, 0.0)
    rows = {
        "user_id": units,
        "variant": variant,
        "conversion": conversion,
        "revenue": revenue,
        "revenue_pre": pre,
        "sessions": sessions,
        "clicks": clicks,
        "latency_ms": latency,
    }
    if events_per_unit == 1:
        return rows
    # split every unit's values over several rows (the per-unit sums stay the same)
    out = {k: np.repeat(v, events_per_unit) for k, v in rows.items()}
    share = rng.dirichlet(np.ones(events_per_unit), n_units).ravel()
    for k in ("revenue", "revenue_pre", "sessions", "clicks"):
        out[k] = out[k] * share
    first = np.tile(np.r_[1.0, np.zeros(events_per_unit - 1)], n_units)
    out["conversion"] = out["conversion"] * first  # one conversion event per converted unit
    out["latency_ms"] = out["latency_ms"] * first
    return out


@pytest.fixture
def events_file(tmp_path):
    path = tmp_path / "events.parquet"
    pq.write_table(pa.table(make_events()), path)
    return path


@pytest.fixture
def events_factory():
    """The generator itself, for tests that need other sizes or splits."""
    return make_events


@pytest.fixture
def unit_rows():
    return make_events(events_per_unit=1)
