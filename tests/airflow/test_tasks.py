"""The DAGs' task bodies, conf checks and ``accuguard airflow install-dags``, without Airflow.

The registry calls go to a real MLflow SQLite registry; the rollout branch posts to a
real accuguard gateway app (the rollout admin API) with an operator token.
"""

from __future__ import annotations

import ast
import json
import re

import pytest

from accuguard.cli import main
from accuguard.errors import ConfigError, InputError
from accuguard.integrations.airflow import tasks
from accuguard.integrations.airflow.conf import (
    ValidationRunConf,
    parse_retrain_conf,
    parse_validation_conf,
)
from accuguard.integrations.airflow.install import DAG_FILES, install_dags
from accuguard.integrations.airflow.retrain import run_trainer


@pytest.fixture
def files(tmp_path):
    for name in ("cur.parquet", "ref.parquet", "plan.yaml"):
        (tmp_path / name).write_text("x")
    return tmp_path


def _conf(files, **extra):
    conf = {
        "model_name": "fraud",
        "alias": "challenger",
        "dataset_path": str(files / "cur.parquet"),
        "reference_path": str(files / "ref.parquet"),
        "target": "label",
        "gates": ["roc_auc >= 0.8", {"name": "no drift", "check": "drift.share <= 0.3"}],
    }
    conf.update(extra)
    return {k: v for k, v in conf.items() if v is not None}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"model_version": 3}, "conf.model_version: give either model_version or alias, not both"),
        ({"alias": None}, "conf.model_version: give either model_version or alias, one of them"),
        ({"dataset_path": "/nowhere.parquet"}, "conf.dataset_path: file not found"),
        ({"gates": []}, "conf.gates: give at least one gate"),
        ({"action": "deploy"}, "conf.action: Input should be 'promote', 'rollout' or 'tag'"),
        ({"action": "rollout"}, "conf.action: 'rollout' needs deployment and plan_path"),
        ({"model_name": "fraud; rm -rf /"}, "conf.model_name: String should match pattern"),
        ({"gate": ["f1 > 0"]}, "conf.gate: unknown field"),
        ({"model_version": "01", "alias": None}, "conf.model_version: String should match"),
    ],
)
def test_bad_validation_conf_is_refused_naming_the_field(files, extra, message):
    with pytest.raises(ConfigError) as exc:
        parse_validation_conf(_conf(files, **extra))
    assert message in str(exc.value)


def test_good_validation_conf_names_the_model_by_version_or_alias(files):
    assert parse_validation_conf(_conf(files)).model_ref == "models:/fraud@challenger"
    by_version = parse_validation_conf(_conf(files, alias=None, model_version=7))
    assert by_version.model_ref == "models:/fraud/7" and by_version.action == "promote"
    with pytest.raises(ConfigError, match="conf: expected a JSON object, got list"):
        parse_validation_conf([1, 2])


def test_retrain_conf_is_the_monitor_alert(files):
    conf = parse_retrain_conf(
        {"event": "accuracy_alert", "delivery": "d1", "alert": {"deployment": "fraud",
         "monitor": "accuracy", "value": 0.61, "threshold": 0.7, "extra": 1}}
    )  # fmt: skip
    assert conf.alert.deployment == "fraud" and conf.alert.value == 0.61
    with pytest.raises(ConfigError, match=r"conf\.alert\.deployment: Field required"):
        parse_retrain_conf({"event": "e", "delivery": "d", "alert": {"monitor": "m"}})


