"""Reading a window of the event log."""

from __future__ import annotations

from accuguard.monitor.window import read_window
from tests.monitor.conftest import log_predictions


def test_window_reads_one_variant_in_bounds_with_labels_known_before_its_end(engine):
    feats = [{"amount": float(i)} for i in range(10)]
    log_predictions(
        engine,
        feats,
        t0=100.0,
        dt=1.0,
        outputs=[1] * 10,
        scores=[0.5] * 10,
        labels=[1, 0, None, 1, 0, 1, 0, 1, 0, 1],
        label_at=150.0,
    )
    log_predictions(engine, feats, t0=100.0, dt=1.0, variant="v7", prefix="c")
    log_predictions(engine, feats, t0=100.0, dt=1.0, deployment="other", prefix="o")
    win = read_window(engine, "fraud", 102.0, 108.0)
    assert [f["amount"] for f in win.features] == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert win.rows == 6 and win.labelled == 0  # the labels came at t=150, after the end
    labelled = read_window(engine, "fraud", 102.0, 160.0)
    assert labelled.rows == 8 and labelled.labelled == 7 and labelled.labels[0] is None
    assert win.scores == [0.5] * 6 and win.model_versions == ["1"] * 6
    early = read_window(engine, "fraud", 100.0, 110.0)
    assert early.labelled == 0  # labels arrived at t=150, after this window's end
    late = read_window(engine, "fraud", 100.0, 151.0)
    assert late.labelled == 9
    canary = read_window(engine, "fraud", 0.0, 1000.0, variant="v7")
    assert canary.rows == 10 and canary.labelled == 0
    assert win.describe()["model_versions"] == ["1"]


def test_window_keeps_the_most_recent_rows_when_truncated(engine):
    log_predictions(engine, [{"i": i} for i in range(250)], t0=0.0, dt=1.0)
    win = read_window(engine, "fraud", 0.0, 1000.0, max_rows=100)
    assert win.truncated and win.rows == 100
    assert [f["i"] for f in win.features] == list(range(150, 250))
