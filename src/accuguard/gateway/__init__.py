"""The serving gateway: champion, shadow, canary and A/B traffic on MLflow models.

``accuguard serve --config deployments.yaml`` runs it (docs/gateway.md); in Python,
:func:`create_app` builds the ASGI app from a :class:`GatewayConfig`. Imports are lazy
so that ``accuguard.gateway.config`` or ``.routing`` load without the web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accuguard.gateway.app import create_app
    from accuguard.gateway.config import GatewayConfig, load_gateway_config

__all__ = ["GatewayConfig", "create_app", "load_gateway_config"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from accuguard.gateway.app import create_app

        return create_app
    if name in ("GatewayConfig", "load_gateway_config"):
        from accuguard.gateway import config

        return getattr(config, name)
    raise AttributeError(f"module 'accuguard.gateway' has no attribute {name!r}")
