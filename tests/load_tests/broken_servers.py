"""Deliberately broken targets: the reference implementation behind a limiter of our choosing.

``LimiterGate`` sits in front of the reference app (started with a limit it never
reaches) and applies one of ``limiters``' models per client IP, with the model's
RateLimit fields. Who the client is comes from a ``client_ip`` reading: the product's
(``trusted_client``: X-Forwarded-For only from 127.0.0.1, its right-most hop that is
not that proxy) or a wrong one. ``CrossEventTypeRace`` books each event type on a
reference of its own, behind a ledger of the host's bookings that is read before
and written after. ``RacyStore`` replaces the reference's booking store with one
that checks, yields, then inserts.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contract_tests import SLOT_TAKEN, load_profile
from mock_server import Settings, create_app

from .limiters import SlidingWindow

BOOK = re.compile(r"^/api/public/scheduling/(?P<host>[^/]+)/(?P<event_type>[^/]+)/book$")
TRUSTED_PROXY = "127.0.0.1"
_RATE_FIELDS = (b"ratelimit", b"ratelimit-policy", b"retry-after")

ClientIp = Callable[[Scope], str]


def _peer(scope: Scope) -> str:
    peer = scope.get("client")
    return peer[0] if peer else "unknown"


def _hops(scope: Scope) -> list[str]:
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            return [hop.strip() for hop in value.decode("latin-1").split(",") if hop.strip()]
    return []


def trusted_client(scope: Scope) -> str:
    """PRODUCT.md's reading: the peer, or behind the listed proxy the right-most other hop."""
    client = _peer(scope)
    if client != TRUSTED_PROXY:
        return client
    for hop in reversed(_hops(scope)):
        if hop != TRUSTED_PROXY:
            return hop
    return client


def any_peer_trusted(scope: Scope) -> str:
    """Broken: X-Forwarded-For believed from any loopback peer, listed or not."""
    hops = _hops(scope)
    return hops[-1] if hops and _peer(scope).startswith("127.") else _peer(scope)


def left_most_hop(scope: Scope) -> str:
    """Broken: behind the proxy, the left-most hop, which the client itself wrote."""
    hops = _hops(scope)
    return hops[0] if hops and _peer(scope) == TRUSTED_PROXY else _peer(scope)


class LimiterGate:
    def __init__(
        self, app: ASGIApp, limiter: SlidingWindow, *, client_ip: ClientIp = trusted_client
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.client_ip = client_ip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not BOOK.match(scope["path"]) or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        client = self.client_ip(scope)
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


class CrossEventTypeRace:
    """Overlaps across a host's event types checked outside the booking, without a lock.

    Each event type books on a reference of its own (so overlaps within one event type
    stay atomic); a ledger of each host's bookings is read before the booking and
    written after its 201. One after the other, an overlapping request on another event
    type is refused; two in flight together are both booked.
    """

    def __init__(self, *, pause: float = 0.05, **fields: Any) -> None:
        self.pause = pause  # the ledger's round trip, during which nothing is held
        self.shards = {
            (host.slug, event_type.slug): reference(**fields)
            for host in load_profile().hosts
            for event_type in host.event_types
        }
        self.other = reference(**fields)  # unknown hosts and event types, the control API
        self.ledger: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        match = BOOK.match(scope["path"]) if scope["type"] == "http" else None
        shard = self.shards.get((match["host"], match["event_type"])) if match else None
        if match is None or shard is None or scope["method"] != "POST":
            await self.other(scope, receive, send)
            return
        body = await _read_body(receive)
        span = _span(body)
        taken = self.ledger[match["host"]]
        if span is not None and any(start < span[1] and span[0] < end for start, end in taken):
            await _send_json(send, 400, {"error": SLOT_TAKEN})
            return
        await asyncio.sleep(self.pause)
        status = 0
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await shard(scope, replay, watch)
        if status == 201 and span is not None:
            taken.append(span)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if message["type"] != "http.request" or not message.get("more_body"):
            return body


def _span(body: bytes) -> tuple[datetime, datetime] | None:
    """The slot a booking request asks for (the default dataset has no buffers)."""
    try:
        fields = json.loads(body)
        return datetime.fromisoformat(fields["startTime"]), datetime.fromisoformat(
            fields["endTime"]
        )
    except (ValueError, KeyError, TypeError):
        return None


async def _send_json(send: Send, status: int, content: Any) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(content).encode()})


class RacyStore:
    """Bookings checked for overlap, then stored after a pause: two requests both pass."""

    def __init__(self, pause: float = 0.05) -> None:
        self.pause = pause
        self._bookings: dict[str, Any] = {}

    async def is_busy(self, host_slug: str, busy_start: Any, busy_end: Any) -> bool:
        return any(
            b.host_slug == host_slug and b.overlaps(busy_start, busy_end)
            for b in self._bookings.values()
        )

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


# The reference's own limit out of reach, so only the gate's model limits.
OUT_OF_REACH = "100000/second"


def reference(**fields: Any) -> Any:
    """The reference app as a target: real clock, the given Settings fields."""
    return create_app(Settings(**fields))


def behind_limiter(limiter: SlidingWindow, client_ip: ClientIp = trusted_client) -> ASGIApp:
    """The reference, its own limit out of reach, behind a limiter model."""
    return LimiterGate(reference(rate_limit=OUT_OF_REACH), limiter, client_ip=client_ip)


def racing_across_event_types(limiter: SlidingWindow) -> ASGIApp:
    """``CrossEventTypeRace`` behind a correct limiter model."""
    return LimiterGate(CrossEventTypeRace(rate_limit=OUT_OF_REACH), limiter)


def with_racy_store(**fields: Any) -> Any:
    return reference(store=RacyStore(), **fields)
