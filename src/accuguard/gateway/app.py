"""The gateway's ASGI app (Starlette): predict, feedback, events, health, metrics, admin.

Routes (docs/gateway.md has the full API with curl examples):

- ``POST /v1/deployments/{name}/predict``: ``{"rows": [{col: value}, ...]}`` or
  ``{"row": {...}}``, optional ``"unit_id"`` (or header ``X-Unit-Id``); answers
  ``{"request_id", "deployment", "variant", "model_version", "predictions", "scores"?}``;
- ``POST /v1/feedback``: ``{"items": [{"request_id", "label"}]}`` (202);
- ``POST /v1/events``: ``{"events": [{"unit_id", "name", "value", "event_id"?,
  "deployment"?}]}`` (202);
- ``GET /healthz`` (alive), ``GET /readyz`` (models loaded and event log ready, else
  503), ``GET /metrics`` (Prometheus);
- ``POST /v1/admin/reload`` (``Authorization: Bearer $ACCUGUARD_ADMIN_TOKEN``).

Request path of a prediction: read the body (bounded) -> validate against the
champion's signature -> choose the variant for the unit -> micro-batched model call
(worker thread, per-variant timeout; a failing canary/A/B challenger falls back to
the champion) -> queue the prediction records (non-blocking) -> respond; shadows are
started after the response is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accuguard.gateway._http import (
    JSON,
    error_response,
    http_error,
    json_bytes,
    json_response,
    read_body,
)
from accuguard.gateway.batcher import BatcherClosed, BatcherOverloaded
from accuguard.gateway.config import CHAMPION, GatewayConfig, load_gateway_config
from accuguard.gateway.fastpath import GatewayApp
from accuguard.gateway.metrics import CONTENT_TYPE, GatewayMetrics
from accuguard.gateway.models import BatchOutput
from accuguard.gateway.reload import Reloader
from accuguard.gateway.shadow import ShadowRunner
from accuguard.gateway.state import DeploymentState, Variant
from accuguard.gateway.tracing import make_tracing
from accuguard.gateway.validation import (
    RequestError,
    check_rows,
    event_items,
    feedback_items,
    parse_json,
    predict_payload,
    request_id_from_header,
)
from accuguard.privacy import hash_unit, salt_from_env, unit_hasher
from accuguard.store.records import (
    BusinessEventRecord,
    EventSink,
    FeedbackRecord,
    PredictionRecord,
)

log = logging.getLogger("accuguard.gateway")
CONFIG_ENV = "ACCUGUARD_CONFIG"
GIL_SWITCH_S = 0.001
WORKERS_ENV = "ACCUGUARD_WORKERS"


class Gateway:
    """The gateway's state and request handlers (one per app)."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        sink: EventSink | None = None,
        config_path: Path | None = None,
        registry_client: Any = None,
        privacy_salt: str | bytes | None = None,
        admin_token: str | None = None,
        workers: int = 1,
        store_engine: Any = None,
    ) -> None:
        self.config = config
        self.metrics = GatewayMetrics()
        self.tracing = make_tracing(config.tracing)
        self.reloader = Reloader(
            config, self.metrics, self.tracing, config_path=config_path, client=registry_client
        )
        self.reloader.callers = lambda: self.in_flight  # batches go once every caller queued
        self._given_sink = sink
        self.sink: EventSink | None = sink
        self.shadows: ShadowRunner | None = None
        if config.hash_unit_ids:
            self._salt: bytes | str | None = (
                privacy_salt if privacy_salt is not None else salt_from_env(config.privacy_salt_env)
            )
        else:
            self._salt = None
        self._hash_unit = unit_hasher(self._salt) if self._salt is not None else str
        self._admin_token = (
            admin_token if admin_token is not None else os.environ.get(config.admin_token_env, "")
        )
        self._workers = workers
        self.rollouts = _rollout_service(
            config, self.reloader, sink, store_engine, registry_client, self._admin_token
        )
        self.draining = False
        self.in_flight: int = 0
        self._idle = asyncio.Event()
        self._background: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Open the event log, then load the models in the background (see ``/readyz``)."""
        # the event loop waits at most this long for the GIL held by a model or event-log
        # thread (Python's default, 5 ms, shows in the tail latency)
        sys.setswitchinterval(GIL_SWITCH_S)
        if self.config.mlflow_tracking_uri:
            import mlflow

            mlflow.set_tracking_uri(self.config.mlflow_tracking_uri)  # the registry follows
        if self.sink is None:
            self.sink = _open_writer(self.config, self._workers)
        self.metrics.watch_sink(self.sink.stats)
        self.metrics.ready.set_function(lambda: 0.0 if self.not_ready() else 1.0)
        if self.rollouts is not None:  # monitor and rollout gauges (quality_metrics.py)
            from accuguard.gateway.quality_metrics import watch_quality

            watch_quality(self.metrics.registry, self.rollouts)
        self.shadows = ShadowRunner(self.metrics, self.sink, self.config.shadow_max_in_flight)
        self._idle.set()
        if self.rollouts is not None:  # reads the active rollouts before the first load
            await self.rollouts.start()
        self._background = asyncio.get_running_loop().create_task(self._load_and_poll())

    async def _load_and_poll(self) -> None:
        delay = 0.5
        while True:  # first load: retry until every deployment has its models
            try:
                await self.reloader.reload()
            except Exception:
                log.exception("loading the models failed")
            if set(self.reloader.deployments) >= set(self.reloader.config.deployments):
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        if self.config.reload_interval_s > 0:
            await self.reloader.run(self.config.reload_interval_s)

    async def stop(self) -> None:
        """Refuse new requests, drain the in-flight ones, stop the models, flush events."""
        self.draining = True
        timeout = self.config.shutdown_timeout_s
        if self.in_flight:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._idle.wait()
        if self.rollouts is not None:
            await self.rollouts.stop()
        if self._background is not None:
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._background
        if self.shadows is not None:
            await self.shadows.drain(min(timeout, 5.0))
        await self.reloader.close(timeout)
        if self.sink is not None:
            sink = self.sink
            if self._given_sink is None:
                await asyncio.to_thread(sink.close, timeout)
            else:
                await asyncio.to_thread(sink.flush, timeout)
        self.tracing.shutdown()

    def _enter(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def _leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    # -- predict -----------------------------------------------------------------

    async def predict(self, request: Request) -> Response:
        """``POST /v1/deployments/{name}/predict`` (the Starlette route; see ``fastpath``)."""
        headers = request.headers
        limit = self.config.limits.max_body_bytes
        status, body, extra, mirror = await self.answer_predict(
            request.path_params["name"],
            lambda: read_body(request, limit),
            headers.get("x-unit-id"),
            headers.get("x-request-id"),
        )
        background = BackgroundTask(self._mirror, *mirror) if mirror is not None else None
        return Response(body, status, headers=extra, media_type=JSON, background=background)

    async def answer_predict(
        self,
        name: str,
        read: Callable[[], Awaitable[bytes]],
        unit_header: str | None,
        id_header: str | None,
    ) -> tuple[int, bytes, dict[str, str] | None, tuple[Any, ...] | None]:
        """A prediction's answer: status, JSON body, extra headers, and the arguments of
        :meth:`ShadowRunner.mirror` to call once the answer is sent (None: no shadow).

        ``read`` reads the request body (bounded); the headers are ``X-Unit-Id`` and
        ``X-Request-Id``.
        """
        t0 = time.perf_counter()
        self._enter()
        try:
            return await self._predict(name, read, unit_header, id_header, t0)
        except RequestError as exc:
            self.metrics.errors.labels(name, exc.code).inc()
            headers = {"Retry-After": "1"} if exc.status == 503 else None
            return exc.status, json_bytes(exc.body()), headers, None
        finally:
            self._leave()

    def mirror_now(self, mirror: tuple[Any, ...]) -> None:
        """Start the shadow calls of an answer already sent (see :meth:`answer_predict`)."""
        if self.shadows is not None and not self.draining:
            self.shadows.mirror(*mirror)

    async def _predict(
        self,
        name: str,
        read: Callable[[], Awaitable[bytes]],
        unit_header: str | None,
        id_header: str | None,
        t0: float,
    ) -> tuple[int, bytes, dict[str, str] | None, tuple[Any, ...] | None]:
        if self.draining:
            raise RequestError(503, "shutting_down", "the gateway is shutting down; retry")
        self._deployment(name)  # 404 before reading the body
        payload = parse_json(await read())
        raw_rows, unit, where = predict_payload(payload, unit_header)
        request_id = request_id_from_header(id_header) or uuid.uuid4().hex
        state = self._deployment(name)
        handle = state.champion.model.handle
        rows = check_rows(
            raw_rows, handle.columns, handle.allow_missing, self.config.limits.max_rows, where
        )
        unit = unit if unit is not None else request_id
        choice = state.router.choose(unit)
        if choice.variant == CHAMPION:
            try:
                out, served = await self._score(name, state.champion, rows)
            except RequestError:
                raise
            except Exception as exc:
                raise _model_error(exc, state.champion) from exc
            return self._respond(
                name, request_id, unit, rows, out, served, t0, served.mode, served.name, None
            )
        challenger = state.challengers.get(choice.variant)
        if challenger is None:  # it failed to load: the champion answers its units
            reason = "unavailable"
            error = f"{choice.mode} {choice.variant} is not loaded"
        else:
            try:
                out, served = await self._score(name, challenger, rows)
            except RequestError:
                raise
            except Exception as exc:
                reason = "timeout" if isinstance(exc, TimeoutError) else "error"
                error = _describe(exc, challenger)
            else:
                return self._respond(
                    name, request_id, unit, rows, out, served, t0, choice.mode, served.name, None
                )
        self.metrics.fallbacks.labels(name, choice.variant, reason).inc()
        log.warning("deployment %s: %s; the champion answers", name, error)
        champion = self._deployment(name).champion
        try:
            out, served = await self._score(name, champion, rows)
        except Exception as exc:
            raise _model_error(exc, champion) from exc
        return self._respond(
            name, request_id, unit, rows, out, served, t0, choice.mode, choice.variant, error
        )

    def _deployment(self, name: str) -> DeploymentState:
        state = self.reloader.deployments.get(name)
        if state is not None:
            return state
        if name in self.reloader.config.deployments:
            why = self.reloader.errors.get(name, "its models are still loading")
            raise RequestError(503, "not_ready", f"deployment {name!r} is not ready: {why}")
        known = ", ".join(sorted(self.reloader.config.deployments)) or "none"
        raise RequestError(
            404, "unknown_deployment", f"no deployment {name!r}; known: {known}", "name"
        )

    async def _score(
        self, name: str, variant: Variant, rows: list[dict[str, Any]]
    ) -> tuple[BatchOutput, Variant]:
        loop = asyncio.get_running_loop()
        for attempt in (0, 1):
            try:
                future = variant.model.batcher.enqueue(rows)
                # a timer on the future, cheaper than asyncio.timeout: on expiry the
                # future fails with TimeoutError and the batcher skips the rows if not
                # already in a model call
                timer = loop.call_later(variant.timeout_s, _expire, future)
                try:
                    return await future, variant
                finally:
                    timer.cancel()
            except BatcherClosed:  # retired by a reload just now: use what serves now
                state = self._deployment(name)
                fresh = (
                    state.champion
                    if variant.mode == CHAMPION
                    else state.challengers.get(variant.name)
                )
                if attempt or fresh is None:
                    raise
                variant = fresh
        raise AssertionError("unreachable")  # pragma: no cover

    def _respond(
        self,
        name: str,
        request_id: str,
        unit: str,
        rows: list[dict[str, Any]],
        out: BatchOutput,
        served: Variant,
        t0: float,
        mode: str,
        assigned: str,
        error: str | None,
    ) -> tuple[int, bytes, dict[str, str] | None, tuple[Any, ...] | None]:
        latency = time.perf_counter() - t0
        n = len(rows)
        row_ids = [request_id] if n == 1 else [f"{request_id}:{i}" for i in range(n)]
        unit_hash = self._hash_unit(unit) if self._salt is not None else unit
        now = time.time()
        scores = out.scores
        latency_ms = latency * 1000
        assert self.sink is not None  # started
        self.sink.submit_predictions(
            [
                PredictionRecord(
                    request_id=row_ids[i],
                    deployment=name,
                    variant=assigned,
                    mode=mode,
                    model_version=served.version,
                    unit_hash=unit_hash,
                    features=rows[i],
                    output=out.labels[i],
                    score=None if scores is None else scores[i],
                    latency_ms=latency_ms,
                    created_at=now,
                    error=error,
                )
                for i in range(n)
            ]
        )
        self.metrics.served(name, served.name, served.version, n, latency)
        content: dict[str, Any] = {
            "request_id": request_id,
            "deployment": name,
            "variant": served.name,
            "model_version": served.version,
            "predictions": out.labels,
        }
        if scores is not None:
            content["scores"] = scores
        state = self.reloader.deployments.get(name)
        mirror = None
        if state is not None and state.shadows:
            mirrored = [state.shadows[s] for s in state.router.shadows(unit) if s in state.shadows]
            if mirrored:
                labels = out.labels if served.mode == CHAMPION else None
                mirror = (name, mirrored, rows, row_ids, labels, unit_hash)
        return 200, json_bytes(content), None, mirror

    async def _mirror(self, *args: Any) -> None:
        self.mirror_now(args)

    # -- feedback, events --------------------------------------------------------

    async def feedback(self, request: Request) -> Response:
        """``POST /v1/feedback``: ground-truth labels of earlier requests."""
        try:
            payload = await self._payload(request)
            items = feedback_items(payload, self.config.limits.max_items)
        except RequestError as exc:
            self.metrics.errors.labels("", exc.code).inc()
            return error_response(exc)
        now = time.time()
        assert self.sink is not None
        self.sink.submit_feedback([FeedbackRecord(rid, label, now) for rid, label in items])
        self.metrics.feedback.inc(len(items))
        return json_response({"accepted": len(items)}, 202)

    async def events(self, request: Request) -> Response:
        """``POST /v1/events``: business events (clicks, conversions, revenue) of units."""
        try:
            payload = await self._payload(request)
            items = event_items(payload, self.config.limits.max_items)
        except RequestError as exc:
            self.metrics.errors.labels("", exc.code).inc()
            return error_response(exc)
        now = time.time()
        salt = self._salt
        records = [
            BusinessEventRecord(
                event_id=e.get("event_id") or uuid.uuid4().hex,
                deployment=e.get("deployment"),
                unit_hash=hash_unit(e["unit_id"], salt) if salt is not None else e["unit_id"],
                name=e["name"],
                value=e["value"],
                created_at=now,
            )
            for e in items
        ]
        assert self.sink is not None
        self.sink.submit_events(records)
        self.metrics.events.inc(len(records))
        return json_response({"accepted": len(records)}, 202)

    async def _payload(self, request: Request) -> Any:
        if self.draining:
            raise RequestError(503, "shutting_down", "the gateway is shutting down; retry")
        return parse_json(await read_body(request, self.config.limits.max_body_bytes))

    # -- health, metrics, admin --------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        """``GET /healthz``: the process answers."""
        return json_response({"status": "alive"})

    def not_ready(self) -> list[str]:
        """Why the gateway is not ready (empty when ready); also ``accuguard_ready``."""
        reasons = []
        if self.draining:
            reasons.append("shutting down")
        for name in self.reloader.config.deployments:
            if name not in self.reloader.deployments:
                why = self.reloader.errors.get(name, "models still loading")
                reasons.append(f"deployment {name}: {why}")
        if self.sink is None or not self.sink.ready():
            reasons.append(_event_log_reason(self.sink))
        return reasons

    async def readyz(self, request: Request) -> Response:
        """``GET /readyz``: 200 when every deployment is loaded and the event log is ready."""
        reasons = self.not_ready()
        ready = not reasons
        deployments = {n: _serving(s) for n, s in self.reloader.deployments.items()}
        body = {
            "ready": ready,
            "reasons": reasons,
            "deployments": deployments,
            "reload_errors": dict(self.reloader.errors),  # still serving the last good state
        }
        return json_response(body, 200 if ready else 503)

    async def metrics_endpoint(self, request: Request) -> Response:
        """``GET /metrics``: Prometheus text format."""
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)

    async def admin_reload(self, request: Request) -> Response:
        """``POST /v1/admin/reload``: re-resolve aliases (and re-read the config) now."""
        denied = self._check_admin(request)
        if denied is not None:
            return denied
        report = await self.reloader.reload()
        body = report.to_dict()
        body["deployments"] = {n: _serving(s) for n, s in self.reloader.deployments.items()}
        return json_response(body, 502 if report.errors else 200)

    def _check_admin(self, request: Request) -> Response | None:
        token = self._admin_token
        if not token:
            return error_response(
                RequestError(
                    403,
                    "admin_disabled",
                    f"the admin API is off; set {self.config.admin_token_env} to enable it",
                )
            )
        auth = request.headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return error_response(
                RequestError(
                    401, "unauthorized", "send Authorization: Bearer <token>", "Authorization"
                ),
                {"WWW-Authenticate": 'Bearer realm="accuguard"'},
            )
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            return error_response(
                RequestError(403, "forbidden", "the token is not valid", "Authorization")
            )
        return None


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _event_log_reason(sink: EventSink | None) -> str:
    """Why the event log is not ready, for ``/readyz`` (predictions are still served)."""
    try:
        stats = sink.stats() if sink is not None else {}
    except Exception:
        stats = {}
    if stats.get("spool_full"):
        return (
            "event log: the store is unreachable and the spool cannot be written (disk "
            f"full?); predictions are still served, {int(stats.get('dropped', 0))} events "
            'dropped so far (accuguard_event_log{stat="dropped"})'
        )
    return "event log not ready (starting, queue full, or store down and spool unwritable)"


def _serving(state: DeploymentState) -> dict[str, dict[str, str]]:
    return {
        v.name: {"mode": v.mode, "model": v.model.handle.name, "version": v.version}
        for v in state.variants()
    }


def _describe(exc: BaseException, variant: Variant) -> str:
    if isinstance(exc, TimeoutError):
        what = f"timed out after {variant.timeout_s * 1000:g} ms"
    else:
        what = f"failed: {type(exc).__name__}: {exc}"
    return f"{variant.mode} {variant.name} (version {variant.version}) {what}"[:500]


def _model_error(exc: BaseException, variant: Variant) -> RequestError:
    if isinstance(exc, TimeoutError):
        return RequestError(
            504, "model_timeout", f"the model did not answer within {variant.timeout_s * 1000:g} ms"
        )
    if isinstance(exc, BatcherOverloaded | BatcherClosed):
        return RequestError(503, "overloaded", f"the model cannot take more work now: {exc}")
    return RequestError(500, "model_error", _describe(exc, variant))


def _rollout_service(
    config: GatewayConfig,
    reloader: Reloader,
    sink: EventSink | None,
    engine: Any,
    client: Any,
    admin_token: str,
) -> Any:
    """Rollouts need the event-log database: the gateway's own, or ``store_engine``."""
    if engine is None and sink is not None:
        return None  # events go to a caller's sink: no database to keep rollouts in
    from accuguard.rollout.runtime import RolloutService
    from accuguard.store.engine import make_engine

    engine = engine if engine is not None else make_engine(config.store_url)
    return RolloutService(
        config,
        reloader,
        engine,
        registry_client=client,
        admin_token=admin_token or None,
        migrate=sink is not None,  # else the gateway's event writer migrates the schema
    )


