"""The dashboard's SQL aggregates against independent computations on the same rows
(pandas group-bys, numpy percentiles), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from accuguard.dashboard import queries
from accuguard.dashboard.drift import feature_drift
from accuguard.monitor.reference import profile_values
from accuguard.stats.distances import psi
from tests.dashboard.seed import DAY, T0

END = T0 + 3 * DAY


def frame(rows, deployment="fraud"):
    df = pd.DataFrame(rows.predictions)
    return df[df.deployment == deployment].copy()


def norm(value):
    """The test's own label normalisation: booleans and integral floats as ints."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def test_traffic_counts_errors_and_p95_latency_match_numpy(engine, rows):
    df = frame(rows)
    since, until = T0 + 0.5 * DAY, T0 + 2.5 * DAY
    with engine.connect() as conn:
        got = queries.traffic(conn, "fraud", since, until)
    win = df[(df.created_at >= since) & (df.created_at < until)]
    assert set(got) == set(win.variant)
    for variant, part in win.groupby("variant"):
        t = got[variant]
        assert t.requests == len(part)
        assert t.errors == int(part.error.notna().sum())
        assert t.p95_ms == pytest.approx(np.percentile(part.latency_ms, 95), rel=1e-12)
    assert got["v2"].errors > 0 and got["champion"].errors == 0


@pytest.mark.parametrize("q", [0.0, 0.5, 0.95, 0.99, 1.0])
def test_latency_percentile_is_numpy_linear_quantile(engine, rows, q):
    df = frame(rows)
    part = df[df.variant == "champion"]
    with engine.connect() as conn:
        got = queries.latency_percentile(conn, "fraud", "champion", T0, END, q, len(part))
    assert got == pytest.approx(np.quantile(part.latency_ms, q), rel=1e-12)


def test_request_series_buckets_by_hour_in_sql(engine, rows):
    df = frame(rows)
    df["bucket"] = np.floor(df.created_at / 3600) * 3600
    expected = df.groupby(["variant", "bucket"]).agg(n=("request_id", "size"))
    with engine.connect() as conn:
        series = queries.request_series(conn, "fraud", T0, END, 3600)
    got = {(v, b): t for v in series.points for b, _, t in series.rows(v)}
    assert got == {k: int(r.n) for k, r in expected.iterrows()}


@pytest.mark.parametrize("width", [3600, 86_400])
def test_accuracy_series_matches_a_pandas_join(engine, rows, width):
    df = frame(rows)
    labels = pd.DataFrame(rows.feedback)
    joined = df[df.error.isna()].merge(labels, on="request_id")
    pairs = zip(joined.output, joined.label, strict=True)
    joined["hit"] = [norm(o) == norm(lab) for o, lab in pairs]
    joined["bucket"] = np.floor(joined.created_at_x / width) * width
    expected = joined.groupby(["variant", "bucket"]).hit.agg(["sum", "size"])
    with engine.connect() as conn:
        series = queries.accuracy_series(conn, "fraud", T0, END, width)
    got = {(v, b): (h, t) for v in series.points for b, h, t in series.rows(v)}
    assert got == {k: (int(r["sum"]), int(r["size"])) for k, r in expected.iterrows()}
    # labels 1.0 and true count as correct for the output 1
    assert any(isinstance(lab, (bool, float)) for lab in labels.label)


def test_shadow_disagreement_matches_pairs_computed_in_python(engine, rows):
    df = frame(rows)
    champ = df[(df.variant == "champion") & df.error.isna()][["request_id", "output"]]
    shadow = df[df["mode"] == "shadow"]
    pairs = shadow.merge(champ, on="request_id", suffixes=("", "_c"))
    pairs["bucket"] = np.floor(pairs.created_at / DAY) * DAY
    pairs["differ"] = pairs.output != pairs.output_c
    expected = pairs.groupby(["variant", "bucket"]).differ.agg(["sum", "size"])
    with engine.connect() as conn:
        series = queries.disagreement_series(conn, "fraud", T0, END, int(DAY))
    got = {(v, b): (h, t) for v in series.points for b, h, t in series.rows(v)}
    assert got == {k: (int(r["sum"]), int(r["size"])) for k, r in expected.iterrows()}


