"""``accuguard skew`` on bad input: exit 2 with one line naming the problem (no Feast needed)."""

from __future__ import annotations

import json
import sys

import pytest

from accuguard.cli import main
from accuguard.errors import ConfigError, InputError
from accuguard.skew import EntityKey, parse_time
from accuguard.store import EventRepository, PredictionRecord, make_engine, upgrade

T0 = 1_764_460_800.0


@pytest.fixture
def setup(tmp_path):
    db = tmp_path / "events.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    EventRepository(engine).insert_predictions(
        [
            PredictionRecord(
                f"r{i}",
                "fraud",
                "champion",
                "champion",
                "1",
                "0" * 32,
                {"account_id": i, "amount": 1.0 + i},
                0,
                0.1,
                1.0,
                T0 + i,
            )
            for i in range(5)
        ]
    )
    engine.dispose()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "feature_store.yaml").write_text("project: p\nregistry: r.db\nprovider: local\n")
    return f"sqlite:///{db}", repo


def run(capsys, *args) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["skew", *[str(a) for a in args]])
    return exit_info.value.code, capsys.readouterr().err


def base(url, repo, *extra):
    return ["--store-url", url, "--feast-repo", repo, "--deployment", "fraud",
            "--since", str(T0), "--until", str(T0 + 60), *extra]  # fmt: skip


def test_entity_key_no_request_has_is_exit_2_listing_the_logged_features(setup, capsys):
    url, repo = setup
    code, err = run(capsys, *base(url, repo, "--entity-key", "user_id"))
    assert code == 2
    assert "--entity-key 'user_id'" in err and "account_id, amount" in err
    assert "Traceback" not in err


def test_repository_without_feature_store_yaml_is_exit_2(setup, capsys, tmp_path):
    url, _ = setup
    code, err = run(capsys, *base(url, tmp_path, "--entity-key", "account_id"))
    assert code == 2 and "no feature_store.yaml" in err


def test_python_without_feast_is_exit_2_saying_how_to_point_at_feast(setup, capsys):
    url, repo = setup
    args = base(url, repo, "--entity-key", "account_id", "--feast-python", sys.executable)
    code, err = run(capsys, *args)
    assert code == 2 and "Feast is not installed" in err and "--feast-python" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--gate", "f1(amount) > 0"], "unknown function 'f1'"),
        (["--gate", "amount >"], "cannot parse gate"),
        (["--tolerance", "amount=-1"], "--tolerance 'amount=-1'"),
        (["--feature", "amount=nocolon"], "--feature 'amount=nocolon'"),
        (["--since", "yesterday"], "--since 'yesterday'"),
    ],
)
def test_malformed_options_are_exit_2_naming_the_option(setup, capsys, extra, message):
    url, repo = setup
    code, err = run(capsys, *base(url, repo, "--entity-key", "account_id"), *extra)
    assert code == 2 and message in err


def test_missing_event_log_file_is_exit_2(setup, capsys, tmp_path):
    _, repo = setup
    code, err = run(capsys, *base(f"sqlite:///{tmp_path}/none.db", repo, "-k", "account_id"))
    assert code == 2 and "no database file" in err


def test_a_window_without_requests_fails_every_gate_exit_1(setup, capsys, tmp_path):
    url, repo = setup
    out = tmp_path / "report.json"
    args = ["--store-url", url, "--feast-repo", repo, "--deployment", "fraud",
            "-k", "account_id", "--since", "2020-01-01", "--until", "2020-01-02",
            "--output", out]  # fmt: skip
    code, err = run(capsys, *args)
    report = json.loads(out.read_text())
    assert code == 1 and "no served request" in err
    assert report["compared"] == 0 and report["passed"] is False
    assert all(not g["passed"] for g in report["gates"])


def test_parse_time_accepts_durations_unix_seconds_and_iso_8601():
    assert parse_time("90m", now=10_000.0) == 10_000.0 - 5400
    assert parse_time("7d", now=1e6) == 1e6 - 7 * 86400
    assert parse_time("2025-11-30T01:00:00") == T0 + 3600  # no offset: UTC
    assert parse_time("2025-11-30T02:00:00+01:00") == T0 + 3600
    with pytest.raises(InputError, match="--until"):
        parse_time("soon", option="--until")


def test_entity_key_maps_a_logged_column_to_a_join_key():
    assert EntityKey.parse("account_id") == EntityKey("account_id", "account_id")
    assert EntityKey.parse("acct=account_id") == EntityKey("acct", "account_id")
    with pytest.raises(InputError):
        EntityKey.parse("acct=")


def test_config_file_rejects_unknown_fields(tmp_path):
    from accuguard.skew import load_skew_config

    path = tmp_path / "skew.yaml"
    path.write_text("tolerance: 0.1\nfeatures:\n  amount: {tolerence: 0.2}\n")
    with pytest.raises(ConfigError, match=r"skew.yaml: features.amount.tolerence: unknown field"):
        load_skew_config(path)


def test_tolerance_options_set_the_default_and_one_features_tolerance():
    from accuguard.skew import FeatureSettings, SkewConfig
    from accuguard.skew.cli import _with_overrides

    cfg = SkewConfig(features={"amount": FeatureSettings(drift="psi")})
    out = _with_overrides(cfg, ["0.5", "amount=0.01", "count=2"], 10)
    assert out.tolerance == 0.5 and out.max_rows == 10
    assert out.features["amount"] == FeatureSettings(drift="psi", tolerance=0.01)
    assert out.features["count"].tolerance == 2.0
