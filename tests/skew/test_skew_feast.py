"""The skew check against a real Feast repository (see conftest.py for the world)."""

from __future__ import annotations

import pytest

from accuguard.skew import FeastSource, check_skew

from .conftest import SINCE, SWITCH, UNTIL


def test_offline_check_flags_exactly_the_injected_skew_point_in_time(world):
    report = check_skew(
        world.url,
        FeastSource(world.repo, python=world.feast_python, timeout_s=120),
        "fraud",
        ["account_id"],
        SINCE,
        UNTIL,
    )
    compared = world.compared()
    assert (report.served, report.compared, report.without_entity) == (1010, compared, 10)
    assert report.source == "offline"
    assert report.not_in_store == ["merchant"]
    expected = world.expected_mismatches()
    assert expected == {"amount_avg_7d": 35, "segment": 55, "balance": 405, "txn_count_7d": 5}
    assert {n: f.mismatches for n, f in report.features.items()} == expected
    for name, f in report.features.items():
        assert f.mismatch_rate == expected[name] / compared
        assert f.rows == compared
        assert f.store_nulls == len(world.unknown)
        assert f.ref == f"account_features:{name}"
    for name, f in report.features.items():  # the examples are injected rows
        rows = {int(e["request_id"].removeprefix("req-")) for e in f.examples}
        assert len(rows) == 5 and rows <= world.injected.get(name, set()) | world.unknown
    assert report.features["amount_avg_7d"].kind == "numeric"
    assert report.features["segment"].kind == "categorical"
    # 30 + 50 + 400 injected rows (disjoint) and 5 unknown accounts
    assert report.rows_with_mismatch == 485
    assert report.drifted == ["balance"]
    assert report.features["balance"].drift.method == "ks"
    assert report.features["segment"].drift.method == "chi_square"
    # default gates: no mismatch at all, no drift
    assert [g.expression for g in report.gates] == ["max_mismatch_rate <= 0", "drift.count == 0"]
    assert not report.passed


def test_online_store_holds_the_latest_values(world):
    source = FeastSource(world.repo, python=world.feast_python, online=True, timeout_s=120)
    late = check_skew(world.url, source, "fraud", ["account_id"], SWITCH, UNTIL)
    assert late.source == "online"
    assert {n: f.mismatches for n, f in late.features.items()} == world.expected_mismatches(
        SWITCH, UNTIL
    )
    # before the second snapshot the online store's (latest) values are not the ones
    # served then: every early request mismatches on txn_count_7d, which offline
    # point-in-time retrieval gets right (the test above: only the 5 unknown accounts)
    early = check_skew(
        world.url, source, "fraud", ["account_id"], SINCE, SWITCH, features=["txn_count_7d"]
    )
    assert early.features["txn_count_7d"].mismatches == world.compared(SINCE, SWITCH) > 0


@pytest.mark.parametrize("python", ["python-that-does-not-exist"])
def test_missing_feast_interpreter_is_a_clear_input_error(world, python):
    from accuguard.errors import InputError

    with pytest.raises(InputError, match="no such interpreter"):
        check_skew(
            world.url, FeastSource(world.repo, python=python), "fraud", ["account_id"], SINCE, UNTIL
        )