def test_feature_histograms_match_numpy_binning(engine, rows):
    df = frame(rows)
    champ = df[df.variant == "champion"].copy()
    champ["amount"] = [f["amount"] for f in champ.features]
    champ["country"] = [f["country"] for f in champ.features]
    champ["bucket"] = np.floor(champ.created_at / DAY) * DAY
    edges = [-1.0, 0.0, 0.5, 2.0]
    with engine.connect() as conn:
        hist = queries.numeric_histograms(conn, "fraud", "amount", edges, T0, END, int(DAY))
        cats = queries.category_counts(conn, "fraud", "country", T0, END, int(DAY))
        lo_hi = queries.numeric_range(conn, "fraud", "amount", T0, END)
    for bucket, part in champ.groupby("bucket"):
        bins = np.searchsorted(edges, part.amount.to_numpy(), side="right")
        assert hist[bucket] == np.bincount(bins, minlength=len(edges) + 1).tolist()
        assert cats[bucket] == part.country.value_counts().to_dict()
    assert lo_hi == pytest.approx((champ.amount.min(), champ.amount.max()))


def test_drift_psi_per_bucket_against_a_reference(engine, rows):
    df = frame(rows)
    champ = df[df.variant == "champion"].copy()
    champ["amount"] = [f["amount"] for f in champ.features]
    rng = np.random.default_rng(7)
    ref_values = rng.normal(0.0, 1.0, size=2000)
    reference = {
        "amount": profile_values(list(ref_values), "numeric"),
        "country": profile_values(list(rng.choice(["fr", "de", "us"], size=3000)), "categorical"),
    }
    with engine.connect() as conn:
        drifts = feature_drift(
            conn,
            "fraud",
            {"amount": "numeric", "country": "categorical"},
            reference,
            T0,
            END,
            int(DAY),
        )
    amount = next(d for d in drifts if d.name == "amount")
    edges = np.quantile(ref_values, np.linspace(0.1, 0.9, 9))
    ref_counts = np.bincount(np.searchsorted(edges, ref_values, side="right"), minlength=10)
    champ["bucket"] = np.floor(champ.created_at / DAY) * DAY
    expected = []
    for bucket, part in champ.groupby("bucket"):
        cur = np.bincount(np.searchsorted(edges, part.amount, side="right"), minlength=10)
        expected.append((bucket, psi(ref_counts / ref_counts.sum(), cur / cur.sum())))
    assert [b for b, _ in amount.series] == [b for b, _ in expected]
    assert [p for _, p in amount.series] == pytest.approx([p for _, p in expected], rel=1e-9)
    # the third day is shifted by one standard deviation: its PSI is far above the first's
    assert amount.series[-2][1] > 0.25 > amount.series[0][1]
    # most drifted over the range first: the mean shift of amount beats country's mix change
    assert [d.name for d in drifts] == ["amount", "country"]
    assert drifts[0].overall_psi > drifts[1].overall_psi > 0


def test_experiment_sums_match_per_unit_totals(engine, rows):
    df = frame(rows, "shop")
    exposure = df.groupby("unit_hash").agg(
        variant=("variant", "first"), first=("created_at", "min")
    )
    events = pd.DataFrame(rows.events).merge(exposure, left_on="unit_hash", right_index=True)
    events = events[events.created_at >= events["first"]]
    with engine.connect() as conn:
        units, sums = queries.experiment_sums(conn, "shop", ["champion", "b"], T0, END)
    assert units == exposure.variant.value_counts().to_dict()
    for (name, variant), part in events.groupby(["name", "variant"]):
        totals = part.groupby("unit_hash").value.sum()
        n, with_event, s, s2 = sums[name][variant]
        assert (n, with_event) == (units[variant], len(totals))
        assert s == pytest.approx(totals.sum()) and s2 == pytest.approx((totals**2).sum())
    assert not math.isnan(sums["revenue"]["b"][2])


def test_bucket_width_must_be_a_positive_whole_number():
    with pytest.raises(ValueError, match="positive whole number"):
        queries.bucket_start(queries.Prediction.created_at, 0)
    with pytest.raises(ValueError, match="positive whole number"):
        queries.bucket_start(queries.Prediction.created_at, 1.5)


def test_json_text_of_a_null_output_is_none():
    assert queries._json(None) is None and queries._json(json.dumps("x")) == "x"
