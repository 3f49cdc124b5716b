"""What every request passes through on its way in and out, as one layer.

In order, for each HTTP request:

1. the access log times it and, at the end, writes its line (mock_server.http.access_log);
2. headers over ``--max-header-bytes`` get 431 (mock_server.http.header_limit), logged but
   not journaled, before anything reads or counts the request;
3. the journal reads the body up front (up to its BODY_LIMIT), so it shows what was sent
   even when the answer came before anyone read it (a forced response, a 404), and at the
   end records request and response (mock_server.http.journal); the control API's own
   requests are not journaled;
4. injected latency (``Prefer: latency=``, else ``--latency``) waits before the app runs,
   inside the journal's timing (mock_server.http.latency).

These were four nested middlewares, each with a frame on every request and a wrapper on
each of its two response messages. Here they are the steps of one call with one ``send``
wrapper. The frames were the lesser part of their cost: under load, requests/s against
the floor went from 0.40x to 0.41x; the journal's record and the access line remain
(benchmarks/README.md).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .access_log import AccessLog
from .arming import ARMED_KEY
from .faults import FAULT_KEY
from .header_limit import oversized
from .journal import BODY_LIMIT, Journal
from .latency import Latency
from .responses import send_error


class Exchange:
    def __init__(
        self,
        app: ASGIApp,
        *,
        access_log: AccessLog,
        max_header_bytes: int,
        journal: Journal,
        unjournaled: tuple[str, ...],
        latency: Latency,
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.max_header_bytes = max_header_bytes
        self.journal = journal
        self.unjournaled = unjournaled
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        journaled = not scope["path"].startswith(self.unjournaled)
        start: Message | None = None
        body: list[bytes] = []

        async def noting_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif journaled and message["type"] == "http.response.body":
                body.append(message.get("body", b""))
            await send(message)

        try:
            too_large = oversized(scope, self.max_header_bytes)
            if too_large is not None:
                journaled = False
                await send_error(noting_send, too_large)
                return
            if not journaled:
                await self._answer(scope, receive, noting_send)
                return
            arrived = time.time()
            buffered, request_body = await _read_up_front(receive)
            replay = iter(buffered)

            async def replaying_receive() -> Message:
                return next(replay, None) or await receive()

            try:
                await self._answer(scope, replaying_receive, noting_send)
            finally:
                self._record(scope, arrived, started, start, request_body, body)
        finally:
            if self.access_log.enabled():
                self.access_log.add(scope, 500 if start is None else start["status"], started)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        delay = self.latency.delay(scope)
        if delay is not None:
            await asyncio.sleep(delay)
        await self.app(scope, receive, send)

    def _record(
        self,
        scope: Scope,
        arrived: float,
        started: float,
        start: Message | None,
        request_body: bytes,
        response_body: list[bytes],
    ) -> None:
        client = scope.get("client")
        fault = scope.get(FAULT_KEY)
        if start is None:  # nothing sent: a fault below HTTP, or a crash (a 500)
            status, headers = (0 if fault else 500), []
        else:
            status, headers = start["status"], start.get("headers", [])
        entry: dict[str, Any] = {
            "time": arrived,
            "client": client[0] if client else "unknown",
            "method": scope["method"],
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "status": status,
        }
        if fault:
            entry["fault"] = fault
        if ARMED_KEY in scope:
            entry["armed"] = scope[ARMED_KEY]
        # Milliseconds, rounded when read (the journal's _readable): round() is slow.
        entry["durationMs"] = (time.perf_counter() - started) * 1000
        entry["request"] = (scope.get("headers", []), request_body)
        entry["response"] = (headers, b"".join(response_body)[: BODY_LIMIT + 1])
        self.journal.record(entry)


async def _read_up_front(receive: Receive) -> tuple[list[Message], bytes]:
    """The request's messages up to BODY_LIMIT bytes of body, and that body (cut to one
    byte more, so the journal can tell it was cut)."""
    buffered: list[Message] = []
    chunks: list[bytes] = []
    size = 0
    while size <= BODY_LIMIT:
        message = await receive()
        buffered.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return buffered, raw[: BODY_LIMIT + 1]
