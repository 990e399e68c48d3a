"""Retention: ``prune_events`` and ``accuguard events prune`` on both backends."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from accuguard.cli import _mount, app
from accuguard.errors import InputError
from accuguard.store import EventRepository, make_engine, upgrade
from accuguard.store.records import BusinessEventRecord, FeedbackRecord, PredictionRecord
from accuguard.store.retention import parse_age, prune_events

DAY = 86_400.0
NOW = 1_800_000_000.0


def seed(url: str, n: int = 250) -> EventRepository:
    """``n`` requests one per day-fraction going back ~n/2.5 days, with labels and events."""
    upgrade(url)
    repo = EventRepository(make_engine(url))
    preds, labels, events = [], [], []
    for i in range(n):
        at = NOW - i * DAY / 2.5
        for variant in ("champion", "shadow-v2"):
            preds.append(
                PredictionRecord(
                    f"r{i}", "fraud", variant, "champion", "1", f"u{i}", {}, 1, 0.5, 1.0, at
                )
            )
        labels.append(FeedbackRecord(f"r{i}", 1, at + DAY * 2))  # labels come two days later
        events.append(BusinessEventRecord(f"e{i}", None if i % 3 else "fraud", f"u{i}", "c", 1, at))
    repo.insert_predictions(preds)
    repo.insert_feedback(labels)
    repo.insert_events(events)
    return repo


def expected(n: int, days: float) -> dict[str, int]:
    """Independent count: rows whose created_at is strictly before NOW - days."""
    cutoff = NOW - days * DAY
    ats = [NOW - i * DAY / 2.5 for i in range(n)]
    return {
        "predictions": 2 * sum(a < cutoff for a in ats),
        "feedback": sum(a + 2 * DAY < cutoff for a in ats),
        "business_events": sum(a < cutoff for a in ats),
    }


@pytest.mark.parametrize("batch", [1, 7, 10_000])
def test_prune_deletes_exactly_the_rows_older_than_the_cutoff_in_batches(db_url, batch):
    repo = seed(db_url)
    before = repo.counts()
    calls = []
    got = prune_events(
        repo.engine, 30 * DAY, now=NOW, batch=batch, progress=lambda t, k: calls.append(k)
    )
    assert got == expected(250, 30)
    assert all(k <= batch for k in calls)
    after = repo.counts()
    assert {t: before[t] - after[t] for t in got} == got
    assert prune_events(repo.engine, 30 * DAY, now=NOW, batch=batch) == dict.fromkeys(got, 0)
    repo.engine.dispose()


def test_a_dry_run_counts_and_deletes_nothing(db_url):
    repo = seed(db_url)
    before = repo.counts()
    assert prune_events(repo.engine, 10 * DAY, now=NOW, dry_run=True) == expected(250, 10)
    assert repo.counts() == before
    repo.engine.dispose()


def test_ages_parse_with_units_and_bad_ones_name_the_option():
    assert [parse_age(t) for t in ("90d", "12h", "2w", "30m", "45s")] == [
        90 * DAY,
        12 * 3600.0,
        14 * DAY,
        1800.0,
        45.0,
    ]
    for bad in ("90", "d", "-3d", "0d", "1y", ""):
        with pytest.raises(InputError, match="--older-than"):
            parse_age(bad)


def test_the_cli_prunes_and_prints_counts_and_rejects_bad_input(tmp_path):
    url = f"sqlite:///{tmp_path / 'events.db'}"
    repo = seed(url, 20)
    repo.insert_predictions(
        [PredictionRecord("old", "fraud", "champion", "champion", "1", "u", {}, 1, 0.5, 1.0, 0.0)]
    )
    runner = CliRunner()
    _mount(["events"])
    args = ["events", "prune", "--older-than", "365d", "--store", url]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete" in dry.output and "predictions: 1" in dry.output
    done = runner.invoke(app, args)
    assert done.exit_code == 0 and "predictions: 1" in done.output
    assert repo.count_predictions() == 40
    bad = runner.invoke(app, ["events", "prune", "--older-than", "soon", "--store", url])
    assert bad.exit_code == 2 and "--older-than 'soon'" in bad.output
    missing = runner.invoke(
        app, ["events", "prune", "--older-than", "1d", "--store", f"sqlite:///{tmp_path}/no.db"]
    )
    assert missing.exit_code == 2 and "no database file" in missing.output
    repo.engine.dispose()
