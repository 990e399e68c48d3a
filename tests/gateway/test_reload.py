"""Hot reload: an alias move or a config edit takes effect with no failed request."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from accuguard.gateway import create_app
from tests.gateway.conftest import ROW, SALT, MemorySink, make_config, serving

TOKEN = "reload-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def mlflow_client(registry):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=registry[0], registry_uri=registry[0])


def test_alias_move_under_load_switches_version_with_zero_failed_requests(registry, mlflow_client):
    mlflow_client.set_registered_model_alias("fraud", "live", "1")
    config = make_config(registry[0], {"live": {"model": "fraud", "champion_alias": "live"}})
    app = create_app(config, sink=MemorySink(), privacy_salt=SALT, admin_token=TOKEN)

    async def main():
        gateway = app.state.gateway
        await gateway.start()
        while "live" not in gateway.reloader.deployments:
            await asyncio.sleep(0.02)
        results: list[tuple[int, str | None]] = []
        stop = asyncio.Event()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:

            async def stream():
                while not stop.is_set():
                    r = await client.post("/v1/deployments/live/predict", json={"row": ROW})
                    results.append((r.status_code, r.json().get("model_version")))

            streams = [asyncio.create_task(stream()) for _ in range(4)]
            await asyncio.sleep(0.3)
            await asyncio.to_thread(mlflow_client.set_registered_model_alias, "fraud", "live", "2")
            reload = await client.post("/v1/admin/reload", headers=AUTH)
            switched_at = len(results)
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.gather(*streams)
        await gateway.stop()
        return results, reload, switched_at

    results, reload, switched_at = asyncio.run(main())
    assert reload.status_code == 200, reload.text
    assert reload.json()["changes"] == [
        {"deployment": "live", "variant": "champion", "from": "fraud/1", "to": "fraud/2"}
    ]
    assert {status for status, _ in results} == {200}  # zero failed requests
    versions = [v for _, v in results]
    assert versions[0] == "1" and versions[-1] == "2"
    assert switched_at > 1 and len(results) > switched_at + 4  # traffic before and after
    assert "1" not in versions[switched_at + 4 :]  # at most the 4 in-flight ones finish on v1


def test_polling_picks_up_an_alias_move_without_an_admin_call(registry, mlflow_client):
    mlflow_client.set_registered_model_alias("fraud", "polled", "1")
    config = make_config(
        registry[0],
        {"polled": {"model": "fraud", "champion_alias": "polled"}},
        reload_interval_s=0.2,
    )
    with serving(config) as (client, _):
        url = "/v1/deployments/polled/predict"
        assert client.post(url, json={"row": ROW}).json()["model_version"] == "1"
        mlflow_client.set_registered_model_alias("fraud", "polled", "2")
        deadline = time.monotonic() + 20
        while client.post(url, json={"row": ROW}).json()["model_version"] != "2":
            assert time.monotonic() < deadline, "the alias move was not picked up"
            time.sleep(0.05)
        text = client.get("/metrics").text
        assert 'accuguard_model_info{deployment="polled",mode="champion",model="fraud",' in text
        assert 'model_version="2",variant="champion"} 1.0' in text


def test_editing_the_config_file_changes_weights_live_and_a_bad_edit_is_refused(registry, tmp_path):
    uri = registry[0]
    path = tmp_path / "deployments.yaml"

    def write(weight):
        path.write_text(
            f"mlflow_tracking_uri: {uri}\nreload_interval_s: 0\ndeployments:\n"
            "  fraud:\n    model: fraud\n    challengers:\n"
            f"      - {{name: v2, version: 2, mode: canary, weight: {weight}}}\n"
        )

    write(0)
    from accuguard.gateway.config import load_gateway_config

    config = load_gateway_config(path, env={})
    with serving(config, config_path=path, admin_token=TOKEN) as (client, _):

        def variants():
            return {
                client.post(
                    "/v1/deployments/fraud/predict", json={"row": ROW, "unit_id": f"u{i}"}
                ).json()["variant"]
                for i in range(20)
            }

        assert variants() == {"champion"}
        write(1)
        r = client.post("/v1/admin/reload", headers=AUTH)
        assert r.status_code == 200, r.text
        assert variants() == {"v2"}
        path.write_text("deployments:\n  fraud:\n    model: fraud\n    timeout_ms: -1\n")
        r = client.post("/v1/admin/reload", headers=AUTH)
        assert r.status_code == 502
        assert "deployments.fraud.timeout_ms" in r.json()["errors"]["(config)"]
        assert "keeping the running config" in r.json()["errors"]["(config)"]
        assert variants() == {"v2"}
