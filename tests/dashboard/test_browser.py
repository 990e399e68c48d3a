"""The dashboard end to end in real headless Chromium (Debian's ``chromium`` driven by
Playwright): a gateway with a real MLflow registry and a seeded event log, served over
HTTP on loopback by uvicorn. Checks what a user reads on each page, the action buttons
with no token, a viewer token and an operator token, and accessibility basics (labels,
text alternatives of charts, contrast of the stylesheet's colour pairs).

Needs ``ACCUGUARD_TEST_CHROMIUM`` (``.ci/run`` sets it to ``/usr/bin/chromium``).
Screenshots are kept in ``test-artifacts/dashboard/`` (gitignored).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import text

from accuguard.audit import AuditLog
from accuguard.auth import TokenStore
from accuguard.gateway import create_app
from accuguard.rollout.state import latest_rollout
from tests.dashboard.seed import DAY, load, make_rows
from tests.dashboard.test_accessibility import contrast
from tests.gateway.conftest import (  # noqa: F401 (session fixture)
    SALT,
    _registry_uri,
    make_config,
)
from tests.rollout.support_controller import Clock, controller, copy_registry, mlflow_client, store

CHROMIUM_ENV = "ACCUGUARD_TEST_CHROMIUM"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
PLAN = """
steps:
  - name: shadow
    mode: shadow
    min_requests: 1000
    gate:
      checks:
        - {check: error_rate, max: 0.2, min_samples: 10}
        - {check: disagreement_rate, max: 0.5, min_samples: 10}
  - name: canary-20
    mode: canary
    weight: 0.2
"""

HOW_TO_RUN = (
    f"browser tests skipped: apt-get install chromium chromium-driver, then export "
    f"{CHROMIUM_ENV}=/usr/bin/chromium (.ci/run does both)"
)


# skipped without Chromium, except in CI (``CI`` set), where its absence is a failure
pytestmark = pytest.mark.skipif(
    not os.environ.get(CHROMIUM_ENV) and not os.environ.get("CI"), reason=HOW_TO_RUN
)


@pytest.fixture(scope="module", autouse=True)
def _needs_chromium():
    if not os.environ.get(CHROMIUM_ENV):
        pytest.fail(f"{CHROMIUM_ENV} is not set in CI: {HOW_TO_RUN}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(app):
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def _log_validation_run(uri: str, folder: Path) -> str:
    client = mlflow_client(uri)
    exp = client.create_experiment("accuguard-validation", artifact_location=str(folder))
    run = client.create_run(exp)
    rid = run.info.run_id
    client.set_tag(rid, "accuguard.validation", "passed")
    client.set_tag(rid, "accuguard.model_uri", "models:/fraud/2")
    html = "<html><body><h1>Validation of fraud v2</h1><script>alert(1)</script></body></html>"
    client.log_text(rid, html, "accuguard/validation.html")
    client.set_terminated(rid)
    return rid


def _evaluate_gate(http, engine, registry: str) -> None:
    """Serve a few requests (the champion answers, v2 shadows them), then let one
    controller tick evaluate the shadow step's gate (it holds: too few requests)."""
    deadline = time.monotonic() + 30
    while "v2" not in http.get("/readyz").json()["deployments"]["fraud"]:
        assert time.monotonic() < deadline, "the rollout's shadow was not applied"
        time.sleep(0.1)
    for i in range(30):
        row = {"amount": 0.1 * i - 1.5, "age": 20 + i, "country": ["fr", "de", "us"][i % 3]}
        assert http.post("/v1/deployments/fraud/predict", json={"row": row}).is_success

    def pairs() -> int:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT count(*) FROM predictions WHERE variant = 'v2' AND mode = 'shadow'")
            ).scalar_one()

    while pairs() < 30:
        assert time.monotonic() < deadline, "the shadow's predictions were not written"
        time.sleep(0.1)
    controller(engine, mlflow_client(registry), Clock(time.time() + 1)).tick()
    assert latest_rollout(engine, "fraud").gate is not None


