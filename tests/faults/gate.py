"""A limiter model served in front of the reference: the gate, and who it takes the client for.

`LimiterGate` limits the book endpoint's POSTs with one of `limiters`' models, per
client, and stamps that model's RateLimit fields on every answer it lets through
(the reference behind it is `UNLIMITED`, its own fields replaced). Who the client is
comes from a reading of the request: PRODUCT's (`trusted_client`) or a wrong one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .asgi import book_match, send_json
from .limiters import SlidingWindow
from .reference import reference

# The one proxy whose X-Forwarded-For the readings trust: this machine, as
# `booking-mock --forwarded-allow-ips 127.0.0.1` does.
TRUSTED_PROXY = "127.0.0.1"
RATE_FIELDS = ("ratelimit", "ratelimit-policy", "retry-after")

ClientIp = Callable[[Scope], str]


def _peer(scope: Scope) -> str:
    peer = scope.get("client")
    return peer[0] if peer else "unknown"


def _hops(scope: Scope) -> list[str]:
    """X-Forwarded-For's hops, left to right, over all its header fields."""
    values = Headers(scope=scope).getlist("x-forwarded-for")
    return [hop.strip() for value in values for hop in value.split(",") if hop.strip()]


def trusted_client(scope: Scope) -> str:
    """PRODUCT.md's reading: the peer, or behind the listed proxy the right-most other hop."""
    client = _peer(scope)
    if client != TRUSTED_PROXY:
        return client
    return next((hop for hop in reversed(_hops(scope)) if hop != TRUSTED_PROXY), client)


def any_peer_trusted(scope: Scope) -> str:
    """Broken: X-Forwarded-For believed from any loopback peer, listed or not."""
    hops = _hops(scope)
    return hops[-1] if hops and _peer(scope).startswith("127.") else _peer(scope)


def left_most_hop(scope: Scope) -> str:
    """Broken: behind the proxy, the left-most hop, which the client itself wrote."""
    hops = _hops(scope)
    return hops[0] if hops and _peer(scope) == TRUSTED_PROXY else _peer(scope)


class LimiterGate:
    """The book endpoint's POSTs limited by ``limiter``, per ``client_ip``; the rest passes."""

    def __init__(
        self, app: ASGIApp, limiter: SlidingWindow, *, client_ip: ClientIp = trusted_client
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.client_ip = client_ip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if book_match(scope) is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        client = self.client_ip(scope)
        now = time.time()
        decision = self.limiter.admit(client, now)
        fields = [(k.encode(), v.encode()) for k, v in self.limiter.fields(decision).items()]
        if not decision.allowed:
            await send_json(send, 429, {"error": "Rate limit exceeded."}, fields)
            return
        status = 500

        async def send_with_fields(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name in RATE_FIELDS:
                    del headers[name]
                headers.raw.extend(fields)
            await send(message)

        try:
            await self.app(scope, receive, send_with_fields)
        finally:
            self.limiter.settle(client, now, status)


def behind_limiter(
    limiter: SlidingWindow, client_ip: ClientIp = trusted_client, **settings: Any
) -> ASGIApp:
    """The reference (``settings``, its own limit out of reach) behind a limiter model."""
    return LimiterGate(reference(**settings), limiter, client_ip=client_ip)
