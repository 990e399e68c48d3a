"""``accuguard serve``: run the gateway with uvicorn.

SIGTERM (or Ctrl-C) is uvicorn's graceful shutdown: it stops accepting connections,
lets the requests in flight finish (up to ``shutdown_timeout_s``), then the app's
lifespan drains shadows and flushes the event log before the process exits.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

LOG_LEVEL_ENV = "ACCUGUARD_LOG_LEVEL"


def configure_logging(level: str = "info") -> None:
    """Print the gateway's own log lines (model loads, reloads, failures) like uvicorn's."""
    logger = logging.getLogger("accuguard")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-9s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level.upper() if level.lower() != "trace" else "DEBUG")


def serve_command(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="deployments.yaml (optional: environment variables alone also work).",
            envvar="ACCUGUARD_CONFIG",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    log_level: Annotated[
        str, typer.Option(help="critical, error, warning, info, debug or trace.")
    ] = "info",
) -> None:
    """Serve the deployments of --config: predict, feedback, events, /metrics, /readyz."""
    import uvicorn

    from accuguard.gateway.app import CONFIG_ENV, WORKERS_ENV, create_app
    from accuguard.gateway.config import load_gateway_config

    levels = ("critical", "error", "warning", "info", "debug", "trace")
    if log_level.lower() not in levels:
        raise typer.BadParameter(f"{log_level!r}; expected one of {', '.join(levels)}")
    cfg = load_gateway_config(config)
    configure_logging(log_level)
    timeout = int(max(1, round(cfg.shutdown_timeout_s)))
    common = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "timeout_graceful_shutdown": timeout,
        "access_log": False,
    }
    if workers == 1:
        app = create_app(cfg, config_path=config)  # checks the privacy salt now: exit 2 if unset
        uvicorn.run(app, **common)  # type: ignore[arg-type]
        return
    create_app(cfg, config_path=config)  # fail fast on a missing salt before forking
    if config is not None:
        os.environ[CONFIG_ENV] = str(Path(config).resolve())
    os.environ[WORKERS_ENV] = str(workers)
    os.environ[LOG_LEVEL_ENV] = log_level
    uvicorn.run(
        "accuguard.gateway.app:app_from_env",
        factory=True,
        workers=workers,
        **common,  # type: ignore[arg-type]
    )
