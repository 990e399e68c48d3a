"""The dashboard's Starlette routes, mounted by the gateway under ``/ui`` (docs/dashboard.md).

======================================  ==============================================
path                                    page
======================================  ==============================================
``/ui``                                 deployments: variants, weights, live figures
``/ui/deployments/{name}/rollout``      rollout steps, gate checks, decisions, actions
``/ui/deployments/{name}/quality``      accuracy, shadow disagreement, feature drift
``/ui/deployments/{name}/experiment``   A/B arms, SRM, lifts, sample sizes
``/ui/validation``                      validation runs per model version (MLflow)
``/ui/validation/{run_id}/report``      a run's HTML report (from its artifacts)
``/ui/static/...``                      the CSS and the one script, from the package
======================================  ==============================================

Pages are read-only and server-rendered. The action buttons call the admin API
(``POST /v1/rollouts/{deployment}/{action}``) from the browser with the operator token
the user typed (kept in ``sessionStorage``, sent only in the ``Authorization``
header); the API checks the role and audits the action.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from accuguard.dashboard import pages, validation

if TYPE_CHECKING:
    from accuguard.gateway.app import Gateway

STATIC = Path(__file__).parent / "static"
#: Pages render server-side: no inline script, no third-party origin.
CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'"
)
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{float(value):.{digits}g}"


def _pct(value: Any) -> str:
    if value is None:
        return "-"
    return f"{float(value) * 100:.1f} %"


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("accuguard.dashboard", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, num=_num, pct=_pct)
    return env


class PageCache:
    """Page contexts kept for a short time, so that a page over a long range (a full scan
    of its time range) is computed once per ``ttl`` however many people look at it.

    At most ``size`` entries (the oldest goes first); thread-safe.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, key: tuple[Any, ...], ttl: float, compute: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """The cached context of ``key`` if younger than ``ttl`` seconds, else ``compute()``."""
        now = time.monotonic()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and now - found[0] < ttl:
                return found[1]
        context = compute()
        context["computed_at"] = time.time()
        with self._lock:
            self._entries[key] = (now, context)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return context


def _ttl(span: pages.Range) -> float:
    """How long a page over ``span`` is reused: a tenth of a bucket, 10 s to 5 minutes."""
    return float(min(300.0, max(10.0, span.width / 10)))


class Dashboard:
    """The page handlers, bound to one gateway."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.env = _env()
        self.cache = PageCache()

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        """An HTML page with the dashboard's security headers."""
        html = self.env.get_template(template).render(**context)
        headers = {
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }
        return HTMLResponse(html, status, headers=headers)

    def _known(self, request: Request) -> str | None:
        name = str(request.path_params["name"])
        return name if name in self.gateway.reloader.config.deployments else None

    def _missing(self, request: Request) -> HTMLResponse:
        known = sorted(self.gateway.reloader.config.deployments)
        message = f"No deployment {request.path_params['name']!r}. Known: {', '.join(known)}."
        return self.render("error.html.j2", 404, title="Not found", message=message)

    async def index(self, request: Request) -> Response:
        """``GET /ui``: the deployments."""
        minutes = _int(request.query_params.get("minutes"), 15, 1, 24 * 60)
        context = await run_in_threadpool(pages.deployments_page, self.gateway, minutes)
        return self.render("deployments.html.j2", **context)

    async def rollout(self, request: Request) -> Response:
        """``GET /ui/deployments/{name}/rollout``."""
        name = self._known(request)
        if name is None:
            return self._missing(request)
        context = await run_in_threadpool(pages.rollout_page, self.gateway, name)
        return self.render("rollout.html.j2", **context)

    async def quality(self, request: Request) -> Response:
        """``GET /ui/deployments/{name}/quality?range=24h``."""
        name = self._known(request)
        if name is None:
            return self._missing(request)
        span = pages.RANGES.get(request.query_params.get("range", "24h"))
        if span is None:
            message = f"range must be one of {', '.join(pages.RANGES)}"
            return self.render("error.html.j2", 400, title="Bad range", message=message)
        context = await run_in_threadpool(
            self.cache.get,
            ("quality", name, span.name),
            _ttl(span),
            lambda: pages.quality_page(self.gateway, name, span),
        )
        return self.render("quality.html.j2", **context)

    async def experiment(self, request: Request) -> Response:
        """``GET /ui/deployments/{name}/experiment?range=30d&mde=0.05``."""
        name = self._known(request)
        if name is None:
            return self._missing(request)
        span = pages.RANGES.get(request.query_params.get("range", "30d"))
        mde = _float(request.query_params.get("mde"), 0.05, 0.001, 10.0)
        if span is None or mde is None:
            message = f"range must be one of {', '.join(pages.RANGES)}; mde in [0.001, 10]"
            return self.render("error.html.j2", 400, title="Bad parameter", message=message)
        context = await run_in_threadpool(
            self.cache.get,
            ("experiment", name, span.name, mde),
            _ttl(span),
            lambda: pages.experiment_page(self.gateway, name, span, mde),
        )
        return self.render("experiment.html.j2", **context)

    def _client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.gateway.config.mlflow_tracking_uri)

    async def validations(self, request: Request) -> Response:
        """``GET /ui/validation``: validation runs grouped by model version."""
        try:
            runs = await run_in_threadpool(validation.validation_runs, self._client())
            error = None
        except Exception as exc:  # tracking server down: say so
            runs, error = [], f"MLflow cannot be read: {type(exc).__name__}"
        return self.render("validation.html.j2", models=validation.by_model(runs), error=error)

    async def validation_report(self, request: Request) -> Response:
        """``GET /ui/validation/{run_id}/report``: the run's HTML report, scripts disabled."""
        run_id = str(request.path_params["run_id"])
        html = await run_in_threadpool(validation.html_report, self._client(), run_id)
        if html is None:
            message = f"No validation run {run_id!r} with an HTML report."
            return self.render("error.html.j2", 404, title="Not found", message=message)
        headers = {"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"}
        return HTMLResponse(html, headers=headers)


def _int(text: str | None, default: int, lo: int, hi: int) -> int:
    try:
        value = int(text) if text else default
    except ValueError:
        return default
    return min(max(value, lo), hi)


def _float(text: str | None, default: float, lo: float, hi: float) -> float | None:
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        return None
    return value if lo <= value <= hi else None


def dashboard_routes(gateway: Gateway) -> list[BaseRoute]:
    """The ``/ui`` routes of ``gateway`` (add them to the app's route list)."""
    d = Dashboard(gateway)
    base = "/ui/deployments/{name}"
    return [
        Route("/ui", d.index, methods=["GET"]),
        Route("/ui/", lambda r: RedirectResponse("/ui", 308), methods=["GET"]),
        Route(f"{base}/rollout", d.rollout, methods=["GET"]),
        Route(f"{base}/quality", d.quality, methods=["GET"]),
        Route(f"{base}/experiment", d.experiment, methods=["GET"]),
        Route("/ui/validation", d.validations, methods=["GET"]),
        Route("/ui/validation/{run_id}/report", d.validation_report, methods=["GET"]),
        Mount("/ui/static", app=StaticFiles(directory=STATIC), name="dashboard-static"),
    ]
