"""Network faults on the book endpoint: what a page's error handling must survive.

A fault replaces the answer of one book request: asked for with ``Prefer: fault=...``,
armed through ``/__admin/arm``, or drawn at random with ``--faults 5%`` (repeatable
with ``--seed``). Like a forced response, a faulted request stores nothing and counts
toward the rate limit. The kinds, and what a client sees:

- ``connection-reset``: a TCP RST and no byte of a response (``ECONNRESET``);
- ``empty-response``: the connection closes before any byte;
- ``malformed``: bytes that are not HTTP, then the close;
- ``partial-body``: the status line, the headers and half the body, then the close;
- ``slow-body``: the whole answer, its body dribbled over ``duration``;
- ``timeout``: no answer until the client gives up, or ``duration`` has passed
  (then the connection closes, as empty-response).

Faults below HTTP need the connection itself: the outermost layer
(mock_server.http.connection) finds the transport behind uvicorn's ``send`` and puts it in
the scope. Under a server that
exposes none (an in-process test client), the book operation refuses every kind but
slow-body with a 400 that says so, before anything is sent.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import Message, Receive, Scope, Send

from .latency import parse_latency

FAULT_KINDS = (
    "connection-reset",
    "empty-response",
    "malformed",
    "partial-body",
    "slow-body",
    "timeout",
)
DEFAULT_DURATIONS = {"slow-body": 2.0, "timeout": 30.0}
MAX_DURATION = 600.0
SLOW_BODY_CHUNKS = 20

TRANSPORT_KEY = "mock_server.transport"
FAULT_KEY = "mock_server.fault"  # the journal and the access log read it

MALFORMED = b"\x16\x03\x01\x02\x00 this is not HTTP \xff\xfe\r\n\x00\r\n\r\n"


# All but slow-body end by closing the connection under the response.
NEEDS_CONNECTION = {"connection-reset", "empty-response", "malformed", "partial-body", "timeout"}


@dataclass(frozen=True)
class Fault:
    kind: str
    duration: float  # seconds; slow-body and timeout use it

    @property
    def needs_connection(self) -> bool:
        """Played on the connection itself, which only the server can give."""
        return self.kind in NEEDS_CONNECTION

    @classmethod
    def parse(cls, kind: str, duration: str | None = None) -> Fault:
        """``Fault.parse("slow-body", "5s")``; ValueError names what is wrong."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault={kind} is not a fault; choose one of {', '.join(FAULT_KINDS)}")
        if duration is None:
            return cls(kind, DEFAULT_DURATIONS.get(kind, 0.0))
        low, high = parse_latency(duration, maximum=MAX_DURATION)
        if low != high:
            raise ValueError(f"duration={duration} must be one length of time, such as 5s")
        return cls(kind, low)


def parse_rate(text: str) -> float:
    """``5%`` or ``0.05`` -> 0.05."""
    value = text.strip()
    try:
        rate = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a rate such as 5% or 0.05") from None
    if not 0 <= rate <= 1:
        raise ValueError(f"{text!r}: the rate must be between 0% and 100%")
    return rate


class RandomFaults:
    """``--faults 5%``: each book request that reaches an answer faults with this chance."""

    def __init__(
        self,
        rate: float = 0.0,
        kinds: Sequence[str] = FAULT_KINDS,
        *,
        rng: random.Random,
        duration: str | None = None,
    ) -> None:
        self.rate = rate
        self.faults = [Fault.parse(kind, duration) for kind in kinds]
        self.rng = rng

    def draw(self) -> Fault | None:
        if self.rate <= 0 or not self.faults:
            return None
        if self.rng.random() >= self.rate:
            return None
        return self.rng.choice(self.faults)


async def _until_disconnect(receive: Receive, seconds: float) -> bool:
    """Wait, at most ``seconds``, for the client to go away; True if it did."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnected(), seconds)
    except TimeoutError:
        return False
    return True


def _reset(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger on, timeout zero: close() sends RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _start(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> Message:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    }


async def play(
    fault: Fault,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
) -> None:
    """Answer with ``fault`` instead of ``status`` and ``body`` (which the body faults mangle)."""
    scope[FAULT_KEY] = fault.kind
    transport: asyncio.Transport | None = scope.get(TRANSPORT_KEY)
    if fault.kind == "slow-body":
        await send(_start(status, headers, body))
        step = max(1, -(-len(body) // SLOW_BODY_CHUNKS))
        chunks = [body[i : i + step] for i in range(0, len(body), step)] or [b""]
        pause = fault.duration / len(chunks)
        for chunk in chunks:
            if await _until_disconnect(receive, pause):
                return  # the client left: nothing more to dribble
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if fault.kind == "partial-body":
        await send(_start(status, headers, body))
        half = body[: len(body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})
    elif fault.kind == "timeout":
        await _until_disconnect(receive, fault.duration)
    if transport is None or transport.is_closing():
        return
    if fault.kind == "connection-reset":
        _reset(transport)
    else:
        if fault.kind == "malformed":
            transport.write(MALFORMED)
        transport.close()
    # Let the server see the connection go, so it neither answers 500 nor logs an error.
    await _until_disconnect(receive, 1.0)
