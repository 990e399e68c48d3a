"""The rollup-based aggregates equal the raw queries (the reference, tested against pandas
in test_queries.py) on SQLite and PostgreSQL: whatever the range's alignment, with rows
after the watermark, with late labels, after an erasure; refreshing is idempotent."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import delete, insert, select, text

from accuguard.dashboard import queries, rollup_experiment, rollup_queries
from accuguard.dashboard.drift import feature_drift
from accuguard.monitor.reference import profile_values
from accuguard.store import make_engine, upgrade
from accuguard.store.models import Erasure, Feedback, Prediction, RollupExposure
from accuguard.store.rollups import (
    events_state,
    feature_bins,
    refresh_rollups,
    rollups_due,
    watermark,
)
from tests.dashboard.seed import DAY, T0, load, make_rows
from tests.store.conftest import postgres_schema

FEATURES = {"amount": "numeric", "country": "categorical"}
#: the open hour is not rolled up: a refresh at NOW leaves [floor_hour(NOW), NOW) raw
NOW = T0 + 2 * DAY + 5 * 3600 + 1234.5
ROLLUP_TABLES = [
    "rollup_state",
    "rollup_traffic",
    "rollup_labels",
    "rollup_shadow",
    "rollup_features",
    "rollup_feature_bins",
    "rollup_exposure",
]
RANGES = [  # (since, until): aligned and not, starting before the data and inside it
    (T0 - 7 * DAY, NOW),
    (T0 + 1234.5, NOW),
    (T0 + 0.5 * DAY + 17, T0 + 3 * DAY),
    (T0 + 3600, T0 + DAY + 3600 * 5 + 12),
]


def _rows():
    rows = make_rows()
    # a unit served by both arms is in no arm; a unit seen on both sides of a range start
    for k, (arm, t) in enumerate([("champion", T0 + 10), ("b", T0 + DAY + 10)]):
        rows.predictions.append(
            {**rows.predictions[-1], "request_id": f"both-{k}", "variant": arm, "created_at": t}
        )
        rows.predictions[-1]["unit_hash"] = "shop-both"
    return rows


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """A fresh seeded store per test, on each database."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'events.db'}")
        upgrade(eng)
        load(eng, _rows())
        yield eng
        eng.dispose()
        return
    with postgres_schema() as pg:
        eng = make_engine(pg.url)
        upgrade(eng)
        load(eng, _rows())
        yield eng
        eng.dispose()


def refresh(engine, now=NOW, **kw):
    return refresh_rollups(engine, now, features={"fraud": FEATURES}, **kw)


def _row(row):  # a float sum depends on the order of its terms: compare to 1e-9
    values = (v for k, v in row.items() if k != "id")  # surrogate keys differ per refresh
    return tuple(round(v, 9) if isinstance(v, float) else v for v in values)


def snapshot(engine):
    with engine.connect() as conn:
        return {
            t: sorted(map(_row, conn.execute(text(f"SELECT * FROM {t}")).mappings().all()))
            for t in ROLLUP_TABLES
            if t != "rollup_state"
        }


def assert_same_series(conn, since, until, width):
    for name in ("request_series", "accuracy_series", "disagreement_series"):
        raw = getattr(queries, name)(conn, "fraud", since, until, width)
        fast = getattr(rollup_queries, name)(conn, "fraud", since, until, width)
        assert fast.points == raw.points, (name, since, until, width)


def assert_same_features(conn, since, until, width):
    edges = feature_bins(conn, "fraud", "amount").edges
    assert rollup_queries.numeric_histograms(
        conn, "fraud", "amount", edges, since, until, width
    ) == queries.numeric_histograms(conn, "fraud", "amount", edges, since, until, width)
    assert rollup_queries.category_counts(
        conn, "fraud", "country", since, until, width
    ) == queries.category_counts(conn, "fraud", "country", since, until, width)


def assert_same_experiment(conn, since, until):
    # the A/B arms; one arm of two (then b is a non-arm variant); a canary and the champion
    for deployment, arms in [("shop", ["champion", "b"]), ("shop", ["champion"])]:
        check_experiment(conn, deployment, arms, since, until)
    check_experiment(conn, "fraud", ["champion", "v2"], since, until)


def check_experiment(conn, deployment, arms, since, until):
    raw = queries.experiment_sums(conn, deployment, arms, since, until)
    share = rollup_experiment.MAX_CROSSING_SHARE
    rollup_experiment.MAX_CROSSING_SHARE = float("inf")  # never the raw query's shortcut
    try:
        fast = rollup_queries.experiment_sums(conn, deployment, arms, since, until)
    finally:
        rollup_experiment.MAX_CROSSING_SHARE = share
    assert fast[0] == raw[0]
    assert fast[1].keys() == raw[1].keys()
    for name in raw[1]:
        for arm in arms:
            assert fast[1][name][arm][:2] == raw[1][name][arm][:2]
            assert fast[1][name][arm][2:] == pytest.approx(raw[1][name][arm][2:], rel=1e-12)


@pytest.mark.parametrize("width", [3600, 86_400])
def test_rollup_series_equal_the_raw_queries_on_every_range(engine, width):
    refresh(engine)
    with engine.connect() as conn:
        assert watermark(conn, events_state("fraud")) == T0 + 2 * DAY + 5 * 3600
        for since, until in RANGES:
            assert_same_series(conn, since, until, width)
            assert_same_features(conn, since, until, width)
            assert_same_experiment(conn, since, until)


