"""deployments.yaml: defaults, environment overrides, and errors naming file and field."""

from __future__ import annotations

import pytest

from accuguard.errors import ConfigError
from accuguard.gateway.cli import serve_command
from accuguard.gateway.config import load_gateway_config

EXAMPLE = """
store_url: sqlite:///events.db
batching: {max_batch_size: 32, max_wait_ms: 1}
deployments:
  fraud:
    model: fraud
    timeout_ms: 250
    challengers:
      - {name: v2, alias: challenger, mode: shadow}
      - {name: v3, version: 3, mode: canary, weight: 0.05}
      - {name: b, alias: b, mode: ab, salt: fraud-ab-1, split: {champion: 50, b: 50}}
"""


def write(tmp_path, text):
    path = tmp_path / "deployments.yaml"
    path.write_text(text)
    return path


def test_example_file_loads_with_defaults_filled_in(tmp_path):
    cfg = load_gateway_config(write(tmp_path, EXAMPLE), env={})
    dep = cfg.deployments["fraud"]
    assert cfg.store_url == "sqlite:///events.db"
    assert (cfg.batching.max_batch_size, cfg.batching.max_wait_ms) == (32, 1.0)
    assert dep.champion_alias == "champion"
    assert dep.timeout_ms == 250
    assert [c.mode for c in dep.challengers] == ["shadow", "canary", "ab"]
    assert dep.challenger("v3").version == 3
    assert cfg.reload_interval_s == 30
    assert cfg.privacy_salt_env == "ACCUGUARD_PRIVACY_SALT"
    assert cfg.tracing.exporter == "none"


def test_no_file_gives_the_defaults():
    cfg = load_gateway_config(None, env={})
    assert cfg.store_url == "sqlite:///accuguard.db"
    assert (cfg.batching.max_batch_size, cfg.batching.max_wait_ms) == (64, 2.0)
    assert cfg.mlflow_tracking_uri is None  # MLflow's own default / MLFLOW_TRACKING_URI
    assert cfg.deployments == {}


def test_environment_overrides_the_file(tmp_path):
    env = {
        "ACCUGUARD_STORE_URL": "postgresql+psycopg://u@h/db",
        "ACCUGUARD_MAX_WAIT_MS": "0.5",
        "ACCUGUARD_RELOAD_INTERVAL_S": "5",
        "ACCUGUARD_TRACING_EXPORTER": "console",
    }
    cfg = load_gateway_config(write(tmp_path, EXAMPLE), env=env)
    assert cfg.store_url == "postgresql+psycopg://u@h/db"
    assert cfg.batching.max_wait_ms == 0.5
    assert cfg.batching.max_batch_size == 32  # the file's other batching field is kept
    assert cfg.reload_interval_s == 5
    assert cfg.tracing.exporter == "console"


def test_a_bad_environment_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match=r"reload_interval_s: .*'soon'.*ACCUGUARD_RELOAD"):
        load_gateway_config(None, env={"ACCUGUARD_RELOAD_INTERVAL_S": "soon"})


@pytest.mark.parametrize(
    ("challenger", "message"),
    [
        ("{name: v2, mode: canary, version: 2}", r"challengers\.0: .*a canary needs a weight"),
        ("{name: v2, mode: shadow}", r"challengers\.0: .*exactly one of version or alias"),
        (
            "{name: v2, mode: shadow, version: 2, alias: x}",
            r"challengers\.0: .*exactly one of version or alias",
        ),
        ("{name: v2, mode: canary, version: 2, weight: 1.5}", r"challengers\.0\.weight: .*1\.5"),
        ("{name: v2, mode: blue, version: 2}", r"challengers\.0\.mode: .*'blue'"),
        (
            "{name: v2, mode: ab, version: 2}",
            r"challengers\.0: an ab challenger needs salt .* and split",
        ),
        (
            "{name: v2, mode: ab, version: 2, salt: s, split: {v2: 1}}",
            r"challengers\.0: split must name 'champion' and 'v2'",
        ),
        (
            "{name: champion, mode: shadow, version: 2}",
            r"challengers\.0: name 'champion' is reserved",
        ),
        ("{name: v2, mode: shadow, version: 2, wieght: 1}", r"challengers\.0\.wieght: unknown"),
    ],
)
def test_bad_challenger_is_an_error_naming_file_and_field(tmp_path, challenger, message):
    path = write(
        tmp_path,
        f"deployments:\n  fraud:\n    model: fraud\n    challengers:\n      - {challenger}\n",
    )
    with pytest.raises(ConfigError, match=rf"deployments\.yaml: deployments\.fraud\.{message}"):
        load_gateway_config(path, env={})


def test_canary_weights_over_one_are_refused(tmp_path):
    path = write(
        tmp_path,
        "deployments:\n  fraud:\n    model: fraud\n    challengers:\n"
        "      - {name: a, version: 2, mode: canary, weight: 0.6}\n"
        "      - {name: b, version: 3, mode: canary, weight: 0.6}\n",
    )
    with pytest.raises(ConfigError, match=r"deployments\.fraud: .*canary weights add up to 1\.2"):
        load_gateway_config(path, env={})


def test_arms_of_one_experiment_must_agree_on_the_split(tmp_path):
    path = write(
        tmp_path,
        "deployments:\n  fraud:\n    model: fraud\n    challengers:\n"
        "      - {name: b, version: 2, mode: ab, salt: e, split: {champion: 1, b: 1, c: 1}}\n"
        "      - {name: c, version: 3, mode: ab, salt: e, split: {champion: 2, b: 1, c: 1}}\n",
    )
    with pytest.raises(ConfigError, match=r"share salt 'e' .* but give different splits"):
        load_gateway_config(path, env={})


def test_deployment_names_must_be_url_safe(tmp_path):
    path = write(tmp_path, "deployments:\n  'fraud v2': {model: fraud}\n")
    with pytest.raises(ConfigError, match=r"deployment names must match .*\['fraud v2'\]"):
        load_gateway_config(path, env={})


def test_malformed_yaml_and_missing_file_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"deployments\.yaml: malformed YAML at line 3"):
        load_gateway_config(write(tmp_path, "deployments:\n  fraud: [\n"), env={})
    with pytest.raises(ConfigError, match=r"nope\.yaml: config file not found"):
        load_gateway_config(tmp_path / "nope.yaml", env={})
    with pytest.raises(ConfigError, match="expected a mapping at the top level, got list"):
        load_gateway_config(write(tmp_path, "- 1\n"), env={})


def test_serve_command_reports_a_bad_config_before_starting(tmp_path):
    path = write(tmp_path, "batching: {max_batch_size: 0}\n")
    with pytest.raises(ConfigError, match=r"deployments\.yaml: batching\.max_batch_size: .*0"):
        serve_command(path, port=0)


def test_serve_command_needs_the_privacy_salt(tmp_path, monkeypatch):
    monkeypatch.delenv("ACCUGUARD_PRIVACY_SALT", raising=False)
    with pytest.raises(ConfigError, match="ACCUGUARD_PRIVACY_SALT is not set"):
        serve_command(write(tmp_path, "deployments: {}\n"), port=0)
