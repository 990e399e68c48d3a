"""The web dashboard served by ``accuguard serve`` under ``/ui`` (docs/dashboard.md).

Server-rendered pages (Jinja2) with charts drawn on the server as SVG (matplotlib): no
CDN, no JavaScript framework; one small script of the package handles the operator's
token and the action buttons. :func:`dashboard_routes` gives the routes to mount.
"""

from __future__ import annotations

from accuguard.dashboard.views import dashboard_routes

__all__ = ["dashboard_routes"]