def test_rollups_are_used_for_closed_hours_and_a_late_label_counts_after_the_next_refresh(
    engine,
):
    refresh(engine)
    with engine.connect() as conn:
        labelled = {r for (r,) in conn.execute(select(Feedback.request_id))}
        late = [
            r
            for (r, t) in conn.execute(
                select(Prediction.request_id, Prediction.created_at).where(
                    Prediction.deployment == "fraud",
                    Prediction.variant == "champion",
                    Prediction.error.is_(None),
                )
            )
            if r not in labelled and t < T0 + DAY
        ][:5]
    assert late
    with engine.begin() as conn:  # labels for rolled-up hours arrive after the refresh
        conn.execute(
            insert(Feedback),
            [{"request_id": r, "label": 1, "created_at": NOW} for r in late],
        )
    with engine.connect() as conn:
        raw = queries.accuracy_series(conn, "fraud", T0, NOW, 86_400)
        stale = rollup_queries.accuracy_series(conn, "fraud", T0, NOW, 86_400)
        assert stale.points != raw.points  # the closed hours come from the rollup
        assert not rollups_due(conn, NOW, "fraud", FEATURES)
    refresh(engine, NOW + 3600)  # the next hour's refresh recomputes the last 7 days
    with engine.connect() as conn:
        for width in (3600, 86_400):
            assert_same_series(conn, T0, NOW + 3600, width)


def test_refreshing_again_changes_nothing_and_chunks_do_not_matter(engine):
    refresh(engine)
    once = snapshot(engine)
    refresh(engine)
    assert snapshot(engine) == once
    other = make_engine(str(engine.url.render_as_string(hide_password=False)))
    with other.begin() as conn:
        for table in ROLLUP_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    refresh(other, chunk_hours=5)
    other.dispose()
    assert snapshot(engine) == once


def test_an_erased_unit_leaves_the_exposure_rollup(engine):
    refresh(engine)
    unit = "shop-u3"
    with engine.begin() as conn:
        conn.execute(delete(Prediction).where(Prediction.unit_hash == unit))
        conn.execute(
            insert(Erasure).values(
                unit_hash=unit, predictions=1, feedback=0, business_events=0, at=NOW + 1, actor="t"
            )
        )
    refresh(engine, NOW + 3600)
    with engine.connect() as conn:
        left = conn.execute(select(RollupExposure).where(RollupExposure.unit_hash == unit)).all()
        assert left == []
        assert_same_experiment(conn, T0 - DAY, NOW + 3600)


def test_drift_from_rollups_bins_on_the_reference_edges_it_was_given(engine):
    reference = {"amount": profile_values([float(i) / 100 - 5 for i in range(1000)], "numeric")}
    reference["country"] = profile_values(["fr", "de", "us"] * 100, "categorical")
    edges = [-1.0, 0.0, 0.5, 2.0]
    refresh(engine, edges={"fraud": {"amount": edges}})
    with engine.connect() as conn:
        assert feature_bins(conn, "fraud", "amount").edges == edges
        fast = feature_drift(conn, "fraud", FEATURES, reference, T0, NOW, 86_400, rollups=True)
        assert [d.name for d in fast] == ["amount", "country"] or len(fast) == 2
        amount = next(d for d in fast if d.name == "amount")
        raw = queries.numeric_histograms(conn, "fraud", "amount", edges, T0, NOW, 86_400)
        overall = [float(sum(c[i] for c in raw.values())) for i in range(len(edges) + 1)]
        assert amount.distribution["current"] == overall
        assert [b for b, _ in amount.series] == sorted(raw)


def test_no_rollup_reads_the_raw_events(engine):
    with engine.connect() as conn:
        assert rollups_due(conn, NOW, "fraud")
        assert_same_series(conn, T0, NOW, 86_400)
        assert_same_experiment(conn, T0, NOW)


def test_a_page_view_refreshes_in_the_background_once_per_closed_hour(engine):
    thread = rollup_queries.refresh_if_due(engine, NOW, "fraud", FEATURES, wait=True)
    assert thread is not None and not thread.is_alive()
    with engine.connect() as conn:
        assert not rollups_due(conn, NOW, "fraud", FEATURES)
        assert rollups_due(conn, NOW + 3600, "fraud", FEATURES)
    assert rollup_queries.refresh_if_due(engine, NOW + 60, "fraud", FEATURES) is None


def test_outputs_and_categories_of_any_length_are_rolled_up(engine):
    # long texts are values, never keys: PostgreSQL refuses index rows over about 2.7 kB
    # (hex digests: text that compression cannot shrink below the limit)
    noise = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(100))
    long_output = {"summary": noise}
    with engine.connect() as conn:
        template = dict(conn.execute(select(*Prediction.__table__.c).limit(1)).mappings().one())
    rows = [
        {
            **template,
            "request_id": f"long-{k}",
            "variant": "champion",
            "mode": "champion",
            "error": None,
            "output": long_output,
            "features": {**(template["features"] or {}), "country": noise[::-1]},
            "created_at": T0 + 600 + k,
        }
        for k in range(3)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Prediction), rows)
        conn.execute(
            insert(Feedback),
            [
                {"request_id": r["request_id"], "label": long_output, "created_at": NOW}
                for r in rows
            ],
        )
    refresh(engine)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM rollup_labels WHERE length(output) > 5000"))
        assert n.scalar_one() == 1
        assert_same_series(conn, T0, NOW, 86_400)
        assert_same_features(conn, T0, NOW, 86_400)