def test_trainer_output_is_checked_as_a_validation_conf(files, monkeypatch, tmp_path):
    module = tmp_path / "my_trainer.py"
    module.write_text(
        "def good(conf):\n"
        f"    return {{'model_name': 'fraud', 'model_version': 4, 'target': 'y',"
        f" 'dataset_path': {str(files / 'cur.parquet')!r},"
        f" 'reference_path': {str(files / 'ref.parquet')!r}, 'gates': ['f1 > 0.5']}}\n"
        "def bad(conf):\n    return {'model_name': 'fraud'}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = run_trainer("my_trainer:good", {"alert": {}})
    assert out["model_version"] == "4" and out["action"] == "promote"
    with pytest.raises(ConfigError, match=re.escape("conf.dataset_path: Field required")):
        run_trainer("my_trainer:bad", {})
    with pytest.raises(ConfigError, match=re.escape("trainer: expected 'package.module:function'")):
        run_trainer("os.system('x'):y", {})
    with pytest.raises(ConfigError, match=re.escape("trainer: cannot import 'my_trainer:missing'")):
        run_trainer("my_trainer:missing", {})


def test_install_dags_writes_both_dags_and_never_overwrites_an_edit(tmp_path, capsys):
    folder = tmp_path / "dags"
    written = install_dags(folder, trainer="pkg.train:main")
    assert sorted(p.name for p in written) == sorted(DAG_FILES)
    for path in written:
        ast.parse(path.read_text())  # valid Python
    assert 'TRAINER: str | None = "pkg.train:main"' in (folder / DAG_FILES[1]).read_text() or (
        "TRAINER: str | None = 'pkg.train:main'" in (folder / DAG_FILES[1]).read_text()
    )
    assert install_dags(folder, trainer="pkg.train:main") == written  # same content: fine
    (folder / DAG_FILES[0]).write_text("# my edit\n")
    with pytest.raises(SystemExit) as exc:
        main(["airflow", "install-dags", str(folder)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "accuracy_validation_dag.py: exists with other content; use --force" in err
    assert "Traceback" not in err
    with pytest.raises(SystemExit) as exc:
        main(["airflow", "install-dags", str(folder), "--force"])
    assert exc.value.code in (0, None)
    assert "# my edit" not in (folder / DAG_FILES[0]).read_text()
    with pytest.raises(InputError, match="--trainer: expected"):
        install_dags(tmp_path / "other", trainer="x; y")


# -- registry decisions (real MLflow SQLite registry) ---------------------------------


@pytest.fixture
def mlflow_registry(tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("fraud")
    for _ in range(3):
        client.create_model_version("fraud", source=str(tmp_path / "model"))
    client.set_registered_model_alias("fraud", "champion", "1")
    client.set_registered_model_alias("fraud", "challenger", "3")
    return client


def _result(version: str, passed: bool = True) -> dict:
    return {
        "passed": passed,
        "model_name": "fraud",
        "model_version": version,
        "model_uri": f"models:/fraud/{version}",
        "gates": [{"name": "roc_auc >= 0.8", "passed": passed}],
    }


def test_alias_resolves_to_a_pinned_version_and_unknown_ones_are_named(files, mlflow_registry):
    conf = parse_validation_conf(_conf(files))
    assert tasks.resolve_version(conf, mlflow_registry) == "3"
    pinned = parse_validation_conf(_conf(files, alias=None, model_version=2))
    assert tasks.resolve_version(pinned, mlflow_registry) == "2"
    missing = parse_validation_conf(_conf(files, alias="nope"))
    with pytest.raises(InputError, match=re.escape("conf.alias: fraud@nope not found")):
        tasks.resolve_version(missing, mlflow_registry)
    with pytest.raises(
        InputError, match=re.escape("conf.model_version: fraud version 9 not found")
    ):
        tasks.resolve_version(
            parse_validation_conf(_conf(files, alias=None, model_version=9)), mlflow_registry
        )


def test_branches_promote_tag_or_reject(mlflow_registry):
    assert tasks.choose_branch(_result("3"), "promote") == "promote"
    assert tasks.choose_branch(_result("3"), "rollout") == "start_rollout"
    assert tasks.choose_branch(_result("3"), "tag") == "tag_only"
    assert tasks.choose_branch(_result("3", passed=False), "promote") == "reject"

    out = tasks.promote(_result("3"), "champion", mlflow_registry)
    assert out == {"decision": "promoted", "alias": "champion", "version": "3", "previous": "1"}
    aliases = mlflow_registry.get_registered_model("fraud").aliases
    assert (aliases["champion"], aliases["previous"]) == (3, 1)
    assert mlflow_registry.get_model_version("fraud", "3").tags[tasks.DECISION_TAG] == "promoted"

    again = tasks.promote(_result("3"), "champion", mlflow_registry)  # a retried task
    assert mlflow_registry.get_registered_model("fraud").aliases["previous"] == 1
    assert again["previous"] == "3"

    rejected = tasks.reject(_result("2", passed=False), mlflow_registry)
    assert rejected["failed_gates"] == ["roc_auc >= 0.8"]
    assert mlflow_registry.get_model_version("fraud", "2").tags[tasks.DECISION_TAG] == "rejected"
    tasks.tag_only(_result("1"), mlflow_registry)
    assert mlflow_registry.get_model_version("fraud", "1").tags[tasks.DECISION_TAG] == "tagged"


def test_rollout_dry_run_records_the_request_and_sends_nothing(files, mlflow_registry):
    out = tasks.start_rollout(
        _result("3"), "fraud", str(files / "plan.yaml"), "http://gw:8000", None,
        dry_run=True, http=object(), client=mlflow_registry,
    )  # fmt: skip
    assert out == {
        "decision": "rollout_dry_run",
        "url": "http://gw:8000/v1/rollouts/fraud/start",
        "challenger": "models:/fraud/3",
    }
    tag = mlflow_registry.get_model_version("fraud", "3").tags[tasks.DECISION_TAG]
    assert tag == "rollout_dry_run"
    with pytest.raises(ConfigError, match="admin token: empty"):
        tasks.start_rollout(
            _result("3"), "fraud", str(files / "plan.yaml"), "http://gw", "", client=mlflow_registry
        )
    with pytest.raises(ConfigError, match="gateway URL: expected"):
        tasks.start_rollout(
            _result("3"), "fraud", str(files / "plan.yaml"), "file:///etc", "t", dry_run=True
        )


def test_rollout_branch_starts_a_rollout_in_a_real_gateway(registry_for_gateway, tmp_path):
    from tests.gateway.conftest import client_for
    from tests.rollout.support_controller import mlflow_client
    from tests.rollout.test_api import PLAN_YAML, gateway_app

    gw = gateway_app(registry_for_gateway, tmp_path, {"fraud": {"model": "fraud"}})
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN_YAML)
    registry = mlflow_client(registry_for_gateway)
    with client_for(gw.app) as http:
        out = tasks.start_rollout(
            _result("2"), "fraud", str(plan), "http://testserver", gw.operator,
            http=http, client=registry,
        )  # fmt: skip
        assert out["decision"] == "rollout_started"
        assert out["rollout"]["state"] == "running" and out["rollout"]["variant"] == "v2"
        status = http.get("/v1/rollouts/fraud", headers={"Authorization": f"Bearer {gw.viewer}"})
        assert status.json()["step"]["name"] == "shadow"
        with pytest.raises(InputError, match="HTTP 401"):
            tasks.start_rollout(
                _result("2"), "fraud", str(plan), "http://testserver", "wrong", http=http,
                client=registry,
            )  # fmt: skip
    assert registry.get_model_version("fraud", "2").tags[tasks.DECISION_TAG] == "rollout_started"
    assert json.dumps(out)  # the XCom is JSON


@pytest.fixture
def registry_for_gateway(_registry_uri, tmp_path):
    from tests.rollout.support_controller import copy_registry

    return copy_registry(_registry_uri, tmp_path)


def test_docs_examples_are_valid_confs_and_commands(files, tmp_path):
    """docs/airflow.md: its conf examples pass the DAGs' checks, its commands exist."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "airflow.md").read_text()
    trigger = re.search(r"--conf '(\{.*?\})'", text, re.S)
    assert trigger is not None
    conf = json.loads(trigger.group(1))
    conf.update(dataset_path=str(files / "cur.parquet"), reference_path=str(files / "ref.parquet"))
    assert parse_validation_conf(conf).model_ref == "models:/fraud@challenger"
    alert = re.search(r"```json\n(.*?)```", text, re.S)
    assert alert is not None
    parsed = parse_retrain_conf(json.loads(alert.group(1).replace('"0b6f6c1e-..."', '"d"')))
    assert parsed.alert.monitor == "input_drift"
    for message in re.findall(r"^(conf\.[a-z_]+: .*)$", text, re.M):
        field = message.split(":")[0]
        assert field.removeprefix("conf.") in ValidationRunConf.model_fields, message
    assert "accuguard airflow install-dags" in text
    assert set(DAG_FILES) <= set(re.findall(r"`(\w+\.py)`", text))


def test_doctests_of_the_airflow_modules():
    import doctest

    from accuguard.integrations.airflow import conf, retrain

    for module in (conf, retrain):
        failed, tried = doctest.testmod(module)
        assert tried and not failed, module.__name__
