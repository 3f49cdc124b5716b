"""One access-log line per request: method, path, status, client, milliseconds.

Lines are written in batches (every 100 ms, and at exit): logging each line as it
happens costs a formatted record, a lock and a flushed write per request, which the
throughput benchmark showed to be a large share of a request's time.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("mock_server.access")

FLUSH_INTERVAL = 0.1


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lines: list[str] = []
        self._scheduled = False
        self._second = -1
        self._stamp = ""
        atexit.register(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if self._lines:
            lines, self._lines = self._lines, []
            logger.info("\n".join(lines))

    def _timestamp(self, now: float) -> str:
        second = int(now)
        if second != self._second:  # strftime once a second, not once a request
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._stamp},{int((now - second) * 1000):03d}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            client = scope.get("client")
            self._lines.append(
                f"{self._timestamp(time.time())} INFO mock_server.access: {scope['method']}"
                f" {scope['path']} {status} {client[0] if client else '-'}"
                f" {(time.perf_counter() - started) * 1000:.1f}ms"
            )
            if not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_later(FLUSH_INTERVAL, self.flush)