@pytest.fixture(scope="module")
def site(_registry_uri, tmp_path_factory):  # noqa: F811
    import mlflow

    tmp = tmp_path_factory.mktemp("dashboard-browser")
    registry = copy_registry(_registry_uri, tmp)
    engine = store(tmp)
    load(engine, make_rows(t0=time.time() - 2.5 * DAY))
    tokens = TokenStore(engine)
    ab = {
        "name": "b",
        "version": 2,
        "mode": "ab",
        "salt": "exp-1",
        "split": {"champion": 2, "b": 1},
    }
    config = make_config(
        registry,
        {"fraud": {"model": "fraud"}, "shop": {"model": "fraud", "challengers": [ab]}},
        store_url=f"sqlite:///{tmp / 'events.db'}",
        spool_dir=str(tmp / "spool"),
        controller={"enabled": False, "traffic_poll_s": 0.2},
    )
    app = create_app(
        config, privacy_salt=SALT, registry_client=mlflow_client(registry), store_engine=engine
    )
    run_id = _log_validation_run(registry, tmp / "artifacts")
    server, thread, base = _serve(app)
    operator = tokens.create("otto", "operator")
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            deadline = time.monotonic() + 90
            while http.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, http.get("/readyz").text
                time.sleep(0.1)
            started = http.post(
                "/v1/rollouts/fraud/start",
                json={"challenger": "models:/fraud/2", "plan": PLAN},
                headers={"Authorization": f"Bearer {operator}"},
            )
            assert started.status_code == 201, started.text
            _evaluate_gate(http, engine, registry)
        yield SimpleNamespace(
            base=base,
            engine=engine,
            operator=operator,
            viewer=tokens.create("vera", "viewer"),
            run_id=run_id,
        )
    finally:
        server.should_exit = True
        thread.join(30)
        mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=os.environ[CHROMIUM_ENV], headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def check_accessibility(page) -> None:
    """Every input has a label; every chart (svg) is an image with a text alternative."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.type !== 'hidden')
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.id || e.name || e.outerHTML)"""
    )
    assert unlabelled == []
    charts = page.evaluate(
        """() => [...document.querySelectorAll('figure svg, img')].map(e =>
            [e.getAttribute('role') || e.tagName, e.getAttribute('aria-label') ||
             e.getAttribute('alt') || ''])"""
    )
    for role, label in charts:
        assert role in ("img", "IMG") and label.strip(), (role, label)
    assert page.evaluate("() => document.documentElement.lang") == "en"


def test_deployments_page_lists_variants_versions_and_live_figures(page, site):
    page.goto(f"{site.base}/ui")
    assert page.title() == "Deployments · accuguard"
    text = page.get_by_role("table", name="Variants of fraud").inner_text()
    assert "champion" in text and "fraud v1" in text
    assert re.search(r"v2\s+shadow\s+fraud v2", text)  # the rollout's first step
    shop = page.get_by_role("table", name="Variants of shop").inner_text()
    assert re.search(r"champion\s+champion\s+fraud v1\s+66\.7 %", shop)
    assert re.search(r"b\s+ab\s+fraud v2\s+33\.3 %", shop)
    check_accessibility(page)
    shot(page, "deployments")


def test_rollout_page_shows_the_plan_the_gate_and_the_history(page, site):
    page.goto(f"{site.base}/ui/deployments/fraud/rollout")
    assert page.locator("#rollout-state").inner_text() in ("running", "paused", "promoted")
    steps = page.locator("ol.timeline li").all_inner_texts()
    assert [s.split("\n")[0] for s in steps][:2] == [
        "1. shadow (shadow)",
        "2. canary-20 (canary, 20.0 %)",
    ]
    gate = page.get_by_role("table", name=re.compile("Each check")).inner_text()
    # each check: status, value, threshold and its confidence interval
    assert re.search(r"error_rate\s+pass\s+0\s+0\.2\s+\[0, 0\.1\d+\]", gate), gate
    assert re.search(r"disagreement_rate\s+\w+\s+[\d.]+\s+0\.5\s+\[[\d.]+, [\d.]+\]", gate)
    assert "min_requests" in gate and "1000" in gate
    history = page.locator("section", has=page.locator("h2#history")).inner_text()
    assert "rollout.start" in history and "otto" in history
    check_accessibility(page)
    shot(page, "rollout")


def _act(page, action: str, token: str | None) -> str:
    if token is not None:
        page.fill("#token", token)
        page.click("#token-form button[type=submit]")
        assert page.locator("#token-status").inner_text() == "A token is set for this tab."
    page.click(f"button[data-action={action}]")
    assert page.locator("#confirm").is_visible()  # the confirmation step
    page.fill("#confirm-reason", f"{action} from the browser test")
    page.click("#confirm-go")
    message = page.locator("#action-message")
    message.wait_for(state="visible")
    return message.inner_text()