def _open_writer(config: GatewayConfig, workers: int) -> EventSink:
    from accuguard.errors import InputError
    from accuguard.store import EventWriter

    if workers <= 1:
        return EventWriter(config.store_url, config.spool_dir)
    last: Exception | None = None
    for slot in range(workers):  # each worker process takes a free spool directory
        try:
            return EventWriter(config.store_url, Path(config.spool_dir) / f"worker-{slot}")
        except InputError as exc:
            last = exc
    raise InputError(f"no free spool directory under {config.spool_dir!r}: {last}")


def create_app(
    config: GatewayConfig,
    *,
    sink: EventSink | None = None,
    config_path: Path | None = None,
    registry_client: Any = None,
    privacy_salt: str | bytes | None = None,
    admin_token: str | None = None,
    workers: int = 1,
    store_engine: Any = None,
) -> Starlette:
    """The Starlette app serving ``config``'s deployments.

    ``sink``: where events go (default: an :class:`~accuguard.store.EventWriter` on
    ``config.store_url``, closed at shutdown; a given sink is only flushed).
    ``config_path``: re-read on reload (weights and challengers change live).
    ``privacy_salt`` / ``admin_token``: default to the environment variables named in
    the config. Raises :class:`~accuguard.errors.ConfigError` when the privacy salt
    is missing (unit ids are hashed by default). ``store_engine``: the database of
    rollouts, tokens and audit (default: ``config.store_url`` unless a ``sink`` is
    given; with a sink and no engine, the rollout API answers 503).
    """
    gateway = Gateway(
        config,
        sink=sink,
        config_path=config_path,
        registry_client=registry_client,
        privacy_salt=privacy_salt,
        admin_token=admin_token,
        workers=workers,
        store_engine=store_engine,
    )

    from accuguard.dashboard import dashboard_routes
    from accuguard.gateway.openapi import openapi_endpoint
    from accuguard.integrations.kubernetes import routes as kubernetes_routes
    from accuguard.rollout.api import rollout_routes

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    routes = [
        Route("/v1/deployments/{name}/predict", gateway.predict, methods=["POST"]),
        Route("/v1/feedback", gateway.feedback, methods=["POST"]),
        Route("/v1/events", gateway.events, methods=["POST"]),
        Route("/v1/admin/reload", gateway.admin_reload, methods=["POST"]),
        Route("/healthz", gateway.healthz, methods=["GET"]),
        Route("/readyz", gateway.readyz, methods=["GET"]),
        Route("/metrics", gateway.metrics_endpoint, methods=["GET"]),
        Route("/openapi.json", openapi_endpoint, methods=["GET"]),  # docs/gateway.md
        *rollout_routes(gateway),
        *dashboard_routes(gateway),  # /ui (docs/dashboard.md)
        *kubernetes_routes(gateway),  # Argo Rollouts analysis, Flagger webhooks
    ]
    # Starlette + the predict hot path; unknown routes and methods get JSON errors too
    app = GatewayApp(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error}
    )
    app.gateway = gateway
    app.state.gateway = gateway
    return app


def app_from_env() -> Starlette:
    """App factory for ``uvicorn --factory`` (several workers): config from the environment.

    ``ACCUGUARD_CONFIG`` names the deployments file (optional: environment variables
    alone also work); ``ACCUGUARD_WORKERS`` the number of worker processes.
    """
    from accuguard.gateway.cli import LOG_LEVEL_ENV, configure_logging

    configure_logging(os.environ.get(LOG_LEVEL_ENV, "info"))
    path = os.environ.get(CONFIG_ENV)
    config_path = Path(path) if path else None
    config = load_gateway_config(config_path)
    workers = int(os.environ.get(WORKERS_ENV, "1") or 1)
    return create_app(config, config_path=config_path, workers=workers)
