"""Deliberately broken targets: the reference implementation behind a limiter of our choosing.

``LimiterGate`` sits in front of the reference app (started with a limit it never
reaches) and applies one of ``limiters``' models per client IP, with the model's
RateLimit fields, honouring ``X-Forwarded-For`` from loopback so a load run can be
many clients. ``RacyStore``
replaces the reference's booking store with one that checks, yields, then inserts.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server import Settings, create_app

from .limiters import SlidingWindow

BOOK = re.compile(r"^/api/public/scheduling/[^/]+/[^/]+/book$")
_RATE_FIELDS = (b"ratelimit", b"ratelimit-policy", b"retry-after")


def client_ip(scope: Scope) -> str:
    peer = scope.get("client")
    host = peer[0] if peer else "unknown"
    if host.startswith("127."):
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                return value.decode("latin-1").split(",")[-1].strip()
    return host


class LimiterGate:
    def __init__(self, app: ASGIApp, limiter: SlidingWindow) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not BOOK.match(scope["path"]) or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        client = client_ip(scope)
        now = time.time()
        decision = self.limiter.admit(client, now)
        fields = [(k.encode(), v.encode()) for k, v in self.limiter.fields(decision).items()]
        if not decision.allowed:
            body = json.dumps({"error": "Rate limit exceeded."}).encode()
            headers = [(b"content-type", b"application/json"), *fields]
            await send({"type": "http.response.start", "status": 429, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        status = 500

        async def send_with_fields(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                kept = [(k, v) for k, v in message.get("headers", []) if k not in _RATE_FIELDS]
                message = {**message, "headers": [*kept, *fields]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_fields)
        finally:
            self.limiter.settle(client, now, status)


class RacyStore:
    """Bookings checked for overlap, then stored after a pause: two requests both pass."""

    def __init__(self, pause: float = 0.05) -> None:
        self.pause = pause
        self._bookings: dict[str, Any] = {}

    async def add_if_free(self, booking: Any) -> bool:
        for other in self._bookings.values():
            if other.host_slug == booking.host_slug and other.overlaps(
                booking.busy_start, booking.busy_end
            ):
                return False
        await asyncio.sleep(self.pause)  # a round trip to a database, without a lock
        self._bookings[booking.id] = booking
        return True

    async def list(self) -> list[Any]:
        return sorted(self._bookings.values(), key=lambda b: (b.start, b.id))

    async def get(self, booking_id: str) -> Any:
        return self._bookings.get(booking_id)

    async def delete(self, booking_id: str) -> bool:
        return self._bookings.pop(booking_id, None) is not None

    async def clear(self) -> None:
        self._bookings.clear()


def reference(**fields: Any) -> Any:
    """The reference app as a target: real clock, the given Settings fields."""
    return create_app(Settings(**fields))


def behind_limiter(limiter: SlidingWindow) -> ASGIApp:
    """The reference, its own limit out of reach, behind a limiter model."""
    return LimiterGate(reference(rate_limit="100000/second"), limiter)


def with_racy_store(**fields: Any) -> Any:
    app = reference(**fields)
    app.state.service.store = RacyStore()
    return app