def test_actions_need_an_operator_token_and_are_audited(page, site):
    page.goto(f"{site.base}/ui/deployments/fraud/rollout")
    assert latest_rollout(site.engine, "fraud").state == "running"

    said = _act(page, "pause", None)  # no token: refused, nothing changes
    assert "refused (HTTP 401)" in said
    assert latest_rollout(site.engine, "fraud").state == "running"
    shot(page, "rollout-no-token")

    said = _act(page, "pause", site.viewer)  # a viewer: read-only
    assert "refused (HTTP 403)" in said and "operator" in said
    assert latest_rollout(site.engine, "fraud").state == "running"

    said = _act(page, "pause", site.operator)
    assert "pause: done, the rollout is now paused" in said
    page.wait_for_function(
        "() => document.querySelector('#rollout-state')"
        " && document.querySelector('#rollout-state').textContent === 'paused'"
    )
    assert latest_rollout(site.engine, "fraud").state == "paused"
    # the token stays in this tab's sessionStorage, never in the URL
    assert site.operator not in page.url
    assert page.evaluate("() => sessionStorage.getItem('accuguard.token')") == site.operator

    said = _act(page, "promote", None)  # the stored token is used
    assert "promote: done, the rollout is now promoted" in said
    page.wait_for_function(
        "() => document.querySelector('#rollout-state')"
        " && document.querySelector('#rollout-state').textContent === 'promoted'"
    )
    assert latest_rollout(site.engine, "fraud").state == "promoted"
    shot(page, "rollout-promoted")

    entries = AuditLog(site.engine).entries(deployment="fraud")
    acts = [(e.action, e.actor) for e in entries if e.action.startswith("rollout.")]
    assert ("rollout.pause", "otto") in acts and ("rollout.promote", "otto") in acts
    denied = [e for e in entries if e.action == "auth.denied"]
    assert {e.actor for e in denied} >= {"anonymous", "vera"}
    page.click("#token-forget")
    assert page.evaluate("() => sessionStorage.getItem('accuguard.token')") is None


def test_quality_page_shows_accuracy_disagreement_and_drift(page, site):
    page.goto(f"{site.base}/ui/deployments/fraud/quality?range=7d")
    acc = page.locator("section", has=page.locator("h2#acc")).locator("table").inner_text()
    assert "champion" in acc and "s1" in acc and "%" in acc
    dis = page.locator("section", has=page.locator("h2#dis")).locator("table").inner_text()
    assert re.search(r"s1\s+\d+\s+\d+\s+[\d.]+ %", dis)
    drift = page.locator("section", has=page.locator("h2#drift"))
    names = drift.locator("tbody td:first-child").all_inner_texts()
    assert set(names) == {"amount", "age", "country"}
    assert drift.locator("figure svg[role=img]").count() >= 2
    check_accessibility(page)
    shot(page, "quality")


def test_experiment_page_shows_arms_srm_lifts_and_sample_sizes(page, site):
    page.goto(f"{site.base}/ui/deployments/shop/experiment")
    text = page.locator("main").inner_text()
    assert "Units reached: champion 266, b 134" in text
    assert "Sample ratio check: no mismatch" in text
    rows = page.locator("section", has=page.locator("h2#seq")).locator("tbody tr")
    metrics = {r.split("\t")[0] for r in rows.all_inner_texts()}
    assert metrics == {"conversion", "revenue"}
    plan = page.locator("section", has=page.locator("h2#plan")).inner_text()
    assert "conversion" in plan and "%" in plan
    check_accessibility(page)
    shot(page, "experiment")


def test_validation_reports_are_listed_and_served_without_scripts(page, site):
    page.goto(f"{site.base}/ui/validation")
    section = page.locator("section", has=page.locator("h2", has_text="models:/fraud/2"))
    assert "passed" in section.inner_text()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    section.locator("a", has_text="HTML report").click()
    page.wait_for_url(f"**/ui/validation/{site.run_id}/report")
    assert page.locator("h1").inner_text() == "Validation of fraud v2"
    assert dialogs == []  # the report's scripts do not run (Content-Security-Policy)
    shot(page, "validation-report")


def test_rendered_body_text_contrast_from_computed_styles(page, site):
    page.goto(f"{site.base}/ui")
    fg, bg = page.evaluate(
        """() => { const s = getComputedStyle(document.body);
                   return [s.color, s.backgroundColor]; }"""
    )

    def hexed(css: str) -> str:
        r, g, b = (int(x) for x in re.findall(r"\d+", css)[:3])
        return f"#{r:02x}{g:02x}{b:02x}"

    assert contrast(hexed(fg), hexed(bg)) >= 4.5


def test_every_documented_page_answers_with_security_headers(site):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "dashboard.md").read_text()
    paths = re.findall(r"^\| `(/ui[^`]*)` \|", doc, re.M)
    values = {"{name}": "fraud", "{run_id}": site.run_id}
    with httpx.Client(base_url=site.base, timeout=30) as http:
        for path in paths:
            for key, value in values.items():
                path = path.replace(key, value)
            r = http.get(path)
            assert r.status_code == 200, (path, r.text[:300])
            assert "default-src 'none'" in r.headers["content-security-policy"]
        # the quick start's check
        assert "<h1>Deployments</h1>" in http.get("/ui").text
        missing = http.get("/ui/deployments/nope/rollout")
        assert missing.status_code == 404 and "Known: fraud, shop" in missing.text
        bad = http.get("/ui/deployments/fraud/quality?range=2w")
        assert bad.status_code == 400 and "range must be one of 1h, 24h" in bad.text
        assert http.get("/ui/validation/not-a-run/report").status_code == 404
        assert http.get("/ui/static/dashboard.css").headers["content-type"].startswith("text/css")
