"""The reference app as a broken server's base, built through its public `Settings` alone."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp

from mock_server import Settings, create_app

# A limit no test reaches, for servers whose limiting is done in front of the reference.
UNLIMITED = "100000/minute"


def reference(**settings: Any) -> ASGIApp:
    """``create_app(Settings(**settings))`` on the real clock, unlimited unless told."""
    settings.setdefault("rate_limit", UNLIMITED)
    return create_app(Settings(**settings))
